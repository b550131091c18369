"""The shared-memory stall without rpl_ros: two plain rclpy processes (a 100 Hz publisher and a subscriber) while,
every ``--interval`` seconds, a third joins their domain with a subscriber of the same topic and is stopped (SIGSTOP,
what Ctrl-Z does) for ``--freeze`` seconds. Prints each gap of more than 30 ms in the subscriber's stream and in the
publisher's timer, with the joins' times: a gap in the subscriber alone is a stall on the receiving side.

    python bench/shm_stall.py [--seconds 70] [--interval 6] [--freeze 1] [--fastdds-profile shared_memory]
        [--health-check-ms GRAPH JOINER] [--strace]

``--health-check-ms`` runs publisher and subscriber (GRAPH) and the joiners (JOINER) on copies of the profile with
Fast DDS's shared-memory ``healthy_check_timeout_ms`` set (1,000 by default; a port waits a third of it between two
checks, and each port keeps the value of the process that created it). ``--strace`` (needs strace and the right to
trace) attaches strace to the subscriber (which slows it: expect more short gaps) and prints, with the Fast DDS thread's
name, each sleep or futex wait that ended within 50 ms of a gap of over 0.2 s and lasted about as long: which
thread waited, and on what.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from rpl_ros.bringup import fastdds_profile_path, fastdds_profiles, profile_file_environment
from rpl_ros.runner import stop

from realtime import clear_fastdds_settings

ROLE = """
import json, sys, time, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
role, seconds = sys.argv[1], float(sys.argv[2])
rclpy.init()
node = rclpy.create_node(role)
times = []  # wall-clock times: the publisher's timer ticks, the subscriber's arrivals
if role == "publisher":
    publisher = node.create_publisher(JointState, "/probe", qos_profile_sensor_data)
    node.create_timer(0.01, lambda: (times.append(time.time()), publisher.publish(JointState(position=[0.0] * 4))))
else:
    node.create_subscription(JointState, "/probe", lambda _: times.append(time.time()), qos_profile_sensor_data)
print("on the domain", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
print("times", json.dumps(times), flush=True)
"""
RESULT = "times "
"""the line of a process's output that carries its times"""
GAP_S = 0.03
"""a gap worth printing: three cycles at 100 Hz"""
STALL_S = 0.2
"""a gap whose waits --strace looks for"""
SETTLE_S = 5.0
"""from starting publisher and subscriber to the first join"""
JOINER_LIFE_S = 3.0
"""a joiner's life beyond its freeze: start-up, 2 s on the domain, shutdown"""


def profile_with_health_check(profile: Path, timeout_ms: int, directory: str) -> Path:
    """A copy of ``profile`` whose shared-memory transport has ``healthy_check_timeout_ms`` set."""
    text = profile.read_text()
    if "<type>SHM</type>" not in text:
        raise SystemExit(f"{profile.name} has no shared-memory transport for --health-check-ms")
    copy = Path(directory) / f"{profile.stem}_{timeout_ms}ms_{len(os.listdir(directory))}.xml"
    copy.write_text(text.replace("<type>SHM</type>", f"<type>SHM</type><healthy_check_timeout_ms>{timeout_ms}"
                                                      f"</healthy_check_timeout_ms>"))
    return copy


def gaps(times: List[float]) -> List[List[float]]:
    """(end, length) of each gap longer than GAP_S, end in wall-clock seconds."""
    return [[b, b - a] for a, b in zip(times, times[1:]) if b - a > GAP_S]


def thread_waits(strace_log: Path, thread_names: Dict[str, str], stalls: List[List[float]]) -> List[str]:
    """The strace lines of sleeps and waits about as long as a stall ((end, length)) that ended with it."""
    found = []
    for line in strace_log.read_text().splitlines():
        match = re.match(r"(\d+)\s+(\d+\.\d+) .*<([\d.]+)>$", line)  # strace -f -ttt -T: thread, epoch time
        if not match:
            continue
        tid, stamp, took = match.group(1), float(match.group(2)), float(match.group(3))
        ended = stamp if "resumed>" in line else stamp + took  # a call cut in two is stamped when it resumes
        if any(abs(ended - end) < 0.05 and 0.8 < took / length < 1.2 for end, length in stalls):
            found.append(f"{thread_names.get(tid, tid)}: {line}")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=70.0,
                        help="how long publisher and subscriber run (default: %(default)g)")
    parser.add_argument("--interval", type=float, default=6.0,
                        help="seconds from one join to the next (default: %(default)g)")
    parser.add_argument("--freeze", type=float, default=1.0,
                        help="seconds each joiner is stopped; 0: not stopped (default: %(default)g)")
    parser.add_argument("--fastdds-profile", default="shared_memory", choices=fastdds_profiles(),
                        help="the profile of config/fastdds every process runs on (default: %(default)s)")
    parser.add_argument("--health-check-ms", type=int, nargs=2, metavar=("GRAPH", "JOINER"),
                        help="healthy_check_timeout_ms of publisher and subscriber, and of the joiners")
    parser.add_argument("--strace", action="store_true", help="trace the subscriber's waits (see above)")
    parser.add_argument("--domain-id", type=int, default=140 + os.getpid() % 50,
                        help="ROS_DOMAIN_ID of the three (default: one of 140-189)")
    args = parser.parse_args()
    if args.freeze < 0 or args.interval < args.freeze + JOINER_LIFE_S or \
            args.seconds < SETTLE_S + args.interval + 2.0:
        parser.error(f"--interval must be at least {JOINER_LIFE_S:g} s more than --freeze (not negative), and "
                     f"--seconds leave room for a join ({SETTLE_S:g} s + --interval + 2 s)")
    clear_fastdds_settings()
    profile = fastdds_profile_path(args.fastdds_profile)
    with tempfile.TemporaryDirectory() as directory:
        graph_profile = joiner_profile = profile
        if args.health_check_ms:
            graph_profile, joiner_profile = (profile_with_health_check(profile, ms, directory)
                                             for ms in args.health_check_ms)
        running: List[subprocess.Popen] = []

        def start(role: str, profile_path: Path, seconds: float) -> subprocess.Popen:
            """A process of ``role``, once its node is on the domain."""
            errors = Path(directory) / f"{role}{len(running)}.err"
            with errors.open("w") as error_file:
                process = subprocess.Popen([sys.executable, "-c", ROLE, role, str(seconds)],
                                           env={**os.environ, "ROS_DOMAIN_ID": str(args.domain_id),
                                                **profile_file_environment(profile_path)},
                                           stdout=subprocess.PIPE, stderr=error_file, text=True)
            running.append(process)
            if next((line for line in process.stdout if line == "on the domain\n"), None) is None:
                process.wait()
                raise SystemExit(f"the {role} ended before its node was on the domain:\n{errors.read_text()}")
            return process

        def times(process: subprocess.Popen) -> List[float]:
            line = next(line for line in process.communicate()[0].splitlines() if line.startswith(RESULT))
            return json.loads(line[len(RESULT):])

        tracer, strace_log = None, Path(directory) / "strace.log"
        joins = []  # wall-clock times a joiner went on (woke, when frozen)
        try:
            pair = [start(role, graph_profile, args.seconds) for role in ("publisher", "subscriber")]
            end = time.monotonic() + args.seconds - 2.0
            if args.strace:
                strace_errors = Path(directory) / "strace.err"
                with strace_errors.open("w") as error_file:
                    tracer = subprocess.Popen(["strace", "-f", "-ttt", "-T", "-e", "trace=futex,clock_nanosleep",
                                               "-p", str(pair[1].pid), "-o", str(strace_log)], stderr=error_file)
                time.sleep(0.5)
                if tracer.poll() is not None:
                    raise SystemExit(f"strace could not trace the subscriber:\n{strace_errors.read_text()}")
            thread_names = {task.name: (task / "comm").read_text().strip()
                            for task in Path(f"/proc/{pair[1].pid}/task").iterdir()}
            time.sleep(SETTLE_S)
            while time.monotonic() + args.interval < end:
                began = time.monotonic()
                joiner = start("joiner", joiner_profile, args.freeze + 2.0)
                if args.freeze:
                    joiner.send_signal(signal.SIGSTOP)
                    time.sleep(args.freeze)
                    joiner.send_signal(signal.SIGCONT)
                joins.append(time.time())
                joiner.communicate()
                time.sleep(max(began + args.interval - time.monotonic(), 0.0))
            publisher, subscriber = times(pair[0]), times(pair[1])
        finally:
            for process in running:  # a joiner may be stopped: wake it so that it can take SIGINT and clean up
                if process.poll() is None:
                    process.send_signal(signal.SIGCONT)
            stop(running)
            if tracer:
                tracer.send_signal(signal.SIGINT)
                tracer.wait()
        if not subscriber:
            raise SystemExit("the subscriber received nothing: publisher and subscriber never matched")
        start_time = subscriber[0]
        health_check = (f", health check {args.health_check_ms[0]} ms (publisher, subscriber), "
                        f"{args.health_check_ms[1]} ms (joiners)" if args.health_check_ms else "")
        print(f"{args.fastdds_profile}{health_check}, {len(joins)} joins, "
              + (f"frozen {args.freeze:g} s, woken at s " if args.freeze else "on the domain at s ")
              + " ".join(f"{t - start_time:.2f}" for t in joins))
        for label, stream in (("publisher's timer", publisher), ("subscriber's stream", subscriber)):
            found = gaps(stream)
            print(f"  {label}: {len(found)} gaps over {GAP_S * 1e3:.0f} ms" + "".join(
                f"\n    {length * 1e3:6.1f} ms, ending at s {end_ - start_time:.2f}" for end_, length in found))
        if tracer:
            print(f"  the subscriber's threads' waits that lasted and ended as a gap over {STALL_S * 1e3:.0f} ms did:")
            stalls = [gap for gap in gaps(subscriber) if gap[1] > STALL_S]
            for line in thread_waits(strace_log, thread_names, stalls):
                print(f"    {line}")


if __name__ == "__main__":
    main()

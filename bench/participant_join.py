"""What a participant joining a running graph costs it: push_sim in realtime mode while, every ``--interval``
seconds, a process joins the graph's DDS domain with one node that subscribes to /rpl/action, takes a second of
actions and leaves (what ``ros2 topic echo /rpl/action`` on a running robot does), against the same graph with
nobody joining, interleaved over ``--rounds``. Missed cycles are the bridge's: a cycle that closed without its
action. Only the joins that began while the graph was running count.

    python bench/participant_join.py [--rate 100] [--joins 6] [--interval 3] [--rounds 2] [--rt-priority 50]
        [--fastdds-profile localhost_udp] [--joiner-profile P] [--freeze 1]

``--freeze S`` stops each joiner (SIGSTOP) for S seconds once its node is on the domain, then lets it go on: a tool
suspended with Ctrl-Z. Each joiner counts the actions it receives in the second after its first one (0 if none
comes within 5 s of waking), which tells whether the graph still reaches it. (Until 2026-12-03 a joiner left 1 s
after its node started, often before it had matched; it now stays until its first action and one second more.)

``--fastdds-profile`` puts the graph and the joiners on one of the Fast DDS profiles in config/fastdds (one
transport each) instead of the LOCALHOST range's shared memory and UDPv4; ``--joiner-profile`` puts the joiners
alone on another (the transports of both must meet), or with ``none`` on the LOCALHOST range with no profile, as a
tool started that way is.
"""
import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from rpl_ros.bringup import fastdds_profile_environment, fastdds_profiles, ros_environment
from rpl_ros.runner import run_graph

from realtime import (add_fastdds_profile_option, add_rt_priority_option, add_run_options, check_rt_priority,
                      clear_fastdds_settings, realtime_push_sim)

JOINER = """
import sys, time, rclpy
from sensor_msgs.msg import JointState
from rpl_ros.nodes.common import ACTION, CONTROL_QOS
frozen_s = float(sys.argv[1])  # the bench stops this process for as long once it is on the domain
rclpy.init()
node = rclpy.create_node("joiner")
actions = []
node.create_subscription(JointState, ACTION, actions.append, CONTROL_QOS)
print("on the domain", flush=True)
deadline = time.monotonic() + frozen_s + 5.0  # for the first action: matching takes most of a second
while not actions and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
first = len(actions)
end = time.monotonic() + 1.0
while actions and time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
print("actions", len(actions) - first, flush=True)
"""
GRAPH_START_S = 6.0  # from starting the node processes to the first cycles, with room on a loaded machine
JOINER_LIFE_S = 2.5
"""a joiner's life when nothing goes wrong: Python and rclpy start-up, matching, its second of actions"""
NO_PROFILE = "none"
"""--joiner-profile's choice for the LOCALHOST range's transports, whatever the graph's"""
JOINER_TIMEOUT_S = 30.0
"""beyond the freeze, the longest a joiner may take before it counts as failed"""


@dataclass
class Join:
    began: float
    ended: float
    """wall-clock times, s"""
    actions: int
    """actions the joiner received in the second after its first"""


def join_repeatedly(domain_id: int, environment: Dict[str, str], joins: int, interval: float, freeze: float,
                    stop: threading.Event, done: List[Join], failures: List[str]):
    """Start a joiner every ``interval`` s (on a fixed schedule) after the graph's start-up, frozen for ``freeze`` s
    once on the domain; note each join, or what a failed joiner printed."""
    next_join = time.monotonic() + GRAPH_START_S
    for _ in range(joins):
        if stop.wait(max(next_join - time.monotonic(), 0.0)):
            return
        began = time.time()
        joiner = subprocess.Popen([sys.executable, "-c", JOINER, str(freeze)],
                                  env={**ros_environment(domain_id), **environment},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if freeze and any(line == "on the domain\n" for line in joiner.stdout):  # skips what Fast DDS logs
            joiner.send_signal(signal.SIGSTOP)
            time.sleep(freeze)
            joiner.send_signal(signal.SIGCONT)
        try:
            out, err = joiner.communicate(timeout=freeze + JOINER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            joiner.kill()
            out, err = joiner.communicate()
            failures.append(f"a joiner did not end within {freeze + JOINER_TIMEOUT_S:.0f} s:\n{out}{err}")
            return
        counts = [line.split()[1] for line in out.splitlines() if line.startswith("actions ")]
        if joiner.returncode != 0 or not counts:
            failures.append(f"exit status {joiner.returncode}:\n{out}{err}")
            return
        done.append(Join(began, time.time(), int(counts[-1])))
        next_join += interval


def run(rate: float, joins: int, interval: float, freeze: float, rt_priority: int, fastdds_profile: Optional[str],
        joiner_profile: Optional[str], with_joins: bool, domain_id: int):
    """The run's summary, how many joins began while its graph ran (a run without joins lasts as long), and the
    fewest actions a joiner received in its second, among those that began and ended while the graph ran."""
    seconds = GRAPH_START_S + joins * interval + 2.0  # long enough for every join, if the start-up is quick
    graph = realtime_push_sim(rate, int(seconds * rate / 50) + 1)
    stop, done, failures = threading.Event(), [], []
    environment = fastdds_profile_environment(fastdds_profile)
    joiner_environment = {} if joiner_profile == NO_PROFILE else fastdds_profile_environment(joiner_profile or
                                                                                             fastdds_profile)
    joiner = threading.Thread(target=join_repeatedly, args=(domain_id, joiner_environment,
                                                            joins if with_joins else 0, interval, freeze, stop, done,
                                                            failures))
    joiner.start()
    try:
        status, summary = run_graph(graph, domain_id, rt_priority=rt_priority, environment=environment)
    finally:
        stop.set()
        joiner.join()
    if failures:
        raise RuntimeError(f"a joiner failed: {failures[0]}")
    assert status == 0 and summary is not None, f"the graph failed (status {status})"
    first_observation, end = summary.wall_clock
    fewest_actions = min((j.actions for j in done if first_observation <= j.began and j.ended <= end), default=None)
    return summary, sum(first_observation <= j.began <= end for j in done), fewest_actions


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, rounds=2)
    parser.add_argument("--joins", type=int, default=6, help="participants that join a run, one after the other")
    parser.add_argument("--interval", type=float, default=3.0,
                        help=f"seconds between two joins (a joiner lives about {JOINER_LIFE_S:g} s, plus --freeze)")
    parser.add_argument("--freeze", type=float, default=0.0,
                        help="seconds each joiner is stopped (SIGSTOP) once on the domain, as Ctrl-Z would")
    add_rt_priority_option(parser)
    add_fastdds_profile_option(parser)
    parser.add_argument("--joiner-profile",
                        choices=fastdds_profiles() + [NO_PROFILE],
                        help=f"a profile of config/fastdds for the joiners alone, or {NO_PROFILE} for the LOCALHOST "
                             f"range's transports (default: --fastdds-profile's)")
    args = parser.parse_args()
    check_rt_priority(parser, args.rt_priority)
    clear_fastdds_settings()
    if args.joins < 1 or args.rounds < 1 or args.freeze < 0 or args.interval < JOINER_LIFE_S + args.freeze:
        parser.error(f"--joins and --rounds must be at least 1, --freeze not negative, --interval at least "
                     f"{JOINER_LIFE_S:g} s more than --freeze")
    totals = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}  # missed, of them answered late, cycles, joins
    longest_streak = {False: 0, True: 0}  # most missed cycles in a row: a stall of the graph
    fewest_per_run = []  # the fewest actions a joiner received in its second (100 at 100 Hz), per run with joins
    for round_ in range(args.rounds):
        for with_joins in (False, True):
            summary, joins, fewest_in_run = run(args.rate, args.joins, args.interval, args.freeze, args.rt_priority,
                                                args.fastdds_profile, args.joiner_profile, with_joins,
                                                150 + os.getpid() % 50)
            if fewest_in_run is not None:
                fewest_per_run.append(fewest_in_run)
            cycles = sum(e.steps for e in summary.episodes)
            for i, value in enumerate((summary.missed_cycles, summary.late_answers, cycles, joins)):
                totals[with_joins][i] += value
            longest_streak[with_joins] = max(longest_streak[with_joins], summary.longest_missed_streak)
            print(f"round {round_ + 1}/{args.rounds}, {joins} joins in the run: "
                  f"{summary.missed_text} of {cycles} cycles; p99 {summary.latency_ms['p99']:.2f} ms", flush=True)
    print(f"\npush_sim, realtime {args.rate:.0f} Hz, SCHED_FIFO priority {args.rt_priority or 'none'}, Fast DDS "
          f"{args.fastdds_profile or 'LOCALHOST range'}"
          + (f" (joiners: {'LOCALHOST range' if args.joiner_profile == NO_PROFILE else args.joiner_profile})"
             if args.joiner_profile else "")
          + f", joiners frozen {args.freeze:g} s, {args.rounds} runs each")
    for with_joins, label in ((False, "nobody joins"), (True, f"{totals[True][3]} joins in all")):
        missed, late, cycles, _ = totals[with_joins]
        print(f"  {label:16} missed {missed:5d} of {cycles} cycles ({100 * missed / cycles:.2f} %), "
              f"{late} answered late, at most {longest_streak[with_joins]} in a row")
    (missed, _, cycles, joins), (missed_alone, _, cycles_alone, _) = totals[True], totals[False]
    if joins:
        print(f"  per join: {(missed - missed_alone * cycles / cycles_alone) / joins:.1f} missed cycles more than "
              f"without; the fewest actions a joiner received in its second: {min(fewest_per_run, default=None)}")


if __name__ == "__main__":
    main()

"""What a participant joining a running graph costs it: push_sim in realtime mode while, every ``--interval``
seconds, a process joins the graph's DDS domain with one node that subscribes to /rpl/action for a second and
leaves (what ``ros2 topic echo /rpl/action`` on a running robot does), against the same graph with nobody joining,
interleaved over ``--rounds``. Missed cycles are the bridge's: a cycle that closed without its action. Only the
joins that began while the graph was running count.

    python bench/participant_join.py [--rate 100] [--joins 6] [--interval 3] [--rounds 2] [--rt-priority 50]
        [--fastdds-profile localhost_udp]

``--fastdds-profile`` puts the graph and the joiners on one of the Fast DDS profiles in config/fastdds (one
transport each) instead of the LOCALHOST range's shared memory and UDPv4.
"""
import argparse
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

from rpl_ros.bringup import ros_environment
from rpl_ros.runner import run_graph

from realtime import (add_fastdds_profile_option, add_rt_priority_option, add_run_options, check_rt_priority,
                      clear_fastdds_settings, fastdds_profile_environment, realtime_push_sim)

JOINER = """
import time, rclpy
from sensor_msgs.msg import JointState
from rpl_ros.nodes.common import ACTION, CONTROL_QOS
rclpy.init()
node = rclpy.create_node("joiner")
node.create_subscription(JointState, ACTION, lambda msg: None, CONTROL_QOS)
end = time.monotonic() + 1.0
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
"""
GRAPH_START_S = 6.0  # from starting the node processes to the first cycles, with room on a loaded machine


def join_repeatedly(domain_id: int, environment: Dict[str, str], joins: int, interval: float,
                    stop: threading.Event, joined_at: List[float], failures: List[str]):
    """Start a joiner every ``interval`` s (on a fixed schedule) after the graph's start-up; note when each began,
    or what a failed one printed."""
    next_join = time.monotonic() + GRAPH_START_S
    for _ in range(joins):
        if stop.wait(max(next_join - time.monotonic(), 0.0)):
            return
        joined_at.append(time.time())
        joiner = subprocess.run([sys.executable, "-c", JOINER], env={**ros_environment(domain_id), **environment},
                                capture_output=True, text=True)
        if joiner.returncode != 0:
            failures.append(joiner.stderr)
            return
        next_join += interval


def run(rate: float, joins: int, interval: float, rt_priority: int, fastdds_profile: Optional[str], with_joins: bool,
        domain_id: int):
    """The run's summary, and how many joins began while its graph ran (a run without joins lasts as long)."""
    seconds = GRAPH_START_S + joins * interval + 2.0  # long enough for every join, if the start-up is quick
    graph = realtime_push_sim(rate, int(seconds * rate / 50) + 1)
    stop, joined_at, failures = threading.Event(), [], []
    environment = fastdds_profile_environment(fastdds_profile)
    joiner = threading.Thread(target=join_repeatedly, args=(domain_id, environment, joins if with_joins else 0,
                                                                interval, stop, joined_at, failures))
    joiner.start()
    try:
        status, summary = run_graph(graph, domain_id, rt_priority=rt_priority, environment=environment)
    finally:
        stop.set()
        joiner.join()
    if failures:
        raise RuntimeError(f"a joiner failed:\n{failures[0]}")
    assert status == 0 and summary is not None, f"the graph failed (status {status})"
    first_observation, end = summary.wall_clock
    return summary, sum(first_observation <= at <= end for at in joined_at)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, rounds=2)
    parser.add_argument("--joins", type=int, default=6, help="participants that join a run, one after the other")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two joins (each stays 1 s)")
    add_rt_priority_option(parser)
    add_fastdds_profile_option(parser)
    args = parser.parse_args()
    check_rt_priority(parser, args.rt_priority)
    clear_fastdds_settings()
    if args.joins < 1 or args.rounds < 1 or args.interval < 1.5:
        parser.error("--joins and --rounds must be at least 1, --interval at least 1.5 s")
    totals = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}  # missed, of them answered late, cycles, joins
    longest_streak = {False: 0, True: 0}  # most missed cycles in a row: a stall of the graph
    for round_ in range(args.rounds):
        for with_joins in (False, True):
            summary, joins = run(args.rate, args.joins, args.interval, args.rt_priority, args.fastdds_profile,
                                 with_joins, 150 + os.getpid() % 50)
            cycles = sum(e.steps for e in summary.episodes)
            for i, value in enumerate((summary.missed_cycles, summary.late_answers, cycles, joins)):
                totals[with_joins][i] += value
            longest_streak[with_joins] = max(longest_streak[with_joins], summary.longest_missed_streak)
            print(f"round {round_ + 1}/{args.rounds}, {joins} joins in the run: "
                  f"{summary.missed_text} of {cycles} cycles; p99 {summary.latency_ms['p99']:.2f} ms", flush=True)
    print(f"\npush_sim, realtime {args.rate:.0f} Hz, SCHED_FIFO priority {args.rt_priority or 'none'}, Fast DDS "
          f"{args.fastdds_profile or 'LOCALHOST range'}, {args.rounds} runs each")
    for with_joins, label in ((False, "nobody joins"), (True, f"{totals[True][3]} joins in all")):
        missed, late, cycles, _ = totals[with_joins]
        print(f"  {label:16} missed {missed:5d} of {cycles} cycles ({100 * missed / cycles:.2f} %), "
              f"{late} answered late, at most {longest_streak[with_joins]} in a row")
    (missed, _, cycles, joins), (missed_alone, _, cycles_alone, _) = totals[True], totals[False]
    if joins:
        print(f"  per join: {(missed - missed_alone * cycles / cycles_alone) / joins:.1f} missed cycles more than "
              f"without")


if __name__ == "__main__":
    main()

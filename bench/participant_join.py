"""What a participant joining a running graph costs it: push_sim in realtime mode while, every ``--interval``
seconds, a process joins the graph's DDS domain with one node that subscribes to /rpl/action for a second and
leaves (what ``ros2 topic echo /rpl/action`` on a running robot does), against the same graph with nobody joining,
interleaved over ``--rounds``. Missed cycles are the bridge's: a cycle that closed without its action.

    python bench/participant_join.py [--rate 100] [--joins 6] [--interval 3] [--rounds 2] [--rt-priority 50]
"""
import argparse
import os
import subprocess
import sys
import threading

from rpl_ros.bringup import ros_environment
from rpl_ros.runner import run_graph

from realtime import realtime_push_sim

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


def join_repeatedly(domain_id: int, joins: int, interval: float, stop: threading.Event):
    if stop.wait(GRAPH_START_S):
        return
    for _ in range(joins):
        subprocess.run([sys.executable, "-c", JOINER], env=ros_environment(domain_id), check=True)
        if stop.wait(interval - 1.0):
            return


def run(rate: float, joins: int, interval: float, rt_priority: int, with_joins: bool, domain_id: int):
    seconds = joins * interval + 2.0
    graph = realtime_push_sim(rate, int(seconds * rate / 50) + 1)
    stop = threading.Event()
    joiner = threading.Thread(target=join_repeatedly, args=(domain_id, joins if with_joins else 0, interval, stop))
    joiner.start()
    try:
        status, summary = run_graph(graph, domain_id, rt_priority=rt_priority)
    finally:
        stop.set()
        joiner.join()
    assert status == 0 and summary is not None, f"the graph failed (status {status})"
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="control rate, Hz")
    parser.add_argument("--joins", type=int, default=6, help="participants that join, one after the other")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two joins (each stays 1 s)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each variant, interleaved")
    parser.add_argument("--rt-priority", type=int, default=0, help="SCHED_FIFO priority of the graph's nodes")
    args = parser.parse_args()
    totals = {False: [0, 0, 0], True: [0, 0, 0]}  # missed, of them answered late, cycles
    for round_ in range(args.rounds):
        for with_joins in (False, True):
            summary = run(args.rate, args.joins, args.interval, args.rt_priority, with_joins,
                          150 + os.getpid() % 50)
            cycles = sum(e.steps for e in summary.episodes)
            for i, value in enumerate((summary.missed_cycles, summary.late_answers, cycles)):
                totals[with_joins][i] += value
            print(f"round {round_ + 1}/{args.rounds}, {'with' if with_joins else 'without'} joins: "
                  f"{summary.missed_text} of {cycles} cycles; p99 {summary.latency_ms['p99']:.2f} ms", flush=True)
    print(f"\npush_sim, realtime {args.rate:.0f} Hz, SCHED_FIFO priority {args.rt_priority or 'none'}, "
          f"{args.rounds} runs each")
    for with_joins, label in ((False, "nobody joins"), (True, f"{args.joins} joins a run")):
        missed, late, cycles = totals[with_joins]
        print(f"  {label:16} missed {missed:5d} of {cycles} cycles ({100 * missed / cycles:.2f} %), "
              f"{late} answered late")
    joins = args.rounds * args.joins
    print(f"  per join: {(totals[True][0] - totals[False][0] * totals[True][2] / totals[False][2]) / joins:.1f} "
          f"missed cycles more than without")


if __name__ == "__main__":
    main()

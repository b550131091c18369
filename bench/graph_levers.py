"""What each lever of issue 8 gives: the push_sim graph in realtime mode at one control rate, run in turn as
separate processes, composed into one process (rpl_ros.nodes.compose), or with the three controller nodes composed
and the arm's bridge apart (as on a robot, whose driver runs apart), with rclpy's single-threaded or
events executor, with the arbitration pinned to a CPU of its own, with the control streams' QoS changed
(depth 1, or reliable) on both ends through ``qos_overrides`` parameters, with Fast DDS restricted to one transport
(the profiles in config/fastdds: UDPv4 on loopback alone, or shared memory alone; rmw_fastrtps's LOCALHOST
discovery range, which every other variant runs under, offers both), with the node processes under the
real-time SCHED_FIFO policy (``--rt-priority``), and with onnxruntime's default threads in the residual node
instead of one sleeping thread. All variants run in this one run, interleaved over ``--rounds`` so
that the machine's drift hits them alike; ratios are against the first. ``--load N`` keeps N processes busy at nice
10 on the side for the whole run, as a robot computer also runs perception or a trainer.

    python bench/graph_levers.py [--rate 100] [--episodes 10] [--rounds 2] [--only TEXT ...] [--load N]
"""
import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Sequence, Union

import numpy as np

from rpl_ros.bringup import fastdds_profile_environment
from rpl_ros.nodes.common import ACTION, BASE_ACTION, OBSERVATION, RESIDUAL_ACTION, real_time_allowed
from rpl_ros.runner import run_graph

from realtime import add_run_options, clear_fastdds_settings, realtime_push_sim

ALL = "all"
CONTROLLERS = ("base_controller", "residual_policy", "arbitration")


class Lever(NamedTuple):
    compose: Union[str, Sequence[str]] = ()  # nodes composed in one process (ALL: every one)
    executor: str = "events"
    pin: bool = False  # the arbitration pinned to CPU 1, the other nodes to CPU 0
    qos: Dict[str, object] = {}  # QoS policies overridden on the control streams
    fastdds_profile: Optional[str] = None  # one of config/fastdds; None: the LOCALHOST range's transports
    rt_priority: int = 0  # SCHED_FIFO priority of the node processes; 0: the ordinary scheduler
    inference_threads: int = 1  # the residual node's onnxruntime threads; 0: onnxruntime's defaults


VARIANTS = {
    "processes, single-threaded": Lever(executor="single"),
    "processes, events executor": Lever(),
    "processes, single, arbitration pinned": Lever(executor="single", pin=True),
    "processes, events, QoS depth 1": Lever(qos={"depth": 1}),
    "processes, events, QoS reliable": Lever(qos={"reliability": "reliable"}),
    "processes, events, UDPv4 only": Lever(fastdds_profile="localhost_udp"),
    "processes, events, shared memory only": Lever(fastdds_profile="shared_memory"),
    "processes, events, SCHED_FIFO 50": Lever(rt_priority=50),
    "processes, events, onnxruntime's default threads": Lever(inference_threads=0),
    "controllers composed, events executor": Lever(compose=CONTROLLERS),
    "composed, single-threaded": Lever(compose=ALL, executor="single"),
    "composed, events executor": Lever(compose=ALL),
    # Nodes of one process share one DDS participant, whose messages to itself need no transport: this should
    # measure what the variant above does, so the two show the run's noise.
    "composed, events, UDPv4 only": Lever(compose=ALL, fastdds_profile="localhost_udp"),
}
CONTROL_STREAMS = (OBSERVATION, BASE_ACTION, RESIDUAL_ACTION, ACTION)


def pin_nodes(domain_id: int, done: threading.Event):
    """Pin this graph's arbitration process to CPU 1 and its other node processes to CPU 0, as they appear."""
    pinned = set()
    while not done.is_set():
        for proc in Path("/proc").iterdir():
            try:
                if not proc.name.isdigit() or int(proc.name) in pinned:
                    continue
                if f"ROS_DOMAIN_ID={domain_id}".encode() not in (proc / "environ").read_bytes().split(b"\0"):
                    continue
                cmdline = (proc / "cmdline").read_bytes()
                if b"rpl_ros.nodes." in cmdline:
                    os.sched_setaffinity(int(proc.name), {1} if b"rpl_ros.nodes.arbitration" in cmdline else {0})
                    pinned.add(int(proc.name))
            except OSError:
                continue
        done.wait(0.05)


def run_variant(rate: float, episodes: int, lever: Lever, domain_id: int):
    graph = realtime_push_sim(rate, episodes)
    for node in graph.nodes:  # both ends of every control stream, so publishers and subscriptions still match
        node.parameters.update({f"qos_overrides.{topic}.{end}.{policy}": value for topic in CONTROL_STREAMS
                                for end in ("publisher", "subscription") for policy, value in lever.qos.items()})
    graph.node("residual_policy").parameters["inference_threads"] = lever.inference_threads
    done = threading.Event()
    pinner = threading.Thread(target=pin_nodes, args=(domain_id, done), daemon=True)
    if lever.pin:
        pinner.start()
    try:
        composed = graph.node_names if lever.compose == ALL else lever.compose
        environment = fastdds_profile_environment(lever.fastdds_profile)
        status, summary = run_graph(graph, domain_id, compose=composed, executor=lever.executor,
                                    rt_priority=lever.rt_priority, environment=environment)
    finally:
        done.set()
    assert status == 0 and summary is not None, f"the graph failed (status {status})"
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, rounds=2, episodes=10)
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="run only the variants whose name holds one of these texts (in VARIANTS' order: ratios "
                             "are against the first of them)")
    parser.add_argument("--load", type=int, default=0, help="busy processes at nice 10 beside the graph")
    args = parser.parse_args()
    clear_fastdds_settings()
    if os.cpu_count() < 2:
        del VARIANTS["processes, single, arbitration pinned"]
    if not real_time_allowed(VARIANTS["processes, events, SCHED_FIFO 50"].rt_priority):
        del VARIANTS["processes, events, SCHED_FIFO 50"]
    for name in [n for n in VARIANTS if args.only and not any(text in n for text in args.only)]:
        del VARIANTS[name]
    load = [subprocess.Popen([sys.executable, "-c", "import os\nos.nice(10)\nwhile True: pass"])
            for _ in range(args.load)]
    try:
        measure(args)
    finally:
        for process in load:
            process.kill()
            process.wait()


def measure(args):
    latencies = {name: [] for name in VARIANTS}
    missed = {name: [0, 0, 0] for name in VARIANTS}  # missed cycles, of them answered late, cycles
    for round_ in range(args.rounds):
        for i, (name, variant) in enumerate(VARIANTS.items()):
            summary = run_variant(args.rate, args.episodes, variant, domain_id=150 + (os.getpid() + i) % 50)
            latencies[name].append(summary.latency_ms)
            missed[name][0] += summary.missed_cycles
            missed[name][1] += summary.late_answers
            missed[name][2] += sum(e.steps for e in summary.episodes)
            print(f"round {round_ + 1}/{args.rounds}: {name} done", flush=True)
    print(f"\npush_sim, realtime {args.rate:.0f} Hz, {args.rounds} x {args.episodes} episodes per variant "
          f"(medians over rounds of each run's p50/p99/max), {args.load} busy processes beside")
    print(f"{'variant':40} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'missed':>8} {'late/missed':>12} "
          f"{'p50 ratio':>10} {'p99 ratio':>10}")
    first = None
    for name in VARIANTS:
        lat = {k: float(np.median([run[k] for run in latencies[name]])) for k in ("p50", "p99", "max")}
        first = first or lat
        missed_count, late = missed[name][0], missed[name][1]
        share = 100 * missed_count / max(missed[name][2], 1)
        print(f"{name:40} {lat['p50']:7.2f} {lat['p99']:7.2f} {lat['max']:7.2f} {share:7.2f}% "
              f"{late:>6}/{missed_count:<5} {lat['p50'] / first['p50']:10.2f} {lat['p99'] / first['p99']:10.2f}")


if __name__ == "__main__":
    main()

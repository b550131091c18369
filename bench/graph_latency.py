"""Observation -> applied action latency through the real multi-process graph in realtime mode, at several
control rates, against the same controller + residual + sum computed in one process (the floor), and the
resident memory of each runtime node.

For each rate the graph runs ``--episodes`` Push episodes; the bridge measures, for every step, the time from
publishing the observation to receiving the action that answers it, and counts cycles with no answer in time
(missed: the arm held still for that cycle). The floor is timed in this process on the same observations.

    python bench/graph_latency.py [--rates 25 100 500] [--episodes 4] [--rt-priority 50]
"""
import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np

from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import EpisodeRunner
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel, zero_residual_model
from rpl_ros.core.tasks import task_spec
from rpl_ros.runner import run_graph

from realtime import add_rt_priority_option, check_rt_priority, realtime_push_sim


def in_process_floor_ms(task: str, steps: int = 2000) -> np.ndarray:
    """Per-step cost of base + residual + sum in one process, on observations of real episodes."""
    spec = task_spec(task)
    codec = ObservationCodec(spec.observation_sizes)
    dims = (codec.policy_input_size, len(spec.action_names))
    base, residual = make_controller(spec.controller), ResidualModel(zero_residual_model(*dims), *dims)
    runner, samples = EpisodeRunner(task, episodes=steps // 50 + 1, seed=0), []
    for _ in range(steps):
        start = time.perf_counter()
        action = residual_sum(base(runner.obs), residual(codec.policy_input(runner.obs)))
        samples.append(time.perf_counter() - start)
        runner.step(action)
    return np.asarray(samples) * 1e3


def node_memory(domain_id: int, samples: dict, stop: threading.Event):
    """Largest resident memory (MiB) of each node process of this graph, and whether it mapped torch."""
    while not stop.is_set():
        for proc in Path("/proc").iterdir():
            try:
                if f"ROS_DOMAIN_ID={domain_id}".encode() not in (proc / "environ").read_bytes().split(b"\0"):
                    continue
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                name = next((c.decode().rsplit(".", 1)[-1] for c in cmdline if c.startswith(b"rpl_ros.nodes.")), None)
                if name is None:
                    continue
                rss = next(int(line.split()[1]) for line in (proc / "status").read_text().splitlines()
                           if line.startswith("VmRSS"))
                torch = b"libtorch" in (proc / "maps").read_bytes()
                old = samples.get(name, (0, False))
                samples[name] = (max(old[0], rss / 1024), old[1] or torch)
            except (OSError, StopIteration):
                continue
        stop.wait(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 100, 500])
    parser.add_argument("--episodes", type=int, default=4)
    add_rt_priority_option(parser)
    args = parser.parse_args()
    check_rt_priority(parser, args.rt_priority)
    floor = in_process_floor_ms("push")
    print(f"in-process floor (base + residual + sum): p50 {np.percentile(floor, 50):.3f} ms, "
          f"p99 {np.percentile(floor, 99):.3f} ms")
    print(f"{'rate Hz':>8} {'achieved':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'missed':>8} "
          f"{'p50 / floor':>11}")
    memory, stop = {}, threading.Event()
    for rate in args.rates:
        domain_id = 150 + (os.getpid() + int(rate)) % 50
        watcher = threading.Thread(target=node_memory, args=(domain_id, memory, stop), daemon=True)
        watcher.start()
        graph = realtime_push_sim(rate, args.episodes)
        status, summary = run_graph(graph, domain_id, rt_priority=args.rt_priority)
        stop.set()
        watcher.join()
        stop.clear()
        assert status == 0 and summary is not None
        steps = sum(e.steps for e in summary.episodes)
        lat = summary.latency_ms
        print(f"{rate:8.0f} {summary.control_rate_hz:9.1f} {lat['p50']:7.2f} {lat['p99']:7.2f} {lat['max']:7.2f} "
              f"{100 * summary.missed_cycles / steps:7.2f}% {lat['p50'] / np.percentile(floor, 50):11.0f}")
    print("\nresident memory of each node (largest seen), and whether torch was loaded:")
    for name, (mib, torch) in sorted(memory.items()):
        print(f"  {name:16} {mib:7.1f} MiB   torch: {'YES' if torch else 'no'}")


if __name__ == "__main__":
    main()

"""Lockstep simulation throughput: episode steps per second through the multi-process graph (zero residual)
against the same episodes in one process (the raw gymnasium env stepped with the base controller, plus the
same ONNX residual and sum the graph runs). Rounds alternate raw / graph; the result is their ratio.

    python bench/throughput.py [--task push] [--episodes 20] [--rounds 3]
"""
import argparse
import os
import time

import numpy as np

from rpl_ros.bringup import load_graph
from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel, zero_residual_model
from rpl_ros.core.tasks import task_spec
from rpl_ros.runner import run_graph


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="push")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spec = task_spec(args.task)
    codec = ObservationCodec(spec.observation_sizes)
    dims = (codec.policy_input_size, len(spec.action_names))
    base, residual = make_controller(spec.controller), ResidualModel(zero_residual_model(*dims), *dims)

    def policy(obs):
        return residual_sum(base(obs), residual(codec.policy_input(obs)))

    raw_rates, graph_rates = [], []
    for round_index in range(args.rounds):
        start = time.perf_counter()
        results = run_in_process(args.task, policy, args.episodes, seed=0)
        raw_rates.append(sum(r.steps for r in results) / (time.perf_counter() - start))
        graph = load_graph("push_sim", {"task": args.task, "episodes": args.episodes, "seed": 0})
        status, summary = run_graph(graph, domain_id=150 + os.getpid() % 50)
        assert status == 0 and summary is not None
        graph_rates.append(summary.control_rate_hz)
        print(f"round {round_index}: in-process {raw_rates[-1]:.0f} steps/s, graph {graph_rates[-1]:.0f} steps/s")
    raw, graph_rate = float(np.median(raw_rates)), float(np.median(graph_rates))
    print(f"\n{args.task}, lockstep, {args.episodes} episodes x {args.rounds} rounds (medians): in-process "
          f"{raw:.0f} steps/s, graph {graph_rate:.0f} steps/s -> graph / in-process = {graph_rate / raw:.2f} "
          f"(target >= 0.3)")


if __name__ == "__main__":
    main()

"""A trained residual through the real node graph versus the learner's in-process evaluation, same seeds.

    python bench/graph_check.py runs/bench/push/rpl_s0/residual.onnx --episodes 100 --seed 0

Runs the push_sim graph in lockstep over DDS with --model-path (what `rpl-ros launch` does), then the same
episodes in-process with the policy the learner evaluates, residual_sum(pi(s), scale * f(policy_input(s))),
f run by the same ResidualModel, and compares each episode's success and the digest of every applied action.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

from rpl_ros.bringup import load_graph
from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel
from rpl_ros.core.tasks import task_spec
from rpl_ros.runner import run_graph


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--graph", default="push_sim")
    parser.add_argument("--domain-id", type=int, default=100 + os.getpid() % 100)
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    graph = load_graph(args.graph, {"episodes": args.episodes, "seed": args.seed, "mode": "lockstep",
                                    "model_path": str(args.model.resolve())})
    status, summary = run_graph(graph, args.domain_id)
    if summary is None:
        print(f"the graph stopped before finishing (status {status})", file=sys.stderr)
        return 1

    task = graph.node("mujoco_bridge").parameters["task"]
    scale = float(graph.node("arbitration").parameters["residual_scale"])
    spec = task_spec(task)
    codec = ObservationCodec(spec.observation_sizes)
    model = ResidualModel(args.model.read_bytes(), codec.policy_input_size, len(spec.action_names))
    base = make_controller(spec.controller)
    reference = run_in_process(task, lambda obs: residual_sum(base(obs), model(codec.policy_input(obs)), scale),
                               args.episodes, args.seed)

    same_actions = sum(a.actions_sha256 == b.actions_sha256 for a, b in zip(summary.episodes, reference))
    graph_success = np.mean([e.success for e in summary.episodes])
    in_process_success = np.mean([e.success for e in reference])
    print(f"{task}, {args.episodes} episodes from seed {args.seed}: success through the graph {graph_success:.2f}, "
          f"in-process {in_process_success:.2f}; identical applied actions on {same_actions}/{args.episodes} "
          f"episodes; graph control rate {summary.control_rate_hz:.0f} steps/s")
    return 0 if same_actions == args.episodes == len(summary.episodes) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Fetch's reactive pusher on PandaPush (a joint-controlled Franka Panda) next to a random policy, same seeds.

    .venv/bin/python bench/panda_base.py [--episodes 100] [--seed 0]

Prints each policy's success with a 95 % Wilson interval, mean return and mean final distance of the block
from the goal, in-process (the graph runs the same episodes: see test/test_panda_graph.py).
"""
import argparse
import time

import numpy as np

from rpl_ros.core.controllers import make_controller
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.tasks import TASKS
from rpl_ros.eval import evaluate, wilson_interval

TASK = "panda_push"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    policies = {"base (push)": make_controller(TASKS[TASK].controller),
                "random": lambda obs: rng.uniform(-1.0, 1.0, len(TASKS[TASK].action_names))}
    codec = ObservationCodec(TASKS[TASK].observation_sizes)
    print(f"{TASK}, {args.episodes} episodes from seed {args.seed}")
    print(f"{'policy':<12} {'success':>8} {'95% CI':>11} {'mean return':>12} {'final distance (m)':>19} {'s':>6}")
    for name, policy in policies.items():
        start = time.perf_counter()
        result = evaluate(TASK, policy, name, args.episodes, args.seed)
        low, high = wilson_interval(result.successes, args.episodes)
        final = [codec.decode(codec.names, e.final_observation) for e in result.episodes]
        distance = np.mean([np.linalg.norm(o["achieved_goal"] - o["desired_goal"]) for o in final])
        print(f"{name:<12} {result.success_rate:>8.2f} {low:>5.2f}-{high:<5.2f} {result.mean_return:>12.1f} "
              f"{distance:>19.3f} {time.perf_counter() - start:>6.1f}", flush=True)


if __name__ == "__main__":
    main()

"""Each task's base controller alone over seeded episodes, next to the paper's figure for its base.

    .venv/bin/python bench/base_controllers.py [--episodes 100] [--tasks push slippery_push ...]

Prints success with a 95 % Wilson interval (MBRLPusher: mean return, next to zero torques) and writes
bench/results/base_controllers.csv.
"""
import argparse
import csv
import time
from pathlib import Path

import numpy as np

from rpl_ros.core.tasks import TASKS
from rpl_ros.eval import base_policy, evaluate, wilson_interval

PAPER_BASE_SUCCESS = {"push": 0.5, "slippery_push": 0.45, "pick_and_place": 0.5, "noisy_hook": 0.15,
                      "complex_hook": 0.55}
"""Silver et al. 2018, the base policies' success alone (MBRLPusher is scored by return)"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "base_controllers.csv"))
    args = parser.parse_args()
    rows = []
    print(f"{'task':<15} {'base success':>12} {'95% CI':>11} {'paper':>6} {'mean return':>12} {'s':>6}")
    for task in args.tasks:
        start = time.perf_counter()
        result = evaluate(task, base_policy(task), "base", args.episodes, args.seed)
        low, high = wilson_interval(result.successes, args.episodes)
        paper = PAPER_BASE_SUCCESS.get(task)
        row = {"task": task, "episodes": args.episodes, "seed": args.seed, "success": result.success_rate,
               "ci_low": low, "ci_high": high, "paper": "" if paper is None else paper,
               "mean_return": result.mean_return}
        if paper is None:  # scored by return: say what doing nothing scores
            zero = evaluate(task, lambda obs: np.zeros(len(TASKS[task].action_names)), "zero", args.episodes,
                            args.seed)
            row["zero_action_return"] = zero.mean_return
        rows.append(row)
        paper_text = "return" if paper is None else f"{paper:.2f}"
        extra = f" (zero torques: {row['zero_action_return']:.1f})" if paper is None else ""
        print(f"{task:<15} {result.success_rate:>12.2f} {low:>5.2f}-{high:<5.2f} {paper_text:>6} "
              f"{result.mean_return:>12.1f} {time.perf_counter() - start:>6.1f}{extra}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) + ["zero_action_return"], extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()

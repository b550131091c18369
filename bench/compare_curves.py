r"""Learning curves of runs with different settings on one plot, from the curves CSVs learning_curves.py wrote.

    python bench/compare_curves.py --out bench/results/noisy_hook_drag_compare.png --target 0.8 \
        DDPG=bench/results/noisy_hook_drag_curves.csv "asymmetric critic=bench/results/noisy_hook_drag_asym_curves.csv"

Single evaluations of 20 episodes swing by +-0.2, so each seed's curve is first averaged over --window evaluations
in a row (a trailing mean); the line is the mean of the seeds, the band their min-max. Only the steps every seed
of a set reached are drawn, up to --max-step.
"""
import argparse
from pathlib import Path

import numpy as np

from learning_curves import read_curves_csv


def seed_curves(path: Path, variant: str, metric: str):
    """{seed: (steps, values)} of one variant in a curves CSV."""
    return {seed: (np.array([r["step"] for r in rows]), np.array([r[metric] for r in rows]))
            for (row_variant, seed), rows in read_curves_csv(path).items() if row_variant == variant}


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    sums = np.cumsum(np.r_[0.0, values])
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", metavar="LABEL=CSV", help="a label and a curves CSV of learning_curves.py")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--variant", default="rpl", help="the variant of each CSV to draw (default: rpl)")
    parser.add_argument("--metric", default="eval_success")
    parser.add_argument("--window", type=int, default=10, help="evaluations per trailing mean (default: 10)")
    parser.add_argument("--max-step", type=int, help="draw steps up to this one")
    parser.add_argument("--target", type=float, help="a level to mark")
    args = parser.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label_and_path, color in zip(args.sets, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        label, path = label_and_path.split("=", 1)
        curves = seed_curves(Path(path), args.variant, args.metric)
        if not curves:
            raise SystemExit(f"{path} has no rows of variant {args.variant!r}")
        length = min(len(steps) for steps, _ in curves.values())
        steps = next(iter(curves.values()))[0][:length]
        kept = steps <= (args.max_step or steps[-1])
        smoothed = np.array([trailing_mean(values[:length], args.window) for _, values in curves.values()])[:, kept]
        ax.plot(steps[kept], smoothed.mean(0), color=color, label=f"{label} (mean of {len(curves)} seeds)")
        ax.fill_between(steps[kept], smoothed.min(0), smoothed.max(0), color=color, alpha=0.2)
        print(f"{label}: {len(curves)} seeds to {steps[kept][-1]:.0f} steps; mean of the last {args.window} "
              f"evaluations per seed: {' / '.join(f'{s:.2f}' for s in smoothed[:, -1])}")
    if args.target is not None:
        ax.axhline(args.target, color="k", linestyle=":", label=f"target {args.target}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(args.metric)
    if args.metric == "eval_success":
        ax.set_ylim(0.0, 1.02)
    ax.set_title(f"trailing mean of {args.window} evaluations per seed (band: min-max over seeds)", fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

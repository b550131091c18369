r"""Success versus environment steps: the base alone, RPL (residual on the base), and learning from scratch.

    python bench/learning_curves.py --task push --seeds 3 --steps 50000 [--jobs 2]

Each (variant, seed) is one `rpl-ros train` run in <runs-dir>/<task>/<variant>_s<seed>; a run already there
is resumed from its checkpoint, so a larger --steps extends the curves instead of starting over. The base
alone is evaluated in-process on --base-episodes seeded episodes. Writes bench/results/<task><tag>_curves.csv
(every evaluation of every run), bench/results/<task><tag>_<metric>.png and prints a summary: success at the end,
steps and wall-clock to first reach --target, and the ratio of steps scratch / RPL. Then each run's last model
(residual.onnx) and best-evaluated one (residual_best.onnx) are scored on --held-out-episodes episodes whose seeds
neither training nor its evaluations used (bench/results/<task><tag>_held_out.csv): the best model was picked by
its evaluation's luck as much as by its skill, so only other episodes say what it is worth.

runs/ stays on the machine that trained; to add a seed on another machine, train it alone and keep the others'
rows from the committed CSV:

    python bench/learning_curves.py --task slippery_push --first-seed 2 --seeds 1 --steps 350000 --tag _long \
        --variants rpl --keep-csv-rows
"""
import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rpl_ros.cli import build_parser
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.tasks import task_spec

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {
    "rpl": [],
    # The paper's from-scratch learner: the same DDPG + HER, no base, default init, no burn-in.
    "scratch": ["--base", "none", "--burn-in", "off", "--no-zero-init-last-layer"],
}


def run_dir(args, variant: str, seed: int) -> Path:
    return Path(args.runs_dir) / args.task / f"{variant}_s{seed}"


def seed_range(args) -> range:
    return range(args.first_seed, args.first_seed + args.seeds)


def read_progress(path: Path):
    if not (path / "progress.csv").exists():
        return []
    with (path / "progress.csv").open() as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def train_command(args, variant: str, seed: int):
    path = run_dir(args, variant, seed)
    command = ["nice", "-n", "10", sys.executable, "-m", "rpl_ros.cli", "train", "--task", args.task,
               "--steps", str(args.steps), "--seed", str(seed), "--run-dir", str(path), "--no-async-envs",
               "--threads", "1", "--eval-every", str(args.eval_every), "--eval-episodes", str(args.eval_episodes),
               "--no-progress-bar", *VARIANTS[variant], *args.train_args]
    if (path / "checkpoint.pt").exists():
        command.append("--resume")
    return command


def run_all(args):
    """Train every (variant, seed) not yet at --steps, at most --jobs at a time."""
    pending = [(v, s) for s in seed_range(args) for v in args.variants
               if max((r["step"] for r in read_progress(run_dir(args, v, s))), default=0) < args.steps]
    running = []
    while pending or running:
        while pending and len(running) < args.jobs:
            variant, seed = pending.pop(0)
            path = run_dir(args, variant, seed)
            path.mkdir(parents=True, exist_ok=True)
            log = (path / "train.log").open("a")
            print(f"start {variant} seed {seed} -> {path}", flush=True)
            running.append((variant, seed, subprocess.Popen(train_command(args, variant, seed), stdout=log,
                                                            stderr=subprocess.STDOUT,
                                                            env=dict(os.environ, OMP_NUM_THREADS="1"))))
        time.sleep(5)
        for item in list(running):
            if item[2].poll() is not None:
                running.remove(item)
                print(f"done {item[0]} seed {item[1]}: exit {item[2].returncode}", flush=True)


def read_curves_csv(path: Path):
    """{(variant, seed): [evaluation rows]} of a curves CSV this script wrote, in its order."""
    curves = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            variant, seed = row.pop("variant"), int(row.pop("seed"))
            curves.setdefault((variant, seed), []).append({k: float(v) for k, v in row.items() if v != ""})
    return curves


def keep_csv_rows(args, curves):
    """Add to ``curves`` the existing curves CSV's rows of every (variant, seed) that ``curves`` does not hold (not
    read from --runs-dir), so that runs trained on another machine stay in the results."""
    path = RESULTS / f"{args.task}{args.tag}_curves.csv"
    kept = {(variant, seed): rows for (variant, seed), rows in (read_curves_csv(path) if path.exists() else {}).items()
            if seed not in curves.get(variant, {})}
    for (variant, seed), rows in sorted(kept.items()):
        print(f"kept {variant} seed {seed} from {path.name} ({len(rows)} evaluations, to {rows[-1]['step']:.0f} "
              f"steps)")
        curves.setdefault(variant, {})[seed] = rows
    for variant in curves:
        curves[variant] = dict(sorted(curves[variant].items()))


def base_alone(args):
    spec = task_spec(args.task)
    results = run_in_process(args.task, make_controller(spec.controller), args.base_episodes, 0)
    return float(np.mean([r.success for r in results])), float(np.mean([r.episode_return for r in results]))


def first_reach(rows, metric: str, target: float):
    hit = [r for r in rows if r[metric] >= target]
    return (hit[0]["step"], hit[0]["wall_s"]) if hit else (None, None)


def summarize(args, curves, base_metric):
    metric = f"eval_{args.metric}"
    print(f"\n{args.task}: base alone {args.metric} {base_metric:.2f} over {args.base_episodes} episodes")
    reach = {}
    for variant, runs in curves.items():
        if not runs:
            continue
        finals = [rows[-1][metric] for rows in runs.values()]
        steps = max(rows[-1]["step"] for rows in runs.values())
        print(f"  {variant:8s} seeds {len(runs)}, trained to {steps:.0f} steps: final {args.metric} "
              f"{np.mean(finals):.2f} (per seed {', '.join(f'{f:.2f}' for f in finals)})")
        if args.target is None:
            continue
        hits = {seed: first_reach(rows, metric, args.target) for seed, rows in runs.items()}
        reach[variant] = [h[0] for h in hits.values()]
        for seed, (step, wall) in hits.items():
            print(f"           seed {seed}: " + (f"reaches {args.target} at {step:.0f} steps, {wall / 60:.1f} min "
                                                 f"wall-clock" if step is not None else
                                                 f"does not reach {args.target} within {runs[seed][-1]['step']:.0f} "
                                                 f"steps (cut)"))
    # (a base that already reaches the target leaves no ratio to report)
    if "rpl" in reach and "scratch" in reach and all(s is not None for s in reach["rpl"]) and any(reach["rpl"]):
        rpl = np.mean(reach["rpl"])
        scratch_hits = [s for s in reach["scratch"] if s is not None]
        if len(scratch_hits) == len(reach["scratch"]):
            print(f"  steps to {args.target}: scratch / RPL = {np.mean(scratch_hits) / rpl:.1f}x")
        else:
            # A seed that never reached the target needs more than the steps it was trained for: the shortest
            # such run bounds the ratio from below.
            budget = min(rows[-1]["step"] for seed, rows in curves["scratch"].items()
                         if first_reach(rows, metric, args.target)[0] is None)
            print(f"  steps to {args.target}: scratch / RPL > {budget / rpl:.1f}x (scratch did not reach it on "
                  f"{len(reach['scratch']) - len(scratch_hits)} of {len(reach['scratch'])} seeds, each trained "
                  f"for at least {budget:.0f} steps)")


HELD_OUT_FIELDS = ("variant", "seed", "model", "step", "note", "episodes", "first_seed", "success", "wilson_low",
                   "wilson_high", "mean_return")


def score_held_out(args, curves):
    """The base, and each run's last and best models, on --held-out-episodes episodes from --held-out-seed on,
    through the learner's own evaluation (the exported ONNX summed with its base as the graph sums it), with the
    settings each run trained with (from its checkpoint)."""
    import torch

    from rpl_ros.core.observation import ObservationCodec
    from rpl_ros.core.residual import ResidualModel
    from rpl_ros.eval import evaluate, wilson_interval
    from rpl_ros.learn.config import Args
    from rpl_ros.learn.train import BEST_MODEL, CHECKPOINT, MODEL, deployed_policy, make_base

    spec = task_spec(args.task)
    obs_dim, act_dim = ObservationCodec(spec.observation_sizes).policy_input_size, len(spec.action_names)
    seeds = f"seeds {args.held_out_seed}-{args.held_out_seed + args.held_out_episodes - 1}"
    print(f"\n{args.task}, held out ({args.held_out_episodes} episodes, {seeds}, never used in training or its "
          f"evaluations):")

    def scored(policy, **row):
        evaluation = evaluate(args.task, policy, row["variant"], args.held_out_episodes, args.held_out_seed)
        low, high = wilson_interval(evaluation.successes, len(evaluation.episodes))
        return {**row, "episodes": len(evaluation.episodes), "first_seed": args.held_out_seed,
                "success": evaluation.success_rate, "wilson_low": round(low, 3), "wilson_high": round(high, 3),
                "mean_return": round(evaluation.mean_return, 2)}

    rows = [scored(make_controller(spec.controller), variant="base")]
    for variant, runs in curves.items():
        for seed in runs:
            path = run_dir(args, variant, seed)
            if not (path / CHECKPOINT).exists():
                print(f"  {variant} seed {seed}: no run in {path} (its curve kept from the CSV), not scored")
                continue
            checkpoint = torch.load(path / CHECKPOINT, weights_only=False)
            settings, progress = Args(**checkpoint["args"]), checkpoint["progress"]
            del checkpoint
            models = []
            if progress["step"] >= settings.steps:  # MODEL is exported when a run ends
                models.append(("last", MODEL, progress["step"], ""))
            else:
                print(f"  {variant} seed {seed}: stopped at step {progress['step']} of {settings.steps} before "
                      f"exporting its {MODEL}: its last model is not scored")
            if "best_eval" in progress:
                since = progress.get("best_since", 0)
                models.append(("best", BEST_MODEL, progress.get("best_step", ""),
                               f"best since step {since}" if since else ""))
            for model, name, step, note in models:
                residual = ResidualModel((path / name).read_bytes(), obs_dim, act_dim)
                rows.append(scored(deployed_policy(residual, make_base(settings), settings.residual_scale),
                                   variant=variant, seed=seed, model=model, step=step, note=note))
    path = RESULTS / f"{args.task}{args.tag}_held_out.csv"
    if args.keep_csv_rows and path.exists():  # the rows of runs scored on another machine
        scored_here = {(row["variant"], str(row.get("seed", ""))) for row in rows}
        with path.open() as f:
            rows += [row for row in csv.DictReader(f) if (row["variant"], row["seed"]) not in scored_here]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, HELD_OUT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        where = f"step {row['step']}" if row.get("step") not in (None, "", -1) else ""
        success = (f"success {float(row['success']):.2f} (95 % Wilson {float(row['wilson_low']):.2f}-"
                   f"{float(row['wilson_high']):.2f})")
        measures = [success, f"return {float(row['mean_return']):.1f}"]
        print(f"  {row['variant']:8s} {row.get('seed', '')!s:>2} {row.get('model', ''):4s} {where:>12}: "
              f"{', '.join(measures if args.metric == 'success' else measures[::-1])}"
              + (f" ({row['note']})" if row.get("note") else ""))
    print(f"wrote {path}")


def write_results(args, curves, base_metric):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(exist_ok=True)
    metric = f"eval_{args.metric}"
    name = f"{args.task}{args.tag}"
    curves_csv, plot = RESULTS / f"{name}_curves.csv", RESULTS / f"{name}_{args.metric}.png"
    with curves_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["variant", "seed", "step", "wall_s", "eval_success", "eval_return", "actor_released"])
        for variant, runs in curves.items():
            for seed, rows in runs.items():
                for r in rows:
                    writer.writerow([variant, seed, int(r["step"]), r["wall_s"], r["eval_success"], r["eval_return"],
                                     int(r["actor_released"]) if "actor_released" in r else ""])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (variant, runs), color in zip(curves.items(), ("tab:blue", "tab:red")):
        if not runs:
            continue
        length = min(len(rows) for rows in runs.values())
        steps = np.array([r["step"] for r in next(iter(runs.values()))[:length]])
        values = np.array([[r[metric] for r in rows[:length]] for rows in runs.values()])
        ax.plot(steps, values.mean(0), color=color, label=f"{variant} (mean of {len(runs)} seeds)")
        ax.fill_between(steps, values.min(0), values.max(0), color=color, alpha=0.2)
        for rows in runs.values():  # each seed as far as it was trained
            ax.plot([r["step"] for r in rows], [r[metric] for r in rows], color=color, alpha=0.35, linewidth=0.7)
        # where the burn-in released each seed's actor (not a run without burn-in, released from step 0): the
        # dips after it are the actor's first steps
        released = [r for r in (next((r for r in rows if r.get("actor_released")), None) for rows in runs.values())
                    if r is not None and r["step"] > 0]
        if released:
            ax.scatter([r["step"] for r in released], [r[metric] for r in released], marker="v", color=color,
                       zorder=3, label=f"{variant}: actor released (burn-in over)")
    ax.axhline(base_metric, color="k", linestyle="--", label="base alone")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(args.metric)
    shown = " vs ".join({"rpl": "RPL", "scratch": "from scratch"}[variant] for variant, runs in curves.items() if runs)
    ax.set_title(f"{args.task}{args.tag}: {shown} vs the base\n(band: min-max over seeds; thin: each seed)",
                 fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(plot, dpi=100)
    print(f"wrote {curves_csv} and {plot}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="push")
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds, from --first-seed on")
    parser.add_argument("--first-seed", type=int, default=0, help="the seed of the first run (default: 0)")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2, help="training processes at once (one core each)")
    parser.add_argument("--eval-every", type=int, default=2_500)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--base-episodes", type=int, default=100)
    parser.add_argument("--metric", choices=["success", "return"], default="success",
                        help="what the curves show (return for dense-reward tasks such as MBRLPusher)")
    parser.add_argument("--target", type=float, help="the level whose first crossing is reported (default: 0.9 "
                        "success; with --metric return, none unless given)")
    parser.add_argument("--held-out-episodes", type=int, default=100, help="episodes on which each run's last "
                        "and best models are scored at the end (0: none)")
    parser.add_argument("--held-out-seed", type=int, default=1000, help="seed of the first held-out episode; the "
                        "evaluations during training use seeds from their --eval-seed on (0 unless given after --), "
                        "training episodes from 1,000,000 on")
    parser.add_argument("--runs-dir", default="runs/bench")
    parser.add_argument("--tag", default="", help="suffix of the result files, for runs with other settings (e.g. "
                        "_scale03 beside --runs-dir runs/bench_scale03), so they do not overwrite the main ones")
    parser.add_argument("--plot-only", action="store_true", help="summarize the runs there, train nothing")
    parser.add_argument("--keep-csv-rows", action="store_true", help="keep the existing curves CSV's rows of every "
                        "(variant, seed) not read from --runs-dir (trained on another machine) in the results")
    parser.add_argument("train_args", nargs="*", help="after --: more `rpl-ros train` options for every run")
    args = parser.parse_args()
    # the evaluation seeds the runs will use: train_command's options, those after -- last (they win)
    train = build_parser().parse_args(["train", "--task", args.task, "--eval-episodes", str(args.eval_episodes),
                                       *args.train_args])
    held_out, evaluated = (range(args.held_out_seed, args.held_out_seed + args.held_out_episodes),
                           range(train.eval_seed, train.eval_seed + train.eval_episodes))
    if held_out and evaluated and held_out.start < evaluated.stop and evaluated.start < held_out.stop:
        parser.error(f"--held-out-seed {args.held_out_seed} overlaps the evaluation seeds "
                     f"{evaluated.start}-{evaluated.stop - 1}")
    if not args.plot_only:
        run_all(args)
    curves = {v: {s: rows for s in seed_range(args) if (rows := read_progress(run_dir(args, v, s)))}
              for v in args.variants}
    if args.keep_csv_rows:
        keep_csv_rows(args, curves)
    base_success, base_return = base_alone(args)
    base_metric = base_success if args.metric == "success" else base_return
    if args.target is None and args.metric == "success":
        args.target = 0.9
    write_results(args, curves, base_metric)
    summarize(args, curves, base_metric)
    if args.held_out_episodes:
        score_held_out(args, curves)


if __name__ == "__main__":
    main()

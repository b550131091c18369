"""Live training: success against wall time while the graph records itself and the trainer pushes models to it.

Runs the slippery_push_live graph (config/slippery_push_live.yaml: bridge, base, an exploring residual,
arbitration, recorder, trainer) for ``--minutes`` with fresh keys, recordings and trainer output in ``--work``,
then measures from what was recorded and pushed:

- live success: the outcome of every episode as the graph ran it (with the residual's exploration noise),
  a rolling mean over ``--window`` episodes;
- model success: each pushed model (the trainer keeps them in models/) evaluated in-process without exploration
  on the evaluation seeds 0.. (``--eval-episodes``), plotted when the residual node made it active
  (/rpl/residual_model_version, as recorded); the base alone at time 0;
- swap markers at every activation.

Writes bench/results/live_training_<task>.png and .csv and prints a summary.

    nice -n 5 python bench/live_training.py [--minutes 10] [--task slippery_push]
"""
import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np

from rpl_ros.bringup import load_graph
from rpl_ros.core.envelope import generate_keypair
from rpl_ros.core.recording import completed_bags, read_messages
from rpl_ros.eval import base_policy, evaluate, residual_policy
from rpl_ros.learn.recordings import EpisodeAssembler, read_episodes
from rpl_ros.nodes.common import EPISODE, RESIDUAL_MODEL_VERSION
from rpl_ros.runner import run_graph

RESULTS = Path(__file__).resolve().parent / "results"


def run_live_graph(args, work: Path):
    """The graph for ``args.minutes``, everything it writes under ``work``."""
    private, public = generate_keypair(work / "keys")
    graph = load_graph("slippery_push_live", {
        "task": args.task, "residual_policy.trusted_public_key": str(public), "trainer.private_key": str(private),
        "recorder.directory": str(work / "recordings"), "trainer.recordings": str(work / "recordings"),
        "trainer.out_directory": str(work / "trainer"), **dict(kv.split("=", 1) for kv in args.set)})
    run_graph(graph, args.domain_id, timeout_s=args.minutes * 60)


def recorded_timeline(recordings: Path):
    """(episode end times and outcomes, model activation times and versions), in s since the first record.

    Every bag opens with the active version as it was recorded (rpl_ros.core.recording's sticky topics): a version
    is activated where it first appears."""
    episodes, activations, start, active = [], [], None, "zero"
    for _, topic, timestamp, message in read_messages(recordings):
        start = timestamp if start is None else start
        seconds = (timestamp - start) * 1e-9
        if topic == EPISODE:
            episodes.append((seconds, bool(json.loads(message.data)["success"])))
        elif topic == RESIDUAL_MODEL_VERSION and message.data != active:
            activations.append((seconds, message.data))
            active = message.data
    return episodes, activations


def evaluated_swaps(args, work: Path, activations):
    """Each activated model's deterministic success (at most ``--max-evals`` of them, evenly spread, the last one
    always), and the base's at time 0."""
    chosen = sorted(set(np.linspace(0, len(activations) - 1, min(args.max_evals, len(activations))).astype(int)))
    rows = [{"version": "base", "active_at_s": 0.0, "updates": 0,
             "eval_success": evaluate(args.task, base_policy(args.task), "base", args.eval_episodes, 0).success_rate}]
    for i in chosen:
        seconds, version = activations[i]
        model = work / "trainer" / "models" / f"{version}.onnx"
        result = evaluate(args.task, residual_policy(args.task, str(model)), version, args.eval_episodes, 0)
        rows.append({"version": version, "active_at_s": round(seconds, 1),
                     "updates": int(version.split("-u")[1].split("-")[0]), "eval_success": result.success_rate})
        print(result.line(), f"(active at {seconds / 60:.1f} min)")
    return rows


def plot(args, episodes, activations, rows, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    times = np.array([t for t, _ in episodes]) / 60
    outcomes = np.array([s for _, s in episodes], dtype=float)
    if len(outcomes) >= args.window:
        rolling = np.convolve(outcomes, np.ones(args.window) / args.window, mode="valid")
        ax.plot(times[args.window - 1:], rolling, color="tab:blue", alpha=0.7,
                label=f"live, exploring (rolling mean of {args.window} episodes)")
    for i, (seconds, _) in enumerate(activations):
        ax.axvline(seconds / 60, color="grey", alpha=0.25, lw=0.8, label="model swapped in" if i == 0 else None)
    ax.plot([r["active_at_s"] / 60 for r in rows], [r["eval_success"] for r in rows], "o-", color="tab:red",
            label=f"pushed model, no exploration ({args.eval_episodes} eval episodes)")
    ax.set_xlabel("wall time (min)")
    ax.set_ylabel("success")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{args.task}: live training through the graph (record -> train -> push)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="slippery_push")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--work", default=f"/tmp/rpl_live_{os.getpid()}", help="keys, recordings, trainer output")
    parser.add_argument("--domain-id", type=int, default=150 + os.getpid() % 50)
    parser.add_argument("--window", type=int, default=50, help="episodes in the live success's rolling mean")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--max-evals", type=int, default=12, help="pushed models to evaluate")
    parser.add_argument("--no-run", action="store_true", help="only measure what an earlier run left in --work")
    parser.add_argument("--set", action="append", default=[], metavar="[NODE.]PARAM=VALUE",
                        help="override a parameter of the live graph, e.g. trainer.evaluate_episodes=20")
    parser.add_argument("--tag", default="", help="suffix of the result files' names, to keep a variant's apart")
    args = parser.parse_args()
    work = Path(args.work)
    if not args.no_run:
        run_live_graph(args, work)

    episodes, activations = recorded_timeline(work / "recordings")
    assembler = EpisodeAssembler(args.task)
    read_episodes(assembler, completed_bags(work / "recordings"))
    progress = list(csv.DictReader((work / "trainer" / "progress.csv").open()))
    rows = evaluated_swaps(args, work, activations)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"live_training_{args.task}{args.tag}.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, ["version", "active_at_s", "updates", "eval_success"])
        writer.writeheader()
        writer.writerows(rows)
    plot(args, episodes, activations, rows, RESULTS / f"live_training_{args.task}{args.tag}.png")

    live = np.array([s for _, s in episodes], dtype=float)
    print(f"\n{args.task}, {episodes[-1][0] / 60:.1f} min of live training recorded ({work}):")
    print(f"  episodes run {len(episodes)}; the trainer's data: {assembler.summary()}")
    print(f"  trainer: {progress[-1]['updates']} updates at its last checkpoint, {len(activations)} models swapped in")
    print(f"  live success (exploring): first {args.window} episodes {live[:args.window].mean():.2f}, "
          f"last {args.window} {live[-args.window:].mean():.2f}")
    print(f"  model success (no exploration, {args.eval_episodes} seeds): base {rows[0]['eval_success']:.2f}, "
          f"best {max(r['eval_success'] for r in rows[1:]):.2f}, last {rows[-1]['eval_success']:.2f}")


if __name__ == "__main__":
    main()

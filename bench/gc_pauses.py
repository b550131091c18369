"""Python's garbage collector in the control loop: how often its passes run in each node process while the
push_sim graph runs in realtime mode, and how long they stop the process, with the startup objects frozen
(``gc.freeze()``, the nodes' default) and without (``--no-gc-freeze``), side by side in one run.

Every node process gets a ``gc.callbacks`` hook (a sitecustomize put first on PYTHONPATH, so it stands in for
any other sitecustomize there) that times each pass; only the passes that end between the bridge's first
observation and the end of its run are counted (RunSummary.wall_clock), not those of imports or shutdown.

    python bench/gc_pauses.py [--rate 100] [--episodes 40] [--rounds 2]
"""
import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from rpl_ros.runner import run_graph

from realtime import add_run_options, realtime_push_sim

HOOK = '''
import atexit, gc, json, os, sys, time
_passes, _started = [], [0.0]
def _time_pass(phase, info):
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _passes.append((time.time(), info["generation"], (time.perf_counter() - _started[0]) * 1e3))
gc.callbacks.append(_time_pass)
def _write():
    if "rpl_ros" not in " ".join(sys.argv):  # (sys.argv is complete only once the program runs)
        return
    node = next((a.split(":=")[1] for a in sys.argv if a.startswith("__node:=")), "composed")
    with open(os.path.join(os.environ["RPL_GC_PASSES"], f"{node}_{os.getpid()}.json"), "w") as f:
        json.dump(_passes, f)
atexit.register(_write)
'''


def run(rate: float, episodes: int, gc_freeze: bool, domain_id: int) -> dict:
    """{node: [(generation, pause ms)]} for the passes during one control run."""
    with tempfile.TemporaryDirectory() as hook_dir, tempfile.TemporaryDirectory() as passes_dir:
        Path(hook_dir, "sitecustomize.py").write_text(HOOK)
        graph = realtime_push_sim(rate, episodes)
        hooked = {"PYTHONPATH": os.pathsep.join(filter(None, [hook_dir, os.environ.get("PYTHONPATH")])),
                  "RPL_GC_PASSES": passes_dir}
        status, summary = run_graph(graph, domain_id, gc_freeze=gc_freeze, environment=hooked)
        assert status == 0 and summary is not None, f"the graph failed (status {status})"
        first_observation, end = summary.wall_clock
        passes = defaultdict(list)
        for path in Path(passes_dir).glob("*.json"):
            node = path.stem.rsplit("_", 1)[0]
            passes[node] += [(gen, ms) for at, gen, ms in json.loads(path.read_text())
                             if first_observation <= at <= end]
        return passes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, rounds=2, episodes=40)
    args = parser.parse_args()
    totals = {True: defaultdict(list), False: defaultdict(list)}
    for round_ in range(args.rounds):
        for gc_freeze in (True, False):
            for node, passes in run(args.rate, args.episodes, gc_freeze, 150 + os.getpid() % 50).items():
                totals[gc_freeze][node] += passes
            print(f"round {round_ + 1}/{args.rounds}: gc freeze {gc_freeze} done", flush=True)
    cycles = args.rounds * args.episodes * 50
    print(f"\npush_sim, realtime {args.rate:.0f} Hz, {cycles} control cycles per variant: garbage-collector passes "
          f"during the control run, per node process (generation: passes, longest pause)")
    for gc_freeze, label in ((True, "gc.freeze() (default)"), (False, "--no-gc-freeze")):
        print(label)
        for node, passes in sorted(totals[gc_freeze].items()):
            by_gen = {g: [ms for gen, ms in passes if gen == g] for g in (0, 1, 2)}
            cells = "  ".join(f"gen{g}: {len(p):4d}, max {max(p, default=0):5.2f} ms" for g, p in by_gen.items())
            total = sum(ms for _, ms in passes)
            print(f"  {node:18} {cells}  total {total:6.1f} ms ({100 * total / (cycles / args.rate * 1e3):.3f} %)")


if __name__ == "__main__":
    main()

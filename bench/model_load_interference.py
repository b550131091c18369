"""Does loading a pushed model disturb the control loop of the process that loads it?

The residual node verifies and loads pushed models on a worker thread of its own process (rpl_ros.core.hotswap).
Python runs one thread at a time, so a load could hold up the thread that answers observations. This measures
that directly: a thread that sleeps 1 ms over and over, as a node waits for its next observation, and how late
it wakes, while a 3x256 residual (a trained model's size) is loaded every ``--period`` seconds

- nowhere (idle),
- in a thread of the same process (what the residual node does),
- in another process (what moving the check out of the node would give),

interleaved over ``--rounds`` rounds of ``--seconds`` each. ``--period 0`` loads back to back.

    python bench/model_load_interference.py [--period 0.2] [--rounds 3] [--seconds 4]
"""
import argparse
import multiprocessing
import threading
import time
from typing import Sequence

import numpy as np

from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel, build_mlp_onnx
from rpl_ros.core.tasks import task_spec

SPEC = task_spec("push")
OBS_DIM, ACT_DIM = ObservationCodec(SPEC.observation_sizes).policy_input_size, len(SPEC.action_names)
HIDDEN = (256, 256, 256)  # the paper's MLP
MODES = ("idle", "thread", "process")


def trained_size_model() -> bytes:
    rng = np.random.default_rng(0)
    sizes = [OBS_DIM, *HIDDEN, ACT_DIM]
    layers = [(rng.normal(0, 0.1, (i, o)), np.zeros(o)) for i, o in zip(sizes[:-1], sizes[1:])]
    return build_mlp_onnx(layers, np.zeros(OBS_DIM), np.ones(OBS_DIM))


def keep_loading(model: bytes, period: float, stop):
    while not stop.is_set():
        ResidualModel(model, OBS_DIM, ACT_DIM)
        time.sleep(period)


def wake_lateness_ms(seconds: float) -> np.ndarray:
    lateness = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        before = time.perf_counter()
        time.sleep(0.001)
        lateness.append(time.perf_counter() - before - 0.001)
    return np.array(lateness) * 1e3


def lateness_while(workers: Sequence, stop, seconds: float, settle: float = 0.0) -> np.ndarray:
    """wake_lateness_ms while ``workers`` (threads or processes, not yet started) run; ``stop`` ends them. The
    measurement starts ``settle`` s after them (e.g. while a spawned process imports)."""
    for worker in workers:
        worker.start()
    time.sleep(settle)
    try:
        return wake_lateness_ms(seconds)
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def measure(mode: str, model: bytes, args) -> np.ndarray:
    if mode == "idle":
        return wake_lateness_ms(args.seconds)
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event() if mode == "thread" else spawn.Event()
    loader = (threading.Thread if mode == "thread" else spawn.Process)(target=keep_loading,
                                                                       args=(model, args.period, stop))
    # a spawned process imports onnxruntime first
    return lateness_while([loader], stop, args.seconds, settle=1.0 if mode == "process" else 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--period", type=float, default=0.2, help="seconds between two loads (0: back to back)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one measurement")
    args = parser.parse_args()
    model = trained_size_model()
    started = time.perf_counter()
    ResidualModel(model, OBS_DIM, ACT_DIM)
    print(f"one load of a 3x256 residual ({len(model) / 1024:.0f} KiB): {(time.perf_counter() - started) * 1e3:.1f} ms")
    lateness = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            lateness[mode].append(measure(mode, model, args))
    idle_p99 = np.percentile(np.concatenate(lateness["idle"]), 99)
    print(f"wake-up lateness of a 1 ms sleeper, loads every {args.period} s, {args.rounds} x {args.seconds} s:")
    for mode in MODES:
        ms = np.concatenate(lateness[mode])
        p99 = np.percentile(ms, 99)
        print(f"  loading {mode:8s} p50 {np.percentile(ms, 50):.3f} ms  p99 {p99:.3f} ms "
              f"(x{p99 / idle_p99:.2f} idle)  p99.9 {np.percentile(ms, 99.9):.3f} ms  max {ms.max():.2f} ms  "
              f"over 1 ms: {np.mean(ms > 1) * 100:.2f} %")


if __name__ == "__main__":
    main()

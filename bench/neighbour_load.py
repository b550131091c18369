"""How late does a real-time thread wake while other processes on the machine work?

A node under ``--rt-priority`` preempts ordinary processes at once while they run Python or numpy, but likely not
always while they are in the kernel: on a kernel without forced preemption (``CONFIG_PREEMPT_NONE``, as on the
machine of bench/RESULTS.md) the kernel's own work for them, such as copying a trainer's checkpoint into the page
cache, runs to its next preemption point first. This measures what that costs: a thread at SCHED_FIFO ``--rt-priority``
sleeps 1 ms over and over, as a node waits for its next observation, and how late it wakes, while ``--workers``
processes on the ordinary scheduler (``nice -n 10``, as the benches run training)

- do nothing (idle),
- count in a Python loop (cpu),
- write files of ``--file-mb`` MB over and over, as a trainer writes its checkpoints (write),
- allocate, touch and free ``--file-mb`` MB of memory over and over (memory),

interleaved over ``--rounds`` rounds of ``--seconds`` each (the written pages are synced to disk between two
measurements, outside them). Run it on the robot's computer before trusting a control rate there:
bench/hotswap.py's runs beside training lost cycles in bursts that came while the trainers evaluated and saved
checkpoints.

    python bench/neighbour_load.py [--rt-priority 50] [--rounds 2] [--seconds 8]
"""
import argparse
import multiprocessing
import os
import tempfile
from pathlib import Path

import numpy as np

from model_load_interference import lateness_while
from realtime import check_rt_priority
from rpl_ros.bringup import RT_PRIORITIES

WORKS = ("idle", "cpu", "write", "memory")


def work(kind: str, megabytes: int, directory: str, stop):
    """One neighbour, at nice 10 on the ordinary scheduler."""
    os.nice(10)
    block, path = os.urandom(1 << 20), Path(directory) / f"neighbour_{os.getpid()}.bin"
    while not stop.is_set():
        if kind == "cpu":
            sum(range(100_000))
        elif kind == "write":
            with path.open("wb") as f:
                for _ in range(megabytes):
                    f.write(block)
        else:
            np.ones(megabytes << 20, dtype=np.uint8)
    path.unlink(missing_ok=True)


def measure(kind: str, args, directory: str) -> np.ndarray:
    stop = multiprocessing.Event()
    count = 0 if kind == "idle" else args.workers
    neighbour = (kind, args.file_mb, directory, stop)
    workers = [multiprocessing.Process(target=work, args=neighbour) for _ in range(count)]
    lateness = lateness_while(workers, stop, args.seconds)
    if any(worker.exitcode for worker in workers):  # a row measured without its load would mislead
        raise RuntimeError(f"a {kind} neighbour failed (exit codes {[worker.exitcode for worker in workers]})")
    os.sync()  # the writers' pages reach the disk here, not in the next row's measurement
    return lateness


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rt-priority", type=int, default=50, choices=RT_PRIORITIES, metavar="0-98",
                        help="SCHED_FIFO priority of the sleeping thread (0: the ordinary scheduler)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="neighbour processes (one per core)")
    parser.add_argument("--file-mb", type=int, default=400, help="MB per file written, or per allocation")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    check_rt_priority(parser, args.rt_priority)
    if args.workers < 1 or args.rounds < 1 or args.file_mb < 1:
        parser.error("--workers, --rounds and --file-mb must be at least 1")
    if args.rt_priority:  # the neighbours it forks start on the ordinary scheduler, not on this one's
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(args.rt_priority))
    lateness = {kind: [] for kind in WORKS}
    with tempfile.TemporaryDirectory(prefix="rpl_neighbour_") as directory:
        for _ in range(args.rounds):
            for kind in WORKS:
                lateness[kind].append(measure(kind, args, directory))
    idle_p99 = np.percentile(np.concatenate(lateness["idle"]), 99)
    policy = f"SCHED_FIFO {args.rt_priority}" if args.rt_priority else "the ordinary scheduler"
    print(f"wake-up lateness of a 1 ms sleep, {policy}, {args.workers} neighbours at nice 10, "
          f"{args.rounds} rounds of {args.seconds:g} s:")
    for kind, runs in lateness.items():
        late = np.concatenate(runs)
        p99 = np.percentile(late, 99)
        print(f"  {kind:7s} p50 {np.percentile(late, 50):.3f} ms  p99 {p99:.3f} ms (x{p99 / idle_p99:.1f} idle)  "
              f"max {late.max():.2f} ms  over 2 ms: {np.sum(late > 2)} of {late.size}")


if __name__ == "__main__":
    main()

"""Runs a graph of rpl_ros.bringup as separate node processes over real DDS, without a ROS install:
what ``ros2 launch`` does for the same graph, for machines that have only the pip packages."""
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from rpl_ros.bringup import DEFAULT_EXECUTOR, MAIN_NODE, Graph, ros_environment
from rpl_ros.core.episodes import RunSummary

STOP_GRACE_S = 5.0


NODE_MODULES = {"trainer": "rpl_ros.learn.trainer_node"}
"""executables that are not runtime nodes of rpl_ros.nodes (the trainer imports torch: it lives with the learner)"""


def node_command(executable: str, name: str, params_file: Path, process_options: Sequence[str]) -> List[str]:
    module = NODE_MODULES.get(executable, f"rpl_ros.nodes.{executable}")
    return [sys.executable, "-m", module, *process_options,
            "--ros-args", "-r", f"__node:={name}", "--params-file", str(params_file)]


def check_composition(graph: Graph, compose: Sequence[str]):
    """ValueError unless every node named in ``compose`` can share a process: a node of this graph whose name is
    its executable's (a composed node keeps its class's own name, which the params file's sections must match)
    and that is an rpl_ros.nodes node (what rpl_ros.nodes.compose imports)."""
    unknown = set(compose) - set(graph.node_names)
    if unknown:
        raise ValueError(f"cannot compose {sorted(unknown)}: graph {graph.name} has the nodes "
                         f"{graph.node_names}")
    renamed = [n.name for n in graph.nodes if n.name in compose and (n.name != n.executable
                                                                      or n.executable in NODE_MODULES)]
    if renamed:
        raise ValueError(f"cannot compose {renamed}: only runtime nodes that run under their executable's name can "
                         f"share a process")


def process_commands(graph: Graph, params_file: Path, compose: Sequence[str], process_options: Sequence[str],
                     control_options: Sequence[str] = ()) -> Dict[str, List[str]]:
    """One process a node, except the nodes named in ``compose``: those share one process (rpl_ros.nodes.compose).
    Processes are keyed by name; the composed one takes the main node's when it holds it (run_graph watches the
    main node's process to know when the run is over), else its nodes' names joined by '+'.
    ``process_options`` are rpl_ros.nodes.common.process_parser's, for every process; ``control_options`` too,
    for the processes whose nodes are all on the control path (NodeSpec.on_control_path)."""
    check_composition(graph, compose)
    commands = {n.name: node_command(n.executable, n.name, params_file, [
                    *process_options, *(control_options if n.on_control_path else [])])
                for n in graph.nodes if n.name not in compose}
    composed = [n for n in graph.nodes if n.name in compose]
    if composed:
        name = MAIN_NODE if MAIN_NODE in compose else "+".join(n.name for n in composed)
        control = control_options if all(n.on_control_path for n in composed) else []
        commands[name] = [sys.executable, "-m", "rpl_ros.nodes.compose", *(n.executable for n in composed),
                          *process_options, *control, "--ros-args", "--params-file", str(params_file)]
    return commands


def stop(processes: Iterable[subprocess.Popen]):
    """SIGINT every node (each one exits cleanly on it), then SIGKILL what is still there after a grace."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_graph(graph: Graph, domain_id: int, timeout_s: Optional[float] = None, compose: Sequence[str] = (),
              executor: str = DEFAULT_EXECUTOR, gc_freeze: bool = True, rt_priority: int = 0,
              environment: Optional[Dict[str, str]] = None) -> Tuple[int, Optional[RunSummary]]:
    """Start every node of ``graph``, wait for the main node to finish, stop the rest.

    ``compose`` names nodes to run in one process (rpl_ros.nodes.compose, like a component container), the
    others each in its own; ``executor`` is the nodes' executor;
    ``gc_freeze=False`` leaves the objects made at startup to the garbage collector (bench/gc_pauses.py);
    ``rt_priority`` > 0 runs the control path's processes under SCHED_FIFO at that priority (--rt-priority);
    ``environment``: variables set for the node processes beside ours (benchmarks' levers, hooks).
    Returns (exit status, the main node's summary). The status is 0 when the main node finished its run,
    130 on Ctrl-C/SIGTERM, and otherwise that of the first node that failed.
    """
    interrupted = []

    def on_signal(signum, frame):
        interrupted.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    processes: Dict[str, subprocess.Popen] = {}
    with tempfile.TemporaryDirectory(prefix=f"rpl_{graph.name}_") as tmp:
        summary_path = Path(tmp) / "summary.json"
        graph.node(MAIN_NODE).parameters["summary_path"] = str(summary_path)
        params_file = Path(tmp) / "params.yaml"
        params_file.write_text(graph.params_yaml())
        env = {**ros_environment(domain_id), **(environment or {})}
        status, started = 0, time.monotonic()
        try:
            process_options = ["--executor", executor] + ([] if gc_freeze else ["--no-gc-freeze"])
            control_options = ["--rt-priority", str(rt_priority)] if rt_priority else []
            for name, command in process_commands(graph, params_file, compose, process_options,
                                                  control_options).items():
                # Own session: a terminal's Ctrl-C reaches the runner only, which stops the nodes in order.
                processes[name] = subprocess.Popen(command, env=env, start_new_session=True)
            while not interrupted:
                if processes[MAIN_NODE].poll() is not None:
                    status = processes[MAIN_NODE].returncode
                    break
                failed = [(n, p.returncode) for n, p in processes.items() if p.poll() not in (None, 0)]
                if failed:
                    print(f"rpl-ros: node {failed[0][0]} exited with status {failed[0][1]}; stopping the graph",
                          file=sys.stderr)
                    status = failed[0][1]
                    break
                if timeout_s is not None and time.monotonic() - started > timeout_s:
                    print(f"rpl-ros: graph did not finish within {timeout_s:.0f} s; stopping it", file=sys.stderr)
                    status = 124
                    break
                time.sleep(0.05)
            if interrupted:
                status = 130
        finally:
            stop(processes.values())
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        summary = RunSummary.from_json(summary_path.read_text()) if summary_path.exists() else None
    return status, summary

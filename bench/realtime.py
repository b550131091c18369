"""What the benches that run push_sim in realtime mode share: the graph at a control rate, and the options that
size a run."""
import argparse

from rpl_ros.bringup import Graph, load_graph


def realtime_push_sim(rate: float, episodes: int, **overrides) -> Graph:
    """push_sim with the bridge stepping on its own clock at ``rate`` Hz (a cycle without a fresh action is
    missed) for ``episodes`` Push episodes; ``overrides`` as load_graph's (``"node.parameter": value``)."""
    return load_graph("push_sim", {"mode": "realtime", "episodes": episodes,
                                   "mujoco_bridge.control_rate": float(rate), **overrides})


def add_run_options(parser: argparse.ArgumentParser, episodes: int, rounds: int):
    parser.add_argument("--rate", type=float, default=100.0, help="control rate, Hz")
    parser.add_argument("--episodes", type=int, default=episodes, help="Push episodes (50 cycles each) per run")
    parser.add_argument("--rounds", type=int, default=rounds, help="runs of every variant, interleaved")

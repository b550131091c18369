"""What the benches that run push_sim in realtime mode share: the graph at a control rate, and the options that
size a run or set the nodes' real-time priority."""
import argparse
import os
from typing import Optional

from rpl_ros.bringup import RT_PRIORITIES, Graph, fastdds_profiles, load_graph
from rpl_ros.nodes.common import real_time_allowed


def realtime_push_sim(rate: float, episodes: int, **overrides) -> Graph:
    """push_sim with the bridge stepping on its own clock at ``rate`` Hz (a cycle without a fresh action is
    missed) for ``episodes`` Push episodes; ``overrides`` as load_graph's (``"node.parameter": value``)."""
    return load_graph("push_sim", {"mode": "realtime", "episodes": episodes,
                                   "mujoco_bridge.control_rate": float(rate), **overrides})


def add_run_options(parser: argparse.ArgumentParser, rounds: Optional[int] = None, episodes: Optional[int] = None):
    """--rate, and --rounds and --episodes for a bench that has them (a default given)."""
    parser.add_argument("--rate", type=float, default=100.0, help="control rate, Hz (realtime mode)")
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds, help="runs of every variant, interleaved")
    if episodes is not None:
        parser.add_argument("--episodes", type=int, default=episodes, help="Push episodes (50 cycles each) per run")


def add_rt_priority_option(parser: argparse.ArgumentParser):
    parser.add_argument("--rt-priority", type=int, default=0, choices=RT_PRIORITIES, metavar="0-98",
                        help="SCHED_FIFO priority of the graph's control-path nodes (0: the ordinary scheduler)")


def check_rt_priority(parser: argparse.ArgumentParser, priority: int):
    """A bench that asks for real-time priority stops here when it would not get it (the nodes would only warn)."""
    if priority and not real_time_allowed(priority):
        parser.error(f"SCHED_FIFO priority {priority} is not allowed here (needs root, CAP_SYS_NICE or an rtprio "
                     f"limit)")


def add_fastdds_profile_option(parser: argparse.ArgumentParser):
    parser.add_argument("--fastdds-profile", choices=fastdds_profiles(),
                        help="a Fast DDS profile of config/fastdds for the graph and every process that joins it "
                             "(default: the LOCALHOST discovery range's shared memory and UDPv4)")


def clear_fastdds_settings():
    """Drop the Fast DDS settings a user may have exported, so that a variant without a profile runs the LOCALHOST
    range's transports, as its label says."""
    for variable in ("FASTDDS_BUILTIN_TRANSPORTS", "FASTDDS_DEFAULT_PROFILES_FILE"):
        os.environ.pop(variable, None)

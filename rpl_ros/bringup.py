"""The node graph of a launch config, shared by ``launch/*.launch.py`` and the pip-only runner so the two
cannot drift: both read ``config/<graph>.yaml`` here and start one node per top-level key.
"""
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

PACKAGE = "rpl_ros"
LAUNCH_ARGUMENTS = {
    "task": "which task every node works on",
    "episodes": "episodes to run before the graph stops",
    "seed": "seed of the first episode (episode i uses seed + i)",
    "mode": "lockstep (deterministic) or realtime (steps at control_rate whatever arrives)",
    "render": "open a MuJoCo viewer window",
    "model_path": "ONNX residual to start with (empty: the zero residual)",
}
MAIN_NODE = "mujoco_bridge"  # the graph ends when this node exits
EXECUTORS = ("events", "single")
"""rclpy's events executor (the default: bench/graph_levers.py) or its SingleThreadedExecutor"""
DEFAULT_EXECUTOR = EXECUTORS[0]
RT_PRIORITIES = range(0, 99)
"""what --rt-priority takes: a SCHED_FIFO priority 1-98, or 0 for the ordinary scheduler"""
FASTDDS_PROFILE_HELP = ("run every node on this Fast DDS profile of config/fastdds instead of the LOCALHOST range's "
                        "shared memory and UDPv4; on localhost_udp (no shared memory) a tool that joins the running "
                        "graph, or stops answering in it, did not stall the control path (docs/DEPLOYING.md)")
OFF_CONTROL_PATH = ("recorder", "trainer")
"""executables that handle data, not control: never at real-time priority (a trainer there would take a core
from every other process)"""


@dataclass
class NodeSpec:
    name: str
    executable: str
    parameters: Dict[str, object]

    @property
    def on_control_path(self) -> bool:
        return self.executable not in OFF_CONTROL_PATH


@dataclass
class Graph:
    name: str
    config_path: Path
    nodes: List[NodeSpec]

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    @property
    def node_names(self) -> List[str]:
        return [n.name for n in self.nodes]

    def params_yaml(self) -> str:
        """The graph's parameters as a ROS params file, for ``--params-file``."""
        return yaml.safe_dump({n.name: {"ros__parameters": n.parameters} for n in self.nodes}, sort_keys=False)


def config_dirs() -> List[Path]:
    """Where config/ may be: a colcon install (ament index), a pip install, or this source tree."""
    dirs = []
    try:
        from ament_index_python.packages import get_package_share_directory
        dirs.append(Path(get_package_share_directory(PACKAGE)) / "config")
    except (ImportError, LookupError, OSError):  # no ament index, or rpl_ros not in it
        pass
    return dirs + [Path(sys.prefix) / "share" / PACKAGE / "config", Path(__file__).resolve().parent.parent / "config"]


def find_config(graph: str) -> Path:
    for directory in config_dirs():
        if (directory / f"{graph}.yaml").is_file():
            return directory / f"{graph}.yaml"
    known = sorted({p.stem for d in config_dirs() if d.is_dir() for p in d.glob("*.yaml")})
    raise ValueError(f"no graph config {graph!r}; known: {', '.join(known) or 'none'}")


def fastdds_profiles() -> List[str]:
    """The Fast DDS profiles of config/fastdds (installed in share/rpl_ros/config/fastdds), by name."""
    return sorted({p.stem for d in config_dirs() for p in (d / "fastdds").glob("*.xml")})


def fastdds_profile_path(profile: str) -> Path:
    for directory in config_dirs():
        if (directory / "fastdds" / f"{profile}.xml").is_file():
            return directory / "fastdds" / f"{profile}.xml"
    raise ValueError(f"no Fast DDS profile {profile!r}; known: {', '.join(fastdds_profiles()) or 'none'}")


def fastdds_profile_environment(profile: Optional[str]) -> Dict[str, str]:
    """What puts a graph's processes on config/fastdds/<profile>.xml; nothing for None or "" (the LOCALHOST range).

    The discovery range must not stay LOCALHOST: under it rmw_fastrtps sets its own transports (shared memory and
    UDPv4) over any profile, and Fast DDS ignores FASTDDS_BUILTIN_TRANSPORTS too; the profiles keep everything on
    this machine. A missing file is an error: rmw_fastrtps would fall back to Fast DDS's defaults unannounced."""
    return profile_file_environment(fastdds_profile_path(profile)) if profile else {}


def profile_file_environment(path: Path) -> Dict[str, str]:
    """What puts a process on the Fast DDS profile file ``path`` (see fastdds_profile_environment)."""
    return {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "FASTDDS_DEFAULT_PROFILES_FILE": str(path)}


def coerce(text, like):
    """A launch argument (always text) in the type of the YAML default it overrides."""
    if not isinstance(text, str) or isinstance(like, str):
        return text
    value = yaml.safe_load(text)
    if isinstance(like, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not type(like):
        raise ValueError(f"{text!r} is not a {type(like).__name__}")
    return value


def load_graph(graph: str, overrides: Optional[Dict[str, object]] = None) -> Graph:
    """The graph ``graph`` with ``overrides`` applied to every node that has that parameter.

    An override is either ``name`` (all nodes) or ``node.name`` (one node); an override no node has is an
    error, so a typo cannot silently do nothing.
    """
    path = find_config(graph)
    config = yaml.safe_load(path.read_text())
    # a node runs the executable of its name, unless its section names another (``executable:``)
    nodes = [NodeSpec(name, body.get("executable", name), dict(body["ros__parameters"]))
             for name, body in config.items()]
    for key, value in (overrides or {}).items():
        target, _, param = key.rpartition(".")
        hits = [n for n in nodes if param in n.parameters and target in ("", n.name)]
        if not hits:
            raise ValueError(f"no node of graph {graph!r} has a parameter {key!r}")
        for node in hits:
            try:
                node.parameters[param] = coerce(value, node.parameters[param])
            except ValueError as error:
                raise ValueError(f"{node.name}.{param}: {error}") from None
    return Graph(graph, path, nodes)


def argument_defaults(graph: Graph) -> Dict[str, str]:
    """The launch arguments this graph has, with the YAML defaults as launch-argument text."""
    defaults = {}
    for argument in LAUNCH_ARGUMENTS:
        value = next((n.parameters[argument] for n in graph.nodes if argument in n.parameters), None)
        if value is not None:
            defaults[argument] = str(value).lower() if isinstance(value, bool) else str(value)
    return defaults


def launch_description(graph: str):
    """A ROS 2 LaunchDescription for ``graph`` (used by launch/*.launch.py; needs ROS's launch_ros)."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    defaults = argument_defaults(load_graph(graph))

    def nodes(context):
        overrides = {argument: LaunchConfiguration(argument).perform(context) for argument in defaults}
        environment = fastdds_profile_environment(LaunchConfiguration("fastdds_profile").perform(context))
        return [
            Node(package=PACKAGE, executable=spec.executable, name=spec.name, parameters=[spec.parameters],
                 additional_env=environment or None,
                 arguments=["--executor", LaunchConfiguration("executor"),
                            *(["--rt-priority", LaunchConfiguration("rt_priority")] if spec.on_control_path
                              else [])], output="screen",
                 on_exit=Shutdown() if spec.name == MAIN_NODE else None)
            for spec in load_graph(graph, overrides).nodes
        ]

    arguments = [DeclareLaunchArgument(argument, default_value=default, description=LAUNCH_ARGUMENTS[argument])
                 for argument, default in defaults.items()]
    arguments.append(DeclareLaunchArgument("executor", default_value=DEFAULT_EXECUTOR, choices=list(EXECUTORS),
                                           description="the executor every node spins on"))
    arguments.append(DeclareLaunchArgument("rt_priority", default_value="0",
                                           description="SCHED_FIFO priority of the control path's nodes "
                                                       "(1-98; 0: the ordinary scheduler)"))
    arguments.append(DeclareLaunchArgument("fastdds_profile", default_value="", choices=["", *fastdds_profiles()],
                                           description=FASTDDS_PROFILE_HELP))
    return LaunchDescription([*arguments, OpaqueFunction(function=nodes)])


def ros_environment(domain_id: int) -> Dict[str, str]:
    """The environment a graph runs in: its own DDS domain, discovery kept on this machine."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return env

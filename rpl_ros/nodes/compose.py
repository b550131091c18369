"""compose: several rpl_ros nodes in one process on one executor, like a ROS 2 component container.

    python -m rpl_ros.nodes.compose mujoco_bridge base_controller arbitration --ros-args --params-file F

Messages between them still go through the middleware (rclpy has no intra-process transport), but no
process switch separates them. Each node keeps its own name and parameters (the params file's sections);
the process ends when one of them is finished (the bridge, after its episodes).
"""
import importlib
import inspect
import sys

from rclpy.node import Node

from rpl_ros.nodes.common import parse_process_options, process_parser, run_nodes


def node_class(executable: str) -> type:
    """The Node subclass an rpl_ros node executable runs (the one its module defines)."""
    module = importlib.import_module(f"rpl_ros.nodes.{executable}")
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, Node) and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise ValueError(f"rpl_ros.nodes.{executable} does not define exactly one node")
    return classes[0]


def main(args=None):
    parser = process_parser()
    parser.add_argument("nodes", nargs="+", help="node executables to run in this process")
    options = parse_process_options(parser, args)
    sys.exit(run_nodes([node_class(name) for name in options.nodes], options, args,
                       finished=lambda node: getattr(node, "finished", False)))


if __name__ == "__main__":
    main()

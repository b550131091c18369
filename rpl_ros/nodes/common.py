"""What every rpl_ros node shares: topic names, QoS, message helpers, diagnostics and a clean main()."""
import argparse
import gc
import os
import signal
import sys
import threading
import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import JointState

from rpl_ros.bringup import DEFAULT_EXECUTOR, EXECUTORS, RT_PRIORITIES
from rpl_ros.core.topics import (ACTION, ARBITRATION_EVENT, BASE_ACTION, DIAGNOSTICS, EPISODE, ESTOP,  # noqa: F401
                                 ESTOP_STATE, OBSERVATION, RESIDUAL_ACTION, RESIDUAL_MODEL, RESIDUAL_MODEL_VERSION,
                                 stamp_key)  # (the nodes import the topic names from here, with the rest they share)

CARTESIAN_AXES = ("dx", "dy", "dz")
"""a task whose actions start with these moves its end effector, whose position leads its observation"""

# Control streams are sensor-data style (best effort, shallow) on both ends: a late sample is worth less than
# the next one, and a best-effort publisher never connects to a reliable subscriber.
CONTROL_QOS = qos_profile_sensor_data
# ...overridable the ROS way, by read-only parameters such as ``qos_overrides./rpl/action.publisher.depth``
# (reliability, history, depth), e.g. for a tool that only subscribes reliably; bench/graph_levers.py measures them.
CONTROL_QOS_OVERRIDES = QoSOverridingOptions.with_default_policies()

# Models and their versions are latched: a node that starts late still gets the latest one.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def control_publisher(node: Node, msg_type, topic: str):
    return node.create_publisher(msg_type, topic, CONTROL_QOS, qos_overriding_options=CONTROL_QOS_OVERRIDES)


def control_subscription(node: Node, msg_type, topic: str, callback):
    return node.create_subscription(msg_type, topic, callback, CONTROL_QOS,
                                    qos_overriding_options=CONTROL_QOS_OVERRIDES)


OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


class ConfigError(ValueError):
    """A parameter value the node cannot run with; main() logs it and exits with status 2."""


def joint_state(stamp, names: Sequence[str], values: np.ndarray) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    msg.position = values.tolist()
    return msg


def stamp_age(node: Node, stamp) -> float:
    return (node.get_clock().now().nanoseconds - stamp_key(stamp)) * 1e-9


class RateMeter:
    """Events per second over the last reporting period."""

    def __init__(self):
        self.count, self.since = 0, time.monotonic()

    def tick(self):
        self.count += 1

    def take(self) -> float:
        now = time.monotonic()
        rate = self.count / max(now - self.since, 1e-9)
        self.count, self.since = 0, now
        return rate


class StreamHealth:
    """The /diagnostics status of a node that answers a stream: its rate, and the last error since the last
    report (an error is reported once; the node runs on). Pass it to Diagnostics as the status."""

    def __init__(self):
        self.rate, self.last_error = RateMeter(), ""

    def __call__(self):
        level = ERROR if self.last_error else OK
        message, self.last_error = self.last_error or "running", ""
        return level, message, {"rate_hz": f"{self.rate.take():.1f}"}


class Diagnostics:
    """Publishes one DiagnosticStatus for this node on /diagnostics every ``period`` seconds.

    ``status`` is called at each period and returns (level, message, values).
    """

    def __init__(self, node: Node, status: Callable[[], tuple], period: float = 1.0):
        self.node, self.status = node, status
        self.publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS, 10)
        node.create_timer(period, self.publish)

    def publish(self):
        level, message, values = self.status()
        status = DiagnosticStatus(level=level, name=f"rpl_ros/{self.node.get_name()}", message=message,
                                  hardware_id="rpl_ros")
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(array)


def parameters(node: Node, defaults: Dict[str, object]) -> Dict[str, object]:
    """Declare ``defaults`` as ROS parameters and return their values (the YAML overrides the defaults)."""
    return {name: node.declare_parameter(name, value).value for name, value in defaults.items()}


def process_parser() -> argparse.ArgumentParser:
    """The options of a node process itself, given before ``--ros-args``: which executor spins its nodes, which
    CPUs it may run on, its real-time priority, whether its startup objects are frozen out of the garbage
    collector's reach (``ros2 run rpl_ros arbitration --executor events --cpus 1 --rt-priority 50``)."""
    parser = argparse.ArgumentParser(description="An rpl_ros node process; its settings are ROS parameters "
                                                 "(--ros-args -p name:=value or --params-file FILE).")
    parser.add_argument("--executor", choices=EXECUTORS, default=DEFAULT_EXECUTOR,
                        help="events: rclpy's EventsExecutor (lower latency, bench/graph_levers.py); "
                             "single: rclpy's SingleThreadedExecutor")
    parser.add_argument("--cpus", type=int, nargs="+", help="pin the process to these CPUs (sched_setaffinity)")
    parser.add_argument("--rt-priority", type=int, default=0, choices=RT_PRIORITIES, metavar="0-98",
                        help="run the process under the real-time SCHED_FIFO policy at this priority, as "
                             "ros2_control's controller_manager does, so that no ordinary process on the machine "
                             "preempts it (needs root, CAP_SYS_NICE or an rtprio limit; without it the "
                             "node warns and runs as usual). Default 0: the ordinary scheduler")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="do not move the objects made at startup out of the garbage collector's reach "
                             "(gc.freeze; bench/gc_pauses.py measures what it gives)")
    return parser


def parse_process_options(parser: argparse.ArgumentParser, args=None) -> argparse.Namespace:
    return parser.parse_args(remove_ros_args(list(sys.argv if args is None else args))[1:])


def real_time_scheduling(priority: int) -> Optional[str]:
    """Put this thread under SCHED_FIFO at ``priority``. Called before rclpy starts the middleware, so every thread
    made later (the DDS threads, the executor's) inherits it. Returns why the system refused, or None."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return None
    except OSError as error:
        return error.strerror


def real_time_allowed(priority: int) -> bool:
    """Whether this process may run threads under SCHED_FIFO at ``priority`` (tried on a throwaway thread: a policy
    is per thread)."""
    refused = []
    attempt = threading.Thread(target=lambda: refused.append(real_time_scheduling(priority)))
    attempt.start()
    attempt.join()
    return refused[0] is None


def run_node(make_node: Callable[[], Node], args=None, finished: Optional[Callable[[Node], bool]] = None) -> int:
    """Spin one node until Ctrl-C, launch shutdown, or ``finished(node)``; see ``run_nodes``."""
    return run_nodes([make_node], parse_process_options(process_parser(), args), args, finished)


EXIT_LINGER_S = 0.2
"""how long a node process stays up after its before_exit() messages (see run_nodes)"""


def run_nodes(makers: Sequence[Callable[[], Node]], options: argparse.Namespace, args=None,
              finished: Optional[Callable[[Node], bool]] = None) -> int:
    """Spin nodes in this process until Ctrl-C, launch shutdown, or ``finished(node)`` for one of them.

    A ConfigError exits with status 2. On SIGINT/SIGTERM each node's ``before_exit()`` runs while it can
    still publish (the arbitration's last command is a hold).
    """
    if options.cpus:
        os.sched_setaffinity(0, options.cpus)
    refused = real_time_scheduling(options.rt_priority) if options.rt_priority else None
    # Our own SIGINT/SIGTERM handling (not rclpy's, which shuts the context down at once), so a node can still
    # publish in before_exit(). The handler only asks the loop to stop: an exception raised wherever the signal
    # lands would break off a callback mid-way (a simulation step, a model swap) and the executor would log it.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop_requested = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, frame: stop_requested.append(received))
    if refused:
        rclpy.logging.get_logger("rpl_ros").warning(
            f"SCHED_FIFO priority {options.rt_priority} refused ({refused}); running with the ordinary scheduler. "
            f"Grant it with an rtprio limit (/etc/security/limits.conf) or CAP_SYS_NICE")
    nodes = []
    if options.gc_freeze:
        # The full collection that clears the imports' garbage runs now, before the nodes exist: once their
        # subscriptions are up the graph may already be waiting on us.
        gc.collect()
    try:
        nodes.extend(make() for make in makers)
        executor = EventsExecutor() if options.executor == "events" else SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        if options.gc_freeze:
            # Startup leaves tens of thousands of objects (rclpy, numpy, MuJoCo, onnxruntime) that the cyclic
            # collector would scan again and again mid-cycle: each of its older-generation passes took
            # milliseconds, a control period's worth. Frozen (which is cheap), its passes scan only what the loop
            # made since.
            gc.freeze()
        while rclpy.ok() and not stop_requested and not (finished and any(finished(node) for node in nodes)):
            executor.spin_once(timeout_sec=0.1)
        if stop_requested:
            exiting_nodes = [node for node in nodes if hasattr(node, "before_exit") and rclpy.ok()]
            for node in exiting_nodes:
                node.before_exit()
            if exiting_nodes:
                # Give what before_exit() published time to reach its readers before the participant goes: destroyed
                # at once, it lost the arbitration's last hold in 3 of 6 runs on a loaded machine (0 of 8 with this
                # wait), likely because a best-effort sample sent over shared memory lives in our segment.
                time.sleep(EXIT_LINGER_S)
        return 0
    except ConfigError as error:
        rclpy.logging.get_logger("rpl_ros").error(f"bad configuration: {error}")
        return 2
    except ExternalShutdownException:
        return 0
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()

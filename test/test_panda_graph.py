"""The panda_push_sim graph as separate node processes over real DDS: the joint-controlled Panda runs episodes
driven by the base controller through the arbitration and the joint commander, and the ros2_control-style
interfaces refuse what they cannot use. Discovery stays on this machine, on domains of these tests' own."""
import itertools
import os
import threading
import time

import numpy as np
import pytest

from rpl_ros.bringup import load_graph
from rpl_ros.core.tasks.panda import JOINT_NAMES, START_POSTURE, PandaArm
from rpl_ros.runner import run_graph

GRAPH_TIMEOUT_S = 120
# Outside conftest's domains (20-219), so no other test's graph shares one with these
_domains = itertools.count(os.getpid() % 12)


@pytest.fixture
def domain(monkeypatch) -> int:
    domain_id = 220 + next(_domains) % 12
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain_id))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return domain_id


class Probe:
    """An rclpy node of the test on ``domain``, spinning in a thread: records what arrives on ``topics``
    ({topic: message class, or (message class, QoS)}) and publishes what the test asks. ``after_matching`` topics
    are subscribed only once every one of ``topics`` has a publisher: a bridge that waits for subscribers to its
    observations then waits until the probe hears the commander too."""

    def __init__(self, domain: int, topics: dict, after_matching: dict = None):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node("probe", context=self.context)
        self.received = {}
        subscriptions = [self.subscribe(topic, message) for topic, message in topics.items()]

        def when_matched():
            if all(subscription.get_publisher_count() for subscription in subscriptions):
                gate.cancel()
                for topic, message in (after_matching or {}).items():
                    self.subscribe(topic, message)

        gate = self.node.create_timer(0.05, when_matched)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def subscribe(self, topic: str, message):
        message, qos = message if isinstance(message, tuple) else (message, 10)
        self.received[topic] = []
        return self.node.create_subscription(message, topic, self.received[topic].append, qos)

    def wait_for(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        return condition()

    def close(self):
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def probe(domain):
    probes = []

    def make(topics: dict, after_matching: dict = None) -> Probe:
        probes.append(Probe(domain, topics, after_matching))
        return probes[-1]

    yield make
    for p in probes:
        p.close()


def test_the_graph_drives_the_arm_with_joint_commands_inside_its_limits(domain, probe):
    from std_msgs.msg import Float64MultiArray

    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION

    arm, gripper = "/forward_position_controller/commands", "/gripper_controller/commands"
    commands = probe({arm: Float64MultiArray, gripper: Float64MultiArray}, {OBSERVATION: (JointState, CONTROL_QOS)})
    graph = load_graph("panda_push_sim", {"episodes": 2, "seed": 1, "mujoco_bridge.wait_for_subscribers": 3})
    status, summary = run_graph(graph, domain, GRAPH_TIMEOUT_S)
    assert status == 0
    assert [(e.seed, e.steps) for e in summary.episodes] == [(1, 50), (2, 50)]
    assert 10 < summary.control_rate_hz < 30  # the 0.04 s control period; wide bounds for a loaded machine
    sent = np.array([m.data for m in commands.received[arm]])
    assert sent.shape[1] == 7 and len(sent) >= 90  # one a control period (100), the probe waited for
    limits = PandaArm()
    assert np.all(np.isfinite(sent))
    assert np.all(sent >= limits.low[:7]) and np.all(sent <= limits.high[:7])
    assert np.max(np.abs(sent - START_POSTURE)) > 0.1  # the arm really moved
    fingers = np.array([m.data for m in commands.received[gripper]])
    assert fingers.shape[1] == 1 and np.all((fingers >= limits.low[7]) & (fingers <= limits.high[7]))


def test_franka_joint_limits_bound_every_joint_command_the_arm_receives(domain, probe):
    """With Franka's joint velocity and acceleration limits set on the commander, every target step the arm got
    (one per 0.04 s action) commands a motion within them."""
    from std_msgs.msg import Float64MultiArray

    from rpl_ros.core.joint_limits import PANDA_MAX_ACCELERATION, PANDA_MAX_JERK, PANDA_MAX_VELOCITY

    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION

    arm = "/forward_position_controller/commands"
    # The bridge waits for a third observation subscriber: the probe, once it hears the commander
    commands = probe({arm: Float64MultiArray}, {OBSERVATION: (JointState, CONTROL_QOS)})
    graph = load_graph("panda_push_sim", {"episodes": 1, "seed": 1, "max_joint_velocity": list(PANDA_MAX_VELOCITY),
                                          "max_joint_acceleration": list(PANDA_MAX_ACCELERATION),
                                          "max_joint_jerk": list(PANDA_MAX_JERK),
                                          "mujoco_bridge.wait_for_subscribers": 3})
    status, _ = run_graph(graph, domain, GRAPH_TIMEOUT_S)
    assert status == 0
    sent = np.array([m.data for m in commands.received[arm]])
    assert len(sent) >= 40  # one a 0.04 s period (the commands topic is reliable: after discovery, none is lost)
    velocity = np.diff(sent, axis=0) / 0.04
    acceleration = np.diff(velocity, axis=0) / 0.04
    assert np.all(np.abs(velocity) <= np.array(PANDA_MAX_VELOCITY) + 1e-6)
    assert np.all(np.abs(acceleration) <= np.array(PANDA_MAX_ACCELERATION) + 1e-6)
    assert np.abs(velocity).max() > 0.1  # the arm really moved


def test_the_bridge_refuses_bad_commands_and_holds_its_last_valid_target(domain, processes, probe):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    bridge = processes.start(["-m", "rpl_ros.nodes.panda_bridge", "--ros-args", "-p", "wait_for_subscribers:=0",
                              "-p", "episodes:=100"])
    states = probe({"/joint_states": JointState})
    command = states.node.create_publisher(Float64MultiArray, "/forward_position_controller/commands", 10)
    assert states.wait_for(lambda: command.get_subscription_count() > 0, 60)

    def positions() -> np.ndarray:
        assert states.wait_for(lambda: states.received["/joint_states"], 10)
        msg = states.received["/joint_states"][-1]
        assert tuple(msg.name) == JOINT_NAMES
        return np.array(msg.position[:7])

    target = START_POSTURE + [0.2, -0.2, 0.2, 0.2, 0.2, -0.2, 0.2]  # the hand 7 cm higher: nothing in the way
    for bad in (target[:6], np.r_[target[:6], np.nan]):
        command.publish(Float64MultiArray(data=bad.tolist()))
    time.sleep(0.5)
    np.testing.assert_allclose(positions(), START_POSTURE, atol=1e-6)  # nothing moved
    # a valid command is tracked, and held after a bad one (within the 2 s episode: the next starts afresh)
    command.publish(Float64MultiArray(data=target.tolist()))
    assert states.wait_for(lambda: np.max(np.abs(positions() - target)) < 0.02, 1.5)
    command.publish(Float64MultiArray(data=[np.inf] * 7))
    time.sleep(0.3)
    assert np.max(np.abs(positions() - target)) < 0.02
    assert bridge.poll() is None
    bridge.terminate()
    output = bridge.communicate(timeout=10)[0]
    assert "refusing /forward_position_controller/commands: 6 values, expected 7 finite ones" in output
    assert "Traceback" not in output


def test_the_commander_holds_the_arm_on_a_zero_action_and_moves_it_on_another(domain, processes, probe):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    processes.start(["-m", "rpl_ros.nodes.joint_commander"])
    arm = "/forward_position_controller/commands"
    commands = probe({arm: Float64MultiArray})
    node = commands.node
    joint_states = node.create_publisher(JointState, "/joint_states", 10)
    action = node.create_publisher(JointState, "/rpl/action", 10)
    assert commands.wait_for(lambda: joint_states.get_subscription_count() and action.get_subscription_count(), 60)
    positions = np.r_[START_POSTURE + 0.05, 0.01]

    def send(values) -> np.ndarray:
        received = len(commands.received[arm])
        for _ in range(50):
            stamp = node.get_clock().now().to_msg()
            state = JointState(name=list(JOINT_NAMES), position=positions.tolist())
            state.header.stamp = stamp
            joint_states.publish(state)
            time.sleep(0.02)
            request = JointState(name=["dx", "dy", "dz", "gripper"], position=list(values))
            request.header.stamp = stamp
            action.publish(request)
            if commands.wait_for(lambda: len(commands.received[arm]) > received, 0.2):
                return np.array(commands.received[arm][-1].data)
        raise AssertionError("no command came")

    np.testing.assert_array_equal(send([0.0, 0.0, 0.0, 0.0]), positions[:7])
    expected = PandaArm().joint_targets(positions, np.array([1.0, 0.0, 0.0, -1.0]))
    np.testing.assert_allclose(send([1.0, 0.0, 0.0, -1.0]), expected[:7])


@pytest.mark.parametrize("parameter, message", [
    ("control_rate:=150.0", "control_rate must be 100-500 Hz"),
    ("mode:=lockstep", "mode must be one of ('realtime',)"),
])
def test_bridge_parameters_it_cannot_run_with_stop_it_with_a_clear_error(domain, processes, parameter, message):
    process = processes.start(["-m", "rpl_ros.nodes.panda_bridge", "--ros-args", "-p", parameter])
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert message in output and "Traceback" not in output

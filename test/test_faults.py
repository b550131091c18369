"""Fault injection on the running push_sim graph (real processes, real DDS, realtime mode at 25 Hz).

For each fault: every command the arm received stays within the action limits, the documented fallback
happens within the stated time, and the graph recovers when the fault ends.
"""
import signal
import time

import numpy as np
import pytest

from rpl_ros.bringup import load_graph

LIMIT = 1.0  # arbitration.action_low/high of config/push_sim.yaml


@pytest.fixture
def graph(ros_context, processes, tmp_path):
    """The push_sim graph in realtime mode (``without`` leaves nodes out) and a probe node watching /rpl/action."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from rpl_ros.nodes.common import ACTION, CONTROL_QOS, ESTOP, ESTOP_STATE, LATCHED_QOS

    class Graph:
        def __init__(self):
            self.node = Node("fault_probe", context=ros_context)
            self.executor = SingleThreadedExecutor(context=ros_context)
            self.executor.add_node(self.node)
            self.actions = []  # (receive time, action)
            self.node.create_subscription(JointState, ACTION, self.on_action, CONTROL_QOS)
            self.estop_states, self.diagnostics = [], {}
            self.node.create_subscription(Bool, ESTOP_STATE, lambda m: self.estop_states.append(m.data), LATCHED_QOS)
            self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, 10)
            self.estop = self.node.create_publisher(Bool, ESTOP, LATCHED_QOS)
            self.procs = {}

        def start(self, without=(), **overrides):
            spec = load_graph("push_sim", {"mode": "realtime", "episodes": 1000, **overrides})
            spec.nodes = [n for n in spec.nodes if n.name not in without]
            params = tmp_path / "params.yaml"
            params.write_text(spec.params_yaml())
            self.params = params
            for n in spec.nodes:
                self.restart(n.name)
            assert self.wait_for(lambda: len(self.actions) > 10, 60), "the graph never moved the arm"

        def restart(self, name):
            self.procs[name] = processes.start(["-m", f"rpl_ros.nodes.{name}", "--ros-args",
                                                "--params-file", str(self.params)])

        def on_action(self, msg):
            self.actions.append((time.monotonic(), np.array(msg.position)))

        def on_diagnostics(self, msg):
            for status in msg.status:
                self.diagnostics[status.name] = {v.key: v.value for v in status.values}

        def spin(self, seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                self.executor.spin_once(timeout_sec=0.01)

        def wait_for(self, condition, timeout):
            end = time.monotonic() + timeout
            while not condition() and time.monotonic() < end:
                self.executor.spin_once(timeout_sec=0.01)
            return condition()

        def since(self, t):
            return [a for at, a in self.actions if at >= t]

        def all_within_limits(self):
            return all(np.all(np.isfinite(a)) and np.all(np.abs(a) <= LIMIT) for _, a in self.actions)

    harness = Graph()
    yield harness
    harness.executor.shutdown()
    harness.node.destroy_node()


def moving(actions):
    return [a for a in actions if np.any(a[:3] != 0)]


def test_residual_killed_mid_episode_falls_back_to_the_base(graph):
    graph.start()
    graph.procs["residual_policy"].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    # documented: base alone at once after residual_timeout (1 s) of silence; until then each base waits pair_timeout
    graph.spin(2.5)
    recovered = graph.since(killed + 1.5)
    assert len(recovered) >= 15, f"only {len(recovered)} commands in the second after the fallback"
    assert int(graph.diagnostics["rpl_ros/arbitration"].get("base_only", 0)) > 0
    assert graph.all_within_limits()


def test_nan_inf_and_huge_residuals_never_reach_the_arm(graph):
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION, RESIDUAL_ACTION, joint_state

    bad = [np.full(4, np.nan), np.full(4, np.inf), np.full(4, -1e9), np.array([1e9, np.nan, 0, 0])]
    publisher = graph.node.create_publisher(JointState, RESIDUAL_ACTION, CONTROL_QOS)
    answered = []

    def answer(msg):  # a rogue residual node
        publisher.publish(joint_state(msg.header.stamp, ["dx", "dy", "dz", "gripper"], bad[len(answered) % len(bad)]))
        answered.append(1)

    graph.node.create_subscription(JointState, OBSERVATION, answer, CONTROL_QOS)
    graph.start(without=("residual_policy",))
    graph.spin(3.0)
    assert len(answered) > 30
    assert graph.all_within_limits()
    modes = graph.diagnostics["rpl_ros/arbitration"]
    assert int(modes.get("base_only", 0)) > 0 and int(modes.get("residual", 0)) > 0  # NaN/inf refused; 1e9 clipped


def test_base_controller_killed_makes_the_arm_hold_and_a_new_one_recovers(graph):
    graph.start()
    graph.procs["base_controller"].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    graph.spin(1.5)
    holds = graph.since(killed + 0.3)  # documented: hold commands from hold_after (0.2 s) on
    assert len(holds) >= 3 and all(np.all(a == 0) for a in holds)
    graph.procs["base_controller"].wait(timeout=5)
    graph.restart("base_controller")
    restarted = time.monotonic()
    assert graph.wait_for(lambda: len(moving(graph.since(restarted))) > 5, 30)
    assert graph.all_within_limits()


def test_rate_limits_and_workspace_box_bound_every_command_under_a_rogue_residual(graph):
    """With acceleration/jerk limits and a workspace box set, a residual jumping at random every cycle never
    makes a command change faster than the limits or move the end effector further out of the box."""
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION, RESIDUAL_ACTION, joint_state, stamp_key

    low, high = np.array([1.15, 0.55, 0.38]), np.array([1.5, 0.95, 0.65])
    max_delta, max_delta2 = 0.25, 0.15
    publisher = graph.node.create_publisher(JointState, RESIDUAL_ACTION, CONTROL_QOS)
    rng = np.random.default_rng(0)
    end_effector = {}  # stamp -> the end effector's position in that observation

    def answer(msg):
        end_effector[stamp_key(msg.header.stamp)] = np.array(msg.position[:3])  # (dicts keep arrival order)
        publisher.publish(joint_state(msg.header.stamp, ["dx", "dy", "dz", "gripper"], rng.uniform(-0.8, 0.8, 4)))

    commands = []  # (stamp, command) in the order the arm received them
    deep = QoSProfile(depth=1000, reliability=CONTROL_QOS.reliability)  # a busy probe must not drop samples
    graph.node.create_subscription(JointState, OBSERVATION, answer, deep)
    graph.node.create_subscription(
        JointState, "/rpl/action", lambda m: commands.append((stamp_key(m.header.stamp), np.array(m.position))), deep)
    graph.start(without=("residual_policy",), max_action_delta=max_delta, max_action_delta2=max_delta2,
                workspace_low=low.tolist(), workspace_high=high.tolist())
    graph.spin(6.0)
    assert len(commands) > 100

    def at_wall(stamp):  # per axis: the end effector on or beyond a face of the box (or unknown: the probe, like
        position = end_effector.get(stamp)  # any best-effort subscriber, may miss an observation)
        return np.ones(3, bool) if position is None else (position <= low) | (position >= high)

    def saturated(*commands):  # axes where a command saturates at the action box: the jerk limit gives way
        return np.any([np.abs(command) >= 1.0 for command in commands], axis=0)

    def walled(*stamps):  # axes the workspace box may stop at once
        return np.concatenate([np.any([at_wall(stamp) for stamp in stamps], axis=0), [False]])

    cycle = {stamp: i for i, stamp in enumerate(end_effector)}  # the observation each command answers
    checked, walls = np.zeros(2, int), 0
    for (s0, a), (s1, b), (s2, c) in zip(commands, commands[1:], commands[2:]):
        if not (np.any(a) and np.any(b) and np.any(c)):
            continue  # a hold may stop at once, and the limiter restarts from rest
        if not (s0 in cycle and cycle.get(s1) == cycle[s0] + 1 and cycle.get(s2) == cycle[s0] + 2):
            continue  # not three successive cycles as far as the probe can tell
        free = ~walled(s1, s2)
        assert np.all(np.abs(c - b)[free] <= max_delta + 1e-9)
        free &= ~walled(s0) & ~saturated(a, b, c)
        assert np.all(np.abs(c - 2 * b + a)[free] <= max_delta2 + 1e-9)
        checked += [(~walled(s1, s2)).sum(), free.sum()]
    for stamp, command in commands:
        position = end_effector.get(stamp)
        if position is not None:
            outward = ((position <= low) & (command[:3] < 0)) | ((position >= high) & (command[:3] > 0))
            assert not outward.any(), f"command {command} at {position} leaves the box"
            walls += at_wall(stamp).any()
    assert np.all(checked > 100), f"only {checked} axes checked (delta, jerk): the limits were hardly tested"
    assert walls > 5, "the end effector never reached the box's walls: the test proves nothing"
    assert graph.all_within_limits()


def test_frozen_observations_make_the_arm_hold_and_it_recovers(graph):
    graph.start()
    graph.procs["mujoco_bridge"].send_signal(signal.SIGSTOP)  # the observation stream freezes
    frozen = time.monotonic()
    graph.spin(1.5)
    holds = graph.since(frozen + 0.5)  # documented: hold commands from hold_after (0.2 s) on
    assert len(holds) >= 3 and all(np.all(a == 0) for a in holds)
    graph.procs["mujoco_bridge"].send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    assert graph.wait_for(lambda: len(moving(graph.since(resumed))) > 5, 10)
    assert graph.all_within_limits()


def test_estop_during_motion_holds_until_resume(graph):
    from std_msgs.msg import Bool

    graph.start()
    graph.estop.publish(Bool(data=True))
    assert graph.wait_for(lambda: graph.estop_states[-1:] == [True], 5)
    engaged = time.monotonic()
    graph.spin(1.0)
    after = graph.since(engaged + 0.1)
    assert after and all(np.all(a == 0) for a in after)
    graph.estop.publish(Bool(data=False))
    released = time.monotonic()
    assert graph.wait_for(lambda: graph.estop_states[-1:] == [False], 5)
    assert graph.wait_for(lambda: len(moving(graph.since(released))) > 5, 10)
    assert graph.all_within_limits()


def test_flood_of_malformed_actions_is_refused(graph):
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import BASE_ACTION, CONTROL_QOS, joint_state

    graph.start()
    publisher = graph.node.create_publisher(JointState, BASE_ACTION, CONTROL_QOS)
    for i in range(500):
        values = np.full(5 if i % 4 == 1 else 3, 0.5) if i % 2 else np.array([np.nan] * 4)  # the action has 4
        publisher.publish(joint_state(graph.node.get_clock().now().to_msg(), ["x"] * len(values), values))
    flood_end = time.monotonic()
    graph.spin(1.0)
    assert graph.procs["arbitration"].poll() is None
    assert len(moving(graph.since(flood_end))) > 5  # still driving the arm
    assert graph.all_within_limits()


def test_sigterm_on_the_arbitration_sends_a_hold_last(graph):
    graph.start()
    arbitration = graph.procs["arbitration"]
    arbitration.send_signal(signal.SIGTERM)
    assert arbitration.wait(timeout=10) == 0
    graph.spin(0.5)
    assert np.all(graph.actions[-1][1] == 0)
    output = arbitration.communicate()[0]
    assert "mode hold: shutting down" in output and "Traceback" not in output

"""twist_commander, the MoveIt Servo interface, as a real process over DDS: applied actions in, TwistStamped out."""
import time

import numpy as np

from rpl_ros.nodes.common import ACTION, CONTROL_QOS, joint_state

SPEED = 0.08  # m/s for an action axis of 1.0


def test_actions_become_servo_twists_and_malformed_ones_are_dropped(ros_context, processes):
    from geometry_msgs.msg import TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    node = Node("servo_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    twists = []
    node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", twists.append, CONTROL_QOS)
    actions = node.create_publisher(JointState, ACTION, CONTROL_QOS)
    commander = processes.start(["-m", "rpl_ros.nodes.twist_commander", "--ros-args", "-p", "task:=push",
                                 "-p", f"max_linear_speed:={SPEED}", "-p", "frame_id:=panda_link0"])
    try:
        names = ["dx", "dy", "dz", "gripper"]
        deadline = time.monotonic() + 30
        while not twists and time.monotonic() < deadline:  # until discovery has matched both ways
            actions.publish(joint_state(node.get_clock().now().to_msg(), names, np.zeros(4)))
            executor.spin_once(timeout_sec=0.1)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:  # let the warm-up's last answers arrive before counting
            executor.spin_once(timeout_sec=0.02)
        twists.clear()
        sent = [np.array([0.5, -1.0, 0.25, 1.0]), np.array([np.nan, 0, 0, 0]), np.zeros(3), np.zeros(4)]
        for values in sent:
            actions.publish(joint_state(node.get_clock().now().to_msg(), names[:len(values)], values))
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.02)
        linear = [(t.twist.linear.x, t.twist.linear.y, t.twist.linear.z) for t in twists]
        assert linear == [(0.5 * SPEED, -1.0 * SPEED, 0.25 * SPEED), (0.0, 0.0, 0.0)]  # NaN and 3 values dropped
        assert all(t.header.frame_id == "panda_link0" for t in twists)
        assert commander.poll() is None
    finally:
        executor.shutdown()
        node.destroy_node()
    commander.terminate()
    assert "refusing action" in commander.communicate(timeout=10)[0]


def test_a_task_without_cartesian_actions_is_refused(processes):
    commander = processes.start(["-m", "rpl_ros.nodes.twist_commander", "--ros-args", "-p", "task:=mbrl_pusher"])
    assert commander.wait(timeout=30) == 2
    assert "no Cartesian actions" in commander.communicate()[0]


def test_the_arm_servo_profile_runs_in_shadow_mode_and_sends_twists(ros_context, processes, tmp_path):
    """config/arm_servo.yaml's nodes, fed observations as a robot's state publisher would: twists come out,
    and in shadow mode the applied action is the base's alone although the residual is not zero."""
    from geometry_msgs.msg import TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from rpl_ros.bringup import load_graph
    from rpl_ros.core.controllers import make_controller
    from rpl_ros.core.episodes import EpisodeRunner
    from rpl_ros.core.observation import ObservationCodec
    from rpl_ros.core.residual import build_mlp_onnx
    from rpl_ros.core.tasks import task_spec
    from rpl_ros.nodes.common import OBSERVATION

    codec = ObservationCodec(task_spec("push").observation_sizes)
    constant = tmp_path / "constant.onnx"  # a residual of -0.5 on dx, whatever the observation
    constant.write_bytes(build_mlp_onnx([(np.zeros((codec.policy_input_size, 4)), np.array([-0.5, 0, 0, 0]))],
                                        np.zeros(codec.policy_input_size), np.ones(codec.policy_input_size)))
    # the rate limits off, so that every applied action can be compared with the base's exactly
    graph = load_graph("arm_servo", {"recorder.directory": str(tmp_path / "recordings"), "recover_after": 0.2,
                                     "max_action_delta": float("inf"), "max_action_delta2": float("inf"),
                                     "model_path": str(constant)})
    params = tmp_path / "params.yaml"
    params.write_text(graph.params_yaml())
    for spec in graph.nodes:
        processes.start(["-m", f"rpl_ros.nodes.{spec.executable}", "--ros-args", "--params-file", str(params)])
    node = Node("robot_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    twists, applied = [], {}
    node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", twists.append, CONTROL_QOS)
    node.create_subscription(JointState, ACTION, lambda m: applied.__setitem__(
        (m.header.stamp.sec, m.header.stamp.nanosec), np.array(m.position)), CONTROL_QOS)
    observations = node.create_publisher(JointState, OBSERVATION, CONTROL_QOS)
    base = make_controller("push")
    runner, expected = EpisodeRunner("push", episodes=100, seed=0), {}

    def moving():
        return [key for key, action in applied.items() if np.any(action != 0)]

    try:
        end = time.monotonic() + 20
        # until the graph has answered: the commander sends (zero) twists before the other nodes are up
        while (len(twists) < 30 or len(moving()) <= 10) and time.monotonic() < end:  # a 25 Hz robot
            stamp = node.get_clock().now().to_msg()
            obs = {key: value.copy() for key, value in runner.obs.items()}
            obs["observation"][:3] = [0.45, 0.0, 0.3]  # the gripper inside the profile's workspace box
            expected[(stamp.sec, stamp.nanosec)] = base(obs)
            observations.publish(joint_state(stamp, codec.names, codec.encode(obs)))
            tick = time.monotonic() + 0.04
            while time.monotonic() < tick:
                executor.spin_once(timeout_sec=0.005)
        assert len(twists) >= 30 and all(p.poll() is None for p in processes)
        assert len(moving()) > 10, "the arm was hardly moved"
        assert all(np.array_equal(applied[key], expected[key]) for key in moving())
    finally:
        executor.shutdown()
        node.destroy_node()

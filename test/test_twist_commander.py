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

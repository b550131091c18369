"""joint_commander: the arm interface for a joint-controlled Panda under ros2_control. Turns the applied Cartesian
action on /rpl/action into joint position targets for its forward position controllers.

Each action (dx, dy, dz, gripper, as the task defines it) becomes targets with the same differential IK the
simulated task uses (rpl_ros.core.tasks.panda.PandaArm), from the latest /joint_states: the 7 arm targets go
out as std_msgs/Float64MultiArray on ``/<arm_controller>/commands``, the finger opening on
``/<gripper_controller>/commands``. A zero action (the arbitration's hold) sends the measured positions: the arm
stays where it is. Nothing goes out, with a logged error, while the joint states are missing, incomplete or
older than ``max_state_age``, or for a malformed action: the controllers then hold their last targets.
With ``max_joint_velocity``, ``max_joint_acceleration`` and ``max_joint_jerk`` set (per joint; ``inf`` by default,
Franka's values in config/arm_joint.yaml), the targets are shaped so the motion they command, one every
``command_period``, stays within them (rpl_ros.core.joint_limits): a hold then decelerates within the limits.
"""
import sys

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from rpl_ros.core.joint_limits import JointMotionLimiter
from rpl_ros.core.observation import check_action
from rpl_ros.core.tasks import task_spec
from rpl_ros.core.tasks.panda import ARM, ARM_JOINTS, GRIPPER, JOINT_NAMES, PandaArm
from rpl_ros.nodes.common import (ACTION, CARTESIAN_AXES, ConfigError, Diagnostics, StreamHealth, control_subscription,
                                  parameters, run_node, stamp_age)

JOINT_STATES = "/joint_states"
# ros2_control's controllers and joint_state_broadcaster use the system default QoS (reliable): a best-effort
# publisher would never reach them
ROS2_CONTROL_QOS = 10


def commands_topic(controller: str) -> str:
    """Where a ros2_control forward command controller takes its commands."""
    return f"/{controller}/commands"


class JointCommander(Node):
    def __init__(self):
        super().__init__("joint_commander")
        p = parameters(self, {"task": "panda_push", "arm_controller": "forward_position_controller",
                              "gripper_controller": "gripper_controller", "max_state_age": 0.2,
                              "max_joint_velocity": [float("inf")] * len(ARM_JOINTS),
                              "max_joint_acceleration": [float("inf")] * len(ARM_JOINTS),
                              "max_joint_jerk": [float("inf")] * len(ARM_JOINTS), "command_period": 0.04})
        try:
            spec = task_spec(p["task"])
            limits = (p["max_joint_velocity"], p["max_joint_acceleration"], p["max_joint_jerk"])
            if any(len(limit) != len(ARM_JOINTS) for limit in limits):
                raise ValueError(f"max_joint_velocity, _acceleration and _jerk need {len(ARM_JOINTS)} values each")
            self.limiter = (JointMotionLimiter(limits[0], limits[1], p["command_period"], limits[2])
                            if np.isfinite(limits).any() else None)
        except ValueError as error:
            raise ConfigError(error) from None
        if spec.action_names[:3] != CARTESIAN_AXES:
            raise ConfigError(f"task {p['task']} has no Cartesian actions ({', '.join(spec.action_names)})")
        self.size, self.max_state_age = len(spec.action_names), p["max_state_age"]
        self.arm = PandaArm()
        self.joint_state = None  # the latest JointState with every joint of JOINT_NAMES
        self.arm_pub = self.create_publisher(Float64MultiArray, commands_topic(p["arm_controller"]), ROS2_CONTROL_QOS)
        self.gripper_pub = self.create_publisher(Float64MultiArray, commands_topic(p["gripper_controller"]),
                                                 ROS2_CONTROL_QOS)
        control_subscription(self, JointState, JOINT_STATES, self.on_joint_state)
        control_subscription(self, JointState, ACTION, self.on_action)
        self.health = StreamHealth()
        Diagnostics(self, self.health)

    def on_joint_state(self, msg: JointState):
        self.joint_state = msg

    def positions(self) -> np.ndarray:
        """The measured positions of JOINT_NAMES, or ValueError saying why there are none to trust."""
        msg = self.joint_state
        if msg is None:
            raise ValueError("no joint states yet")
        age = stamp_age(self, msg.header.stamp)
        if age > self.max_state_age:
            raise ValueError(f"joint states are {age:.3f} s old (max_state_age {self.max_state_age} s)")
        index = {name: i for i, name in enumerate(msg.name)}
        missing = [name for name in JOINT_NAMES if name not in index]
        if missing or len(msg.position) != len(msg.name):
            raise ValueError(f"joint states lack {', '.join(missing) or 'positions'}")
        positions = np.array([msg.position[index[name]] for name in JOINT_NAMES])
        if not np.all(np.isfinite(positions)):
            raise ValueError("joint states have non-finite positions")
        return positions

    def on_action(self, msg: JointState):
        try:
            action = check_action(msg.position, self.size)
            positions = self.positions()
        except ValueError as error:  # ObservationError is one
            self.health.last_error = str(error)
            self.get_logger().error(f"no command: {error}", throttle_duration_sec=1.0)
            if self.limiter:
                self.limiter.reset()  # the arm may have moved meanwhile: start again from where it is
            return
        targets = self.arm.joint_targets(positions, action)
        if self.limiter:
            targets[ARM] = self.limiter(targets[ARM], positions[ARM])
        self.arm_pub.publish(Float64MultiArray(data=targets[ARM].tolist()))
        self.gripper_pub.publish(Float64MultiArray(data=targets[GRIPPER].tolist()))
        self.health.rate.tick()


def main(args=None):
    sys.exit(run_node(JointCommander, args))


if __name__ == "__main__":
    main()

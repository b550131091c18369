"""twist_commander: the arm interface for MoveIt Servo. Turns the applied Cartesian action on /rpl/action into
geometry_msgs/TwistStamped on Servo's ``~/delta_twist_cmds``.

An action axis of 1.0 is ``max_linear_speed`` m/s along that axis of ``frame_id``. Servo itself halts when
commands stop for its timeout (0.1 s by default) and near singularities and joint limits; the arbitration in
front of this node has already applied the rate limits, the workspace box and the holds.
"""
import sys

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState

from rpl_ros.core.observation import ObservationError, check_action
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (ACTION, CARTESIAN_AXES, ConfigError, Diagnostics, StreamHealth, control_publisher,
                                  control_subscription, parameters, run_node)


class TwistCommander(Node):
    def __init__(self):
        super().__init__("twist_commander")
        p = parameters(self, {"task": "push", "twist_topic": "/servo_node/delta_twist_cmds",
                              "frame_id": "base_link", "max_linear_speed": 0.05})
        try:
            spec = task_spec(p["task"])
        except ValueError as error:
            raise ConfigError(error) from None
        if spec.action_names[:3] != CARTESIAN_AXES:
            raise ConfigError(f"task {p['task']} has no Cartesian actions ({', '.join(spec.action_names)})")
        if not 0 < p["max_linear_speed"] < float("inf"):
            raise ConfigError("max_linear_speed must be a positive speed in m/s")
        self.size, self.frame_id, self.speed = len(spec.action_names), p["frame_id"], p["max_linear_speed"]
        self.publisher = control_publisher(self, TwistStamped, p["twist_topic"])
        control_subscription(self, JointState, ACTION, self.on_action)
        self.health = StreamHealth()
        Diagnostics(self, self.health)

    def on_action(self, msg: JointState):
        try:
            action = check_action(msg.position, self.size)
        except ObservationError as error:
            # Nothing goes out: Servo halts the arm after its own command timeout.
            self.health.last_error = str(error)
            self.get_logger().error(f"refusing action: {error}", throttle_duration_sec=1.0)
            return
        twist = TwistStamped()
        twist.header.stamp, twist.header.frame_id = msg.header.stamp, self.frame_id
        twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = (np.clip(action[:3], -1, 1)
                                                                              * self.speed).tolist()
        self.publisher.publish(twist)
        self.health.rate.tick()


def main(args=None):
    sys.exit(run_node(TwistCommander, args))


if __name__ == "__main__":
    main()

"""base_controller: answers each observation with the hand-made controller's action pi(s)."""
import sys

from rclpy.node import Node
from sensor_msgs.msg import JointState

from rpl_ros.core.controllers import make_controller
from rpl_ros.core.observation import ObservationCodec, ObservationError
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (BASE_ACTION, OBSERVATION, ConfigError, Diagnostics, StreamHealth, control_publisher,
                                  control_subscription, joint_state, parameters, run_node)


class BaseController(Node):
    def __init__(self):
        super().__init__("base_controller")
        p = parameters(self, {"task": "push", "controller": ""})
        try:
            spec = task_spec(p["task"])
            self.controller = make_controller(p["controller"] or spec.controller)
        except ValueError as error:
            raise ConfigError(error) from None
        self.codec = ObservationCodec(spec.observation_sizes)
        self.action_names = spec.action_names
        self.publisher = control_publisher(self, JointState, BASE_ACTION)
        control_subscription(self, JointState, OBSERVATION, self.on_observation)
        self.health = StreamHealth()
        Diagnostics(self, self.health)

    def on_observation(self, msg: JointState):
        try:
            obs = self.codec.decode(msg.name, msg.position)
        except ObservationError as error:
            # No answer: without a base action the arbitration holds the arm still.
            self.health.last_error = str(error)
            self.get_logger().error(f"refusing observation: {error}", throttle_duration_sec=1.0)
            return
        self.publisher.publish(joint_state(msg.header.stamp, self.action_names, self.controller(obs)))
        self.health.rate.tick()


def main(args=None):
    sys.exit(run_node(BaseController, args))


if __name__ == "__main__":
    main()

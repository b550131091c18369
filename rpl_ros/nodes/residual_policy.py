"""residual_policy: answers each observation with the residual f_theta(s) of the current ONNX model.

With ``model_path`` empty it runs the zero residual (last layer zero), so the graph starts exactly as good
as the base controller. A model that cannot be loaded is reported and no residual is published, which the
arbitration treats as "residual missing".
"""
import sys
from pathlib import Path

from rclpy.node import Node
from sensor_msgs.msg import JointState

from rpl_ros.core.observation import ObservationCodec, ObservationError
from rpl_ros.core.residual import ModelError, ResidualModel, zero_residual_model
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (CONTROL_QOS, ERROR, OBSERVATION, OK, RESIDUAL_ACTION, ConfigError, Diagnostics,
                                  RateMeter, joint_state, parameters, run_node)


class ResidualPolicy(Node):
    def __init__(self):
        super().__init__("residual_policy")
        p = parameters(self, {"task": "push", "model_path": ""})
        try:
            spec = task_spec(p["task"])
        except ValueError as error:
            raise ConfigError(error) from None
        self.codec = ObservationCodec(spec.observation_sizes)
        self.action_names = spec.action_names
        self.model, self.model_name, self.last_error = None, "none", ""
        self.load(p["model_path"])
        self.publisher = self.create_publisher(JointState, RESIDUAL_ACTION, CONTROL_QOS)
        self.create_subscription(JointState, OBSERVATION, self.on_observation, CONTROL_QOS)
        self.rate = RateMeter()
        Diagnostics(self, self.status)

    def load(self, model_path: str):
        obs_dim, act_dim = self.codec.policy_input_size, len(self.action_names)
        try:
            if model_path:
                model_bytes = Path(model_path).read_bytes()
            else:
                model_bytes = zero_residual_model(obs_dim, act_dim)
            self.model = ResidualModel(model_bytes, obs_dim, act_dim)
            self.model_name = model_path or "zero residual"
            self.get_logger().info(f"residual model: {self.model_name}")
        except (OSError, ModelError) as error:
            self.last_error = f"cannot use model {model_path!r}: {error}"
            self.get_logger().error(f"{self.last_error}; publishing no residual (arbitration falls back)")

    def on_observation(self, msg: JointState):
        if self.model is None:
            return
        try:
            obs = self.codec.decode(msg.name, msg.position)
        except ObservationError as error:
            self.get_logger().error(f"refusing observation: {error}", throttle_duration_sec=1.0)
            return
        residual = self.model(self.codec.policy_input(obs))
        self.publisher.publish(joint_state(msg.header.stamp, self.action_names, residual))
        self.rate.tick()

    def status(self):
        level = ERROR if self.model is None else OK
        return level, self.last_error or "running", {"rate_hz": f"{self.rate.take():.1f}", "model": self.model_name}


def main(args=None):
    sys.exit(run_node(ResidualPolicy, args))


if __name__ == "__main__":
    main()

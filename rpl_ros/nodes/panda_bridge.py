"""panda_bridge: a simulated Franka Panda that behaves like its ros2_control system, running PandaPush episodes.

As ros2_control with a forward position controller: joint position targets come in as std_msgs/Float64MultiArray
on ``/<arm_controller>/commands`` (the 7 arm joints) and ``/<gripper_controller>/commands`` (the finger opening,
m), and sensor_msgs/JointState goes out on /joint_states (the 7 joints and the finger) at ``control_rate``
(100-500 Hz); physics steps at 1 kHz with the latest targets. A command of the wrong size or with non-finite
values is refused (logged, throttled, and on /diagnostics) and the arm holds its last valid target.

As mujoco_bridge (see episode_bridge): every 0.04 s of simulated time ends a control period of the task, whose
observation goes out on /rpl/observation for the controllers; a period in which no arm command came is counted
as missed. Like the hardware it stands for, it runs in real time only: lockstep would need the commands to say
which observation they answer, and Float64MultiArray carries no stamp. Physics waits for the first arm command.
"""
import sys

import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from rpl_ros.core.tasks.panda import ARM, CONTROL_PERIOD_STEPS, GRIPPER, JOINT_NAMES
from rpl_ros.nodes.common import ConfigError, run_node
from rpl_ros.nodes.episode_bridge import EpisodeBridge
from rpl_ros.nodes.joint_commander import JOINT_STATES, ROS2_CONTROL_QOS, commands_topic

PHYSICS_RATE = 1000  # Hz: the model's 1 ms timestep


class PandaBridge(EpisodeBridge):
    def __init__(self):
        super().__init__("panda_bridge", {"task": "panda_push", "mode": "realtime", "control_rate": 100.0,
                                          "arm_controller": "forward_position_controller",
                                          "gripper_controller": "gripper_controller"},
                         ("realtime",), env_kwargs={"arm_control": "joint"})
        rate = self.p["control_rate"]
        physics_per_tick, ticks_per_period = PHYSICS_RATE / rate, CONTROL_PERIOD_STEPS * rate / PHYSICS_RATE
        if not (100 <= rate <= 500 and physics_per_tick.is_integer() and ticks_per_period.is_integer()):
            raise ConfigError(f"control_rate must be 100-500 Hz and divide {PHYSICS_RATE} Hz into whole 0.04 s "
                              f"control periods (100, 125, 200, 250, 500), got {rate}")
        self.physics_per_tick, self.ticks_per_period = int(physics_per_tick), int(ticks_per_period)
        self.arm = self.sim.env.unwrapped
        self.joint_pub = self.create_publisher(JointState, JOINT_STATES, ROS2_CONTROL_QOS)
        self.create_subscription(Float64MultiArray, commands_topic(self.p["arm_controller"]),
                                 lambda msg: self.on_command(msg, ARM, self.p["arm_controller"]), ROS2_CONTROL_QOS)
        self.create_subscription(Float64MultiArray, commands_topic(self.p["gripper_controller"]),
                                 lambda msg: self.on_command(msg, GRIPPER, self.p["gripper_controller"]),
                                 ROS2_CONTROL_QOS)
        self.ticks_into_period, self.commanded = 0, False
        self.create_timer(1.0 / rate, self.tick)

    def on_command(self, msg: Float64MultiArray, joints: slice, controller: str):
        values = np.asarray(msg.data, dtype=np.float64)
        expected = joints.stop - joints.start
        if values.shape != (expected,) or not np.all(np.isfinite(values)):
            self.refuse(f"refusing {commands_topic(controller)}: {values.size} values, expected {expected} finite "
                        f"ones; holding the last valid target")
            return
        targets = self.arm.joint_targets
        targets[joints] = values
        self.arm.set_joint_targets(targets)
        if joints == ARM:  # the arm's command is the one that answers the observation
            self.commanded = True
            self.record_answer()

    def tick(self):
        """One cycle of the control loop: physics up to this tick, the new joint states; every
        ``ticks_per_period`` ticks the task's control period ends (``step``: its episode, its next observation)."""
        if self.sim.done:
            return
        self.ticks_into_period = (self.ticks_into_period + 1) % self.ticks_per_period
        if self.started is None and not self.commanded:
            # the graph is starting: show the arm and the task every period until the first command, but do not move
            if self.ticks_into_period == 0 and self.graph_ready():
                self.publish_observation()
            return
        if self.ticks_into_period:
            self.arm.advance(self.physics_per_tick)
            self.publish_joint_states()
            return
        self.close_cycle(self.commanded)
        self.commanded = False
        self.step(self.arm.joint_targets)

    def publish_observation(self):
        self.publish_joint_states()  # first, so a commander answering the observation knows where the arm is
        super().publish_observation()

    def publish_joint_states(self):
        msg = JointState(name=list(JOINT_NAMES), position=self.arm.joint_positions.tolist(),
                         velocity=self.arm.joint_velocities.tolist())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.joint_pub.publish(msg)


def main(args=None):
    sys.exit(run_node(PandaBridge, args, finished=lambda node: node.finished))


if __name__ == "__main__":
    main()

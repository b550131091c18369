"""ros2 launch rpl_ros arm_joint.launch.py [task:=panda_push] [model_path:=...] [executor:=events]

A physical 7-DOF arm under ros2_control: base controller, residual, the arbitration with the limits of
config/arm_joint.yaml (shadow mode on), joint_commander (IK to /<controller>/commands, Franka's joint limits)
and the recorder. See docs/DEPLOYING.md.
"""
from rpl_ros.bringup import launch_description


def generate_launch_description():
    return launch_description("arm_joint")

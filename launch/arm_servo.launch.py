"""ros2 launch rpl_ros arm_servo.launch.py [task:=push] [model_path:=...] [executor:=events]

A physical arm through MoveIt Servo: base controller, residual, the arbitration with the limits of
config/arm_servo.yaml (shadow mode on), the TwistStamped output and the recorder. See docs/DEPLOYING.md.
"""
from rpl_ros.bringup import launch_description


def generate_launch_description():
    return launch_description("arm_servo")

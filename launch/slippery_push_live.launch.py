"""ros2 launch rpl_ros slippery_push_live.launch.py [seed:=...] [mode:=lockstep|realtime] [task:=slippery_push]

Live training: the graph records itself, the trainer learns from the recordings and pushes signed models that
the residual node swaps in while the arm runs. The graph comes from config/slippery_push_live.yaml through
rpl_ros.bringup, exactly as ``rpl-ros launch slippery_push_live`` runs it. Needs keys/ (`rpl-ros keygen`).
"""
from rpl_ros.bringup import launch_description


def generate_launch_description():
    return launch_description("slippery_push_live")

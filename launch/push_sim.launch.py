"""ros2 launch rpl_ros push_sim.launch.py [episodes:=10] [seed:=0] [mode:=lockstep|realtime] [render:=false]

FetchPush in MuJoCo driven by the base controller plus the residual through the arbitration node. The graph
comes from config/push_sim.yaml through rpl_ros.bringup, exactly as ``rpl-ros launch push_sim`` runs it.
"""
from rpl_ros.bringup import launch_description


def generate_launch_description():
    return launch_description("push_sim")

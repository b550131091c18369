"""ros2 launch rpl_ros panda_push_sim.launch.py [episodes:=10] [seed:=0] [render:=false] [model_path:=...]

PandaPush in MuJoCo: a joint-controlled Franka Panda (as under ros2_control) driven by the base controller plus
the residual through the arbitration and the joint commander. The graph comes from config/panda_push_sim.yaml
through rpl_ros.bringup, exactly as ``rpl-ros launch panda_push_sim`` runs it.
"""
from rpl_ros.bringup import launch_description


def generate_launch_description():
    return launch_description("panda_push_sim")

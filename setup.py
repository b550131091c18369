"""rpl_ros as an ament_python package: colcon installs the node executables into lib/rpl_ros, where
``ros2 run`` and ``ros2 launch`` look, and launch/config files into share/rpl_ros."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rpl_ros"
NODES = ["mujoco_bridge", "base_controller", "residual_policy", "arbitration", "recorder", "twist_commander", "compose",
         "panda_bridge", "joint_commander"]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench"]),
    package_data={"rpl_ros.core.tasks": ["assets/*.xml"]},  # the project's own MJCF (hook tasks)
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/fastdds", glob("config/fastdds/*.xml")),
    ],
    install_requires=["setuptools"],
    python_requires=">=3.10",
    zip_safe=True,
    maintainer="rpl_ros maintainers",
    maintainer_email="maintainers@rpl-ros.dev",
    description="Residual Policy Learning for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [f"{node} = {PACKAGE}.nodes.{node}:main" for node in NODES]
        + ["trainer = rpl_ros.learn.trainer_node:main",  # beside the nodes, but not a runtime one: it needs torch
           "rpl-ros = rpl_ros.cli:main"],
    },
)

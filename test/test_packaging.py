"""The ROS user's path: colcon builds rpl_ros as an ament_python package whose executables land where
``ros2 run``/``ros2 launch`` look, with its launch and config files, and the installed nodes run."""
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NODES = ["mujoco_bridge", "base_controller", "residual_policy", "arbitration", "twist_commander", "panda_bridge",
         "joint_commander", "compose"]


def test_package_xml_is_a_valid_ros_package():
    catkin_pkg = pytest.importorskip("catkin_pkg.package")
    package = catkin_pkg.parse_package(str(REPO / "package.xml"))
    package.validate()
    assert package.name == "rpl_ros" and package.package_format == 3
    assert package.get_build_type() == "ament_python"
    assert {"rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "std_srvs"} <= {d.name for d in package.exec_depends}


@pytest.fixture(scope="module")
def colcon_install(tmp_path_factory) -> Path:
    workspace = tmp_path_factory.mktemp("ws")
    source = workspace / "src" / "rpl_ros"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "install", "log",
                                                                 "*.egg-info", "__pycache__", ".pytest_cache"))
    colcon = Path(sys.executable).parent / "colcon"
    result = subprocess.run([str(colcon), "build"], cwd=workspace, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace / "install"


def test_colcon_installs_executables_launch_and_config(colcon_install):
    prefix = colcon_install / "rpl_ros"
    for node in NODES + ["trainer"]:  # the trainer runs beside the nodes, though it is not a runtime one
        assert os.access(prefix / "lib" / "rpl_ros" / node, os.X_OK), node
    assert (prefix / "share" / "rpl_ros" / "launch" / "push_sim.launch.py").is_file()
    assert (prefix / "share" / "rpl_ros" / "config" / "push_sim.yaml").is_file()
    for profile in ("localhost_udp.xml", "shared_memory.xml"):
        assert (prefix / "share" / "rpl_ros" / "config" / "fastdds" / profile).is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "rpl_ros").is_file()


def test_installed_node_runs_from_a_sourced_workspace(colcon_install, domain_id):
    """As `ros2 run rpl_ros base_controller` would: the installed script, found through the sourced setup."""
    script = f"source {colcon_install}/setup.bash && base_controller --ros-args -p controller:=nope"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": f"{colcon_install}/rpl_ros/lib/rpl_ros:{os.environ['PATH']}"})
    assert result.returncode == 2
    assert "unknown base controller 'nope'" in result.stderr


def test_bringup_finds_the_installed_config_through_the_ament_index(colcon_install):
    code = "from rpl_ros.bringup import load_graph; print(load_graph('push_sim').config_path)"
    script = f"source {colcon_install}/setup.bash && cd / && {sys.executable} -c \"{code}\""
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(colcon_install / "rpl_ros" / "share" / "rpl_ros" / "config" / "push_sim.yaml")


def test_launch_files_are_valid_python_and_describe_a_launch():
    paths = sorted((REPO / "launch").glob("*.launch.py"))
    graphs = sorted(p.stem for p in (REPO / "config").glob("*.yaml"))
    assert [p.name for p in paths] == [f"{graph}.launch.py" for graph in graphs]
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        assert any(isinstance(node, ast.FunctionDef) and node.name == "generate_launch_description"
                   for node in tree.body), path


def test_runtime_nodes_import_no_torch():
    """A robot computer runs the graph with numpy, onnxruntime and rclpy: torch stays in rpl_ros.learn."""
    nodes = ", ".join(f"rpl_ros.nodes.{n}" for n in NODES + ["recorder", "push_model"])
    code = f"import sys, {nodes}, rpl_ros.cli; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_core_and_the_recordings_reader_import_no_ros_middleware():
    """Pure logic needs no middleware, and a training machine reads recordings without a ROS installation."""
    modules = ", ".join(["rpl_ros.learn.recordings"] + [f"rpl_ros.core.{p.stem}" for p in
                                                       sorted((REPO / "rpl_ros" / "core").glob("[!_]*.py"))])
    code = f"import sys, {modules}; assert 'rclpy' not in sys.modules, 'rclpy imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

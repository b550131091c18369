"""The graph description shared by launch files and the runner."""
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from rpl_ros.bringup import (LAUNCH_ARGUMENTS, argument_defaults, fastdds_profile_environment, fastdds_profiles,
                             load_graph)
from rpl_ros.cli import build_parser


def test_push_sim_has_the_four_nodes_with_their_yaml_defaults():
    graph = load_graph("push_sim")
    assert graph.node_names == ["mujoco_bridge", "base_controller", "residual_policy", "arbitration"]
    assert graph.node("mujoco_bridge").parameters["mode"] == "lockstep"


def test_a_launch_argument_overrides_every_node_that_has_it():
    graph = load_graph("push_sim", {"task": "push", "episodes": "20", "render": "true", "max_age": "1"})
    assert all(n.parameters["task"] == "push" for n in graph.nodes)
    bridge = graph.node("mujoco_bridge").parameters
    assert bridge["episodes"] == 20 and bridge["render"] is True
    assert graph.node("arbitration").parameters["max_age"] == 1.0  # an int given for a float stays a float


def test_node_qualified_override_and_params_file_round_trip():
    graph = load_graph("push_sim", {"arbitration.residual_scale": 0.5})
    params = yaml.safe_load(graph.params_yaml())
    assert params["arbitration"]["ros__parameters"]["residual_scale"] == 0.5
    assert params["mujoco_bridge"]["ros__parameters"]["episodes"] == 10


@pytest.mark.parametrize("overrides, message", [
    ({"episodes": "ten"}, "mujoco_bridge.episodes: 'ten' is not a int"),
    ({"no_such_parameter": "1"}, "no node of graph 'push_sim' has a parameter 'no_such_parameter'"),
    ({"mujoco_bridge.max_age": "1"}, "has a parameter 'mujoco_bridge.max_age'"),
])
def test_bad_overrides_are_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_graph("push_sim", overrides)


def test_unknown_graph_names_the_known_ones():
    with pytest.raises(ValueError, match="no graph config 'nope'; known: .*push_sim"):
        load_graph("nope")


def test_a_fastdds_profile_puts_the_nodes_on_its_file_under_the_subnet_range():
    assert fastdds_profiles() == ["localhost_udp", "shared_memory"]
    for profile in fastdds_profiles():
        environment = fastdds_profile_environment(profile)
        # under LOCALHOST rmw_fastrtps would set its own transports over the profile
        assert environment["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
        assert Path(environment["FASTDDS_DEFAULT_PROFILES_FILE"]).read_text().count("<profiles>") == 1
    assert fastdds_profile_environment("") == fastdds_profile_environment(None) == {}  # the LOCALHOST range
    with pytest.raises(ValueError, match="no Fast DDS profile 'udp'; known: localhost_udp, shared_memory"):
        fastdds_profile_environment("udp")


@pytest.mark.parametrize("profile", ["localhost_udp", "shared_memory"])
def test_the_fastdds_profiles_are_well_formed_xml(profile):
    """Fast DDS's parser forgives a "--" inside a comment; a strict one (an editor's, a validator's) does not."""
    path = Path(__file__).resolve().parents[1] / "config" / "fastdds" / f"{profile}.xml"  # this tree's
    assert ElementTree.parse(path).getroot().tag == "{http://www.eprosima.com}dds"


def test_rpl_ros_launch_refuses_a_graph_for_a_real_arm_with_the_command_that_starts_it(capsys):
    from rpl_ros.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["launch", "arm_servo"])
    assert exit_.value.code == 2
    assert "start it with ros2 launch rpl_ros arm_servo.launch.py" in capsys.readouterr().err


def test_launch_argument_defaults_come_from_the_yaml():
    defaults = argument_defaults(load_graph("push_sim"))
    assert set(defaults) <= set(LAUNCH_ARGUMENTS)
    assert defaults["render"] == "false" and defaults["episodes"] == "10" and defaults["model_path"] == ""


def test_cli_help_explains_the_launch_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["launch", "--help"])
    help_text = capsys.readouterr().out
    assert "--episodes" in help_text and "zero residual" in help_text


@pytest.mark.parametrize("profile", ["arm_servo", "arm_joint"])
def test_the_arm_profiles_start_in_shadow_mode_with_every_limit_set(profile):
    from rpl_ros.core.arbitration import ArbitrationConfig

    graph = load_graph(profile)
    assert "mujoco_bridge" not in graph.node_names
    params = graph.node("arbitration").parameters
    config = ArbitrationConfig(**{name: params[name] for name in vars(ArbitrationConfig())})
    assert config.shadow and config.has_workspace and config.recover_after > 0
    assert max(config.max_action_delta, config.max_action_delta2, config.residual_budget) < float("inf")
    if profile == "arm_joint":
        joints = graph.node("joint_commander").parameters
        limits = joints["max_joint_velocity"] + joints["max_joint_acceleration"] + joints["max_joint_jerk"]
        assert max(limits) < float("inf")


def test_composition_puts_the_named_nodes_in_one_process_and_refuses_what_it_cannot_compose(tmp_path):
    from rpl_ros.runner import process_commands

    graph = load_graph("push_sim")
    controllers = ["base_controller", "residual_policy", "arbitration"]
    commands = process_commands(graph, tmp_path / "p.yaml", controllers, ["--executor", "events"])
    assert sorted(commands) == ["base_controller+residual_policy+arbitration", "mujoco_bridge"]
    assert commands["base_controller+residual_policy+arbitration"][2:6] == ["rpl_ros.nodes.compose", *controllers]
    everything = process_commands(graph, tmp_path / "p.yaml", graph.node_names, [])
    assert list(everything) == ["mujoco_bridge"]  # named after the main node, which ends the run
    with pytest.raises(ValueError, match="graph push_sim has the nodes"):
        process_commands(graph, tmp_path / "p.yaml", ["arbitrator"], [])
    with pytest.raises(ValueError, match="their executable's name"):  # the Panda's bridge runs panda_bridge
        process_commands(load_graph("panda_push_sim"), tmp_path / "p.yaml", ["mujoco_bridge"], [])


def test_only_the_control_path_gets_the_real_time_options(tmp_path):
    from rpl_ros.runner import process_commands

    graph = load_graph("slippery_push_live")
    commands = process_commands(graph, tmp_path / "p.yaml", [], ["--executor", "events"], ["--rt-priority", "50"])
    real_time = sorted(name for name, command in commands.items() if "--rt-priority" in command)
    assert real_time == ["arbitration", "base_controller", "mujoco_bridge", "residual_policy"]
    assert all("--executor" in command for command in commands.values())
    # a process holding the recorder with control nodes is not real-time either
    composed = process_commands(graph, tmp_path / "p.yaml", ["mujoco_bridge", "recorder"], [], ["--rt-priority", "50"])
    assert "--rt-priority" not in composed["mujoco_bridge"] and "--rt-priority" in composed["arbitration"]


@pytest.mark.parametrize("priority", ["99", "-1", "high"])
def test_an_rt_priority_outside_0_98_is_refused_by_the_launcher_and_by_every_node(priority, capsys):
    from rpl_ros.nodes.common import process_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["launch", "push_sim", "--rt-priority", priority])
    with pytest.raises(SystemExit):
        process_parser().parse_args(["--rt-priority", priority])
    assert "--rt-priority" in capsys.readouterr().err
    assert process_parser().parse_args(["--rt-priority", "98"]).rt_priority == 98

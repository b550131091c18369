"""The push_sim graph as separate node processes over real DDS (localhost discovery, own domain per test)."""
import json
import os
import resource
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rpl_ros.bringup import load_graph
from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel, build_mlp_onnx
from rpl_ros.core.tasks import TASKS
from rpl_ros.nodes.common import real_time_allowed
from rpl_ros.runner import run_graph

CODEC = ObservationCodec(TASKS["push"].observation_sizes)
GRAPH_TIMEOUT_S = 120


def test_zero_residual_graph_applies_exactly_the_base_actions(domain_id):
    graph = load_graph("push_sim", {"episodes": 2, "seed": 3})
    status, summary = run_graph(graph, domain_id, GRAPH_TIMEOUT_S)
    assert status == 0
    reference = run_in_process("push", make_controller("push"), episodes=2, seed=3)
    assert [e.seed for e in summary.episodes] == [3, 4]
    assert [(e.success, e.actions_sha256) for e in summary.episodes] == [
        (e.success, e.actions_sha256) for e in reference]
    assert summary.latency_ms["p50"] > 0 and summary.control_rate_hz > 0
    first_observation, end = summary.wall_clock  # the run's span, to line other processes' logs up with
    assert 0 < first_observation < end and end - first_observation >= 100 / summary.control_rate_hz * 0.9


CONTROLLERS = ("base_controller", "residual_policy", "arbitration")


@pytest.mark.parametrize("compose, executor", [("all", "events"), (CONTROLLERS, "events"), ((), "single")])
def test_composed_nodes_and_either_executor_apply_the_same_actions(domain_id, compose, executor):
    """The process layout and the executor are performance levers only: the actions stay exactly the base's."""
    graph = load_graph("push_sim", {"episodes": 1, "seed": 3})
    compose = graph.node_names if compose == "all" else compose
    status, summary = run_graph(graph, domain_id, GRAPH_TIMEOUT_S, compose=compose, executor=executor)
    assert status == 0
    reference = run_in_process("push", make_controller("push"), episodes=1, seed=3)
    assert [e.actions_sha256 for e in summary.episodes] == [e.actions_sha256 for e in reference]


# A residual node's process reporting, once the node is up and spinning, how many objects the garbage collector
# holds frozen and the scheduling policy of its threads: the main one, the middleware's, the model loader's.
PROCESS_PROBE = """
import gc, json, os
from rpl_ros.nodes.common import parse_process_options, process_parser, run_nodes
from rpl_ros.nodes.residual_policy import ResidualPolicy
report = {}
def spinning(node):
    threads = {tid: open(f"/proc/self/task/{tid}/comm").read().strip() for tid in os.listdir("/proc/self/task")}
    report.update(frozen=gc.get_freeze_count(), main=os.sched_getscheduler(0),
                  dds=[os.sched_getscheduler(int(t)) for t, name in threads.items() if name.startswith("dds.")],
                  loader=node.loader.submit(os.sched_getscheduler, 0).result())
    return True
run_nodes([ResidualPolicy], parse_process_options(process_parser()), finished=spinning)
print("report:", json.dumps(report))
"""


def probe_node_process(processes, *options, **start):
    probe = processes.start(["-c", PROCESS_PROBE, *options], **start)
    output, _ = probe.communicate(timeout=60)
    assert probe.returncode == 0, output
    return json.loads(output.split("report:")[1]), output


@pytest.mark.parametrize("options, frozen", [((), True), (("--no-gc-freeze",), False)])
def test_node_processes_freeze_their_startup_objects_before_spinning(domain_id, processes, options, frozen):
    """Startup's objects (rclpy, numpy, the nodes) go out of the collector's reach before the loop spins, so its
    passes mid-cycle scan only what the loop made; bench/gc_pauses.py measures what this gives."""
    report, output = probe_node_process(processes, *options)
    assert (report["frozen"] > 10_000) if frozen else (report["frozen"] == 0), output


RT_PRIORITY = 10


@pytest.mark.skipif(not real_time_allowed(RT_PRIORITY), reason="SCHED_FIFO needs root, CAP_SYS_NICE or an rtprio limit")
def test_rt_priority_puts_the_control_thread_the_middleware_and_the_model_loader_under_sched_fifo(
        domain_id, processes):
    report, output = probe_node_process(processes, "--rt-priority", str(RT_PRIORITY))
    assert report["main"] == os.SCHED_FIFO and report["dds"] and set(report["dds"]) == {os.SCHED_FIFO}, output
    # The loader shares the GIL with the control thread: at a lower priority, preempted while holding it, it would
    # hold the observations up behind it.
    assert report["loader"] == os.SCHED_FIFO, output


def without_real_time_rights():
    """For a child process: an rtprio limit of 0, an unprivileged user's default."""
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))


def test_a_refused_rt_priority_is_logged_and_the_node_runs_as_usual(domain_id, processes):
    prefix = ()
    if os.geteuid() == 0:  # root may always use SCHED_FIFO: run the probe without the capability that allows it
        prefix = ("setpriv", "--bounding-set", "-sys_nice")
        if not shutil.which("setpriv") or subprocess.run([*prefix, "true"]).returncode != 0:
            pytest.skip("cannot take CAP_SYS_NICE away here (needs setpriv and CAP_SETPCAP)")
    report, output = probe_node_process(processes, "--rt-priority", str(RT_PRIORITY), prefix=prefix,
                                        preexec_fn=without_real_time_rights)
    assert f"SCHED_FIFO priority {RT_PRIORITY} refused" in output
    assert report["main"] == os.SCHED_OTHER and set(report["dds"]) == {os.SCHED_OTHER}, output


def constant_residual(tmp_path: Path, dx: float) -> Path:
    """A real ONNX residual whose output is tanh(dx) on the first axis, whatever the observation."""
    hidden, act = 8, 4
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(CODEC.policy_input_size, hidden)), np.zeros(hidden)),
              (np.zeros((hidden, act)), np.array([dx, 0.0, 0.0, 0.0]))]
    path = tmp_path / "constant.onnx"
    path.write_bytes(build_mlp_onnx(layers, np.zeros(CODEC.policy_input_size), np.ones(CODEC.policy_input_size)))
    return path


def test_a_residual_model_is_summed_into_every_action(domain_id, tmp_path):
    model_path = constant_residual(tmp_path, dx=0.3)
    # Generous pairing and re-send times: this checks the sum, not timing, on a possibly loaded machine.
    graph = load_graph("push_sim", {"episodes": 1, "seed": 0, "model_path": str(model_path),
                                    "pair_timeout": 2.0, "resend_period": 3.0})
    status, summary = run_graph(graph, domain_id, GRAPH_TIMEOUT_S)
    assert status == 0
    base = make_controller("push")
    residual = ResidualModel(model_path.read_bytes(), CODEC.policy_input_size, 4)
    expected = run_in_process("push", lambda obs: residual_sum(base(obs), residual(CODEC.policy_input(obs))), 1, 0)
    assert summary.episodes[0].actions_sha256 == expected[0].actions_sha256
    assert summary.episodes[0].actions_sha256 != run_in_process("push", base, 1, 0)[0].actions_sha256


def test_realtime_mode_steps_at_the_control_rate(domain_id):
    graph = load_graph("push_sim", {"episodes": 1, "mode": "realtime"})
    status, summary = run_graph(graph, domain_id, GRAPH_TIMEOUT_S)
    assert status == 0
    assert summary.episodes[0].steps == 50
    assert 10 < summary.control_rate_hz < 30  # 25 Hz asked; wide bounds for a loaded CI machine


@pytest.mark.parametrize("node, parameter, message", [
    ("mujoco_bridge", "mode:=bogus", "mode must be one of"),
    ("base_controller", "controller:=nope", "unknown base controller 'nope'"),
    ("arbitration", "residual_fallback:=guess", "residual_fallback must be"),
    ("residual_policy", "task:=nope", "unknown task 'nope'"),
    ("residual_policy", "inference_threads:=-1", "inference threads must be 0"),
])
def test_unknown_parameter_values_stop_the_node_with_a_clear_error(domain_id, processes, node, parameter, message):
    process = processes.start(["-m", f"rpl_ros.nodes.{node}", "--ros-args", "-p", parameter])
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert message in output and "Traceback" not in output


def test_control_stream_qos_is_overridden_by_parameters(ros_context, processes, tmp_path):
    """qos_overrides.<topic>.publisher.reliability turns the base's best-effort control stream reliable; a node
    without the override keeps the sensor-data default."""
    import yaml
    from rclpy.node import Node
    from rclpy.qos import ReliabilityPolicy

    from rpl_ros.nodes.common import BASE_ACTION, RESIDUAL_ACTION

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"base_controller": {"ros__parameters": {
        f"qos_overrides.{BASE_ACTION}.publisher.reliability": "reliable",
        f"qos_overrides.{BASE_ACTION}.publisher.depth": 1}}}))
    processes.start(["-m", "rpl_ros.nodes.base_controller", "--ros-args", "--params-file", str(params)])
    processes.start(["-m", "rpl_ros.nodes.residual_policy"])
    node = Node("probe", context=ros_context)
    reliability = {}
    deadline = time.monotonic() + 60
    while len(reliability) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        for topic in (BASE_ACTION, RESIDUAL_ACTION):
            for info in node.get_publishers_info_by_topic(topic):
                reliability[topic] = info.qos_profile.reliability
    assert reliability == {BASE_ACTION: ReliabilityPolicy.RELIABLE, RESIDUAL_ACTION: ReliabilityPolicy.BEST_EFFORT}


def test_the_first_observation_waits_until_its_subscribers_have_been_there_discovery_settle(domain_id):
    import rclpy
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION
    from rpl_ros.nodes.mujoco_bridge import MujocoBridge

    rclpy.init(args=["--ros-args", "-p", "wait_for_subscribers:=1", "-p", "discovery_settle:=0.5"],
               domain_id=domain_id)
    try:
        bridge = MujocoBridge()
        assert not bridge.graph_ready()  # nobody subscribes yet
        probe = rclpy.create_node("probe")
        probe.create_subscription(JointState, OBSERVATION, lambda msg: None, CONTROL_QOS)
        deadline = time.monotonic() + 30
        while bridge.obs_pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = time.monotonic()
        assert not bridge.graph_ready()  # there, but not yet for discovery_settle
        while not bridge.graph_ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bridge.graph_ready() and 0.45 <= time.monotonic() - seen < 5
        probe.destroy_node()
        bridge.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_a_subscriber_whose_node_rmw_has_not_named_yet_does_not_count_toward_the_graph_being_ready(domain_id):
    import rclpy
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION
    from rpl_ros.nodes.episode_bridge import UNNAMED_NODE
    from rpl_ros.nodes.mujoco_bridge import MujocoBridge

    rclpy.init(args=["--ros-args", "-p", "wait_for_subscribers:=1", "-p", "discovery_settle:=0.2"],
               domain_id=domain_id)
    try:
        bridge = MujocoBridge()
        probe = rclpy.create_node("probe")
        probe.create_subscription(JointState, OBSERVATION, lambda msg: None, CONTROL_QOS)
        graph_info = bridge.get_subscriptions_info_by_topic

        def as_before_the_names_came(topic):  # what rmw reports while the endpoints are known and the names not
            infos = graph_info(topic)
            for info in infos:
                info.node_name = UNNAMED_NODE
            return infos

        bridge.get_subscriptions_info_by_topic = as_before_the_names_came
        deadline = time.monotonic() + 30
        while bridge.obs_pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        unnamed_until = time.monotonic() + 0.5  # more than discovery_settle
        while time.monotonic() < unnamed_until:
            assert not bridge.graph_ready()
            time.sleep(0.02)
        bridge.get_subscriptions_info_by_topic = graph_info
        while not bridge.graph_ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bridge.graph_ready() and bridge.subscriber_nodes() == ["probe"]
        probe.destroy_node()
        bridge.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_a_realtime_cycle_closed_without_its_answer_is_missed_and_its_answer_counts_as_late(domain_id):
    import rclpy
    from builtin_interfaces.msg import Time

    from rpl_ros.nodes.common import joint_state
    from rpl_ros.nodes.mujoco_bridge import MujocoBridge

    rclpy.init(args=["--ros-args", "-p", "mode:=realtime"], domain_id=domain_id)
    try:
        bridge = MujocoBridge()
        action_names = bridge.spec.action_names

        def answer(key):
            stamp = Time(sec=key // 1_000_000_000, nanosec=key % 1_000_000_000)
            bridge.on_action(joint_state(stamp, action_names, np.zeros(len(action_names))))

        bridge.publish_observation()
        answer(bridge.pending_key)
        bridge.realtime_cycle()  # answered in time: steps, observes again
        unanswered = []
        for _ in range(3):  # a stall: three cycles close without their answers
            unanswered.append(bridge.pending_key)
            bridge.realtime_cycle()
        answer(unanswered[0])  # two of the answers come, after their cycles
        answer(unanswered[2])
        answer(unanswered[2])  # (a duplicate counts once)
        answer(bridge.pending_key)
        bridge.realtime_cycle()
        bridge.realtime_cycle()  # and one more, alone
        summary = bridge.summary()
        assert (summary.missed_cycles, summary.late_answers, bridge.steps) == (4, 2, 6)
        assert summary.longest_missed_streak == 3  # the stall, not the miss alone nor all of them
        assert summary.missed_text == "missed cycles 4, at most 3 in a row (2 answered late, 2 never)"
        bridge.destroy_node()
    finally:
        rclpy.try_shutdown()


def node_outputs(process) -> str:
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=10)[0]


def test_once_an_observation_is_answered_answers_to_older_ones_never_reach_the_arm(domain_id):
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.arbitration import Arbitration
    from rpl_ros.nodes.common import ACTION, BASE_ACTION, CONTROL_QOS, RESIDUAL_ACTION, joint_state

    rclpy.init(args=["--ros-args", "-p", "pair_timeout:=1.0", "-p", "residual_timeout:=100.0", "-p", "max_age:=100.0",
                     "-p", "hold_after:=100.0"], domain_id=domain_id)
    try:
        arbitration, probe = Arbitration(), rclpy.create_node("probe")
        executor = SingleThreadedExecutor()
        for node in (arbitration, probe):
            executor.add_node(node)
        base, residual = (probe.create_publisher(JointState, topic, CONTROL_QOS) for topic in (BASE_ACTION,
                                                                                              RESIDUAL_ACTION))
        sent = []  # (ms after then, the action's first axis) the arm received
        then = int(time.time()) - 10  # observations stamped a while ago, by a clock that agrees with this one
        probe.create_subscription(JointState, ACTION, lambda m: sent.append(
            ((m.header.stamp.sec - then) * 1000 + m.header.stamp.nanosec // 1_000_000, m.position[0])), CONTROL_QOS)
        names = ["dx", "dy", "dz", "gripper"]

        def answer(publisher, ms, value):  # to the observation stamped ``ms`` after ``then``
            stamp = Time(sec=then + ms // 1000, nanosec=ms % 1000 * 1_000_000)
            publisher.publish(joint_state(stamp, names, np.array([value, 0.0, 0.0, 0.0])))

        def spin_until(condition, seconds=10.0):
            end = time.monotonic() + seconds
            while not condition() and time.monotonic() < end:
                executor.spin_once(timeout_sec=0.01)
            return condition()

        assert spin_until(lambda: (arbitration.residual_sub.get_publisher_count(), base.get_subscription_count(),
                                   arbitration.publisher.get_subscription_count()) == (1, 1, 1), 30)
        answer(base, 0, 0.1)  # its residual is lost: it waits pair_timeout
        answer(base, 40, 0.2)
        answer(residual, 40, 0.3)  # the next observation is answered first
        assert spin_until(lambda: len(sent) == 1)
        answer(base, 0, 0.1)  # late answers to the first
        answer(residual, 0, 0.1)
        assert not spin_until(lambda: len(sent) > 1, 1.5)  # (past pair_timeout)
        assert sent == [(40, pytest.approx(0.5))] and arbitration.superseded == 2  # the waiting base, the late one

        answer(base, 120, 0.4)  # two bases wait, the newer one first
        answer(base, 80, 0.1)
        assert spin_until(lambda: len(arbitration.pending) == 2)
        time.sleep(1.2)  # both expire before the timer next runs: the newer goes out alone, the older never
        assert spin_until(lambda: len(sent) == 2) and not spin_until(lambda: len(sent) > 2, 0.5)
        assert sent[1] == (120, pytest.approx(0.4)) and arbitration.superseded == 3

        answer(base, 60_000, 0.1)  # stamped ahead of this node's clock...
        answer(residual, 60_000, 0.1)
        answer(base, 200, 0.3)  # ...it holds back none of the answers after it
        answer(residual, 200, 0.0)
        assert spin_until(lambda: len(sent) == 4)
        assert sent[2:] == [(60_000, pytest.approx(0.2)), (200, pytest.approx(0.3))]
        executor.shutdown()
        probe.destroy_node()
        arbitration.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_bad_observations_get_no_answer_and_a_logged_error(ros_context, processes, tmp_path):
    """Wrong size, wrong labels and NaN are refused (no action: the arbitration then holds); a good one is answered.
    A missing model file leaves the residual node up, saying why on /diagnostics, and answering nothing."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from rpl_ros.nodes.common import BASE_ACTION, CONTROL_QOS, OBSERVATION, RESIDUAL_ACTION, joint_state

    base = processes.start(["-m", "rpl_ros.nodes.base_controller"])
    residual = processes.start(["-m", "rpl_ros.nodes.residual_policy"])
    missing = processes.start(["-m", "rpl_ros.nodes.residual_policy", "--ros-args", "-r", "__node:=no_model",
                               "-r", f"{RESIDUAL_ACTION}:=/no_model/residual_action",
                               "-p", f"model_path:={tmp_path / 'absent.onnx'}"])
    node = Node("probe", context=ros_context)
    answers = {BASE_ACTION: [], RESIDUAL_ACTION: [], "/no_model/residual_action": []}
    for topic, received in answers.items():
        node.create_subscription(JointState, topic, lambda msg, r=received: r.append(msg), CONTROL_QOS)
    diagnostics = {}
    node.create_subscription(DiagnosticArray, "/diagnostics",
                             lambda msg: diagnostics.update({s.name: s for s in msg.status}), 10)
    publisher = node.create_publisher(JointState, OBSERVATION, CONTROL_QOS)
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)

    def spin_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)

    deadline = time.monotonic() + 60
    while publisher.get_subscription_count() < 3 and time.monotonic() < deadline:
        spin_for(0.1)
    assert publisher.get_subscription_count() == 3
    good = CODEC.encode({k: np.full(n, 0.5) for k, n in CODEC.sizes.items()})
    nan = good.copy()
    nan[3] = np.nan
    bad_messages = [joint_state(node.get_clock().now().to_msg(), CODEC.names[:-1], good[:-1]),
                    joint_state(node.get_clock().now().to_msg(), CODEC.names, nan),
                    joint_state(node.get_clock().now().to_msg(), list(reversed(CODEC.names)), good)]
    for msg in bad_messages:
        # for longer than the nodes' 1 s log throttle, so each kind is logged even if the first copies arrive
        # before a node's subscription has matched this publisher (seen once in CI: the wrong size went unlogged)
        for _ in range(15):
            publisher.publish(msg)
            spin_for(0.1)
    spin_for(1.0)
    assert answers[BASE_ACTION] == [] and answers[RESIDUAL_ACTION] == []
    good_msg = joint_state(node.get_clock().now().to_msg(), CODEC.names, good)
    deadline = time.monotonic() + 20
    while not (answers[BASE_ACTION] and answers[RESIDUAL_ACTION]) and time.monotonic() < deadline:
        publisher.publish(good_msg)
        spin_for(0.2)
    assert answers[BASE_ACTION] and answers[RESIDUAL_ACTION]
    assert answers[BASE_ACTION][0].header.stamp == good_msg.header.stamp
    assert list(answers[RESIDUAL_ACTION][0].position) == [0.0, 0.0, 0.0, 0.0]
    assert answers["/no_model/residual_action"] == []
    assert missing.poll() is None  # up, reporting, not crashing in a loop
    spin_for(1.5)
    no_model = diagnostics["rpl_ros/no_model"]
    assert no_model.level == DiagnosticStatus.ERROR and "cannot use model" in no_model.message
    assert {v.key for v in diagnostics["rpl_ros/base_controller"].values} == {"rate_hz"}
    assert "zero" in {v.value for v in diagnostics["rpl_ros/residual_policy"].values}
    executor.shutdown()
    node.destroy_node()
    for process, expected in ((base, "refusing observation: observation has 30 values, expected 31"),
                              (residual, "refusing observation"),
                              (missing, "cannot use model")):
        output = node_outputs(process)
        assert expected in output and "Traceback" not in output


def graph_processes(domain_id: int):
    """Node processes of this test's graph, found by the domain id in their environment."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, PermissionError):
            continue
        if f"ROS_DOMAIN_ID={domain_id}".encode() in environ and b"rpl_ros.nodes." in cmdline:
            found.append(int(proc.name))
    return found


def test_ctrl_c_stops_every_node_cleanly(domain_id):
    env = dict(os.environ)
    launcher = subprocess.Popen([sys.executable, "-m", "rpl_ros.cli", "launch", "push_sim", "--episodes", "1000",
                                 "--domain-id", str(domain_id)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
    try:
        lines = []
        for line in launcher.stdout:
            lines.append(line)
            if "episode 0 (seed 0)" in line:
                break
        assert len(graph_processes(domain_id)) == 4
        launcher.send_signal(signal.SIGINT)
        rest, _ = launcher.communicate(timeout=30)
        assert launcher.returncode == 130
        output = "".join(lines) + rest
        assert "Traceback" not in output and "Exception in" not in output  # (the events executor's report)
        assert graph_processes(domain_id) == []
    finally:
        if launcher.poll() is None:
            launcher.kill()
        for pid in graph_processes(domain_id):
            os.kill(pid, signal.SIGKILL)


def test_rt_priority_on_a_lockstep_graph_is_warned_about_and_lockstep_reports_no_late_answers(domain_id):
    launcher = subprocess.run([sys.executable, "-m", "rpl_ros.cli", "launch", "push_sim", "--episodes", "1",
                               "--rt-priority", str(RT_PRIORITY), "--domain-id", str(domain_id)],
                              capture_output=True, text=True, timeout=GRAPH_TIMEOUT_S)
    assert launcher.returncode == 0, launcher.stdout + launcher.stderr
    assert "--rt-priority in lockstep mode" in launcher.stderr
    assert "missed cycles 0\n" in launcher.stdout and "answered late" not in launcher.stdout  # lockstep misses none


def test_the_bridge_says_which_nodes_hear_its_observations_when_the_run_starts(domain_id):
    launcher = subprocess.run([sys.executable, "-m", "rpl_ros.cli", "launch", "push_sim", "--episodes", "1",
                               "--domain-id", str(domain_id)], capture_output=True, text=True, timeout=GRAPH_TIMEOUT_S)
    assert launcher.returncode == 0, launcher.stdout + launcher.stderr
    said = [line for line in (launcher.stdout + launcher.stderr).splitlines() if "graph ready" in line]
    assert len(said) == 1 and said[0].endswith("graph ready: 2 subscribers of /rpl/observation, in base_controller, "
                                               "residual_policy"), said

"""Record -> train offline -> push a signed model: recordings as replay episodes, training from them (resumable),
and the trainer node publishing signed models over real DDS."""
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import EpisodeRunner
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.recording import TYPESTORE, SplitBagWriter, completed_bags
from rpl_ros.core.residual import ResidualModel, explore
from rpl_ros.core.tasks import make_env, task_spec
from rpl_ros.learn.config import Args
from rpl_ros.learn.offline import CHECKPOINT, MODEL, RecordingsTrainer, train_from_recordings
from rpl_ros.learn.recordings import EpisodeAssembler, read_episodes, stack_episodes
from rpl_ros.learn.train import ResumeMismatch
from rpl_ros.nodes.common import ACTION, BASE_ACTION, EPISODE, OBSERVATION, RESIDUAL_ACTION

TASK, HORIZON = "push", 50
SPEC = task_spec(TASK)
CODEC = ObservationCodec(SPEC.observation_sizes)
TOPICS = {OBSERVATION: "sensor_msgs/msg/JointState", BASE_ACTION: "sensor_msgs/msg/JointState",
          RESIDUAL_ACTION: "sensor_msgs/msg/JointState", ACTION: "sensor_msgs/msg/JointState",
          EPISODE: "std_msgs/msg/String"}
SMALL = Args(task=TASK, hidden=(32, 32), batch_size=32, updates_per_cycle=5, burn_in_window=1, buffer_episodes=50,
             progress_bar=False)


def joint_state_cdr(stamp_ns: int, names, values) -> bytes:
    types = TYPESTORE.types
    stamp = types["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    msg = types["sensor_msgs/msg/JointState"](
        header=types["std_msgs/msg/Header"](stamp=stamp, frame_id=""), name=list(names),
        position=np.asarray(values, np.float64), velocity=np.zeros(0), effort=np.zeros(0))
    return bytes(TYPESTORE.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


def string_cdr(text: str) -> bytes:
    return bytes(TYPESTORE.serialize_cdr(TYPESTORE.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String"))


def residual_of(obs) -> np.ndarray:
    """A made-up residual that depends on the state, so that recorded and stored actions can be told apart."""
    return np.clip(np.sin(obs["observation"][:4] * 7.0) * 0.3, -1.0, 1.0)


def record(root: Path, episodes: int, seed: int, drop_action_in=(), fallback_at=None, resend_at=None,
           crash_after=None) -> list:
    """Run ``episodes`` episodes in-process, base controller + residual_of, and write what the recorder writes:
    one bag per episode, the messages in the order the recorder can receive them (the next episode's first
    observation before the episode event). Faults: drop the applied action of one step in the episodes
    ``drop_action_in``; base-only fallback at step ``fallback_at`` (the arbitration applied the base alone);
    a lockstep re-send of the observation of step ``resend_at`` whose first answer came late; a recorder crash
    after ``crash_after`` steps of one more episode. Returns the episode results."""
    writer = SplitBagWriter(root, TOPICS)
    clock = iter(range(1_000_000_000, 10**12, 1_000_000))
    base = make_controller(SPEC.controller)
    runner = EpisodeRunner(TASK, episodes + (crash_after is not None), seed)

    def write(topic, stamp, names, values):
        writer.write(topic, next(clock), joint_state_cdr(stamp, names, values))

    while not runner.done:
        step, obs = runner.steps, runner.obs
        stamp = next(clock)
        write(OBSERVATION, stamp, CODEC.names, CODEC.encode(obs))
        base_action, residual = base(obs), residual_of(obs)
        if step == resend_at:  # the first observation went unanswered: re-sent under a new stamp
            late = stamp
            stamp = next(clock)
            write(OBSERVATION, stamp, CODEC.names, CODEC.encode(obs))
        applied = base_action if step == fallback_at else np.clip(base_action + residual, -1.0, 1.0)
        write(BASE_ACTION, stamp, SPEC.action_names, base_action)
        write(RESIDUAL_ACTION, stamp, SPEC.action_names, residual)
        if not (runner.episode in drop_action_in and step == 20):
            write(ACTION, stamp, SPEC.action_names, applied)
        if step == resend_at:  # the late answers to the first observation, which the bridge ignored
            for topic, values in ((BASE_ACTION, base_action), (RESIDUAL_ACTION, -residual), (ACTION, -applied)):
                write(topic, late, SPEC.action_names, values)
        if runner.episode == episodes and step + 1 == crash_after:
            return runner.results  # the recorder dies with its bag open
        result = runner.step(applied)
        if result is not None:
            if not runner.done:
                write(OBSERVATION, next(clock), CODEC.names, CODEC.encode(runner.obs))
            writer.write(EPISODE, next(clock), string_cdr(json.dumps(result.__dict__)))
            writer.split()
    writer.close()
    return runner.results


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """5 episodes of push: 0 and 2 with a dropped action (skipped), the others complete; a crashed sixth."""
    root = tmp_path_factory.mktemp("recordings")
    results = record(root, 5, seed=10, drop_action_in=(0, 2), fallback_at=7, resend_at=12, crash_after=30)
    return root, results


def test_recordings_become_the_residual_mdps_episodes(recordings):
    root, results = recordings
    assert len(completed_bags(root)) == 5 and len(list(root.glob("bag_*"))) == 6  # the crashed bag is left open
    assembler = EpisodeAssembler(TASK)
    episodes = read_episodes(assembler, completed_bags(root))
    assert [e.seed for e in episodes] == [11, 13, 14] and [e.key for e in episodes] == \
        ["bag_00001#0", "bag_00003#0", "bag_00004#0"]
    assert dict(assembler.skipped) == {"incomplete (recorder started mid-episode, dropped samples)": 2}
    assert "3 episodes rebuilt" in assembler.summary()

    batch = stack_episodes(episodes)
    assert batch["observation"].shape == (3, HORIZON + 1, 25) and batch["achieved_goal"].shape == (3, HORIZON + 1, 3)
    assert batch["desired_goal"].shape == (3, HORIZON, 3) and batch["action"].shape == (3, HORIZON, 4)
    assert batch["reward"].shape == (3, HORIZON)
    compute_reward = make_env(TASK).unwrapped.compute_reward
    np.testing.assert_array_equal(batch["reward"], compute_reward(batch["achieved_goal"][:, 1:],
                                                                  batch["desired_goal"], {}))
    for episode, result in zip(episodes, [results[i] for i in (1, 3, 4)]):
        assert episode.success == result.success
        assert episode.arrays["reward"].sum() == result.episode_return
        np.testing.assert_array_equal(episode.arrays["observation"][-1],
                                      CODEC.decode(CODEC.names, result.final_observation)["observation"])

    # Replayed in-process, the same seeds give the recorded states, residuals, base and applied actions.
    env, base = make_env(TASK), make_controller(SPEC.controller)
    for episode in episodes:
        obs, _ = env.reset(seed=episode.seed)
        for t in range(HORIZON):
            np.testing.assert_array_equal(episode.arrays["observation"][t], obs["observation"])
            expected = np.zeros(4) if t == 7 else residual_of(obs)  # the fallback step: the residual executed
            np.testing.assert_array_equal(episode.arrays["action"][t], expected)
            np.testing.assert_array_equal(episode.arrays["residual"][t], residual_of(obs))
            np.testing.assert_array_equal(episode.arrays["base"][t], base(obs))
            obs, *_ = env.step(episode.arrays["applied"][t])
    assert assembler.effective_residual_steps == 3  # one fallback step per episode


def test_train_command_trains_on_recordings_and_exports_an_onnx_residual(recordings, tmp_path):
    root, _ = recordings
    run = subprocess.run([sys.executable, "-m", "rpl_ros.cli", "train", "--from-recordings", str(root), "--task", TASK,
                          "--updates", "12", "--out", str(tmp_path), "--hidden", "32", "32", "--batch-size", "32",
                          "--updates-per-cycle", "5", "--burn-in-window", "1", "--no-progress-bar"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "5 bags, 3 episodes rebuilt" in run.stdout and "2 incomplete" in run.stdout
    assert "12 updates on 3 recorded episodes" in run.stdout
    model = ResidualModel((tmp_path / MODEL).read_bytes(), CODEC.policy_input_size, len(SPEC.action_names))
    residual = model(ObservationCodec.policy_input(CODEC.decode(CODEC.names, np.full(CODEC.size, 0.1))))
    assert residual.shape == (4,) and np.isfinite(residual).all()
    header, *rows = (tmp_path / "progress.csv").read_text().splitlines()
    assert header.startswith("updates,episodes") and [r.split(",")[:2] for r in rows] == [["12", "3"]]


def test_restarted_training_resumes_its_run(recordings, tmp_path):
    root, _ = recordings
    args = replace(SMALL, seed=4)
    straight = train_from_recordings(args, root, 20, tmp_path / "straight")
    train_from_recordings(args, root, 10, tmp_path / "resumed")
    checkpoint = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=False)
    restarted = RecordingsTrainer(args, root, tmp_path / "resumed")
    assert restarted.resumed and restarted.updates == 10
    for name, state in checkpoint["learner"].items():
        if name != "updates" and "optimizer" not in name:
            for key, value in getattr(restarted.learner, name).state_dict().items():
                assert torch.equal(value, state[key]), f"{name}.{key} not restored"
    resumed = train_from_recordings(args, root, 20, tmp_path / "resumed")
    assert resumed.updates == 20
    # The restart continued the run: it ends exactly where the uninterrupted one does.
    for name in ("actor", "critics", "actor_target", "critic_targets"):
        for (key, a), b in zip(getattr(straight.learner, name).state_dict().items(),
                               getattr(resumed.learner, name).state_dict().values()):
            assert torch.equal(a, b), f"{name}.{key} differs after resume"
    rows = (tmp_path / "resumed" / "progress.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["updates", "10", "20"]


def test_a_restarted_trainer_refuses_a_checkpoint_learned_on_another_base(recordings, tmp_path):
    root, _ = recordings
    train_from_recordings(SMALL, root, 10, tmp_path)
    with pytest.raises(ResumeMismatch, match="'push', not 'slippery_push'"):
        RecordingsTrainer(replace(SMALL, base="slippery_push"), root, tmp_path)


def test_training_from_recordings_refuses_an_asymmetric_critic(recordings, tmp_path):
    with pytest.raises(ValueError, match="recordings hold no noise-free state"):
        RecordingsTrainer(replace(SMALL, asymmetric_critic=True), recordings[0], tmp_path)


def test_an_exploring_residual_explores_as_the_learners_rollouts_do():
    rng = np.random.default_rng(0)
    residual = np.full((1000, 4), 0.9)
    np.testing.assert_array_equal(explore(residual.copy(), 0.0, 0.0, rng), residual)
    assert 0.18 < np.std(explore(np.zeros((1000, 4)), 0.2, 0.0, rng)) < 0.22  # Gaussian noise,
    assert explore(residual.copy(), 0.2, 0.0, rng).max() == 1.0  # clipped to the action box
    replaced = explore(residual.copy(), 0.0, 0.3, rng)
    rows = ~np.all(replaced == 0.9, axis=1)
    assert 0.25 < rows.mean() < 0.35 and replaced.min() >= -1.0  # whole residuals drawn uniformly in [-1, 1]
    assert explore(np.zeros(4), 0.0, 1.0, rng).shape == (4,)  # one residual, as the residual node explores


def test_trainer_node_publishes_signed_models_the_residual_node_accepts(recordings, ros_context, processes, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from std_msgs.msg import UInt8MultiArray
    from std_srvs.srv import Trigger

    from rpl_ros.core.envelope import generate_keypair, load_public_key
    from rpl_ros.core.hotswap import load_candidate
    from rpl_ros.nodes.common import DIAGNOSTICS, LATCHED_QOS, RESIDUAL_MODEL

    root = tmp_path / "recordings"
    shutil.copytree(recordings[0], root)
    private, public = generate_keypair(tmp_path / "keys")
    trainer = processes.start(["-m", "rpl_ros.learn.trainer_node", "--ros-args",
                               "-p", f"recordings:={root}", "-p", f"out_directory:={tmp_path / 'out'}",
                               "-p", f"private_key:={private}", "-p", "hidden:=[16, 16]", "-p", "batch_size:=16",
                               "-p", "updates_per_round:=10", "-p", "publish_every:=15",
                               "-p", "max_updates_per_episode:=10", "-p", "poll_period:=0.2"])
    node = Node("model_listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    models, diagnostics = [], {}
    node.create_subscription(UInt8MultiArray, RESIDUAL_MODEL, lambda m: models.append(bytes(m.data)), LATCHED_QOS)
    node.create_subscription(DiagnosticArray, DIAGNOSTICS, lambda m: diagnostics.update(
        {s.name: {v.key: v.value for v in s.values} for s in m.status}), 10)
    publish = node.create_client(Trigger, "/trainer/publish")

    def spin_until(condition, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline and trainer.poll() is None:
            executor.spin_once(timeout_sec=0.05)
        return condition()

    def trainer_status():
        return diagnostics.get("rpl_ros/trainer", {})

    try:
        # 3 recorded episodes allow 30 updates, in rounds of 10: a model goes out at update 20 (publish_every 15),
        # none at 30, where the trainer waits for more episodes.
        assert spin_until(lambda: trainer_status().get("updates") == "30" and len(models) == 1), \
            (trainer_status(), len(models))
        key = load_public_key(public)

        def version(model: bytes) -> str:  # accepted exactly as the residual node accepts a pushed model
            return load_candidate(model, key, CODEC.policy_input_size, len(SPEC.action_names)).version

        assert version(models[0]).startswith("push-u20-") and trainer_status()["last_version"] == version(models[0])
        assert trainer_status()["episodes"] == "3" and trainer_status()["skipped"] == "2"

        assert publish.wait_for_service(timeout_sec=10)  # ~/publish sends the current model out now
        future = publish.call_async(Trigger.Request())
        assert spin_until(future.done) and future.result().success
        assert spin_until(lambda: len(models) == 2) and version(models[1]).startswith("push-u30-")

        record(root, 2, seed=40)  # newly completed bags are read and trained on; 15 updates later a model goes out
        assert spin_until(lambda: len(models) == 3), trainer_status()
        assert version(models[2]).startswith("push-u50-")
        assert spin_until(lambda: trainer_status()["episodes"] == "5" and trainer_status()["bags"] == "7")
    finally:
        executor.shutdown()
        node.destroy_node()
    trainer.send_signal(signal.SIGINT)
    assert trainer.wait(timeout=20) == 0
    checkpoint = torch.load(tmp_path / "out" / CHECKPOINT, weights_only=False)  # saved at the last publish or exit
    assert checkpoint["learner"]["updates"] == 50


def test_trainer_node_keeps_back_a_model_that_does_not_beat_what_the_graph_runs(recordings, processes, tmp_path):
    """evaluate_episodes 2, evaluate_min_gain 1: the base succeeds on push seeds 0 and 1, so no model can clear
    the bar: none goes out, and the log says why."""
    from rpl_ros.core.envelope import generate_keypair

    root = tmp_path / "recordings"
    shutil.copytree(recordings[0], root)
    private, _ = generate_keypair(tmp_path / "keys")
    trainer = processes.start(["-m", "rpl_ros.learn.trainer_node", "--ros-args",
                               "-p", f"recordings:={root}", "-p", f"out_directory:={tmp_path / 'out'}",
                               "-p", f"private_key:={private}", "-p", "hidden:=[16, 16]", "-p", "batch_size:=16",
                               "-p", "updates_per_round:=10", "-p", "publish_every:=15",
                               "-p", "max_updates_per_episode:=10", "-p", "poll_period:=0.2",
                               "-p", "evaluate_episodes:=2", "-p", "evaluate_min_gain:=1.0"])
    models = tmp_path / "out" / "models"
    deadline = time.monotonic() + 60
    while not list(models.glob("*.onnx")) and time.monotonic() < deadline and trainer.poll() is None:
        time.sleep(0.2)
    time.sleep(2.0)  # the evaluation, after the model is written
    trainer.send_signal(signal.SIGINT)
    output = trainer.communicate(timeout=30)[0]
    assert list(models.glob("*.onnx")), output
    assert "not published: push-u20-" in output and "succeeded on" in output and "published residual" not in output


def test_trainer_node_will_not_run_without_a_signing_key(domain_id, tmp_path):
    run = subprocess.run([sys.executable, "-m", "rpl_ros.learn.trainer_node", "--ros-args",
                          "-p", f"out_directory:={tmp_path}"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "private_key is empty" in run.stderr


def test_what_the_real_graph_records_rebuilds_into_its_episodes(domain_id, tmp_path):
    """push_sim with the recorder node, lockstep: every rebuilt episode is one the bridge ran, with its outcome.
    The recorder's best-effort subscriptions may drop samples at full lockstep speed: those episodes are skipped."""
    from rpl_ros.bringup import NodeSpec, load_graph
    from rpl_ros.runner import run_graph

    graph = load_graph("push_sim", {"episodes": 3, "seed": 5, "mujoco_bridge.wait_for_subscribers": 3})
    graph.nodes.append(NodeSpec("recorder", "recorder", {"directory": str(tmp_path)}))
    status, summary = run_graph(graph, domain_id, timeout_s=120)
    assert status == 0 and summary is not None
    assembler = EpisodeAssembler(TASK)
    episodes = read_episodes(assembler, completed_bags(tmp_path))
    assert episodes and len(episodes) + sum(assembler.skipped.values()) == 3, assembler.summary()
    ran = {result.seed: result.success for result in summary.episodes}
    assert all(ran[episode.seed] == episode.success for episode in episodes)


def test_the_live_graph_records_trains_and_explores(tmp_path):
    from rpl_ros.bringup import load_graph
    from rpl_ros.cli import residual_stays_zero
    from rpl_ros.runner import node_command

    graph = load_graph("slippery_push_live", {"task": "push"})
    assert set(graph.node_names) >= {"mujoco_bridge", "residual_policy", "recorder", "trainer"}
    assert {n.parameters["task"] for n in graph.nodes if "task" in n.parameters} == {"push"}
    assert graph.node("trainer").parameters["recordings"] == graph.node("recorder").parameters["directory"]
    trainer_command = node_command("trainer", "trainer", tmp_path / "p.yaml", ["--executor", "events"])
    assert trainer_command[2] == "rpl_ros.learn.trainer_node"
    # The zero-residual == base check of `rpl-ros launch` applies to push_sim, not to a graph that learns.
    assert residual_stays_zero(load_graph("push_sim")) and not residual_stays_zero(graph)

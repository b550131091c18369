"""The learner's mechanics on the real FetchPush task, real torch and real onnxruntime (learning itself is
shown in bench/, not asserted here)."""
import argparse
import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel
from rpl_ros.core.tasks import make_env
from rpl_ros.learn.config import Args, add_arguments, args_from_namespace
from rpl_ros.learn.export import PARITY_TOLERANCE, actor_to_onnx, onnx_parity_error
from rpl_ros.learn.networks import Actor, Normalizer
from rpl_ros.learn.replay import EpisodeReplay, her_sample
from rpl_ros.learn.train import (BEST_MODEL, BurnInGate, ResidualLearner, ResumeMismatch, collect_rollout,
                                 deployed_policy, make_base, make_vector_env, policy_inputs, residual_actions, train)

OBS_DIM, ACT_DIM, HORIZON = 28, 4, 50
SMALL = Args(hidden=(32, 32), batch_size=32, updates_per_cycle=4, num_envs=2, async_envs=False,
             eval_episodes=2, burn_in_window=1, progress_bar=False)


@pytest.fixture(scope="module")
def push_env():
    env = make_env("push")
    yield env
    env.close()


def fetch_obs(env, seed, steps=0):
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        obs, *_ = env.step(env.action_space.sample())
    return obs


def random_episodes(n, rng):
    return {"observation": rng.normal(size=(n, HORIZON + 1, 25)).astype(np.float32),
            "achieved_goal": rng.normal(size=(n, HORIZON + 1, 3)).astype(np.float32),
            "desired_goal": rng.normal(size=(n, HORIZON, 3)).astype(np.float32),
            "action": rng.uniform(-1, 1, (n, HORIZON, ACT_DIM)).astype(np.float32),
            "reward": rng.uniform(-1, 0, (n, HORIZON)).astype(np.float32)}


# --- the residual policy --------------------------------------------------------------------------------

def test_zero_initialised_residual_is_exactly_the_base(push_env):
    torch.manual_seed(0)
    normalizer = Normalizer(OBS_DIM)
    normalizer.update(np.random.default_rng(0).normal(3.0, 2.0, (100, OBS_DIM)))
    actor = Actor(normalizer, OBS_DIM, ACT_DIM, (64, 64), zero_init_last_layer=True)
    base = make_controller("push")
    policy = deployed_policy(ResidualModel(actor_to_onnx(actor), OBS_DIM, ACT_DIM), base, scale=1.0)
    obs, _ = push_env.reset(seed=3)
    for _ in range(HORIZON):
        with torch.no_grad():
            assert torch.all(actor(torch.as_tensor(ObservationCodec.policy_input(obs))[None]) == 0.0)
        action = policy(obs)
        np.testing.assert_array_equal(action, base(obs))
        obs, *_ = push_env.step(action)
    # Not a property of any actor: a default-initialised last layer does change the action.
    moved = Actor(normalizer, OBS_DIM, ACT_DIM, (64, 64), zero_init_last_layer=False)
    moved_policy = deployed_policy(ResidualModel(actor_to_onnx(moved), OBS_DIM, ACT_DIM), base, 1.0)
    assert not np.array_equal(moved_policy(obs), base(obs))


def test_residual_sum_is_scaled_and_clipped_to_the_action_box():
    obs = {"observation": np.zeros((2, 25)), "desired_goal": np.zeros((2, 3)), "achieved_goal": np.zeros((2, 3))}

    def base(_obs):
        return np.array([0.9, -0.9, 0.2, 0.0])

    residual = np.array([[0.5, -0.5, 0.5, -1.0], [-1.0, 1.0, 0.0, 0.4]])
    np.testing.assert_allclose(residual_actions(base, obs, residual, 0.5),
                               [[1.0, -1.0, 0.45, -0.5], [0.4, -0.4, 0.2, 0.2]])
    # From scratch the base is zero and the residual is the whole (clipped) action.
    np.testing.assert_allclose(residual_actions(None, obs, residual, 2.0), np.clip(2.0 * residual, -1, 1))


def test_batched_policy_inputs_match_the_graphs_policy_input(push_env):
    rows = [fetch_obs(push_env, seed, steps=3) for seed in range(4)]
    batch = policy_inputs(np.stack([r["observation"] for r in rows]), np.stack([r["desired_goal"] for r in rows]))
    expected = np.stack([ObservationCodec.policy_input(r) for r in rows])
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, expected)


def test_base_choice():
    assert make_base(replace(SMALL, base="none")) is None
    assert make_base(replace(SMALL, base="task")) is not None
    with pytest.raises(ValueError, match="unknown base controller"):
        make_base(replace(SMALL, base="nope"))
    with pytest.raises(ValueError, match="algorithm"):
        replace(SMALL, algorithm="sac")


def test_unset_settings_follow_the_tasks_reward_and_horizon_and_given_ones_win():
    assert (SMALL.her_k, SMALL.clip_target, SMALL.polyak) == (4, True, 0.95)  # Push: sparse, 50 steps: the paper's
    assert SMALL.gamma == 1.0 - 1.0 / 50  # 1 - 1/T
    hook = Args(task="complex_hook")  # sparse, 100 steps
    assert (hook.her_k, hook.clip_target, hook.polyak, hook.gamma) == (4, True, 0.5, 1.0 - 1.0 / 100)
    dense = Args(task="mbrl_pusher")
    assert (dense.her_k, dense.clip_target, dense.polyak, dense.gamma) == (0, False, 0.5, 1.0 - 1.0 / 150)
    given = Args(task="mbrl_pusher", her_k=2, clip_target=True, polyak=0.9, gamma=0.9)
    assert (given.her_k, given.clip_target, given.polyak, given.gamma) == (2, True, 0.9, 0.9)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    from_cli = args_from_namespace(parser.parse_args(["--task", "mbrl_pusher", "--no-clip-target", "--her-k", "1"]))
    assert (from_cli.her_k, from_cli.clip_target, from_cli.polyak) == (1, False, 0.5)
    with pytest.raises(ValueError, match="unknown task"):
        Args(task="nope")


# --- HER ------------------------------------------------------------------------------------------------

def test_her_relabels_with_future_achieved_goals_and_recomputes_rewards(push_env):
    rng = np.random.default_rng(0)
    episodes = random_episodes(3, rng)
    compute_reward = push_env.unwrapped.compute_reward
    batch = her_sample(episodes, 2000, np.random.default_rng(1), 1.0, compute_reward)
    for i in range(2000):
        # Which stored transition is this, and which later achieved goal became its goal?
        e, t = map(int, np.argwhere((episodes["observation"][:, :-1] == batch["observation"][i]).all(-1))[0])
        np.testing.assert_array_equal(batch["next_observation"][i], episodes["observation"][e, t + 1])
        later = np.flatnonzero((episodes["achieved_goal"][e] == batch["goal"][i]).all(-1))
        assert later.size and later.max() > t, "relabelled goal must come from a later step of the same episode"
    achieved_next = np.stack([episodes["achieved_goal"][e, t + 1] for e, t in (
        map(int, np.argwhere((episodes["observation"][:, :-1] == o).all(-1))[0]) for o in batch["observation"])])
    expected = -(np.linalg.norm(achieved_next - batch["goal"], axis=-1) > 0.05).astype(np.float32)
    np.testing.assert_array_equal(batch["reward"], expected)
    assert (batch["reward"] == 0).any() and (batch["reward"] == -1).any()

    def no_reward_function(*_):
        raise AssertionError("without relabelling the stored rewards are used")

    original = her_sample(episodes, 500, np.random.default_rng(2), 0.0, no_reward_function)
    for i in range(500):  # the stored goal and the stored reward of that very transition
        e, t = map(int, np.argwhere((episodes["observation"][:, :-1] == original["observation"][i]).all(-1))[0])
        np.testing.assert_array_equal(original["goal"][i], episodes["desired_goal"][e, t])
        assert original["reward"][i] == episodes["reward"][e, t]
    mixed = her_sample(episodes, 4000, np.random.default_rng(3), 0.8, compute_reward)
    kept = np.mean([((episodes["desired_goal"] == g).all(-1)).any() for g in mixed["goal"]])
    assert 0.17 < kept < 0.23  # k = 4: one real goal for four relabelled ones


def test_replay_is_a_ring_of_whole_episodes():
    rng = np.random.default_rng(0)
    replay = EpisodeReplay(4, HORIZON, {"observation": 25, "goal": 3, "action": ACT_DIM})
    batches = [random_episodes(3, rng), random_episodes(3, rng)]
    for episodes in batches:
        replay.add(episodes)
    assert replay.size == 4 and replay.next == 2
    np.testing.assert_array_equal(replay.data["action"][0], batches[1]["action"][1])  # overwrote the oldest
    np.testing.assert_array_equal(replay.data["action"][3], batches[1]["action"][0])


def test_rollout_stores_residual_actions_and_the_states_they_led_to():
    envs = make_vector_env(SMALL)
    torch.manual_seed(0)
    actor = Actor(Normalizer(OBS_DIM), OBS_DIM, ACT_DIM, (16,), zero_init_last_layer=True)
    episodes = collect_rollout(envs, actor, make_base(SMALL), SMALL, HORIZON, np.random.default_rng(0), seed=7)
    envs.close()
    assert episodes["observation"].shape == (2, HORIZON + 1, 25) and episodes["action"].shape == (2, HORIZON, 4)
    reward_env = make_env("push").unwrapped
    np.testing.assert_array_equal(episodes["reward"], reward_env.compute_reward(
        episodes["achieved_goal"][:, 1:], episodes["desired_goal"], {}))  # the reward of each stored step
    assert np.abs(episodes["action"]).max() <= 1.0 and episodes["success"].shape == (2,)
    first, _ = make_env("push").reset(seed=7)
    np.testing.assert_array_equal(episodes["observation"][0, 0], first["observation"].astype(np.float32))


# --- burn-in --------------------------------------------------------------------------------------------

def test_burn_in_gates():
    gate = BurnInGate("critic_loss", beta=1.0, window=1)
    assert not gate.judge(1.5, -3.0, 100) and not gate.released
    assert gate.judge(0.5, -3.0, 200) and gate.released_at_step == 200
    assert not gate.judge(5.0, -3.0, 300) and gate.released  # released for good

    gate = BurnInGate("q_change", beta=1.0, window=1)
    assert not gate.judge(0.1, -2.0, 100)  # no previous mean Q to compare with
    assert not gate.judge(0.1, -4.0, 200)
    assert gate.judge(0.1, -4.5, 300) and gate.released_at_step == 300
    assert BurnInGate("off", 1.0, window=1).released


def test_burn_in_judges_window_means():
    gate = BurnInGate("critic_loss", beta=1.0, window=3)
    assert [gate.judge(loss, 0.0, step) for step, loss in enumerate([0.5, 0.5, 2.5])] == [False] * 3  # mean 1.17
    assert [gate.judge(loss, 0.0, step) for step, loss in enumerate([0.1, 0.1, 2.5], 3)] == [False, False, True]
    assert gate.released_at_step == 5

    gate = BurnInGate("q_change", beta=1.0, window=2)
    judged = [gate.judge(0.0, q, step) for step, q in enumerate([0.0, -2.0, -3.0, -3.0, -3.0, -2.5])]
    assert judged == [False, False, False, False, False, True]  # window means -1, -3, -2.75


def test_actor_is_frozen_during_burn_in_and_learns_after():
    torch.manual_seed(0)
    args = replace(SMALL, polyak=0.5)
    learner = ResidualLearner(args, OBS_DIM, ACT_DIM, gamma=0.98)
    episodes = random_episodes(4, np.random.default_rng(0))
    compute_reward = make_env("push").unwrapped.compute_reward
    rng = np.random.default_rng(1)

    def snapshot(module):
        return [p.detach().clone() for p in module.parameters()]

    actor_before, critic_before = snapshot(learner.actor), snapshot(learner.critics)
    for _ in range(5):
        stats = learner.update(her_sample(episodes, 32, rng, 0.8, compute_reward), train_actor=False)
        assert "actor_loss" not in stats
    learner.update_targets()
    assert all(torch.equal(a, b) for a, b in zip(actor_before, snapshot(learner.actor)))
    assert not all(torch.equal(a, b) for a, b in zip(critic_before, snapshot(learner.critics)))

    learner.update(her_sample(episodes, 32, rng, 0.8, compute_reward), train_actor=True)
    assert not all(torch.equal(a, b) for a, b in zip(actor_before, snapshot(learner.actor)))


def test_td3_has_twin_critics_and_delays_the_actor():
    torch.manual_seed(0)
    learner = ResidualLearner(replace(SMALL, algorithm="td3"), OBS_DIM, ACT_DIM, gamma=0.98)
    assert len(learner.critics) == 2
    episodes = random_episodes(2, np.random.default_rng(0))
    compute_reward = make_env("push").unwrapped.compute_reward
    rng = np.random.default_rng(1)
    steps = [learner.update(her_sample(episodes, 32, rng, 0.8, compute_reward), True) for _ in range(4)]
    assert ["actor_loss" in s for s in steps] == [False, True, False, True]


def test_an_asymmetric_critic_judges_the_noise_free_state_and_the_actor_keeps_the_observation():
    state_dim = 37
    episodes = random_episodes(4, np.random.default_rng(0))
    # each step's state and observation carry its (episode, step), so a batch shows which it drew
    index = np.stack(np.meshgrid(np.arange(4), np.arange(HORIZON + 1), indexing="ij"), -1).astype(np.float32)
    episodes["observation"][..., :2] = index
    episodes["state"] = np.concatenate([index, np.zeros((4, HORIZON + 1, state_dim - 2), np.float32)], -1)
    compute_reward = make_env("push").unwrapped.compute_reward
    batch = her_sample(episodes, 64, np.random.default_rng(1), 0.8, compute_reward)
    np.testing.assert_array_equal(batch["state"][:, :2], batch["observation"][:, :2])
    np.testing.assert_array_equal(batch["next_state"][:, :2], batch["next_observation"][:, :2])
    np.testing.assert_array_equal(batch["next_state"][:, 1], batch["state"][:, 1] + 1)

    # the same batch but for the observations: the asymmetric critic learns the same, the usual one does not
    scrambled = {**batch, "observation": batch["observation"][::-1].copy(),
                 "next_observation": batch["next_observation"][::-1].copy()}
    critics = []
    for critic_dim in (state_dim + 3, None):
        for b in (batch, scrambled):
            torch.manual_seed(0)
            learner = ResidualLearner(SMALL, OBS_DIM, ACT_DIM, gamma=0.98, critic_dim=critic_dim)
            learner.critic_normalizer.update(policy_inputs(batch["state"] if critic_dim else batch["observation"],
                                                           batch["goal"]))
            learner.update(b, train_actor=False)  # the zero-initialised actor answers 0 to any observation
            critics.append([p.detach().clone() for p in learner.critics.parameters()])
            assert learner.actor.body[0].in_features == OBS_DIM  # what the graph feeds it
            assert learner.critics[0].body[0].in_features == (critic_dim or OBS_DIM) + ACT_DIM
            assert all(target.normalizer is learner.critic_normalizer for target in learner.critic_targets)
            actor_before = [p.detach().clone() for p in learner.actor.parameters()]
            learner.update(b, train_actor=True)  # the actor learns through the critic's view
            assert not all(torch.equal(a, p) for a, p in zip(actor_before, learner.actor.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(critics[0], critics[1]))
    assert not all(torch.equal(a, b) for a, b in zip(critics[2], critics[3]))


def test_an_asymmetric_run_stores_the_states_and_resumes_only_as_one(tmp_path):
    args = replace(SMALL, task="noisy_hook_drag", asymmetric_critic=True)
    envs = make_vector_env(args)
    actor = Actor(Normalizer(74 + 3), 74 + 3, ACT_DIM, (16,), zero_init_last_layer=True)
    episodes = collect_rollout(envs, actor, make_base(args), args, 100, np.random.default_rng(0), seed=7)
    envs.close()
    assert episodes["state"].shape == (2, 101, 37)
    np.testing.assert_array_equal(episodes["state"][..., 3:6], episodes["achieved_goal"])  # the true block

    run = replace(args, steps=200, eval_every=200, run_dir=str(tmp_path / "run"))
    train(run)
    with pytest.raises(ResumeMismatch, match="trained with --asymmetric-critic: resume it the same way"):
        train(replace(run, steps=400, resume=True, asymmetric_critic=False))
    train(replace(run, steps=400, resume=True))
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert checkpoint["replay"]["data"]["state"].shape == (4, 101, 37)
    critic_normalizer = {key: value for key, value in checkpoint["learner"]["critics"].items() if "normalizer" in key}
    assert critic_normalizer["0.normalizer.count"] == 4 * 100  # one input per stored step of the 4 episodes
    assert critic_normalizer["0.normalizer.mean"].shape == (37 + 3,)
    with pytest.raises(ValueError, match="Push-v0 reports no noise-free state"):
        train(replace(SMALL, steps=200, asymmetric_critic=True, run_dir=str(tmp_path / "push")))


# --- export ---------------------------------------------------------------------------------------------

def test_onnx_export_matches_torch():
    torch.manual_seed(0)
    normalizer = Normalizer(OBS_DIM)
    normalizer.update(np.random.default_rng(0).normal(1.0, 3.0, (500, OBS_DIM)))
    actor = Actor(normalizer, OBS_DIM, ACT_DIM, (256, 256, 256), zero_init_last_layer=False)
    inputs = np.random.default_rng(1).normal(1.0, 6.0, (64, OBS_DIM)).astype(np.float32)  # some past the clip
    error = onnx_parity_error(actor, actor_to_onnx(actor), inputs)
    assert error <= PARITY_TOLERANCE
    assert onnx_parity_error(actor, actor_to_onnx(Actor(normalizer, OBS_DIM, ACT_DIM, (256, 256, 256), False)),
                             inputs) > 1e-3  # the check sees a different network


# --- the run --------------------------------------------------------------------------------------------

def test_resume_continues_the_same_run(tmp_path):
    args = replace(SMALL, steps=400, eval_every=200, seed=3)
    straight = train(replace(args, run_dir=str(tmp_path / "straight")))
    train(replace(args, steps=200, run_dir=str(tmp_path / "resumed")))
    halfway = tmp_path / "resumed" / "checkpoint.pt"
    checkpoint = torch.load(halfway, weights_only=False)
    checkpoint["progress"]["cycles"] = 4  # a field that checkpoints older than 2026-12-03 have
    torch.save(checkpoint, halfway)
    resumed = train(replace(args, run_dir=str(tmp_path / "resumed"), resume=True))
    assert resumed == straight
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)
    assert a["progress"]["step"] == b["progress"]["step"] == 400
    assert {**a["progress"], "wall_s": 0} == {**b["progress"], "wall_s": 0} and a["best_model"] == b["best_model"]
    for name in ("actor", "critics", "actor_target", "critic_targets"):
        for key, value in a["learner"][name].items():
            assert torch.equal(value, b["learner"][name][key]), f"{name}.{key} differs after resume"
    for key in a["replay"]["data"]:
        np.testing.assert_array_equal(a["replay"]["data"][key], b["replay"]["data"][key])
    rows = [(tmp_path / run / "progress.csv").read_text().splitlines() for run in ("straight", "resumed")]
    assert [r.split(",")[:2] + r.split(",")[3:] for r in rows[0]] == \
        [r.split(",")[:2] + r.split(",")[3:] for r in rows[1]]  # same rows but wall-clock
    assert (tmp_path / "resumed" / "residual.onnx").stat().st_size > 0 and any((tmp_path / "resumed" / "tb").iterdir())


def test_the_best_evaluated_model_is_kept(tmp_path):
    args = replace(SMALL, steps=800, eval_every=200, seed=1, run_dir=str(tmp_path))
    train(args)
    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))[1:]  # after step 0, the base alone
    best = max(float(row["eval_success"]) for row in rows)
    ties = [row for row in rows if float(row["eval_success"]) == best]
    best_row = ties[0]  # the first on ties
    # what the run must tell apart: the last model is not the best, and a later one ties with it (other weights)
    assert float(rows[-1]["eval_success"]) < best
    assert len(ties) > 1 and ties[1]["eval_return"] != best_row["eval_return"]
    progress = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["progress"]
    assert (progress["best_eval"], progress["best_step"]) == (best, int(best_row["step"]))
    model = ResidualModel((tmp_path / BEST_MODEL).read_bytes(), OBS_DIM, ACT_DIM)
    again = run_in_process("push", deployed_policy(model, make_base(args), args.residual_scale), args.eval_episodes,
                           args.eval_seed)
    assert np.mean([r.success for r in again]) == best
    assert np.mean([r.episode_return for r in again]) == pytest.approx(float(best_row["eval_return"]))


def test_a_run_killed_while_checkpointing_keeps_its_last_checkpoint(tmp_path, monkeypatch):
    args = replace(SMALL, steps=200, eval_every=200, run_dir=str(tmp_path))
    train(args)
    kept = (tmp_path / "checkpoint.pt").read_bytes()

    def killed_while_writing(state, path):
        Path(path).write_bytes(kept[:1000])  # what a kill in the middle of the write leaves
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", killed_while_writing)
        with pytest.raises(KeyboardInterrupt):
            train(replace(args, steps=400, resume=True))
    assert (tmp_path / "checkpoint.pt").read_bytes() == kept
    assert not (tmp_path / "checkpoint.pt.partial").exists()
    train(replace(args, steps=400, resume=True))
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["progress"]["step"] == 400
    steps = [row["step"] for row in csv.DictReader((tmp_path / "progress.csv").open())]
    assert steps == ["0", "200", "400"]  # the evaluation at 400 once, though the killed run had written it


def test_a_checkpoint_from_before_best_models_keeps_the_best_from_its_step_on(tmp_path):
    args = replace(SMALL, steps=200, eval_every=200, run_dir=str(tmp_path))
    train(args)
    old = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    del old["best_model"], old["progress"]["best_eval"], old["progress"]["best_step"], old["progress"]["best_since"]
    torch.save(old, tmp_path / "checkpoint.pt")
    (tmp_path / BEST_MODEL).unlink()
    train(replace(args, steps=400, resume=True))
    progress = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["progress"]
    assert (progress["best_since"], progress["best_step"]) == (200, 400) and (tmp_path / BEST_MODEL).exists()


def test_a_resume_whose_progress_csv_is_gone_starts_a_new_one_with_its_header(tmp_path):
    args = replace(SMALL, steps=200, eval_every=200, run_dir=str(tmp_path))
    train(args)
    (tmp_path / "progress.csv").unlink()
    train(replace(args, steps=400, resume=True))
    assert [row["step"] for row in csv.DictReader((tmp_path / "progress.csv").open())] == ["400"]


def test_resume_refuses_a_checkpoint_learned_on_another_base(tmp_path):
    args = replace(SMALL, steps=200, eval_every=200, run_dir=str(tmp_path / "run"))
    train(args)
    with pytest.raises(ResumeMismatch, match="'push', not 'none': resume it with --base push"):
        train(replace(args, steps=400, base="none", resume=True))


def test_train_command_exports_a_residual_the_graph_can_load(tmp_path):
    run = subprocess.run([sys.executable, "-m", "rpl_ros.cli", "train", "--task", "push", "--steps", "200",
                          "--hidden", "16", "16", "--batch-size", "16", "--updates-per-cycle", "2",
                          "--eval-episodes", "1", "--burn-in-window", "1", "--run-dir", str(tmp_path),
                          "--no-progress-bar"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "residual exported" in run.stdout and "burn-in over" in run.stdout
    ResidualModel((tmp_path / "residual.onnx").read_bytes(), OBS_DIM, ACT_DIM)
    header, *rows = (tmp_path / "progress.csv").read_text().splitlines()
    assert header.startswith("step,episodes,wall_s,eval_success") and [r.split(",")[0] for r in rows] == ["0", "200"]


def test_launch_never_imports_torch():
    code = "import sys, rpl_ros.cli; rpl_ros.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_compare_curves_draws_each_sets_seeds_as_trailing_means(tmp_path):
    curves = tmp_path / "curves.csv"
    rows = ["variant,seed,step,wall_s,eval_success,eval_return,actor_released"]
    for seed, successes in ((0, [0.0, 0.2, 0.4, 0.6]), (1, [0.0, 0.0, 1.0, 1.0])):
        rows += [f"rpl,{seed},{10000 * i},0.0,{v},-50.0,1" for i, v in enumerate(successes)]
    rows.append("scratch,0,0,0.0,0.9,-50.0,1")  # another variant: not drawn
    curves.write_text("\n".join(rows) + "\n")
    out = tmp_path / "compare.png"
    run = subprocess.run([sys.executable, "bench/compare_curves.py", "--out", str(out), "--window", "2",
                          f"one set={curves}"], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "one set: 2 seeds to 30000 steps; mean of the last 2 evaluations per seed: 0.50 / 1.00" in run.stdout
    assert out.stat().st_size > 10_000


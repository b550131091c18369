"""Residual Policy Learning: DDPG (or TD3) + HER on the residual MDP, with zero init and critic burn-in.

Read top to bottom: the residual policy, the burn-in gate, the update rule, one cycle of learning (shared with
training from recordings, rpl_ros.learn.offline), collection and evaluation, the run (checkpoints, logs, ONNX
export, and the best-evaluated residual kept as the reference code keeps its policy_best). The paper's ideas each
have one place:
  residual sum          ``residual_actions`` -> rpl_ros.core.arbitration.residual_sum (the graph's own sum)
  zero-initialised f    ``Actor(zero_init_last_layer=True)`` in networks.py
  critic burn-in        ``BurnInGate``
  HER relabelling       ``her_sample`` in replay.py
Beyond the paper, for the noisy tasks: a critic that sees the simulator's noise-free state (``ResidualLearner``'s
``critic_dim``, ``--asymmetric-critic``), while the actor keeps the observation the graph will give it.
The learner works in the residual MDP: the agent's action is f(s) in [-1, 1]; the environment receives
clip(pi(s) + scale * f(s), -1, 1), with pi(s) computed at every step from the observation the actor sees.
With ``base='none'`` pi(s) = 0 and this is plain DDPG/TD3 + HER, the paper's from-scratch comparison.
"""
import copy
import csv
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel, explore
from rpl_ros.core.tasks import make_env, task_spec
from rpl_ros.learn.config import NO_BASE, TASK_BASE, Args
from rpl_ros.learn.export import actor_to_onnx, export_residual
from rpl_ros.learn.networks import Actor, Critic, Normalizer
from rpl_ros.learn.replay import EpisodeReplay, her_sample

TRAIN_SEED_STRIDE = 1_000_000
"""training episode seeds start at (seed + 1) * stride, far from the evaluation seeds"""


# --- the residual policy --------------------------------------------------------------------------------

def base_controller_name(args: Args) -> str:
    """The base controller this run learns a residual on: the task's, the one asked for, or ``none``."""
    return task_spec(args.task).controller if args.base == TASK_BASE else args.base


def make_base(args: Args) -> Optional[Callable]:
    """pi(s), or None to learn from scratch."""
    name = base_controller_name(args)
    return None if name == NO_BASE else make_controller(name)


class ResumeMismatch(ValueError):
    """A checkpoint that cannot go on as this run: its residual was learned on another base controller."""


def policy_inputs(observation: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """ObservationCodec.policy_input for a batch: [observation, desired goal] along the last axis, float32."""
    return np.concatenate([observation, goal], axis=-1).astype(np.float32)


def residual_actions(base: Optional[Callable], obs: Dict[str, np.ndarray], residual: np.ndarray,
                     scale: float) -> np.ndarray:
    """The action the environment receives, for a batch: clip(pi(s) + scale * f(s)), the graph's same sum."""
    rows = [{key: value[i] for key, value in obs.items()} for i in range(residual.shape[0])]
    base_actions = np.stack([base(row) for row in rows]) if base else np.zeros_like(residual, dtype=np.float64)
    return residual_sum(base_actions, residual.astype(np.float64), scale)


def deployed_policy(residual: ResidualModel, base: Optional[Callable], scale: float) -> Callable:
    """What the graph does for one observation: residual_sum(pi(s), scale * f(policy_input(s))), with f the
    exported ONNX run by the residual_policy node's own runtime, so that both apply bit-identical actions."""

    def policy(obs: Dict[str, np.ndarray]) -> np.ndarray:
        f = residual(ObservationCodec.policy_input(obs))
        return residual_actions(base, {key: value[None] for key, value in obs.items()}, f[None], scale)[0]

    return policy


# --- critic burn-in -------------------------------------------------------------------------------------

class BurnInGate:
    """The actor stays frozen until the critic has burnt in; once released, it stays released.

    Judged on the means over each ``window`` cycles of critic updates:
    'critic_loss' (the paper): release when the mean critic loss is below beta.
    'q_change' (the reference code): release when the mean Q changed by less than beta since the last window.
    'off': the actor learns from the first update.
    """

    def __init__(self, mode: str, beta: float, window: int):
        self.mode, self.beta, self.window = mode, beta, window
        self.released = mode == "off"
        self.released_at_step: Optional[int] = 0 if self.released else None
        self.last_mean_q: Optional[float] = None
        self.pending: List[Tuple[float, float]] = []
        self.reason = "off" if self.released else ""

    def judge(self, critic_loss: float, mean_q: float, step: int) -> bool:
        """Take one cycle's means; True when this cycle released the actor."""
        if self.released:
            return False
        self.pending.append((critic_loss, mean_q))
        if len(self.pending) < self.window:
            return False
        critic_loss, mean_q = np.mean(self.pending, axis=0)
        self.pending = []
        if self.mode == "critic_loss":
            self.released = bool(critic_loss < self.beta)
            self.reason = f"mean critic loss {critic_loss:.3f} < beta {self.beta}"
        else:
            change = abs(mean_q - self.last_mean_q) if self.last_mean_q is not None else float("inf")
            self.released = bool(change < self.beta)
            self.reason = f"mean Q {mean_q:.2f} changed by {change:.2f} < beta {self.beta}"
        self.last_mean_q = float(mean_q)
        if self.released:
            self.released_at_step = step
        return self.released


def release_reason(gate: BurnInGate) -> str:
    return f"actor released ({gate.mode}: {gate.reason}, over the last {gate.window} cycles)"


# --- the update rule ------------------------------------------------------------------------------------

class ResidualLearner:
    """DDPG, or TD3, on batches of (HER-relabelled) transitions of the residual MDP.

    ``obs_dim`` is the actor's input (observation and goal). With ``critic_dim`` the critic has inputs of its own,
    the noise-free state and the goal (``Args.asymmetric_critic``), normalized apart; without, it sees the actor's.
    """

    def __init__(self, args: Args, obs_dim: int, act_dim: int, gamma: float, critic_dim: Optional[int] = None):
        self.args, self.gamma = args, gamma
        self.normalizer = Normalizer(obs_dim, args.obs_clip)
        self.asymmetric = critic_dim is not None
        self.critic_normalizer = Normalizer(critic_dim, args.obs_clip) if self.asymmetric else self.normalizer
        self.actor = Actor(self.normalizer, obs_dim, act_dim, args.hidden, args.zero_init_last_layer)
        n_critics = 2 if args.algorithm == "td3" else 1
        self.critics = torch.nn.ModuleList(Critic(self.critic_normalizer, critic_dim or obs_dim, act_dim, args.hidden)
                                           for _ in range(n_critics))
        # Targets share the online networks' normalizers: copy everything else.
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_targets = copy.deepcopy(self.critics)
        self.actor_target.normalizer = self.normalizer
        for target in self.critic_targets:
            target.normalizer = self.critic_normalizer
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=args.lr_actor)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=args.lr_critic)
        self.q_max = 0.0
        self.q_min = -1.0 / (1.0 - gamma) if args.clip_target else -float("inf")
        self.updates = 0

    def update(self, batch: Dict[str, np.ndarray], train_actor: bool) -> Dict[str, float]:
        args = self.args
        obs = torch.as_tensor(policy_inputs(batch["observation"], batch["goal"]))
        next_obs = torch.as_tensor(policy_inputs(batch["next_observation"], batch["goal"]))
        critic_obs, next_critic_obs = obs, next_obs
        if self.asymmetric:  # the critic's view: the same steps without the noise
            critic_obs = torch.as_tensor(policy_inputs(batch["state"], batch["goal"]))
            next_critic_obs = torch.as_tensor(policy_inputs(batch["next_state"], batch["goal"]))
        action, reward = torch.as_tensor(batch["action"]), torch.as_tensor(batch["reward"])
        with torch.no_grad():
            next_action = self.actor_target(next_obs)
            if args.algorithm == "td3":  # target policy smoothing
                noise = (torch.randn_like(next_action) * args.td3_policy_noise).clamp(-args.td3_noise_clip,
                                                                                       args.td3_noise_clip)
                next_action = (next_action + noise).clamp(-1.0, 1.0)
            next_q = torch.min(torch.stack([target(next_critic_obs, next_action)
                                            for target in self.critic_targets]), 0)[0]
            # Fetch tasks never terminate (episodes are truncated at T), so no done mask.
            target_q = (reward + self.gamma * next_q).clamp(self.q_min, self.q_max)
        qs = [critic(critic_obs, action) for critic in self.critics]
        critic_loss = sum(F.mse_loss(q, target_q) for q in qs)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        stats = {"critic_loss": critic_loss.item(), "mean_q": qs[0].mean().item()}

        self.updates += 1
        delayed = args.algorithm == "td3" and self.updates % args.td3_policy_delay != 0
        if train_actor and not delayed:
            residual = self.actor(obs)
            actor_loss = -self.critics[0](critic_obs, residual).mean() + args.action_l2 * residual.pow(2).mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            stats["actor_loss"] = actor_loss.item()
        return stats

    def update_targets(self):
        with torch.no_grad():
            for online, target in ((self.actor, self.actor_target), (self.critics, self.critic_targets)):
                for p, p_target in zip(online.parameters(), target.parameters()):
                    p_target.mul_(self.args.polyak).add_((1.0 - self.args.polyak) * p)

    def state_dict(self) -> dict:
        return {name: getattr(self, name).state_dict() for name in
                ("actor", "critics", "actor_target", "critic_targets", "actor_optimizer", "critic_optimizer")} \
            | {"updates": self.updates}

    def load_state_dict(self, state: dict):
        for name, value in state.items():
            if name == "updates":
                self.updates = value
            else:
                getattr(self, name).load_state_dict(value)


# --- one cycle of learning (the in-process run and training from recordings share it) -------------------

def her_future_p(her_k: int) -> float:
    """HER's "future" strategy with k relabelled goals per real one relabels with probability 1 - 1 / (1 + k)."""
    return 1.0 - 1.0 / (1.0 + her_k)


def update_normalizer(learner: ResidualLearner, episodes: Dict[str, np.ndarray], rng: np.random.Generator,
                      future_p: float, compute_reward) -> None:
    """Statistics from new episodes, one input per stored step, with the goals HER will show the networks."""
    n_episodes, horizon = episodes["action"].shape[:2]
    fresh = her_sample(episodes, n_episodes * horizon, rng, future_p, compute_reward)
    learner.normalizer.update(policy_inputs(fresh["observation"], fresh["goal"]))
    if learner.asymmetric:
        learner.critic_normalizer.update(policy_inputs(fresh["state"], fresh["goal"]))


def learning_cycle(learner: ResidualLearner, gate: BurnInGate, replay: EpisodeReplay, updates: int,
                   rng: np.random.Generator, future_p: float, compute_reward, step: int) -> Dict[str, float]:
    """``updates`` gradient steps on HER batches (the actor's only once the gate has released it), the target
    update, and the gate's judgement of the cycle. Returns the cycle's means (actor_loss once the actor learns)
    and ``released_now``: 1.0 when this cycle released the actor."""
    stats = [learner.update(replay.sample(learner.args.batch_size, rng, future_p, compute_reward),
                            train_actor=gate.released) for _ in range(updates)]
    learner.update_targets()
    means = {key: float(np.mean([s[key] for s in stats if key in s]))
             for key in ("critic_loss", "mean_q", "actor_loss") if any(key in s for s in stats)}
    means["released_now"] = float(gate.judge(means["critic_loss"], means["mean_q"], step))
    return means


def export_onnx(actor: Actor, replay: EpisodeReplay, compute_reward) -> bytes:
    """The ONNX residual, its parity with torch probed on stored states: the inputs the residual will meet."""
    probe = replay.sample(256, np.random.default_rng(0), 0.0, compute_reward)
    return export_residual(actor, policy_inputs(probe["observation"], probe["goal"]))


def training_state(learner: ResidualLearner, gate: BurnInGate, rng: np.random.Generator,
                   base_controller: str) -> dict:
    """What a checkpoint needs to continue learning where it stopped: networks, optimizers and normalizer, update
    count, burn-in state, both random generators, the base controller the residual was learned on and whether its
    critic saw the noise-free state."""
    return {"learner": learner.state_dict(), "gate": dict(gate.__dict__), "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "base_controller": base_controller,
            "asymmetric_critic": learner.asymmetric}


def replace_atomically(path: Path, write: Callable[[Path], None]):
    """``write`` a file beside ``path``, then rename it over ``path``: a run killed while it writes (NoisyHook's
    checkpoints, replay included, are 400 MB) keeps the previous file rather than a truncated one."""
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def save_checkpoint(state: dict, path: Path):
    replace_atomically(path, lambda partial: torch.save(state, partial))


def save_model(model: bytes, path: Path):
    replace_atomically(path, lambda partial: partial.write_bytes(model))


def restore_training_state(state: dict, learner: ResidualLearner, gate: BurnInGate, rng: np.random.Generator,
                           base_controller: str):
    """Continue from ``state``, refused (ResumeMismatch) if its residual was learned on another base controller, or
    with a critic that saw what this learner's does not (``--asymmetric-critic``)."""
    # a task's base may change between versions (NoisyHook's did); a residual only fits the base it learned on
    trained_on = state.get("base_controller")  # absent in checkpoints written before it was kept
    if trained_on not in (None, base_controller):
        raise ResumeMismatch(f"the checkpoint learned its residual on the base controller {trained_on!r}, not "
                             f"{base_controller!r}: resume it with --base {trained_on}")
    trained_asymmetric = state.get("asymmetric_critic", False)  # absent before the option existed: it was off
    if trained_asymmetric != learner.asymmetric:
        raise ResumeMismatch(f"the checkpoint was trained {'with' if trained_asymmetric else 'without'} "
                             "--asymmetric-critic: resume it the same way")
    learner.load_state_dict(state["learner"])
    gate.__dict__.update(state["gate"])
    rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])


# --- collecting and evaluating --------------------------------------------------------------------------

def noise_free_state_size(env: gym.Env) -> int:
    """The size of the noise-free state ``env`` reports as info['state'] (an asymmetric critic's input)."""
    _, info = env.reset(seed=0)
    if "state" not in info:
        raise ValueError(f"{env.spec.id} reports no noise-free state (info['state']) for an asymmetric critic; "
                         "the hook tasks do (noisy_hook, noisy_hook_4f, noisy_hook_drag, complex_hook)")
    return info["state"].shape[0]


def make_vector_env(args: Args) -> gym.vector.VectorEnv:
    """``num_envs`` copies of the task; episodes are reset by the loop, so all run in step (fixed length T)."""
    env_fns = [lambda: make_env(args.task)] * args.num_envs
    mode = gym.vector.AutoresetMode.DISABLED
    if args.async_envs:
        return gym.vector.AsyncVectorEnv(env_fns, autoreset_mode=mode)
    return gym.vector.SyncVectorEnv(env_fns, autoreset_mode=mode)


def collect_rollout(envs, actor: Actor, base, args: Args, horizon: int, rng: np.random.Generator,
                    seed: int) -> Dict[str, np.ndarray]:
    """One episode in each environment with exploration on the residual; returns them as replay episodes (with the
    noise-free states the environments report, for an asymmetric critic)."""
    obs, info = envs.reset(seed=seed)
    episode = {"observation": [obs["observation"]], "achieved_goal": [obs["achieved_goal"]],
               "desired_goal": [], "action": [], "reward": []}
    if args.asymmetric_critic:
        episode["state"] = [info["state"]]
    for _ in range(horizon):
        with torch.no_grad():
            residual = actor(torch.as_tensor(policy_inputs(obs["observation"], obs["desired_goal"]))).numpy()
        residual = explore(residual, args.noise_eps, args.random_eps, rng)
        episode["desired_goal"].append(obs["desired_goal"])
        episode["action"].append(residual)
        obs, reward, _, _, info = envs.step(residual_actions(base, obs, residual, args.residual_scale))
        episode["reward"].append(reward)
        episode["observation"].append(obs["observation"])
        episode["achieved_goal"].append(obs["achieved_goal"])
        if args.asymmetric_critic:
            episode["state"].append(info["state"])
    episodes = {key: np.stack(values, axis=1).astype(np.float32) for key, values in episode.items()}
    episodes["success"] = np.asarray(info["is_success"], dtype=np.float32)
    return episodes


def evaluate(model: bytes, actor: Actor, base, args: Args) -> Dict[str, float]:
    """Deterministic episodes (no noise) of ``model``, ``actor`` exported, through rpl_ros.core.episodes, the loop
    the graph's bridge runs: the success `rpl-ros launch --model-path` measures on the same seeds."""
    residual = ResidualModel(model, actor.body[0].in_features, actor.body[-1].out_features)
    results = run_in_process(args.task, deployed_policy(residual, base, args.residual_scale), args.eval_episodes,
                             args.eval_seed)
    return {"success": float(np.mean([r.success for r in results])),
            "return": float(np.mean([r.episode_return for r in results]))}


# --- the run --------------------------------------------------------------------------------------------

CSV_FIELDS = ("step", "episodes", "wall_s", "eval_success", "eval_return", "train_success", "critic_loss",
              "mean_q", "actor_released")


@dataclass
class Progress:
    step: int = 0
    episodes: int = 0
    wall_s: float = 0.0
    best_eval: float = float("-inf")  # the best evaluation after best_since, that of the model in BEST_MODEL...
    best_step: int = -1  # ...the first to reach it
    best_since: int = 0  # not 0 only for a run resumed from a checkpoint written before BEST_MODEL was kept


CHECKPOINT, MODEL, BEST_MODEL = "checkpoint.pt", "residual.onnx", "residual_best.onnx"


def truncate_progress_csv(path: Path, step: int):
    """Drop the rows written after the checkpoint a run resumes from: it evaluates those steps again."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if float(row["step"]) <= step]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def best_metric(task: str) -> str:
    """What picks the best model: success on the goal tasks, return on dense-reward ones (MBRLPusher)."""
    return "return" if task_spec(task).dense_reward else "success"


def train(args: Args) -> Dict[str, float]:
    """Train, evaluating and checkpointing every ``eval_every`` steps; export the residual at the end.

    Each evaluation runs the ONNX export the graph would run, and an export that does not match torch stops the run
    (export_residual).

    Returns the last evaluation. Everything lands in ``args.run_dir``. As in the reference code (baselines' HER
    saves policy_best), the model of the best evaluation so far, the first on ties, is kept as BEST_MODEL: late in
    a run single evaluations swing (NoisyHook: 0.40 to 1.00), so the last model is not always the one to deploy.
    Its evaluation picked it, so measure it again on other seeds before trusting its score.
    """
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    probe_env = make_env(args.task)
    horizon = probe_env.spec.max_episode_steps
    reward_env = probe_env.unwrapped  # its compute_reward recomputes rewards for HER's relabelled goals
    space = reward_env.observation_space
    obs_dim = space["observation"].shape[0] + space["desired_goal"].shape[0]
    act_dim = reward_env.action_space.shape[0]
    state_dim = noise_free_state_size(probe_env) if args.asymmetric_critic else 0
    base_controller = base_controller_name(args)
    base = make_base(args)

    learner = ResidualLearner(args, obs_dim, act_dim, args.gamma,
                              critic_dim=state_dim + space["desired_goal"].shape[0] if state_dim else None)
    replay = EpisodeReplay(args.buffer_episodes, horizon, {"observation": space["observation"].shape[0],
                                                           "goal": space["desired_goal"].shape[0],
                                                           "action": act_dim, "state": state_dim})
    gate = BurnInGate(args.burn_in, args.burn_in_beta, args.burn_in_window)
    progress = Progress()
    best_model: Optional[bytes] = None  # kept in the checkpoint too, so that file and checkpoint never disagree
    checkpoint_path, csv_path = run_dir / CHECKPOINT, run_dir / "progress.csv"
    if args.resume:
        checkpoint = torch.load(checkpoint_path, weights_only=False)
        restore_training_state(checkpoint, learner, gate, rng, base_controller)
        replay.load_state(checkpoint["replay"])
        known = {field.name for field in fields(Progress)}  # (older checkpoints also counted cycles)
        progress = Progress(**{key: value for key, value in checkpoint["progress"].items() if key in known})
        best_model = checkpoint.get("best_model")
        if "best_eval" not in checkpoint["progress"]:
            progress.best_since = progress.step
            print(f"{checkpoint_path} predates {BEST_MODEL}: the best model is kept from step {progress.step} on")
        del checkpoint  # the replay's copy: 400 MB on NoisyHook
        if best_model is not None:
            save_model(best_model, run_dir / BEST_MODEL)
        truncate_progress_csv(csv_path, progress.step)
        print(f"resumed {run_dir} at step {progress.step}")
    future_p = her_future_p(args.her_k)
    metric = best_metric(args.task)

    def write_checkpoint():
        save_checkpoint({"args": asdict(args), "replay": replay.state(), "progress": asdict(progress),
                         "best_model": best_model, **training_state(learner, gate, rng, base_controller)},
                        checkpoint_path)

    writer = SummaryWriter(str(run_dir / "tb"), purge_step=progress.step or None)
    # the settings as run, the task's defaults filled in (CleanRL's hyperparameters table)
    table = "\n".join(f"|{name}|{value}|" for name, value in asdict(args).items())
    writer.add_text("settings", f"|setting|value|\n|-|-|\n{table}")
    print(f"{args.task}: gamma {args.gamma:.4f}, HER k {args.her_k}, targets clipped {args.clip_target}, polyak "
          f"{args.polyak}, burn-in {args.burn_in} (beta {args.burn_in_beta})")
    csv_file = csv_path.open("a" if args.resume else "w", newline="")
    csv_writer = csv.DictWriter(csv_file, CSV_FIELDS)
    if csv_file.tell() == 0:
        csv_writer.writeheader()
    bar = tqdm(total=args.steps, initial=progress.step, disable=not args.progress_bar, unit="step",
               desc=f"{args.task} {'RPL' if base else 'scratch'} {args.algorithm}")
    started = time.monotonic() - progress.wall_s
    last_eval: Dict[str, float] = {}
    model: Optional[bytes] = None  # the last evaluation's export
    next_eval = (progress.step // args.eval_every + 1) * args.eval_every
    if progress.step == 0:
        # step 0: the base alone (zero residual); nothing stored yet to probe the export's parity on
        last_eval = evaluate(actor_to_onnx(learner.actor), learner.actor, base, args)
        csv_writer.writerow({"step": 0, "episodes": 0, "wall_s": 0.0, "eval_success": last_eval["success"],
                             "eval_return": last_eval["return"], "actor_released": int(gate.released)})
    envs = make_vector_env(args)  # worker processes: started once the run cannot be refused any more
    try:
        while progress.step < args.steps:
            train_success = []
            for _ in range(args.rollouts_per_cycle):
                seed = (args.seed + 1) * TRAIN_SEED_STRIDE + progress.episodes
                episodes = collect_rollout(envs, learner.actor, base, args, horizon, rng, seed)
                train_success.append(episodes.pop("success"))
                replay.add(episodes)
                update_normalizer(learner, episodes, rng, future_p, reward_env.compute_reward)
                progress.episodes += args.num_envs
                progress.step += args.num_envs * horizon
                bar.update(args.num_envs * horizon)
            cycle = learning_cycle(learner, gate, replay, args.updates_per_cycle, rng, future_p,
                                   reward_env.compute_reward, progress.step)
            critic_loss, mean_q = cycle["critic_loss"], cycle["mean_q"]
            if cycle["released_now"]:
                tqdm.write(f"burn-in over at step {progress.step}: {release_reason(gate)}")
            writer.add_scalar("train/critic_loss", critic_loss, progress.step)
            writer.add_scalar("train/mean_q", mean_q, progress.step)
            writer.add_scalar("train/actor_released", float(gate.released), progress.step)
            writer.add_scalar("train/success", float(np.mean(train_success)), progress.step)
            if "actor_loss" in cycle:
                writer.add_scalar("train/actor_loss", cycle["actor_loss"], progress.step)

            if progress.step >= next_eval or progress.step >= args.steps:
                next_eval = (progress.step // args.eval_every + 1) * args.eval_every
                progress.wall_s = time.monotonic() - started
                model = export_onnx(learner.actor, replay, reward_env.compute_reward)
                last_eval = evaluate(model, learner.actor, base, args)
                writer.add_scalar("eval/success", last_eval["success"], progress.step)
                writer.add_scalar("eval/return", last_eval["return"], progress.step)
                csv_writer.writerow({"step": progress.step, "episodes": progress.episodes,
                                     "wall_s": round(progress.wall_s, 1), "eval_success": last_eval["success"],
                                     "eval_return": last_eval["return"],
                                     "train_success": float(np.mean(train_success)), "critic_loss": critic_loss,
                                     "mean_q": mean_q, "actor_released": int(gate.released)})
                csv_file.flush()
                bar.set_postfix(success=last_eval["success"], released=gate.released)
                new_best = last_eval[metric] > progress.best_eval
                if new_best:
                    best_model = model
                    progress.best_eval, progress.best_step = last_eval[metric], progress.step
                    tqdm.write(f"step {progress.step}: evaluation {metric} {last_eval[metric]:.2f}, the best so far: "
                               f"{BEST_MODEL}")
                write_checkpoint()
                if new_best:
                    save_model(best_model, run_dir / BEST_MODEL)
    finally:
        bar.close()
        writer.close()
        csv_file.close()
        envs.close()
        probe_env.close()
    # the run ends with an evaluation, unless it had nothing left to do
    save_model(model or export_onnx(learner.actor, replay, reward_env.compute_reward), run_dir / MODEL)
    return last_eval

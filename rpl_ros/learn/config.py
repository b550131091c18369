"""The learner's settings, one field each with its reason, and the ``rpl-ros train`` options made from them.

Defaults are the paper's (Silver et al. 2018, after the HER baselines). No torch here: ``rpl-ros --help`` and
``rpl-ros launch`` build their parser without importing the learner.
"""
import argparse
import ast
import inspect
from dataclasses import dataclass, fields
from typing import Dict, Optional, Tuple

NO_BASE = "none"
TASK_BASE = "task"
ALGORITHMS = ("ddpg", "td3")
BURN_IN_MODES = ("critic_loss", "q_change", "off")
# Settings whose default depends on the task's reward (TaskSpec.dense_reward); None in Args means "the task's".
# Sparse -1/0 goal rewards: the paper's. A dense reward: no HER (every step is rewarded already) and no clipping of
# targets to the sparse range.
REWARD_DEFAULTS = {False: {"her_k": 4, "clip_target": True},
                   True: {"her_k": 0, "clip_target": False}}
# ...and on the task's episode length T: gamma = 1 - 1/T, and the target network's speed. It moves (1 - polyak)
# of the way to the critic once a cycle, so after N cycles the critic has made about N * (1 - polyak) Bellman
# backups, while a value over T steps needs on the order of T of them and a cycle (an episode per environment)
# takes more steps the longer T is. The paper's 0.95 for the Fetch tasks' 50 steps; from 100 steps on 0.5, with
# which the critic settled and RPL beat the base on MBRLPusher and ComplexHook where 0.95 did not (bench/RESULTS.md).
LONG_HORIZON = 100
POLYAK_DEFAULTS = {False: 0.95, True: 0.5}
"""keyed by: episodes of LONG_HORIZON steps or more"""


@dataclass
class Args:
    task: str = "push"
    """task name, a key of rpl_ros.core.tasks.TASKS"""
    base: str = TASK_BASE
    """base controller pi(s): 'task' (the task's own), a name in rpl_ros.core.controllers, or 'none' (from scratch)"""
    residual_scale: float = 1.0
    """env action = clip(pi(s) + residual_scale * f(s)); must equal the graph's arbitration.residual_scale"""
    algorithm: str = "ddpg"
    """'ddpg' (the paper) or 'td3' (clipped double Q, target smoothing, delayed actor)"""
    asymmetric_critic: bool = False
    """the critic sees the simulator's noise-free state (the noisy tasks give it as info['state']) where the actor
    sees the noisy observation (asymmetric actor-critic, Pinto et al. 2018); training in simulation only: the actor,
    its inputs and its ONNX are the same either way"""
    steps: int = 200_000
    """environment steps to train for (all vector envs together)"""
    seed: int = 0
    """seeds torch, numpy and the training episodes (training seeds never overlap the evaluation seeds)"""
    num_envs: int = 2
    """environments stepped together; one rollout is one episode in each"""
    async_envs: bool = True
    """step the environments in worker processes (uses more cores) instead of in this one"""
    threads: int = 1
    """torch CPU threads"""
    hidden: Tuple[int, ...] = (256, 256, 256)
    """hidden layer sizes of actor and critic"""
    zero_init_last_layer: bool = True
    """start the actor's last layer at zero, so the first policy is exactly the base"""
    lr_actor: float = 1e-3
    """Adam learning rate of the actor"""
    lr_critic: float = 1e-3
    """Adam learning rate of the critic(s)"""
    batch_size: int = 256
    """transitions per gradient step"""
    polyak: Optional[float] = None
    """target <- polyak * target + (1 - polyak) * online, once per cycle; unset: 0.95 (the paper's), 0.5 on
    tasks whose episodes have 100 steps or more"""
    action_l2: float = 1.0
    """weight of the mean squared actor output in the actor loss (keeps the residual small)"""
    random_eps: float = 0.3
    """probability of a uniformly random (residual) action while collecting"""
    noise_eps: float = 0.2
    """std of the Gaussian noise on the (residual) action while collecting"""
    her_k: Optional[int] = None
    """HER 'future' strategy: relabelled goals per real goal (relabel probability 1 - 1/(1 + k)); 0 turns HER off;
    unset: 4, and 0 on dense-reward tasks"""
    gamma: Optional[float] = None
    """discount; unset: 1 - 1/T for the task's episode length T"""
    clip_target: Optional[bool] = None
    """clip TD targets to [-1/(1 - gamma), 0], the range of the sparse -1/0 rewards of the goal tasks; unset: on,
    and off on dense-reward tasks"""
    obs_clip: float = 5.0
    """normalized inputs are clipped to [-obs_clip, obs_clip]"""
    buffer_episodes: int = 20_000
    """replay capacity in episodes (20k x 50 steps = the paper's 1M transitions on Fetch tasks)"""
    rollouts_per_cycle: int = 1
    """rollouts collected before each round of gradient steps"""
    updates_per_cycle: int = 40
    """gradient steps per cycle (the HER baselines' n_batches)"""
    burn_in: str = "q_change"
    """actor frozen until: 'q_change' of mean Q < beta (reference code), 'critic_loss' < beta (paper), 'off'.
    On the sparse -1/0 rewards the critic loss is below 0.1 from the start, so 'critic_loss' with beta 1 releases
    at its first judgement (Push: at 5k steps, against 10k for 'q_change'); see bench/RESULTS.md"""
    burn_in_beta: float = 1.0
    """threshold beta of the burn-in gate"""
    burn_in_window: int = 50
    """cycles whose mean the gate judges at once (50 cycles = one epoch of the HER baselines)"""
    td3_policy_noise: float = 0.2
    """TD3: std of the noise on the target action"""
    td3_noise_clip: float = 0.5
    """TD3: the target noise is clipped to +-this"""
    td3_policy_delay: int = 2
    """TD3: one actor step per this many critic steps"""
    eval_every: int = 5_000
    """environment steps between evaluations (and checkpoints)"""
    eval_episodes: int = 10
    """deterministic evaluation episodes; episode i uses seed eval_seed + i, as `rpl-ros launch --seed` does"""
    eval_seed: int = 0
    """seed of the first evaluation episode"""
    run_dir: str = "runs/rpl"
    """where progress.csv, TensorBoard events, checkpoint.pt, residual.onnx (the last model) and residual_best.onnx
    (the best evaluated) go"""
    resume: bool = False
    """continue the run in run_dir from its checkpoint"""
    progress_bar: bool = True
    """show a tqdm progress bar"""

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.burn_in not in BURN_IN_MODES:
            raise ValueError(f"burn_in must be one of {BURN_IN_MODES}, got {self.burn_in!r}")
        import gymnasium as gym  # only once settings are made, not for --help

        from rpl_ros.core.tasks import task_spec

        spec = task_spec(self.task)
        for name, value in REWARD_DEFAULTS[spec.dense_reward].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        horizon = gym.spec(spec.env_id).max_episode_steps
        if self.polyak is None:
            self.polyak = POLYAK_DEFAULTS[horizon >= LONG_HORIZON]
        if self.gamma is None:
            self.gamma = 1.0 - 1.0 / horizon


def field_docs(cls) -> Dict[str, str]:
    """The docstring under each field of a dataclass (what CleanRL's tyro shows as --help)."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    return {node.target.id: nxt.value.value for node, nxt in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr)}


def add_arguments(parser: argparse.ArgumentParser):
    """One --option per Args field, with the field's docstring as help."""
    docs = field_docs(Args)
    for f in fields(Args):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{docs[f.name]} (default: {'set by the task' if f.default is None else f.default})"
        if f.type in (bool, Optional[bool]):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text)
        elif f.name == "hidden":
            parser.add_argument(flag, type=int, nargs="+", default=f.default, help=help_text)
        elif f.type in (Optional[float], Optional[int]):
            parser.add_argument(flag, type=f.type.__args__[0], default=f.default, help=help_text)
        else:
            choices = {"algorithm": ALGORITHMS, "burn_in": BURN_IN_MODES}.get(f.name)
            parser.add_argument(flag, type=f.type, default=f.default, choices=choices, help=help_text)


def args_from_namespace(namespace: argparse.Namespace) -> Args:
    values = {f.name: getattr(namespace, f.name) for f in fields(Args)}
    values["hidden"] = tuple(values["hidden"])
    return Args(**values)

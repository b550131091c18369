"""Evaluate a policy on a task: the base controller alone, or base + an ONNX residual summed exactly as the
graph's arbitration does, over seeded episodes; success with a Wilson confidence interval, and optionally a
video or an image strip of one episode rendered offscreen by MuJoCo."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import EpisodeResult, run_in_process
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel
from rpl_ros.core.tasks import make_env, task_spec

Policy = Callable[[Dict[str, np.ndarray]], np.ndarray]


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> Tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % for z = 1.96); sound near 0 and 1 and for few
    trials, where the normal approximation is not."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Evaluation:
    task: str
    policy: str
    episodes: List[EpisodeResult]

    @property
    def successes(self) -> int:
        return sum(e.success for e in self.episodes)

    @property
    def success_rate(self) -> float:
        return self.successes / len(self.episodes)

    @property
    def mean_return(self) -> float:
        return float(np.mean([e.episode_return for e in self.episodes]))

    def line(self) -> str:
        low, high = wilson_interval(self.successes, len(self.episodes))
        return (f"{self.task} {self.policy}: success {self.success_rate:.2f} ({self.successes}/{len(self.episodes)}, "
                f"95% Wilson CI {low:.2f}-{high:.2f}), mean return {self.mean_return:.1f}")


def base_policy(task: str, controller: str = "") -> Policy:
    """The task's base controller, or the one of rpl_ros.core.controllers named ``controller``."""
    return make_controller(controller or task_spec(task).controller)


def residual_policy(task: str, model_path: str, scale: float = 1.0, controller: str = "") -> Policy:
    """Base plus the ONNX residual, as the graph applies them: the residual node's runtime (ResidualModel) on
    the observation's policy input, summed and clipped by the arbitration's residual_sum. A residual is only
    right on the base it was trained on (``controller``: see base_policy)."""
    spec = task_spec(task)
    codec = ObservationCodec(spec.observation_sizes)
    model = ResidualModel(Path(model_path).read_bytes(), codec.policy_input_size, len(spec.action_names))
    base = base_policy(task, controller)
    return lambda obs: residual_sum(base(obs), model(codec.policy_input(obs)), scale)


def make_policy(task: str, policy: str, controller: str = "") -> Policy:
    """``base`` or the path of a residual .onnx, on the task's base controller or ``controller``"""
    if policy == "base":
        return base_policy(task, controller)
    return residual_policy(task, policy, controller=controller)


def evaluate(task: str, policy: Policy, name: str, episodes: int, seed: int = 0) -> Evaluation:
    return Evaluation(task, name, run_in_process(task, policy, episodes, seed))


class RenderError(RuntimeError):
    pass


def record_episode(task: str, policy: Policy, seed: int, path: str, strip_frames: int = 8,
                   scale: float = 0.5) -> int:
    """Render one episode offscreen and save it: ``.gif`` an animation of every step, ``.png`` a strip of
    ``strip_frames`` evenly spaced frames (first and last included). Returns the number of frames saved."""
    from PIL import Image  # only for pictures

    os.environ.setdefault("MUJOCO_GL", "egl")  # headless; must be set before MuJoCo makes a GL context
    env = make_env(task, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=seed)
        frames = [_render(env)]
        truncated = terminated = False
        while not (truncated or terminated):
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            frames.append(_render(env))
    finally:
        env.close()
    images = [Image.fromarray(f).resize((int(f.shape[1] * scale), int(f.shape[0] * scale))) for f in frames]
    if path.endswith(".gif"):
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 * env.unwrapped.dt),
                       loop=0)
        return len(images)
    picked = [images[i] for i in np.linspace(0, len(images) - 1, strip_frames).round().astype(int)]
    strip = Image.new("RGB", (sum(i.width for i in picked), picked[0].height))
    for k, image in enumerate(picked):
        strip.paste(image, (k * image.width, 0))
    strip.save(path)
    return len(picked)


def _render(env) -> np.ndarray:
    try:
        return env.render()
    except Exception as error:  # MuJoCo raises several types when no GL platform can be loaded
        raise RenderError(
            f"MuJoCo offscreen rendering failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: {error}. "
            "Try MUJOCO_GL=egl (needs libEGL and a GPU or Mesa's EGL) or MUJOCO_GL=osmesa (apt-get install "
            "libosmesa6).") from error

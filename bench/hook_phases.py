"""Where hook episodes go wrong: for the base alone and for each residual given, over the same seeds, the share of
episodes whose gripper closes on the hook's handle (and at which step, the median), that lift the hook, that move
the block at all, and that succeed; the block's final distance from the goal; and the mean size of the residual.
Read from the simulator's true state, not from the (noisy) observation.

    python bench/hook_phases.py [--task noisy_hook] [--episodes 50] runs/a/residual.onnx runs/b/residual.onnx
"""
import argparse
from pathlib import Path
from typing import Optional

import numpy as np

from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import ResidualModel
from rpl_ros.core.tasks import TASKS, make_env, task_spec

LIFTED = 0.02
"""how far above its resting height the hook must rise to count as lifted, in m"""
MOVED = 0.02
"""how far the block must travel on the table to count as moved, in m"""


def phases(task: str, episodes: int, model: Optional[ResidualModel]) -> np.ndarray:
    """One row per episode (seeds 0..episodes-1): held, step of the first hold, lifted, moved, success, final
    distance, mean |residual|."""
    spec = task_spec(task)
    codec, base, env = ObservationCodec(spec.observation_sizes), make_controller(spec.controller), make_env(task)
    data = env.unwrapped.data
    rows = []
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        block_start, hook_start_height = data.site("object0").xpos[:2].copy(), data.site("hook").xpos[2]
        first_hold, lifted, moved, residual_sizes = None, False, False, []
        for step in range(env.spec.max_episode_steps):
            residual = np.zeros(len(spec.action_names)) if model is None else model(codec.policy_input(obs))
            residual_sizes.append(float(np.abs(residual).mean()))
            obs, _, _, _, info = env.step(residual_sum(base(obs), residual))
            finger_width = obs["observation"][9] + obs["observation"][10]  # the fingers carry no noise
            if first_hold is None and base.empty_width < finger_width < base.held_width:
                first_hold = step
            lifted |= data.site("hook").xpos[2] > hook_start_height + LIFTED
            moved |= np.linalg.norm(data.site("object0").xpos[:2] - block_start) > MOVED
        distance = np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"])
        rows.append((first_hold is not None, np.nan if first_hold is None else first_hold, lifted, moved,
                     info["is_success"], distance, np.mean(residual_sizes)))
    env.close()
    return np.array(rows, dtype=float)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="noisy_hook",
                        choices=[key for key, spec in TASKS.items() if spec.controller in ("hook", "noisy_hook")])
    parser.add_argument("--episodes", type=int, default=50, help="episodes per policy, seeds 0 on")
    parser.add_argument("models", nargs="*", help="residual .onnx files, each on the task's base controller")
    args = parser.parse_args()
    spec = task_spec(args.task)
    input_size = ObservationCodec(spec.observation_sizes).policy_input_size
    print(f"{args.task}, {args.episodes} episodes each (seeds 0-{args.episodes - 1})")
    width = max(len(path) for path in ["policy", *args.models])
    print(f"{'policy':{width}} {'holds':>6} {'at step':>8} {'lifts':>6} {'moves':>6} {'success':>8} {'distance':>9} "
          f"{'|residual|':>10}")
    for path in ["base", *args.models]:
        model = None if path == "base" else ResidualModel(Path(path).read_bytes(), input_size, len(spec.action_names))
        rows = phases(args.task, args.episodes, model)
        print(f"{path:{width}} {rows[:, 0].mean():6.2f} {np.nanmedian(rows[:, 1]):8.0f} {rows[:, 2].mean():6.2f} "
              f"{rows[:, 3].mean():6.2f} {rows[:, 4].mean():8.2f} {rows[:, 5].mean():8.3f}m {rows[:, 6].mean():10.3f}",
              flush=True)


if __name__ == "__main__":
    main()

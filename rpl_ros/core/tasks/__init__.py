"""The tasks of rpl_ros as gymnasium environments, registered under the ``rpl_ros/`` namespace.

Each task is a small declaration: the gymnasium id and entry point, the base controller that goes with it,
and the names of its action axes (the labels that travel in the ``name`` field of the action messages).
The paper's six tasks are declared below in the paper's order; a new task is one more ``register_task`` call.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import gymnasium as gym


@dataclass(frozen=True)
class TaskSpec:
    env_id: str
    """gymnasium id, ``gym.make``-able once this module is imported"""
    controller: str
    """name of the base controller in ``rpl_ros.core.controllers``"""
    action_names: Tuple[str, ...]
    observation_sizes: Dict[str, int]
    """sizes of the goal-based observation's parts, so runtime nodes need no simulator to decode it"""
    dense_reward: bool = False
    """a shaped reward every step, scored by return (MBRLPusher), not the goal tasks' sparse -1/0: the learner's
    defaults differ (rpl_ros.learn.config.REWARD_DEFAULTS)"""


TASKS: Dict[str, TaskSpec] = {}


def register_task(key: str, spec: TaskSpec, entry_point: str, max_episode_steps: int, **kwargs):
    """Declare a task: its spec under ``key`` in TASKS and its environment in gymnasium's registry."""
    TASKS[key] = spec
    gym.register(id=spec.env_id, entry_point=entry_point, max_episode_steps=max_episode_steps, kwargs=kwargs)


FETCH_ACTIONS = ("dx", "dy", "dz", "gripper")
FETCH_OBJECT_OBSERVATION = {"observation": 25, "achieved_goal": 3, "desired_goal": 3}

register_task("push", TaskSpec("rpl_ros/Push-v0", "push", FETCH_ACTIONS, FETCH_OBJECT_OBSERVATION),
              "gymnasium_robotics.envs.fetch.push:MujocoFetchPushEnv", 50)
register_task("slippery_push",
              TaskSpec("rpl_ros/SlipperyPush-v0", "slippery_push", FETCH_ACTIONS, FETCH_OBJECT_OBSERVATION),
              "rpl_ros.core.tasks.fetch:SlipperyPushEnv", 50, sliding_friction=0.18)
register_task("pick_and_place",
              TaskSpec("rpl_ros/PickAndPlace-v0", "pick_and_place", FETCH_ACTIONS, FETCH_OBJECT_OBSERVATION),
              "gymnasium_robotics.envs.fetch.pick_and_place:MujocoFetchPickAndPlaceEnv", 50)
HOOK_OBSERVATION = {"observation": 37, "achieved_goal": 3, "desired_goal": 3}


def register_noisy_hook(key: str, env_id: str, frames: int, **variation):
    """A NoisyHook declaration: the hook task with 2.5 cm of pose noise, seen through ``frames`` frames."""
    register_task(key, TaskSpec(env_id, "noisy_hook", FETCH_ACTIONS,
                                {**HOOK_OBSERVATION, "observation": frames * HOOK_OBSERVATION["observation"]}),
                  "rpl_ros.core.tasks.hook:HookEnv", 100, pose_noise_std=0.025, frames=frames, **variation)


# v1: two frames (the current one first), as the reference code's NoisyHook; v0 had one
register_noisy_hook("noisy_hook", "rpl_ros/NoisyHook-v1", frames=2)
# four frames instead of two (beyond the paper: four independent draws of the noise)
register_noisy_hook("noisy_hook_4f", "rpl_ros/NoisyHook4F-v0", frames=4)
# the paper's reference code's layout: the block beyond reach, dragged back to a goal nearer the robot
register_noisy_hook("noisy_hook_drag", "rpl_ros/NoisyHookDrag-v0", frames=2, drag_back=True)
register_task("complex_hook", TaskSpec("rpl_ros/ComplexHook-v0", "hook", FETCH_ACTIONS, HOOK_OBSERVATION),
              "rpl_ros.core.tasks.hook:HookEnv", 100, bumps=(5, 15), bump_height=0.01, random_shapes=True)
register_task("mbrl_pusher",
              TaskSpec("rpl_ros/MBRLPusher-v0", "mbrl_pusher", tuple(f"joint{i}_torque" for i in range(1, 8)),
                       {"observation": 20, "achieved_goal": 3, "desired_goal": 3}, dense_reward=True),
              "rpl_ros.core.tasks.pusher:MBRLPusherEnv", 150)
# Beyond the paper: FetchPush for a joint-controlled Franka Panda (Fetch's 25 observation values, then the 7 arm
# joint positions), so Fetch's pusher drives it unchanged.
register_task("panda_push",
              TaskSpec("rpl_ros/PandaPush-v0", "push", FETCH_ACTIONS, {"observation": 32, "achieved_goal": 3,
                                                                      "desired_goal": 3}),
              "rpl_ros.core.tasks.panda:PandaPushEnv", 50)


def task_spec(task: str) -> TaskSpec:
    try:
        return TASKS[task]
    except KeyError:
        # listed in declaration order (the paper's), not sorted
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}") from None


def make_env(task: str, render_mode: Optional[str] = None, **kwargs) -> gym.Env:
    """The gymnasium environment of ``task`` (a key of TASKS); ``kwargs`` go to its constructor."""
    return gym.make(task_spec(task).env_id, render_mode=render_mode, **kwargs)

"""The tasks of rpl_ros as gymnasium environments, registered under the ``rpl_ros/`` namespace.

Each task is a small declaration: the gymnasium id, the base controller that goes with it, and the names of
its action axes (the labels that travel in the ``name`` field of the action messages).
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


FETCH_ACTIONS = ("dx", "dy", "dz", "gripper")
FETCH_OBJECT_OBSERVATION = {"observation": 25, "achieved_goal": 3, "desired_goal": 3}

TASKS: Dict[str, TaskSpec] = {
    "push": TaskSpec("rpl_ros/Push-v0", "push", FETCH_ACTIONS, FETCH_OBJECT_OBSERVATION),
}

gym.register(
    id="rpl_ros/Push-v0",
    entry_point="gymnasium_robotics.envs.fetch.push:MujocoFetchPushEnv",
    max_episode_steps=50,
)


def task_spec(task: str) -> TaskSpec:
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(sorted(TASKS))}") from None


def make_env(task: str, render_mode: Optional[str] = None) -> gym.Env:
    """The gymnasium environment of ``task`` (a key of TASKS)."""
    return gym.make(task_spec(task).env_id, render_mode=render_mode)

"""Episode replay with Hindsight Experience Replay (Andrychowicz et al. 2017), "future" strategy.

Episodes are stored whole (all tasks have a fixed length T), so a transition can be relabelled with a goal
the agent achieved later in its own episode. Plain numpy: sampling needs no torch.
"""
from typing import Callable, Dict

import numpy as np

RewardFn = Callable[[np.ndarray, np.ndarray, dict], np.ndarray]
"""the task's ``compute_reward(achieved_goal, desired_goal, info)``, vectorised over a batch"""


class EpisodeReplay:
    """A ring buffer of whole episodes: observation/achieved_goal [T+1], desired_goal/action/reward [T] each, and
    state [T+1] (the noise-free state an asymmetric critic sees) when ``sizes`` has one."""

    def __init__(self, capacity_episodes: int, horizon: int, sizes: Dict[str, int]):
        self.capacity, self.horizon = capacity_episodes, horizon
        self.data = {
            "observation": np.zeros((capacity_episodes, horizon + 1, sizes["observation"]), np.float32),
            "achieved_goal": np.zeros((capacity_episodes, horizon + 1, sizes["goal"]), np.float32),
            "desired_goal": np.zeros((capacity_episodes, horizon, sizes["goal"]), np.float32),
            "action": np.zeros((capacity_episodes, horizon, sizes["action"]), np.float32),
            "reward": np.zeros((capacity_episodes, horizon), np.float32),
        }
        if sizes.get("state"):
            self.data["state"] = np.zeros((capacity_episodes, horizon + 1, sizes["state"]), np.float32)
        self.size, self.next = 0, 0

    def add(self, episodes: Dict[str, np.ndarray]):
        """Store a batch of episodes (arrays shaped [episodes, T(+1), dim])."""
        for i in range(episodes["action"].shape[0]):
            for key, array in self.data.items():
                array[self.next] = episodes[key][i]
            self.next = (self.next + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator, future_p: float,
               compute_reward: RewardFn) -> Dict[str, np.ndarray]:
        stored = {key: array[:self.size] for key, array in self.data.items()}
        return her_sample(stored, batch_size, rng, future_p, compute_reward)

    def state(self) -> dict:
        return {"data": {key: array[:self.size].copy() for key, array in self.data.items()},
                "size": self.size, "next": self.next}

    def load_state(self, state: dict):
        for key, array in self.data.items():
            array[:state["size"]] = state["data"][key]
        self.size, self.next = state["size"], state["next"]


def her_sample(episodes: Dict[str, np.ndarray], batch_size: int, rng: np.random.Generator, future_p: float,
               compute_reward: RewardFn) -> Dict[str, np.ndarray]:
    """Transitions drawn uniformly from ``episodes``; with probability ``future_p`` each one's goal is replaced
    by the goal achieved at a later step t' in (t, T] of the same episode, and its reward recomputed for it.
    The others keep the reward the environment gave.

    HER's "future" strategy with k relabelled goals per real one uses future_p = 1 - 1 / (1 + k); k = 0 (no
    relabelling) suits a task whose reward is not a function of the goals alone, such as MBRLPusher's.
    """
    n_episodes, horizon = episodes["action"].shape[:2]
    episode = rng.integers(0, n_episodes, batch_size)
    t = rng.integers(0, horizon, batch_size)
    goal = episodes["desired_goal"][episode, t].copy()
    relabel = rng.random(batch_size) < future_p
    future_t = t + 1 + (rng.random(batch_size) * (horizon - t)).astype(int)
    goal[relabel] = episodes["achieved_goal"][episode[relabel], future_t[relabel]]
    reward = episodes["reward"][episode, t].copy()
    if relabel.any():
        achieved_next = episodes["achieved_goal"][episode[relabel], t[relabel] + 1]
        reward[relabel] = compute_reward(achieved_next, goal[relabel], {})
    batch = {
        "observation": episodes["observation"][episode, t],
        "next_observation": episodes["observation"][episode, t + 1],
        "goal": goal,
        "action": episodes["action"][episode, t],
        "reward": reward,
    }
    if "state" in episodes:
        batch["state"], batch["next_state"] = episodes["state"][episode, t], episodes["state"][episode, t + 1]
    return batch

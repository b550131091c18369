"""Goal-based observations <-> the flat, labelled vectors that travel in sensor_msgs/JointState.

A message carries ``name`` = field labels (``observation/0`` ... ``desired_goal/2``) and ``position`` = values.
Decoding checks labels, size and finiteness, so a malformed message is refused with a reason instead of
being fed to a controller.
"""
from typing import Dict, List, Sequence

import numpy as np

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


class ObservationError(ValueError):
    """A message that cannot be an observation of this task: wrong labels, wrong size, or not finite."""


class ObservationCodec:
    def __init__(self, sizes: Dict[str, int]):
        self.sizes = {key: int(sizes[key]) for key in GOAL_KEYS}
        self.names: List[str] = [f"{key}/{i}" for key in GOAL_KEYS for i in range(self.sizes[key])]
        self.size = len(self.names)

    @classmethod
    def for_space(cls, observation_space) -> "ObservationCodec":
        return cls({key: observation_space[key].shape[0] for key in GOAL_KEYS})

    @property
    def policy_input_size(self) -> int:
        """The residual sees the state and the goal it must reach."""
        return self.sizes["observation"] + self.sizes["desired_goal"]

    def encode(self, obs: Dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(obs[key], dtype=np.float64) for key in GOAL_KEYS])

    def decode(self, names: Sequence[str], values: Sequence[float]) -> Dict[str, np.ndarray]:
        if len(values) != self.size:
            raise ObservationError(f"observation has {len(values)} values, expected {self.size}")
        if len(names) != self.size or list(names) != self.names:
            raise ObservationError(
                f"observation labels do not match this task (got {len(names)} labels, expected "
                f"{self.names[0]} ... {self.names[-1]})"
            )
        flat = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(flat)):
            raise ObservationError(f"observation has non-finite values at {np.flatnonzero(~np.isfinite(flat)).tolist()}")
        obs, start = {}, 0
        for key in GOAL_KEYS:
            obs[key] = flat[start:start + self.sizes[key]]
            start += self.sizes[key]
        return obs

    @staticmethod
    def policy_input(obs: Dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([obs["observation"], obs["desired_goal"]]).astype(np.float32)


def check_action(values: Sequence[float], size: int) -> np.ndarray:
    """An action vector of the right size with finite values, or ObservationError saying why not."""
    action = np.asarray(values, dtype=np.float64)
    if action.shape != (size,):
        raise ObservationError(f"action has {action.size} values, expected {size}")
    if not np.all(np.isfinite(action)):
        raise ObservationError("action has non-finite values")
    return action

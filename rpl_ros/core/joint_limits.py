"""Joint-level motion limits on a stream of joint position targets, as a Franka Panda needs them.

A position target sent every ``period`` seconds commands a joint velocity (its step over the period) and an
acceleration (the change of that step). ``JointMotionLimiter`` shortens each step so that both stay within
per-joint limits: the arm's own controller never sees a jump that would trip its reflexes. Stopping obeys the
same limits, so a hold (the measured position as target) decelerates within them instead of stopping at once.
"""
from typing import Optional, Sequence

import numpy as np

PANDA_MAX_VELOCITY = (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)
"""rad/s, Franka's datasheet for the Panda's seven joints"""
PANDA_MAX_ACCELERATION = (15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0)
"""rad/s², Franka's datasheet for the Panda's seven joints"""


class JointMotionLimiter:
    def __init__(self, max_velocity: Sequence[float], max_acceleration: Sequence[float], period: float):
        self.max_step = np.asarray(max_velocity, dtype=float) * period
        self.max_step_change = np.asarray(max_acceleration, dtype=float) * period ** 2
        if self.max_step.shape != self.max_step_change.shape or period <= 0:
            raise ValueError("one velocity and one acceleration limit per joint, and a positive period")
        if np.any(self.max_step <= 0) or np.any(self.max_step_change <= 0):
            raise ValueError("joint velocity and acceleration limits must be positive")
        self.last_target: Optional[np.ndarray] = None
        self.last_step = np.zeros_like(self.max_step)

    def reset(self):
        """Forget the last command: the next one starts from the measured positions, at rest."""
        self.last_target = None

    def __call__(self, target: np.ndarray, measured: np.ndarray) -> np.ndarray:
        """The target to send, given the wanted one and the measured positions."""
        if self.last_target is None:
            self.last_target, self.last_step = np.asarray(measured, dtype=float), np.zeros_like(self.max_step)
        low = np.maximum(-self.max_step, self.last_step - self.max_step_change)
        high = np.minimum(self.max_step, self.last_step + self.max_step_change)
        step = np.clip(np.asarray(target) - self.last_target, low, high)
        self.last_target, self.last_step = self.last_target + step, step
        return self.last_target

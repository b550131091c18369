"""Joint-level motion limits on a stream of joint position targets, as a Franka Panda needs them.

A position target sent every ``period`` seconds commands a joint velocity (its step over the period), an
acceleration (the change of that step) and a jerk (the change of that change). ``JointMotionLimiter`` shortens
each step so that all three stay within per-joint limits: the arm's own controller never sees a jump that would
trip its reflexes. Steps toward the target are kept slow enough to brake in time. Where they cannot all hold (arriving at full speed while still accelerating), velocity wins
over acceleration, and acceleration over jerk. Stopping obeys the same limits, so a hold (the measured position
as target) decelerates within them instead of stopping at once.
"""
from typing import Optional, Sequence

import numpy as np

PANDA_MAX_VELOCITY = (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)
"""rad/s, Franka's datasheet for the Panda's seven joints"""
PANDA_MAX_ACCELERATION = (15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0)
"""rad/s², Franka's datasheet"""
PANDA_MAX_JERK = (7500.0,) * 7
"""rad/s³, Franka's datasheet"""


class JointMotionLimiter:
    def __init__(self, max_velocity: Sequence[float], max_acceleration: Sequence[float], period: float,
                 max_jerk: Optional[Sequence[float]] = None):
        self.max_step = np.asarray(max_velocity, dtype=float) * period
        self.max_step_change = np.asarray(max_acceleration, dtype=float) * period ** 2
        jerk = np.full_like(self.max_step, np.inf) if max_jerk is None else np.asarray(max_jerk, dtype=float)
        self.max_step_change2 = jerk * period ** 3
        if not self.max_step.shape == self.max_step_change.shape == self.max_step_change2.shape or period <= 0:
            raise ValueError("one velocity, acceleration and jerk limit per joint, and a positive period")
        if np.any(self.max_step <= 0) or np.any(self.max_step_change <= 0) or np.any(self.max_step_change2 <= 0):
            raise ValueError("joint velocity, acceleration and jerk limits must be positive")
        self.last_target: Optional[np.ndarray] = None
        self.last_step = self.last_step_change = np.zeros_like(self.max_step)

    def reset(self):
        """Forget the last command: the next one starts from the measured positions, at rest."""
        self.last_target = None

    def __call__(self, target: np.ndarray, measured: np.ndarray) -> np.ndarray:
        """The target to send, given the wanted one and the measured positions."""
        if self.last_target is None:
            self.last_target = np.asarray(measured, dtype=float)
            self.last_step = self.last_step_change = np.zeros_like(self.max_step)
        remaining = np.asarray(target) - self.last_target
        # no faster than what can still stop at the target with the acceleration limit (v <= sqrt(2 a d)), so an
        # approach brakes in time instead of overshooting and swinging about the target
        braking = np.sqrt(2 * self.max_step_change * np.abs(remaining))
        change = np.clip(remaining, -braking, braking) - self.last_step
        # the narrowest limit last: velocity wins over acceleration, acceleration over jerk
        change = np.clip(change, self.last_step_change - self.max_step_change2,
                         self.last_step_change + self.max_step_change2)
        change = np.clip(change, -self.max_step_change, self.max_step_change)
        step = np.clip(self.last_step + change, -self.max_step, self.max_step)
        self.last_step_change, self.last_step = step - self.last_step, step
        self.last_target = self.last_target + step
        return self.last_target

"""A reactive pusher for FetchPush: get behind the block, lower, push it towards the goal.

It is deliberately "barely good enough", as the paper's base policies are: its approach clearance over the
block is tuned too tight, so on some episodes the gripper clips the block while moving behind it.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class ReactivePusher:
    gain: float = 10.0
    """proportional gain from position error (m) to action (1 action unit = 5 cm of mocap motion)"""
    behind: float = 0.06
    """how far behind the block (along the push direction) the gripper lines up, in m"""
    align_tolerance: float = 0.02
    """how close to the line-up point counts as lined up, in m"""
    approach_clearance: float = 0.05
    """height above the block while moving behind it; too tight on purpose (0.1 succeeds ~0.9)"""
    stop_short: float = 0.05
    """the gripper aims this far before the goal, since the block sits ahead of it"""

    def __call__(self, obs: dict) -> np.ndarray:
        o, goal = obs["observation"], obs["desired_goal"]
        grip, block = o[0:3], o[3:6]
        push_dir = goal[:2] - block[:2]
        distance = np.linalg.norm(push_dir)
        push_dir = push_dir / distance if distance > 1e-6 else np.zeros(2)
        line_up = block[:2] - push_dir * self.behind
        rel = grip[:2] - block[:2]
        lateral = abs(rel[0] * push_dir[1] - rel[1] * push_dir[0])
        is_behind = np.dot(rel, push_dir) < -0.5 * self.behind and lateral < self.align_tolerance
        if is_behind and grip[2] < block[2] + 0.02:
            target = np.r_[goal[:2] - push_dir * self.stop_short, block[2]]
        elif np.linalg.norm(line_up - grip[:2]) < self.align_tolerance:
            target = np.r_[line_up, block[2]]
        else:
            target = np.r_[line_up, block[2] + self.approach_clearance]
        action = np.empty(4)
        action[:3] = np.clip(self.gain * (target - grip), -1.0, 1.0)
        action[3] = -1.0  # gripper closed: a pusher, not a grasper
        return action

"""A reactive pick-and-place for FetchPickAndPlace: open above the block, descend, close, carry to the goal.

Its phase is read from the state (where the block is relative to the gripper, how far the fingers are apart),
so it is a pure function of the observation. It is "barely good enough" on purpose: its proportional gain is
set too high, so the gripper overshoots while it lines up and descends and often knocks or misses the block.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class ReactivePickAndPlace:
    gain: float = 77.0
    """proportional gain from position error (m) to action (1 action unit = 5 cm); too high on purpose:
    success falls from 0.9 at 70 to 0.1 at 78 (40 seeds; 0.73 at 76, 0.54 at 77 over 100), as the gripper
    starts to overshoot the block"""
    hover: float = 0.05
    """height above the block at which the open gripper lines up before descending, in m"""
    align_tolerance: float = 0.01
    """horizontal distance to the block that counts as lined up, in m"""
    grasp_tolerance: float = 0.01
    """vertical distance to the block's centre at which the fingers close, in m"""
    held_width: float = 0.06
    """finger opening (sum of both finger joints, m) below which a block between them counts as held"""

    def __call__(self, obs: dict) -> np.ndarray:
        o, goal = obs["observation"], obs["desired_goal"]
        grip, block, finger_width = o[0:3], o[3:6], o[9] + o[10]
        offset = block - grip
        lined_up = np.linalg.norm(offset[:2]) < self.align_tolerance
        at_block = lined_up and abs(offset[2]) < self.grasp_tolerance
        if at_block and finger_width < self.held_width:
            target, fingers = goal, -1.0          # held: carry it
        elif at_block:
            target, fingers = block, -1.0         # close on it
        elif lined_up and grip[2] > block[2]:
            target, fingers = block, 1.0          # descend, open
        else:
            target, fingers = block + np.array([0.0, 0.0, self.hover]), 1.0
        action = np.empty(4)
        action[:3] = np.clip(self.gain * (target - grip), -1.0, 1.0)
        action[3] = fingers
        return action

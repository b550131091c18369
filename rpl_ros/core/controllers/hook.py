"""A reactive hook controller for NoisyHook and ComplexHook: grasp the hook's handle, carry the hook so that its
head stands behind the block (seen from the goal), lower it and push the block to the goal with it; with a goal
within reach and the block beyond it (the reference code's layout, NoisyHookDrag) it drags the block back with the
head's inner face instead.

Its phase is read from the observed state alone (gripper, fingers, block and hook pose), so it is a pure
function of the observation. It trusts what it sees: on NoisyHook the observed hook and block poses are off by
a few cm, so the grasp and the line-up often miss; on ComplexHook an odd-shaped block or a bump under the hook
turns the block or the hook away from the line.
"""
from dataclasses import dataclass

import numpy as np

HEAD_FACE = np.array([0.35, 0.065])
"""the middle of the hook head's pushing face, in the hook's frame relative to its grasp point (site), in m
(the controller knows its tool: these follow rpl_ros/core/tasks/assets/hook.xml)"""
HEAD_PULLING_FACE = np.array([0.32, 0.08])
"""the middle of the head's inner face, beside the handle: what drags a block back towards the robot"""
DRAG_GRASP = np.array([-0.06, 0.0])
"""where the gripper holds the handle to drag, relative to the grasp point: 2 cm from the handle's end"""
HANDLE_HALF_HEIGHT = 0.025
REACH_X = 1.73
"""the gripper's reach along the table (x, m): goals beyond it are pushed to, goals within it dragged to"""


@dataclass
class ReactiveHook:
    gain: float = 10.0
    """proportional gain from position error (m) to action (1 action unit = 5 cm of motion)"""
    hover: float = 0.08
    """height above the handle at which the open gripper lines up before descending, in m"""
    tolerance: float = 0.01
    """horizontal distance to the seen grasp point that counts as lined up over it, in m"""
    depth_tolerance: float = 0.01
    """height above the grasp point at which the fingers close, in m"""
    committed_tolerance: float = 0.04
    """once it descends (onto the handle, or with the hook behind the block) a miss up to this keeps it going, m"""
    held_width: float = 0.04
    """finger opening (sum of both finger joints, m) below which the fingers count as closed"""
    empty_width: float = 0.015
    """finger opening below which the closed fingers hold nothing (the handle is 3 cm wide)"""
    open_width: float = 0.07
    """finger opening (m) above which the gripper is open enough to descend over the handle"""
    gap: float = 0.04
    """distance from the block's centre to the head's face when lined up behind it, in m"""
    carry_height: float = 0.06
    """height of the hook above the table while carried to the line-up point (clears the block), in m"""
    line_up_tolerance: float = 0.02
    """distance from the line-up point that counts as lined up, in m"""

    def __call__(self, obs: dict) -> np.ndarray:
        o, goal = obs["observation"], obs["desired_goal"]
        grip, block, finger_width = o[0:3], o[3:6], o[9] + o[10]
        handle, hook_yaw = o[25:28], o[30]
        table_top = goal[2] - 0.025  # goals lie on the table, a block's half height up
        holding = self.empty_width < finger_width < self.held_width  # closed on something handle-wide
        yaw = np.array([[np.cos(hook_yaw), -np.sin(hook_yaw)], [np.sin(hook_yaw), np.cos(hook_yaw)]])
        drag = goal[0] < REACH_X  # a goal within reach: the block is beyond it, to be dragged back (inner face)
        if not holding:
            # dragging needs the head beyond a block at the edge of reach: hold the handle near its end
            grasp = handle[:2] + (yaw @ DRAG_GRASP if drag else 0.0)
            return self._grasp(grip, np.r_[grasp, table_top + HANDLE_HALF_HEIGHT], finger_width)
        face = handle[:2] + yaw @ (HEAD_PULLING_FACE if drag else HEAD_FACE)
        push_dir = goal[:2] - block[:2]
        push_dir = push_dir / max(np.linalg.norm(push_dir), 1e-6)
        line_up = block[:2] - push_dir * self.gap
        # the hook hangs from the gripper, so its height is the gripper's own (which carries no noise)
        hook_lift = grip[2] - HANDLE_HALF_HEIGHT - table_top
        # below the carry height it is committed to this line-up, and only a gross miss lifts it again
        committed = hook_lift < self.carry_height - 0.01
        rel = block[:2] - face
        lateral = abs(rel[0] * push_dir[1] - rel[1] * push_dir[0])
        miss = np.linalg.norm(face - line_up)
        if hook_lift < 0.5 * self.carry_height and np.dot(rel, push_dir) > 0 and lateral < self.committed_tolerance:
            face_target, lift = goal[:2] - push_dir * self.gap, 0.0              # push
        elif miss < (self.committed_tolerance if committed else self.line_up_tolerance):
            face_target, lift = line_up, 0.0                                    # lower
        else:
            face_target, lift = line_up, self.carry_height                      # carry
        return self._act(np.r_[face_target - face, lift - hook_lift], -1.0)

    def _grasp(self, grip, grasp, finger_width) -> np.ndarray:
        """Open above the handle, descend, close. Once below the hover height it is committed to the descent."""
        miss = np.linalg.norm(grasp[:2] - grip[:2])
        committed = grip[2] < grasp[2] + self.hover - 0.01 and miss < self.committed_tolerance
        if committed and abs(grasp[2] - grip[2]) < self.depth_tolerance:
            return self._act(grasp - grip, -1.0)                                    # close
        if committed or (miss < self.tolerance and finger_width > self.open_width):
            return self._act(grasp - grip, 1.0)                                     # descend, open
        return self._act(grasp + np.array([0.0, 0.0, self.hover]) - grip, 1.0)      # line up above, open

    def _act(self, error, fingers) -> np.ndarray:
        return np.r_[np.clip(self.gain * error, -1.0, 1.0), fingers]

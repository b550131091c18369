"""Differential inverse kinematics: a small Cartesian displacement of a site -> joint position targets.

Damped least squares on the site's position Jacobian (``mj_jacSite``), iterated a few times from the
current joint positions, with two ways of staying clear of the joint limits:

- a null-space term pulls the joints towards a rest posture chosen far from every limit (so a joint drifting
  towards a limit is pulled back, and the redundant degrees of freedom, such as the hand's orientation, stay
  near the rest posture's); it moves the joints without moving the site, and only while the site moves, so a
  zero displacement leaves every joint exactly where it is;
- targets are clamped to the joint range less a margin, and a joint that reaches the clamp is locked out of the
  Jacobian for the remaining iterations, so the other joints make up the motion it cannot.

The damping bounds the joint step near singular configurations, where plain least squares blows up: a joint step
is at most |displacement| / (2 * damping) per iteration.

Numpy and MuJoCo only: the same class turns actions into joint targets inside the simulated task and, over
ROS, in the joint commander node, so both give the same targets for the same joint positions.
"""
from typing import Sequence

import mujoco
import numpy as np


class DifferentialIK:
    def __init__(self, model: mujoco.MjModel, site: str, joints: Sequence[str], rest: Sequence[float],
                 damping: float = 0.05, iterations: int = 3, limit_margin: float = 0.05, rest_gain: float = 10.0):
        """
        Args:
            model: the robot's model; the solver works on its own MjData, never on a simulation's.
            site: the end effector's site.
            joints: the hinge or slide joints that move the site, in the order of ``q`` and the targets.
            rest: the rest posture the null-space term pulls towards (one value per joint).
            damping: lambda of damped least squares, in m: larger is slower near singularities, never unbounded.
            iterations: Gauss-Newton steps towards the displaced site position.
            limit_margin: targets stay this far (rad or m) inside each joint's range.
            rest_gain: per metre the site moves, the fraction of the way back to the rest posture the null space
                goes (saturating at all of it).
        """
        self.model, self.data = model, mujoco.MjData(model)
        self.site = model.site(site).id
        ids = [model.joint(name).id for name in joints]
        self.qpos_index = model.jnt_qposadr[ids]
        self.dof_index = model.jnt_dofadr[ids]
        ranges = model.jnt_range[ids]
        self.low, self.high = ranges[:, 0] + limit_margin, ranges[:, 1] - limit_margin
        self.rest = np.asarray(rest, dtype=np.float64)
        if self.rest.shape != (len(ids),) or np.any(self.rest < self.low) or np.any(self.rest > self.high):
            raise ValueError("the rest posture needs one value per joint, inside each range less the margin")
        self.damping, self.iterations, self.rest_gain = damping, iterations, rest_gain

    def site_position(self, q: np.ndarray) -> np.ndarray:
        """Forward kinematics: the site's world position at joint positions ``q``."""
        return self._kinematics(q)[0]

    def _kinematics(self, q: np.ndarray):
        self.data.qpos[self.qpos_index] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)  # mj_jacSite reads the bodies' com-based frames
        jacobian = np.zeros((3, self.model.nv))
        mujoco.mj_jacSite(self.model, self.data, jacobian, None, self.site)
        return self.data.site_xpos[self.site].copy(), jacobian[:, self.dof_index]

    def solve(self, q: Sequence[float], displacement: Sequence[float]) -> np.ndarray:
        """Joint position targets that move the site by ``displacement`` (m, world frame) from where it is at the
        joint positions ``q``. Always finite and inside the joint ranges less the margin."""
        q = np.asarray(q, dtype=np.float64)
        displacement = np.asarray(displacement, dtype=np.float64)
        goal = self.site_position(q) + displacement
        rest_step = min(1.0, self.rest_gain * np.linalg.norm(displacement)) / self.iterations
        identity = np.eye(len(q))
        target, free = q.copy(), np.ones(len(q), dtype=bool)
        for _ in range(self.iterations):
            position, jacobian = self._kinematics(target)
            jacobian[:, ~free] = 0.0
            # damped pseudo-inverse J^T (J J^T + lambda^2 I)^-1
            pseudo_inverse = jacobian.T @ np.linalg.inv(jacobian @ jacobian.T + self.damping ** 2 * np.eye(3))
            towards_goal = pseudo_inverse @ (goal - position)
            towards_rest = (identity - pseudo_inverse @ jacobian) @ (rest_step * (self.rest - target) * free)
            unclamped = target + towards_goal + towards_rest
            target = np.clip(unclamped, self.low, self.high)
            free &= target == unclamped
        return target

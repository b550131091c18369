"""A model-predictive pusher for MBRLPusher, with a cached model of the arm.

The model is a table of linear one-control-step models, one at each of a fixed set of joint configurations: the
next (qpos, qvel) as A x + B tau for a deviation x from rest there, and the fingertip's move as J dq, all from
finite differences of MuJoCo's own step of the Pusher model (FRAME_SKIP steps, contact off). At each call the
nearest cached configuration's model, unrolled over a short horizon, predicts the fingertip and the joints under a
planned torque sequence; the sequence minimising a PETS-style cost (the fingertip's distance to a phase target,
0.1 |tau|^2, and a penalty on joints leaving their range, which the model does not know) comes from a few
reweighted least-squares solves, and its first torques are applied. No randomness: the same observation gives
the same action. The phases line the fingertip up behind the cylinder (away from the goal), lower it, and push.

It is imperfect, as the paper's MBRL controller is, and more so: the model has no cylinder (no contact), the
nearest cached configuration's model is only roughly the current one's, and the round cylinder rolls off the
push line, so it brings the fingertip to the cylinder and pushes it, but onto the goal in one episode of five.
Seeds 0-99: mean return -56.1 (std 10.0), success 0.20; the Jacobian-transpose spring it replaced -65.1 (7.9), 0.00;
zero torques -90.8 (8.2), 0.00. About 1 ms a call, 0.5 s to build the cache (2000 configurations).
"""
import copy
import os
from dataclasses import dataclass, field

import gymnasium
import mujoco
import numpy as np

PUSHER_XML = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "pusher_v5.xml")
FRAME_SKIP = 5  # gymnasium Pusher's: one action lasts this many MuJoCo steps
ARM_JOINTS = 7


def cached_linear_models(model: mujoco.MjModel, size: int, seed: int = 0):
    """Joint configurations sampled within the joint ranges (the pan joint's at 0) and, at each, the arm's
    one-control-step model about rest: A (14x14) on the (qpos, qvel) deviation, B (14x7) on the torques, J (3x7)
    the fingertip Jacobian. Contact is off: the cylinder is not part of the model."""
    model = copy.deepcopy(model)
    model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    data = mujoco.MjData(model)
    low, high = model.jnt_range[:ARM_JOINTS].T
    configurations = np.random.default_rng(seed).uniform(low, high, size=(size, ARM_JOINTS))
    configurations[:, 0] = 0.0  # the model turns with the pan joint: see CachedModelPusher.unrolled_model
    arm = np.r_[0:ARM_JOINTS, model.nv:model.nv + ARM_JOINTS]  # arm rows of MuJoCo's (qpos, qvel) tangent state
    tip = model.body("tips_arm").id
    a, b, jacp = np.zeros((2 * model.nv, 2 * model.nv)), np.zeros((2 * model.nv, model.nu)), np.zeros((3, model.nv))
    state = 2 * ARM_JOINTS
    As, Bs, Js = np.empty((size, state, state)), np.empty((size, state, ARM_JOINTS)), np.empty((size, 3, ARM_JOINTS))
    for i, q in enumerate(configurations):
        data.qpos[:ARM_JOINTS], data.qvel[:] = q, 0.0
        mujoco.mj_forward(model, data)
        mujoco.mjd_transitionFD(model, data, 1e-6, True, a, b, None, None)
        a1, b1 = a[np.ix_(arm, arm)], b[arm]
        # without gravity or torque the arm stays at rest, so the control step's linearisation is the MuJoCo
        # step's, composed FRAME_SKIP times about the same point
        As[i] = np.linalg.matrix_power(a1, FRAME_SKIP)
        Bs[i] = sum(np.linalg.matrix_power(a1, k) @ b1 for k in range(FRAME_SKIP))
        mujoco.mj_jacBody(model, data, jacp, None, tip)
        Js[i] = jacp[:, :ARM_JOINTS]
    return configurations, As, Bs, Js


@dataclass
class CachedModelPusher:
    cache_size: int = 2000
    """number of cached joint configurations (a coarser cache is a worse model)"""
    horizon: int = 12
    """control steps the model predicts and the torques are planned over"""
    tip_weight: float = 1.0
    """cost per metre of fingertip-to-target distance, at each predicted step"""
    limit_weight: float = 10.0
    """cost per squared radian of predicted joint position beyond its range"""
    limit_margin: float = 0.2
    """how far inside its range a joint's penalty starts, in rad"""
    reweightings: int = 3
    """least-squares solves a call: each reweights the distance norm and the joint-range penalty by the last plan"""
    smoothing: float = 0.01
    """distance below which the fingertip cost is quadratic rather than a norm (no kink at the target), in m"""
    torque_weight: float = 0.1
    """cost per squared N m of torque, at each planned step (the PETS cost's)"""
    behind: float = 0.1
    """how far behind the cylinder centre (along the push direction) the fingertip lines up, in m"""
    align_tolerance: float = 0.04
    """how close to the push line counts as lined up, in m"""
    clearance: float = 0.05
    """fingertip height above the cylinder while it moves to the line-up point, in m"""
    push_reach: float = 0.0
    """how far past the cylinder's centre the fingertip aims while pushing, in m"""
    press: float = 0.05
    """how far below the cylinder's centre the fingertip aims once lined up, so it reaches down to it, in m"""
    torque_limit: float = 2.0
    """the model's torque range, to scale torques to actions in [-1, 1]"""
    cache: tuple = field(init=False, repr=False)
    joint_range: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        model = mujoco.MjModel.from_xml_path(PUSHER_XML)
        self.cache = cached_linear_models(model, self.cache_size)
        self.joint_range = model.jnt_range[:ARM_JOINTS].T + np.array([[self.limit_margin], [-self.limit_margin]])
        steps = np.arange(self.horizon)
        self._lag = steps[:, None] - steps[None, :]  # torque j moves predicted step k through A^(k-j) B

    def unrolled_model(self, q: np.ndarray):
        """The nearest cached model unrolled over the horizon: the predicted moves of the fingertip and the joints,
        (horizon x (3 + 7)) flattened, are free @ qvel + forced @ torques, (horizon x 7) flattened."""
        configurations, As, Bs, Js = self.cache
        # the pan angle (q[0]) leaves the joint-space dynamics alone and only turns the Jacobian about the vertical;
        # the wrist roll (q[6]) turns about the fingertip: so q[1:6] pick the cached model
        i = np.argmin(np.sum((configurations[:, 1:6] - q[1:6]) ** 2, axis=1))
        cos, sin = np.cos(q[0]), np.sin(q[0])
        jacobian = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]]) @ Js[i]
        outputs = np.block([[jacobian, np.zeros((3, ARM_JOINTS))],  # (fingertip, joint) moves from the deviation x
                            [np.eye(ARM_JOINTS), np.zeros((ARM_JOINTS, ARM_JOINTS))]])
        powers = [outputs]  # outputs A^k
        for _ in range(self.horizon):
            powers.append(powers[-1] @ As[i])
        free = np.concatenate([p[:, ARM_JOINTS:] for p in powers[1:]])
        impulse = np.stack([p @ Bs[i] for p in powers[:-1]])
        blocks = np.where((self._lag >= 0)[..., None, None], impulse[np.maximum(self._lag, 0)], 0.0)
        forced = blocks.transpose(0, 2, 1, 3).reshape(len(free), ARM_JOINTS * self.horizon)
        return free, forced

    def phase_target(self, tip: np.ndarray, cylinder: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Where the fingertip should go now: above the line-up point, down at it, or through the cylinder."""
        push_dir = goal[:2] - cylinder[:2]
        push_dir = push_dir / max(np.linalg.norm(push_dir), 1e-6)
        rel = tip[:2] - cylinder[:2]
        lateral = abs(rel[0] * push_dir[1] - rel[1] * push_dir[0])
        line_up = cylinder[:2] - push_dir * self.behind
        is_behind = np.dot(rel, push_dir) < -0.5 * self.behind and lateral < self.align_tolerance
        if is_behind and tip[2] < cylinder[2] + 0.03:
            # push through the cylinder's centre: the aim moves with it and keeps the fingertip on the line
            return np.r_[cylinder[:2] + push_dir * self.push_reach, cylinder[2] - self.press]
        if np.linalg.norm(line_up - tip[:2]) < self.align_tolerance:
            return np.r_[line_up, cylinder[2] - self.press]
        return np.r_[line_up, cylinder[2] + self.clearance]

    def __call__(self, obs: dict) -> np.ndarray:
        o, goal = obs["observation"], obs["desired_goal"]
        q, qvel, tip, cylinder = o[:7], o[7:14], o[14:17], o[17:20]
        target = self.phase_target(tip, cylinder, goal)
        free, forced = self.unrolled_model(q)
        unforced = (np.tile(np.r_[tip, q], self.horizon) + free @ qvel).reshape(self.horizon, -1)
        low, high = self.joint_range
        # min over the planned torques u of sum_k tip_weight |fingertip_k - target| + torque_weight |u_k|^2
        # + limit_weight |q_k beyond its range|^2, by iteratively reweighted least squares: the distance is a norm,
        # as in the PETS cost, and the model knows no joint limits, so the plan is kept off those it runs into
        predicted = unforced
        for _ in range(self.reweightings):
            distance = np.maximum(np.linalg.norm(predicted[:, :3] - target, axis=1), self.smoothing)
            joints = predicted[:, 3:]
            wanted = np.hstack([np.tile(target, (self.horizon, 1)), np.clip(joints, low, high)])
            weights = np.hstack([np.repeat(self.tip_weight / (2 * distance)[:, None], 3, axis=1),
                                 self.limit_weight * ((joints < low) | (joints > high))]).ravel()
            hessian = forced.T @ (weights[:, None] * forced) + self.torque_weight * np.eye(forced.shape[1])
            torques = np.linalg.solve(hessian, forced.T @ (weights * (wanted - unforced).ravel()))
            predicted = unforced + (forced @ torques).reshape(self.horizon, -1)
        # receding horizon: only the first planned torques are applied (clipped to the actuators' range)
        return np.clip(torques[:ARM_JOINTS] / self.torque_limit, -1.0, 1.0)

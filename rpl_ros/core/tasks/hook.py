"""The hook tasks: the Fetch arm must grasp a hook lying on the table and move a block with it where the gripper
cannot reach. One environment, three declarations: NoisyHook (Gaussian noise on the observed block and hook
pose), ComplexHook (a block of a procedurally generated shape each episode, and small bumps on the table) and
NoisyHookDrag, NoisyHook in the paper's reference code's layout (``drag_back``): the block lies beyond reach
and the goal nearer the robot, so that the hook drags the block back.

The observation is FetchPush's 25 values (with the block's observed pose) followed by the hook's position, its
rotation (Euler), linear and angular velocity (12 values): one frame. With ``frames`` > 1 the frames of the last
steps follow the current one, newest first (at an episode's start the first frame stands in for those not yet
seen), so a controller that reads the first 37 values sees the current frame whatever the count. NoisyHook has
two, as in the paper's reference code (``TwoFrameResidualHookNoisy-v0``): independent noise on each frame lets the
policy see a pose twice. ``achieved_goal`` is the block's true position, so the reward and ``is_success`` judge
where the block is, not where it is seen. ``info["state"]`` is the current frame without the noise: the simulator's
truth, for a learner's critic (``rpl-ros train --asymmetric-critic``), never for a policy.
"""
from collections import deque
from pathlib import Path
from typing import Tuple

import gymnasium_robotics
import mujoco
import numpy as np
from gymnasium.utils.ezpickle import EzPickle
from gymnasium_robotics.envs.fetch.fetch_env import MujocoFetchEnv
from gymnasium_robotics.envs.robot_env import MujocoRobotEnv
from gymnasium_robotics.utils import rotations

ASSETS = Path(__file__).parent / "assets"
FETCH_ASSETS = Path(gymnasium_robotics.__file__).parent / "envs" / "assets" / "fetch"
TABLE_TOP = 0.4
TABLE_X, TABLE_Y = (0.92, 1.98), (0.32, 1.18)
"""where on the table bumps may stand (the table's top, less 2 cm at each edge)"""
MAX_BUMPS = 15


def hook_model_xml(max_bumps: int) -> str:
    """The hook scene's MJCF with Fetch's assets found where gymnasium-robotics installed them, and
    ``max_bumps`` disabled bump geoms (static, on the world body) for episodes to place."""
    bumps = "\n\t\t".join(
        f'<geom name="bump{i}" type="box" size="0.01 0.01 0.005" pos="0 0 -1" contype="0" conaffinity="0" '
        f'condim="3" rgba="0.5 0.5 0.55 0"></geom>' for i in range(max_bumps))
    return (ASSETS / "hook.xml").read_text().replace("FETCH_ASSETS", str(FETCH_ASSETS)).replace("BUMPS", bumps)


class HookEnv(MujocoFetchEnv, EzPickle):
    def __init__(self, pose_noise_std: float = 0.0, frames: int = 1, bumps: Tuple[int, int] = (0, 0),
                 bump_height: float = 0.01, random_shapes: bool = False, drag_back: bool = False,
                 reward_type: str = "sparse", **kwargs):
        if frames < 1:
            raise ValueError(f"a hook observation holds at least one frame, not {frames}")
        self.pose_noise_std = pose_noise_std
        self.recent_frames = deque(maxlen=frames)
        """the observed frames of the last ``frames`` steps, newest last"""
        self.true_frame = np.zeros(0)
        """the current frame before the noise"""
        self.bumps = bumps
        """(fewest, most) bumps on the table in an episode"""
        self.bump_height = bump_height
        """the tallest a bump may be, in m"""
        self.random_shapes = random_shapes
        self.drag_back = drag_back
        """the reference code's layout: the block beyond reach, to be dragged back to a goal nearer the robot"""
        initial_qpos = {
            "robot0:slide0": 0.405,
            "robot0:slide1": 0.48,
            "robot0:slide2": 0.0,
            "object0:joint": [1.6, 0.75, TABLE_TOP + 0.025, 1.0, 0.0, 0.0, 0.0],
            "hook:joint": [1.3, 0.4, TABLE_TOP + 0.025, 1.0, 0.0, 0.0, 0.0],
        }
        MujocoFetchEnv.__init__(
            self, model_path=str(ASSETS / "hook.xml"), has_object=True, block_gripper=False, n_substeps=20,
            gripper_extra_height=0.2, target_in_the_air=False, target_offset=0.0, obj_range=0.05,
            target_range=0.05, distance_threshold=0.05, initial_qpos=initial_qpos, reward_type=reward_type,
            **kwargs)
        EzPickle.__init__(self, pose_noise_std, frames, bumps, bump_height, random_shapes, drag_back, reward_type,
                          **kwargs)

    def _initialize_simulation(self):
        # as MujocoRobotEnv's, but the model comes from hook_model_xml (Fetch's assets joined in at load time)
        self.model = mujoco.MjModel.from_xml_string(hook_model_xml(MAX_BUMPS))
        self.data = mujoco.MjData(self.model)
        self._model_names = self._utils.MujocoModelNames(self.model)
        self.model.vis.global_.offwidth = self.width
        self.model.vis.global_.offheight = self.height
        self._env_setup(initial_qpos=self.initial_qpos)
        self.initial_time = self.data.time
        self.initial_qpos = np.copy(self.data.qpos)
        self.initial_qvel = np.copy(self.data.qvel)

    # --- episode start: shapes, bumps, block, hook, goal --------------------------------------------------

    def _reset_sim(self):
        MujocoRobotEnv._reset_sim(self)  # the initial state, without FetchEnv's block placement
        self.recent_frames.clear()
        rng = self.np_random
        block_half_height = self._shape_block(rng) if self.random_shapes else 0.025
        self._place_bumps(rng, rng.integers(self.bumps[0], self.bumps[1] + 1))
        if self.drag_back:
            block = [rng.uniform(1.75, 1.90), rng.uniform(0.70, 0.80), TABLE_TOP + block_half_height]
        else:
            block = [rng.uniform(1.55, 1.65), rng.uniform(0.6, 0.9), TABLE_TOP + block_half_height]
        self._utils.set_joint_qpos(self.model, self.data, "object0:joint", [*block, 1.0, 0.0, 0.0, 0.0])
        hook = [rng.uniform(1.25, 1.35), rng.uniform(0.38, 0.45), TABLE_TOP + 0.025]
        self._utils.set_joint_qpos(self.model, self.data, "hook:joint", [*hook, 1.0, 0.0, 0.0, 0.0])
        mujoco.mj_forward(self.model, self.data)
        return True

    def _sample_goal(self):
        if self.drag_back:  # the reference's goal, moved along the diagonal
            shift = self.np_random.uniform(-0.05, 0.05)
            return np.array([1.65 + shift, 0.75 + shift, TABLE_TOP + 0.025])
        block = self._utils.get_site_xpos(self.model, self.data, "object0")
        return np.array([self.np_random.uniform(1.85, 1.95), block[1] + self.np_random.uniform(-0.1, 0.1),
                         TABLE_TOP + 0.025])

    def _geom(self, name: str) -> int:
        return self.model.geom(name).id

    def _set_box(self, geom: int, half_size, pos, yaw: float, enabled: bool):
        self.model.geom_size[geom] = half_size
        self.model.geom_pos[geom] = pos
        self.model.geom_quat[geom] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        # the broad phase culls by these bounds, so they must follow the size
        self.model.geom_rbound[geom] = np.linalg.norm(half_size)
        self.model.geom_aabb[geom] = [0.0, 0.0, 0.0, *half_size]
        self.model.geom_contype[geom] = self.model.geom_conaffinity[geom] = int(enabled)
        self.model.geom_rgba[geom, 3] = float(enabled)

    def _shape_block(self, rng) -> float:
        """Give the block a new shape: a union of three boxes of random sizes, offsets and yaws, standing on
        the table. Returns the height of the block's origin above the table. (Mass and inertia stay those of
        the compiled model.)"""
        lowest = 0.0
        for i, name in enumerate(("object0", "object0:part1", "object0:part2")):
            half = np.r_[rng.uniform(0.01, 0.035, size=2), rng.uniform(0.015, 0.03)]
            offset = np.r_[rng.uniform(-0.025, 0.025, size=2) if i else np.zeros(2), 0.0]
            self._set_box(self._geom(name), half, offset, rng.uniform(0, np.pi), enabled=True)
            lowest = max(lowest, half[2])
        return lowest

    def _place_bumps(self, rng, count: int):
        for i in range(MAX_BUMPS):
            half = np.r_[rng.uniform(0.005, 0.02, size=2), rng.uniform(0.2, 1.0) * self.bump_height / 2]
            pos = np.r_[rng.uniform(*TABLE_X), rng.uniform(*TABLE_Y), TABLE_TOP + half[2]]
            self._set_box(self._geom(f"bump{i}"), half, pos, rng.uniform(0, np.pi), enabled=i < count)

    # --- observation ------------------------------------------------------------------------------------

    def _get_obs(self):
        """The observation of this step (MujocoRobotEnv asks once a step, and once at reset, after _reset_sim):
        the frame seen now, then the earlier ones."""
        obs = super()._get_obs()
        dt = self.n_substeps * self.model.opt.timestep
        hook = np.concatenate([
            self._utils.get_site_xpos(self.model, self.data, "hook"),
            rotations.mat2euler(self._utils.get_site_xmat(self.model, self.data, "hook")),
            self._utils.get_site_xvelp(self.model, self.data, "hook") * dt,
            self._utils.get_site_xvelr(self.model, self.data, "hook") * dt])
        observation = np.concatenate([obs["observation"], hook])
        self.true_frame = observation.copy()
        if self.pose_noise_std > 0:
            noise = self.np_random.normal(0.0, self.pose_noise_std, size=(4, 3))
            observation[3:6] += noise[0]     # block position
            observation[6:9] += noise[0]     # block position relative to the gripper
            observation[11:14] += noise[1]   # block rotation
            observation[25:28] += noise[2]   # hook position
            observation[28:31] += noise[3]   # hook rotation
        self.recent_frames.append(observation)
        earlier = [self.recent_frames[0]] * (self.recent_frames.maxlen - len(self.recent_frames))
        obs["observation"] = np.concatenate([*reversed(self.recent_frames), *earlier])
        return obs

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return obs, {**info, "state": self.true_frame.copy()}

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "state": self.true_frame.copy()}

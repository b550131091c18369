"""PandaPush: FetchPush's task for a joint-controlled 7-DOF Franka Panda, as it runs on real hardware.

The action is Fetch's: a displacement of the end effector (dx, dy, dz, each 1.0 = MAX_STEP m per control period)
and a gripper command in [-1, 1]^4. Unlike Fetch, whose gripper follows a mocap body, the Panda is driven the
way ros2_control drives it: position actuators on the seven joints and on the gripper (a PD loop at 1 kHz),
fed joint position targets. ``PandaArm`` turns an action into those targets with the differential IK of
``rpl_ros.core.ik``, from the measured joint positions; the environment does that inside ``step``, and the
joint commander node does the same outside it, over ROS.

The observation starts with FetchPush's 25 values in FetchPush's order (so Fetch's controllers and residual
inputs line up), followed by the seven arm joint positions. Success is the block within 0.05 m of the goal.

For the ROS bridge, the environment also has a joint-level interface: ``joint_positions``,
``joint_velocities``, ``joint_targets``, ``set_joint_targets`` and ``advance`` (physics with the current
targets, between two task steps), and ``arm_control="joint"`` makes the action itself the joint targets.
"""
from pathlib import Path
from typing import Optional

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.utils.ezpickle import EzPickle
from gymnasium_robotics.envs.robot_env import MujocoRobotEnv
from gymnasium_robotics.utils import rotations

from rpl_ros.core.ik import DifferentialIK

MODEL_PATH = Path(__file__).parent / "assets" / "panda_push.xml"
ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINT = "panda_finger_joint1"
"""the gripper's joint as /joint_states reports it: the opening of one finger (the other mirrors it)"""
JOINT_NAMES = ARM_JOINTS + (FINGER_JOINT,)
"""the order of every joint-level vector: positions, velocities, targets"""
ARM, GRIPPER = slice(0, 7), slice(7, 8)
"""the arm's and the gripper's parts of a joint-level vector"""
START_POSTURE = np.array([0.0, 0.2719, 0.0, -2.399, 0.0, 2.6709, 0.7854])
"""the arm at the start of each episode, and the IK's rest posture: the grip site at START_GRIP with the hand
pointing straight down and the fingers closing along y (found with a position-and-orientation IK)"""
START_GRIP = np.array([0.5, 0.0, 0.1])
TABLE_TOP = 0.0
BLOCK_HALF_SIZE = 0.025
CONTROL_PERIOD_STEPS = 40
"""physics steps (1 ms each) per task step: FetchPush's 0.04 s control period"""
MAX_STEP = 0.05
"""m of end-effector motion per control period for an action of 1.0, as Fetch moves its mocap"""
FINGER_STEP = 0.04
"""m of finger opening per control period for a gripper action of 1.0: a full stroke"""


class PandaArm:
    """Fetch-style action -> the Panda's joint position targets, from its measured joint positions.

    The end effector moves by MAX_STEP * action[:3] from where it is (the differential IK, resting on
    START_POSTURE); the finger opening changes by FINGER_STEP * action[3]. A zero action holds the arm where
    it is: the targets are the measured positions.
    """

    def __init__(self, model: Optional[mujoco.MjModel] = None):
        model = model if model is not None else mujoco.MjModel.from_xml_path(str(MODEL_PATH))
        self.ik = DifferentialIK(model, "grip", ARM_JOINTS, rest=START_POSTURE)
        self.finger_range = model.joint(FINGER_JOINT).range.copy()
        self.low = np.r_[self.ik.low, self.finger_range[0]]
        self.high = np.r_[self.ik.high, self.finger_range[1]]
        """the range every target of ``joint_targets`` stays in"""

    def joint_targets(self, positions: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Targets for JOINT_NAMES from their measured ``positions`` and an action in [-1, 1]^4."""
        action = np.clip(action, -1.0, 1.0)
        arm = self.ik.solve(positions[ARM], MAX_STEP * action[:3])
        finger = np.clip(positions[GRIPPER] + FINGER_STEP * action[3], *self.finger_range)
        return np.r_[arm, finger]


class PandaPushEnv(MujocoRobotEnv, EzPickle):
    def __init__(self, arm_control: str = "cartesian", reward_type: str = "sparse", distance_threshold: float = 0.05,
                 obj_range: float = 0.15, target_range: float = 0.15, **kwargs):
        """
        Args:
            arm_control: ``cartesian``: the action is Fetch's (dx, dy, dz, gripper) in [-1, 1]^4; ``joint``: the
                action is the joint position targets of JOINT_NAMES (rad, and m for the finger).
            reward_type: ``sparse`` (-1 until success, then 0) or ``dense`` (minus the distance).
            distance_threshold: the block within this distance of the goal (m) is a success.
            obj_range, target_range: block and goal are drawn uniformly within these of START_GRIP in x and y.
        """
        if arm_control not in ("cartesian", "joint"):
            raise ValueError(f"arm_control must be 'cartesian' or 'joint', got {arm_control!r}")
        self.arm_control, self.reward_type = arm_control, reward_type
        self.distance_threshold, self.obj_range, self.target_range = distance_threshold, obj_range, target_range
        self.steps_into_period = 0
        super().__init__(model_path=str(MODEL_PATH), initial_qpos={}, n_actions=4, n_substeps=CONTROL_PERIOD_STEPS,
                         default_camera_config={"distance": 1.6, "azimuth": 150.0, "elevation": -25.0,
                                                "lookat": np.array([0.45, 0.0, 0.1])}, **kwargs)
        if arm_control == "joint":
            self.action_space = spaces.Box(self.arm.low, self.arm.high, dtype=np.float64)
        EzPickle.__init__(self, arm_control, reward_type, distance_threshold, obj_range, target_range, **kwargs)

    # --- the joint-level interface ------------------------------------------------------------------------

    @property
    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self.joint_qpos].copy()

    @property
    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self.joint_dofs].copy()

    @property
    def joint_targets(self) -> np.ndarray:
        return self.data.ctrl[self.actuators].copy()

    def set_joint_targets(self, targets: np.ndarray):
        """Joint position targets for JOINT_NAMES; the actuators clamp each to its joint's range."""
        targets = np.asarray(targets, dtype=np.float64)
        if targets.shape != (len(JOINT_NAMES),) or not np.all(np.isfinite(targets)):
            raise ValueError(f"joint targets must be {len(JOINT_NAMES)} finite values")
        self.data.ctrl[self.actuators] = targets

    def advance(self, physics_steps: int):
        """Run physics with the current targets, within the current control period (``step`` runs what is left
        of it): a controller that runs faster than the task, such as a 100 Hz ros2_control loop."""
        if self.steps_into_period + physics_steps >= self.n_substeps:
            raise ValueError(f"{physics_steps} more physics steps would end the control period: step() ends it")
        mujoco.mj_step(self.model, self.data, nstep=physics_steps)
        self.steps_into_period += physics_steps

    # --- MujocoRobotEnv's extension points ----------------------------------------------------------------

    def _env_setup(self, initial_qpos):
        model = self.model
        self.arm = PandaArm(model)
        self.joint_qpos = model.jnt_qposadr[[model.joint(name).id for name in JOINT_NAMES]]
        self.joint_dofs = model.jnt_dofadr[[model.joint(name).id for name in JOINT_NAMES]]
        self.gripper_qpos = model.jnt_qposadr[[model.joint(f"panda_finger_joint{i}").id for i in (1, 2)]]
        self.gripper_dofs = model.jnt_dofadr[[model.joint(f"panda_finger_joint{i}").id for i in (1, 2)]]
        self.actuators = np.array([model.actuator(name).id for name in ARM_JOINTS + ("gripper",)])
        self.data.qpos[self.joint_qpos[ARM]] = START_POSTURE
        mujoco.mj_forward(model, self.data)

    def _reset_sim(self):
        super()._reset_sim()
        self.set_joint_targets(np.r_[START_POSTURE, 0.0])  # hold the start posture, fingers closed
        self.steps_into_period = 0
        rng = self.np_random
        block = START_GRIP[:2]
        while np.linalg.norm(block - START_GRIP[:2]) < 0.1:  # as FetchPush: not right under the gripper
            block = START_GRIP[:2] + rng.uniform(-self.obj_range, self.obj_range, size=2)
        self._utils.set_joint_qpos(self.model, self.data, "object0:joint",
                                   [*block, TABLE_TOP + BLOCK_HALF_SIZE, 1.0, 0.0, 0.0, 0.0])
        mujoco.mj_forward(self.model, self.data)
        return True

    def _sample_goal(self):
        xy = START_GRIP[:2] + self.np_random.uniform(-self.target_range, self.target_range, size=2)
        return np.r_[xy, TABLE_TOP + BLOCK_HALF_SIZE]

    def _set_action(self, action):
        if self.arm_control == "cartesian":
            action = self.arm.joint_targets(self.joint_positions, action)
        self.set_joint_targets(action)

    def _mujoco_step(self, action):
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps - self.steps_into_period)
        self.steps_into_period = 0

    def _get_obs(self):
        mujoco.mj_forward(self.model, self.data)  # positions and velocities of the state after the last step
        dt = self.dt
        grip_pos = self.data.site("grip").xpos.copy()
        grip_velp = self._site_velocity("grip")[3:] * dt
        object_pos = self.data.site("object0").xpos.copy()
        object_rot = rotations.mat2euler(self.data.site("object0").xmat.reshape(3, 3))
        object_velocity = self._site_velocity("object0") * dt
        observation = np.concatenate([
            grip_pos, object_pos, object_pos - grip_pos, self.data.qpos[self.gripper_qpos], object_rot,
            object_velocity[3:] - grip_velp, object_velocity[:3], grip_velp, self.data.qvel[self.gripper_dofs] * dt,
            self.data.qpos[self.joint_qpos[ARM]]])
        return {"observation": observation, "achieved_goal": object_pos, "desired_goal": self.goal.copy()}

    def _site_velocity(self, site: str) -> np.ndarray:
        """(angular, linear) velocity of a site in the world frame."""
        velocity = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self.model.site(site).id,
                                 velocity, 0)
        return velocity

    def _is_success(self, achieved_goal, desired_goal):
        return np.float32(np.linalg.norm(achieved_goal - desired_goal, axis=-1) < self.distance_threshold)

    def compute_reward(self, achieved_goal, desired_goal, info):
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        if self.reward_type == "sparse":
            return -(distance > self.distance_threshold).astype(np.float32)
        return -distance

    def _render_callback(self):
        self.model.site("target0").pos[:] = self.goal
        mujoco.mj_forward(self.model, self.data)

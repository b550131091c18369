"""MBRLPusher: gymnasium's 7-DOF Pusher with the PETS pusher cost, in the goal-based interface of the other tasks.

Actions are joint torques scaled to [-1, 1] (the model's torque range is [-2, 2]); the reward is minus the
PETS cost 1.25 |cylinder - goal| + 0.1 |torque|^2 + 0.5 |fingertip - cylinder|. The task is scored by return;
``is_success`` (cylinder within ``distance_threshold`` of the goal) is reported for comparison only.
"""
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.pusher_v5 import PusherEnv


class MBRLPusherEnv(PusherEnv):
    def __init__(self, distance_threshold: float = 0.1, **kwargs):
        super().__init__(reward_dist_weight=1.25, reward_control_weight=0.1, reward_near_weight=0.5, **kwargs)
        self.distance_threshold = distance_threshold
        self.torque_limit = self.model.actuator_ctrlrange[:, 1].copy()
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.model.nu,), dtype=np.float32)
        point = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64)
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-np.inf, np.inf, shape=(20,), dtype=np.float64),
            "achieved_goal": point, "desired_goal": point})

    def _get_obs(self):
        flat = super()._get_obs()  # qpos[:7], qvel[:7], fingertip, cylinder, goal
        return {"observation": flat[:20], "achieved_goal": flat[17:20], "desired_goal": flat[20:23]}

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(np.asarray(action) * self.torque_limit)
        info["is_success"] = float(np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"]) < self.distance_threshold)
        return obs, reward, terminated, truncated, info

    def compute_reward(self, achieved_goal, desired_goal, info):
        """The step's reward with the goal part recomputed for (relabelled) goals; the control and fingertip
        parts come from ``info`` (a step's info dict, or a dict of arrays for a batch)."""
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -self._reward_dist_weight * distance + np.asarray(info["reward_ctrl"]) + np.asarray(info["reward_near"])

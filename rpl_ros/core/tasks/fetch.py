"""Variations of the Fetch tasks of Gymnasium-Robotics, as parameters over its own environments."""
from gymnasium_robotics.envs.fetch.push import MujocoFetchPushEnv


class SlipperyPushEnv(MujocoFetchPushEnv):
    """FetchPush with the sliding friction of every geom set to ``sliding_friction`` (the paper: 1.0 -> 0.18)."""

    def __init__(self, sliding_friction: float = 0.18, **kwargs):
        self.sliding_friction = sliding_friction
        super().__init__(**kwargs)

    def _env_setup(self, initial_qpos):
        # before the arm settles, so the initial state is already the slippery world's
        self.model.geom_friction[:, 0] = self.sliding_friction
        super()._env_setup(initial_qpos)

"""Running episodes of a task: the stepping, seeding and bookkeeping shared by the MuJoCo bridge node and
the in-process reference run, so that the graph and a plain loop can be compared action for action."""
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.tasks import make_env


@dataclass
class EpisodeResult:
    episode: int
    seed: int
    success: bool
    episode_return: float
    steps: int
    actions_sha256: str
    """digest of every applied action (float64 bytes), to check two runs applied the same actions"""
    final_observation: List[float] = field(default_factory=list)
    """the observation the last action led to, as /rpl/observation carries it (ObservationCodec): never published
    as an observation (the next episode starts instead), yet HER needs its achieved goal"""


class EpisodeRunner:
    """Steps one task through ``episodes`` seeded episodes (episode i uses seed ``seed + i``); ``env_kwargs`` go to
    the task's environment."""

    def __init__(self, task: str, episodes: int, seed: int, render_mode: Optional[str] = None, **env_kwargs):
        self.env = make_env(task, render_mode=render_mode, **env_kwargs)
        self.codec = ObservationCodec.for_space(self.env.observation_space)
        self.episodes, self.seed = episodes, seed
        self.results: List[EpisodeResult] = []
        self.obs: Dict[str, np.ndarray] = {}
        self._start_episode()

    @property
    def done(self) -> bool:
        return len(self.results) >= self.episodes

    @property
    def episode(self) -> int:
        return len(self.results)

    def _start_episode(self):
        self.obs, _ = self.env.reset(seed=self.seed + self.episode)
        self.steps, self.ret, self.digest = 0, 0.0, hashlib.sha256()

    def step(self, action: np.ndarray) -> Optional[EpisodeResult]:
        """Apply one action; returns the episode's result when this step ended it (and starts the next)."""
        action = np.asarray(action, dtype=np.float64)
        self.digest.update(action.tobytes())
        self.obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        self.ret += float(reward)
        if not (terminated or truncated):
            return None
        result = EpisodeResult(self.episode, self.seed + self.episode, bool(info.get("is_success", False)),
                               self.ret, self.steps, self.digest.hexdigest(), self.codec.encode(self.obs).tolist())
        self.results.append(result)
        if not self.done:
            self._start_episode()
        return result

    def close(self):
        self.env.close()


def run_in_process(task: str, policy: Callable[[Dict[str, np.ndarray]], np.ndarray], episodes: int,
                   seed: int) -> List[EpisodeResult]:
    """The reference: the same episodes with the policy called directly, no middleware."""
    runner = EpisodeRunner(task, episodes, seed)
    while not runner.done:
        runner.step(policy(runner.obs))
    runner.close()
    return runner.results


@dataclass
class RunSummary:
    task: str
    mode: str
    episodes: List[EpisodeResult]
    control_rate_hz: float
    latency_ms: Dict[str, float] = field(default_factory=dict)
    missed_cycles: int = 0
    wall_clock: Tuple[float, float] = (0.0, 0.0)
    """time.time() when the first observation went out and when the run ended: to line other processes' logs up
    with the run"""
    late_answers: Optional[int] = None
    """of the missed cycles, those whose answer came after the cycle closed (the others' never came); None where
    answers carry no stamp to tell (the Panda's ros2_control commands)"""
    longest_missed_streak: Optional[int] = None
    """the most missed cycles (control periods) in a row: a graph that stalled holds the arm for many, a busy one
    misses one here and there; None in summaries written before it was counted"""

    @property
    def missed_text(self) -> str:
        text = f"missed cycles {self.missed_cycles}"
        if self.missed_cycles and self.longest_missed_streak is not None:
            text += f", at most {self.longest_missed_streak} in a row"
        if self.late_answers is not None:
            text += f" ({self.late_answers} answered late, {self.missed_cycles - self.late_answers} never)"
        return text

    @property
    def success_rate(self) -> float:
        return float(np.mean([e.success for e in self.episodes])) if self.episodes else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "RunSummary":
        data = json.loads(text)
        data["episodes"] = [EpisodeResult(**e) for e in data["episodes"]]
        return cls(**data)


def latency_percentiles(samples_s: List[float]) -> Dict[str, float]:
    if not samples_s:
        return {}
    ms = np.asarray(samples_s) * 1e3
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}

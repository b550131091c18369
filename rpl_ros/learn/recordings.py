"""Recorded episodes (the recorder node's rosbag2/MCAP bags) as episodes of the residual MDP for the replay.

What the graph records, and how a step is rebuilt from it (rpl_ros.core.recording reads the bags):
  /rpl/observation       the state s_t: observation, achieved and desired goal (ObservationCodec), stamped
  /rpl/base_action       pi(s_t), stamped with s_t's stamp
  /rpl/residual_action   f(s_t), the residual the agent took, same stamp
  /rpl/action            the action the arm received, same stamp: the bridge applies the answer to the current
                         observation only, so these are the steps
  /rpl/episode           the episode's end: its length T, the digest of the applied actions, and the final
                         observation s_T (which the bridge never publishes as an observation)

Best-effort streams can drop samples, a lockstep bridge re-sends an unanswered observation (same state, new
stamp) and a realtime one steps on without a late answer. So an episode is kept only when the rebuilt steps
are exactly the ones the bridge applied: T of them, whose applied actions hash to the episode's digest.
Anything else (a dropped sample, a recorder started mid-episode, a missed realtime cycle) skips the episode,
counted by reason.

The replay's action is the residual MDP's: f(s_t) as recorded, wherever the arm received
residual_sum(pi(s_t), f(s_t)). Where it did not (base-only fallback, shadow mode, rate or budget limits), the
residual the arm effectively executed, clip((applied - pi(s_t)) / scale, -1, 1), is stored instead, and counted.
Rewards are recomputed with the task's compute_reward from the recorded goals, as HER does for relabelled ones.
"""
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import numpy as np
from rosbags.highlevel import AnyReaderError

from rpl_ros.core.arbitration import residual_sum
from rpl_ros.core.observation import ObservationCodec, ObservationError
from rpl_ros.core.recording import read_bag
from rpl_ros.core.tasks import make_env, task_spec
from rpl_ros.core.topics import ACTION, BASE_ACTION, EPISODE, OBSERVATION, RESIDUAL_ACTION, stamp_key

MALFORMED = "observations of another task, or malformed"
EPISODE_ARRAYS = ("observation", "achieved_goal", "desired_goal", "action", "reward", "base", "residual", "applied")
"""the first five are the replay's (rpl_ros.learn.replay); base, residual (NaN where none was recorded) and
applied are kept for inspection"""


@dataclass
class RecordedEpisode:
    key: str
    """``<bag>#<n>``: the n-th episode that ended in that bag; names the episode across restarts"""
    seed: int
    success: bool
    arrays: Dict[str, np.ndarray]
    """EPISODE_ARRAYS as recorded (float64): observation/achieved_goal [T + 1, dim], the others [T, dim], reward [T]"""


class EpisodeAssembler:
    """Rebuilds episodes from the recorded messages, fed one at a time in recording order (across bags: the
    first observation of an episode may be recorded before the previous episode's end)."""

    def __init__(self, task: str, residual_scale: float = 1.0):
        env = make_env(task)
        self.horizon = env.spec.max_episode_steps
        self.compute_reward = env.unwrapped.compute_reward
        env.close()
        goal = np.zeros((1, task_spec(task).observation_sizes["desired_goal"]))
        try:
            self.compute_reward(goal, goal, {})
        except KeyError:
            raise ValueError(f"{task}'s reward needs more than the goals (the step's info), which recordings do not "
                             "carry: it cannot be trained from recordings") from None
        self.codec = ObservationCodec(task_spec(task).observation_sizes)
        self.residual_scale = residual_scale
        self.observations: Dict[int, np.ndarray] = {}
        self.answers = {BASE_ACTION: {}, RESIDUAL_ACTION: {}, ACTION: {}}
        self.answered: List[int] = []  # stamps of the applied actions since the last episode end
        self.skipped: Counter = Counter()
        self.episodes = 0
        self.effective_residual_steps = 0
        self.events_in_bag: Counter = Counter()

    def add(self, bag: str, topic: str, message) -> Optional[RecordedEpisode]:
        """Take one recorded message; returns the episode it completed, if any."""
        if topic == OBSERVATION:
            try:
                self.observations[stamp_key(message.header.stamp)] = self.codec.encode(
                    self.codec.decode(message.name, message.position))
            except ObservationError:
                self.skipped[MALFORMED] += 1
        elif topic in self.answers:
            self.answers[topic][stamp_key(message.header.stamp)] = np.asarray(message.position, dtype=np.float64)
            if topic == ACTION:
                self.answered.append(stamp_key(message.header.stamp))
        elif topic == EPISODE:
            self.events_in_bag[bag] += 1
            return self.end_episode(f"{bag}#{self.events_in_bag[bag] - 1}", json.loads(message.data))
        return None

    def end_episode(self, key: str, result: dict) -> Optional[RecordedEpisode]:
        episode = self.rebuild(key, self.steps(), result)
        # Forget what this episode used; the next one's first observation may already be here.
        last = max(self.answered, default=-1)
        for stamped in (self.observations, *self.answers.values()):
            for stamp in [s for s in stamped if s <= last]:
                del stamped[stamp]
        self.answered = []
        if episode is not None:
            self.episodes += 1
        return episode

    def steps(self) -> List[int]:
        """Stamps of the observations the bridge stepped on: answered ones, less those it re-sent (the next
        observation is the same state: the answer to the first came too late and was not applied)."""
        stamps = sorted(s for s in set(self.answered) if s in self.observations)
        published = sorted(self.observations)
        following = dict(zip(published, published[1:]))
        return [s for s in stamps if not (s in following and np.array_equal(self.observations[s],
                                                                             self.observations[following[s]]))]

    def rebuild(self, key: str, steps: List[int], result: dict) -> Optional[RecordedEpisode]:
        if not result.get("final_observation"):
            self.skipped["no final observation (recorded by an older bridge)"] += 1
            return None
        try:
            final = self.codec.decode(self.codec.names, result["final_observation"])
        except ObservationError:
            self.skipped[MALFORMED] += 1
            return None
        if result.get("steps") != self.horizon or len(steps) != self.horizon \
                or any(s not in self.answers[BASE_ACTION] for s in steps):
            self.skipped["incomplete (recorder started mid-episode, dropped samples)"] += 1
            return None
        applied = np.stack([self.answers[ACTION][s] for s in steps])
        digest = hashlib.sha256()
        for action in applied:
            digest.update(action.tobytes())
        if digest.hexdigest() != result.get("actions_sha256"):
            self.skipped["recorded actions differ from those applied (missed cycles, dropped samples)"] += 1
            return None
        obs = [self.codec.decode(self.codec.names, self.observations[s]) for s in steps] + [final]
        base = np.stack([self.answers[BASE_ACTION][s] for s in steps])
        residual = np.stack([self.answers[RESIDUAL_ACTION].get(s, np.full(base.shape[1], np.nan)) for s in steps])
        action = self.residual_mdp_actions(base, residual, applied)
        achieved_goal = np.stack([o["achieved_goal"] for o in obs])
        desired_goal = np.stack([o["desired_goal"] for o in obs[:-1]])
        arrays = {"observation": np.stack([o["observation"] for o in obs]), "achieved_goal": achieved_goal,
                  "desired_goal": desired_goal, "action": action,
                  "reward": self.compute_reward(achieved_goal[1:], desired_goal, {}),
                  "base": base, "residual": residual, "applied": applied}
        return RecordedEpisode(key, int(result["seed"]), bool(result["success"]), arrays)

    def residual_mdp_actions(self, base: np.ndarray, residual: np.ndarray, applied: np.ndarray) -> np.ndarray:
        """f(s_t) where the arm received residual_sum(pi(s_t), f(s_t)); elsewhere the residual it executed."""
        effective = np.clip((applied - base) / self.residual_scale, -1.0, 1.0)
        as_recorded = np.isclose(residual_sum(base, np.nan_to_num(residual), self.residual_scale), applied,
                                 rtol=0.0, atol=1e-9).all(axis=1) & ~np.isnan(residual).any(axis=1)
        self.effective_residual_steps += int((~as_recorded).sum())
        return np.where(as_recorded[:, None], residual, effective)

    def summary(self) -> str:
        skipped = ", ".join(f"{count} {reason}" for reason, count in self.skipped.items()) or "none"
        return (f"{self.episodes} episodes rebuilt ({self.effective_residual_steps} steps stored with the residual "
                f"the arm executed, not the one recorded); skipped: {skipped}")


def read_episodes(assembler: EpisodeAssembler, bags: Iterable[Path]) -> List[RecordedEpisode]:
    """The episodes that end in ``bags`` (completed bags, in recording order). A bag that cannot be read (a
    damaged file) is counted in the assembler's skips; what was read of it still goes through the checks."""
    episodes = []
    for bag in bags:
        try:
            for topic, _, message in read_bag(bag):
                episode = assembler.add(Path(bag).name, topic, message)
                if episode is not None:
                    episodes.append(episode)
        except AnyReaderError:
            assembler.skipped["unreadable bags"] += 1
    return episodes


def stack_episodes(episodes: List[RecordedEpisode]) -> Dict[str, np.ndarray]:
    """The replay's layout: each array [episodes, T(+1), dim]."""
    return {name: np.stack([e.arrays[name] for e in episodes]) for name in EPISODE_ARRAYS}

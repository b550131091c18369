"""What the simulated arms share (not a node of its own): seeded episodes of a task (rpl_ros.core.episodes), the
observation on /rpl/observation, each finished episode on /rpl/episode, diagnostics, and after ``episodes``
episodes a summary (success, return, rate, latency) logged, written to ``summary_path``, and the node finished.

mujoco_bridge and panda_bridge differ only in how commands reach the simulation and when it steps; both end each
control period with ``step``.
"""
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from rpl_ros.core.episodes import EpisodeRunner, RunSummary, latency_percentiles
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (EPISODE, OBSERVATION, OK, WARN, ConfigError, Diagnostics, RateMeter,
                                  control_publisher, joint_state, parameters, stamp_key)

UNNAMED_NODE = "_NODE_NAME_UNKNOWN_"  # rmw_dds_common's name for a node whose endpoints came before its name


class EpisodeBridge(Node):
    def __init__(self, name: str, defaults: Dict[str, object], modes: Sequence[str],
                 env_kwargs: Optional[Dict[str, object]] = None):
        """``defaults``: the node's own parameters and defaults (``task``, ``mode`` and ``control_rate`` among
        them); ``modes``: the values ``mode`` may take; ``env_kwargs``: for the task's environment."""
        super().__init__(name)
        p = parameters(self, {"episodes": 10, "seed": 0, "render": False, "summary_path": "",
                              "wait_for_subscribers": 2, "discovery_settle": 0.5, **defaults})
        if p["mode"] not in modes:
            raise ConfigError(f"mode must be one of {tuple(modes)}, got {p['mode']!r}")
        if p["episodes"] < 1 or p["control_rate"] <= 0:
            raise ConfigError("episodes and control_rate must be positive")
        try:
            self.spec = task_spec(p["task"])
        except ValueError as error:
            raise ConfigError(error) from None
        self.p = p
        self.sim = EpisodeRunner(p["task"], p["episodes"], p["seed"], "human" if p["render"] else None,
                                 **(env_kwargs or {}))
        self.codec = self.sim.codec
        self.obs_pub = control_publisher(self, JointState, OBSERVATION)
        self.episode_pub = self.create_publisher(String, EPISODE, 10)
        self.pending_key, self.sent_at, self.answered = None, 0.0, False
        self.subscribers_since = None  # when the observation's subscribers were first all there
        self.latencies, self.missed, self.steps, self.started = [], 0, 0, None
        self.missed_streak = self.longest_missed_streak = 0
        self.late_answers: Optional[int] = None  # of the missed cycles, those answered after they closed, if known
        self.first_observation_at = None  # time.time(), for RunSummary.wall_clock
        self.rate, self.last_problem = RateMeter(), ""
        Diagnostics(self, self.status)
        self.get_logger().info(f"{p['task']}: {p['episodes']} episodes from seed {p['seed']}, {p['mode']} mode")

    def graph_ready(self) -> bool:
        """The first observation waits for its answerers, so no episode starts with half a graph.

        DDS discovery is pairwise: that the bridge sees its subscribers does not mean the residual node's
        publisher already sees the arbitration, and a best-effort sample sent before that match is lost (the
        first action would then be the base's alone). So the subscribers must have been there a while. And each
        must be named: rmw learns a node's name after its endpoints, when that node's discovery is not over either
        (a DDS reader outside ROS, never named, never counts).
        """
        named = len(self.subscriber_nodes())
        if min(self.obs_pub.get_subscription_count(), named) < self.p["wait_for_subscribers"]:
            self.subscribers_since = None
            return False
        self.subscribers_since = self.subscribers_since or time.monotonic()
        return time.monotonic() - self.subscribers_since >= self.p["discovery_settle"]

    def subscriber_nodes(self) -> List[str]:
        """The named nodes that subscribe to the observation, sorted."""
        return sorted(info.node_name for info in self.get_subscriptions_info_by_topic(OBSERVATION)
                      if info.node_name != UNNAMED_NODE)

    @property
    def finished(self) -> bool:
        return self.sim.done

    def publish_observation(self):
        if self.first_observation_at is None:  # who the run starts with: a tool subscribed at start counts too
            names = self.subscriber_nodes()
            self.get_logger().info(f"graph ready: {len(names)} subscribers of {OBSERVATION}, in {', '.join(names)}")
            self.first_observation_at = time.time()
        stamp = self.get_clock().now().to_msg()
        self.pending_key, self.sent_at, self.answered = stamp_key(stamp), time.monotonic(), False
        self.obs_pub.publish(joint_state(stamp, self.codec.names, self.codec.encode(self.sim.obs)))

    def record_answer(self):
        """The current observation has been answered: its latency counts once."""
        if not self.answered:
            self.latencies.append(time.monotonic() - self.sent_at)
            self.answered = True

    def refuse(self, problem: str):
        """A command that cannot be applied: logged (throttled) and shown on /diagnostics."""
        self.last_problem = problem
        self.get_logger().error(problem, throttle_duration_sec=1.0)

    def close_cycle(self, answered: bool):
        """Count a real-time control period that closed with its answer, or without (missed: the arm held)."""
        self.missed_streak = 0 if answered else self.missed_streak + 1
        self.missed += not answered
        self.longest_missed_streak = max(self.longest_missed_streak, self.missed_streak)

    def step(self, action: np.ndarray):
        """End a control period with ``action``: report an episode it ends, then finish or observe again."""
        self.started = self.started or time.monotonic()
        result = self.sim.step(action)
        self.steps += 1
        self.rate.tick()
        if result is not None:
            self.get_logger().info(f"episode {result.episode} (seed {result.seed}): "
                                   f"{'success' if result.success else 'failure'}, return {result.episode_return:.1f}")
            self.episode_pub.publish(String(data=json.dumps(result.__dict__)))
        if self.sim.done:
            self.finish()
        else:
            self.publish_observation()

    def summary(self) -> RunSummary:
        elapsed = time.monotonic() - (self.started or time.monotonic())
        return RunSummary(self.p["task"], self.p["mode"], self.sim.results, self.steps / max(elapsed, 1e-9),
                          latency_percentiles(self.latencies), self.missed,
                          (self.first_observation_at or time.time(), time.time()), self.late_answers,
                          self.longest_missed_streak)

    def finish(self):
        summary = self.summary()
        self.get_logger().info(
            f"done: success {summary.success_rate:.2f} over {len(summary.episodes)} episodes, "
            f"{summary.control_rate_hz:.0f} steps/s, latency p50 {summary.latency_ms.get('p50', 0):.2f} ms "
            f"p99 {summary.latency_ms.get('p99', 0):.2f} ms, {summary.missed_text}")
        if self.p["summary_path"]:
            Path(self.p["summary_path"]).write_text(summary.to_json())
        self.sim.close()

    def status(self):
        level = WARN if self.last_problem else OK
        message, self.last_problem = self.last_problem or "running", ""
        return level, message, {"rate_hz": f"{self.rate.take():.1f}", "episode": self.sim.episode,
                                "missed_cycles": self.missed}

"""mujoco_bridge: steps a MuJoCo task, publishes its state on /rpl/observation and applies /rpl/action.

``lockstep``: observation k waits for the action answering it (matched on the stamp), then the simulation
steps; deterministic, as fast as the graph answers; an unanswered observation is re-sent every
``resend_period`` s. ``realtime``: steps at ``control_rate`` Hz whatever arrived, like a real arm; a cycle
without a fresh action holds still and counts as missed.
After ``episodes`` episodes it writes a summary (success, return, rate, latency) and exits.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from rpl_ros.core.episodes import EpisodeRunner, RunSummary, latency_percentiles
from rpl_ros.core.observation import ObservationCodec, ObservationError, check_action
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (ACTION, CONTROL_QOS, EPISODE, OBSERVATION, OK, WARN, ConfigError, Diagnostics,
                                  RateMeter, joint_state, parameters, run_node, stamp_key)

MODES = ("lockstep", "realtime")


class MujocoBridge(Node):
    def __init__(self):
        super().__init__("mujoco_bridge")
        p = parameters(self, {"task": "push", "episodes": 10, "seed": 0, "mode": "lockstep", "control_rate": 25.0,
                              "resend_period": 0.2, "render": False, "summary_path": "",
                              "wait_for_subscribers": 2})
        if p["mode"] not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {p['mode']!r}")
        if p["episodes"] < 1 or p["control_rate"] <= 0:
            raise ConfigError("episodes and control_rate must be positive")
        try:
            spec = task_spec(p["task"])
        except ValueError as error:
            raise ConfigError(error) from None
        self.p, self.spec = p, spec
        self.sim = EpisodeRunner(p["task"], p["episodes"], p["seed"], "human" if p["render"] else None)
        self.codec = ObservationCodec.for_space(self.sim.env.observation_space)
        self.hold = np.zeros(len(spec.action_names))
        self.obs_pub = self.create_publisher(JointState, OBSERVATION, CONTROL_QOS)
        self.episode_pub = self.create_publisher(String, EPISODE, 10)
        self.create_subscription(JointState, ACTION, self.on_action, CONTROL_QOS)
        self.pending_key, self.sent_at, self.answer = None, 0.0, None
        self.latencies, self.missed, self.steps, self.started = [], 0, 0, None
        self.rate, self.last_problem = RateMeter(), ""
        if p["mode"] == "lockstep":
            self.create_timer(p["resend_period"], self.resend_if_unanswered)
        else:
            self.create_timer(1.0 / p["control_rate"], self.realtime_cycle)
        Diagnostics(self, self.status)
        self.get_logger().info(f"{p['task']}: {p['episodes']} episodes from seed {p['seed']}, {p['mode']} mode")

    def graph_ready(self) -> bool:
        """The first observation waits for its answerers, so no episode starts with half a graph."""
        return self.obs_pub.get_subscription_count() >= self.p["wait_for_subscribers"]

    @property
    def finished(self) -> bool:
        return self.sim.done

    def publish_observation(self):
        stamp = self.get_clock().now().to_msg()
        self.pending_key, self.sent_at, self.answer = stamp_key(stamp), time.monotonic(), None
        self.obs_pub.publish(joint_state(stamp, self.codec.names, self.codec.encode(self.sim.obs)))

    def on_action(self, msg: JointState):
        if stamp_key(msg.header.stamp) != self.pending_key or self.answer is not None:
            return  # an answer to an observation that is no longer current
        try:
            action = check_action(msg.position, len(self.hold))
        except ObservationError as error:
            self.last_problem = f"refusing action: {error}; holding"
            self.get_logger().error(self.last_problem, throttle_duration_sec=1.0)
            action = self.hold
        self.latencies.append(time.monotonic() - self.sent_at)
        self.answer = action
        if self.p["mode"] == "lockstep":
            self.apply(action)

    def resend_if_unanswered(self):
        if not self.sim.done and time.monotonic() - self.sent_at >= self.p["resend_period"] and self.graph_ready():
            self.publish_observation()

    def realtime_cycle(self):
        if self.sim.done:
            return
        if self.started is None and self.answer is None:
            if self.graph_ready():
                self.publish_observation()  # nothing answers yet: the graph is still starting, do not step
            return
        if self.answer is None:
            self.missed += 1
        self.apply(self.hold if self.answer is None else self.answer)

    def apply(self, action: np.ndarray):
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
                          latency_percentiles(self.latencies), self.missed)

    def finish(self):
        summary = self.summary()
        self.get_logger().info(
            f"done: success {summary.success_rate:.2f} over {len(summary.episodes)} episodes, "
            f"{summary.control_rate_hz:.0f} steps/s, latency p50 {summary.latency_ms.get('p50', 0):.2f} ms "
            f"p99 {summary.latency_ms.get('p99', 0):.2f} ms, missed cycles {summary.missed_cycles}")
        if self.p["summary_path"]:
            Path(self.p["summary_path"]).write_text(summary.to_json())
        self.sim.close()

    def status(self):
        level = WARN if self.last_problem else OK
        message, self.last_problem = self.last_problem or "running", ""
        return level, message, {"rate_hz": f"{self.rate.take():.1f}", "episode": self.sim.episode,
                                "missed_cycles": self.missed}


def main(args=None):
    sys.exit(run_node(MujocoBridge, args, finished=lambda node: node.finished))


if __name__ == "__main__":
    main()

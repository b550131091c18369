"""residual_policy: answers each observation with the residual f_theta(s) of the active ONNX model.

It starts with ``model_path`` (a local ONNX file the operator chose) or, when that is empty, the zero residual,
so the graph starts exactly as good as the base controller. Signed models arriving on /rpl/residual_model are
verified and loaded by a worker thread, off the executor that answers observations, then swapped in between two
observations; a refused model is logged with the reason and the active one stays. ``~/rollback`` returns to the
previous model. With ``guard_window`` > 0 a guard rolls a new model back by itself when its success rate over its
first ``guard_window`` episodes falls below the replaced model's over its last ones by more than ``guard_margin``
(rpl_ros.core.hotswap.RollbackGuard; episodes come from the bridge's /rpl/episode events).
A start model that cannot be loaded is reported and no residual is published: the arbitration falls back.
For live training (a trainer learning from what the graph records) it can explore as the learner's rollouts do
(``explore_noise``, ``explore_random``; both 0 by default): the residual it publishes, and the recorder
records, is then the explored one. ``inference_threads`` sets onnxruntime's threads for every model it loads: 1
(default), sleeping between calls, as a loop sharing its cores with the other nodes wants; 0 gives onnxruntime's own
defaults (bench/graph_levers.py compares the two in the graph).
"""
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String, UInt8MultiArray
from std_srvs.srv import Trigger

from rpl_ros.core.envelope import load_public_key
from rpl_ros.core.hotswap import ActiveModel, ModelSlot, RollbackGuard, load_candidate
from rpl_ros.core.observation import ObservationCodec, ObservationError
from rpl_ros.core.residual import ModelError, ResidualModel, explore, session_options, zero_residual_model
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (EPISODE, ERROR, LATCHED_QOS, OBSERVATION, OK, RESIDUAL_ACTION, RESIDUAL_MODEL,
                                  RESIDUAL_MODEL_VERSION, WARN, ConfigError, Diagnostics, RateMeter, control_publisher,
                                  control_subscription, joint_state, parameters, run_node)


class ResidualPolicy(Node):
    def __init__(self):
        super().__init__("residual_policy")
        p = parameters(self, {"task": "push", "model_path": "", "trusted_public_key": "",
                              "max_model_bytes": 16 * 1024 * 1024, "max_load_s": 5.0, "explore_noise": 0.0,
                              "explore_random": 0.0, "guard_window": 0, "guard_margin": 0.0,
                              "inference_threads": 1})
        try:
            spec = task_spec(p["task"])
            self.trusted_key = load_public_key(Path(p["trusted_public_key"])) if p["trusted_public_key"] else None
            self.guard = RollbackGuard(p["guard_window"], p["guard_margin"]) if p["guard_window"] > 0 else None
            session_options(p["inference_threads"])  # refuses a negative count now, not at the first load
        except (ValueError, OSError) as error:
            raise ConfigError(error) from None
        # swaps come from the loader thread and the rollback service, episodes from the executor
        self.guard_lock, self.swapped_in_episode = threading.Lock(), False
        self.p, self.codec, self.action_names = p, ObservationCodec(spec.observation_sizes), spec.action_names
        self.dims = (self.codec.policy_input_size, len(self.action_names))
        self.slot, self.last_error, self.rate = ModelSlot(), "", RateMeter()
        self.exploring, self.rng = p["explore_noise"] > 0 or p["explore_random"] > 0, np.random.default_rng()
        if self.exploring:
            self.get_logger().warn(f"exploring (noise {p['explore_noise']}, random {p['explore_random']}): the "
                                   "published residual is not the model's, for live training only")
        self.version_pub = self.create_publisher(String, RESIDUAL_MODEL_VERSION, LATCHED_QOS)
        self.load_start_model(p["model_path"])
        self.publisher = control_publisher(self, JointState, RESIDUAL_ACTION)
        control_subscription(self, JointState, OBSERVATION, self.on_observation)
        # One worker thread verifies and loads pushed models, so a load never holds up an observation, while the
        # observations stay on the executor's thread (no per-callback thread hand-off on the control path). Under
        # --rt-priority the worker keeps the process's real-time priority: it shares Python's GIL with the
        # executor, and at a lower priority it could be preempted while holding it, stalling the observations
        # behind it (bench/hotswap.py under load: 6-63 missed cycles in 100 swaps that way, 0-1 at equal priority).
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model_loader")
        self.create_subscription(UInt8MultiArray, RESIDUAL_MODEL, self.on_model, LATCHED_QOS)
        self.create_service(Trigger, "~/rollback", self.on_rollback)
        if self.guard:
            self.create_subscription(String, EPISODE, self.on_episode, 10)
        Diagnostics(self, self.status)

    def load_start_model(self, model_path: str):
        try:
            model_bytes = Path(model_path).read_bytes() if model_path else zero_residual_model(*self.dims)
            model = ResidualModel(model_bytes, *self.dims, threads=self.p["inference_threads"])
            self.activate(ActiveModel(model, model_path or "zero"))
        except (OSError, ModelError) as error:
            self.last_error = f"cannot use model {model_path!r}: {error}"
            self.get_logger().error(f"{self.last_error}; publishing no residual (arbitration falls back)")

    def activate(self, candidate: ActiveModel):
        with self.guard_lock:
            replaced = self.active_version()
            self.slot.swap(candidate)
            self.swapped_in_episode = True
            if self.guard:
                self.guard.swapped(candidate.version, replaced)
        self.announce()

    def announce(self):
        version = self.slot.active.version
        self.version_pub.publish(String(data=version))
        self.get_logger().info(f"residual model {version} active")

    def on_model(self, msg: UInt8MultiArray):
        self.loader.submit(self.check_and_swap, bytes(msg.data))

    def check_and_swap(self, data: bytes):
        try:
            candidate = load_candidate(data, self.trusted_key, *self.dims,
                                       self.p["max_model_bytes"], self.p["max_load_s"],
                                       threads=self.p["inference_threads"])
        except ModelError as error:
            self.last_error = f"refused model: {error}"
            self.get_logger().error(f"{self.last_error}; keeping {self.active_version()}")
            return
        self.activate(candidate)

    def on_rollback(self, request, response):
        response.success = self.rollback()
        response.message = (f"rolled back to {self.active_version()}" if response.success
                            else "no previous model to roll back to")
        return response

    def rollback(self) -> bool:
        with self.guard_lock:
            if not self.slot.rollback():
                return False
            self.swapped_in_episode = True
            if self.guard:
                self.guard.rolled_back()
        self.announce()
        return True

    def on_episode(self, msg: String):
        """The guard's view of an episode the bridge finished (one run wholly by one model counts)."""
        try:
            success = bool(json.loads(msg.data)["success"])
        except (ValueError, KeyError, TypeError):
            self.get_logger().error("refusing an episode event without a success field", throttle_duration_sec=1.0)
            return
        with self.guard_lock:
            mixed, self.swapped_in_episode = self.swapped_in_episode, False
            verdict = None if mixed else self.guard.episode(self.active_version(), success)
        if verdict:
            self.last_error = f"guard rolled back: {verdict}"
            self.get_logger().warning(self.last_error)
            self.rollback()

    def active_version(self) -> str:
        return self.slot.active.version if self.slot.active else "none"

    def on_observation(self, msg: JointState):
        active = self.slot.active  # one read: this answer comes wholly from one model
        if active is None:
            return
        try:
            obs = self.codec.decode(msg.name, msg.position)
        except ObservationError as error:
            self.get_logger().error(f"refusing observation: {error}", throttle_duration_sec=1.0)
            return
        residual = active.model(self.codec.policy_input(obs))
        if self.exploring:
            residual = explore(residual, self.p["explore_noise"], self.p["explore_random"], self.rng)
        self.publisher.publish(joint_state(msg.header.stamp, self.action_names, residual))
        self.rate.tick()

    def status(self):
        values = {"rate_hz": f"{self.rate.take():.1f}", "model": self.active_version()}
        if self.slot.active is None:
            return ERROR, self.last_error, values
        message, self.last_error = self.last_error, ""  # a refused push is reported once; the active model runs on
        return (WARN if message else OK), message or "running", values

    def destroy_node(self):
        self.loader.shutdown(wait=True)
        return super().destroy_node()


def main(args=None):
    sys.exit(run_node(ResidualPolicy, args))


if __name__ == "__main__":
    main()

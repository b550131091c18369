"""arbitration: pairs the base and residual actions answering one observation, sums them, applies the safety
limits and fallbacks of rpl_ros.core.arbitration, and publishes the one action that moves the arm.

A base action waits up to ``pair_timeout`` for its residual; if the residual has been silent for
``residual_timeout`` the base goes out alone at once (and diagnostics say so). Once an observation is answered,
no other answer to it or to an older one goes out (the bases among them counted as ``superseded``): the arm would
step back in time. When nothing has gone out for ``hold_after`` seconds (observation or base stream frozen or
gone), a watchdog sends a hold command every ``hold_after`` seconds, as an arm that streams commands needs.
E-stop: ``~/estop`` / ``~/resume`` services or the latched ``/rpl/estop`` topic (std_msgs/Bool); the state is
latched on ``/rpl/estop_state``. On SIGTERM or SIGINT a hold command goes out before the node exits. Every
change of mode is logged, counted on /diagnostics and published (with its reason) on ``/rpl/arbitration_event``
for the recording.
"""
import sys
import time
from collections import Counter, OrderedDict

import numpy as np

from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from rpl_ros.core.arbitration import HOLD, RESIDUAL, Arbiter, ArbitrationConfig
from rpl_ros.core.observation import ObservationError, check_action
from rpl_ros.core.tasks import task_spec
from rpl_ros.nodes.common import (ACTION, ARBITRATION_EVENT, BASE_ACTION, CARTESIAN_AXES, ESTOP, ESTOP_STATE,
                                  LATCHED_QOS, OBSERVATION, OK, RESIDUAL_ACTION, WARN, ConfigError, Diagnostics,
                                  RateMeter, control_publisher, control_subscription, joint_state, parameters, run_node,
                                  stamp_age, stamp_key)


class Arbitration(Node):
    def __init__(self):
        super().__init__("arbitration")
        defaults = {name: value for name, value in vars(ArbitrationConfig()).items()}
        p = parameters(self, {"task": "push", **defaults, "workspace_low": list(defaults["workspace_low"]),
                              "workspace_high": list(defaults["workspace_high"]),
                              "pair_timeout": 0.25, "residual_timeout": 1.0, "hold_after": 0.2})
        try:
            spec = task_spec(p["task"])
            config = ArbitrationConfig(**{name: p[name] for name in defaults})
            if config.has_workspace and spec.action_names[:3] != CARTESIAN_AXES:
                raise ValueError(f"a workspace box needs Cartesian actions; task {p['task']} has {spec.action_names}")
        except ValueError as error:
            raise ConfigError(error) from None
        self.names, self.size = spec.action_names, len(spec.action_names)
        self.end_effector = None  # the end effector's position in the latest observation, for the workspace box
        if config.has_workspace:
            control_subscription(self, JointState, OBSERVATION, self.on_observation)
        self.events = self.create_publisher(String, ARBITRATION_EVENT, 10)
        self.arbiter = Arbiter(config, self.size)
        self.pair_timeout, self.residual_timeout = p["pair_timeout"], p["residual_timeout"]
        self.pending = OrderedDict()  # stamp key -> [stamp, base, residual, base arrival time, end effector]
        self.answered_up_to = -1  # the stamp key of the newest observation answered
        self.superseded = 0  # base actions dropped: their observation, or a newer one, was answered first
        self.residual_seen = time.monotonic()
        self.estopped, self.mode = False, RESIDUAL
        self.modes, self.rate, self.last_reason = Counter(), RateMeter(), ""
        self.publisher = control_publisher(self, JointState, ACTION)
        control_subscription(self, JointState, BASE_ACTION, self.on_base)
        self.residual_sub = control_subscription(self, JointState, RESIDUAL_ACTION, self.on_residual)
        self.residual_publishers = 0
        self.create_timer(min(self.pair_timeout / 4, 0.01), self.flush_expired)
        self.last_answer = None  # monotonic time of the last command answering an observation (watchdog)
        self.create_timer(p["hold_after"], self.watchdog)
        self.estop_state = self.create_publisher(Bool, ESTOP_STATE, LATCHED_QOS)
        self.estop_state.publish(Bool(data=False))
        self.create_subscription(Bool, ESTOP, lambda msg: self.set_estop(msg.data, "topic"), LATCHED_QOS)
        self.create_service(Trigger, "~/estop", self.on_estop)
        self.create_service(Trigger, "~/resume", self.on_resume)
        self.hold_after = p["hold_after"]
        Diagnostics(self, self.status)

    def on_observation(self, msg: JointState):
        """Keep the end effector's position with the observation's stamp, for the actions that answer it."""
        if len(msg.position) >= 3:
            self.end_effector = np.array(msg.position[:3])
            entry = self.entry(msg)[1]
            if entry is not None:
                entry[4] = self.end_effector

    def entry(self, msg: JointState):
        """The pending pair ``msg`` belongs to, made if new; None for an observation answered already, or older."""
        key = stamp_key(msg.header.stamp)
        # Only while the newest answered is not ahead of this node's clock: when it is, the clock went back (a
        # restarted simulation's /clock) or that answer was stamped ahead, and what comes after must still go out.
        if key <= self.answered_up_to <= self.get_clock().now().nanoseconds:
            return key, None
        if key not in self.pending:
            self.pending[key] = [msg.header.stamp, None, None, None, None]
            while len(self.pending) > 32:  # answers to observations long gone
                self.superseded += self.pending.popitem(last=False)[1][1] is not None
        return key, self.pending[key]

    def parse(self, msg: JointState, what: str):
        try:
            return check_action(msg.position, self.size)
        except ObservationError as error:
            self.get_logger().error(f"refusing {what} action: {error}", throttle_duration_sec=1.0)
            return None

    def on_base(self, msg: JointState):
        key, entry = self.entry(msg)
        if entry is None:
            self.superseded += 1
            return
        entry[1], entry[3] = self.parse(msg, "base"), time.monotonic()
        if entry[1] is None:
            self.publish(key, base=None, residual=None)
        elif entry[2] is not None or not self.residual_expected():
            self.publish(key, entry[1], entry[2])

    def residual_expected(self) -> bool:
        """Wait for a residual only while a residual node is in the graph and has not been silent too long."""
        publishers = self.residual_sub.get_publisher_count()
        if publishers > self.residual_publishers:
            self.residual_seen = time.monotonic()  # a residual node (re)appeared: give it time to answer
        self.residual_publishers = publishers
        return publishers > 0 and time.monotonic() - self.residual_seen < self.residual_timeout

    def on_residual(self, msg: JointState):
        self.residual_seen = time.monotonic()
        key, entry = self.entry(msg)
        if entry is None:
            return
        entry[2] = self.parse(msg, "residual")
        if entry[1] is not None:
            self.publish(key, entry[1], entry[2])

    def flush_expired(self):
        """The newest base that waited ``pair_timeout`` goes out alone (and the older ones, superseded, never)."""
        now = time.monotonic()
        expired = [k for k, e in self.pending.items() if e[3] is not None and now - e[3] > self.pair_timeout]
        if expired:
            newest = max(expired)
            self.publish(newest, self.pending[newest][1], None)

    def publish(self, key, base, residual):
        stamp, end_effector = self.pending.pop(key)[0::4]
        self.answered_up_to = key
        for older in [k for k in self.pending if k < key]:
            self.superseded += self.pending.pop(older)[1] is not None
        if self.estopped:
            base = None
        # the position in the observation answered, or (should it not have come) the latest one
        decision = self.arbiter.decide(base, residual, stamp_age(self, stamp),
                                       self.end_effector if end_effector is None else end_effector)
        self.note(decision.mode, decision.reason)
        self.last_answer = time.monotonic()
        self.send(stamp, decision.action)

    def note(self, mode: str, reason: str):
        """Count a decision; a change of mode is logged and published as an event."""
        if mode != self.mode:
            text = f"mode {mode}" + (f": {reason}" if reason else "")
            if mode == HOLD:  # (rclpy wants one severity per logging call site)
                self.get_logger().warning(text)
            else:
                self.get_logger().info(text)
            self.events.publish(String(data=text))
            self.mode = mode
        self.modes[mode] += 1
        self.last_reason = reason

    def send(self, stamp, action):
        self.publisher.publish(joint_state(stamp, self.names, action))
        self.rate.tick()

    def hold(self, reason: str):
        self.note(HOLD, reason)
        self.send(self.get_clock().now().to_msg(), self.arbiter.decide(None, None, 0.0).action)

    def watchdog(self):
        if self.last_answer is not None and time.monotonic() - self.last_answer >= self.hold_after:
            self.hold(f"no fresh base action for {self.hold_after:.2f} s")

    def before_exit(self):
        """Called on SIGTERM/SIGINT while the node can still publish: the arm's last command is a hold."""
        self.hold("shutting down")

    def set_estop(self, engaged: bool, source: str):
        if engaged != self.estopped:
            self.get_logger().warning(f"e-stop ({source}): holding until resume" if engaged else f"resumed ({source})")
        self.estopped = engaged
        self.estop_state.publish(Bool(data=engaged))
        if engaged:
            self.hold("e-stop")

    def on_estop(self, request, response):
        self.set_estop(True, "service")
        response.success, response.message = True, "e-stop: holding"
        return response

    def on_resume(self, request, response):
        self.set_estop(False, "service")
        response.success, response.message = True, "resumed"
        return response

    def status(self):
        level = WARN if self.estopped or self.last_reason else OK
        values = {"rate_hz": f"{self.rate.take():.1f}", "estop": self.estopped, **self.modes,
                  "superseded": self.superseded}
        return level, "e-stop" if self.estopped else self.last_reason or "running", values


def main(args=None):
    sys.exit(run_node(Arbitration, args))


if __name__ == "__main__":
    main()

"""mujoco_bridge: steps a MuJoCo task, publishes its state on /rpl/observation and applies /rpl/action.

``lockstep``: observation k waits for the action answering it (matched on the stamp), then the simulation
steps; deterministic, as fast as the graph answers; an unanswered observation is re-sent every
``resend_period`` s. ``realtime``: steps at ``control_rate`` Hz whatever arrived, like a real arm; a cycle
without a fresh action holds still and counts as missed, and an answer that comes after its cycle closed counts as
late (the summary tells late answers from the others: lost, or dropped by the arbitration because the next
observation was answered first).
After ``episodes`` episodes it writes a summary (success, return, rate, latency) and exits (see episode_bridge).
"""
import sys
import time

import numpy as np
from sensor_msgs.msg import JointState

from rpl_ros.core.observation import ObservationError, check_action
from rpl_ros.nodes.common import ACTION, control_subscription, run_node, stamp_key
from rpl_ros.nodes.episode_bridge import EpisodeBridge

MODES = ("lockstep", "realtime")
LATE_MEMORY = 100


class MujocoBridge(EpisodeBridge):
    def __init__(self):
        super().__init__("mujoco_bridge", {"task": "push", "mode": "lockstep", "control_rate": 25.0,
                                           "resend_period": 0.2}, MODES)
        self.hold = np.zeros(len(self.spec.action_names))
        self.answer = None
        # the observations of the last LATE_MEMORY missed cycles (a stall misses several in a row), as dict keys;
        # lockstep misses no cycle, so there is nothing to tell there
        self.late_answers = 0 if self.p["mode"] == "realtime" else None
        self.closed_unanswered = {}
        control_subscription(self, JointState, ACTION, self.on_action)
        if self.p["mode"] == "lockstep":
            self.create_timer(self.p["resend_period"], self.resend_if_unanswered)
        else:
            self.create_timer(1.0 / self.p["control_rate"], self.realtime_cycle)

    def publish_observation(self):
        self.answer = None
        super().publish_observation()

    def on_action(self, msg: JointState):
        key = stamp_key(msg.header.stamp)
        if self.closed_unanswered.pop(key, False):
            self.late_answers += 1
        if key != self.pending_key or self.answer is not None:
            return  # an answer to an observation that is no longer current
        try:
            action = check_action(msg.position, len(self.hold))
        except ObservationError as error:
            self.refuse(f"refusing action: {error}; holding")
            action = self.hold
        self.record_answer()
        self.answer = action
        if self.p["mode"] == "lockstep":
            self.step(action)

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
        self.close_cycle(self.answer is not None)
        if self.answer is None:
            self.closed_unanswered[self.pending_key] = True
            if len(self.closed_unanswered) > LATE_MEMORY:
                del self.closed_unanswered[next(iter(self.closed_unanswered))]
        self.step(self.hold if self.answer is None else self.answer)


def main(args=None):
    sys.exit(run_node(MujocoBridge, args, finished=lambda node: node.finished))


if __name__ == "__main__":
    main()

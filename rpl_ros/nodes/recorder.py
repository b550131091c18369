"""recorder: writes the graph's streams to rosbag2/MCAP, one bag per episode (see rpl_ros.core.recording).

Observations (with achieved and desired goal, so HER can relabel), base, residual and applied actions, the
active residual version, e-stop state, the arbitration's changes of mode and episode events. Messages are taken serialized and written as they
are: no decode, no re-encode.
"""
import sys
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String

from rpl_ros.core.recording import SplitBagWriter
from rpl_ros.nodes.common import (ACTION, ARBITRATION_EVENT, BASE_ACTION, CONTROL_QOS, EPISODE, ESTOP_STATE,
                                  LATCHED_QOS, OBSERVATION, OK, RESIDUAL_ACTION, RESIDUAL_MODEL_VERSION, Diagnostics,
                                  RateMeter, parameters, run_node)

# The control streams are best effort (their publishers are); a deep queue keeps the recorder from dropping samples
# while it writes a bag to disk (with the controllers' depth of 5 it lost about a third of the episodes at
# lockstep speed).
RECORDING_QOS = QoSProfile(depth=1000, reliability=CONTROL_QOS.reliability)

STREAMS = {  # topic: (message class, QoS)
    OBSERVATION: (JointState, RECORDING_QOS), BASE_ACTION: (JointState, RECORDING_QOS),
    RESIDUAL_ACTION: (JointState, RECORDING_QOS), ACTION: (JointState, RECORDING_QOS),
    EPISODE: (String, 100), ARBITRATION_EVENT: (String, 100), RESIDUAL_MODEL_VERSION: (String, LATCHED_QOS),
    ESTOP_STATE: (Bool, LATCHED_QOS),
}


def type_name(message_class) -> str:
    return f"{message_class.__module__.split('.')[0]}/msg/{message_class.__name__}"


class Recorder(Node):
    def __init__(self):
        super().__init__("recorder")
        p = parameters(self, {"directory": "recordings", "max_bag_bytes": 256 * 1024 * 1024})
        self.bags = SplitBagWriter(Path(p["directory"]), {t: type_name(c) for t, (c, _) in STREAMS.items()},
                                   p["max_bag_bytes"], sticky=(RESIDUAL_MODEL_VERSION, ESTOP_STATE))
        for topic, (message_class, qos) in STREAMS.items():
            self.create_subscription(message_class, topic, lambda data, t=topic: self.record(t, data), qos, raw=True)
        self.rate = RateMeter()
        Diagnostics(self, lambda: (OK, "recording", {"rate_hz": f"{self.rate.take():.1f}",
                                                    "bag": self.bags.index}))
        self.get_logger().info(f"recording to {Path(p['directory']).resolve()}")

    def record(self, topic: str, data: bytes):
        self.bags.write(topic, self.get_clock().now().nanoseconds, data)
        self.rate.tick()
        if topic == EPISODE:
            self.bags.split()  # the episode is complete: close its bag so a crash cannot take it

    def destroy_node(self):
        self.bags.close()
        return super().destroy_node()


def main(args=None):
    sys.exit(run_node(Recorder, args))


if __name__ == "__main__":
    main()

"""rpl-ros push-model: seal an ONNX residual with a private key and publish it, latched, on /rpl/residual_model.

Not a long-running node: it publishes once, waits until the residual nodes that are there acknowledge it, and
stays up ``linger`` seconds so that one starting meanwhile still gets it (the topic is transient_local).
"""
import time
from pathlib import Path

import rclpy
from std_msgs.msg import UInt8MultiArray

from rpl_ros.core.envelope import load_private_key, seal
from rpl_ros.nodes.common import LATCHED_QOS, RESIDUAL_MODEL


def push_model(model_path: Path, key_path: Path, version: str, wait_s: float, linger_s: float) -> int:
    """Returns how many residual nodes were subscribed when the model went out."""
    envelope = seal(Path(model_path).read_bytes(), version, load_private_key(key_path))
    rclpy.init()
    try:
        node = rclpy.create_node("push_model")
        publisher = node.create_publisher(UInt8MultiArray, RESIDUAL_MODEL, LATCHED_QOS)
        deadline = time.monotonic() + wait_s
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        subscribers = publisher.get_subscription_count()
        publisher.publish(UInt8MultiArray(data=envelope))
        publisher.wait_for_all_acked(rclpy.duration.Duration(seconds=wait_s))
        end = time.monotonic() + linger_s
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()
        return subscribers
    finally:
        rclpy.try_shutdown()

"""What a control message costs a node, per message, the way the nodes build and send them: a fresh
JointState each time (what the nodes do: ``rpl_ros.nodes.common.joint_state``) against one message allocated
once and refilled (names set once, stamp and values overwritten), each then published to a best-effort
subscription matched in the same process, and reading one that arrives (``check_action`` on its values).

Variants are interleaved round by round so machine noise hits them alike; ratios are against the fresh message.
Compare the sums with the graph's observation-to-action latency (bench/graph_latency.py): every control cycle
builds, publishes and parses four messages (observation, base, residual, applied action).

    python bench/message_cost.py [--rounds 30] [--calls 500]
"""
import argparse
import os
import time

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState

from rpl_ros.core.observation import ObservationCodec, check_action
from rpl_ros.core.tasks import TASKS
from rpl_ros.nodes.common import CONTROL_QOS, OBSERVATION, joint_state

CODEC = ObservationCodec(TASKS["push"].observation_sizes)


def percentiles(samples):
    return np.percentile(np.asarray(samples) * 1e6, [50, 99])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=500, help="messages per variant per round")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
    rclpy.init()
    node = Node("message_cost")
    publisher = node.create_publisher(JointState, OBSERVATION, CONTROL_QOS)
    node.create_subscription(JointState, OBSERVATION, lambda msg: None, CONTROL_QOS)
    while publisher.get_subscription_count() < 1:
        time.sleep(0.01)
    values = CODEC.encode({"observation": np.random.default_rng(0).normal(size=25), "achieved_goal": np.zeros(3),
                           "desired_goal": np.ones(3)})
    names, stamp = CODEC.names, node.get_clock().now().to_msg()
    reused = joint_state(stamp, names, values)

    def fresh():
        publisher.publish(joint_state(stamp, names, values))

    def refilled():
        reused.header.stamp = stamp
        reused.position = values.tolist()
        publisher.publish(reused)

    def build_only():
        joint_state(stamp, names, values)

    def parse():
        check_action(reused.position, len(values))

    variants = {"fresh message + publish (the nodes now)": fresh, "one message refilled + publish": refilled,
                "building a fresh message alone": build_only, "parsing a received one (check_action)": parse}
    times = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, call in variants.items():
            for _ in range(args.calls):
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    first = np.median(times[next(iter(variants))])
    print(f"JointState of {len(values)} values, {args.rounds} interleaved rounds x {args.calls} messages")
    print(f"{'variant':42} {'p50 us':>8} {'p99 us':>8} {'p50 ratio':>10}")
    for name, samples in times.items():
        p50, p99 = percentiles(samples)
        print(f"{name:42} {p50:8.1f} {p99:8.1f} {np.median(samples) / first:10.2f}")
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()

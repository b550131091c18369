"""The recorder writes rosbag2/MCAP bags that rosbags opens, one per episode, and survives being killed."""
import json
import signal
import time

import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from rpl_ros.core.recording import TYPESTORE, SplitBagWriter, read_messages


def joint_state_cdr(values) -> bytes:
    """A JointState as CDR, serialized by rosbags (rclpy's serialize_message here pads its buffer)."""
    types = TYPESTORE.types
    msg = types["sensor_msgs/msg/JointState"](
        header=types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0),
                                           frame_id=""),
        name=[str(i) for i in range(len(values))], position=np.asarray(values, np.float64),
        velocity=np.zeros(0), effort=np.zeros(0))
    return bytes(TYPESTORE.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


def test_bags_split_by_size_and_open_with_rosbags(tmp_path):
    writer = SplitBagWriter(tmp_path, {"/obs": "sensor_msgs/msg/JointState"}, max_bytes=2000)
    for i in range(40):
        writer.write("/obs", 1_000 + i, joint_state_cdr([1.0, 2.0]))
    writer.close()
    read = list(read_messages(tmp_path))
    assert len(read) == 40 and len({bag for bag, *_ in read}) > 1
    assert all(topic == "/obs" and list(msg.position) == [1.0, 2.0] for _, topic, _, msg in read)
    assert (tmp_path / "bag_00000" / "bag_00000.mcap").exists()
    assert SplitBagWriter(tmp_path, {}).index == len({bag for bag, *_ in read})  # a restart continues numbering


def test_every_bag_opens_with_the_latest_sticky_state(tmp_path):
    """The model version is published only on change; each bag still says which model every step ran."""
    def version(text):
        return bytes(TYPESTORE.serialize_cdr(TYPESTORE.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String"))

    writer = SplitBagWriter(tmp_path, {"/obs": "sensor_msgs/msg/JointState", "/version": "std_msgs/msg/String"},
                            sticky=["/version"])
    writer.write("/version", 1, version("v1"))
    writer.write("/obs", 2, joint_state_cdr([1.0]))
    writer.split()
    writer.write("/obs", 3, joint_state_cdr([2.0]))
    writer.write("/version", 4, version("v2"))
    writer.split()
    writer.write("/obs", 5, joint_state_cdr([3.0]))
    writer.close()
    bags = {}
    for bag, topic, _, msg in read_messages(tmp_path):
        bags.setdefault(bag, []).append(msg.data if topic == "/version" else msg.position[0])
    assert list(bags.values()) == [["v1", 1.0], ["v1", 2.0, "v2"], ["v2", 3.0]]


def test_killed_recorder_leaves_every_completed_episode_readable(ros_context, processes, tmp_path):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from rpl_ros.nodes.common import CONTROL_QOS, EPISODE, OBSERVATION

    recorder = processes.start(["-m", "rpl_ros.nodes.recorder", "--ros-args", "-p", f"directory:={tmp_path}"])
    node = Node("episode_source", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    observations = node.create_publisher(JointState, OBSERVATION, CONTROL_QOS)
    episodes = node.create_publisher(String, EPISODE, 10)

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)

    deadline = time.monotonic() + 60
    while (observations.get_subscription_count() == 0 or episodes.get_subscription_count() == 0) \
            and time.monotonic() < deadline:
        spin(0.1)
    spin(0.5)
    for episode in range(3):
        for step in range(10):
            observations.publish(JointState(name=["x"], position=[float(episode * 100 + step)]))
            spin(0.01)
        spin(0.2)
        episodes.publish(String(data=json.dumps({"episode": episode})))
        spin(0.3)
    for step in range(5):  # the episode in progress when the recorder dies
        observations.publish(JointState(name=["x"], position=[300.0 + step]))
        spin(0.01)
    spin(0.3)
    recorder.send_signal(signal.SIGKILL)
    recorder.wait(timeout=10)
    executor.shutdown()
    node.destroy_node()

    by_bag = {}
    for bag, topic, _, msg in read_messages(tmp_path):
        by_bag.setdefault(bag, []).append((topic, msg))
    assert sorted(by_bag) == ["bag_00000", "bag_00001", "bag_00002"]
    for episode, bag in enumerate(sorted(by_bag)):
        values = [m.position[0] for t, m in by_bag[bag] if t == OBSERVATION]
        assert len(values) >= 8 and all(episode * 100 <= v < episode * 100 + 10 for v in values)
        assert json.loads(by_bag[bag][-1][1].data) == {"episode": episode}
    assert (tmp_path / "bag_00003").exists() and not (tmp_path / "bag_00003" / "metadata.yaml").exists()

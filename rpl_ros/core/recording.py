"""Recordings in rosbag2 layout with MCAP storage (``ros2 bag``, rosbags and Foxglove open them).

Crash safety comes from splitting: every episode goes into a bag of its own, closed (footer and
metadata.yaml written) when the episode ends or the bag reaches ``max_bytes``. A recorder killed mid-episode
loses only the bag it had open; every completed one stays readable. Each bag also stands on its own: it opens
with the latest message of every *sticky* topic (state published only on change, like the active model
version), so every recorded step can be read with the state it was taken in.
"""
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TYPESTORE = get_typestore(Stores.ROS2_KILTED)  # the message definitions the rclpy wheels here are built from


class SplitBagWriter:
    """Writes serialized (CDR) messages into ``root/bag_00000``, ``root/bag_00001``, ... one bag at a time."""

    def __init__(self, root: Path, topics: Dict[str, str], max_bytes: int = 256 * 1024 * 1024,
                 sticky: Iterable[str] = ()):
        self.root, self.topics, self.max_bytes = Path(root), topics, max_bytes
        self.latest = {topic: None for topic in sticky}  # sticky topic -> (timestamp ns, data) last written
        self.root.mkdir(parents=True, exist_ok=True)
        # continue numbering after what is already there, so a restarted recorder never overwrites a bag
        self.index = 1 + max((int(p.name.split("_")[1]) for p in self.root.glob("bag_*")), default=-1)
        self.writer: Optional[Writer] = None
        self.connections, self.written = {}, 0

    def write(self, topic: str, timestamp_ns: int, data: bytes):
        if self.writer is None:
            self.writer = Writer(self.root / f"bag_{self.index:05d}", version=9, storage_plugin=StoragePlugin.MCAP)
            self.writer.open()
            self.connections = {t: self.writer.add_connection(t, msgtype, typestore=TYPESTORE)
                                for t, msgtype in self.topics.items()}
            self.written = 0
            for sticky_topic, last in self.latest.items():
                if last is not None and sticky_topic != topic:
                    self.writer.write(self.connections[sticky_topic], *last)
        if topic in self.latest:
            self.latest[topic] = (timestamp_ns, data)
        self.writer.write(self.connections[topic], timestamp_ns, data)
        self.written += len(data)
        if self.written >= self.max_bytes:
            self.split()

    def split(self):
        """Close the open bag (it is complete and readable from now on); the next write opens a new one."""
        if self.writer is not None:
            self.writer.close()
            self.writer, self.index = None, self.index + 1

    close = split


def completed_bags(root: Path) -> List[Path]:
    """The bags under ``root`` in recording order, less the one a crash (or a running recorder) left open: a bag
    gets its metadata.yaml when it is closed."""
    return [bag for bag in sorted(Path(root).glob("bag_*")) if (bag / "metadata.yaml").exists()]


def read_bag(bag: Path) -> Iterator[Tuple[str, int, object]]:
    """(topic, timestamp ns, message) of one completed bag, in recording order."""
    with AnyReader([Path(bag)], default_typestore=TYPESTORE) as reader:
        for connection, timestamp, raw in reader.messages():
            yield connection.topic, timestamp, reader.deserialize(raw, connection.msgtype)


def read_messages(root: Path) -> Iterator[Tuple[str, str, int, object]]:
    """(bag name, topic, timestamp ns, message) of every completed bag under ``root``, in order."""
    for bag in completed_bags(root):
        for topic, timestamp, message in read_bag(bag):
            yield bag.name, topic, timestamp, message

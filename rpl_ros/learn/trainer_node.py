"""trainer: learns the residual from what the graph records and pushes signed models back to it.

It watches ``recordings`` (the recorder's directory) for newly completed bags, one per episode, adds their
episodes to the replay and trains on a worker thread (rpl_ros.learn.offline.RecordingsTrainer: the learner,
burn-in and HER of `rpl-ros train`), so the executor stays free for the service and /diagnostics. It trains at
most ``max_updates_per_episode`` updates per recorded episode (the in-process run's ratio is 20), then waits for
more data. Every ``publish_every`` updates, or on ``~/publish`` (std_srvs/Trigger), it exports the residual to
ONNX (kept as models/<version>.onnx), seals it with ``private_key`` (`rpl-ros keygen`) and publishes it, latched,
on /rpl/residual_model, where residual_policy nodes trusting the matching public key verify it and swap it in.
It checkpoints into ``out_directory`` at each publish and on exit; restarted on the same directory it resumes.
With ``evaluate_episodes`` > 0 a model goes out only if, evaluated in-process on that many seeded episodes
(from ``evaluate_seed``, the graph's summed policy without exploration), it succeeds at least
``evaluate_min_gain`` more often than the model the graph runs (at first the base alone); otherwise it is kept
back with a logged reason and training goes on.

Not a runtime node: it imports torch, so it lives under rpl_ros.learn.
"""
import hashlib
import sys
import threading
from pathlib import Path

from rclpy.node import Node
from std_msgs.msg import UInt8MultiArray
from std_srvs.srv import Trigger

from rpl_ros.core.envelope import load_private_key, seal
from rpl_ros.eval import base_policy, evaluate, residual_policy
from rpl_ros.learn.config import Args
from rpl_ros.learn.offline import RecordingsTrainer
from rpl_ros.nodes.common import (ERROR, LATCHED_QOS, OK, RESIDUAL_MODEL, ConfigError, Diagnostics, parameters,
                                  run_node)


class Trainer(Node):
    def __init__(self):
        super().__init__("trainer")
        p = parameters(self, {"task": "push", "recordings": "recordings", "out_directory": "trainer",
                              "private_key": "", "residual_scale": 1.0, "updates_per_round": 200,
                              "publish_every": 2000, "max_updates_per_episode": 20, "min_episodes": 1,
                              "poll_period": 1.0, "seed": 0, "hidden": [256, 256, 256], "batch_size": 256,
                              "evaluate_episodes": 0, "evaluate_seed": 0, "evaluate_min_gain": 0.0})
        if p["updates_per_round"] < 1 or p["publish_every"] < 1:
            raise ConfigError("updates_per_round and publish_every must be positive")
        if not p["private_key"]:
            raise ConfigError("private_key is empty: every model the trainer publishes is signed (`rpl-ros keygen` "
                              "makes a key pair; the residual node trusts the .pub)")
        try:
            self.key = load_private_key(Path(p["private_key"]))
            args = Args(task=p["task"], residual_scale=p["residual_scale"], seed=p["seed"],
                        hidden=tuple(p["hidden"]), batch_size=p["batch_size"], progress_bar=False)
            self.trainer = RecordingsTrainer(args, Path(p["recordings"]), Path(p["out_directory"]))
        except (ValueError, OSError) as error:
            raise ConfigError(error) from None
        self.p = p
        self.published_at, self.version, self.failure = self.trainer.updates, "none", ""
        self.active_success = None  # success of what the graph runs, once evaluated (evaluate_episodes > 0)
        self.model_pub = self.create_publisher(UInt8MultiArray, RESIDUAL_MODEL, LATCHED_QOS)
        self.create_service(Trigger, "~/publish", self.on_publish)
        Diagnostics(self, self.status)
        self.publish_requested, self.wake, self.stopping = threading.Event(), threading.Event(), threading.Event()
        self.worker = threading.Thread(target=self.work, name="training")
        self.worker.start()
        resumed = f", resumed at update {self.trainer.updates}" if self.trainer.resumed else ""
        self.get_logger().info(f"training {p['task']} from {Path(p['recordings']).resolve()} into "
                               f"{Path(p['out_directory']).resolve()}{resumed}")

    def work(self):
        try:
            while not self.stopping.is_set():
                self.read_new_bags()
                due = self.trainer.updates - self.published_at >= self.p["publish_every"]
                if due or self.publish_requested.is_set():
                    self.publish_requested.clear()
                    self.publish_model()
                if self.may_train():
                    self.train_round()
                else:
                    self.wake.wait(self.p["poll_period"])
                    self.wake.clear()
        except Exception as error:  # the node stays up to say so on /diagnostics
            self.failure = f"training stopped: {error!r}"
            self.get_logger().error(self.failure)

    def read_new_bags(self):
        episodes = self.trainer.read_new_bags()
        if episodes:
            self.get_logger().info(f"{len(episodes)} new episodes ({self.trainer.episodes} in the replay); "
                                   f"{self.trainer.assembler.summary()}")

    def may_train(self) -> bool:
        return (self.trainer.episodes >= self.p["min_episodes"] and
                self.trainer.updates < self.p["max_updates_per_episode"] * self.trainer.episodes)

    def train_round(self):
        end = self.trainer.updates + self.p["updates_per_round"]
        while self.trainer.updates < end and not self.stopping.is_set():
            self.trainer.train_cycle(end - self.trainer.updates)

    def publish_model(self):
        model = self.trainer.export()
        version = f"{self.p['task']}-u{self.trainer.updates}-{hashlib.sha256(model).hexdigest()[:8]}"
        models = Path(self.p["out_directory"]) / "models"  # every model that went out, for audits and evaluation
        models.mkdir(exist_ok=True)
        (models / f"{version}.onnx").write_bytes(model)
        if self.p["evaluate_episodes"] > 0 and not self.beats_the_active_model(version, models / f"{version}.onnx"):
            self.published_at = self.trainer.updates
            self.trainer.save()
            return
        self.model_pub.publish(UInt8MultiArray(data=seal(model, version, self.key)))
        self.trainer.save()
        self.published_at, self.version = self.trainer.updates, version
        self.get_logger().info(f"published residual {version} ({self.trainer.episodes} episodes, actor "
                               f"{'learning' if self.trainer.gate.released else 'frozen by the burn-in'})")

    def success(self, policy, name: str) -> float:
        return evaluate(self.p["task"], policy, name, self.p["evaluate_episodes"], self.p["evaluate_seed"]).success_rate

    def beats_the_active_model(self, version: str, path: Path) -> bool:
        if self.active_success is None:
            self.active_success = self.success(base_policy(self.p["task"]), "base")
        candidate = self.success(residual_policy(self.p["task"], str(path), self.p["residual_scale"]), version)
        bar = self.active_success + self.p["evaluate_min_gain"]
        if candidate < bar:
            self.get_logger().warning(f"not published: {version} succeeded on {candidate:.2f} of "
                                      f"{self.p['evaluate_episodes']} episodes, below {bar:.2f} (what the graph "
                                      f"runs scored {self.active_success:.2f}, plus evaluate_min_gain)")
            return False
        self.active_success = candidate
        return True

    def on_publish(self, request, response):
        if self.trainer.episodes == 0:
            response.success, response.message = False, "no recorded episode yet: nothing to train on"
        else:
            self.publish_requested.set()
            self.wake.set()
            response.success = True
            response.message = f"publishing after the current training round (now at update {self.trainer.updates})"
        return response

    def status(self):
        values = {"episodes": self.trainer.episodes, "bags": len(self.trainer.bags_read),
                  "skipped": sum(self.trainer.assembler.skipped.values()), "updates": self.trainer.updates,
                  "actor_released": self.trainer.gate.released, "last_version": self.version}
        if self.failure:
            return ERROR, self.failure, values
        return OK, "training" if self.may_train() else "waiting for episodes", values

    def destroy_node(self):
        self.stopping.set()
        self.wake.set()
        self.worker.join()
        if self.trainer.updates > self.published_at:
            self.trainer.save()
        return super().destroy_node()


def main(args=None):
    sys.exit(run_node(Trainer, args))


if __name__ == "__main__":
    main()

"""Training the residual from recordings: the in-process run's learner, burn-in gate, replay and HER (train.py),
fed with the episodes the graph recorded instead of simulated rollouts.

``RecordingsTrainer`` reads the completed bags of a recordings directory (again and again, for the trainer node
that watches one), trains in cycles, checkpoints and exports ONNX into an output directory. A trainer made on
an output directory that holds a checkpoint resumes it: networks, optimizers, normalizer, burn-in state, update
count and random generators. Its replay is refilled from the recordings, which are the data of record; episodes
already in the normalizer's statistics are not counted twice.
"""
import csv
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Set

import numpy as np
import torch
from tqdm import tqdm

from rpl_ros.core.recording import completed_bags
from rpl_ros.core.tasks import make_env
from rpl_ros.learn.config import Args
from rpl_ros.learn.recordings import EpisodeAssembler, RecordedEpisode, read_episodes, stack_episodes
from rpl_ros.learn.replay import EpisodeReplay
from rpl_ros.learn.train import (CHECKPOINT, MODEL, BurnInGate, ResidualLearner, base_controller_name, export_onnx,
                                 her_future_p, learning_cycle, release_reason, restore_training_state,
                                 save_checkpoint, save_model, training_state, update_normalizer)

PROGRESS_FIELDS = ("updates", "episodes", "wall_s", "critic_loss", "mean_q", "actor_loss", "actor_released")


class RecordingsTrainer:
    def __init__(self, args: Args, recordings: Path, out_dir: Path):
        if args.asymmetric_critic:
            raise ValueError("recordings hold no noise-free state for an asymmetric critic: --asymmetric-critic "
                             "trains in simulation only")
        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        self.args, self.recordings, self.out_dir = args, Path(recordings), Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.rng = np.random.default_rng(args.seed)
        env = make_env(args.task)
        horizon, space = env.spec.max_episode_steps, env.observation_space
        self.compute_reward = env.unwrapped.compute_reward
        act_dim = env.action_space.shape[0]
        env.close()
        self.future_p = her_future_p(args.her_k)
        self.learner = ResidualLearner(args, space["observation"].shape[0] + space["desired_goal"].shape[0], act_dim,
                                       args.gamma)
        self.gate = BurnInGate(args.burn_in, args.burn_in_beta, args.burn_in_window)
        self.replay = EpisodeReplay(args.buffer_episodes, horizon, {"observation": space["observation"].shape[0],
                                                                    "goal": space["desired_goal"].shape[0],
                                                                    "action": act_dim})
        self.assembler = EpisodeAssembler(args.task, args.residual_scale)
        self.bags_read: Set[str] = set()
        self.normalized: Set[str] = set()  # keys of the episodes whose statistics the normalizer holds
        self.wall_s, self.started = 0.0, time.monotonic()
        self.last_cycle: Dict[str, float] = {}
        self.resumed = (self.out_dir / CHECKPOINT).exists()
        if self.resumed:
            checkpoint = torch.load(self.out_dir / CHECKPOINT, weights_only=False)
            restore_training_state(checkpoint, self.learner, self.gate, self.rng, base_controller_name(args))
            self.normalized, self.wall_s = set(checkpoint["normalized"]), checkpoint["wall_s"]

    @property
    def updates(self) -> int:
        return self.learner.updates

    @property
    def episodes(self) -> int:
        return self.replay.size

    def read_new_bags(self) -> List[RecordedEpisode]:
        """Add the episodes of the bags completed since the last call to the replay; returns them."""
        bags = [bag for bag in completed_bags(self.recordings) if bag.name not in self.bags_read]
        episodes = read_episodes(self.assembler, bags)
        self.bags_read.update(bag.name for bag in bags)
        if episodes:
            self.replay.add(stack_episodes(episodes))
            new = [e for e in episodes if e.key not in self.normalized]
            if new:
                update_normalizer(self.learner, stack_episodes(new), self.rng, self.future_p, self.compute_reward)
                self.normalized.update(e.key for e in new)
        return episodes

    def train_cycle(self, updates: int) -> Dict[str, float]:
        """One cycle of at most ``args.updates_per_cycle`` gradient steps (target update and burn-in judgement
        after it, as in the in-process run); the gate judges by update count."""
        n = min(updates, self.args.updates_per_cycle)
        self.last_cycle = learning_cycle(self.learner, self.gate, self.replay, n, self.rng, self.future_p,
                                         self.compute_reward, self.updates + n)
        if self.last_cycle["released_now"]:
            tqdm.write(f"burn-in over at update {self.updates}: {release_reason(self.gate)}")
        return self.last_cycle

    def save(self):
        """Checkpoint, and a row of progress.csv."""
        self.wall_s += time.monotonic() - self.started
        self.started = time.monotonic()
        save_checkpoint({"args": asdict(self.args), "normalized": sorted(self.normalized), "wall_s": self.wall_s,
                         **training_state(self.learner, self.gate, self.rng, base_controller_name(self.args))},
                        self.out_dir / CHECKPOINT)
        progress = self.out_dir / "progress.csv"
        with progress.open("a", newline="") as file:
            writer = csv.DictWriter(file, PROGRESS_FIELDS, extrasaction="ignore")
            if file.tell() == 0:
                writer.writeheader()
            writer.writerow({**self.last_cycle, "updates": self.updates, "episodes": self.episodes,
                             "wall_s": round(self.wall_s, 1), "actor_released": int(self.gate.released)})

    def export(self) -> bytes:
        """The current residual as ONNX (written to residual.onnx too)."""
        model = export_onnx(self.learner.actor, self.replay, self.compute_reward)
        save_model(model, self.out_dir / MODEL)
        return model


def train_from_recordings(args: Args, recordings: Path, updates: int, out_dir: Path,
                          checkpoint_every: int = 1000) -> RecordingsTrainer:
    """Train until the run in ``out_dir`` has ``updates`` gradient steps in all (a restart continues it), on every
    complete episode under ``recordings``; checkpoint every ``checkpoint_every`` updates and export ONNX."""
    trainer = RecordingsTrainer(args, recordings, out_dir)
    if trainer.resumed:
        print(f"resumed {out_dir} at update {trainer.updates}")
    episodes = trainer.read_new_bags()
    print(f"{recordings}: {len(trainer.bags_read)} bags, {trainer.assembler.summary()}")
    if not episodes:
        raise ValueError(f"no complete {args.task} episode in {recordings}")
    bar = tqdm(total=updates, initial=min(trainer.updates, updates), unit="update", disable=not args.progress_bar,
               desc=f"{args.task} from {len(episodes)} recorded episodes")
    next_checkpoint = (trainer.updates // checkpoint_every + 1) * checkpoint_every
    try:
        while trainer.updates < updates:
            before = trainer.updates
            cycle = trainer.train_cycle(min(updates, next_checkpoint) - trainer.updates)
            bar.update(trainer.updates - before)
            bar.set_postfix(critic_loss=f"{cycle['critic_loss']:.3f}", released=trainer.gate.released)
            if trainer.updates >= next_checkpoint or trainer.updates >= updates:
                trainer.save()
                tqdm.write(f"update {trainer.updates}: critic loss {cycle['critic_loss']:.4f}, mean Q "
                           f"{cycle['mean_q']:.2f}, actor {'learning' if trainer.gate.released else 'frozen'}; "
                           f"checkpoint in {out_dir}")
                next_checkpoint += checkpoint_every
    finally:
        bar.close()
    trainer.export()
    return trainer

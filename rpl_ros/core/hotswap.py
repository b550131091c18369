"""Swapping residual models under a running control loop.

``load_candidate`` does everything that may be slow or may fail (verify, load, probe) and is called off the
control path (the residual node runs it on a worker thread); ``ModelSlot`` then makes the new model active in one reference assignment, so an observation is
answered wholly by the old model or wholly by the new one, and never waits for a load.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Tuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from rpl_ros.core.envelope import DEFAULT_MAX_BYTES, EnvelopeError, open_envelope
from rpl_ros.core.residual import ModelError, ResidualModel


@dataclass(frozen=True)
class ActiveModel:
    model: ResidualModel
    version: str


def load_candidate(data: bytes, trusted_key: Optional[Ed25519PublicKey], obs_dim: int, act_dim: int,
                   max_bytes: int = DEFAULT_MAX_BYTES, max_load_s: float = 5.0, threads: int = 1) -> ActiveModel:
    """A verified, loaded and probed model from an envelope, or ModelError saying why it was refused."""
    if trusted_key is None:
        raise ModelError("no trusted_public_key configured: pushed models are refused")
    started = time.monotonic()
    try:
        version, model_bytes = open_envelope(data, trusted_key, max_bytes)
    except EnvelopeError as error:
        raise ModelError(str(error)) from None
    model = ResidualModel(model_bytes, obs_dim, act_dim, threads=threads)
    load_s = time.monotonic() - started
    if load_s > max_load_s:
        raise ModelError(f"model {version} took {load_s:.1f} s to load and check (limit {max_load_s} s)")
    return ActiveModel(model, version)


class ModelSlot:
    """The active model and the one before it (for rollback).

    Readers take ``active`` without a lock (one reference read); swap and rollback, which may come from
    different threads (a loader, a service), are serialized so neither loses the other's model.
    """

    def __init__(self, initial: Optional[ActiveModel] = None):
        self.active: Optional[ActiveModel] = initial
        self.previous: Optional[ActiveModel] = None
        self.lock = threading.Lock()

    def swap(self, candidate: ActiveModel):
        with self.lock:
            self.previous, self.active = self.active, candidate

    def rollback(self) -> bool:
        """Return to the previous model; False when there is none."""
        with self.lock:
            if self.previous is None:
                return False
            self.active, self.previous = self.previous, self.active
            return True


class RollbackGuard:
    """Rolls a new model back by itself when it does worse than the model it replaced.

    A model swapped in is on trial: once it has run ``window`` whole episodes, its success rate is compared with
    the rate of the model it replaced over that one's last ``window`` episodes; below it by more than
    ``margin``, the verdict is a rollback. A model replacing one with fewer than ``window`` episodes on record
    has nothing to be compared with and is not judged. Episodes during which a swap happened count for neither.
    """

    def __init__(self, window: int, margin: float = 0.0):
        if window < 1:
            raise ValueError("the guard's window must be at least one episode")
        self.window, self.margin = window, margin
        self.outcomes: Dict[str, Deque[bool]] = {}
        self.trial: Optional[Tuple[str, float, str]] = None  # (version on trial, rate to beat, replaced version)

    def swapped(self, new_version: str, replaced_version: Optional[str]):
        replaced = self.outcomes.get(replaced_version, ())
        self.trial = None
        if len(replaced) == self.window:
            self.trial = (new_version, sum(replaced) / self.window, replaced_version)

    def rolled_back(self):
        self.trial = None

    def episode(self, version: str, success: bool) -> Optional[str]:
        """Record an episode run wholly by ``version``; returns why to roll back, or None."""
        runs = self.outcomes.setdefault(version, deque(maxlen=self.window))
        runs.append(bool(success))
        if self.trial is None or self.trial[0] != version or len(runs) < self.window:
            return None
        _, to_beat, replaced = self.trial
        self.trial = None
        rate = sum(runs) / self.window
        if rate < to_beat - self.margin:
            return (f"model {version} succeeded on {rate:.2f} of its first {self.window} episodes, "
                    f"{replaced} on {to_beat:.2f} of its last {self.window}")
        return None

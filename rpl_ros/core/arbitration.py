"""The arbitration rule: a = clip(pi(s) + scale * f_theta(s)), with the fallbacks that keep an arm safe.

This is the one place where base and residual meet. The node calls ``Arbiter.decide`` with what it has for
one observation; every decision says which mode it took and why, for /diagnostics and the recording.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

RESIDUAL = "residual"     # base + scaled residual
BASE_ONLY = "base_only"   # residual missing, stale or invalid
HOLD = "hold"             # base or observation missing, stale or invalid, or e-stop: no motion


def residual_sum(base: np.ndarray, residual: np.ndarray, scale: float = 1.0, low: float = -1.0,
                 high: float = 1.0) -> np.ndarray:
    """The residual policy of the paper: pi(s) + scale * f_theta(s), clipped to the action box.

    The graph's arbitration and the learner both call this, so training and deployment apply the same sum.
    """
    return np.clip(base + scale * residual, low, high)


@dataclass
class ArbitrationConfig:
    residual_scale: float = 1.0
    action_low: float = -1.0
    action_high: float = 1.0
    max_action_delta: float = float("inf")
    """largest change of any axis between two applied actions (a rate limit); inf turns it off"""
    max_age: float = 0.5
    """an action answering an observation older than this (s) is stale"""
    residual_fallback: str = BASE_ONLY
    """what to do without a usable residual: ``base_only`` (the paper's pi alone) or ``hold``"""

    def __post_init__(self):
        if self.residual_fallback not in (BASE_ONLY, HOLD):
            raise ValueError(f"residual_fallback must be {BASE_ONLY!r} or {HOLD!r}, got {self.residual_fallback!r}")
        if not self.action_low < self.action_high:
            raise ValueError("action_low must be below action_high")
        if self.max_action_delta <= 0:
            raise ValueError("max_action_delta must be positive")


@dataclass
class Decision:
    action: np.ndarray
    mode: str
    reason: str


class Arbiter:
    def __init__(self, config: ArbitrationConfig, action_size: int):
        self.config = config
        self.hold_action = np.zeros(action_size)
        self.last_action = self.hold_action

    def decide(self, base: Optional[np.ndarray], residual: Optional[np.ndarray], age: float) -> Decision:
        """Combine base and residual actions that answer one observation taken ``age`` seconds ago."""
        cfg = self.config
        if base is None or not np.all(np.isfinite(base)):
            return self._apply(self.hold_action, HOLD, "no valid base action")
        if age > cfg.max_age:
            return self._apply(self.hold_action, HOLD, f"observation is {age * 1e3:.0f} ms old")
        if residual is None or not np.all(np.isfinite(residual)):
            if cfg.residual_fallback == HOLD:
                return self._apply(self.hold_action, HOLD, "no valid residual action")
            return self._apply(np.clip(base, cfg.action_low, cfg.action_high), BASE_ONLY, "no valid residual action")
        action = residual_sum(base, residual, cfg.residual_scale, cfg.action_low, cfg.action_high)
        return self._apply(action, RESIDUAL, "")

    def _apply(self, action: np.ndarray, mode: str, reason: str) -> Decision:
        limit = self.config.max_action_delta
        # A hold is never rate-limited: stopping at once is the safe side.
        if mode != HOLD and np.isfinite(limit):
            action = np.clip(action, self.last_action - limit, self.last_action + limit)
        self.last_action = action
        return Decision(action, mode, reason)

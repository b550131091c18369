"""The arbitration rule: a = clip(pi(s) + scale * f_theta(s)), with the limits and fallbacks that keep an arm safe.

This is the one place where base and residual meet. The node calls ``Arbiter.decide`` with what it has for
one observation; every decision says which mode it took and why, for /diagnostics and the recording.

What a decision goes through, in order (each limit is a parameter; ``inf`` turns it off):
  1. validity: no valid, fresh base (or e-stop) -> hold; no valid residual -> the fallback (base alone or hold);
     after a hold, motion resumes only once valid, fresh data has come for ``recover_after`` seconds
  2. the residual budget: the scaled residual's norm is cut to ``residual_budget + residual_budget_ratio * |base|``
  3. the residual sum, clipped to the action box (the paper's sum; training applies the same)
  4. rate limits on the applied command, per cycle: its change (with velocity commands, an acceleration
     limit) and the change of that change (a jerk limit)
  5. the action box again, then the workspace box: a Cartesian command never moves the end effector further
     out of the box. Both boxes win over the rate limits (stopping at a wall is the safe side), so the jerk
     limit can be exceeded where a command saturates at the action box, and any limit where the workspace
     box stops an axis.
A hold is never rate-limited (stopping at once is the safe side) and leaves the limiter at rest, so motion
afterwards ramps up from zero.
"""
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

INF = float("inf")

RESIDUAL = "residual"     # base + scaled residual
BASE_ONLY = "base_only"   # residual missing, stale or invalid
SHADOW = "shadow"         # the base alone is applied; the residual is computed and recorded, never applied
HOLD = "hold"             # base or observation missing, stale or invalid, or e-stop: no motion


def residual_sum(base: np.ndarray, residual: np.ndarray, scale: float = 1.0, low: float = -1.0,
                 high: float = 1.0) -> np.ndarray:
    """The residual policy of the paper: pi(s) + scale * f_theta(s), clipped to the action box.

    The graph's arbitration and the learner both call this, so training and deployment apply the same sum.
    """
    return np.clip(base + scale * residual, low, high)


def residual_budget(base: np.ndarray, scaled_residual: np.ndarray, budget: float, ratio: float) -> np.ndarray:
    """The scaled residual, shortened (same direction) to a norm of at most ``budget + ratio * |base|``."""
    allowed = budget + ratio * float(np.linalg.norm(base))
    norm = float(np.linalg.norm(scaled_residual))
    return scaled_residual if norm <= allowed else scaled_residual * (allowed / norm)


def keep_in_workspace(action: np.ndarray, position: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Zero the Cartesian axes (the action's first three) that would move ``position`` further out of the box."""
    action = action.copy()
    outward = ((position <= low) & (action[:3] < 0)) | ((position >= high) & (action[:3] > 0))
    action[:3][outward] = 0.0
    return action


@dataclass
class ArbitrationConfig:
    residual_scale: float = 1.0
    action_low: float = -1.0
    action_high: float = 1.0
    residual_budget: float = INF
    residual_budget_ratio: float = 0.0
    """the norm of scale * f(s) is at most residual_budget + residual_budget_ratio * |pi(s)|"""
    max_action_delta: float = INF
    """largest change of any axis between two applied actions"""
    max_action_delta2: float = INF
    """largest change of that change between cycles"""
    workspace_low: Sequence[float] = (-INF, -INF, -INF)
    """the end effector's box (x, y, z), for Cartesian actions; infinite bounds: no box"""
    workspace_high: Sequence[float] = (INF, INF, INF)
    max_age: float = 0.5
    """an action answering an observation older than this (s) is stale; stamped further ahead than this, it
    cannot be judged (the clocks disagree)"""
    residual_fallback: str = BASE_ONLY
    """what to do without a usable residual: ``base_only`` (the paper's pi alone) or ``hold``"""
    recover_after: float = 0.0
    """s of valid, fresh data after a hold before motion resumes"""
    shadow: bool = False
    """dry run: apply the base alone; the residual is still computed, checked and recorded"""

    def __post_init__(self):
        if self.residual_fallback not in (BASE_ONLY, HOLD):
            raise ValueError(f"residual_fallback must be {BASE_ONLY!r} or {HOLD!r}, got {self.residual_fallback!r}")
        if not self.action_low < self.action_high:
            raise ValueError("action_low must be below action_high")
        for name in ("max_action_delta", "max_action_delta2"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.residual_budget < 0 or self.residual_budget_ratio < 0:
            raise ValueError("residual_budget and residual_budget_ratio must not be negative")
        if self.recover_after < 0:
            raise ValueError("recover_after must not be negative")
        if len(self.workspace_low) != 3 or len(self.workspace_high) != 3:
            raise ValueError("workspace_low and workspace_high must be (x, y, z)")
        if not np.all(np.less(self.workspace_low, self.workspace_high)):
            raise ValueError("workspace_low must be below workspace_high on every axis")

    @property
    def has_workspace(self) -> bool:
        return bool(np.any(np.isfinite(self.workspace_low)) or np.any(np.isfinite(self.workspace_high)))


@dataclass
class Decision:
    action: np.ndarray
    mode: str
    reason: str


class Arbiter:
    def __init__(self, config: ArbitrationConfig, action_size: int):
        self.config = config
        self.hold_action = np.zeros(action_size)
        self.last_action = self.last_delta = self.hold_action
        self.fresh_since: Optional[float] = None  # when valid data started coming again after a hold

    def decide(self, base: Optional[np.ndarray], residual: Optional[np.ndarray], age: float,
               end_effector: Optional[np.ndarray] = None, now: Optional[float] = None) -> Decision:
        """Combine base and residual actions that answer one observation taken ``age`` seconds ago.

        ``end_effector`` is the end effector's position in that observation (needed for the workspace box);
        ``now`` is a monotonic time in seconds (for recovery after a hold).
        """
        cfg = self.config
        now = time.monotonic() if now is None else now
        if base is None or not np.all(np.isfinite(base)):
            return self._hold("no valid base action")
        if age > cfg.max_age:
            return self._hold(f"observation is {age * 1e3:.0f} ms old")
        if age < -cfg.max_age:
            return self._hold(f"observation stamped {-age * 1e3:.0f} ms ahead of this clock: the clocks disagree")
        if cfg.has_workspace and (end_effector is None or not np.all(np.isfinite(end_effector))):
            return self._hold("end effector position unknown: cannot keep the workspace box")
        if self.fresh_since is None:
            self.fresh_since = now
        if now - self.fresh_since < cfg.recover_after:
            return self._hold(f"recovering: {now - self.fresh_since:.2f} of {cfg.recover_after:.2f} s of fresh data",
                              keep_recovery=True)
        residual_ok = residual is not None and np.all(np.isfinite(residual))
        if cfg.shadow:
            mode, reason, residual = SHADOW, "" if residual_ok else "no valid residual action", None
        elif not residual_ok:
            if cfg.residual_fallback == HOLD:
                return self._hold("no valid residual action")
            mode, reason, residual = BASE_ONLY, "no valid residual action", None
        else:
            mode, reason = RESIDUAL, ""
        correction = np.zeros_like(base) if residual is None else residual_budget(
            base, cfg.residual_scale * residual, cfg.residual_budget, cfg.residual_budget_ratio)
        action = residual_sum(base, correction, 1.0, cfg.action_low, cfg.action_high)
        action = np.clip(self._rate_limit(action), cfg.action_low, cfg.action_high)
        if cfg.has_workspace:
            action = keep_in_workspace(action, end_effector, np.asarray(cfg.workspace_low),
                                       np.asarray(cfg.workspace_high))
        self.last_delta, self.last_action = action - self.last_action, action
        return Decision(action, mode, reason)

    def _rate_limit(self, action: np.ndarray) -> np.ndarray:
        cfg = self.config
        if np.isinf(cfg.max_action_delta) and np.isinf(cfg.max_action_delta2):
            return action  # not last + (action - last), which can differ from action in the last bit
        low = np.maximum(-cfg.max_action_delta, self.last_delta - cfg.max_action_delta2)
        high = np.minimum(cfg.max_action_delta, self.last_delta + cfg.max_action_delta2)
        return self.last_action + np.clip(action - self.last_action, low, high)

    def _hold(self, reason: str, keep_recovery: bool = False) -> Decision:
        if not keep_recovery:
            self.fresh_since = None
        self.last_action = self.last_delta = self.hold_action
        return Decision(self.hold_action, HOLD, reason)

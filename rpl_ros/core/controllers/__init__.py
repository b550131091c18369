"""Hand-made base controllers pi(s), one per task.

A controller is a callable from a goal-based observation dict (``observation``, ``achieved_goal``,
``desired_goal``) to an action in [-1, 1]^n. Controllers are pure functions of the observation, so a graph
node can answer a re-sent observation twice and still agree with an in-process run.
"""
from functools import partial
from typing import Callable, Dict

import numpy as np

from rpl_ros.core.controllers.hook import ReactiveHook
from rpl_ros.core.controllers.mbrl_pusher import CachedModelPusher
from rpl_ros.core.controllers.pick_and_place import ReactivePickAndPlace
from rpl_ros.core.controllers.push import ReactivePusher

Controller = Callable[[Dict[str, np.ndarray]], np.ndarray]

CONTROLLERS: Dict[str, Callable[[], Controller]] = {
    "push": ReactivePusher,
    # the pusher tuned for normal friction (0.98 on Push): on the slippery table the block slides past the goal
    "slippery_push": partial(ReactivePusher, gain=6.0, approach_clearance=0.1, stop_short=0.08),
    "pick_and_place": ReactivePickAndPlace,
    "hook": ReactiveHook,
    "mbrl_pusher": CachedModelPusher,
}


def make_controller(name: str) -> Controller:
    """Build the base controller registered as ``name``; a clear error names the known ones."""
    try:
        return CONTROLLERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown base controller {name!r}; known: {', '.join(sorted(CONTROLLERS))}"
        ) from None

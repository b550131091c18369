"""Joint motion limits on position targets (no ROS)."""
import numpy as np
import pytest

from rpl_ros.core.joint_limits import PANDA_MAX_ACCELERATION, PANDA_MAX_JERK, PANDA_MAX_VELOCITY, JointMotionLimiter

PERIOD = 0.01


def test_targets_jumping_at_random_command_motion_within_the_limits():
    period = 0.001  # Franka's 1 kHz, where the jerk limit binds
    limiter = JointMotionLimiter(PANDA_MAX_VELOCITY, PANDA_MAX_ACCELERATION, period, PANDA_MAX_JERK)
    rng = np.random.default_rng(0)
    start = rng.uniform(-1, 1, 7)
    targets = start + np.repeat(rng.uniform(-0.05, 0.05, (20, 7)), 100, axis=0)  # a new one every 0.1 s
    sent = np.array([start] + [limiter(target, start) for target in targets])
    velocity = np.diff(sent, axis=0) / period
    acceleration = np.diff(np.vstack([np.zeros(7), velocity]), axis=0) / period
    jerk = np.diff(np.vstack([np.zeros(7), acceleration]), axis=0) / period
    assert np.all(np.abs(velocity) <= np.array(PANDA_MAX_VELOCITY) * (1 + 1e-9))
    assert np.all(np.abs(acceleration) <= np.array(PANDA_MAX_ACCELERATION) * (1 + 1e-6))
    # jerk gives way only where velocity or acceleration had to: at their bounds
    at_bound = ((np.abs(velocity) >= np.array(PANDA_MAX_VELOCITY) * (1 - 1e-9))
                | (np.abs(acceleration) >= np.array(PANDA_MAX_ACCELERATION) * (1 - 1e-6)))
    assert (~at_bound).sum() > 1000
    assert np.all(np.abs(jerk[~at_bound]) <= np.array(PANDA_MAX_JERK)[np.nonzero(~at_bound)[1]] * (1 + 1e-6))
    assert np.abs(np.diff(sent, axis=0)).max() > 1e-4  # it moved


def test_a_reachable_target_is_reached_and_a_hold_decelerates_within_the_limits():
    limiter = JointMotionLimiter([1.0], [10.0], PERIOD)
    sent = [limiter(np.array([0.5]), np.zeros(1))[0] for _ in range(200)]
    assert sent[-1] == pytest.approx(0.5)
    moving = JointMotionLimiter([1.0], [10.0], PERIOD)
    for _ in range(50):
        moving(np.array([5.0]), np.zeros(1))  # at full speed: 0.01 rad a step
    here = moving.last_target.copy()
    stopping = [moving(here, here)[0] for _ in range(30)]
    steps = np.diff(np.r_[here, stopping])
    assert steps[0] > 0 and np.all(np.abs(np.diff(np.r_[0.01, steps])) <= 10.0 * PERIOD ** 2 + 1e-12)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        JointMotionLimiter([1.0, 1.0], [1.0], PERIOD)
    with pytest.raises(ValueError):
        JointMotionLimiter([0.0], [1.0], PERIOD)
    with pytest.raises(ValueError):
        JointMotionLimiter([1.0], [1.0], PERIOD, max_jerk=[0.0])

"""PandaPush and the differential IK, without middleware: the IK follows a displacement, stays inside the joint
limits and stays finite at a singularity; the task keeps FetchPush's observation layout, can be driven by joint
targets from outside exactly as by its own actions, and Fetch's pusher beats a random policy on it."""
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.ik import DifferentialIK
from rpl_ros.core.tasks import make_env
from rpl_ros.core.tasks.panda import ARM_JOINTS, MODEL_PATH, START_GRIP, START_POSTURE, PandaArm


@pytest.fixture(scope="module")
def ik() -> DifferentialIK:
    return DifferentialIK(mujoco.MjModel.from_xml_path(str(MODEL_PATH)), "grip", ARM_JOINTS, rest=START_POSTURE)


@pytest.mark.parametrize("displacement", [(0.02, 0, 0), (0, -0.02, 0), (0, 0, 0.02), (0.03, 0.03, -0.03)])
def test_ik_moves_the_end_effector_by_the_commanded_displacement(ik, displacement):
    start = ik.site_position(START_POSTURE)
    np.testing.assert_allclose(start, START_GRIP, atol=1e-3)
    reached = ik.site_position(ik.solve(START_POSTURE, displacement))
    np.testing.assert_allclose(reached - start, displacement, atol=1e-3)


def test_ik_holds_every_joint_still_for_a_zero_displacement(ik):
    q = START_POSTURE + np.random.default_rng(0).uniform(-0.3, 0.3, 7)
    np.testing.assert_array_equal(ik.solve(q, np.zeros(3)), q)


def test_ik_targets_stay_inside_the_joint_limits_less_the_margin(ik):
    rng = np.random.default_rng(1)
    for _ in range(200):
        q = rng.uniform(ik.low, ik.high)
        target = ik.solve(q, rng.uniform(-0.5, 0.5, 3))  # far more than one step's 0.05 m
        assert np.all(target >= ik.low) and np.all(target <= ik.high)
    # a joint pushed against its limit is locked out; the others still move the end effector
    at_limit = START_POSTURE.copy()
    at_limit[3] = ik.low[3]
    target = ik.solve(at_limit, [0.0, 0.0, 0.02])
    assert target[3] == ik.low[3]
    assert ik.site_position(target)[2] - ik.site_position(at_limit)[2] > 0.01


def test_ik_stays_finite_and_bounded_at_a_singularity(ik):
    stretched = np.array([0.0, 0.0, 0.0, ik.low[3], 0.0, 1.5, 0.0])  # arm straight up: no reach further up
    for displacement in ([0.0, 0.0, 0.05], [0.0, 0.0, 1e3], [1e-9, 0.0, 0.0]):
        target = ik.solve(stretched, displacement)
        assert np.all(np.isfinite(target))
        assert np.all(target >= ik.low) and np.all(target <= ik.high)
    # damped least squares: each of the 3 iterations moves a joint by at most |d| / (2 * damping)
    step = ik.solve(stretched, [0.0, 0.0, 0.05]) - stretched
    assert np.max(np.abs(step)) <= 3 * 0.05 / (2 * ik.damping) + 1e-9


def test_a_zero_action_holds_the_arm_and_gripper_where_they_are():
    arm = PandaArm()
    positions = np.r_[START_POSTURE + 0.1, 0.013]
    np.testing.assert_array_equal(arm.joint_targets(positions, np.zeros(4)), positions)


def test_the_observation_starts_with_fetch_push_layout_and_ends_with_the_arm_joints():
    env = make_env("panda_push")
    obs, _ = env.reset(seed=3)
    for _ in range(5):
        obs, *_ = env.step(np.array([0.5, -0.5, 0.2, -1.0]))
    data, o = env.unwrapped.data, obs["observation"]
    np.testing.assert_allclose(o[0:3], data.site("grip").xpos)
    np.testing.assert_allclose(o[3:6], data.site("object0").xpos)
    np.testing.assert_allclose(o[6:9], o[3:6] - o[0:3])
    np.testing.assert_allclose(o[25:32], env.unwrapped.joint_positions[:7])
    np.testing.assert_array_equal(obs["achieved_goal"], o[3:6])
    env.close()


def test_joint_controlled_variant_passes_gymnasiums_env_checker():
    env = make_env("panda_push", arm_control="joint")
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_joint_targets_from_outside_drive_exactly_the_episode_of_the_cartesian_task():
    """What the ROS graph does: the joint commander turns each action into targets (PandaArm, from the joint
    positions), the bridge applies them at its own rate (advance) and ends each control period (step)."""
    cartesian, joint = make_env("panda_push"), make_env("panda_push", arm_control="joint")
    pusher, arm = make_controller("push"), PandaArm()
    obs_c, _ = cartesian.reset(seed=7)
    obs_j, _ = joint.reset(seed=7)
    for _ in range(50):
        action = pusher(obs_c)
        targets = arm.joint_targets(joint.unwrapped.joint_positions, action)
        obs_c, reward_c, *_ = cartesian.step(action)
        joint.unwrapped.set_joint_targets(targets)
        for _ in range(3):  # a 100 Hz controller: 10 of the period's 40 physics steps at a time
            joint.unwrapped.advance(10)
        obs_j, reward_j, *_ = joint.step(targets)
        for key in obs_c:
            np.testing.assert_array_equal(obs_c[key], obs_j[key])
        assert reward_c == reward_j
    cartesian.close()
    joint.close()


def test_joint_interface_refuses_bad_targets_and_steps_beyond_the_period():
    env = make_env("panda_push").unwrapped
    env.reset(seed=0)
    for bad in (np.zeros(7), np.r_[START_POSTURE, np.nan]):
        with pytest.raises(ValueError):
            env.set_joint_targets(bad)
    with pytest.raises(ValueError, match="step\\(\\) ends it"):
        env.advance(40)
    env.close()


def test_fetchs_pusher_beats_a_random_policy_on_the_panda():
    rng = np.random.default_rng(0)
    base = run_in_process("panda_push", make_controller("push"), 20, seed=0)
    random = run_in_process("panda_push", lambda obs: rng.uniform(-1.0, 1.0, 4), 20, seed=0)
    assert np.mean([e.success for e in base]) > np.mean([e.success for e in random]) + 0.3

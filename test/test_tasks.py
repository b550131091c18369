"""The paper's six tasks: real MuJoCo environments, their variations checked in the model itself, and their
base controllers each beating a random policy; one non-push task through the node graph over real DDS."""
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rpl_ros.bringup import load_graph
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import run_in_process
from rpl_ros.core.tasks import TASKS, make_env
from rpl_ros.runner import run_graph

GRAPH_TIMEOUT_S = 120


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_passes_gymnasiums_env_checker(task):
    env = make_env(task)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def rollout(task: str, seed: int, steps: int = 10) -> list:
    """Observations of a few steps with actions from a fixed-seed generator."""
    env, rng = make_env(task), np.random.default_rng(0)
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for _ in range(steps):
        trace.append(env.step(rng.uniform(-1, 1, env.action_space.shape))[0])
    env.close()
    return trace


@pytest.mark.parametrize("task", [t for t in TASKS if t != "push"])
def test_same_seed_same_episode_and_another_seed_another(task):
    first, again, other = rollout(task, 5), rollout(task, 5), rollout(task, 6)
    for a, b in zip(first, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(first[0]["achieved_goal"], other[0]["achieved_goal"])


def test_slippery_push_has_sliding_friction_0_18_on_every_geom():
    env = make_env("slippery_push")
    model = env.unwrapped.model
    np.testing.assert_array_equal(model.geom_friction[:, 0], np.full(model.ngeom, 0.18))
    assert np.all(make_env("push").unwrapped.model.geom_friction[:, 0] >= 1.0)
    env.close()


def test_mbrl_pusher_reward_is_the_pets_cost_and_compute_reward_agrees():
    env = make_env("mbrl_pusher")
    obs, _ = env.reset(seed=0)
    action = np.full(7, 0.5)
    obs, reward, _, _, info = env.step(action)
    tip, cylinder = obs["observation"][14:17], obs["achieved_goal"]
    cost = (1.25 * np.linalg.norm(cylinder - obs["desired_goal"]) + 0.1 * np.sum((2 * action) ** 2)
            + 0.5 * np.linalg.norm(tip - cylinder))
    assert reward == pytest.approx(-cost)
    assert env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], info) == pytest.approx(reward)
    env.close()


def random_policy(task: str, seed: int = 0):
    rng, size = np.random.default_rng(seed), len(TASKS[task].action_names)
    return lambda obs: rng.uniform(-1.0, 1.0, size)


# (task, episodes): few enough to stay fast, enough that the base's advantage is not luck
BASE_VS_RANDOM = [("slippery_push", 20), ("pick_and_place", 20)]


@pytest.mark.parametrize("task, episodes", BASE_VS_RANDOM)
def test_base_controller_beats_a_random_policy(task, episodes):
    base = run_in_process(task, make_controller(TASKS[task].controller), episodes, seed=0)
    random = run_in_process(task, random_policy(task), episodes, seed=0)
    assert np.mean([e.success for e in base]) > np.mean([e.success for e in random]) + 0.2


def test_mbrl_pusher_base_controller_beats_a_random_policy_by_return():
    base = run_in_process("mbrl_pusher", make_controller("mbrl_pusher"), 5, seed=0)
    random = run_in_process("mbrl_pusher", random_policy("mbrl_pusher"), 5, seed=0)
    zero = run_in_process("mbrl_pusher", lambda obs: np.zeros(7), 5, seed=0)
    base_return = np.mean([e.episode_return for e in base])
    assert base_return > np.mean([e.episode_return for e in zero]) + 20
    assert base_return > np.mean([e.episode_return for e in random]) + 20


def test_zero_residual_graph_applies_exactly_the_base_actions_on_pick_and_place(domain_id):
    graph = load_graph("push_sim", {"task": "pick_and_place", "episodes": 1, "seed": 2})
    status, summary = run_graph(graph, domain_id, GRAPH_TIMEOUT_S)
    assert status == 0
    reference = run_in_process("pick_and_place", make_controller("pick_and_place"), episodes=1, seed=2)
    assert [(e.success, e.actions_sha256) for e in summary.episodes] == [
        (e.success, e.actions_sha256) for e in reference]

"""Core logic without middleware: observation codec, residual runtime, arbitration, controllers, episodes."""
import json

import numpy as np
import onnx
import pytest

from rpl_ros.core.arbitration import BASE_ONLY, HOLD, RESIDUAL, SHADOW, Arbiter, ArbitrationConfig
from rpl_ros.core.controllers import make_controller
from rpl_ros.core.episodes import EpisodeRunner, RunSummary, run_in_process
from rpl_ros.core.observation import ObservationCodec, ObservationError, check_action
from rpl_ros.core.residual import ModelError, ResidualModel, build_mlp_onnx, zero_residual_model
from rpl_ros.core.tasks import TASKS, make_env, task_spec

CODEC = ObservationCodec(TASKS["push"].observation_sizes)


def sample_obs(rng=np.random.default_rng(0)):
    return {k: rng.normal(size=n) for k, n in CODEC.sizes.items()}


# --- observations ---------------------------------------------------------------------------------------

def test_codec_round_trip():
    obs = sample_obs()
    decoded = CODEC.decode(CODEC.names, CODEC.encode(obs).tolist())
    for key in obs:
        np.testing.assert_array_equal(decoded[key], obs[key])


def test_codec_refuses_wrong_size_labels_and_non_finite():
    values = CODEC.encode(sample_obs())
    with pytest.raises(ObservationError, match="expected 31"):
        CODEC.decode(CODEC.names[:-1], values[:-1])
    with pytest.raises(ObservationError, match="labels"):
        CODEC.decode(list(reversed(CODEC.names)), values)
    values[4] = np.nan
    with pytest.raises(ObservationError, match=r"non-finite values at \[4\]"):
        CODEC.decode(CODEC.names, values)


def test_check_action():
    np.testing.assert_array_equal(check_action([0.1, 0.2], 2), [0.1, 0.2])
    with pytest.raises(ObservationError):
        check_action([0.1], 2)
    with pytest.raises(ObservationError):
        check_action([0.1, np.inf], 2)


def test_task_specs_match_their_environments():
    for name, spec in TASKS.items():
        env = make_env(name)
        assert ObservationCodec.for_space(env.observation_space).sizes == spec.observation_sizes
        assert env.action_space.shape == (len(spec.action_names),)
        env.close()


def test_unknown_task_and_controller_are_clear_errors():
    with pytest.raises(ValueError, match="unknown task 'nope'; known: push"):
        task_spec("nope")
    with pytest.raises(ValueError, match="unknown base controller 'nope'"):
        make_controller("nope")


# --- residual runtime -----------------------------------------------------------------------------------

def test_zero_residual_outputs_exactly_zero():
    model = ResidualModel(zero_residual_model(28, 4), 28, 4)
    for _ in range(20):
        out = model(np.random.default_rng().normal(0, 10, 28))
        assert out.dtype == np.float64 and np.all(out == 0.0)


def mlp(obs_dim=28, act_dim=4, last=1.0, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(obs_dim, 8)), rng.normal(size=8)), (np.full((8, act_dim), last), np.zeros(act_dim))]


def test_built_model_matches_numpy_forward_pass():
    layers = mlp()
    mean, std = np.linspace(-1, 1, 28), np.linspace(0.5, 2, 28)
    model = ResidualModel(build_mlp_onnx(layers, mean, std), 28, 4)
    x = np.random.default_rng(2).normal(size=28)
    h = np.clip((x - mean) / std, -5, 5)
    expected = np.tanh(np.maximum(h @ layers[0][0] + layers[0][1], 0) @ layers[1][0] + layers[1][1])
    np.testing.assert_allclose(model(x), expected, atol=1e-5)


def test_every_inference_thread_setting_computes_the_same_residual():
    model_bytes = build_mlp_onnx(mlp(), np.linspace(-1, 1, 28), np.linspace(0.5, 2, 28))
    x = np.random.default_rng(3).normal(size=28)
    one_thread = ResidualModel(model_bytes, 28, 4)(x)
    for threads in (0, 2):  # onnxruntime's defaults, two intra-op threads
        model = ResidualModel(model_bytes, 28, 4, threads=threads)
        assert model.session.get_session_options().intra_op_num_threads == threads
        np.testing.assert_allclose(model(x), one_thread, atol=1e-6)
    with pytest.raises(ValueError, match="^inference threads must be 0") as refused:
        ResidualModel(model_bytes, 28, 4, threads=-1)
    assert not isinstance(refused.value, ModelError)


def test_models_that_must_not_run_are_refused():
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        ResidualModel(b"not onnx at all", 28, 4)
    good = zero_residual_model(28, 4)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        ResidualModel(good[: len(good) // 2], 28, 4)
    with pytest.raises(ModelError, match="this task needs 31 -> 4"):
        ResidualModel(good, 31, 4)
    with pytest.raises(ModelError, match="non-finite"):
        ResidualModel(build_mlp_onnx(mlp(last=np.nan), np.zeros(28), np.ones(28)), 28, 4)
    renamed = onnx.load_from_string(good)
    renamed.graph.output[0].name = "something_else"
    renamed.graph.node[-1].output[0] = "something_else"
    with pytest.raises(ModelError, match="interface"):
        ResidualModel(renamed.SerializeToString(), 28, 4)


# --- arbitration ----------------------------------------------------------------------------------------

def test_residual_sum_is_clipped():
    arbiter = Arbiter(ArbitrationConfig(residual_scale=0.5), 2)
    decision = arbiter.decide(np.array([0.2, 0.9]), np.array([0.4, 0.6]), age=0.0)
    assert decision.mode == RESIDUAL
    np.testing.assert_allclose(decision.action, [0.4, 1.0])


def test_zero_residual_leaves_base_exactly():
    arbiter = Arbiter(ArbitrationConfig(), 4)
    base = np.random.default_rng(3).uniform(-1, 1, 4)
    assert np.array_equal(arbiter.decide(base, np.zeros(4), 0.0).action, base)


def test_fallbacks():
    arbiter = Arbiter(ArbitrationConfig(max_age=0.1), 2)
    base = np.array([0.5, -0.5])
    assert arbiter.decide(base, None, 0.0).mode == BASE_ONLY
    assert arbiter.decide(base, np.array([np.nan, 0]), 0.0).mode == BASE_ONLY
    for decision in (arbiter.decide(None, np.zeros(2), 0.0), arbiter.decide(np.array([np.inf, 0]), None, 0.0),
                     arbiter.decide(base, np.zeros(2), 0.2)):
        assert decision.mode == HOLD and np.all(decision.action == 0) and decision.reason
    strict = Arbiter(ArbitrationConfig(residual_fallback=HOLD), 2)
    assert strict.decide(base, None, 0.0).mode == HOLD


def test_an_observation_stamped_further_ahead_than_max_age_holds_and_a_little_ahead_does_not():
    arbiter = Arbiter(ArbitrationConfig(max_age=0.1), 2)
    base = np.array([0.5, -0.5])
    assert arbiter.decide(base, np.zeros(2), -0.05).mode == RESIDUAL  # clocks a little apart
    ahead = arbiter.decide(base, np.zeros(2), -0.2)
    assert ahead.mode == HOLD and np.all(ahead.action == 0) and "ahead of this clock" in ahead.reason


def test_rate_limit_applies_to_motion_but_never_delays_a_hold():
    arbiter = Arbiter(ArbitrationConfig(max_action_delta=0.1), 1)
    assert arbiter.decide(np.array([1.0]), np.zeros(1), 0.0).action[0] == pytest.approx(0.1)
    assert arbiter.decide(np.array([1.0]), np.zeros(1), 0.0).action[0] == pytest.approx(0.2)
    assert arbiter.decide(None, None, 0.0).action[0] == 0.0


def test_acceleration_and_jerk_limits_bound_every_applied_command():
    arbiter = Arbiter(ArbitrationConfig(max_action_delta=0.3, max_action_delta2=0.1), 2)
    rng = np.random.default_rng(0)
    actions = [arbiter.decide(rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2), 0.0).action for _ in range(200)]
    commands = np.vstack([np.zeros(2), *actions])
    assert np.abs(commands).max() <= 1.0  # the action box wins over the limiter
    deltas = np.diff(commands, axis=0)
    assert np.abs(deltas).max() <= 0.3 + 1e-12
    jerks = np.diff(np.vstack([np.zeros(2), deltas]), axis=0)
    unsaturated = np.abs(commands[1:]) < 1.0  # where a command saturates at the box, the jerk limit gives way
    assert unsaturated.sum() > 300 and np.abs(jerks[unsaturated]).max() <= 0.1 + 1e-12
    assert arbiter.decide(np.ones(2), np.zeros(2), 0.0).mode == RESIDUAL
    arbiter.decide(None, None, 0.0)
    # after a hold the limiter is at rest: motion ramps up from zero again
    assert np.allclose(arbiter.decide(np.ones(2), np.zeros(2), 0.0).action, 0.1)


def test_residual_budget_is_relative_to_the_base():
    arbiter = Arbiter(ArbitrationConfig(residual_budget=0.1, residual_budget_ratio=0.5), 2)
    base = np.array([0.3, 0.4])  # norm 0.5: the residual may add a vector of norm 0.1 + 0.5 * 0.5
    action = arbiter.decide(base, np.array([-3.0, 4.0]), 0.0).action
    np.testing.assert_allclose(action - base, [-0.21, 0.28])
    small = np.array([0.1, -0.2])
    np.testing.assert_allclose(arbiter.decide(base, small, 0.0).action, base + small)


def test_workspace_box_stops_outward_motion_only():
    arbiter = Arbiter(ArbitrationConfig(workspace_low=(1.0, 0.4, 0.4), workspace_high=(1.6, 1.1, 0.9)), 4)
    base = np.array([0.5, -0.5, 0.5, 0.3])
    at_wall = np.array([1.6, 0.7, 0.4])  # on the +x face and the -z face
    np.testing.assert_allclose(arbiter.decide(base, np.zeros(4), 0.0, at_wall).action, [0.0, -0.5, 0.5, 0.3])
    np.testing.assert_allclose(arbiter.decide(-base, np.zeros(4), 0.0, at_wall).action, [-0.5, 0.5, 0.0, -0.3])
    assert arbiter.decide(base, np.zeros(4), 0.0, None).mode == HOLD  # the box without a position: hold


def test_motion_resumes_only_after_fresh_data_for_recover_after():
    arbiter = Arbiter(ArbitrationConfig(recover_after=0.5), 1)
    base, zero = np.array([0.5]), np.zeros(1)
    assert arbiter.decide(base, zero, 0.0, now=10.0).mode == HOLD  # a fresh start counts as recovery too
    assert arbiter.decide(base, zero, 0.0, now=10.6).mode == RESIDUAL
    assert arbiter.decide(base, zero, 9.0, now=10.7).mode == HOLD  # stale
    decisions = [arbiter.decide(base, zero, 0.0, now=t) for t in (10.8, 11.2, 11.31)]
    assert [d.mode for d in decisions] == [HOLD, HOLD, RESIDUAL]
    assert "recovering" in decisions[1].reason


def test_shadow_mode_applies_the_base_alone():
    arbiter = Arbiter(ArbitrationConfig(shadow=True), 2)
    base = np.array([0.3, -0.2])
    decision = arbiter.decide(base, np.array([0.5, 0.5]), 0.0)
    assert decision.mode == SHADOW and np.array_equal(decision.action, base) and not decision.reason
    assert arbiter.decide(base, None, 0.0).reason  # a missing residual is still reported


def test_bad_arbitration_config_is_refused():
    with pytest.raises(ValueError, match="residual_fallback"):
        ArbitrationConfig(residual_fallback="guess")
    with pytest.raises(ValueError):
        ArbitrationConfig(action_low=1.0, action_high=-1.0)
    with pytest.raises(ValueError, match="workspace"):
        ArbitrationConfig(workspace_low=(0, 0, 0), workspace_high=(1, 1, 0))
    with pytest.raises(ValueError, match="max_action_delta2"):
        ArbitrationConfig(max_action_delta2=0.0)


# --- episodes -------------------------------------------------------------------------------------------

def test_episodes_are_seeded_and_deterministic():
    controller = make_controller("push")
    first, second = run_in_process("push", controller, 2, seed=5), run_in_process("push", controller, 2, seed=5)
    assert [e.seed for e in first] == [5, 6]
    assert [e.actions_sha256 for e in first] == [e.actions_sha256 for e in second]
    assert all(e.steps == 50 for e in first)


def test_zero_residual_policy_is_the_base_policy_in_process():
    """pi(s) + f(s) with the zero ONNX residual applies exactly the base's actions."""
    controller, arbiter = make_controller("push"), Arbiter(ArbitrationConfig(), 4)
    residual = ResidualModel(zero_residual_model(CODEC.policy_input_size, 4), CODEC.policy_input_size, 4)

    def residual_policy(obs):
        return arbiter.decide(controller(obs), residual(CODEC.policy_input(obs)), 0.0).action

    assert ([e.actions_sha256 for e in run_in_process("push", residual_policy, 2, 0)]
            == [e.actions_sha256 for e in run_in_process("push", controller, 2, 0)])


def test_runner_stops_after_its_episodes():
    runner = EpisodeRunner("push", episodes=1, seed=0)
    results = [runner.step(np.zeros(4)) for _ in range(50)]
    assert runner.done and results[-1] is not None and all(r is None for r in results[:-1])


def test_a_summary_written_before_missed_streaks_were_counted_still_reads_and_claims_no_streak():
    summary = RunSummary("push", "realtime", [], 100.0, missed_cycles=5, late_answers=5, longest_missed_streak=3)
    older = json.loads(summary.to_json())
    del older["longest_missed_streak"]
    read = RunSummary.from_json(json.dumps(older))
    assert read.longest_missed_streak is None
    assert read.missed_text == "missed cycles 5 (5 answered late, 0 never)"

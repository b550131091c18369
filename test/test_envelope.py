"""Signed model envelopes and the hot-swap slot, without middleware."""
import hashlib
import json
import struct

import numpy as np
import pytest

from rpl_ros.core.envelope import MAGIC, EnvelopeError, generate_keypair, load_private_key, load_public_key, open_envelope, seal
from rpl_ros.core.hotswap import ModelSlot, RollbackGuard, load_candidate
from rpl_ros.core.residual import ModelError, build_mlp_onnx, zero_residual_model

OBS, ACT = 28, 4


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    private, public = generate_keypair(directory)
    other_private, _ = generate_keypair(directory, "intruder")
    return load_private_key(private), load_public_key(public), load_private_key(other_private)


def constant_model(dx: float, obs_dim: int = OBS, act_dim: int = ACT) -> bytes:
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(obs_dim, 8)), np.zeros(8)), (np.zeros((8, act_dim)), np.r_[dx, np.zeros(act_dim - 1)])]
    return build_mlp_onnx(layers, np.zeros(obs_dim), np.ones(obs_dim))


def test_seal_and_open_round_trip(keys):
    private, public, _ = keys
    model = zero_residual_model(OBS, ACT)
    assert open_envelope(seal(model, "v7", private), public) == ("v7", model)


def test_private_key_file_is_private(tmp_path):
    private, _ = generate_keypair(tmp_path)
    assert private.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("tamper, reason", [
    (lambda e, m: m, "not an rpl_ros model envelope"),                       # a bare ONNX file
    (lambda e, m: e[: len(e) - 100], "truncated"),
    (lambda e, m: e[:20], "truncated"),
    (lambda e, m: e[:-1] + bytes([e[-1] ^ 1]), "sha256"),
    (lambda e, m: e.replace(b'"v1"', b'"v2"'), "signature does not verify"),  # version changed after signing
])
def test_tampered_envelopes_are_refused(keys, tamper, reason):
    private, public, _ = keys
    model = zero_residual_model(OBS, ACT)
    with pytest.raises(EnvelopeError, match=reason):
        open_envelope(tamper(seal(model, "v1", private), model), public)


def test_unsigned_wrongly_signed_and_oversized_are_refused(keys):
    private, public, intruder = keys
    model = zero_residual_model(OBS, ACT)
    header = json.dumps({"version": "v1", "sha256": hashlib.sha256(model).hexdigest(), "size": len(model)}).encode()
    unsigned = MAGIC + struct.pack(">I", len(header)) + header + model
    with pytest.raises(EnvelopeError, match="unsigned"):
        open_envelope(unsigned, public)
    with pytest.raises(EnvelopeError, match="signature does not verify"):
        open_envelope(seal(model, "v1", intruder), public)
    with pytest.raises(EnvelopeError, match="over the limit"):
        open_envelope(seal(model, "v1", private), public, max_bytes=1000)


def test_load_candidate_checks_shape_and_outputs(keys):
    private, public, _ = keys
    assert load_candidate(seal(constant_model(0.3), "ok", private), public, OBS, ACT).version == "ok"
    two_threads = load_candidate(seal(constant_model(0.3), "ok", private), public, OBS, ACT, threads=2)
    assert two_threads.model.session.get_session_options().intra_op_num_threads == 2
    with pytest.raises(ModelError, match="this task needs"):
        load_candidate(seal(constant_model(0.3, obs_dim=OBS + 1), "wide", private), public, OBS, ACT)
    with pytest.raises(ModelError, match="non-finite"):
        load_candidate(seal(constant_model(np.nan), "nan", private), public, OBS, ACT)
    with pytest.raises(ModelError, match="no trusted_public_key"):
        load_candidate(seal(constant_model(0.3), "ok", private), None, OBS, ACT)
    with pytest.raises(ModelError, match="took"):
        load_candidate(seal(constant_model(0.3), "slow", private), public, OBS, ACT, max_load_s=0.0)


def test_slot_swaps_and_rolls_back(keys):
    private, public, _ = keys
    first = load_candidate(seal(constant_model(0.1), "a", private), public, OBS, ACT)
    second = load_candidate(seal(constant_model(0.2), "b", private), public, OBS, ACT)
    slot = ModelSlot(first)
    assert not ModelSlot().rollback()
    slot.swap(second)
    assert slot.active.version == "b"
    assert slot.rollback() and slot.active.version == "a"


def test_guard_rolls_back_a_model_that_does_worse_than_the_one_it_replaced():
    guard = RollbackGuard(window=4, margin=0.1)
    for success in (True, True, False, True):  # v1: 0.75 over its last 4 episodes
        assert guard.episode("v1", success) is None
    guard.swapped("v2", "v1")
    assert [guard.episode("v2", s) for s in (True, False, False)] == [None, None, None]
    reason = guard.episode("v2", True)  # 0.5 < 0.75 - 0.1
    assert reason and "v2" in reason and "v1" in reason
    guard.rolled_back()
    assert guard.episode("v2", False) is None  # judged once: no second verdict


def test_guard_keeps_a_model_as_good_and_judges_nothing_without_a_record():
    guard = RollbackGuard(window=2)
    guard.episode("v1", False)
    guard.episode("v1", True)
    guard.swapped("v2", "v1")
    assert guard.episode("v2", True) is None and guard.episode("v2", False) is None  # 0.5 = 0.5: kept
    guard.episode("v0", True)  # (one success: judged against it, v3's failures would be rolled back)
    guard.swapped("v3", "v0")  # v0 never ran a window: nothing to compare with
    assert guard.episode("v3", False) is None and guard.episode("v3", False) is None
    with pytest.raises(ValueError):
        RollbackGuard(window=0)

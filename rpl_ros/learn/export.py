"""The trained actor as the ONNX residual the graph's residual_policy node runs (rpl_ros.core.residual)."""
import numpy as np
import torch
from torch import nn

from rpl_ros.core.residual import ResidualModel, build_mlp_onnx
from rpl_ros.learn.networks import Actor

PARITY_TOLERANCE = 1e-5


def actor_to_onnx(actor: Actor) -> bytes:
    """Copy the actor's weights ([out, in] in torch, [in, out] in the ONNX) and its normalization."""
    linears = [layer for layer in actor.body if isinstance(layer, nn.Linear)]
    layers = [(layer.weight.detach().numpy().T, layer.bias.detach().numpy()) for layer in linears]
    norm = actor.normalizer
    return build_mlp_onnx(layers, norm.mean.numpy(), norm.std.numpy(), norm.clip)


def onnx_parity_error(actor: Actor, model_bytes: bytes, inputs: np.ndarray) -> float:
    """Largest |ONNX - torch| over ``inputs``, the ONNX run as the graph runs it (ResidualModel)."""
    model = ResidualModel(model_bytes, inputs.shape[1], actor.body[-1].out_features)
    with torch.no_grad():
        expected = actor(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
    return float(max(np.abs(model(x) - e).max() for x, e in zip(inputs, expected)))


def export_residual(actor: Actor, probe_inputs: np.ndarray) -> bytes:
    """The ONNX of ``actor``, refused unless it matches torch within PARITY_TOLERANCE on ``probe_inputs``."""
    model_bytes = actor_to_onnx(actor)
    error = onnx_parity_error(actor, model_bytes, probe_inputs)
    if not error <= PARITY_TOLERANCE:
        raise RuntimeError(f"exported ONNX differs from the torch actor by {error:.2e} (> {PARITY_TOLERANCE})")
    return model_bytes

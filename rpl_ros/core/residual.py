"""The residual f_theta(s) at run time: an ONNX MLP run by onnxruntime.

Every residual, the zero one the graph starts with and every trained one, has the same ONNX shape, built
here from numpy weights, so the learner's export and the runtime cannot disagree on the format:

    input  ``observation``      float32 [batch, obs_dim]   (state and goal, as ObservationCodec.policy_input)
    x = clip((observation - mean) / std, -clip, clip)     (normalization travels inside the model)
    x = relu(x W_i + b_i) for each hidden layer
    output ``residual_action``  float32 [batch, act_dim] = tanh(x W_out + b_out)

With W_out = 0 and b_out = 0 the output is exactly 0: the paper's zero-initialised last layer.
"""
from typing import List, Sequence, Tuple

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "observation"
OUTPUT_NAME = "residual_action"
OPSET = 17


class ModelError(ValueError):
    """A residual model that must not be run: unreadable, wrong interface, or non-finite outputs."""


def build_mlp_onnx(
    layers: Sequence[Tuple[np.ndarray, np.ndarray]],
    obs_mean: np.ndarray,
    obs_std: np.ndarray,
    obs_clip: float = 5.0,
) -> bytes:
    """Serialize an MLP residual (weights as [in, out] matrices) with its input normalization."""
    obs_dim, act_dim = layers[0][0].shape[0], layers[-1][0].shape[1]
    inits = [
        numpy_helper.from_array(np.asarray(obs_mean, np.float32), "obs_mean"),
        numpy_helper.from_array(np.maximum(np.asarray(obs_std, np.float32), 1e-6), "obs_std"),
        numpy_helper.from_array(np.array(-obs_clip, np.float32), "clip_low"),
        numpy_helper.from_array(np.array(obs_clip, np.float32), "clip_high"),
    ]
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, "obs_mean"], ["centered"]),
        helper.make_node("Div", ["centered", "obs_std"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "clip_low", "clip_high"], ["h0"]),
    ]
    for i, (weight, bias) in enumerate(layers):
        inits += [numpy_helper.from_array(np.asarray(weight, np.float32), f"W{i}"),
                  numpy_helper.from_array(np.asarray(bias, np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [f"h{i}", f"W{i}"], [f"z{i}"]),
                  helper.make_node("Add", [f"z{i}", f"b{i}"], [f"a{i}"])]
        last = i == len(layers) - 1
        nodes.append(helper.make_node("Tanh" if last else "Relu", [f"a{i}"], [OUTPUT_NAME if last else f"h{i + 1}"]))
    graph = helper.make_graph(
        nodes, "rpl_residual",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", act_dim])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rpl_ros")
    model.ir_version = 8  # readable by every onnxruntime of the last years
    onnx.checker.check_model(model)
    return model.SerializeToString()


def zero_residual_model(obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256, 256), seed: int = 0) -> bytes:
    """A freshly initialised residual: random hidden layers, zero last layer, identity normalization."""
    rng = np.random.default_rng(seed)
    sizes = [obs_dim, *hidden]
    layers: List[Tuple[np.ndarray, np.ndarray]] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        layers.append((rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)))
    layers.append((np.zeros((sizes[-1], act_dim)), np.zeros(act_dim)))  # zero init: f_theta(s) = 0
    return build_mlp_onnx(layers, np.zeros(obs_dim), np.ones(obs_dim))


def session_options(threads: int) -> ort.SessionOptions:
    """onnxruntime's options for batch-1 calls in a control loop: ``threads`` intra-op threads (the callers' default
    is 1) that sleep between calls, since a loop calls once per cycle and idle spinning threads would steal the cores the other
    nodes need; 0 gives onnxruntime's own defaults (a thread per core, spinning while idle), kept for comparison
    (bench/graph_levers.py, bench/inference.py)."""
    if threads < 0:
        raise ValueError(f"inference threads must be 0 (onnxruntime's defaults) or more, not {threads}")
    options = ort.SessionOptions()
    if threads == 0:
        return options
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class ResidualModel:
    """A validated onnxruntime session for one residual model, tuned for batch-1 calls in a control loop."""

    def __init__(self, model_bytes: bytes, obs_dim: int, act_dim: int, probes: int = 16, threads: int = 1):
        options = session_options(threads)  # a bad count is the caller's error, not the model's
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises several unrelated types for unreadable models
            raise ModelError(f"not a loadable ONNX model: {error}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
            raise ModelError(
                f"model interface is {[i.name for i in inputs]} -> {[o.name for o in outputs]}, "
                f"expected [{INPUT_NAME!r}] -> [{OUTPUT_NAME!r}]"
            )
        if inputs[0].shape[-1] != obs_dim or outputs[0].shape[-1] != act_dim:
            raise ModelError(
                f"model maps {inputs[0].shape[-1]} inputs to {outputs[0].shape[-1]} actions, "
                f"this task needs {obs_dim} -> {act_dim}"
            )
        self.obs_dim, self.act_dim = obs_dim, act_dim
        probe = np.random.default_rng(0).normal(0.0, 3.0, (probes, obs_dim)).astype(np.float32)
        out = self.session.run([OUTPUT_NAME], {INPUT_NAME: probe})[0]
        if out.shape != (probes, act_dim) or not np.all(np.isfinite(out)):
            raise ModelError("model gives non-finite or wrongly shaped outputs on probe inputs")

    def __call__(self, policy_input: np.ndarray) -> np.ndarray:
        """f_theta(s) for one input vector, as float64 (the dtype actions travel in)."""
        batch = np.asarray(policy_input, dtype=np.float32).reshape(1, self.obs_dim)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0][0].astype(np.float64)


def explore(residual: np.ndarray, noise_std: float, random_p: float, rng: np.random.Generator) -> np.ndarray:
    """The learner's exploration on residual actions ([..., act_dim]): Gaussian noise of ``noise_std``, clipped to
    [-1, 1], and with probability ``random_p`` a uniformly random residual instead. The learner's rollouts and a
    residual_policy node that explores for live training both use it, so recorded data explores as simulated does."""
    residual = np.clip(residual + noise_std * rng.standard_normal(residual.shape), -1.0, 1.0)
    replaced = rng.random(residual.shape[:-1]) < random_p
    residual[replaced] = rng.uniform(-1.0, 1.0, (int(np.sum(replaced)), residual.shape[-1]))
    return residual

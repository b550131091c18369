"""Residual inference at batch 1, the way the control loop calls it: onnxruntime (the session options
ResidualModel sets, and onnxruntime's defaults) against a plain numpy forward pass and torch.

Variants are interleaved round by round (A B C D A B C D ...) so machine noise hits them alike; the result is
the ratio of each to the tuned onnxruntime session, measured side by side in this run.

    python bench/inference.py [--rounds 30] [--calls 200]
"""
import argparse
import time

import numpy as np

from rpl_ros.core.residual import INPUT_NAME, OUTPUT_NAME, ResidualModel, build_mlp_onnx

OBS_DIM, ACT_DIM, HIDDEN = 28, 4, (256, 256, 256)


def random_layers(rng):
    sizes = [OBS_DIM, *HIDDEN, ACT_DIM]
    return [(rng.normal(0, 1 / np.sqrt(i), (i, o)).astype(np.float32), rng.normal(0, 0.1, o).astype(np.float32))
            for i, o in zip(sizes[:-1], sizes[1:])]


def numpy_forward(layers, mean, std):
    def forward(x):
        h = np.clip((x - mean) / std, -5, 5)
        for weight, bias in layers[:-1]:
            h = np.maximum(h @ weight + bias, 0)
        return np.tanh(h @ layers[-1][0] + layers[-1][1])
    return forward


def torch_forward(layers, mean, std):
    import torch
    torch.set_num_threads(1)
    linears = []
    for weight, bias in layers:
        linear = torch.nn.Linear(*weight.shape)
        linear.weight.data, linear.bias.data = torch.from_numpy(weight.T.copy()), torch.from_numpy(bias)
        linears.append(linear)
    mean_t, std_t = torch.from_numpy(mean), torch.from_numpy(std)

    def forward(x):
        with torch.no_grad():
            h = ((torch.from_numpy(x) - mean_t) / std_t).clamp(-5, 5)
            for linear in linears[:-1]:
                h = torch.relu(linear(h))
            return torch.tanh(linears[-1](h)).numpy()
    return forward


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    layers = random_layers(rng)
    mean, std = rng.normal(size=OBS_DIM).astype(np.float32), rng.uniform(0.5, 2, OBS_DIM).astype(np.float32)
    model_bytes = build_mlp_onnx(layers, mean, std)
    tuned = ResidualModel(model_bytes, OBS_DIM, ACT_DIM)
    default_session = ResidualModel(model_bytes, OBS_DIM, ACT_DIM, threads=0).session  # onnxruntime's defaults
    variants = {
        "onnxruntime, ResidualModel options": lambda x: tuned(x[0]),
        "onnxruntime, default options": lambda x: default_session.run([OUTPUT_NAME], {INPUT_NAME: x})[0],
        "numpy forward pass": numpy_forward(layers, mean, std),
        "torch (1 thread, no_grad)": torch_forward(layers, mean, std),
    }
    x = rng.normal(size=(1, OBS_DIM)).astype(np.float32)
    reference = variants["numpy forward pass"](x)
    for name, forward in variants.items():
        assert np.allclose(np.asarray(forward(x)).reshape(-1), reference.reshape(-1), atol=1e-4), name
    samples = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, forward in variants.items():
            for _ in range(args.calls):
                start = time.perf_counter()
                forward(x)
                samples[name].append(time.perf_counter() - start)
    base = np.percentile(samples["onnxruntime, ResidualModel options"], 50)
    print(f"3x256 MLP residual, batch 1, {args.rounds} interleaved rounds x {args.calls} calls each")
    print(f"{'variant':38} {'p50 us':>8} {'p99 us':>8} {'p50 / tuned ORT':>16}")
    for name, values in samples.items():
        us = np.asarray(values) * 1e6
        print(f"{name:38} {np.percentile(us, 50):8.1f} {np.percentile(us, 99):8.1f} "
              f"{np.percentile(values, 50) / base:16.2f}")


if __name__ == "__main__":
    main()

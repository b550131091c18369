"""The networks of the residual learner: observation normalizer, actor f_theta(s), critic Q(s, a).

The actor has exactly the shape the graph runs (rpl_ros.core.residual): normalize -> (Linear, ReLU) x n ->
Linear -> tanh, so export copies its weights and nothing else.
"""
from typing import Sequence

import numpy as np
import torch
from torch import nn


class Normalizer(nn.Module):
    """Running mean and std of the policy inputs; x -> clip((x - mean) / std, -clip, clip).

    The statistics are buffers, so they are saved with the model and exported inside the ONNX.
    """

    def __init__(self, size: int, clip: float = 5.0, eps: float = 1e-2):
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("total", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("total_sq", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))

    def update(self, batch: np.ndarray):
        x = torch.as_tensor(batch, dtype=torch.float64).reshape(-1, self.total.shape[0])
        self.count += x.shape[0]
        self.total += x.sum(0)
        self.total_sq += (x * x).sum(0)
        mean = self.total / self.count
        variance = (self.total_sq / self.count - mean * mean).clamp(min=self.eps ** 2)
        self.mean.copy_(mean.float())
        self.std.copy_(variance.sqrt().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).clamp(-self.clip, self.clip)


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """f_theta(s) in [-1, 1]^act_dim: the residual (or, without a base, the whole policy)."""

    def __init__(self, normalizer: Normalizer, obs_dim: int, act_dim: int, hidden: Sequence[int],
                 zero_init_last_layer: bool):
        super().__init__()
        self.normalizer = normalizer
        self.body = mlp([obs_dim, *hidden, act_dim])
        if zero_init_last_layer:
            # The paper's zero initialisation: f_theta(s) = tanh(0) = 0, so the first policy is exactly the base.
            nn.init.zeros_(self.body[-1].weight)
            nn.init.zeros_(self.body[-1].bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(self.normalizer(obs)))


class Critic(nn.Module):
    """Q(s, a) of the residual MDP: a is the residual action, the base is part of the environment."""

    def __init__(self, normalizer: Normalizer, obs_dim: int, act_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.normalizer = normalizer
        self.body = mlp([obs_dim + act_dim, *hidden, 1])

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([self.normalizer(obs), action], dim=-1)).squeeze(-1)

"""Training losses: pixel (L1/L2)."""

from __future__ import annotations

import torch
from torch import nn


def pixel_loss(kind: str = "l1") -> nn.Module:
    if kind == "l1":
        return nn.L1Loss()
    if kind in ("l2", "mse"):
        return nn.MSELoss()
    raise ValueError(f"unknown pixel loss {kind!r}: use l1 or l2")


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()

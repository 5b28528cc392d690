"""The torch device that eval, training and metrics run on: ``auto`` is CUDA when present, else the CPU."""

from __future__ import annotations

import torch


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when PyTorch sees a GPU, else the CPU; any other name as given (``cuda:1``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)

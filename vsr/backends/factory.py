"""Which backend runs a plan: one name -> class table; a backend's heavy modules load on use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vsr.backends.base import Backend
    from vsr.plan import Plan

# name -> (module, class); "torch" on a CUDA device runs the pipelined GPU backend
BACKENDS: dict[str, tuple[str, str]] = {
    "swscale": ("vsr.backends.resample_backend", "ResampleBackend"),
    "torch": ("vsr.backends.torch_backend", "TorchBackend"),
    "torch-cuda": ("vsr.backends.cuda_backend", "CudaTorchBackend"),
    "tensorrt": ("vsr.backends.tensorrt_backend", "TensorRTBackend"),
}


def backend_name(plan: Plan) -> str:
    """The table entry for a plan: its backend, with PyTorch on a GPU as ``torch-cuda``."""
    if plan.backend == "torch" and plan.device.startswith("cuda"):
        return "torch-cuda"
    return plan.backend


def create_backend(plan: Plan) -> Backend:
    """The backend the plan chose (not yet opened: use it as a context manager)."""
    name = backend_name(plan)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {plan.backend!r}")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(plan)

"""Which backend runs a plan: one name -> class table; a backend's heavy modules load on use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vsr.backends.base import Backend
    from vsr.backends.spec import BackendSpec
    from vsr.plan import Plan

# name -> (module, class); "torch" on a CUDA device runs the pipelined GPU backend
BACKENDS: dict[str, tuple[str, str]] = {
    "swscale": ("vsr.backends.resample_backend", "ResampleBackend"),
    "torch": ("vsr.backends.torch_backend", "TorchBackend"),
    "openvino": ("vsr.backends.openvino_backend", "OpenVINOBackend"),
    "torch-cuda": ("vsr.backends.cuda_backend", "CudaTorchBackend"),
    "tensorrt": ("vsr.backends.tensorrt_backend", "TensorRTBackend"),
}


def backend_name(spec: BackendSpec) -> str:
    """The table entry for a spec: its backend, with PyTorch on a GPU as ``torch-cuda``."""
    if spec.backend == "torch" and spec.device.startswith("cuda"):
        return "torch-cuda"
    return spec.backend


def create_backend(plan: Plan) -> Backend:
    """The backend the plan chose, built from its spec (not yet opened: use it as a context manager)."""
    return backend_for(plan.backend_spec())


def backend_for(spec: BackendSpec) -> Backend:
    """The backend a spec names (not yet opened)."""
    name = backend_name(spec)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {spec.backend!r}")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(spec)

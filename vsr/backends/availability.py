"""The backends vsr has, in one table, and whether each can run here.

``BACKEND_KINDS`` is the one place that knows a backend's name, its words, the classes that run it on
each kind of device, the package it needs and how to install it, whether ``--backend`` offers it and
``auto`` picks it, and how it runs an ONNX graph. The ``--backend`` choices (``vsr.config``), the
factory (``vsr.backends.factory``) and the plan's choice and its reasons (``vsr.plan``) read it.

Availability is answered without importing the engines (TensorRT takes seconds).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

INSTALL_HINT = "pip install 'vsr[tensorrt]'"
OPENVINO_HINT = "pip install 'vsr[openvino]'"


def device_kind(device: str) -> str:
    """``cpu`` or ``cuda`` (``cuda:N`` is a ``cuda`` device)."""
    return "cuda" if device.startswith("cuda") else "cpu"


@functools.lru_cache(maxsize=None)
def tensorrt_problem(device: str) -> str | None:
    """None when TensorRT can run on ``device``; otherwise a one-line reason with the fix.

    A missing package is reported first, since that is the one a user can fix with a command.
    """
    installed = importlib.util.find_spec("tensorrt") is not None
    on_cuda = device_kind(device) == "cuda"
    if not installed:
        what = "TensorRT is not installed" if on_cuda else "No CUDA GPU and TensorRT is not installed"
        return f"{what}: {INSTALL_HINT} on a machine with an NVIDIA GPU (or use --backend torch)"
    if not on_cuda:
        return "No CUDA GPU: TensorRT needs an NVIDIA GPU (use --backend torch)"
    return None


def openvino_problem(device: str) -> str | None:
    """None when OpenVINO can run the network on ``device``; otherwise a one-line reason with the fix."""
    if device != "cpu":
        return f"OpenVINO runs vsr's networks on the CPU only, not on {device} (use --device cpu)"
    if importlib.util.find_spec("openvino") is None:
        return f"OpenVINO is not installed: {OPENVINO_HINT}"
    return None


@dataclass(frozen=True)
class BackendKind:
    """One backend: what the plan and ``BackendSpec.backend`` call it, and everything known about it."""

    name: str  # swscale | torch | openvino | tensorrt
    label: str  # in words, for the plan's reasons
    runs: tuple[tuple[str, str, str], ...]  # (device kind, module, class): the first also runs any device not listed
    devices: tuple[str, ...]  # device kinds it can run on (--device auto: CUDA where present and listed)
    package: str | None = None  # what it imports beyond the core dependencies
    install: str | None = None  # how to install that package
    check: Callable[[str], str | None] | None = None  # device -> None, or why it cannot run there (with the fix)
    option: bool = True  # offered by --backend
    auto_reason: str | None = None  # --backend auto takes it (in table order) where ``check`` finds no problem, for this reason
    fallback: bool = False  # what --backend auto runs when none of the auto_reason ones can
    networks_only: bool = True  # refuses the resamplers when asked for by name (they run in swscale)
    onnx: str | None = None  # what runs an ONNX graph (--model x.onnx) under it; None: it cannot (yet)

    def problem(self, device: str) -> str | None:
        """None when this backend can run on ``device``; otherwise a one-line reason with the fix."""
        return self.check(device) if self.check else None


BACKEND_KINDS: dict[str, BackendKind] = {k.name: k for k in (
    BackendKind("swscale", "FFmpeg's swscale", (("cpu", "vsr.backends.resample_backend", "ResampleBackend"),),
                devices=("cpu",), option=False, networks_only=False),
    BackendKind("torch", "PyTorch", (("cpu", "vsr.backends.torch_backend", "TorchBackend"),
                                     ("cuda", "vsr.backends.cuda_backend", "CudaTorchBackend")),
                devices=("cuda", "cpu"), fallback=True, networks_only=False, onnx="ONNX Runtime"),
    BackendKind("openvino", "OpenVINO", (("cpu", "vsr.backends.openvino_backend", "OpenVINOBackend"),),
                devices=("cpu",), package="openvino", install=OPENVINO_HINT, check=openvino_problem),
    BackendKind("tensorrt", "TensorRT", (("cuda", "vsr.backends.tensorrt_backend", "TensorRTBackend"),),
                devices=("cuda",), package="tensorrt", install=INSTALL_HINT, check=tensorrt_problem,
                auto_reason="TensorRT is installed and a CUDA GPU is present"),
)}
# The names --backend takes (``auto`` first: the plan chooses).
BACKEND_OPTIONS: tuple[str, ...] = ("auto", *(k.name for k in BACKEND_KINDS.values() if k.option))
FALLBACK = next(k for k in BACKEND_KINDS.values() if k.fallback)
RESAMPLER = BACKEND_KINDS["swscale"]


def backend_problem(name: str, device: str) -> str | None:
    """None when backend ``name`` can run on ``device``; otherwise a one-line reason with the fix."""
    return BACKEND_KINDS[name].problem(device)

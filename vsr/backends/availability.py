"""Are the optional engines usable here? Answered without importing them (TensorRT takes seconds)."""

from __future__ import annotations

import functools
import importlib.util

INSTALL_HINT = "pip install 'vsr[tensorrt]'"
OPENVINO_HINT = "pip install 'vsr[openvino]'"


@functools.lru_cache(maxsize=None)
def tensorrt_problem(device: str) -> str | None:
    """None when TensorRT can run on ``device``; otherwise a one-line reason with the fix.

    A missing package is reported first, since that is the one a user can fix with a command.
    """
    installed = importlib.util.find_spec("tensorrt") is not None
    on_cuda = device.startswith("cuda")
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

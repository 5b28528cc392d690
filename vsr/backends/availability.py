"""Is TensorRT usable here? Answered without importing it more than once."""

from __future__ import annotations

import functools
import importlib.util


@functools.lru_cache(maxsize=None)
def tensorrt_problem(device: str) -> str | None:
    """None when TensorRT can run on ``device``; otherwise a one-line reason with the fix."""
    if not device.startswith("cuda"):
        return "No CUDA GPU: TensorRT needs an NVIDIA GPU (use --backend torch)"
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed: pip install 'vsr[tensorrt]' (or use --backend torch)"
    return None

"""PyTorch on CUDA with everything on the GPU: colour conversion, model, resample, quantisation.

Decoded planes (uint8/uint16, any chroma layout) go up as they are, through pinned buffers, on the
double-buffered scheduler (``cuda_pipeline``); only quantised planes of the output format come back.
The same class runs on the CPU (``SyncDevice``) so its whole data path is testable without a GPU.

``DeviceBackend`` holds what the TensorRT backend shares (buffers, colour, scheduling); subclasses
supply ``infer`` (float RGB [0, 1] N x 3 x H x W -> N x 3 x sH x sW).

Options from the environment (until the CLI has flags for them):
``VSR_TORCH_COMPILE`` = ``default`` | ``reduce-overhead`` (CUDA graphs) | ``max-autotune``: compile
the model with torch.compile (the first batches are slow while it compiles);
``VSR_CUDA_SLOTS`` = number of batches in flight (default 2).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from vsr.backends import gpu_color as gc
from vsr.backends.base import Backend, carry_timing
from vsr.backends.cuda_pipeline import Device, Scheduler, Stages, device_for
from vsr.errors import BackendError

if TYPE_CHECKING:
    import av
    import torch
    from torch import nn

    from vsr.plan import Plan

log = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def _dtype(precision: str) -> torch.dtype:
    import torch

    try:
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    except KeyError:
        raise BackendError(f"unknown precision {precision!r}: use fp32, fp16 or bf16") from None


class DeviceBackend(Backend):
    """Frames -> planes on the device -> RGB -> ``infer`` -> resize -> planes -> frames."""

    name = "device"

    def __init__(self, plan: Plan, *, slots: int | None = None) -> None:
        super().__init__(plan)
        self.slots = slots or int(os.environ.get("VSR_CUDA_SLOTS", "2"))
        self.device: Device | None = None
        self.scheduler: Scheduler | None = None

    # -- to be provided by subclasses --------------------------------------------------------------
    def infer(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        from vsr.backends.tiling import AdaptiveTiler

        if self._tiler is None:
            self._tiler = AdaptiveTiler(self.forward, scale=self.scale, tile=self.plan.tile, overlap=self.plan.tile_overlap)
        return self._tiler(x.to(self.dtype).contiguous(memory_format=torch.channels_last))

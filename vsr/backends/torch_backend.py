"""PyTorch backend (CPU, and CUDA without the double-buffered scheduler).

Frames are converted to RGB by swscale with the input's matrix and range (rgb48 for >8-bit
input, so the model sees more than 8 bits), run through the model in batches (tiled on request),
resized to the exact output size with an antialiased filter, quantised, and converted back to
the output pixel format with the same matrix and range.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import av
import numpy as np
import torch
import torch.nn.functional as F

from vsr.backends.base import Backend, carry_timing
from vsr.backends.tiling import run_tiled
from vsr.errors import BackendError
from vsr.io.colour import output_tags

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_MIN_TILE = 32


def resize_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Antialiased bicubic resize of an N×C×H×W float tensor (no-op if already that size)."""
    if x.shape[-2:] == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)


class TorchBackend(Backend):
    name = "torch"

    def open(self) -> None:
        from vsr.models import load

        plan = self.plan
        self.device = torch.device(plan.device)
        self.dtype = DTYPES[plan.precision]
        model = load(plan.model_source, arch=plan.arch)
        model = model.to(self.device).eval()
        if self.dtype != torch.float32:
            model = model.to(self.dtype)
        self.model = model.to(memory_format=torch.channels_last)
        self.tile = plan.tile
        deep = plan.source.bit_depth > 8
        self._rgb_format, self._rgb_max = ("rgb48le", 65535.0) if deep else ("rgb24", 255.0)
        out_deep = plan.out_bit_depth > 8
        self._out_format, self._out_max, self._out_dtype = (
            ("rgb48le", 65535.0, np.uint16) if out_deep else ("rgb24", 255.0, np.uint8)
        )
        colour = plan.source.colour
        self._matrix = colour.matrix
        self._range = "JPEG" if colour.full_range else "MPEG"
        self._tags = output_tags(colour, plan.source.height)

    def close(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # -- conversions (host side, swscale) ---------------------------------------------------------
    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.reformat(format=self._rgb_format, src_colorspace=self._matrix, src_color_range=self._range,
                             dst_color_range="JPEG", threads=1)
        return rgb.to_ndarray()

    def from_rgb(self, array: np.ndarray, like: av.VideoFrame) -> av.VideoFrame:
        rgb = av.VideoFrame.from_ndarray(array, format=self._out_format)
        out = rgb.reformat(format=self.plan.pix_fmt, src_colorspace=self._matrix, dst_colorspace=self._matrix,
                           src_color_range="JPEG", dst_color_range=self._range, threads=1)
        out.colorspace = self._tags.colorspace
        out.color_range = self._tags.color_range
        return carry_timing(like, out)

    # -- inference ------------------------------------------------------------------------------------
    def process(self, frames: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        batch = np.stack([self.to_rgb(f) for f in frames])  # N,H,W,3
        x = torch.from_numpy(batch.astype(np.float32) if batch.dtype == np.uint16 else batch)
        y = self.upscale(x.to(self.device).permute(0, 3, 1, 2))
        out = y.permute(0, 2, 3, 1).cpu().numpy().astype(self._out_dtype, copy=False)
        return [self.from_rgb(out[i], f) for i, f in enumerate(frames)]

    @torch.inference_mode()
    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W integer-valued RGB (any dtype) -> N×3×outH×outW quantised for the output."""
        x = (x.to(torch.float32) / self._rgb_max).to(self.dtype).contiguous(memory_format=torch.channels_last)
        y = self._infer(x)
        y = resize_to(y.float(), self.plan.height, self.plan.width)
        y = (y.clamp_(0, 1) * self._out_max).round_()
        return y.to(torch.int32 if self._out_dtype == np.uint16 else torch.uint8)

    def _infer(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.model.scale
        while True:
            try:
                return run_tiled(self.model, x, scale=scale, tile=self.tile, overlap=self.plan.tile_overlap)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                current = self.tile or max(x.shape[-2:])
                smaller = current // 2
                if smaller < max(_MIN_TILE, 2 * self.plan.tile_overlap + 8):
                    raise BackendError(
                        f"out of GPU memory even with {current}px tiles: use --batch 1, --precision fp16 or a smaller model"
                    ) from None
                log.warning("CUDA out of memory: retrying this batch with %dpx tiles", smaller)
                self.tile = smaller

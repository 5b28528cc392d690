"""PyTorch backend (CPU, and CUDA without the double-buffered scheduler).

Frames are converted to 16-bit planar RGB by swscale with the input's matrix and range and
interpolated chroma (so the model sees more than 8 bits and no blocky chroma), run through the
model in batches (tiled on request), resized to the exact output size with an antialiased filter,
quantised to 16 bits, and converted back to the output pixel format with the same matrix and range.

``gbrp16le`` rather than ``rgb48le``: with accurate rounding swscale's packed 16-bit RGB path is
broken for 4:2:0 input (about 10 dB), the planar one is not.
"""

from __future__ import annotations

from collections.abc import Sequence

import av
import numpy as np
import torch
import torch.nn.functional as F

from vsr.backends.base import Backend, carry_timing
from vsr.backends.tiling import AdaptiveTiler
from vsr.io.colour import output_tags

RGB16, RGB16_MAX = "gbrp16le", 65535.0
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


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
        self._tiler = AdaptiveTiler(self.model, scale=self.model.scale, tile=plan.tile, overlap=plan.tile_overlap,
                                    multiple=getattr(self.model, "size_multiple", 1))
        self._flags = (av.video.reformatter.Interpolation.BILINEAR | av.video.reformatter.Interpolation.ACCURATE_RND
                       | av.video.reformatter.Interpolation.FULL_CHR_H_INT)
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
        """H×W×3 uint16 full-range RGB."""
        rgb = frame.reformat(format=RGB16, src_colorspace=self._matrix, src_color_range=self._range,
                             dst_color_range="JPEG", interpolation=self._flags, threads=1)
        return rgb.to_ndarray()

    def from_rgb(self, array: np.ndarray, like: av.VideoFrame) -> av.VideoFrame:
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format=RGB16)
        out = rgb.reformat(format=self.plan.pix_fmt, src_colorspace=self._matrix, dst_colorspace=self._matrix,
                           src_color_range="JPEG", dst_color_range=self._range, interpolation=self._flags, threads=1)
        out.colorspace = self._tags.colorspace
        out.color_range = self._tags.color_range
        return carry_timing(like, out)

    # -- inference ------------------------------------------------------------------------------------
    def process(self, frames: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        batch = np.stack([self.to_rgb(f) for f in frames]).astype(np.float32)  # N,H,W,3
        y = self.upscale(torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2))
        out = y.permute(0, 2, 3, 1).cpu().numpy().astype(np.uint16)
        return [self.from_rgb(out[i], f) for i, f in enumerate(frames)]

    @torch.inference_mode()
    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W 16-bit-valued RGB -> N×3×outH×outW 16-bit-valued RGB (int32)."""
        x = (x.to(torch.float32) / RGB16_MAX).to(self.dtype).contiguous(memory_format=torch.channels_last)
        y = self._tiler(x)
        y = resize_to(y.float(), self.plan.height, self.plan.width)
        return (y.clamp_(0, 1) * RGB16_MAX).round_().to(torch.int32)

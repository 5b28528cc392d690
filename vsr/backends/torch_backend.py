"""PyTorch backend (CPU, and CUDA without the double-buffered scheduler).

Frames are converted to 16-bit planar RGB by swscale with the input's matrix and range and
interpolated chroma (so the model sees more than 8 bits and no blocky chroma), run through the
model in batches (tiled on request), resized to the exact output size with an antialiased filter,
quantised to 16 bits, and converted back to the output pixel format with the same matrix and range.

``gbrp16le`` rather than ``rgb48le``: with accurate rounding swscale's packed 16-bit RGB path is
broken for 4:2:0 input (about 10 dB), the planar one is not.

8-bit input reaches the network as swscale scales it, level v -> about 256 v (255 -> 65283, not
65535), and the way back rounds x / 256, so an 8-bit round trip is exact; the network sees 8-bit
white as 0.996 instead of 1.0 (measured with PyAV 18.1, 2026-12-06).

Nothing frame-sized is allocated per frame on the host beyond what swscale and the model must
produce: the RGB planes are read into one reused input tensor and the quantised result is written
into one reused 16-bit RGB frame (``_Buffers``), and malloc keeps freed pages (``cpu_memory``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import av
import numpy as np
import torch
import torch.nn.functional as F

from vsr.backends.base import Backend, carry_timing, frame_time
from vsr.backends.cpu_memory import keep_freed_memory
from vsr.backends.recurrent import RecurrentRunner, frame_runner
from vsr.errors import BackendError
from vsr.models.backward_fusion import backward_pass_for

if TYPE_CHECKING:
    from vsr.models.loaded import LoadedModel

RGB16, RGB16_MAX = "gbrp16le", 65535.0
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
GBR_TO_RGB = (1, 2, 0)  # gbrp plane i holds RGB channel GBR_TO_RGB[i]


def plane_view(plane: av.video.plane.VideoPlane, height: int, width: int) -> np.ndarray:
    """A writable H×W uint16 numpy view of a 16-bit plane (no copy; rows padded to line_size)."""
    rows = np.frombuffer(plane, dtype=np.uint16).reshape(-1, plane.line_size // 2)
    return rows[:height, :width]


class _Buffers:
    """Host tensors and frames of one batch shape, reused from batch to batch."""

    def __init__(self, n: int, height: int, width: int, out_height: int, out_width: int, dtype: torch.dtype) -> None:
        self.key = (n, height, width)
        self.levels = torch.empty((n, 3, height, width), dtype=torch.float32).contiguous(memory_format=torch.channels_last)
        self.model_in = self.levels if dtype == torch.float32 else torch.empty_like(self.levels, dtype=dtype)
        self.rgb_out = av.VideoFrame(out_width, out_height, RGB16)
        self.out_planes = [plane_view(p, out_height, out_width) for p in self.rgb_out.planes]


def resize_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Antialiased bicubic resize of an N×C×H×W float tensor (no-op if already that size)."""
    if x.shape[-2:] == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)


class TorchBackend(Backend):
    name = "torch"

    def open(self) -> None:
        from vsr.models.loader import load_model

        spec = self.spec
        if spec.device != "cpu":
            raise BackendError(f"the CPU backend got device {spec.device!r}: GPU plans run in CudaTorchBackend")
        loaded = load_model(spec.model_source, arch=spec.arch)
        self.dtype, self.model = self.network(loaded)
        self._buffers: _Buffers | None = None
        keep_freed_memory()
        self._tiler = frame_runner(self.model, loaded.module, scale=loaded.scale, tile=spec.tile,
                                   overlap=spec.tile_overlap, multiple=loaded.size_multiple,
                                   backward=backward_pass_for(loaded.module, spec.frame_rate))
        self._flags = (av.video.reformatter.Interpolation.BILINEAR | av.video.reformatter.Interpolation.ACCURATE_RND
                       | av.video.reformatter.Interpolation.FULL_CHR_H_INT)
        colour = spec.input.colour
        self._matrix = colour.matrix
        self._range = "JPEG" if colour.full_range else "MPEG"

    def network(self, loaded: LoadedModel) -> tuple[torch.dtype, Callable[[torch.Tensor], torch.Tensor]]:
        """(the dtype it takes, the network) for N×3×H×W RGB in [0, 1], in the spec's precision."""
        dtype = DTYPES[self.spec.precision]
        module = loaded.module.eval().to(dtype)
        return dtype, module.to(memory_format=torch.channels_last)  # NHWC: 1.2-1.7x faster in oneDNN on CPU

    def close(self) -> None:
        self.model = self._tiler = None

    # -- conversions (host side, swscale) ---------------------------------------------------------
    def to_rgb(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame as full-range 16-bit planar RGB (gbrp16le)."""
        return frame.reformat(format=RGB16, src_colorspace=self._matrix, src_color_range=self._range,
                              dst_color_range="JPEG", interpolation=self._flags, threads=1)

    def from_rgb(self, rgb: av.VideoFrame, like: av.VideoFrame) -> av.VideoFrame:
        out = rgb.reformat(format=self.spec.output.pix_fmt, src_colorspace=self._matrix, dst_colorspace=self._matrix,
                           src_color_range="JPEG", dst_color_range=self._range, interpolation=self._flags, threads=1)
        if out is rgb:  # gbrp16le out: reformat hands back its input, which is the reused buffer
            out = av.VideoFrame.from_ndarray(rgb.to_ndarray(), format=RGB16)
        return carry_timing(like, out)

    def _buffers_for(self, frames: Sequence[av.VideoFrame]) -> _Buffers:
        key = (len(frames), frames[0].height, frames[0].width)
        if self._buffers is None or self._buffers.key != key:  # first batch, the short last one, a size change
            self._buffers = _Buffers(*key, self.spec.output.height, self.spec.output.width, self.dtype)
        return self._buffers

    # -- inference ------------------------------------------------------------------------------------
    def process(self, frames: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        """The outputs finished now, in order: one per frame, except that a temporal model's backward stage
        holds frames back until the frames after them have come (``finish`` gives the rest)."""
        if len({(f.width, f.height) for f in frames}) > 1:  # the stream changed size inside a batch
            return [out for f in frames for out in self.process([f])]
        buf = self._buffers_for(frames)
        for i, frame in enumerate(frames):
            rgb = self.to_rgb(frame)
            for plane, channel in zip(rgb.planes, GBR_TO_RGB):
                buf.levels[i, channel].copy_(torch.from_numpy(plane_view(plane, frame.height, frame.width)))
        x = self.model_input(buf.levels, buf.model_in)
        if isinstance(self._tiler, RecurrentRunner):
            return self._encode(self._tiler.stream(x, frames, [frame_time(f) for f in frames]))
        return self._encode(list(zip(frames, self.infer(x).split(1))))

    def finish(self) -> list[av.VideoFrame]:
        return self._encode(self._tiler.flush()) if isinstance(self._tiler, RecurrentRunner) else []

    def _encode(self, done: Sequence[tuple[av.VideoFrame, torch.Tensor]]) -> list[av.VideoFrame]:
        """Output frames from ``(input frame, network output)`` pairs: resized, quantised, converted."""
        buf, results, rows = self._buffers, [], max(1, self.spec.batch)
        for first in range(0, len(done), rows):  # a batch at a time: a released block can be 20 frames
            chunk = done[first : first + rows]
            y = self.quantise(torch.cat([out for _, out in chunk])).numpy()  # N,3,H,W float32, 16-bit levels
            for i, (frame, _) in enumerate(chunk):
                for view, channel in zip(buf.out_planes, GBR_TO_RGB):
                    np.copyto(view, y[i, channel], casting="unsafe")
                results.append(self.from_rgb(buf.rgb_out, frame))
        return results

    def model_input(self, levels: torch.Tensor, model_in: torch.Tensor | None = None) -> torch.Tensor:
        """N×3×H×W 16-bit-valued RGB (float32) -> the model's input: [0, 1] in its dtype, channels last.
        ``levels`` is scaled in place; ``model_in`` (same shape, the model's dtype) is reused when given."""
        x = levels.div_(RGB16_MAX)
        if x.dtype != self.dtype:
            x = model_in.copy_(x) if model_in is not None else x.to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def quantise(self, y: torch.Tensor) -> torch.Tensor:
        """Network outputs -> N×3×outH×outW rounded 16-bit values (float32), resized to the output size."""
        y = resize_to(y.float(), self.spec.output.height, self.spec.output.width)
        return y.clamp_(0, 1).mul_(RGB16_MAX).round_()

    @torch.inference_mode()
    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """The network (tiled as planned) on N×3×H×W RGB in [0, 1]; the output in the model's dtype."""
        if self._tiler is None:
            raise BackendError(f"{type(self).__name__} used outside 'with': open() it first")
        return self._tiler(x.to(self.dtype).contiguous(memory_format=torch.channels_last))

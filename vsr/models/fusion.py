"""Recursive back-projection fusion: a temporal model's output merged with its own aligned past.

A recurrent network given its previous output warped onto the current frame passes on far less of it
than that past holds (docs/quality.md, "What the network makes of a perfect past"). This stage, with no
learned weights, runs after the network on each frame (classic multi-frame super-resolution: Irani and
Peleg 1991's iterative back-projection, made recursive along the motion):

1. ``past``: the previous *fused* output warped onto the current frame at output resolution (bicubic
   sampling: a bilinear warp blurs what is carried from frame to frame, and the carried detail fades);
2. ``confidence``, per LR pixel: ``exp(-(e / sigma)**2)`` with ``e`` the mean absolute difference between
   the past brought down to LR (MATLAB's bicubic, ``down``) and the current target picture. Where the
   flow is wrong (occlusions, a new object, a cut the detector missed) the past does not match the
   current frame and is dropped;
3. ``fused = y + alpha * confidence * (past - y)``;
4. ``steps`` back-projections onto the target: ``fused += up(target - down(fused))`` (``up`` bilinear:
   as good as bicubic here and 5x faster).

The target is the LR frame itself (``"lr"``: clean input, where the LR picture is the truth up to
MATLAB's bicubic downscaling, the video SR protocol) or the network's own output brought down to LR
(``"output"``: compressed input, whose LR picture holds codec noise that back-projection would put
back). The fused picture is also the next frame's state, so detail from many frames accumulates along
the motion. Measured at x4 on the held-out clips' first 40 frames (``benchmarks/video_eval.py``,
docs/quality.md): ``temporal`` with ``"lr"`` 34.77 dB and tOF 0.230 on clean LR against 34.42 / 0.264
without; ``temporal-archive`` with ``"output"`` 30.21 dB and tOF 0.859 on H.264 CRF 25 against 30.12 / 0.901.

Everything is in float32, on pictures less the mean and in the model's pixel range, and exports to
ONNX (bicubic GridSample, bilinear Resize, and for ``down`` strided depthwise convolutions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vsr.quality.matlab_resize import contributions


@dataclass(frozen=True)
class FusionSettings:
    """The constants of one fusion mode (``sigma`` in the 0..1 range of pixel values)."""

    alpha: float
    sigma: float
    steps: int


SETTINGS = {
    "lr": FusionSettings(alpha=0.95, sigma=0.015, steps=4),
    "output": FusionSettings(alpha=0.95, sigma=0.04, steps=1),
}
FUSIONS = ("none", *SETTINGS)  # what TemporalEDSR(fusion=...) takes


def bicubic_down_kernel(scale: int) -> tuple[torch.Tensor, int, int]:
    """MATLAB's antialiased bicubic 1/``scale`` kernel as ``(taps, left, right)``: output pixel ``i`` is
    ``sum(taps[k] * in[scale * i - left + k])``; ``left``/``right`` are the padding it needs on each side."""
    n = 8 * scale
    weights, idx = contributions(n * scale, n, 1.0 / scale)
    i = n // 2  # an interior pixel: away from the mirrored borders, every pixel has the same taps
    offsets = idx[i] - scale * i
    taps = torch.zeros(int(offsets.max() - offsets.min()) + 1, dtype=torch.float64)
    for o, w in zip(offsets, weights[i]):
        taps[o - offsets.min()] += w
    left = int(-offsets.min())
    right = int(offsets.max()) - (scale - 1)
    return taps.float(), left, right


class BackProjectionFusion(nn.Module):
    """``forward(y, past, x, has_past) -> fused``: HR pictures ``y`` (the network's output) and ``past``
    (the previous fused output, warped), LR picture ``x``, all less the mean, in the model's range
    ``rgb_range``; ``has_past`` (N,1,1,1) is 0 where a shot starts."""

    def __init__(self, mode: str, scale: int, rgb_range: float, channels: int = 3) -> None:
        super().__init__()
        if mode not in SETTINGS:
            raise ValueError(f"fusion {mode!r}: use one of {', '.join(FUSIONS)}")
        self.mode, self.scale, self.settings = mode, scale, SETTINGS[mode]
        self.sigma = self.settings.sigma * rgb_range
        taps, self.left, self.right = bicubic_down_kernel(scale)
        k = taps.numel()  # one depthwise kernel per channel, along rows then along columns
        self.register_buffer("along_rows", taps.view(1, 1, 1, k).repeat(channels, 1, 1, 1), persistent=False)
        self.register_buffer("along_columns", taps.view(1, 1, k, 1).repeat(channels, 1, 1, 1), persistent=False)

    def down(self, hr: torch.Tensor) -> torch.Tensor:
        """MATLAB's bicubic 1/scale away from the borders; at the borders the kernel is cut and renormalised
        (PIL's rule, not MATLAB's mirroring). PyTorch's antialiased bicubic resize does exactly this, 7x faster
        on the CPU than the strided convolutions of ``down_exportable``, which the ONNX graph uses instead
        (ONNX's Resize takes ``antialias`` from opset 18 on, TensorRT not at all)."""
        if torch.onnx.is_in_onnx_export():
            return self.down_exportable(hr)
        return F.interpolate(hr, scale_factor=1 / self.scale, mode="bicubic", antialias=True, align_corners=False)

    def down_exportable(self, hr: torch.Tensor) -> torch.Tensor:
        """``down`` as zero-padded strided depthwise convolutions, each axis divided by its kernel's in-frame sum."""
        c, s, pad = self.along_rows.shape[0], self.scale, (self.left, self.right)
        rows = F.conv2d(F.pad(hr, (*pad, 0, 0)), self.along_rows, stride=(1, s), groups=c)
        row_sums = F.conv2d(F.pad(hr.new_ones((1, 1, 1, hr.shape[3])), (*pad, 0, 0)), self.along_rows[:1], stride=(1, s))
        rows = rows / row_sums
        out = F.conv2d(F.pad(rows, (0, 0, *pad)), self.along_columns, stride=(s, 1), groups=c)
        column_sums = F.conv2d(F.pad(hr.new_ones((1, 1, hr.shape[2], 1)), (0, 0, *pad)), self.along_columns[:1], stride=(s, 1))
        return out / column_sums

    def up(self, lr: torch.Tensor) -> torch.Tensor:
        """Bilinear x scale (back-projection converges as well as with bicubic here, 5x faster)."""
        return F.interpolate(lr, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def forward(self, y: torch.Tensor, past: torch.Tensor, x: torch.Tensor, has_past: torch.Tensor) -> torch.Tensor:
        dtype = y.dtype
        y, past, x, has_past = y.float(), past.float(), x.float(), has_past.float()
        target = x if self.mode == "lr" else self.down(y)
        error = (self.down(past) - target).abs().mean(dim=1, keepdim=True)
        confidence = self.up(torch.exp(-(error / self.sigma) ** 2) * has_past)
        fused = y + self.settings.alpha * confidence * (past - y)
        for _ in range(self.settings.steps):
            fused = fused + self.up(target - self.down(fused))
        return fused.to(dtype)

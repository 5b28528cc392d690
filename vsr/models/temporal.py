"""A recurrent, flow-guided EDSR: each frame is upscaled with its previous output, aligned.

Frame ``t`` is upscaled from its LR picture, the previous LR picture warped onto it, and the previous
*output* warped onto it at output resolution, then folded back to LR size by space-to-depth (FRVSR,
Sajjadi et al. 2018, on an EDSR-baseline body). The flow is OpenCV DIS between the two LR pictures
(``vsr.models.motion``, no learned weights), upsampled for the HR warp. Warping the output at HR keeps
its sub-pixel detail; a run that warped the body's LR features instead (a blend of neighbouring
feature vectors stands for a blend of whole 4x4 output blocks at x4, so a shift of a quarter LR pixel
ghosts instead of moving) never learnt to use the past (docs/quality.md, temporal runs 1-2).

Streaming, no look-ahead: the output of frame ``t`` depends on frames ``<= t`` only. The state is the
previous output, mean-shifted and folded by space-to-depth: ``3 * scale**2`` channels at LR size, as
much memory as one output frame. A shot starts (and a scene cut restarts) with ``prev = x``,
``state = 0`` and ``flow = 0``.

The head convolution takes ``[x, warp(prev), unfold(warp_hr(fold(state)))]``; with the extra input
channels' weights at zero the network is exactly the EDSR it was initialised from (``from_edsr``),
which is how training starts. Parameter names follow EDSR's (``head.0``, ``body.N.body.0``,
``tail.0.K``), so detection reads the same shapes plus the wider head.

After the network an optional stage with no weights, ``fusion`` (``vsr.models.fusion``: ``"lr"`` for
clean input, ``"output"`` for compressed, ``"none"``), blends the previous output, warped, into the new
one where they agree and back-projects the result onto the frame; the fused picture is the output and
the state. It is a constructor argument saved in the file's metadata, as the shipped models carry it.

Two upsamplers: EDSR's (``upsampler="edsr"``: conv to 4F channels and pixel shuffle per x2 stage, then a
conv to RGB at output size) or one convolution from the body's features straight to the folded output
(``"direct"``: F -> 3 * scale**2 channels at LR size, which *is* the state; ESPCN's sub-pixel layer, the
"pixelshuffledirect" of lightweight SR networks). At x4 EDSR's upsampler is about 60% of the network's
CPU time (docs/quality.md); the direct one costs under 1%, and fitted by least squares to EDSR's body
features (``vsr.quality.tail_fit``) it loses 0.1-0.15 dB before any training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsr.models.base import SRModel
from vsr.models import edsr
from vsr.models.fusion import BackProjectionFusion
from vsr.models.opencv_ops import remap, runs_in_opencv
from vsr.models.edsr import MeanShift, ResBlock, Upsampler
from vsr.models.spec import Architecture, Detected, Layout, Shapes, StateDict, indices, isqrt_exact, shuffle_scale


UPSAMPLERS = ("edsr", "direct")


def warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``x`` (N,C,H,W) sampled at ``p + flow(p)`` (flow N,2,H,W in pixels, x then y); border padding;
    ``mode`` ``"bilinear"`` or ``"bicubic"``.

    Computed in float32 on a contiguous tensor: PyTorch's CPU ``grid_sample`` crashes on large bf16
    channels-last input (torch 2.14) and is 3.5x slower in bf16 than in float32. Inference on the CPU
    takes OpenCV's ``remap`` instead (``vsr.models.opencv_ops``)."""
    if runs_in_opencv(x, flow):
        return remap(x, flow, mode)
    n, _, h, w = x.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1).expand(n, h, w)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w).expand(n, h, w)
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1).float()
    out = F.grid_sample(x.float().contiguous(), grid, mode=mode, padding_mode="border", align_corners=True)
    return out.to(x.dtype)


def warp_hr(picture: torch.Tensor, flow: torch.Tensor, scale: int, mode: str = "bilinear") -> torch.Tensor:
    """An HR picture warped by an LR ``flow``, upsampled (bilinear) and scaled to the picture's resolution."""
    if runs_in_opencv(picture, flow):
        return remap(picture, flow, mode)  # upsamples the flow itself
    if scale != 1:
        flow = F.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False) * scale
    return warp(picture, flow, mode)


def warp_folded(state: torch.Tensor, flow: torch.Tensor, scale: int) -> torch.Tensor:
    """A space-to-depth folded HR picture (N, C*s*s, H, W) warped at HR by the LR ``flow``, folded again."""
    if scale == 1:
        return warp(state, flow)
    return F.pixel_unshuffle(warp_hr(F.pixel_shuffle(state, scale), flow, scale), scale)


class TemporalEDSR(SRModel):
    """EDSR body that also reads its previous output, warped; ``forward(x, prev, state, flow) -> (y, state)``."""

    arch = "temporal"
    temporal = True

    def __init__(self, *, in_channels: int = 3, num_features: int = 64, num_blocks: int = 14, scale: int = 4,
                 rgb_range: float = 255.0, upsampler: str = "edsr", fusion: str = "none") -> None:
        super().__init__()
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler {upsampler!r}: use one of {', '.join(UPSAMPLERS)}")
        self.scale = scale
        self.rgb_range = rgb_range
        self.num_features = num_features
        self.in_channels = in_channels
        self.upsampler = upsampler
        self.fusion = None if fusion == "none" else BackProjectionFusion(fusion, scale, rgb_range, in_channels)
        self.sub_mean = MeanShift(rgb_range=rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range=rgb_range, sign=1)
        self.head = nn.Sequential(nn.Conv2d(2 * in_channels + in_channels * scale * scale, num_features, 3, padding=1))
        self.body = nn.Sequential(
            *[ResBlock(num_features=num_features) for _ in range(num_blocks)],
            nn.Conv2d(num_features, num_features, 3, padding=1),
        )
        if upsampler == "direct":
            self.tail = nn.Sequential(nn.Conv2d(num_features, in_channels * scale * scale, 3, padding=1))
        else:
            self.tail = nn.Sequential(
                Upsampler(scale=scale, num_features=num_features),
                nn.Conv2d(num_features, in_channels, 3, padding=1),
            )

    @property
    def state_channels(self) -> int:
        return self.in_channels * self.scale * self.scale

    @property
    def recurrent_weight(self) -> torch.Tensor:
        """The head's weights on the recurrent inputs (warped previous frame and state): a view."""
        return self.head[0].weight[:, self.in_channels:]

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """The state a shot starts with (zeros), for a batch like ``x``."""
        n, _, h, w = x.shape
        return x.new_zeros((n, self.state_channels, h, w))

    def forward(self, x: torch.Tensor, prev: torch.Tensor, state: torch.Tensor,
                flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r, s = self.rgb_range, self.scale
        x_shifted = self.sub_mean(x * r)
        aligned = torch.cat((x_shifted, self.sub_mean(warp(prev, flow) * r), warp_folded(state, flow, s)), dim=1)
        f = self.head(aligned)
        f = f + self.body(f)
        # the output before the mean is added back: what the next frame reads, folded, as its state
        shifted = F.pixel_shuffle(self.tail(f), s) if self.upsampler == "direct" else self.tail(f)
        if self.fusion is not None:
            # sampled bicubic: a bilinear warp blurs what the fusion carries from frame to frame (the network
            # reads the bilinear warp it was trained with: the bicubic one costs it 0.05 dB, docs/quality.md)
            past = warp_hr(F.pixel_shuffle(state, s), flow, s, "bicubic")
            has_past = (state.flatten(1).abs().amax(dim=1) > 0).view(-1, 1, 1, 1)  # state 0: a shot starts
            shifted = self.fusion(shifted, past, x_shifted, has_past)
        return self.add_mean(shifted) / r, F.pixel_unshuffle(shifted, s)

    @torch.no_grad()
    def from_edsr(self, edsr_state: StateDict) -> list[str]:
        """Copy an EDSR of the same width (and the blocks it has, up to ours); the recurrent inputs'
        head weights are zeroed, so the result equals that EDSR with one block fewer or more (a direct
        upsampler is not copied: fit it, ``vsr.quality.tail_fit``). Returns the names copied."""
        own = self.state_dict()
        copied = []
        for key, value in edsr_state.items():
            if key == "head.0.weight":
                c = value.shape[1]
                own[key].zero_()
                own[key][:, :c] = value
                copied.append(key)
            elif key in own and own[key].shape == value.shape:
                own[key] = value.to(own[key].dtype)
                copied.append(key)
        self.load_state_dict(own)
        return copied


def shot_start_args(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What ``net`` takes for a frame that starts a shot: ``(x,)``, or for a temporal model
    ``(x, prev=x, state=0, flow=0)`` (FLOP counts, ONNX tracing, smoke tests)."""
    if not getattr(net, "temporal", False):
        return (x,)
    n, _, h, w = x.shape
    return x, x, net.initial_state(x), x.new_zeros((n, 2, h, w))


# ---------------------------------------------------------------- detection


def _read(s: Shapes) -> Detected | None:
    features, head_in = s["head.0.weight"][:2]
    blocks = len(indices(s, r"body\.(\d+)\.body\.0\.weight"))
    if "tail.1.weight" in s:  # EDSR's upsampler
        upsampler, in_channels = "edsr", s["tail.1.weight"][0]
        stages = indices(s, r"tail\.0\.(\d+)\.weight")
        scale = shuffle_scale(stages, s[f"tail.0.{stages[0]}.weight"][0], features) if stages else None
    else:  # direct: head_in = C * (2 + s*s), the tail's output C * s*s
        upsampler, folded = "direct", s["tail.0.weight"][0]
        in_channels = (head_in - folded) // 2
        scale = isqrt_exact(folded // in_channels) if in_channels > 0 and folded % in_channels == 0 else None
    if scale is None or f"body.{blocks}.weight" not in s or head_in != in_channels * (2 + scale * scale):
        return None
    return Detected("temporal", {"in_channels": in_channels, "num_features": features, "num_blocks": blocks,
                                 "scale": scale, "upsampler": upsampler}, guessed={"rgb_range", "fusion"})


ARCHITECTURE = Architecture(
    name="temporal",
    module=TemporalEDSR,
    layouts=(Layout("vsr", frozenset({"head.0.weight", "tail.1.weight", "body.0.body.0.weight"}), _read),
             Layout("vsr-direct", frozenset({"head.0.weight", "tail.0.weight", "body.0.body.0.weight"}), _read)),
    aliases=("temporal-edsr",),
    upsampler=("tail.0.",),
    prepare=edsr.ARCHITECTURE.prepare,  # the same constant mean shifts as EDSR's
)

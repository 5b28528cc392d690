"""A recurrent, flow-guided EDSR: each frame is upscaled with what the previous frames left behind.

Frame ``t`` is upscaled from its LR picture, the previous LR picture and the network's previous
hidden state, both warped onto frame ``t`` by the optical flow between the two LR pictures (OpenCV
DIS, no learned weights: ``vsr.models.flow``). The hidden state is the body's output features, so
detail recovered in earlier frames reaches the upsampler of later ones, aligned. This is the
unidirectional flow-guided propagation of BasicVSR (Chan et al. 2021) and FRVSR (Sajjadi et al.
2018) on an EDSR-baseline body; the flow-free alternative (RLSP/RSDN) must learn alignment inside
the network, which takes far more training than two CPU cores give.

Streaming, no look-ahead: the output of frame ``t`` depends on frames ``<= t`` only, and the state
is one ``num_features x H x W`` tensor (at LR size) plus the previous LR frame. A shot starts (and
a scene cut restarts) with ``prev = x``, ``state = 0`` and ``flow = 0``.

The head convolution takes ``[x, warp(prev), warp(state)]``; with the extra input channels' weights
at zero the network is exactly the EDSR it was initialised from (``from_edsr``), which is how
training starts. Parameter names follow EDSR's (``head.0``, ``body.N.body.0``, ``tail.0.K``), so
detection reads the same shapes plus the wider head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsr.models.base import SRModel
from vsr.models import edsr
from vsr.models.edsr import MeanShift, ResBlock, Upsampler
from vsr.models.spec import Architecture, Detected, Layout, Shapes, StateDict, indices, shuffle_scale


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``x`` (N,C,H,W) sampled at ``p + flow(p)`` (flow N,2,H,W in pixels, x then y); border padding.

    Computed in float32 on a contiguous tensor: PyTorch's CPU ``grid_sample`` crashes on large bf16
    channels-last input (torch 2.14) and is 3.5x slower in bf16 than in float32."""
    n, _, h, w = x.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1).expand(n, h, w)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w).expand(n, h, w)
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1).float()
    out = F.grid_sample(x.float().contiguous(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(x.dtype)


class TemporalEDSR(SRModel):
    """EDSR body with flow-warped recurrent input; ``forward(x, prev, state, flow) -> (y, state)``."""

    arch = "temporal"
    temporal = True

    def __init__(self, *, in_channels: int = 3, num_features: int = 64, num_blocks: int = 14, scale: int = 4,
                 rgb_range: float = 255.0) -> None:
        super().__init__()
        self.scale = scale
        self.rgb_range = rgb_range
        self.num_features = num_features
        self.sub_mean = MeanShift(rgb_range=rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range=rgb_range, sign=1)
        self.head = nn.Sequential(nn.Conv2d(2 * in_channels + num_features, num_features, 3, padding=1))
        self.body = nn.Sequential(
            *[ResBlock(num_features=num_features) for _ in range(num_blocks)],
            nn.Conv2d(num_features, num_features, 3, padding=1),
        )
        self.tail = nn.Sequential(
            Upsampler(scale=scale, num_features=num_features),
            nn.Conv2d(num_features, in_channels, 3, padding=1),
        )

    @property
    def state_channels(self) -> int:
        return self.num_features

    @property
    def recurrent_weight(self) -> torch.Tensor:
        """The head's weights on the recurrent inputs (warped previous frame and state): a view."""
        return self.head[0].weight[:, self.tail[1].out_channels:]

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """The state a shot starts with (zeros), for a batch like ``x``."""
        n, _, h, w = x.shape
        return x.new_zeros((n, self.num_features, h, w))

    def forward(self, x: torch.Tensor, prev: torch.Tensor, state: torch.Tensor,
                flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.rgb_range
        aligned = torch.cat((self.sub_mean(x * r), self.sub_mean(warp(prev, flow) * r), warp(state, flow)), dim=1)
        f = self.head(aligned)
        f = f + self.body(f)
        y = self.add_mean(self.tail(f))
        return y / r, f

    @torch.no_grad()
    def from_edsr(self, edsr_state: StateDict) -> list[str]:
        """Copy an EDSR of the same width (and the blocks it has, up to ours); the recurrent inputs'
        head weights are zeroed, so the result equals that EDSR with one block fewer or more. Returns
        the names copied."""
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
    in_channels = (head_in - features) // 2
    if in_channels < 1 or 2 * in_channels + features != head_in or s["tail.1.weight"][0] != in_channels:
        return None
    blocks = len(indices(s, r"body\.(\d+)\.body\.0\.weight"))
    stages = indices(s, r"tail\.0\.(\d+)\.weight")
    scale = shuffle_scale(stages, s[f"tail.0.{stages[0]}.weight"][0], features) if stages else None
    if scale is None or f"body.{blocks}.weight" not in s:
        return None
    return Detected("temporal", {"in_channels": in_channels, "num_features": features, "num_blocks": blocks,
                                 "scale": scale}, guessed={"rgb_range"})


ARCHITECTURE = Architecture(
    name="temporal",
    module=TemporalEDSR,
    layouts=(Layout("vsr", frozenset({"head.0.weight", "tail.1.weight", "body.0.body.0.weight"}), _read),),
    aliases=("temporal-edsr",),
    upsampler=("tail.0.",),
    prepare=edsr.ARCHITECTURE.prepare,  # the same constant mean shifts as EDSR's
)

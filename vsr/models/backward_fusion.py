"""The back-projection fusion run backwards over a temporal model's outputs, block by block, as frames stream.

The forward pass (``TemporalEDSR`` with its fusion) gives frame ``t`` what frames ``<= t`` carried. This
stage gives it what the frames after it hold too: ``B_t = fusion(F_t, warp(B_{t+1}))``, the later result
warped onto frame ``t`` by the flow from ``t`` to ``t + 1`` (the forward pass's flow from ``t + 1`` to ``t``,
inverted: ``vsr.models.motion.invert_flow``, no new flow estimate), blended where it agrees with the LR frame and
back-projected (``vsr.models.fusion``), along a chain that starts at ``B_s = F_s``. Frames are grouped in
blocks of the stream's timeline (``floor(time / block_seconds)``: the same blocks in a single pass and in
a segment of it); a block's chain starts ``overlap`` frames after its last frame, so a frame waits for at
most a block and ``overlap`` frames, and each frame costs ``(W + overlap) / W`` fusion steps for blocks of W
frames. Chains stop at scene cuts and at the end of the stream.

Measured (docs/quality.md "A backward pass"): blocks of 16 frames and 4 more, x4 clean, held-out clips, through
``vsr upscale``'s backend: 35.05 dB against 34.77 for the forward pass alone (``benchmarks/backward_fusion.py``
measures the variants offline).

``BackwardPass`` is the stage as every backend runs it (``vsr.backends.recurrent.RecurrentRunner``), on a
temporal model's pictures in [0, 1]. Memory: up to ``BLOCK_FRAMES + OVERLAP_FRAMES`` forward outputs held at
16 bits (float16), 50 MB each for a 4K output, 1 GB in all; the delay is as many frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from vsr.models.fusion import SETTINGS, BackProjectionFusion, FusionSettings
from vsr.models.motion import invert_flow
from vsr.models.temporal import warp_hr

BLOCK_FRAMES = 16  # frames per block: a chain per block (measured best with OVERLAP_FRAMES = 4)
OVERLAP_FRAMES = 4  # a block's chain starts this many frames after its last frame
# back-projections per backward step, per fusion mode: onto the LR frame 2 (4: +0.01 dB at x4 and +0.04 at x2 for
# 4% more time at x4; 1: -0.03 / -0.06 dB and less steady at x2); onto the network's own output 1 (4: -0.03 dB on
# CRF 25 at x4)
BACKWARD_STEPS = {"lr": 2, "output": 1}
FORWARD_STEPS = 2  # the forward fusion's back-projections when the backward pass follows (4 gain nothing then)
DEFAULT_FRAME_RATE = 25.0  # sizes the blocks of a stream with no frame rate


def backward_chain(stage: BackProjectionFusion, outputs: Sequence[torch.Tensor], frames: Sequence[torch.Tensor],
                   flows: Sequence[torch.Tensor | None], start: int, stop: int, warp_mode: str) -> list[torch.Tensor]:
    """``[B_stop, ..., B_start]``: the chain from ``B_start = outputs[start]`` down to frame ``stop``; ``outputs``
    and ``frames`` (LR) less the mean, ``flows[t]`` from frame ``t`` to ``t + 1`` (frames of one shot). Computed
    in float32, kept in the outputs' dtype (float16 in the pipeline: a block of 4K frames is 1 GB, not 2)."""
    chain, later = [outputs[start]], outputs[start].float()
    has_past = torch.ones(1, 1, 1, 1, device=outputs[start].device)
    for t in range(start - 1, stop - 1, -1):
        later = stage(outputs[t].float(), warp_hr(later, flows[t], stage.scale, warp_mode), frames[t].float(), has_past)
        chain.append(later.to(outputs[t].dtype))
    return chain[::-1]


@dataclass
class Pending:
    """One frame waiting for the frames after it: its forward output and LR picture less the mean, the LR
    flow the forward pass used from it to the frame before (``None``: it starts a shot), its time in
    seconds (``None``: no timeline, the frames wait for ``flush``), and ``tag`` (given back with its result)."""

    output: torch.Tensor
    frame: torch.Tensor
    flow: np.ndarray | None
    time: float | None
    tag: Any = None


class BackwardFusion:
    """``push(frame)`` -> the ``(tag, B_t)`` now finished, in order; ``flush()`` -> the rest (end of stream).

    A frame whose time is not after the last pending frame's starts a new stream (the pending frames are
    flushed first), and more than ``2 * (W + overlap)`` pending frames (a frame rate far above the one the
    blocks were sized for) are flushed too, so memory stays bounded whatever the timestamps."""

    def __init__(self, stage: BackProjectionFusion, *, block_seconds: float, overlap: int,
                 warp_mode: str = "bicubic", block_frames: int = BLOCK_FRAMES) -> None:
        if block_seconds <= 0 or overlap < 0 or block_frames < 1:
            raise ValueError("block_seconds must be > 0, overlap >= 0 and block_frames >= 1")
        self.stage, self.block_seconds, self.overlap, self.warp_mode = stage, block_seconds, overlap, warp_mode
        self.block_frames, self.max_pending = block_frames, 2 * (block_frames + overlap)
        self._pending: list[Pending] = []
        self._flows: list[torch.Tensor] = []  # _flows[i]: from _pending[i] to _pending[i + 1]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _block(self, item: Pending) -> int:
        return 0 if item.time is None else math.floor(item.time / self.block_seconds + 1e-9)

    def _starts_stream(self, item: Pending) -> bool:
        last = self._pending[-1].time if self._pending else None
        return item.flow is None or (item.time is not None and last is not None and item.time <= last)

    def push(self, item: Pending) -> list[tuple[Any, torch.Tensor]]:
        done = self.flush() if self._starts_stream(item) else []
        if self._pending:
            self._flows.append(torch.from_numpy(invert_flow(item.flow))[None].to(item.output.device))
        self._pending.append(item)
        done += self._finished_blocks()
        return done + (self.flush() if len(self._pending) >= self.max_pending else [])

    def flush(self) -> list[tuple[Any, torch.Tensor]]:
        """Every pending frame, chained from the last one (a cut or the end of the stream follows)."""
        return self._emit(len(self._pending) - 1, len(self._pending))

    def reset(self) -> None:
        """Forget the pending frames (the caller has flushed what it wanted)."""
        self._pending.clear()
        self._flows.clear()

    def _finished_blocks(self) -> list[tuple[Any, torch.Tensor]]:
        done = []
        while self._pending:
            first = self._block(self._pending[0])
            later = [i for i, p in enumerate(self._pending) if self._block(p) > first]
            if not later or later[0] - 1 + self.overlap >= len(self._pending):
                break  # the block is still open, or its chain's first frame has not come yet
            done += self._emit(later[0] - 1 + self.overlap, later[0])
        return done

    def _emit(self, start: int, count: int) -> list[tuple[Any, torch.Tensor]]:
        """The first ``count`` pending frames, from a chain that starts at pending frame ``start``."""
        if count <= 0:
            return []
        chain = backward_chain(self.stage, [p.output for p in self._pending], [p.frame for p in self._pending],
                               self._flows, start, 0, self.warp_mode)
        done = [(p.tag, b) for p, b in zip(self._pending[:count], chain)]
        del self._pending[:count], self._flows[:count]
        return done


class BackwardPass:
    """The backward stage on a temporal model's pictures in [0, 1]: ``push(y, x, flow, time, tag)`` with the
    forward output ``y`` (1×3×sH×sW) and LR frame ``x`` (1×3×H×W) of one frame, ``flow`` from it to the frame
    before (numpy 2×H×W; ``None``: a shot starts) -> the ``(tag, picture)`` now finished, in [0, 1], float32."""

    def __init__(self, module: torch.nn.Module, frame_rate: float | None) -> None:
        mode = module.fusion.mode
        stage = BackProjectionFusion(mode, module.scale, module.rgb_range, module.in_channels)
        settings = SETTINGS[mode]
        stage.settings = FusionSettings(settings.alpha, settings.sigma, BACKWARD_STEPS[mode])
        rate = frame_rate if frame_rate and frame_rate > 0 else DEFAULT_FRAME_RATE
        self.fusion = BackwardFusion(stage, block_seconds=BLOCK_FRAMES / rate, overlap=OVERLAP_FRAMES)
        self.range = float(module.rgb_range)
        self.mean = module.add_mean.bias.detach().float().view(1, -1, 1, 1)  # rgb_range * the RGB mean

    def push(self, y: torch.Tensor, x: torch.Tensor, flow: np.ndarray | None, time: float | None,
             tag: Any) -> list[tuple[Any, torch.Tensor]]:
        item = Pending(self._shifted(y).half(), self._shifted(x), flow, time, tag)  # float16: 1/16 of a level
        return self._pictures(self.fusion.push(item))

    def flush(self) -> list[tuple[Any, torch.Tensor]]:
        return self._pictures(self.fusion.flush())

    def reset(self) -> None:
        self.fusion.reset()

    def calibration(self, height: int, width: int, device: str | torch.device = "cpu") -> tuple[Callable[[], Any], Callable[[], Any], float]:
        """What the stage adds to a frame of ``height`` x ``width`` LR pixels beyond a batch taken as a stream of
        its own (what ``vsr.estimate`` times), for timing: (the inverse of its flow, one chain step, chain steps per
        frame: ``(W + overlap - 1) / W`` for blocks of ``W`` frames). The pending frames are untouched."""
        fusion = self.fusion
        flow = np.zeros((2, height, width), dtype=np.float32)
        lr = self._shifted(torch.rand(1, 3, height, width, device=device))
        out = self._shifted(torch.rand(1, 3, height * fusion.stage.scale, width * fusion.stage.scale, device=device)).half()
        later = torch.from_numpy(invert_flow(flow))[None].to(device)

        def step() -> None:
            with torch.inference_mode():
                backward_chain(fusion.stage, [out, out], [lr, lr], [later], 1, 0, fusion.warp_mode)

        w = fusion.block_frames
        return (lambda: invert_flow(flow)), step, (w + fusion.overlap - 1) / w

    def _shifted(self, picture: torch.Tensor) -> torch.Tensor:
        self.mean = self.mean.to(picture.device)  # once: the frames stay on one device
        return picture.float() * self.range - self.mean

    def _pictures(self, done: list[tuple[Any, torch.Tensor]]) -> list[tuple[Any, torch.Tensor]]:
        return [(tag, (b.float() + self.mean) / self.range) for tag, b in done]


def backward_pass_for(module: torch.nn.Module, frame_rate: float | None) -> BackwardPass | None:
    """The backward stage for a temporal model with a fusion stage; ``None`` for any other model. The model's
    own (forward) fusion is lightened to ``FORWARD_STEPS`` back-projections: the backward pass does the rest."""
    stage = getattr(module, "fusion", None)
    if stage is None:
        return None
    stage.settings = replace(stage.settings, steps=min(stage.settings.steps, FORWARD_STEPS))
    return BackwardPass(module, frame_rate)

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

Measured offline (``benchmarks/backward_fusion.py``, docs/quality.md "A backward pass"): blocks of 16 frames
and 4 more, x4 clean, held-out clips: 35.03 dB against 34.77 for the forward pass alone. Not yet run by the
backends: this is the stage they will hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vsr.models.fusion import BackProjectionFusion
from vsr.models.motion import invert_flow
from vsr.models.temporal import warp_hr


def backward_chain(stage: BackProjectionFusion, outputs: Sequence[torch.Tensor], frames: Sequence[torch.Tensor],
                   flows: Sequence[torch.Tensor | None], start: int, stop: int, warp_mode: str) -> list[torch.Tensor]:
    """``[B_stop, ..., B_start]``: the chain from ``B_start = outputs[start]`` down to frame ``stop``; ``outputs``
    and ``frames`` (LR) less the mean, ``flows[t]`` from frame ``t`` to ``t + 1`` (frames of one shot)."""
    chain = [outputs[start]]
    has_past = torch.ones(1, 1, 1, 1, device=outputs[start].device)
    for t in range(start - 1, stop - 1, -1):
        past = warp_hr(chain[-1], flows[t], stage.scale, warp_mode)
        chain.append(stage(outputs[t], past, frames[t], has_past))
    return chain[::-1]


@dataclass
class Pending:
    """One frame waiting for the frames after it: its forward output and LR picture less the mean, the LR
    flow the forward pass used from it to the frame before (``None``: it starts a shot), its time in
    seconds, and ``tag`` (given back with its result)."""

    output: torch.Tensor
    frame: torch.Tensor
    flow: np.ndarray | None
    time: float
    tag: Any = None


class BackwardFusion:
    """``push(frame)`` -> the ``(tag, B_t)`` now finished, in order; ``flush()`` -> the rest (end of stream)."""

    def __init__(self, stage: BackProjectionFusion, *, block_seconds: float, overlap: int,
                 warp_mode: str = "bicubic") -> None:
        if block_seconds <= 0 or overlap < 0:
            raise ValueError("block_seconds must be > 0 and overlap >= 0")
        self.stage, self.block_seconds, self.overlap, self.warp_mode = stage, block_seconds, overlap, warp_mode
        self._pending: list[Pending] = []
        self._flows: list[torch.Tensor] = []  # _flows[i]: from _pending[i] to _pending[i + 1]

    def _block(self, item: Pending) -> int:
        return math.floor(item.time / self.block_seconds + 1e-9)

    def push(self, item: Pending) -> list[tuple[Any, torch.Tensor]]:
        done = self.flush() if item.flow is None else []
        if self._pending:
            self._flows.append(torch.from_numpy(invert_flow(item.flow))[None].to(item.output.device))
        self._pending.append(item)
        return done + self._finished_blocks()

    def flush(self) -> list[tuple[Any, torch.Tensor]]:
        """Every pending frame, chained from the last one (a cut or the end of the stream follows)."""
        return self._emit(len(self._pending) - 1, len(self._pending))

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

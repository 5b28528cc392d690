"""Runs a temporal (recurrent) model over frames in order, carrying its state from batch to batch.

A backend calls it like a single-image network (N×3×H×W -> N×3×sH×sW, N consecutive frames in
display order); inside, frames go one at a time: the flow from each LR frame to the previous one
(DIS on the host, ``vsr.models.motion``), the previous frame and the state, tile by tile at fixed
positions with one state per tile (``vsr.backends.tiling.run_tiled``: the same tiles and seams as a
single-image model). The state restarts, as at the start of a shot:

- on the first frame (a backend is opened per section or segment);
- at a scene cut (``vsr.models.motion.is_cut``), so the last shot is not carried into the next;
- when the frame size changes; and on ``reset()`` (a new clip in ``vsr eval``).

Memory: per tile, the state (``state_channels`` × tile at LR size, in the model's dtype) and the
previous frame; for ``vsr.models.temporal`` the state is the previous output folded to LR size
(3 x scale^2 channels): at 16 bits, one output frame, 50 MB for a 4K output.

With a ``backward`` stage (``vsr.models.backward_fusion.BackwardPass``: a model with a fusion stage) the
whole stitched output of each frame goes through it, and ``stream`` gives back the frames
that stage has finished: up to ``BLOCK_FRAMES + OVERLAP_FRAMES`` frames later than they came in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vsr.backends.tiling import run_tiled
from vsr.models.motion import FlowEstimator, grey, is_cut

if TYPE_CHECKING:
    from vsr.models.backward_fusion import BackwardPass


class RecurrentRunner:
    """``__call__(x)``: the temporal ``model`` over the frames of ``x`` in order, state kept between calls."""

    def __init__(self, forward: Callable, *, state_channels: int, scale: int, tile: int, overlap: int,
                 multiple: int = 1, detect_cuts: bool = True, backward: BackwardPass | None = None) -> None:
        self.forward, self.state_channels = forward, state_channels
        self.scale, self.tile, self.overlap, self.multiple = scale, tile, overlap, multiple
        self.detect_cuts, self.backward = detect_cuts, backward
        self._flow = FlowEstimator()
        self.cuts = 0  # scene cuts seen (restarts after the first frame)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts a shot."""
        self._prev: torch.Tensor | None = None  # 1×3×H×W, the previous frame as the model took it
        self._prev_rgb: np.ndarray | None = None  # H×W×3 uint8, for cut detection
        self._prev_grey: np.ndarray | None = None
        self._states: dict[int, torch.Tensor] = {}  # tile index -> state
        if self.backward is not None:
            self.backward.reset()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The outputs of the frames of ``x``, all of them: the backward stage (if any) takes the batch as a
        stream of its own (``vsr bench``'s model timing, ``vsr estimate``)."""
        if self.backward is not None and self.backward.fusion.pending:
            raise RuntimeError("internal error: a runner streaming frames was called on a whole batch")
        done = dict(self.stream(x, range(x.shape[0]), [None] * x.shape[0]) + self.flush())
        return torch.cat([done[i].to(x.dtype) for i in range(x.shape[0])])

    @torch.inference_mode()
    def stream(self, x: torch.Tensor, tags: Sequence[Any], times: Sequence[float | None]) -> list[tuple[Any, torch.Tensor]]:
        """Run the frames of ``x`` (their ``tags`` and times in seconds alongside); returns the ``(tag, output)``
        finished now, in order: every frame at once without a backward stage, else as blocks complete."""
        done = []
        for i, (tag, time) in enumerate(zip(tags, times)):
            y, flow = self._frame(x[i : i + 1])
            done += [(tag, y)] if self.backward is None else self.backward.push(y, x[i : i + 1], flow, time, tag)
        return done

    def flush(self) -> list[tuple[Any, torch.Tensor]]:
        """The frames the backward stage still holds (the end of a section): ``(tag, output)`` in order."""
        return [] if self.backward is None else self.backward.flush()

    @torch.inference_mode()
    def _frame(self, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray | None]:
        """(the output of one frame, the flow to the frame before: ``None`` where a shot starts)."""
        rgb = x[0].float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        g = grey(rgb)
        restart = self._prev is None or self._prev.shape != x.shape
        if not restart and self.detect_cuts and is_cut(self._prev_rgb, rgb):
            restart = True
            self.cuts += 1
        if restart:
            self._states.clear()
            prev, lr_flow = x, None
            flow = torch.zeros((1, 2, *x.shape[-2:]), dtype=torch.float32, device=x.device)
        else:
            lr_flow = self._flow(g, self._prev_grey)
            prev, flow = self._prev, torch.from_numpy(lr_flow)[None].to(x.device)
        # a copy: x can be a view of the backend's input buffer, which the next batch overwrites
        self._prev, self._prev_rgb, self._prev_grey = x.clone(), rgb, g
        packed = torch.cat((x.float(), prev.float(), flow), dim=1)  # one tensor, so tiles slice all three alike
        y = run_tiled(self._tile_step(x.dtype), packed, scale=self.scale, tile=self.tile, overlap=self.overlap,
                      multiple=self.multiple)
        return y, lr_flow

    def _tile_step(self, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model on one tile of the packed input; tiles come in a fixed order, so the k-th call
        of a frame is tile k, whose state it reads and replaces."""
        counter = iter(range(1 << 30))

        def step(packed: torch.Tensor) -> torch.Tensor:
            k = next(counter)
            cl = torch.channels_last
            x = packed[:, :3].to(dtype).contiguous(memory_format=cl)
            prev = packed[:, 3:6].to(dtype).contiguous(memory_format=cl)
            state = self._states.get(k)
            if state is None or state.shape[-2:] != x.shape[-2:]:
                state = x.new_zeros((x.shape[0], self.state_channels, *x.shape[-2:])).contiguous(memory_format=cl)
            y, self._states[k] = self.forward(x, prev, state, packed[:, 6:8].contiguous())
            return y

        return step


def is_temporal(model: object) -> bool:
    return bool(getattr(model, "temporal", False))


def frame_runner(forward: Callable, module: torch.nn.Module, *, scale: int, tile: int, overlap: int,
                 multiple: int = 1, backward: BackwardPass | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """What a backend runs its network through: a ``RecurrentRunner`` for a temporal model (with the
    ``backward`` stage, if given), else the ``AdaptiveTiler`` (tiles, and smaller tiles on CUDA out-of-memory)."""
    if is_temporal(module):
        return RecurrentRunner(forward, state_channels=module.state_channels, scale=scale, tile=tile,
                               overlap=overlap, multiple=multiple, backward=backward)
    from vsr.backends.tiling import AdaptiveTiler

    return AdaptiveTiler(forward, scale=scale, tile=tile, overlap=overlap, multiple=multiple)

"""How long a run will take, from a short calibration of the real model on the plan's device.

What is timed is what the run repeats: on the CPU, a frame up to 1280x720 goes whole through the backend's
own per-batch step (colour conversion, the network, the residual resample), ``plan.batch`` real frames of the
input at a time; a larger frame or a GPU times the network on one tile (the plan's ``--tile``, else at most
720x1280) and scales by the frame's pixels. The first calls are slow and their speed varies (kernel
choice, first-touch memory, clocks): calls go on until two in a row agree within 15% (at most
``_MAX_CALLS`` or ``_BUDGET_SECONDS``), and the median of the last three is the time per call. A tile much
smaller than the frame under-estimates it (a 180x320 frame's activations stay in the caches, a 720p
frame's do not: EDSR-baseline bf16 here, 3.5 vs 5.3 us/px), hence the large tile. A temporal model's
backward stage runs on whole frames across batches, so its work per frame is timed on its own and added.
Encoding a few frames of the output size with the plan's encoder is timed too: on a CPU it shares the cores
with the model, so it adds to each frame; on a GPU it overlaps, and the slower of the two sets the pace. The
model's loading time and the warm-up's extra time are added once (the run loads and warms its own
backend). Resamplers are not calibrated (swscale runs at hundreds of frames per second).
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import av

from vsr.plan import Plan

WHOLE_FRAME_PIXELS = 1280 * 720  # larger frames are timed on a tile of at most this many pixels
_STABLE = 1.15  # two calls in a row within this ratio: warmed up
_MEASURE_SECONDS = 0.5  # at least this much measured after the first call
_MAX_CALLS = 10
_BUDGET_SECONDS = 15.0  # calibration stops here even if the speed has not settled
_ENCODE_FRAMES = 4
_SLOW_ON_CPU = 3600.0  # seconds: beyond this, say what would be faster


@dataclass(frozen=True)
class Estimate:
    seconds_per_frame: float
    frames: int | None  # None: the clip does not say how many
    seconds: float | None  # whole run (model time + loading it); None when the frame count is unknown
    device: str
    precision: str
    calibration: str  # what was timed, e.g. "180x320 frame, median of 3: 0.210 s; encode 0.057 s/frame"
    advice: str | None = None  # what would be faster, when the run is long on a CPU
    encode_seconds_per_frame: float = 0.0  # part of seconds_per_frame on a CPU

    def describe(self) -> str:
        """'about 31 min for 181 frames on cpu, bf16 (2.1 s/frame)'."""
        where = f"on {self.device}, {self.precision}"
        if self.seconds is None:
            return f"about {self.seconds_per_frame:.3g} s per frame {where} (frame count unknown)"
        return f"about {duration_text(self.seconds)} for {self.frames} frames {where} ({self.seconds_per_frame:.3g} s/frame)"

    def to_dict(self) -> dict:
        return asdict(self)


def duration_text(seconds: float) -> str:
    """'40 s', '31 min', '2.5 h', '3.2 days'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


FASTER_ON_CPU = ("faster: a machine with a CUDA GPU (--device cuda), a compact model (vsr models download "
                 "realesr-general-x4v3, then --model realesr-general-x4v3), or --model lanczos (no learned detail)")


def steady_seconds(timed_call: Callable[[], float]) -> tuple[float, int, float]:
    """(seconds per call once warm, calls measured, warm-up excess): ``timed_call`` runs once and returns
    its seconds. The excess is what the calls took beyond the steady time: the run pays it again (its
    backend is a new one), once.

    The first call is a warm-up; then calls until two in a row agree within ``_STABLE`` and at least
    ``_MEASURE_SECONDS`` were measured, or ``_MAX_CALLS`` / ``_BUDGET_SECONDS`` are reached. The median
    of the last three calls (robust to one burst of other work on a shared machine)."""
    spent = timed_call()
    times: list[float] = []
    while len(times) < _MAX_CALLS and spent < _BUDGET_SECONDS:
        times.append(timed_call())
        spent += times[-1]
        if len(times) >= 2 and sum(times) >= _MEASURE_SECONDS and max(times[-2:]) <= _STABLE * min(times[-2:]):
            break
    if not times:  # one call already took the whole budget
        times.append(spent)
    steady = statistics.median(times[-3:])
    return steady, len(times), max(0.0, spent - steady * (len(times) + 1))


def estimate(plan: Plan, frames: int | None) -> Estimate | None:
    """Calibrate the plan's model on its device and precision; None for resamplers."""
    if plan.is_resampler:
        return None
    import torch

    from vsr.backends.factory import backend_for
    from vsr.backends.tiling import tile_starts

    # the plan's own CPU engine; a TensorRT plan is timed in PyTorch (no engine build)
    spec = plan.backend_spec()
    if spec.backend == "tensorrt":
        spec = replace(spec, backend="torch")
    on_cpu = spec.device == "cpu"
    height, width = spec.input.height, spec.input.width
    decoded = _first_frames(plan, max(plan.batch, _ENCODE_FRAMES))
    whole = on_cpu and not spec.tile and height * width <= WHOLE_FRAME_PIXELS and bool(decoded)
    if spec.tile:
        th, tw = min(spec.tile, height), min(spec.tile, width)
        tiles = len(tile_starts(height, th, spec.tile_overlap)) * len(tile_starts(width, tw, spec.tile_overlap))
    else:
        th, tw = _calibration_tile(height, width)
        tiles = height * width / (th * tw)
    sync = torch.cuda.synchronize if spec.device.startswith("cuda") else (lambda: None)
    started = time.perf_counter()
    with backend_for(spec) as backend, torch.inference_mode():
        loading = time.perf_counter() - started  # the run loads the model once too
        if whole:
            batch = decoded[:plan.batch]
            per_call, runs, warming = steady_seconds(lambda: _seconds(lambda: backend.process(batch)))
            per_model = per_call / len(batch)
            what = f"{height}x{width} frame" + (f" x{len(batch)}" if len(batch) > 1 else "")
        else:
            x = torch.rand(1, 3, th, tw, device=spec.device).to(backend.dtype).contiguous(memory_format=torch.channels_last)
            per_call, runs, warming = steady_seconds(lambda: _seconds(lambda: (backend.infer(x), sync())))
            per_model = per_call * tiles
            warming *= tiles
            what = f"{th}x{tw} tile"
        backward = _backward_seconds(backend, height, width, sync)
        per_model += backward
    encode = _encode_seconds(plan, decoded)
    per_frame = per_model + encode if on_cpu else max(per_model, encode)
    total = per_frame * frames + loading + warming if frames else None
    advice = FASTER_ON_CPU if on_cpu and total and total > _SLOW_ON_CPU else None
    return Estimate(per_frame, frames, total, spec.device, spec.precision,
                    f"{what}, median of {min(runs, 3)}: {per_call:.3f} s; "
                    + (f"backward pass {backward:.3f} s/frame; " if backward else "")
                    + f"encode {encode:.3f} s/frame", advice, encode)


def _backward_seconds(backend: Any, height: int, width: int, sync: Callable[[], None]) -> float:
    """Seconds per frame of a temporal model's backward stage (0 without one): it runs on whole frames after the
    network, across batches, so the calls timed above leave it out."""
    held = backend.backward_pass
    if held is None:
        return 0.0
    inverse, step, steps_per_frame = held.calibration(height, width, backend.spec.device)
    seconds = [steady_seconds(lambda work=work: _seconds(lambda: (work(), sync())))[0] for work in (inverse, step)]
    return seconds[0] + seconds[1] * steps_per_frame


def _calibration_tile(height: int, width: int) -> tuple[int, int]:
    """The frame, or a tile of it of at most ``WHOLE_FRAME_PIXELS`` oriented like it."""
    long_side, short_side = 1280, 720
    if height > width:
        return min(height, long_side), min(width, short_side)
    return min(height, short_side), min(width, long_side)


def _seconds(call: Callable[[], object]) -> float:
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def _first_frames(plan: Plan, n: int) -> list[av.VideoFrame]:
    """The first ``n`` frames of the section, decoded (fewer in a shorter clip)."""
    from vsr.io.reader import VideoReader

    with VideoReader(plan.source, plan.section) as reader:
        return list(itertools.islice(reader.frames(), n))


def _encode_seconds(plan: Plan, frames: list[av.VideoFrame]) -> float:
    """Seconds per frame to encode ``frames`` at the output size with the plan's encoder (and flush it)."""
    if not frames:
        return 0.0
    out = [f.reformat(plan.width, plan.height, plan.pix_fmt) for f in frames]
    with tempfile.TemporaryDirectory(prefix="vsr-estimate-") as tmp:
        from vsr.io.writer import VideoWriter

        probe = replace(plan.encoder_spec(), output=Path(tmp) / f"calibration{plan.output.suffix}")
        with VideoWriter(probe, ()) as writer:
            started = time.perf_counter()
            for frame in out:
                writer.write(frame)
            writer.commit()
            return (time.perf_counter() - started) / len(out)

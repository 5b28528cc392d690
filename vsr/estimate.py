"""How long a run will take, from a short calibration of the real model on the plan's device.

One tile of the real network (the plan's ``--tile``, else at most 512 wide and 256 high) runs once to
warm up (oneDNN/cuDNN choose their kernels on the first call), then at least twice more (until half
a second has been measured). The median time per tile, times the tiles per frame (the frame's pixels
over the tile's for whole-frame plans), times the frames, plus the model's loading time, is the
estimate. Decoding, colour conversion and encoding run beside the model and are not counted; on a
CPU the model is most of the time. Small tiles cost more per pixel than whole frames (EDSR-baseline
fp32 here: 25.6 us/px at 256x256, 19.5 at 512x256, 16.7 on 640x360), so the estimate errs long.
Resamplers are not calibrated (swscale runs at hundreds of frames per second).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, replace

from vsr.plan import Plan

CALIBRATION_TILE = (256, 512)  # height, width at most, in input pixels (whole-frame plans)
_MEASURE_SECONDS = 0.5
_MIN_RUNS = 2
_SLOW_ON_CPU = 3600.0  # seconds: beyond this, say what would be faster


@dataclass(frozen=True)
class Estimate:
    seconds_per_frame: float
    frames: int | None  # None: the clip does not say how many
    seconds: float | None  # whole run (model time + loading it); None when the frame count is unknown
    device: str
    precision: str
    calibration: str  # what was timed, e.g. "256x512 tile, median of 2: 0.610 s"
    advice: str | None = None  # what would be faster, when the run is long on a CPU

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
    height, width = spec.input.height, spec.input.width
    if spec.tile:
        th, tw = min(spec.tile, height), min(spec.tile, width)
        tiles = len(tile_starts(height, th, spec.tile_overlap)) * len(tile_starts(width, tw, spec.tile_overlap))
    else:
        th, tw = min(CALIBRATION_TILE[0], height), min(CALIBRATION_TILE[1], width)
        tiles = height * width / (th * tw)
    started = time.perf_counter()
    with backend_for(spec) as backend, torch.inference_mode():
        loading = time.perf_counter() - started  # the run loads the model once too
        x = torch.rand(1, 3, th, tw, device=spec.device).to(backend.dtype).contiguous(memory_format=torch.channels_last)
        sync = torch.cuda.synchronize if spec.device.startswith("cuda") else (lambda: None)
        backend.infer(x)  # warm-up: kernels are chosen on the first call
        sync()
        times: list[float] = []
        while len(times) < _MIN_RUNS or (sum(times) < _MEASURE_SECONDS and len(times) < 10):
            t0 = time.perf_counter()
            backend.infer(x)
            sync()
            times.append(time.perf_counter() - t0)
        per_tile = statistics.median(times)  # robust to a burst of other work on a shared machine
        runs = len(times)
    per_frame = per_tile * tiles  # on a GPU, batches of frames run faster per frame than this
    total = per_frame * frames + loading if frames else None
    advice = FASTER_ON_CPU if spec.device == "cpu" and total and total > _SLOW_ON_CPU else None
    return Estimate(per_frame, frames, total, spec.device, spec.precision,
                    f"{th}x{tw} tile, median of {runs}: {per_tile:.3f} s", advice)

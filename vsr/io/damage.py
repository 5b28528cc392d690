"""How damaged the input is, from a sample of its frames: the codec's quantiser and the noise in the pictures.

What picks the default model (``vsr.models.default_choice``). The sample is ``RUNS`` runs of consecutive
frames from times spread over the section (a film's first frames are often titles or black), each decoded from
the keyframe before its time, no frame twice: ``RUN_FRAMES`` frames a run where the decoder reports the
quantiser (``vsr.io.quantizer``), ``NOISE_FRAMES`` otherwise; the noise is measured on every ``NOISE_STRIDE``-th.

Noise: Immerkaer's estimator (1996: the mean absolute response to a 3x3 mask that cancels planes and
straight edges, times ``sqrt(pi / 2) / 6``, is the sigma of white Gaussian noise) on the luma of the
flattest ``FLAT_SHARE`` of the picture (bars cut off) by Sobel gradient, where texture adds least; the
median over the frames sampled, in 8-bit code values. On the held-out LR clips at x4 it reads 0.3-0.8 clean
and 1.1-1.2, 1.8-2.0, 2.4-2.8, 3.7-4.4 with Gaussian noise of sigma 1, 2, 3, 5 added to each RGB frame (at x2
0.1-0.4, 0.9-1.0, 1.5-1.8, 2.2-2.6, 3.5-4.2; docs/quality.md, "Which temporal model"); a codec's smoothing
lowers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vsr.io.quantizer import MEASURABLE, Quantizer, frame_quantizer_of

RUNS = 4  # runs of frames sampled over the section
RUN_FRAMES = 12  # frames decoded per run where the codec reports its quantiser
NOISE_FRAMES = 5  # frames decoded per run otherwise (the noise read on the 1st and the 5th)
NOISE_STRIDE = 4  # the noise is measured on every NOISE_STRIDE-th frame of a run
FLAT_SHARE = 0.2  # the share of the picture, flattest first, the noise is measured on
BAR_RANGE = 2.0  # an edge line whose luma spans no more than this is a bar, not picture (8-bit code values)
_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


@dataclass(frozen=True)
class InputDamage:
    """The mean quantiser (``None``: the codec reports none) and the noise sigma (``None``: no frame decoded)."""

    quantizer: Quantizer | None
    noise: float | None


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkaer's noise sigma of a luma picture (HxW) in 8-bit code values, on its flattest ``FLAT_SHARE``."""
    import cv2

    y = _without_bars(luma.astype(np.float32))
    if min(y.shape) < 3:
        return 0.0
    response = np.abs(cv2.filter2D(y, -1, _MASK, borderType=cv2.BORDER_REFLECT))[1:-1, 1:-1]
    gradient = (np.abs(cv2.Sobel(y, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(y, cv2.CV_32F, 0, 1)))[1:-1, 1:-1]
    flat = gradient <= np.quantile(gradient, FLAT_SHARE)
    return float(np.sqrt(np.pi / 2) / 6 * response[flat].mean())


def measure(path: str | Path, stream_index: int, start: float = 0.0, end: float | None = None) -> InputDamage:
    """The damage over ``RUNS`` runs of frames spread over ``[start, end)`` (the stream's own times in seconds, as
    ``--start`` counts them; ``end`` ``None``: one run from ``start``)."""
    import av

    quantizers: list[tuple[str, float]] = []
    noise: list[float] = []
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        reports = stream.codec_context.name in MEASURABLE
        if reports:
            stream.codec_context.options = {"export_side_data": "venc_params"}
        span = (end - start) if end is not None and end > start else 0.0
        times = [start + span * i / RUNS for i in range(RUNS)] if span else [start]
        for i, frame in _sampled(container, stream, times, end, RUN_FRAMES if reports else NOISE_FRAMES):
            if reports and (q := frame_quantizer_of(frame)):
                quantizers.append(q)
            if i % NOISE_STRIDE == 0:
                noise.append(noise_sigma(_luma(frame)))
    quantizer = None
    if quantizers:
        quantizer = Quantizer(quantizers[0][0], float(np.mean([v for _, v in quantizers])), len(quantizers))
    return InputDamage(quantizer, float(np.median(noise)) if noise else None)


def _sampled(container, stream, times: list[float], end: float | None, run_frames: int):
    """``(index in its run, frame)`` for up to ``run_frames`` frames from each of ``times`` on. Each run seeks to
    the keyframe before its time and decodes from there (with a long GOP, up to a GOP a run), yielding the
    frames from its time on, before ``end``, that no earlier run yielded."""
    import av

    seen: set[int] = set()
    for t in times:
        count = 0
        try:
            if t > 0:  # a fresh container is at the start already (and raw streams cannot seek)
                container.seek(int(t * av.time_base), backward=True)
            for frame in container.decode(stream):
                time = frame.time
                if (time is not None and time < t - 1e-6) or frame.pts in seen:
                    continue  # between the keyframe and this run's time, or yielded by an earlier run
                if end is not None and time is not None and time >= end - 1e-6:
                    break  # past the section
                if frame.pts is not None:
                    seen.add(frame.pts)
                yield count, frame
                count += 1
                if count >= run_frames:
                    break
        except av.error.FFmpegError:  # a stream that cannot seek, or a damaged run: the other runs count
            continue


def _without_bars(y: np.ndarray) -> np.ndarray:
    """``y`` less the uniform lines at its edges (letterbox and pillarbox bars: a quarter of a 2.39:1 film in a
    16:9 frame, flatter than any picture, would be all the flattest share)."""
    rows, cols = np.ptp(y, axis=1) > BAR_RANGE, np.ptp(y, axis=0) > BAR_RANGE
    if not rows.any() or not cols.any():
        return y
    r, c = np.flatnonzero(rows), np.flatnonzero(cols)
    return y[r[0]:r[-1] + 1, c[0]:c[-1] + 1]


def _luma(frame) -> np.ndarray:
    """Full-range luma in 8-bit code values (float32), through 16 bits: a 10-bit picture brought to 8 bits by
    swscale is dithered, which reads as noise (0.8 on a clean ramp)."""
    return frame.to_ndarray(format="gray16le").astype(np.float32) * (1.0 / 257.0)

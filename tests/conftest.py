"""Shared fixtures: synthetic clips made with PyAV (no ffmpeg CLI), a CLI runner, media readers.

Everything is tiny (tens of frames, <= 320x240) so the suite stays fast on two shared CPU cores.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


class PicklePayload:
    """Unpickling this would run ``touch MARKER``: the code a hostile checkpoint carries."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def load_script(relative: str):
    """A script of the repository outside the package (benchmarks/, tools/) imported as a module."""
    spec = importlib.util.spec_from_file_location(Path(relative).stem, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

# Whole-pipeline modules (real encodes, subprocesses, worker processes, Ray, training steps): marked
# `slow`, so that `pytest -m "not slow"` is the fast tier; CI runs everything.
SLOW_MODULES = {
    "test_jobs_segments", "test_jobs_workers", "test_jobs_resume", "test_jobs_ray", "test_upscale_fidelity",
    "test_upscale_signals", "test_temporal_pipeline", "test_upscale_errors", "test_hdr", "test_compare", "test_sample", "test_estimate",
    "test_duplicates", "test_train", "test_bench", "test_probe_cli", "test_upscale_many",
    "test_models_community_upscale",
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.module.__name__.rpartition(".")[2] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)

# A minimal ASS header: the 'ass' encoder is not used, but the muxer needs the codec private data.
ASS_HEADER = (
    "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"
    "[V4+ Styles]\nFormat: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n"
    "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
).encode()


# --------------------------------------------------------------------------------------------
# clip factory
# --------------------------------------------------------------------------------------------


def _bit_depth(pix_fmt: str) -> int:
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def _content_planes(content: str, i: int, shapes, depth: int, full_range: bool, yuv, seed: int):
    """Y, U, V sample arrays (float, in code values of ``depth`` bits) for frame ``i``."""
    top = (1 << depth) - 1
    k = (1 << depth) / 256.0  # 8-bit code -> this depth
    lo, hi = (0.0, float(top)) if full_range else (16 * k, 235 * k)
    clo, chi = (0.0, float(top)) if full_range else (16 * k, 240 * k)
    (yh, yw), (ch, cw) = shapes[0], shapes[1]
    rng = np.random.default_rng(seed * 100003 + i)
    if content == "flat":
        yv, uv, vv = yuv if yuv is not None else (128 * k, 128 * k, 128 * k)
        return np.full((yh, yw), yv, float), np.full((ch, cw), uv, float), np.full((ch, cw), vv, float)
    if content == "gradient":
        # A smooth ramp: in 10 bits it spans ~200 codes so most values are not multiples of 4.
        xs = (np.arange(yw) + i) / max(yw - 1, 1)
        ys = np.arange(yh) / max(yh - 1, 1)
        if depth > 8:
            base, span = 400.0 * k / 4, 200.0 * k / 4  # 400..600 in 10-bit
        else:
            base, span = lo + 0.15 * (hi - lo), 0.7 * (hi - lo)
        y = base + span * (0.8 * xs[None, :] + 0.2 * ys[:, None])
        cx = np.arange(cw) / max(cw - 1, 1)
        cy = np.arange(ch) / max(ch - 1, 1)
        mid = 128 * k
        u = mid + 0.15 * (chi - clo) * (cx[None, :] - 0.5) + 0 * cy[:, None]
        v = mid + 0.15 * (chi - clo) * (cy[:, None] - 0.5) + 0 * cx[None, :]
        return y, u, v
    if content == "noise":
        y = rng.uniform(lo, hi, (yh, yw))
        u = rng.uniform(clo, chi, (ch, cw))
        v = rng.uniform(clo, chi, (ch, cw))
        return y, u, v
    if content == "moving":
        y = np.full((yh, yw), lo + 0.1 * (hi - lo))
        side = max(4, min(yw, yh) // 4)
        x0 = (i * 3) % max(yw - side, 1)
        y0 = (i * 2) % max(yh - side, 1)
        y[y0 : y0 + side, x0 : x0 + side] = lo + 0.9 * (hi - lo)
        u = np.full((ch, cw), 128 * k)
        v = np.full((ch, cw), 128 * k)
        return y, u, v
    raise ValueError(f"unknown content {content!r}")


def _yuv_frame(pix_fmt: str, w: int, h: int, planes) -> av.VideoFrame:
    frame = av.VideoFrame(w, h, pix_fmt)
    depth = _bit_depth(pix_fmt)
    dtype = np.uint16 if depth > 8 else np.uint8
    top = (1 << depth) - 1
    for plane, values in zip(frame.planes, planes):
        itemsize = np.dtype(dtype).itemsize
        buf = np.zeros((plane.height, plane.line_size // itemsize), dtype)
        vals = np.clip(np.rint(values), 0, top).astype(dtype)
        buf[: vals.shape[0], : vals.shape[1]] = vals[: plane.height, : plane.width]
        plane.update(buf.tobytes())
    return frame


def make_clip_file(
    path,
    *,
    size=(64, 48),
    frames=10,
    rate=25,
    pix_fmt="yuv420p",
    codec="libx264",
    full_range=False,
    colorspace=None,
    sar=None,
    rotation=None,
    vfr_pts=None,
    audio=False,
    audio_language="fre",
    audio_title="Commentary",
    subtitles=False,
    subtitle_language="eng",
    content="gradient",
    yuv=None,
    seed=0,
    faststart=False,
    x264_params=None,
    audio_start=0.0,
) -> Path:
    """Write a synthetic clip with PyAV and return its path.

    - ``vfr_pts``: explicit presentation times in milliseconds (the video stream time base is
      then 1/1000), one per frame; ``frames`` is ignored.
    - ``colorspace``: AVColorSpace number (1 = BT.709, 5 = BT.470BG, 6 = SMPTE 170M); primaries and
      transfer are tagged alike where the number has a same-named counterpart.
    - ``full_range``: tag the stream (and frames) as full range (JPEG); ``pix_fmt='yuvj420p'``
      implies it.
    - ``yuv``: (Y, U, V) code values for ``content='flat'`` (in the clip's bit depth).
    - audio: AAC mono 48 kHz sine covering the video's duration, with language/title metadata;
      ``audio_start``: seconds the audio starts after (or, negative, before) the video.
    - ``x264_params``: extra libx264 settings, e.g. ``"bframes=3:open-gop=1"`` (the preset is ultrafast,
      which has no B-frames).
    - subtitles: an ASS stream (Matroska only) of three pre-made packets (PyAV cannot encode text
      subtitles, but muxes packets).
    """
    path = Path(path)
    w, h = size
    if pix_fmt.startswith("yuvj"):
        full_range = True
    depth = _bit_depth(pix_fmt)
    if vfr_pts is not None:
        pts_list = [int(p) for p in vfr_pts]
        tb = Fraction(1, 1000)
    else:
        pts_list = list(range(frames))
        tb = Fraction(1, int(rate)) if Fraction(rate).denominator == 1 else 1 / Fraction(rate)
    duration_s = float((pts_list[-1] + (pts_list[-1] - pts_list[-2] if len(pts_list) > 1 else 1)) * tb) if vfr_pts else frames / float(rate)

    options = {}
    if faststart:
        options["movflags"] = "+faststart"
    out = av.open(str(path), "w", options=options)
    try:
        vs = out.add_stream(codec, rate=Fraction(rate) if vfr_pts is None else 1000)
        vs.width, vs.height = w, h
        vs.pix_fmt = pix_fmt
        cc = vs.codec_context
        cc.time_base = tb
        if vfr_pts is not None:
            vs.time_base = tb
        if codec in ("libx264", "libx265"):
            opts = {"preset": "ultrafast"}
            if codec == "libx265":
                opts["x265-params"] = "log-level=error"
            if x264_params:
                opts["x264-params"] = x264_params
            cc.options = opts
        if codec == "libx264":
            cc.gop_size = 12
        if full_range:
            cc.color_range = 2
        if colorspace is not None:
            cc.colorspace = colorspace
            if colorspace in (1, 5, 6, 9):
                cc.color_primaries = {1: 1, 5: 5, 6: 6, 9: 9}[colorspace]
                cc.color_trc = {1: 1, 5: 6, 6: 6, 9: 14}[colorspace]
        if sar is not None:
            cc.sample_aspect_ratio = Fraction(sar)
        if rotation is not None:
            vs.set_display_rotation(rotation)

        astream = None
        if audio:
            astream = out.add_stream("aac", rate=48000, layout="mono")
            if audio_language:
                astream.metadata["language"] = audio_language
            if audio_title:
                astream.metadata["title"] = audio_title
        sstream = None
        if subtitles:
            if path.suffix.lower() not in (".mkv", ".mka"):
                raise ValueError("subtitles are written as ASS and need a .mkv file")
            sstream = out.add_stream("ass")
            sstream.codec_context.time_base = Fraction(1, 1000)
            sstream.codec_context.extradata = ASS_HEADER
            if subtitle_language:
                sstream.metadata["language"] = subtitle_language
            sstream.metadata["title"] = "Signs"

        shapes = [(p.height, p.width) for p in av.VideoFrame(w, h, pix_fmt).planes]
        if len(shapes) < 3:
            raise ValueError(f"make_clip writes planar YUV; {pix_fmt} is not")
        for i, pts in enumerate(pts_list):
            planes = _content_planes(content, i, shapes, depth, full_range, yuv, seed)
            frame = _yuv_frame(pix_fmt, w, h, planes)
            frame.pts = pts
            frame.time_base = tb
            if full_range:
                frame.color_range = 2
            if colorspace is not None:
                frame.colorspace = colorspace
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)

        if astream is not None:
            total = int(round(duration_s * 48000))
            n = 0
            while n < total:
                count = min(1024, total - n)
                t = (n + np.arange(count)) / 48000.0
                samples = (0.25 * np.sin(2 * math.pi * 440.0 * t)).astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate = 48000
                af.pts = n + int(round(audio_start * 48000))
                af.time_base = Fraction(1, 48000)
                n += count
                for packet in astream.encode(af):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)

        if sstream is not None:
            step = duration_s / 4
            for j in range(3):
                start_ms = int(round((j + 0.5) * step * 1000))
                text = f"{j},0,Default,,0,0,0,,Line {j} \u00e9\u00e8"  # non-ASCII on purpose
                packet = av.Packet(text.encode("utf-8"))
                packet.stream = sstream
                packet.time_base = Fraction(1, 1000)
                packet.pts = packet.dts = start_ms
                packet.duration = int(step * 500)
                out.mux(packet)
    finally:
        out.close()
    return path


@pytest.fixture
def make_clip():
    """``make_clip(path, **options) -> Path``; see :func:`make_clip_file`."""
    return make_clip_file


# --------------------------------------------------------------------------------------------
# reading media back
# --------------------------------------------------------------------------------------------


@dataclass
class VideoDump:
    width: int
    height: int
    pix_fmt: str
    times: list[float]
    rotation: int
    sar: Fraction | None
    color_range: int
    colorspace: int
    codec: str
    frames: list[np.ndarray] = field(default_factory=list)  # requested planes/arrays


def encode_frames(out, stream, frames) -> None:
    """Give ``frames`` (VideoFrames) pts 0, 1, 2, ..., encode them into ``stream`` and mux, then flush."""
    for i, frame in enumerate(frames):
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def read_video(path, *, keep: str | None = None, limit: int | None = None) -> VideoDump:
    """Decode every frame of the first video stream.

    ``keep``: None (times only), 'y' (Y plane as uint8/uint16 array), 'yuv' (list of 3 planes),
    'rgb24' (packed RGB uint8).
    """
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        cc = vs.codec_context
        dump = VideoDump(
            width=cc.width,
            height=cc.height,
            pix_fmt=cc.pix_fmt,
            times=[],
            rotation=0,
            sar=(Fraction(vs.sample_aspect_ratio) if vs.sample_aspect_ratio else None),
            color_range=int(cc.color_range or 0),
            colorspace=int(cc.colorspace or 2),
            codec=cc.name,
        )
        first = True
        for frame in c.decode(vs):
            if first:
                dump.rotation = int(round(frame.rotation or 0))
                dump.color_range = int(frame.color_range or dump.color_range)
                dump.colorspace = int(frame.colorspace or dump.colorspace)
                dump.pix_fmt = frame.format.name
                first = False
            dump.times.append(float(frame.time))
            if keep == "y":
                dump.frames.append(plane_array(frame, 0))
            elif keep == "yuv":
                dump.frames.append([plane_array(frame, k) for k in range(3)])
            elif keep == "rgb24":
                dump.frames.append(frame.to_ndarray(format="rgb24"))
            if limit and len(dump.times) >= limit:
                break
    return dump


def plane_array(frame: av.VideoFrame, index: int) -> np.ndarray:
    """One plane of a planar frame as a (height, width) array without padding."""
    plane = frame.planes[index]
    depth = max(c.bits for c in frame.format.components)
    dtype = np.uint16 if depth > 8 else np.uint8
    item = np.dtype(dtype).itemsize
    arr = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // item)
    return arr[:, : plane.width].copy()


def stream_packets(path, kind: str):
    """[(pts_seconds, bytes)] of every non-empty packet of each stream of ``kind``, per stream."""
    result = []
    with av.open(str(path)) as c:
        count = sum(1 for s in c.streams if s.type == kind)
    for n in range(count):  # a fresh open per stream: seeking back could skip leading packets
        with av.open(str(path)) as c:
            s = [s for s in c.streams if s.type == kind][n]
            packets = []
            for p in c.demux(s):
                if p.size == 0:
                    continue
                t = float(p.pts * p.time_base) if p.pts is not None else None
                packets.append((t, bytes(p)))
            result.append(packets)
    return result


def stream_metadata(path, kind: str) -> list[dict]:
    with av.open(str(path)) as c:
        return [dict(s.metadata) for s in c.streams if s.type == kind]


# --------------------------------------------------------------------------------------------
# running the CLI
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)

    def __str__(self) -> str:  # shown by pytest on failed asserts
        return f"vsr {' '.join(map(str, self.args))} -> rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def vsr_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "2")
    env.pop("VSR_DEBUG", None)
    return env


def run_vsr(*args, timeout: float = 180, cwd=None) -> Run:
    cmd = [sys.executable, "-m", "vsr", *[str(a) for a in args]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=vsr_env(), cwd=cwd)
    return Run(list(args), proc.returncode, proc.stdout, proc.stderr)


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C's default action. A suite started as a background job inherits
    SIGINT ignored, and a Python started so never raises KeyboardInterrupt, so the signal tests would
    test nothing but the shell's job control."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_vsr(*args, cwd=None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vsr", *[str(a) for a in args]]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=vsr_env(), cwd=cwd,
                            preexec_fn=_default_sigint)


@pytest.fixture
def vsr():
    """``vsr(*args) -> Run``: ``python -m vsr`` in a subprocess (real exit codes and stderr)."""
    return run_vsr


def probe_plan(*args) -> dict:
    """The plan part of ``vsr probe --json`` (the object under 'plan', or the whole object)."""
    run = run_vsr("probe", *args, "--json", "--no-estimate")  # the estimate has its own tests (test_estimate)
    assert run.returncode == 0, str(run)
    data = run.json()
    return data.get("plan", data)


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def edsr_checkpoint(tmp_path_factory) -> Path:
    """A tiny random EDSR x2 (8 features, 1 block, seed 0) saved as .safetensors."""
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    from vsr.models.edsr import EDSR

    torch.manual_seed(0)
    model = EDSR(num_features=8, num_blocks=1, scale=2)
    path = tmp_path_factory.mktemp("models") / "tiny_edsr_x2.safetensors"
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    safetensors_torch.save_file(state, str(path))
    return path


# --------------------------------------------------------------------------------------------
# misc helpers
# --------------------------------------------------------------------------------------------


def listing(directory) -> set[str]:
    return {p.name for p in Path(directory).iterdir()}


def one_line_error(run: Run) -> None:
    """The contract for errors: a short message on stderr, no traceback (no --debug given)."""
    err = run.stderr.strip()
    assert err, f"no message on stderr\n{run}"
    assert "Traceback" not in run.stderr, str(run)
    assert len(err.splitlines()) <= 3, f"error message longer than 3 lines\n{run}"


def have_ffprobe() -> bool:
    return shutil.which("ffprobe") is not None


def fit_in_box(w: int, h: int, sar: Fraction, box_long: int, box_short: int, rotation: int = 0):
    """Expected coded output size for a named target: the display frame (SAR applied), oriented
    like the stored frame, fits inside the box; aspect kept; dims even (nearest even)."""
    disp_w, disp_h = w * float(sar), float(h)
    box_w, box_h = (box_long, box_short) if disp_w >= disp_h else (box_short, box_long)
    fit = min(box_w / disp_w, box_h / disp_h)
    return disp_w * fit, disp_h * fit

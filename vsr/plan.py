"""All decisions made once, before any frame is decoded: sizes, model and scale, backend, encoder.

``make_plan`` imports torch only when a learned model is involved, so ``vsr probe`` and the
resamplers stay fast to start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from vsr.backends.availability import BACKEND_KINDS, FALLBACK, RESAMPLER
from vsr.backends.precision import PrecisionChoice, choose_precision, fit_precision
from vsr.backends.spec import BackendSpec, Frames, SourceFrames
from vsr.config import CODECS, MP4_FAMILY, MP4_SUBTITLES, TARGETS, UpscaleOptions
from vsr.errors import BackendError, OutputError, UsageError
from vsr.io.colour import output_tags
from vsr.io.damage import InputDamage, measure
from vsr.io.hdr import HDR_ENCODERS
from vsr.io.probe import StreamInfo, VideoInfo, probe
from vsr.io.reader import Section
from vsr.io.spec import EncoderSpec
from vsr.models.default_choice import DefaultModel, default_model
from vsr.models.resolver import resolve

if TYPE_CHECKING:
    from vsr.models.loaded import ModelFacts

_SIZE_RE = re.compile(r"^(\d+)\s*[x:]\s*(\d+)$")
_KEEP_EXTENSIONS = {".mp4", ".mkv", ".mov", ".m4v"}
_DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libsvtav1": 28, "h264_nvenc": 19, "hevc_nvenc": 21}
# Why the encoder is what it is (Plan.codec_basis) -> the words `vsr probe` shows.
CODEC_BASIS = {
    "option": "asked for with --codec",
    "hdr": "HDR input: HEVC Main 10 carries PQ/HLG and the HDR10 metadata, and TVs play it (--codec overrides)",
    "deep": "10-bit input: HEVC Main 10 keeps the bits and TVs play it; H.264 High 10 rarely plays (--codec overrides)",
    "sdr": "8-bit SDR input: H.264 plays everywhere (--codec overrides)",
}
# Why the backend is what it is (Plan.backend_basis; {backend}, {where}, {detail} filled in) -> words;
# a backend --backend auto takes is its own key (vsr.backends.availability.BACKEND_KINDS).
BACKEND_BASIS = {
    "resampler": f"non-learned resampler: {RESAMPLER.label}",
    "option": "asked for with --backend {backend}",
    **{k.name: k.auto_reason for k in BACKEND_KINDS.values() if k.auto_reason},
    "fallback": FALLBACK.label + " on {where} ({detail})",  # detail: why not the backends auto prefers
}


@dataclass(frozen=True)
class Plan:
    """What ``vsr upscale`` will do; printable by ``vsr probe``."""

    source: VideoInfo
    output: Path
    width: int  # output coded size (square pixels for --to, input SAR kept for --scale)
    height: int
    sar: Fraction
    target: str  # label used in the default file name
    model: str  # name or path as resolved
    model_source: str | None  # what vsr.models.loader.load_model gets; None for the resamplers
    model_scale: int  # native scale of the network (1 for resamplers: they resize in one step)
    backend: str  # a key of BACKEND_KINDS: swscale | torch | openvino | tensorrt
    device: str  # cpu | cuda | cuda:N
    precision: str  # fp32 | fp16 | bf16
    backend_basis: str  # key of BACKEND_BASIS: why this backend
    batch: int
    tile: int
    tile_overlap: int
    codec: str  # FFmpeg encoder name
    pix_fmt: str
    crf: int | None
    preset: str | None
    start: float | None
    duration: float | None
    overwrite: bool
    strict: bool
    arch: str | None = None  # architecture override for checkpoints (--arch)
    engine_dir: Path | None = None  # TensorRT engine cache (--engine-dir)
    deinterlace: str = "auto"
    copy_streams: tuple[int, ...] = ()  # audio/subtitle/... streams copied packet for packet
    notes: tuple[str, ...] = ()  # what the user should know before it runs (streams not kept, ...)
    codec_basis: str = "option"  # key of CODEC_BASIS: why this encoder
    backend_detail: str = ""  # the "fallback" basis: why not the backends auto prefers
    precision_reason: str = ""  # why this precision (vsr.backends.precision)
    skip_duplicates: bool = False  # repeated pictures reuse the previous output (learned models only)
    model_basis: str = ""  # why this model when --model was not given (vsr.models.default_choice); "" when it was
    model_loader: str = ""  # which loader took the model and why (vsr.models.loaded.ModelFacts.why)
    model_links: tuple[str, ...] = ()  # a chain's links in order, each "arch xS (loader)"
    warmup_frames: int = 0  # a temporal model's frames run, not written, before a segment's start (0: not temporal)
    lookahead_frames: int = 0  # frames a temporal model's backward pass waits for: run, not written, past a segment's end
    temporal_note: str = ""  # how a temporal model runs: order, look-ahead, state memory, cuts, segments

    @property
    def temporal(self) -> bool:
        """A recurrent model: frames in order, state carried across batches (``vsr.backends.recurrent``)."""
        return self.warmup_frames > 0

    @property
    def section(self) -> Section:
        """The part of the input the plan covers (--start/--duration)."""
        start = self.start or 0.0
        return Section(start, start + self.duration if self.duration else None)

    @property
    def expected_frames(self) -> int | None:
        """Frames the section should hold, from the container's count or duration (None: unknown)."""
        info = self.source
        if self.start is None and self.duration is None and info.frames:
            return info.frames
        if info.frame_rate and info.duration:
            start = self.start or 0.0
            span = min(self.duration or info.duration, max(0.0, info.duration - start))
            return int(round(span * float(info.frame_rate)))
        return None

    @property
    def is_resampler(self) -> bool:
        return self.model_source is None

    @property
    def native_size(self) -> tuple[int, int]:
        """What the network outputs (a resampler: the input size), before the residual resample."""
        return self.source.width * self.model_scale, self.source.height * self.model_scale

    @property
    def resample_direction(self) -> str | None:
        """How the network's output reaches (width, height): 'down', 'up', or None when it fits."""
        native = self.native_size
        if native == (self.width, self.height):
            return None
        return "down" if native[0] >= self.width and native[1] >= self.height else "up"

    # -- in words, for vsr probe, --json and the upscale banner ------------------------------------
    @property
    def codec_reason(self) -> str:
        return CODEC_BASIS[self.codec_basis]

    @property
    def resample(self) -> str:
        """'none', 'antialiased bicubic 3840x2160 -> 2880x2160 (down, on cpu)', or the resampler's resize."""
        size = f"{self.width}x{self.height}"
        (nw, nh), direction = self.native_size, self.resample_direction
        if self.is_resampler:
            return f"{self.model} {nw}x{nh} -> {size} (swscale)"
        if direction is None:
            return "none"
        return f"antialiased bicubic {nw}x{nh} -> {size} ({direction}, on {self.device})"

    @property
    def backend_reason(self) -> str:
        """Why this backend (BACKEND_BASIS), and why the network's output is enlarged when it is."""
        where = "CUDA" if self.device.startswith("cuda") else "CPU"
        text = BACKEND_BASIS[self.backend_basis].format(backend=self.backend, where=where, detail=self.backend_detail)
        if not self.is_resampler and self.model_scale < network_ratio(self.source.width, self.source.height,
                                                                      self.width, self.height) - 1e-9:
            needed = max(self.width / self.source.width, self.height / self.source.height)
            text += f"; largest available scale x{self.model_scale} < needed x{needed:.3g}"
        return text

    def backend_spec(self) -> BackendSpec:
        """What the backend needs of this plan (the backend never sees the plan itself)."""
        src = self.source
        return BackendSpec(
            backend=self.backend, model=self.model, model_source=self.model_source, arch=self.arch,
            device=self.device, precision=self.precision, batch=self.batch, tile=self.tile,
            tile_overlap=self.tile_overlap, engine_dir=self.engine_dir,
            frame_rate=float(src.frame_rate) if src.frame_rate and src.frame_rate > 0 else None,
            input=SourceFrames(src.width, src.height, src.pix_fmt, src.codec, src.colour),
            output=Frames(self.width, self.height, self.pix_fmt),
        )

    def encoder_spec(self) -> EncoderSpec:
        """What the writer, a job's segment files and the join need of this plan (they never see the plan)."""
        src = self.source
        return EncoderSpec(
            output=self.output, source=src.path, stream_index=src.stream_index, codec=self.codec,
            pix_fmt=self.pix_fmt, crf=self.crf, preset=self.preset, width=self.width, height=self.height,
            sar=self.sar, time_base=src.time_base,
            frame_rate=src.frame_rate if src.frame_rate and src.frame_rate > 0 else None,
            colour=output_tags(src.colour, src.height), hdr=src.hdr, rotation=src.rotation,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["source"] = {k: (str(v) if isinstance(v, (Path, Fraction)) else v) for k, v in asdict(self.source).items()}
        d["output"] = str(self.output)
        d["sar"] = str(self.sar)
        d["resample"], d["backend_reason"] = self.resample, self.backend_reason
        return d


def even(x: float) -> int:
    """Nearest even integer >= 2 (4:2:0 and most encoders need even dimensions)."""
    return max(2, int(round(x / 2.0)) * 2)


def output_size(info: VideoInfo, to: str | None, scale: float | None) -> tuple[int, int, Fraction, str]:
    """(width, height, output SAR, label) for ``--to`` or ``--scale``; (0, 0) means 'model scale'."""
    if to and scale:
        raise UsageError("give either --to or --scale, not both")
    if scale is not None:
        if scale <= 0:
            raise UsageError(f"--scale must be a positive number, got {scale:g}")
        return even(info.width * scale), even(info.height * scale), info.sar, f"x{scale:g}"
    if not to:
        return 0, 0, info.sar, ""
    key = to.strip().lower()
    disp_w, disp_h = info.display_width, float(info.height)
    if key in TARGETS:
        long_side, short_side = TARGETS[key]
        box_w, box_h = (long_side, short_side) if disp_w >= disp_h else (short_side, long_side)
        label = key
    elif m := _SIZE_RE.match(key):
        box_w, box_h = int(m.group(1)), int(m.group(2))
        if box_w <= 0 or box_h <= 0:
            raise UsageError(f"--to {to}: width and height must be positive")
        if info.rotated:  # the user gives the displayed orientation; frames are stored turned
            box_w, box_h = box_h, box_w
        label = f"{box_w}x{box_h}"
    else:
        raise UsageError(f"unknown target {to!r}: use one of {', '.join(TARGETS)} or WxH (e.g. 3840x2160)")
    fit = min(box_w / disp_w, box_h / disp_h)
    return even(disp_w * fit), even(disp_h * fit), Fraction(1), label


def network_ratio(in_w: int, in_h: int, out_w: int, out_h: int) -> float:
    """The enlargement a network must make for this output: the output's ratio to the input, less the at
    most one pixel per side that rounding to even sizes adds (``--scale 3`` on 213x120 makes 640x360, which
    a x3 network's 639x360 covers)."""
    return max((out_w - 1) / in_w, (out_h - 1) / in_h, 1.0)


def choose_scale(available: list[int], needed: float) -> int:
    """Smallest native scale >= the needed ratio, else the largest there is."""
    fitting = [s for s in sorted(available) if s >= needed - 1e-9]
    return fitting[0] if fitting else max(available)


def default_output(info: VideoInfo, label: str, codec: str) -> Path:
    ext = info.path.suffix.lower()
    if codec in ("prores_ks", "prores"):
        ext = ".mov"
    elif ext not in _KEEP_EXTENSIONS:
        ext = ".mkv"
    return info.path.with_name(f"{info.path.stem}.{label}{ext}")


def check_output(path: Path, source: Path, overwrite: bool) -> None:
    if path.resolve() == source.resolve():
        raise UsageError(f"output would overwrite the input: {path}; choose another -o")
    if path.exists() and not overwrite:
        raise UsageError(f"output exists: {path} (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output directory is not writable: {parent}")


def default_codec(info: VideoInfo) -> tuple[str, str]:
    """(codec, CODEC_BASIS key) when --codec is not given: HEVC for 10-bit or HDR input, else H.264."""
    if info.hdr.is_hdr:
        return "hevc", "hdr"
    if info.bit_depth > 8:
        return "hevc", "deep"
    return "h264", "sdr"


def encoder_settings(opts: UpscaleOptions, info: VideoInfo) -> tuple[str, str, str]:
    """(encoder name, pixel format, CODEC_BASIS key): 10-bit or HDR input gets 10 bits where the
    encoder can."""
    import av

    name, basis = (opts.codec, "option") if opts.codec else default_codec(info)
    codec = CODECS.get(name.lower(), name)
    try:
        enc = av.codec.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError) as exc:
        raise UsageError(f"unknown encoder {opts.codec!r}: use h264, hevc, av1, prores, ffv1 or an FFmpeg encoder name") from exc
    if enc.type != "video":
        raise UsageError(f"{opts.codec!r} is not a video encoder")
    supported = [f.name for f in (enc.video_formats or [])]
    if opts.pix_fmt:
        if supported and opts.pix_fmt not in supported:
            raise UsageError(f"--pix-fmt {opts.pix_fmt} is not supported by {codec}: use one of {', '.join(supported)}")
        return codec, opts.pix_fmt, basis
    deep = info.bit_depth > 8 or info.hdr.is_hdr
    if codec.startswith("prores"):
        wanted = ["yuv422p10le"]
    else:
        wanted = ["yuv420p10le", "p010le"] if deep else ["yuv420p", "nv12"]
        wanted += ["yuv422p10le", "yuv444p10le"] if deep else ["yuv422p", "yuv444p"]
    for fmt in wanted:
        if not supported or fmt in supported:
            return codec, fmt, basis
    return codec, supported[0], basis


def hdr_notes(info: VideoInfo, codec: str) -> tuple[str, ...]:
    """What of the input's HDR signalling the output cannot keep, one line each."""
    hdr, notes = info.hdr, []
    if (hdr.mastering or hdr.light) and codec not in HDR_ENCODERS:
        notes.append(f"HDR10 mastering display / MaxCLL metadata are written only by libx265 (--codec hevc) and libsvtav1 (av1): "
                     f"the {codec} output keeps the colour tags but not this metadata")
    if warning := hdr.dynamic_warning():
        notes.append(warning)
    return tuple(notes)


def _default_model(opts: UpscaleOptions, info: VideoInfo, needed: float | None) -> DefaultModel:
    """The model for input ``--model`` does not name: by how damaged a sample of the section's frames is, and
    the default family's member for the job (its x2 for a job with no target size, as ``_model_choice``)."""
    scales = sorted(resolve(None).scales)
    scale = choose_scale(scales, needed) if needed else scales[0]
    damage = InputDamage(None, None)
    if info.path.is_file():
        start = opts.start or 0.0
        end = start + opts.duration if opts.duration else info.duration
        damage = measure(info.path, info.stream_index, start, end)
    return default_model(damage, info.codec, scale)


def _model_choice(opts: UpscaleOptions, needed: float | None) -> tuple[str, str | None, int, list[int]]:
    """(model name, load source, native scale, available scales)."""
    resolved = resolve(opts.model, arch=opts.arch)
    if resolved.is_resampler:
        return resolved.name, None, 1, []
    scale = choose_scale(list(resolved.scales), needed) if needed else min(resolved.scales)
    return resolved.name, resolved.scales[scale], scale, sorted(resolved.scales)


def _model_facts(opts: UpscaleOptions, model: str, source: str, scale: int) -> tuple[ModelFacts, int, tuple[str, ...]]:
    """(the model's facts, the tile overlap, notes): a chain widens the overlap so that every link gets
    ``--tile-overlap`` pixels of its own input; tiling advice against the model is a note."""
    from vsr.models.chain import chain_overlap
    from vsr.models.loader import describe

    facts = describe(source, arch=opts.arch)
    overlap = chain_overlap(opts.tile_overlap, [f.scale for f in facts.links]) if facts.links else opts.tile_overlap
    if opts.tile and overlap * 2 >= opts.tile:
        raise UsageError(f"--tile {opts.tile} is too small for the chain {model}: its tile overlap is {overlap} "
                         f"(--tile-overlap {opts.tile_overlap} for each of its {len(facts.links)} links); use --tile {overlap * 2 + 64} or more")
    notes = ()
    if opts.tile and facts.tiling != "supported":
        notes = (f"{facts.arch} {'tiles internally' if facts.tiling == 'internal' else 'relies on the whole picture'}: "
                 f"--tile may show seams; leave it out where memory allows",)
    return facts, overlap, notes


def _onnx_links(facts: ModelFacts) -> bool:
    return any(f.loader == "onnxruntime" for f in (facts, *facts.links))


def choose_backend(opts: UpscaleOptions) -> tuple[str, str, PrecisionChoice, str, str]:
    """(backend, device, precision and why, BACKEND_BASIS key, its detail) for a learned model."""
    import torch

    requested_cuda = opts.device.startswith("cuda")
    has_cuda = torch.cuda.is_available()
    if requested_cuda and not has_cuda:
        raise BackendError(f"--device {opts.device} asked for, but PyTorch sees no CUDA GPU: use --device cpu")
    if requested_cuda and ":" in opts.device:
        index = int(opts.device.split(":", 1)[1])
        if index >= torch.cuda.device_count():
            raise BackendError(f"--device {opts.device}: only {torch.cuda.device_count()} CUDA device(s) present")
    asked = BACKEND_KINDS.get(opts.backend)  # None: auto
    on_cuda = has_cuda and (asked is None or "cuda" in asked.devices)
    device = opts.device if opts.device != "auto" else ("cuda" if on_cuda else "cpu")
    if asked is not None:
        if problem := asked.problem(device):
            raise BackendError(problem)
        backend, basis, detail = asked.name, "option", ""
    else:  # the first backend auto prefers that can run here, else the fallback with why the first could not
        backend, basis, detail = FALLBACK.name, "fallback", ""
        for kind in (k for k in BACKEND_KINDS.values() if k.auto_reason):
            if (problem := kind.problem(device)) is None:
                backend, basis, detail = kind.name, kind.name, ""
                break
            detail = detail or problem.split(":")[0].lower()
    return backend, device, choose_precision(opts.precision, device), basis, detail


def resolve_precision(requested: str, device: str) -> str:
    """The precision a learned model runs in on ``device`` (``auto`` resolved); used by upscale and eval."""
    return choose_precision(requested, device).precision


# Frames a segment of a long job decodes and runs before its start, so that a temporal model's state at
# the join is the one a single pass has there (measured: docs/quality.md, "Temporal models").
TEMPORAL_WARMUP_FRAMES = 30


def temporal_note(source: str, arch: str | None, width: int, height: int, tile: int) -> tuple[int, int, str]:
    """(warm-up frames, look-ahead frames, how it runs) for a temporal model; (0, 0, "") for a single-image one.

    A model with a fusion stage also runs the backward pass (``vsr.models.backward_fusion``): frames wait
    for up to ``BLOCK_FRAMES + OVERLAP_FRAMES`` frames after them, and a segment decodes and runs as many
    frames past its end, unwritten."""
    from vsr.models.backward_fusion import BLOCK_FRAMES, OVERLAP_FRAMES
    from vsr.models.loader import inspect, load_model

    kind, scale = inspect(source, arch=arch)
    if kind != "temporal":
        return 0, 0, ""
    side_h, side_w = (min(tile, height), min(tile, width)) if tile else (height, width)
    tiles = (-(-height // side_h)) * (-(-width // side_w)) if tile else 1
    state_mb = 3 * scale**2 * 2 * side_h * side_w * tiles / 1e6  # the previous RGB output at 16 bits, per tile
    order = f"frames run in order with a state carried from frame to frame (about {state_mb:.0f} MB at 16 bits)"
    lookahead = 0
    if getattr(load_model(source, arch=arch).module, "fusion", None) is not None:
        lookahead = BLOCK_FRAMES + OVERLAP_FRAMES
        held_mb = lookahead * 3 * scale**2 * 2 * height * width / 1e6  # forward outputs at 16 bits
        order += (f", then backwards in blocks of {BLOCK_FRAMES} frames: a frame waits for up to {lookahead} "
                  f"frames after it (about {held_mb:.0f} MB held)")
    else:
        order += ", no look-ahead"
    joins = f"the {TEMPORAL_WARMUP_FRAMES} frames before it" + (f" and the {lookahead} after it" if lookahead else "")
    return TEMPORAL_WARMUP_FRAMES, lookahead, (
        f"{order}; restarted at each scene cut; each segment of a long job also runs {joins}, unwritten")


def make_plan(opts: UpscaleOptions, info: VideoInfo | None = None, *, check_paths: bool = True) -> Plan:
    """Probe the input (unless given) and decide everything; raises VsrError on any mistake."""
    info = info or probe(opts.input)
    if opts.batch is not None and opts.batch < 1:
        raise UsageError("--batch must be at least 1")
    if opts.tile < 0 or opts.tile_overlap < 0:
        raise UsageError("--tile and --tile-overlap must not be negative")
    if opts.tile and opts.tile_overlap * 2 >= opts.tile:
        raise UsageError(f"--tile-overlap {opts.tile_overlap} is too large for --tile {opts.tile}: use at most {opts.tile // 2 - 1}")
    if opts.start is not None and opts.start < 0 or opts.duration is not None and opts.duration <= 0:
        raise UsageError("--start must be >= 0 and --duration > 0")

    width, height, sar, label = output_size(info, opts.to, opts.scale)
    needed = max(width / info.width, height / info.height) if width else None
    if needed is not None and needed <= 1.0 + 1e-9:
        raise UsageError(
            f"output {width}x{height} is not larger than the input {info.width}x{info.height}: vsr only upscales"
        )
    network_needs = network_ratio(info.width, info.height, width, height) if width else None
    default = None if opts.model else _default_model(opts, info, network_needs)
    if default:
        opts = replace(opts, model=default.name)
    model, source, model_scale, _ = _model_choice(opts, network_needs)
    if source is None and not width:
        raise UsageError(f"{model} has no native scale: give --to (e.g. 4k) or --scale (e.g. 2)")
    if not width:
        width, height, sar, label = even(info.width * model_scale), even(info.height * model_scale), info.sar, f"x{model_scale}"

    if source is None:
        backend, device, basis, detail = RESAMPLER.name, "cpu", "resampler", ""
        precision = PrecisionChoice("fp32", "resampler: swscale's own arithmetic")
        model_facts, tile_overlap, model_notes = None, opts.tile_overlap, ()
        if opts.backend in BACKEND_KINDS and BACKEND_KINDS[opts.backend].networks_only:
            raise UsageError(f"{model} is a resampler and runs in {RESAMPLER.label}; --backend {opts.backend} needs a network model")
    else:
        backend, device, precision, basis, detail = choose_backend(opts)
        model_facts, tile_overlap, model_notes = _model_facts(opts, model, source, model_scale)
        precision = fit_precision(precision, model_facts.precisions, opts.precision, device, model)
        if BACKEND_KINDS[backend].onnx is None and _onnx_links(model_facts):
            if basis == "option":
                raise UsageError(f"--backend {backend} cannot run the ONNX graph in {model} yet: "
                                 f"use --backend {FALLBACK.name} ({FALLBACK.onnx} runs it)")
            backend, basis, detail = FALLBACK.name, "fallback", f"ONNX graphs run in {FALLBACK.onnx}"
    codec, pix_fmt, codec_basis = encoder_settings(opts, info)
    output = Path(opts.output) if opts.output else default_output(info, label, codec)
    if check_paths:
        check_output(output, info.path, opts.overwrite)
    batch = opts.batch or (1 if device == "cpu" else 4)
    copy, notes = copyable_streams(info.streams, info.stream_index, output)
    warmup, lookahead, how_temporal = (temporal_note(source, opts.arch, info.width, info.height, opts.tile)
                                       if source else (0, 0, ""))
    return Plan(
        source=info,
        output=output,
        width=width,
        height=height,
        sar=sar,
        target=label,
        model=model,
        model_source=source,
        model_scale=model_scale,
        backend=backend,
        device=device,
        precision=precision.precision,
        precision_reason=precision.reason,
        skip_duplicates=opts.skip_duplicates and source is not None,
        backend_basis=basis,
        backend_detail=detail,
        batch=batch,
        tile=opts.tile,
        tile_overlap=tile_overlap,
        codec=codec,
        pix_fmt=pix_fmt,
        crf=opts.crf if opts.crf is not None else _DEFAULT_CRF.get(codec),
        preset=opts.preset,
        start=opts.start,
        duration=opts.duration,
        overwrite=opts.overwrite,
        strict=opts.strict,
        arch=opts.arch,
        engine_dir=opts.engine_dir,
        deinterlace=opts.deinterlace,
        copy_streams=copy,
        notes=notes + hdr_notes(info, codec) + model_notes,
        codec_basis=codec_basis,
        warmup_frames=warmup,
        lookahead_frames=lookahead,
        temporal_note=how_temporal,
        model_basis=default.reason if default else "",
        model_loader=model_facts.why if model_facts else "",
        model_links=tuple(f"{f.arch} x{f.scale} ({f.loader})" for f in model_facts.links) if model_facts else (),
    )


def copyable_streams(streams: Iterable[StreamInfo], video_index: int, output: Path) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Indices of the streams to copy into ``output`` and notes about the ones that cannot go."""
    keep, warnings = [], []
    mp4 = output.suffix.lower() in MP4_FAMILY
    for s in streams:
        if s.index == video_index:
            continue
        codec = s.codec
        if s.kind == "video":
            warnings.append(f"stream #{s.index} (second video, {codec}) is not copied")
        elif s.kind == "subtitle" and mp4 and codec not in MP4_SUBTITLES:
            warnings.append(f"subtitle stream #{s.index} ({codec}) cannot be stored in {output.suffix}: write .mkv to keep it")
        elif s.kind in ("data", "attachment") and mp4:
            continue
        elif s.kind in ("audio", "subtitle", "data", "attachment"):
            keep.append(s.index)
    return tuple(keep), tuple(warnings)

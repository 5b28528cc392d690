"""``vsr bench``: how fast ``vsr upscale`` runs, and where the time goes.

The run is ``vsr upscale`` itself: the plan ``make_plan`` makes for the options, the backend
``vsr.backends.factory`` creates for it, and ``vsr.pipeline.run`` (decode thread -> batches ->
backend -> encode thread, a real encoder and muxer writing a temporary file) with that backend
passed in already open and warmed up. Three numbers come out of it:

1. **End to end**: frames per second of that run, and each pipeline stage's busy time per frame
   (decode, compute, encode: the work of its own thread, not its waits; they overlap).
2. **Device stages** (GPU backends only): pack (decoded planes into pinned host memory) -> upload
   -> infer (colour conversion, model, resample, quantisation on the device) -> download -> unpack,
   run one after the other and synchronised, so the numbers add up.
3. **Model only**: ``backend.infer`` on a resident full batch (on a GPU, on the scheduler's compute
   stream as in a real run: TensorRT on the legacy default stream synchronises after every enqueue),
   which gives the model-only frame rate and the achieved TFLOP/s.

Nothing is timed before every batch shape the run will see (the full batch and a short last one)
has been through the backend ``warmup_runs`` times: kernel selection, the allocator, torch.compile
and, with CUDA graphs, their recording all happen then. GPU memory is sampled while the backend is
open, so it includes the TensorRT engine and context.

Without an input file, ``--resolution`` synthetic frames are encoded to H.264 first (not timed)
so that decoding is measured on a real bitstream. Works on the CPU too (tiny models in tests).
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.config import TARGETS
from vsr.errors import UsageError

if TYPE_CHECKING:
    import av

    from vsr.models.loaded import LoadedModel
    from vsr.plan import Plan

DEVICE_STAGES = ("pack", "upload", "infer", "download", "unpack")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that use CUDA graphs


@dataclass(frozen=True)
class BenchOptions:
    input: Path | None = None
    model: str | None = None
    resolution: str = "1080p"  # without an input: 720p, 1080p, ... or WxH
    frames: int = 32
    batch: int | None = None
    backend: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    encode: bool = True
    codec: str = "h264"
    preset: str | None = None
    encoder_threads: int = 0  # 0: the encoder's automatic choice (all cores)
    engine_dir: Path | None = None


@dataclass
class BenchResult:
    machine: dict
    setup: dict
    stages_ms_per_frame: dict  # pipeline stage -> busy milliseconds per frame (vsr.pipeline.STAGES)
    device_stages_ms_per_frame: dict  # GPU backends: DEVICE_STAGES, serial and synchronised
    model_fps: float
    end_to_end_fps: float
    serial_fps: float  # 1000 / sum of the pipeline stage times: what no overlap at all would give
    flops_per_frame: float
    achieved_tflops: float
    gpu_memory: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        s = self.setup
        lines = [
            f"{s['model']} x{s['scale']} {s['input_size']} -> {s['output_size']}, {s['backend']} on {s['device']} "
            f"{s['precision']}, batch {s['batch']}, {s['frames']} frames (last batch {s['last_batch_frames']}; "
            f"each batch shape warmed up {s['warmup_runs_per_shape']}x before timing)",
            "stage       ms/frame (busy time of each pipeline stage, in its own thread)",
        ]
        for name, ms in self.stages_ms_per_frame.items():
            lines.append(f"  {name:<9} {ms:9.2f}")
        if self.device_stages_ms_per_frame:
            lines.append("device steps, serial and synchronised:")
            for name, ms in self.device_stages_ms_per_frame.items():
                lines.append(f"  {name:<9} {ms:9.2f}")
        lines += [
            f"model only  {self.model_fps:8.2f} fps  ({self.flops_per_frame / 1e12:.3f} TFLOP/frame, {self.achieved_tflops:.2f} TFLOP/s)",
            f"end to end  {self.end_to_end_fps:8.2f} fps  (vsr upscale's pipeline; serial sum of its stages: {self.serial_fps:.2f} fps)",
        ]
        if self.gpu_memory:
            lines.append(f"GPU memory  {self.gpu_memory.get('peak_allocated_gib', 0):.2f} GiB peak allocated by torch, "
                         f"{self.gpu_memory.get('device_used_peak_gib', 0):.2f} GiB peak in use on the device while running")
        m = self.machine
        lines.append(f"machine     {m.get('gpu') or m.get('cpu')}; torch {m.get('torch')}, TensorRT {m.get('tensorrt') or '-'}, "
                     f"encoder threads {s.get('encoder_threads')}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------- FLOPs


def conv_flops(model: LoadedModel, height: int, width: int, probe: int = 64) -> float:
    """FLOPs of the model's convolutions for one ``height`` x ``width`` frame.

    Each conv costs 2 * (Cin / groups) * Cout * kh * kw per output pixel; counted with forward hooks
    on a ``probe``-sized input and scaled by the pixel ratio (conv work is proportional to pixels).
    """
    import torch
    from torch import nn

    from vsr.models.temporal import shot_start_args

    total = [0.0]

    def hook(mod: nn.Module, inp: Any, out: torch.Tensor) -> None:
        kh, kw = mod.kernel_size
        per_pixel = 2.0 * (mod.in_channels / mod.groups) * mod.out_channels * kh * kw
        total[0] += per_pixel * out.shape[-2] * out.shape[-1]

    net = model.module
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        multiple = model.size_multiple
        side = max(multiple, probe - probe % multiple)
        param = next(net.parameters(), None)
        dev = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        x = torch.zeros(1, model.in_channels, side, side, device=dev, dtype=dtype)
        with torch.inference_mode():
            net(*shot_start_args(net, x))
    finally:
        for h in handles:
            h.remove()
    return total[0] * (height * width) / (side * side)


# ------------------------------------------------------------------------------------- warm-up, memory


def warmup_runs(backend: Any) -> int:
    """How often each batch shape goes through the backend before anything is timed.

    One run selects kernels and fills the allocator (and compiles, with torch.compile's default
    mode). With CUDA graphs (``reduce-overhead``, ``max-autotune``) the first call of a shape
    compiles and runs eagerly as a warm-up, the second records the graph, the third replays it
    (``torch/_inductor/cudagraph_trees.py``), so two runs come first.
    """
    return 2 if getattr(backend, "compile_mode", None) in CUDA_GRAPH_MODES else 1


class GpuMemory:
    """Peak GPU memory while the backend is open: torch's peak counters (buffers, activations of the
    PyTorch backend) and the highest device-wide use seen by ``sample()`` (``cudaMemGetInfo``: that
    includes TensorRT's engine, context and activations, which are not torch allocations, and
    anything else running on the GPU)."""

    def __init__(self, device: Any) -> None:
        import torch

        self.torch, self.device, self.used_peak = torch, device, 0
        if device is not None:
            torch.cuda.reset_peak_memory_stats(device)

    def sample(self) -> None:
        if self.device is not None:
            free, total = self.torch.cuda.mem_get_info(self.device)
            self.used_peak = max(self.used_peak, total - free)

    def report(self) -> dict:
        if self.device is None:
            return {}
        cuda = self.torch.cuda
        return {"peak_allocated_gib": cuda.max_memory_allocated(self.device) / 2**30,
                "peak_reserved_gib": cuda.max_memory_reserved(self.device) / 2**30,
                "device_used_peak_gib": self.used_peak / 2**30}


# ------------------------------------------------------------------------------------- machine


def machine_description(device: str) -> dict:
    import av
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    d: dict = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "pyav": av.__version__,
        "ffmpeg": ".".join(str(v) for v in av.library_versions.get("libavcodec", ())),
    }
    try:
        d["tensorrt"] = importlib.metadata.version("tensorrt")
    except importlib.metadata.PackageNotFoundError:
        d["tensorrt"] = None
    if device.startswith("cuda") and torch.cuda.is_available():
        idx = torch.device(device).index
        idx = torch.cuda.current_device() if idx is None else idx
        props = torch.cuda.get_device_properties(idx)
        d.update(gpu=props.name, compute_capability=f"{props.major}.{props.minor}",
                 gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return d


# ------------------------------------------------------------------------------------- frames


def _size(resolution: str) -> tuple[int, int]:
    key = resolution.strip().lower()
    if key in TARGETS:
        return TARGETS[key]
    m = re.match(r"^(\d+)\s*[x:]\s*(\d+)$", key)
    if not m or int(m.group(1)) < 2 or int(m.group(2)) < 2:
        raise UsageError(f"--resolution {resolution!r}: use 720p, 1080p, 4k or WxH (e.g. 1920x1080)")
    return int(m.group(1)) // 2 * 2, int(m.group(2)) // 2 * 2


def synthetic_clip(width: int, height: int, frames: int) -> bytes:
    """An H.264 clip of moving smooth content, in memory (so decode is timed on a real bitstream)."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        for i in range(frames):
            y = 128 + 80 * np.sin(2 * np.pi * (xx / 97.0 + yy / 71.0) + 0.3 * i)
            u = np.full((height // 2, width // 2), 120, np.uint8)
            v = np.full((height // 2, width // 2), 136, np.uint8)
            planes = np.concatenate([y.astype(np.uint8), np.concatenate([u, v], 0).reshape(height // 2, width)], 0)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


# ------------------------------------------------------------------------------------- the run


class _Discard:
    """The writer of ``--no-encode``: takes frames and packets and drops them."""

    def __enter__(self) -> _Discard:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def write(self, frame: av.VideoFrame) -> None:
        pass

    def copy(self, packet: av.Packet) -> None:
        pass

    def commit(self) -> None:
        pass


def bench_plan(opts: BenchOptions, path: Path, output: Path) -> Plan:
    """The plan ``vsr upscale`` makes for this input and these options, with every frame computed
    (no duplicate skipping) and an input file cut to ``opts.frames``."""
    from vsr.config import UpscaleOptions
    from vsr.io.probe import probe
    from vsr.models.registry import DEFAULT_MODEL
    from vsr.plan import make_plan

    info = probe(path)
    duration = None
    if opts.input is not None and info.frame_rate:
        duration = (opts.frames - 0.5) / float(info.frame_rate)  # between the last frame kept and the next
    uo = UpscaleOptions(  # the registry's default, not the pick by the input's damage: benchmarks stay comparable
        input=path, output=output, model=opts.model or DEFAULT_MODEL, backend=opts.backend, device=opts.device,
        precision=opts.precision, batch=opts.batch, codec=opts.codec, preset=opts.preset, overwrite=True,
        engine_dir=opts.engine_dir, duration=duration, skip_duplicates=False,
    )
    return make_plan(uo, info)


def _first_frames(plan: Plan, n: int) -> list[av.VideoFrame]:
    """The first ``n`` frames of the plan's section, decoded as the pipeline's reader does."""
    from vsr.io.reader import VideoReader

    frames: list[av.VideoFrame] = []
    with VideoReader(plan.source, plan.section) as reader:
        for frame in reader.frames():
            frames.append(frame)
            if len(frames) == n:
                break
    return frames


def run_bench(opts: BenchOptions, progress: Callable[[str], None] | None = None) -> BenchResult:
    """Warm the backend ``vsr upscale`` would use, then time ``vsr.pipeline.run`` with it, the serial
    device stages (GPU backends) and the model alone."""
    import tempfile

    import torch

    from vsr import pipeline
    from vsr.backends.cuda_backend import DeviceBackend
    from vsr.backends.factory import create_backend
    from vsr.io.writer import VideoWriter
    from vsr.models.loader import load_model
    from vsr.models.resolver import resolve

    say = progress or (lambda _msg: None)
    if opts.frames < 1:
        raise UsageError("--frames must be at least 1")
    resolved = resolve(opts.model)
    if resolved.is_resampler:
        raise UsageError(f"vsr bench measures network models and {resolved.name} is a resampler: give --model (see `vsr models`)")
    with tempfile.TemporaryDirectory(prefix="vsr-bench-") as tmp:
        if opts.input is not None:
            path = Path(opts.input)
        else:
            w, h = _size(opts.resolution)
            say(f"encoding {opts.frames} synthetic {w}x{h} frames (not timed)")
            path = Path(tmp) / "synthetic.mkv"
            path.write_bytes(synthetic_clip(w, h, opts.frames))
        plan = bench_plan(opts, path, Path(tmp) / "bench-output.mkv")
        on_device = plan.device.startswith("cuda")
        cuda_dev = torch.device(plan.device) if on_device else None
        if cuda_dev is not None and cuda_dev.index is None:
            cuda_dev = torch.device("cuda", torch.cuda.current_device())
        memory = GpuMemory(cuda_dev)

        def sync() -> None:
            if cuda_dev is not None:
                torch.cuda.synchronize(cuda_dev)

        backend = create_backend(plan)
        with backend:
            expected = min(opts.frames, plan.source.frames or opts.frames)
            first = _first_frames(plan, plan.batch)
            if not first:
                raise UsageError(f"no frames decoded from {opts.input or 'the synthetic clip'}")
            # -- warm-up, not timed: every batch shape the timed runs will see (full, and a short last one)
            say("warming up")
            runs = warmup_runs(backend)
            last = expected % plan.batch
            for batch in [first] + ([first[:last]] if last else []):
                for _ in backend.run([batch] * runs):
                    pass
            sync()
            memory.sample()

            say("timing end to end")
            writer = VideoWriter(plan.encoder_spec(), plan.copy_streams, encoder_threads=opts.encoder_threads) if opts.encode else _Discard()
            result = pipeline.run(plan, writer=writer, backend=backend)
            sync()
            memory.sample()
            n = result.frames
            batches = -(-n // plan.batch)
            device_stages = {}
            if isinstance(backend, DeviceBackend):
                say("timing device stages")
                device_stages = _device_stages(backend, _first_frames(plan, n), plan.batch, sync)
                memory.sample()
            say("timing the model")
            model_fps = _model_fps(backend, runs, batches, sync, on_scheduler=isinstance(backend, DeviceBackend))
            memory.sample()
            gpu_memory = memory.report()  # before close() frees the engine, context and buffers
            slots = backend.slots if isinstance(backend, DeviceBackend) else None

    stages = {k: 1000.0 * v / n for k, v in result.stage_seconds.items() if opts.encode or k != "encode"}
    flops = conv_flops(load_model(plan.model_source, arch=plan.arch), plan.source.height, plan.source.width)
    setup = {
        "input": str(opts.input) if opts.input else f"synthetic {opts.resolution}",
        "input_size": f"{plan.source.width}x{plan.source.height}",
        "output_size": f"{plan.width}x{plan.height}",
        "model": plan.model, "scale": plan.model_scale, "backend": plan.backend, "device": plan.device,
        "precision": plan.precision, "batch": plan.batch, "frames": n, "slots": slots,
        "codec": plan.codec if opts.encode else None, "pix_fmt": plan.pix_fmt,
        "encoder_threads": (opts.encoder_threads or os.cpu_count()) if opts.encode else None,
        "backend_class": type(backend).__name__,
        "warmup_runs_per_shape": runs, "last_batch_frames": n - (batches - 1) * plan.batch,
    }
    return BenchResult(
        machine=machine_description(plan.device),
        setup=setup,
        stages_ms_per_frame=stages,
        device_stages_ms_per_frame=device_stages,
        model_fps=model_fps,
        end_to_end_fps=n / result.seconds,
        serial_fps=1000.0 / max(sum(stages.values()), 1e-9),
        flops_per_frame=flops,
        achieved_tflops=flops * model_fps / 1e12,
        gpu_memory=gpu_memory,
    )


def _device_stages(backend: Any, frames: list[av.VideoFrame], batch: int, sync: Callable[[], None]) -> dict[str, float]:
    """Milliseconds per frame of each step a GPU backend overlaps, run one after the other and
    synchronised so that they add up."""
    sched = backend.scheduler
    dev, slot, st = backend.device, sched.slots[0], backend.stages
    times = dict.fromkeys(DEVICE_STAGES, 0.0)

    def timed(stage: str, work: Callable[[], Any], *, synced: bool = True) -> Any:
        t = time.perf_counter()
        result = work()
        if synced:
            sync()
        times[stage] += time.perf_counter() - t
        return result

    for i in range(0, len(frames), batch):
        chunk = frames[i:i + batch]
        n = len(chunk)
        timed("pack", lambda: st.pack(chunk, slot.host_in[:n]), synced=False)
        timed("upload", lambda: dev.copy(slot.dev_in[:n], slot.host_in[:n], sched.upload_stream))
        timed("infer", lambda: dev.launch(sched.compute_stream, st.compute, slot.dev_in[:n], slot.dev_out[:n]))
        timed("download", lambda: dev.copy(slot.host_out[:n], slot.dev_out[:n], sched.download_stream))
        timed("unpack", lambda: st.unpack(chunk, slot.host_out[:n]), synced=False)
    return {k: 1000.0 * v / len(frames) for k, v in times.items()}


def _model_fps(backend: Any, runs: int, batches: int, sync: Callable[[], None], *, on_scheduler: bool) -> float:
    """Frames per second of ``backend.infer`` alone on a resident full batch (on a GPU backend, on
    its scheduler's compute stream, as in a real run)."""
    import torch

    spec = backend.spec
    x = torch.rand(spec.batch, 3, spec.input.height, spec.input.width, device=spec.device)
    sync()  # x was made on the default stream
    if on_scheduler:
        def model_pass() -> None:
            backend.device.launch(backend.scheduler.compute_stream, backend.infer, x)
    else:
        def model_pass() -> None:
            backend.infer(x)

    with torch.inference_mode():
        for _ in range(runs):
            model_pass()
        sync()
        t = time.perf_counter()
        for _ in range(batches):
            model_pass()
        sync()
    return batches * spec.batch / (time.perf_counter() - t)

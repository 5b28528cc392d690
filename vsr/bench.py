"""``vsr bench``: where the time goes, stage by stage, and how fast the whole chain runs.

Two measurements over the same frames:

1. **Stages** (serial, each one synchronised, so the numbers add up): decode (PyAV) -> pack (decoded
   planes into pinned host memory) -> upload (host -> device) -> infer (colour conversion, model,
   resample, quantisation on the device) -> download (device -> host) -> unpack (planes into frames)
   -> encode (PyAV, x264/x265 with threads). Times are per frame. ``model`` is the network alone on a
   device-resident batch, on the scheduler's compute stream as in a real run (TensorRT on the legacy
   default stream synchronises after every enqueue), which gives the model-only frame rate and the
   achieved TFLOP/s.
2. **End to end**: decode thread -> the backend ``vsr upscale`` would use (on a GPU: with its
   double-buffered scheduler) -> encode thread; frames per second of the whole chain.

The stages are timed with the device backends' own pack/compute/unpack steps; on a CPU those run
the device code on the CPU, while the end-to-end figure uses the CPU backend (swscale conversions).

Nothing is timed before every batch shape the run will see (the full batch and a short last one)
has been through the backend ``warmup_runs`` times: kernel selection, the allocator, torch.compile
and, with CUDA graphs, their recording all happen then. GPU memory is sampled while the backend is
open (after each batch and phase), so it includes the TensorRT engine and context.

Without an input file, ``--resolution`` synthetic frames are encoded to H.264 in memory first (not
timed) so that decoding is measured on a real bitstream. Works on the CPU too (tiny models in tests).
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import platform
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.config import TARGETS
from vsr.errors import UsageError

if TYPE_CHECKING:
    import av
    from torch import nn

    from vsr.plan import Plan

STAGES = ("decode", "pack", "upload", "infer", "download", "unpack", "encode")
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
    stages_ms_per_frame: dict  # stage -> milliseconds per frame (serial, synchronised)
    model_fps: float
    end_to_end_fps: float
    serial_fps: float  # 1000 / sum of the stage times: what no overlap at all would give
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
            "stage       ms/frame",
        ]
        for name, ms in self.stages_ms_per_frame.items():
            lines.append(f"  {name:<9} {ms:9.2f}")
        lines += [
            f"model only  {self.model_fps:8.2f} fps  ({self.flops_per_frame / 1e12:.3f} TFLOP/frame, {self.achieved_tflops:.2f} TFLOP/s)",
            f"end to end  {self.end_to_end_fps:8.2f} fps  (serial sum of stages: {self.serial_fps:.2f} fps)",
        ]
        if self.gpu_memory:
            lines.append(f"GPU memory  {self.gpu_memory.get('peak_allocated_gib', 0):.2f} GiB peak allocated by torch, "
                         f"{self.gpu_memory.get('device_used_peak_gib', 0):.2f} GiB peak in use on the device while running")
        m = self.machine
        lines.append(f"machine     {m.get('gpu') or m.get('cpu')}; torch {m.get('torch')}, TensorRT {m.get('tensorrt') or '-'}, "
                     f"encoder threads {s.get('encoder_threads')}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------- FLOPs


def conv_flops(model: nn.Module, height: int, width: int, channels: int = 3, probe: int = 64) -> float:
    """FLOPs of the model's convolutions for one ``height`` x ``width`` frame.

    Each conv costs 2 * (Cin / groups) * Cout * kh * kw per output pixel; counted with forward hooks
    on a ``probe``-sized input and scaled by the pixel ratio (conv work is proportional to pixels).
    """
    import torch
    from torch import nn

    total = [0.0]

    def hook(mod: nn.Module, inp: Any, out: torch.Tensor) -> None:
        kh, kw = mod.kernel_size
        per_pixel = 2.0 * (mod.in_channels / mod.groups) * mod.out_channels * kh * kw
        total[0] += per_pixel * out.shape[-2] * out.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        multiple = int(getattr(model, "size_multiple", 1))
        side = max(multiple, probe - probe % multiple)
        param = next(model.parameters(), None)
        dev = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        with torch.inference_mode():
            model(torch.zeros(1, channels, side, side, device=dev, dtype=dtype))
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


def _open_source(source: Path | bytes) -> av.container.InputContainer:
    import av

    container = av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    container.streams.video[0].thread_type = "AUTO"
    return container


def _decode(source: Path | bytes, limit: int) -> Iterator[av.VideoFrame]:
    with _open_source(source) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= limit:
                break
            yield frame


def _batches(frames: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for f in frames:
        batch.append(f)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Encoder:
    """An encoder writing into memory, with the threads asked for."""

    def __init__(self, plan: Plan, threads: int, rate: Fraction) -> None:
        import av

        self.container = av.open(io.BytesIO(), "w", format="matroska")
        options = {}
        if plan.crf is not None and plan.codec in ("libx264", "libx265"):
            options["crf"] = str(plan.crf)
        if plan.preset:
            options["preset"] = plan.preset
        if threads and plan.codec == "libx265":
            options["x265-params"] = f"pools={threads}"
        self.stream = self.container.add_stream(plan.codec, rate=rate, options=options)
        self.stream.width, self.stream.height, self.stream.pix_fmt = plan.width, plan.height, plan.pix_fmt
        cc = self.stream.codec_context
        cc.thread_count = threads
        cc.thread_type = "AUTO"
        self.threads = threads or (os.cpu_count() or 1)
        self.time_base = Fraction(1) / rate
        self.count = 0

    def encode(self, frame: av.VideoFrame | None) -> None:
        if frame is not None:
            frame.pts, frame.time_base = self.count, self.time_base
            self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        self.encode(None)
        self.container.close()


# ------------------------------------------------------------------------------------- the run


def make_bench_plan(opts: BenchOptions, source: Path | bytes) -> Plan:
    from vsr.config import UpscaleOptions
    from vsr.io.probe import probe
    from vsr.plan import make_plan

    if isinstance(source, Path):
        info = probe(source)
        path = source
    else:
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".mkv") as tmp:
            tmp.write(source)
            tmp.flush()
            info = probe(tmp.name)
        path = Path("synthetic.mkv")
        from dataclasses import replace

        info = replace(info, path=path)
    uo = UpscaleOptions(
        input=path, output=Path("bench-output.mkv"), model=opts.model, backend=opts.backend, device=opts.device,
        precision=opts.precision, batch=opts.batch, codec=opts.codec, preset=opts.preset, overwrite=True,
        engine_dir=opts.engine_dir,
    )
    return make_plan(uo, info, check_paths=False)


def _backend_for(plan: Plan, engine_dir: Path | None):
    if plan.backend == "tensorrt":
        from vsr.backends.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(plan, engine_dir=engine_dir)
    from vsr.backends.cuda_backend import CudaTorchBackend

    return CudaTorchBackend(plan)


def run_bench(opts: BenchOptions, progress: Callable[[str], None] | None = None) -> BenchResult:
    import torch

    from vsr.models import registry

    say = progress or (lambda _msg: None)
    if opts.frames < 1:
        raise UsageError("--frames must be at least 1")
    name = opts.model or registry.DEFAULT_MODEL
    if registry.is_resampler(name):
        raise UsageError(f"vsr bench measures network models and {name} is a resampler: give --model (see `vsr models`)")
    if opts.input is not None:
        source: Path | bytes = Path(opts.input)
    else:
        w, h = _size(opts.resolution)
        say(f"encoding {opts.frames} synthetic {w}x{h} frames (not timed)")
        source = synthetic_clip(w, h, opts.frames)
    plan = make_bench_plan(opts, source)
    on_cuda = plan.device.startswith("cuda")
    cuda_dev = None
    if on_cuda:
        cuda_dev = torch.device(plan.device)
        if cuda_dev.index is None:
            cuda_dev = torch.device("cuda", torch.cuda.current_device())
    memory = GpuMemory(cuda_dev)

    def sync() -> None:
        if cuda_dev is not None:
            torch.cuda.synchronize(cuda_dev)

    rate = plan.source.frame_rate or Fraction(25)
    times = dict.fromkeys(STAGES, 0.0)
    backend = _backend_for(plan, opts.engine_dir)
    with backend:
        sched = backend.scheduler
        dev, slot, st = backend.device, sched.slots[0], backend.stages

        # -- decode, timed on its own
        say("decoding")
        t0 = time.perf_counter()
        frames = list(_decode(source, opts.frames))
        times["decode"] = time.perf_counter() - t0
        if not frames:
            raise UsageError(f"no frames decoded from {opts.input or 'the synthetic clip'}")
        batches = list(_batches(iter(frames), plan.batch))

        # -- warm-up, not timed: every batch shape the timed runs will see (full, and a short last one)
        say("warming up")
        runs = warmup_runs(backend)
        shapes = [batches[0]] + ([batches[-1]] if len(batches[-1]) != len(batches[0]) else [])
        for batch in shapes:
            for out in sched.run([batch] * runs):
                pass
        sync()
        memory.sample()

        # -- stages, serial and synchronised
        say("timing stages")
        def timed(stage: str, work, *, synced: bool = True):
            t = time.perf_counter()
            result = work()
            if synced:
                sync()
            times[stage] += time.perf_counter() - t
            return result

        outputs = []
        for batch in batches:
            n = len(batch)
            timed("pack", lambda: st.pack(batch, slot.host_in[:n]), synced=False)
            timed("upload", lambda: dev.copy(slot.dev_in[:n], slot.host_in[:n], sched.upload_stream))
            timed("infer", lambda: dev.launch(sched.compute_stream, st.compute, slot.dev_in[:n], slot.dev_out[:n]))
            timed("download", lambda: dev.copy(slot.host_out[:n], slot.dev_out[:n], sched.download_stream))
            outputs += timed("unpack", lambda: st.unpack(batch, slot.host_out[:n]), synced=False)
            memory.sample()
        threads = opts.encoder_threads
        if opts.encode:
            say("encoding")
            enc = _Encoder(plan, threads, rate)
            t = time.perf_counter()
            for f in outputs:
                enc.encode(f)
            enc.close()
            times["encode"] = time.perf_counter() - t
            threads = enc.threads
        else:
            del times["encode"]
        del outputs

        # -- the model alone on a device-resident full batch, on the compute stream as in a real run
        say("timing the model")
        x = torch.rand(plan.batch, 3, plan.source.height, plan.source.width, device=plan.device)
        sync()  # x was made on the default stream

        def model_pass() -> None:
            dev.launch(sched.compute_stream, backend.infer, x)

        with torch.inference_mode():
            for _ in range(runs):
                model_pass()
            sync()
            t = time.perf_counter()
            for _ in range(len(batches)):
                model_pass()
            sync()
        model_seconds = time.perf_counter() - t
        model_fps = len(batches) * plan.batch / model_seconds
        memory.sample()
        del x

        # -- end to end: decode thread -> the backend `vsr upscale` would use -> encode thread
        say("timing end to end")
        from vsr.backends.factory import create_backend

        production = create_backend(plan)
        if type(production) is type(backend):  # GPU: this one (an engine is loaded once)
            e2e_seconds = _end_to_end(plan, source, opts, backend, rate)
            memory.sample()
        else:  # CPU: TorchBackend (swscale conversions) is what upscale runs there
            with production:
                _end_to_end(plan, source, opts, production, rate, limit=min(plan.batch, opts.frames))  # warm-up
                e2e_seconds = _end_to_end(plan, source, opts, production, rate)
        e2e_backend = type(production).__name__
        gpu_memory = memory.report()  # before close() frees the engine, context and buffers

    n = len(frames)
    stage_ms = {k: 1000.0 * v / n for k, v in times.items()}
    from vsr.models import load

    model = backend._given_model or load(plan.model_source, arch=getattr(plan, "arch", None))
    flops = conv_flops(model.float().eval().cpu(), plan.source.height, plan.source.width)
    setup = {
        "input": str(opts.input) if opts.input else f"synthetic {opts.resolution}",
        "input_size": f"{plan.source.width}x{plan.source.height}",
        "output_size": f"{plan.width}x{plan.height}",
        "model": plan.model, "scale": plan.model_scale, "backend": plan.backend, "device": plan.device,
        "precision": plan.precision, "batch": plan.batch, "frames": n, "slots": backend.slots,
        "codec": plan.codec if opts.encode else None, "pix_fmt": plan.pix_fmt,
        "encoder_threads": threads if opts.encode else None,
        "stages_backend": type(backend).__name__, "end_to_end_backend": e2e_backend,
        "warmup_runs_per_shape": runs, "last_batch_frames": len(batches[-1]),
    }
    return BenchResult(
        machine=machine_description(plan.device),
        setup=setup,
        stages_ms_per_frame=stage_ms,
        model_fps=model_fps,
        end_to_end_fps=n / e2e_seconds,
        serial_fps=1000.0 / max(sum(stage_ms.values()), 1e-9),
        flops_per_frame=flops,
        achieved_tflops=flops * model_fps / 1e12,
        gpu_memory=gpu_memory,
    )


_END = object()


def _end_to_end(plan: Plan, source: Path | bytes, opts: BenchOptions, backend: Any, rate: Fraction, limit: int | None = None) -> float:
    """Seconds for decode -> backend.run -> encode with one thread each side, as in ``vsr upscale``."""
    decoded: queue.Queue = queue.Queue(maxsize=2 * plan.batch + 2)
    encoded: queue.Queue = queue.Queue(maxsize=2 * plan.batch + 2)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for f in _decode(source, limit or opts.frames):
                decoded.put(f)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, re-raised there
            errors.append(exc)
        finally:
            decoded.put(_END)

    def writer() -> None:
        enc = _Encoder(plan, opts.encoder_threads, rate) if opts.encode else None
        try:
            while (f := encoded.get()) is not _END:
                if enc is not None:
                    enc.encode(f)
            if enc is not None:
                enc.close()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, re-raised there
            errors.append(exc)
            while encoded.get() is not _END:  # keep draining so the producer never blocks
                pass

    def frames() -> Iterator[Any]:
        while (f := decoded.get()) is not _END:
            yield f

    t = time.perf_counter()
    threads = [threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)]
    for th in threads:
        th.start()
    try:
        for out in backend.run(_batches(frames(), plan.batch)):
            for f in out:
                encoded.put(f)
    finally:
        encoded.put(_END)
        while threads[0].is_alive():  # unblock the reader if we stopped early
            try:
                decoded.get(timeout=0.05)
            except queue.Empty:
                pass
        for th in threads:
            th.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t

"""The double-buffered scheduler, on a fake device that simulates a GPU timeline.

The fake executes copies and compute at once (so the data can be checked) and also keeps a clock
per stream and for the host, following CUDA's rules: work on a stream runs in issue order, starts no
earlier than the host issued it and than the events the stream waits on; an event records its
stream's time; synchronising on an event advances the host clock to it. From that timeline the
tests check the ordering a GPU needs and the overlap we want.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from conftest import encode_frames

from vsr.backends.cuda_pipeline import Scheduler, Stages, SyncDevice
from vsr.models.loaded import LoadedModel

UP, COMPUTE, DOWN, PACK, UNPACK = 1.0, 3.0, 1.0, 0.2, 0.2


@dataclass
class FakeStream:
    name: str
    free_at: float = 0.0


@dataclass
class FakeEvent:
    time: float | None = None


@dataclass
class FakeDevice:
    host_t: float = 0.0
    log: list[tuple[str, int, float, float]] = field(default_factory=list)  # (what, batch, start, end)
    device_ids: set[int] = field(default_factory=set)
    current_batch: int = -1
    streams: list[FakeStream] = field(default_factory=list)

    def stream(self, name: str) -> FakeStream:
        self.streams.append(FakeStream(name))
        return self.streams[-1]

    def event(self) -> FakeEvent:
        return FakeEvent()

    def record(self, event: FakeEvent, stream: FakeStream) -> None:
        event.time = max(stream.free_at, self.host_t)

    def wait(self, stream: FakeStream, event: FakeEvent) -> None:
        assert event.time is not None, "waiting on an event that was never recorded"
        stream.free_at = max(stream.free_at, event.time)

    def synchronize(self, event: FakeEvent) -> None:
        assert event.time is not None, "synchronising on an event that was never recorded"
        self.host_t = max(self.host_t, event.time)

    def synchronize_all(self) -> None:
        self.host_t = max([self.host_t] + [s.free_at for s in self.streams])

    def _run(self, stream: FakeStream, what: str, duration: float) -> None:
        start = max(stream.free_at, self.host_t)
        stream.free_at = start + duration
        self.log.append((what, self.current_batch, start, start + duration))

    def copy(self, dst: torch.Tensor, src: torch.Tensor, stream: FakeStream) -> None:
        upload = id(dst.untyped_storage()) in self.device_ids or dst.untyped_storage().data_ptr() in self.device_ids
        self._run(stream, "upload" if upload else "download", UP if upload else DOWN)
        dst.copy_(src)

    def launch(self, stream: FakeStream, fn, *args):
        self._run(stream, "compute", COMPUTE)
        return fn(*args)

    def host(self, what: str, duration: float) -> None:
        self.log.append((what, self.current_batch, self.host_t, self.host_t + duration))
        self.host_t += duration

    def host_buffer(self, shape, dtype) -> torch.Tensor:
        return torch.zeros(shape, dtype=dtype)

    def device_buffer(self, shape, dtype) -> torch.Tensor:
        t = torch.zeros(shape, dtype=dtype)
        self.device_ids.add(t.untyped_storage().data_ptr())
        return t


def make_stages(dev: FakeDevice | None) -> Stages:
    """Frames are ints; the 'model' maps x -> 10 x + 1; outputs are ints again."""

    def pack(frames, host_in):
        if dev is not None:
            dev.current_batch = frames[0] // 100
            dev.host("pack", PACK)
        host_in[:, 0] = torch.tensor(frames, dtype=torch.int64)

    def compute(dev_in, dev_out):
        dev_out.copy_(dev_in * 10 + 1)

    def unpack(frames, host_out):
        if dev is not None:
            dev.current_batch = frames[0] // 100
            dev.host("unpack", UNPACK)
        return [int(v) for v in host_out[:, 0]]

    return Stages((1,), torch.int64, (1,), torch.int64, pack, compute, unpack)


def batches(n: int, size: int, last: int | None = None) -> list[list[int]]:
    """Batch k holds frames 100k, 100k+1, ... (so a frame names its batch)."""
    out = [[100 * k + i for i in range(size)] for k in range(n)]
    if last is not None:
        out[-1] = out[-1][:last]
    return out


def intervals(dev: FakeDevice, what: str) -> dict[int, tuple[float, float]]:
    return {b: (s, e) for w, b, s, e in dev.log if w == what}


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_every_frame_comes_out_once_in_order_with_a_short_last_batch(slots: int) -> None:
    dev = FakeDevice()
    sched = Scheduler(dev, make_stages(dev), batch=4, slots=slots)
    ins = batches(7, 4, last=3)
    outs = list(sched.run(ins))
    assert outs == [[10 * f + 1 for f in b] for b in ins]


def test_device_ordering_rules_hold() -> None:
    dev = FakeDevice()
    list(Scheduler(dev, make_stages(dev), batch=2, slots=2).run(batches(6, 2)))
    up, comp, down = intervals(dev, "upload"), intervals(dev, "compute"), intervals(dev, "download")
    pack, unpack = intervals(dev, "pack"), intervals(dev, "unpack")
    for k in range(6):
        assert pack[k][1] <= up[k][0], "upload before the host finished packing"
        assert up[k][1] <= comp[k][0], "compute started before its upload finished"
        assert comp[k][1] <= down[k][0], "download started before compute finished"
        assert down[k][1] <= unpack[k][0], "host read the output before the download finished"
        if k >= 2:  # slot reuse: batch k overwrites what batch k-2 used
            assert unpack[k - 2][1] <= pack[k][0], "host buffer refilled before its batch was collected"


def test_copies_overlap_compute_with_two_slots() -> None:
    dev = FakeDevice()
    n = 8
    list(Scheduler(dev, make_stages(dev), batch=2, slots=2).run(batches(n, 2)))
    up, comp, down = intervals(dev, "upload"), intervals(dev, "compute"), intervals(dev, "download")

    def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] < b[1] and b[0] < a[1]

    for k in range(1, n - 1):
        assert overlaps(up[k + 1], comp[k]), f"upload of batch {k + 1} did not overlap compute of {k}"
        assert overlaps(down[k - 1], comp[k]), f"download of batch {k - 1} did not overlap compute of {k}"
    # compute-bound: the device never idles between batches, so the run takes ~ n * COMPUTE
    makespan = max(e for _, _, _, e in dev.log)
    serial = n * (PACK + UP + COMPUTE + DOWN + UNPACK)
    assert makespan <= n * COMPUTE + PACK + UP + DOWN + UNPACK + 1e-9
    assert makespan < 0.7 * serial


def test_one_slot_is_serial() -> None:
    dev = FakeDevice()
    n = 4
    list(Scheduler(dev, make_stages(dev), batch=2, slots=1).run(batches(n, 2)))
    makespan = max(e for _, _, _, e in dev.log)
    assert makespan == pytest.approx(n * (PACK + UP + COMPUTE + DOWN + UNPACK))


def test_oversized_batch_is_refused() -> None:
    sched = Scheduler(SyncDevice(), make_stages(None), batch=2)
    with pytest.raises(ValueError, match="1 to 2"):
        list(sched.run([[1, 2, 3]]))


def test_sync_device_runs_the_same_schedule_on_cpu() -> None:
    sched = Scheduler(SyncDevice(), make_stages(None), batch=3, slots=2)
    ins = batches(5, 3, last=1)
    assert list(sched.run(ins)) == [[10 * f + 1 for f in b] for b in ins]


def test_stopping_early_waits_for_copies_in_flight() -> None:
    dev = FakeDevice()
    sched = Scheduler(dev, make_stages(dev), batch=2, slots=2)
    gen = sched.run(batches(6, 2))
    next(gen)
    gen.close()  # the consumer stopped (error downstream, Ctrl-C)
    last_download_end = max(e for w, _, _, e in dev.log if w == "download")
    assert dev.host_t >= last_download_end


def test_a_batch_failing_after_it_was_enqueued_is_waited_for() -> None:
    """compute() raises after its upload and kernels were enqueued (e.g. TensorRT refuses a shape
    half-way through the tiles): that slot never reached ``inflight``, and the run must still wait
    for everything on the device before its buffers can be freed."""
    dev = FakeDevice()
    stages = make_stages(dev)
    good = stages.compute

    def compute(dev_in, dev_out):
        if int(dev_in[0, 0]) >= 200:  # batch 2
            dev._run(dev.streams[1], "compute", 5 * COMPUTE)  # a long kernel already on the stream
            raise RuntimeError("TensorRT inference failed")
        good(dev_in, dev_out)

    stages.compute = compute
    sched = Scheduler(dev, stages, batch=2, slots=2)
    with pytest.raises(RuntimeError, match="inference failed"):
        list(sched.run(batches(4, 2)))
    assert dev.host_t >= max(e for w, _, _, e in dev.log if w != "pack" and w != "unpack")


def test_blocking_events_so_waiting_does_not_spin_a_core(monkeypatch) -> None:
    from vsr.backends import cuda_pipeline

    made = []

    class Event:
        def __init__(self, **kwargs) -> None:
            made.append(kwargs)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "Event", Event)
    cuda_pipeline.TorchCudaDevice("cuda").event()
    assert made == [{"enable_timing": False, "blocking": True}]


class RecordingDevice(SyncDevice):
    """SyncDevice that logs what the backend asks of it, in order."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def synchronize_all(self) -> None:
        self.log.append("synchronize_all")

    def launch(self, stream, fn, *args):
        self.log.append("launch")
        return fn(*args)


def test_weights_are_ready_before_the_compute_stream_reads_them_and_close_waits(monkeypatch, make_clip, edsr_checkpoint, tmp_path) -> None:
    """open(): model conversion (default stream) -> synchronize -> compute-stream launches; close(): synchronize first."""
    from vsr.backends import cuda_backend

    log: list[str] = []
    monkeypatch.setattr(cuda_backend, "device_for", lambda name: RecordingDevice(log))
    real_open_model = cuda_backend.CudaTorchBackend.open_model

    def open_model(self):
        real_open_model(self)
        log.append("model converted")

    monkeypatch.setattr(cuda_backend.CudaTorchBackend, "open_model", open_model)
    clip = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=2, codec="ffv1")
    backend = cuda_backend.CudaTorchBackend(_plan(clip, edsr_checkpoint, batch=2).backend_spec())
    with backend:
        list(backend.run([_decode(clip)]))
        log.append("closing")
    assert log[:3] == ["model converted", "synchronize_all", "launch"]
    assert log[log.index("closing") + 1 :] == ["synchronize_all"]
    assert backend.scheduler is None and backend.device is None


# ------------------------------------------------------------------ the real stages, on CPU


def _plan(clip, model_path, **opts):
    from vsr.config import UpscaleOptions
    from vsr.plan import make_plan

    options = dict(model=str(model_path), backend="torch", device="cpu", overwrite=True)
    options.update(opts)
    return make_plan(UpscaleOptions(input=clip, output=clip.with_suffix(".out.mkv"), **options))


def _decode(path):
    import av

    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def _y_psnr(a, b) -> float:
    import numpy as np

    from vsr.backends import gpu_color as gc

    la = gc.PlaneLayout.of(a.format.name, a.width, a.height)
    ba, bb = np.empty(la.elements, la.numpy_dtype), np.empty(la.elements, la.numpy_dtype)
    gc.frame_to_buffer(a, la, ba)
    gc.frame_to_buffer(b, la, bb)
    mse = np.mean((ba.astype(np.float64) - bb.astype(np.float64)) ** 2)
    return 10 * np.log10(la.full_scale**2 / max(mse, 1e-12))


@pytest.mark.parametrize(
    "pix_fmt,to,out_fmt",
    [("yuv420p", None, None), ("yuv420p10le", "200x150", "yuv420p10le"), ("yuv422p", "100x74", "yuv444p")],
)
def test_device_backend_matches_the_cpu_backend(make_clip, edsr_checkpoint, tmp_path, pix_fmt, to, out_fmt) -> None:
    """Same frames, sizes and times as TorchBackend (swscale on the host); Y within 50 dB. (Colour
    tags are the writer's: test_upscale_fidelity checks them in the output files.)"""
    from vsr.backends.cuda_backend import CudaTorchBackend
    from vsr.backends.torch_backend import TorchBackend

    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=5, pix_fmt=pix_fmt, codec="ffv1", content="gradient")
    plan = _plan(clip, edsr_checkpoint, batch=2, to=to, pix_fmt=out_fmt)
    frames = _decode(clip)
    batches = [frames[i : i + 2] for i in range(0, len(frames), 2)]  # last one short
    with CudaTorchBackend(plan.backend_spec()) as dev:
        ours = [f for out in dev.run(batches) for f in out]
    with TorchBackend(plan.backend_spec()) as ref_backend:
        ref = [f for b in batches for f in ref_backend.process(b)]
    assert len(ours) == len(frames)
    for o, r, src in zip(ours, ref, frames):
        assert (o.width, o.height, o.format.name) == (plan.width, plan.height, plan.pix_fmt)
        assert (o.pts, o.time_base) == (src.pts, src.time_base)
        assert _y_psnr(o, r) > 50.0


@pytest.mark.gpu
def test_cuda_backend_on_the_gpu_matches_cpu(make_clip, edsr_checkpoint, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from vsr.backends.cuda_backend import CudaTorchBackend

    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=7, codec="ffv1", content="gradient")
    frames = _decode(clip)
    batches = [frames[i : i + 3] for i in range(0, len(frames), 3)]
    with CudaTorchBackend(_plan(clip, edsr_checkpoint, batch=3, precision="fp32").backend_spec()) as cpu:
        ref = [f for out in cpu.run(batches) for f in out]
    for precision, floor in (("fp32", 50.0), ("fp16", 40.0)):
        plan = _plan(clip, edsr_checkpoint, batch=3, device="cuda", precision=precision)
        with CudaTorchBackend(plan.backend_spec()) as gpu:
            ours = [f for out in gpu.run(batches) for f in out]
        assert len(ours) == len(ref)
        assert min(_y_psnr(o, r) for o, r in zip(ours, ref)) > floor


@pytest.mark.gpu
def test_real_cuda_streams_overlap_copies_with_compute() -> None:
    """On a GPU: two slots must hide at least half of the copy time (or compute, if shorter)."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    import time

    from vsr.backends.cuda_pipeline import TorchCudaDevice

    elems = 32 << 20  # 32 MiB per frame each way

    def compute(dev_in, dev_out):
        torch.cuda._sleep(20_000_000)  # ~10 ms of GPU time at ~2 GHz
        dev_out.copy_(dev_in)

    def run(slots: int) -> float:
        stages = Stages((elems,), torch.uint8, (elems,), torch.uint8, lambda f, h: None, compute, lambda f, h: list(f))
        sched = Scheduler(TorchCudaDevice("cuda"), stages, batch=1, slots=slots)
        list(sched.run([[i] for i in range(3)]))  # warm-up
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = list(sched.run([[i] for i in range(12)]))
        torch.cuda.synchronize()
        assert out == [[i] for i in range(12)]
        return time.perf_counter() - t

    host = torch.empty(elems, dtype=torch.uint8, pin_memory=True)
    dev = torch.empty(elems, dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(12):
        dev.copy_(host, non_blocking=True)
        host.copy_(dev, non_blocking=True)
    torch.cuda.synchronize()
    copies = time.perf_counter() - t
    serial, overlapped = run(1), run(2)
    hidden = min(copies, serial - copies)  # what perfect overlap would hide
    assert overlapped < serial - 0.5 * hidden, f"2 slots {overlapped:.3f} s, 1 slot {serial:.3f} s, copies {copies:.3f} s"


def test_a_frame_tagged_yuvj_is_copied_not_range_converted(make_clip, edsr_checkpoint, tmp_path) -> None:
    """Probe said yuv420p, the decoder hands out yuvj420p: same planes, so the codes go up unchanged."""
    import numpy as np

    from vsr.backends import gpu_color as gc
    from vsr.backends.cuda_backend import CudaTorchBackend

    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=1, codec="ffv1")
    plan = _plan(clip, edsr_checkpoint)
    [frame] = _decode(clip)
    lay = gc.PlaneLayout.of("yuv420p", 64, 48)
    codes = np.empty(lay.elements, np.uint8)
    gc.frame_to_buffer(frame, lay, codes)
    jframe = gc.buffer_to_frame(codes, gc.PlaneLayout.of("yuvj420p", 64, 48))
    with CudaTorchBackend(plan.backend_spec()) as b:
        host = torch.empty((1, lay.elements), dtype=torch.uint8)
        b.pack([jframe], host)
    np.testing.assert_array_equal(host[0].numpy(), codes)


@pytest.mark.gpu
def test_waiting_on_a_scheduler_event_leaves_the_cpu_free() -> None:
    """On a GPU: the host thread waiting ~0.5 s for a kernel uses well under half a core (a
    spin-wait on a non-blocking event uses all of it); also prints the wake-up latency."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    import time

    from vsr.backends.cuda_pipeline import TorchCudaDevice

    dev = TorchCudaDevice("cuda")
    stream = dev.stream("compute")

    def wait_cost(event) -> tuple[float, float]:
        with torch.cuda.stream(stream):
            torch.cuda._sleep(1_000_000_000)  # ~0.5 s of GPU time at ~2 GHz
        event.record(stream)
        wall, cpu = time.perf_counter(), time.process_time()
        event.synchronize()
        return time.process_time() - cpu, time.perf_counter() - wall

    cpu_blocking, wall_blocking = wait_cost(dev.event())
    cpu_spinning, wall_spinning = wait_cost(torch.cuda.Event(blocking=False))
    print(f"blocking event: {cpu_blocking:.3f} s CPU over {wall_blocking:.3f} s; spinning: {cpu_spinning:.3f} s over {wall_spinning:.3f} s")
    assert cpu_blocking < 0.25 * wall_blocking


# ------------------------------------------------------------------ recovery, release, precision, NaN


def _frames_out(backend, batches):
    return [f for out in backend.run(batches) for f in out]


def _y_codes(frame):
    import numpy as np

    return np.frombuffer(frame.planes[0], np.uint8).reshape(-1, frame.planes[0].line_size)[:, : frame.width]


def test_out_of_memory_in_the_colour_conversion_retries_with_fewer_frames(monkeypatch, make_clip, edsr_checkpoint, tmp_path) -> None:
    from vsr.backends import cuda_backend
    from vsr.backends import gpu_color as gc

    clip = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=4, codec="ffv1", content="gradient")
    frames = _decode(clip)
    plan = _plan(clip, edsr_checkpoint, batch=4)
    with cuda_backend.CudaTorchBackend(plan.backend_spec()) as b:
        want = _frames_out(b, [frames])
    real, sizes = gc.from_rgb, []

    def from_rgb(rgb, *args, **kwargs):  # 4K RGB of a whole batch does not fit; two frames do
        sizes.append(rgb.shape[0])
        if rgb.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(rgb, *args, **kwargs)

    monkeypatch.setattr(cuda_backend.gc, "from_rgb", from_rgb)
    with cuda_backend.CudaTorchBackend(plan.backend_spec()) as b:
        got = _frames_out(b, [frames, frames])
        assert b.frames_per_pass == 2
    assert sizes == [4, 2, 2, 2, 2]  # the second batch starts at the size that worked
    assert [bytes(_y_codes(f)) for f in got] == [bytes(_y_codes(f)) for f in want + want]

    monkeypatch.setattr(cuda_backend.gc, "from_rgb", lambda *a, **k: (_ for _ in ()).throw(torch.cuda.OutOfMemoryError("oom")))
    from vsr.errors import BackendError

    with cuda_backend.CudaTorchBackend(plan.backend_spec()) as b, pytest.raises(BackendError, match="single frame.*--tile"):
        _frames_out(b, [frames])


class OomAboveTile(torch.nn.Module):
    """x2 nearest upscale that runs out of 'memory' on anything wider than ``limit``."""

    scale = 2

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        if x.shape[-1] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest") * self.weight


def test_close_releases_the_model_and_tiler_and_a_reopen_starts_afresh(monkeypatch, make_clip, edsr_checkpoint, tmp_path) -> None:
    from vsr.backends.cuda_backend import CudaTorchBackend

    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=2, codec="ffv1")
    frames = _decode(clip)
    given = OomAboveTile(limit=40)
    resets, compiled = [], []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: compiled.append(kw) or model)
    monkeypatch.setattr(torch.compiler, "reset", lambda: resets.append(True))
    backend = CudaTorchBackend(_plan(clip, edsr_checkpoint, batch=2, tile_overlap=4, precision="bf16").backend_spec(), model=LoadedModel.of(given),
                               compile_mode="reduce-overhead")
    with backend:
        _frames_out(backend, [frames])
        assert backend._tiler.tile == 32  # shrunk after the simulated OOM
    assert backend.model is None and backend.forward is None and backend._tiler is None
    assert resets == [True] and compiled == [{"mode": "reduce-overhead", "dynamic": False}]
    assert given.weight.dtype == torch.float32  # the caller's module is not converted in place
    given.limit = 1000  # "more memory" now: a reopened backend must not keep the shrunk tile
    with backend:
        assert backend._tiler.tile == 0
        _frames_out(backend, [frames])
        assert backend._tiler.tile == 0


def test_fp32_means_ieee_fp32_while_the_backend_is_open(make_clip, edsr_checkpoint, tmp_path) -> None:
    from vsr.backends.cuda_backend import CudaTorchBackend

    conv = torch.backends.cudnn.conv
    before = conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    clip = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=1, codec="ffv1")
    with CudaTorchBackend(_plan(clip, edsr_checkpoint, precision="fp32").backend_spec()):
        assert (conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == ("ieee", "ieee")
    assert (conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == before
    with CudaTorchBackend(_plan(clip, edsr_checkpoint, precision="bf16").backend_spec()):
        assert (conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == before


def test_nan_from_the_model_becomes_black_not_garbage(make_clip, edsr_checkpoint, tmp_path) -> None:
    from vsr.backends import gpu_color as gc
    from vsr.backends.cuda_backend import CudaTorchBackend

    class Overflows(torch.nn.Module):
        scale = 2

        def forward(self, x):
            y = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            y[:, :, : y.shape[2] // 2] = float("nan")  # top half: what an fp16 overflow gives
            y[:, :, y.shape[2] // 2 :, :8] = float("inf")
            return y

    clip = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=1, codec="ffv1", content="flat")
    with CudaTorchBackend(_plan(clip, edsr_checkpoint).backend_spec(), model=LoadedModel.of(Overflows())) as b:
        [out] = _frames_out(b, [_decode(clip)])
    y = _y_codes(out)
    assert (y[:24] == 16).all()  # limited-range black
    assert (y[28:, :8] == 235).all()  # +inf saturates to white
    lay = gc.PlaneLayout.of("yuv420p", 4, 2)
    nan = gc.from_rgb(torch.full((1, 3, 2, 4), float("nan")), lay, "itu709", False)
    assert nan.tolist() == gc.from_rgb(torch.zeros(1, 3, 2, 4), lay, "itu709", False).tolist()


def _x264_clip(path, chromaloc: int):
    """An H.264 clip whose VUI says where chroma sits (x264's chromaloc: 0 left, 2 topleft)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"x264-params": f"chromaloc={chromaloc}", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        encode_frames(out, stream, [av.VideoFrame.from_ndarray(np.full((36, 32), 100, np.uint8), format="yuv420p")
                                    for _ in range(2)])
    return path


def test_the_streams_chroma_siting_is_used(make_clip, edsr_checkpoint, tmp_path) -> None:
    """Signalled in the H.264 header (topleft: common for UHD/HDR masters), else the codec's
    convention: Motion-JPEG (old digital cameras) centre, lossless FFV1 left."""
    from vsr.backends.cuda_backend import CudaTorchBackend

    clips = [
        (_x264_clip(tmp_path / "topleft.mkv", 2), "topleft"),
        (_x264_clip(tmp_path / "left.mkv", 0), "left"),
        (make_clip(tmp_path / "mjpeg.mkv", size=(32, 24), frames=1, codec="mjpeg", pix_fmt="yuvj420p"), "center"),
        (make_clip(tmp_path / "ffv1.mkv", size=(32, 24), frames=1, codec="ffv1"), "left"),
    ]
    for clip, siting in clips:
        frames = _decode(clip)
        with CudaTorchBackend(_plan(clip, edsr_checkpoint, batch=1).backend_spec()) as b:
            out = _frames_out(b, [frames[:1]])
            assert (b.in_siting.name, len(out)) == (siting, 1), clip.name


@pytest.mark.gpu
def test_fp32_on_the_gpu_is_ieee_not_tf32() -> None:
    """Convolutions under the backend's fp32 switch agree with float64 to ~1e-6; TF32 (10-bit
    mantissa, cuDNN's default on Ampere and later) is ~1e-3 off on the same data."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from vsr.backends.cuda_backend import strict_fp32

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).cuda()
    x = torch.rand(1, 64, 128, 128, device="cuda")
    with torch.no_grad():
        want = torch.nn.functional.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)
        restore = strict_fp32()
        try:
            err = (conv(x).double() - want).abs().max().item()
        finally:
            restore()
    assert err < 1e-4, f"fp32 conv is {err:.2e} from float64: TF32 is still on"


def test_the_device_backend_holds_a_temporal_models_frames_for_its_backward_pass_as_the_cpu_backend_does(tmp_path):
    """The GPU data path (here on the CPU, ``SyncDevice``) runs the backward pass too: outputs come later than
    their batch, every frame once and in order, ``finish`` gives the rest, and the frames match the CPU
    backend's up to the colour conversion's arithmetic."""
    from test_temporal_pipeline import write_clip
    from test_temporal_model import panning, tiny
    from vsr.backends.cuda_backend import CudaTorchBackend
    from vsr.backends.torch_backend import TorchBackend
    from vsr.models.loader import save
    from vsr.models.temporal import TemporalEDSR

    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2, fusion="lr")
    model.load_state_dict(tiny(scale=2, seed=3).state_dict())
    checkpoint = save(model.eval(), tmp_path / "fused.safetensors")
    clip = tmp_path / "in.mkv"
    write_clip(clip, panning(30, 48, 64))
    frames = _decode(clip)
    batches = [frames[i : i + 4] for i in range(0, len(frames), 4)]
    spec = _plan(clip, checkpoint, batch=4, precision="fp32").backend_spec()
    with CudaTorchBackend(spec) as device_path:
        held = [len(device_path.process(batch)) for batch in batches]
        rest = device_path.finish()
    assert held[:4] == [0, 0, 0, 0] and sum(held) + len(rest) == 30, held  # blocks of 16 wait for frame 19
    with CudaTorchBackend(spec) as device_path, TorchBackend(spec) as cpu_path:
        ours = [f for out in device_path.run(batches) for f in out]
        ref = [f for out in cpu_path.run(batches) for f in out]
    assert [f.pts for f in ours] == [f.pts for f in ref] == [f.pts for f in frames]
    assert min(_y_psnr(o, r) for o, r in zip(ours, ref)) > 40

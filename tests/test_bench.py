"""``vsr bench`` on the CPU with a tiny model: the numbers a user reads are there and add up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO, one_line_error, vsr_env
from vsr.bench import BenchOptions, conv_flops, run_bench
from vsr.models.loaded import LoadedModel
from vsr.pipeline import STAGES


def test_edsr_baseline_flop_count_matches_the_paper_arithmetic() -> None:
    from vsr.models.edsr import EDSR

    model = EDSR(num_features=64, num_blocks=16, scale=2).eval()
    per_pixel = conv_flops(LoadedModel.of(model), 1080, 1920, probe=16) / (1080 * 1920)
    # head 3->64, 32 body convs + 1 64->64, upsampler 64->256, tail 64->3 at 4x pixels, mean shifts
    expected = 2 * 9 * (3 * 64 + 33 * 64 * 64 + 64 * 256 + 4 * 64 * 3) + 2 * 9 * (1 + 4)
    assert per_pixel == pytest.approx(expected, rel=1e-6)
    assert per_pixel == pytest.approx(2.75e6, rel=0.01)  # ~5.7 TFLOP per 1080p frame


def test_cpu_bench_reports_every_stage(edsr_checkpoint) -> None:
    result = run_bench(BenchOptions(model=str(edsr_checkpoint), resolution="64x48", frames=5, batch=2,
                                    device="cpu", preset="ultrafast", encoder_threads=1))
    d = result.to_dict()
    assert list(d["stages_ms_per_frame"]) == list(STAGES)
    assert all(v > 0 for v in d["stages_ms_per_frame"].values())  # decode, compute and encode all ran
    s = d["setup"]
    assert (s["frames"], s["batch"], s["input_size"], s["output_size"]) == (5, 2, "64x48", "128x96")
    assert (s["backend"], s["device"], s["encoder_threads"]) == ("torch", "cpu", 1)
    assert s["backend_class"] == "TorchBackend" and d["device_stages_ms_per_frame"] == {}  # what upscale runs on a CPU
    assert d["model_fps"] > 0 and d["end_to_end_fps"] > 0
    assert d["serial_fps"] == pytest.approx(1000 / sum(d["stages_ms_per_frame"].values()))
    tiny = 2 * 9 * (3 * 8 + 3 * 8 * 8 + 8 * 32 + 4 * 8 * 3) + 2 * 9 * 5  # per input pixel, 8 features, 1 block
    assert d["flops_per_frame"] == pytest.approx(tiny * 64 * 48, rel=1e-6)
    assert d["achieved_tflops"] == pytest.approx(d["flops_per_frame"] * d["model_fps"] / 1e12)
    assert d["machine"]["cpu_count"] >= 1 and d["machine"]["torch"]
    assert "end to end" in result.summary()


def test_bench_cli_json_and_no_encode(edsr_checkpoint, make_clip, tmp_path) -> None:
    clip = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=4)
    run = subprocess.run(
        [sys.executable, "-m", "vsr", "bench", str(clip), "--model", str(edsr_checkpoint), "--frames", "3",
         "--device", "cpu", "--no-encode", "--json"],
        capture_output=True, text=True, env=vsr_env(), cwd=REPO, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    d = json.loads(run.stdout)
    assert "encode" not in d["stages_ms_per_frame"] and d["setup"]["frames"] == 3
    assert d["setup"]["input"] == str(clip)


def test_bench_without_a_network_model_is_a_usage_error(vsr) -> None:
    run = vsr("bench", "--model", "lanczos", "--resolution", "64x48", "--frames", "2")
    assert run.returncode == 2
    one_line_error(run)
    assert "--model" in run.stderr


class _RecordingDevice:
    """The CPU device with named streams, logging (stream, function) for every launch."""

    def __init__(self, launches: list) -> None:
        from vsr.backends.cuda_pipeline import SyncDevice

        self._sync, self.launches = SyncDevice(), launches

    def __getattr__(self, name):
        return getattr(self._sync, name)

    def stream(self, name: str) -> str:
        return name

    def launch(self, stream, fn, *args):
        self.launches.append((stream, getattr(fn, "__name__", "")))
        return fn(*args)


def _device_backend_on_the_cpu(monkeypatch) -> None:
    """Plans for the CPU get the GPU backend (its device code runs synchronously on the CPU)."""
    from vsr.backends import factory

    monkeypatch.setitem(factory.BACKENDS, "torch", factory.BACKENDS["torch-cuda"])


def test_the_model_only_loop_runs_on_the_compute_stream(edsr_checkpoint, monkeypatch) -> None:
    """As in the pipeline: TensorRT enqueued on the legacy default stream syncs after every call."""
    from vsr.backends import cuda_backend

    launches: list = []
    _device_backend_on_the_cpu(monkeypatch)
    monkeypatch.setattr(cuda_backend, "device_for", lambda name: _RecordingDevice(launches))
    run_bench(BenchOptions(model=str(edsr_checkpoint), resolution="32x24", frames=4, batch=2, device="cpu", encode=False))
    infers = [stream for stream, fn in launches if fn == "infer"]
    assert len(infers) >= 3 and set(infers) == {"compute"}  # warm-up + one per batch
    assert {stream for stream, _ in launches} == {"compute"}


def test_every_batch_shape_is_compiled_and_recorded_before_timing(edsr_checkpoint, monkeypatch) -> None:
    """With CUDA graphs (reduce-overhead) a shape records on its second call; the short last batch is
    another shape (dynamic=False). Neither may happen inside a timed region."""
    import collections

    import torch

    calls: collections.Counter = collections.Counter()
    timing, cold = [False], []

    class FakeCompiled:  # stands in for torch.compile(model, mode="reduce-overhead", dynamic=False)
        def __init__(self, model) -> None:
            self.model = model

        def __call__(self, x):
            shape = tuple(x.shape)
            if timing[0] and calls[shape] < 2:
                cold.append((shape, calls[shape]))
            calls[shape] += 1
            return self.model(x)

    _device_backend_on_the_cpu(monkeypatch)
    monkeypatch.setenv("VSR_TORCH_COMPILE", "reduce-overhead")
    monkeypatch.setattr(torch, "compile", lambda model, **kw: FakeCompiled(model))

    def progress(msg: str) -> None:
        if msg.startswith("timing"):
            timing[0] = True

    result = run_bench(BenchOptions(model=str(edsr_checkpoint), resolution="32x24", frames=5, batch=2, device="cpu",
                                    encode=False), progress=progress)
    assert cold == []
    assert {s[0] for s in calls} == {2, 1}  # the full batch and the short last one were both seen
    s = result.setup
    assert (s["warmup_runs_per_shape"], s["last_batch_frames"]) == (2, 1)
    assert "last batch 1" in result.summary()
    assert list(result.device_stages_ms_per_frame) == ["pack", "upload", "infer", "download", "unpack"]


@pytest.mark.gpu
def test_gpu_bench_reports_memory_held_while_running(edsr_checkpoint) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    result = run_bench(BenchOptions(model=str(edsr_checkpoint), resolution="320x240", frames=8, batch=4, device="cuda",
                                    backend="torch", encode=False))
    mem = result.gpu_memory
    assert mem["peak_allocated_gib"] > 0
    # sampled while the backend was open: at least what torch itself had reserved then
    assert mem["device_used_peak_gib"] >= mem["peak_reserved_gib"] > 0

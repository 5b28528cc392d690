"""The OpenVINO CPU backend (``--backend openvino``): the frames PyTorch makes, errors that say what to do."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import read_video
from vsr.backends.availability import openvino_problem
from vsr.config import UpscaleOptions
from vsr.errors import BackendError
from vsr.plan import make_plan

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="OpenVINO is not installed (pip install 'vsr[openvino]')")


def cpu_plan(clip, model, **opts):
    return make_plan(UpscaleOptions(input=clip, model=str(model), device="cpu", **opts), check_paths=False)


def test_auto_keeps_pytorch_on_the_cpu(make_clip, edsr_checkpoint, tmp_path) -> None:
    """OpenVINO is faster for some networks and slower for others (docs/cpu.md): asked for by name only."""
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    assert cpu_plan(clip, edsr_checkpoint).backend == "torch"
    if HAS_OPENVINO:
        plan = cpu_plan(clip, edsr_checkpoint, backend="openvino")
        assert plan.backend == "openvino" and plan.backend_reason == "asked for with --backend openvino"


def test_openvino_problems_name_the_fix(monkeypatch) -> None:
    assert "--device cpu" in openvino_problem("cuda")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    assert "pip install 'vsr[openvino]'" in openvino_problem("cpu")


def test_asking_for_openvino_where_it_cannot_run_is_an_error(make_clip, edsr_checkpoint, tmp_path, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(BackendError, match=r"pip install 'vsr\[openvino\]'"):
        cpu_plan(make_clip(tmp_path / "in.mp4", frames=2), edsr_checkpoint, backend="openvino")


def assert_backends_agree(vsr, clip, tmp_path, frames: int, codes: int, *options) -> list[dict]:
    """``vsr upscale clip`` with ``options`` on PyTorch and on OpenVINO (fp32): each run reports its backend;
    timestamps and frame count identical, every output pixel within ``codes``. Returns the runs' summaries."""
    outputs, summaries = {}, []
    for backend in ("torch", "openvino"):
        out = tmp_path / f"{backend}.mkv"
        run = vsr("upscale", clip, *options, "--backend", backend, "--precision", "fp32", "--codec", "ffv1",
                  "--no-estimate", "-q", "--json", "-o", out)
        assert run.returncode == 0, str(run)
        summaries.append(run.json())
        assert summaries[-1]["backend"] == backend
        outputs[backend] = read_video(out, keep="yuv")
    ours, theirs = outputs["openvino"], outputs["torch"]
    assert ours.times == theirs.times and len(ours.frames) == frames
    for a, b in zip(ours.frames, theirs.frames):
        for pa, pb in zip(a, b):
            assert np.abs(pa.astype(int) - pb.astype(int)).max() <= codes
    return summaries


@needs_openvino
@pytest.mark.parametrize("tile", [0, 32])
def test_openvino_frames_match_pytorch(make_clip, edsr_checkpoint, vsr, tmp_path, tile) -> None:
    """Same network, same fp32 arithmetic up to kernel order: every output pixel within one code,
    whole frames and tiled alike; timestamps and frame count identical."""
    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=5, codec="ffv1", content="gradient")
    assert_backends_agree(vsr, clip, tmp_path, 5, 1, "--model", edsr_checkpoint, "--scale", "2",
                          "--tile", tile, "--tile-overlap", 8 if tile else 0)


@needs_openvino
def test_openvino_runs_a_temporal_model_as_pytorch_does(make_clip, vsr, tmp_path) -> None:
    """The shipped temporal-x2 (with its fusion): the network takes four inputs and gives two (frame, previous
    frame, state, flow -> output, state); the flow and the backward pass stay the CPU backend's. Same frames
    within two codes, each engine carrying its own state."""
    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=6, codec="ffv1", content="gradient")
    runs = assert_backends_agree(vsr, clip, tmp_path, 6, 2, "--model", "temporal", "--scale", "2")
    assert [run["model"] for run in runs] == ["temporal", "temporal"]


def test_a_resampler_cannot_run_in_openvino(make_clip, tmp_path) -> None:
    from vsr.errors import UsageError

    with pytest.raises(UsageError, match="--backend openvino needs a network model"):
        cpu_plan(make_clip(tmp_path / "in.mp4", frames=2), "lanczos", backend="openvino", scale=2.0)

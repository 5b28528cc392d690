"""Which backend runs, and what a user sees when the one they asked for cannot."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from conftest import listing, one_line_error
from vsr.backends.availability import tensorrt_problem
from vsr.backends.precision import choose_precision
from vsr.config import UpscaleOptions
from vsr.plan import make_plan

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def cpu_plan(clip, model, **opts):
    return make_plan(UpscaleOptions(input=clip, model=str(model), device="cpu", **opts), check_paths=False)


def test_auto_on_this_machine_is_pytorch_with_the_reason(make_clip, edsr_checkpoint, tmp_path) -> None:
    plan = cpu_plan(make_clip(tmp_path / "in.mp4", frames=2), edsr_checkpoint)
    expected = choose_precision("auto", "cpu")  # bf16 where this CPU has avx512_bf16/amx (tests/test_precision.py)
    assert (plan.backend, plan.device, plan.precision) == ("torch", "cpu", expected.precision)
    assert plan.backend_reason.startswith("PyTorch on CPU")
    assert plan.precision_reason == expected.reason


def test_tensorrt_problems_name_the_fix() -> None:
    tensorrt_problem.cache_clear()
    problem = tensorrt_problem("cpu")
    assert problem is not None and "--backend torch" in problem
    if not HAS_TENSORRT:
        assert "pip install 'vsr[tensorrt]'" in problem
        assert "pip install 'vsr[tensorrt]'" in tensorrt_problem("cuda")
    else:
        assert "NVIDIA GPU" in problem


def test_create_backend_dispatch(make_clip, edsr_checkpoint, tmp_path) -> None:
    """Constructing a backend touches no device, so the dispatch is checkable without a GPU."""
    from vsr.backends.factory import create_backend
    from vsr.backends.cuda_backend import CudaTorchBackend
    from vsr.backends.tensorrt_backend import TensorRTBackend
    from vsr.backends.torch_backend import TorchBackend

    plan = cpu_plan(make_clip(tmp_path / "in.mp4", frames=2), edsr_checkpoint)
    assert type(create_backend(plan)) is TorchBackend
    assert type(create_backend(replace(plan, device="cuda", precision="fp16"))) is CudaTorchBackend
    assert type(create_backend(replace(plan, device="cuda:1"))) is CudaTorchBackend
    assert type(create_backend(replace(plan, backend="tensorrt", device="cuda"))) is TensorRTBackend


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here")
def test_asking_for_tensorrt_without_it_is_one_line_and_exit_1(make_clip, edsr_checkpoint, vsr, tmp_path) -> None:
    clip = make_clip(tmp_path / "x.mp4", frames=2)
    before = listing(tmp_path)
    run = vsr("upscale", clip, "--model", edsr_checkpoint, "--backend", "tensorrt")
    assert run.returncode == 1
    one_line_error(run)
    assert "pip install 'vsr[tensorrt]'" in run.stderr
    assert listing(tmp_path) == before  # nothing written


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here")
def test_tensorrt_backend_open_without_tensorrt_says_how_to_install(make_clip, edsr_checkpoint, tmp_path) -> None:
    from vsr.backends.tensorrt_backend import TensorRTBackend
    from vsr.errors import BackendError

    plan = replace(cpu_plan(make_clip(tmp_path / "in.mp4", frames=2), edsr_checkpoint), backend="tensorrt", device="cuda")
    with pytest.raises(BackendError, match=r"pip install 'vsr\[tensorrt\]'"), TensorRTBackend(plan.backend_spec()):
        pass


def test_tensorrt_profile_follows_the_plan(make_clip, edsr_checkpoint, tmp_path) -> None:
    from vsr.backends.tensorrt_backend import profile_for

    plan = cpu_plan(make_clip(tmp_path / "in.mp4", size=(64, 48), frames=2), edsr_checkpoint, batch=3)
    p = profile_for(plan.backend_spec())
    assert (p.min, p.opt, p.max) == ((1, 3, 48, 64), (3, 3, 48, 64), (3, 3, 48, 64))
    tiled = profile_for(replace(plan, tile=32, tile_overlap=4).backend_spec())
    assert tiled.max == (3, 3, 32, 32)


@pytest.mark.tensorrt
def test_tensorrt_matches_pytorch_on_the_gpu(make_clip, edsr_checkpoint, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    if not (HAS_TENSORRT and torch.cuda.is_available()):
        pytest.skip("needs TensorRT and a CUDA GPU")
    import av
    import numpy as np

    from vsr.backends.cuda_backend import CudaTorchBackend
    from vsr.backends.tensorrt_backend import TensorRTBackend

    clip = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=5, codec="ffv1")
    with av.open(str(clip)) as c:
        frames = list(c.decode(video=0))
    batches = [frames[i : i + 2] for i in range(0, len(frames), 2)]
    plan = make_plan(UpscaleOptions(input=clip, model=str(edsr_checkpoint), device="cuda", precision="fp32", batch=2), check_paths=False)
    with CudaTorchBackend(plan.backend_spec()) as ref_b:
        ref = [f for out in ref_b.run(batches) for f in out]
    trt_spec = replace(plan, backend="tensorrt", engine_dir=tmp_path / "engines").backend_spec()
    with TensorRTBackend(trt_spec) as trt_b:
        ours = [f for out in trt_b.run(batches) for f in out]
    with TensorRTBackend(trt_spec) as again:  # cached: no rebuild
        assert again.engine_path.is_file()
    assert len(ours) == len(ref)
    for o, r in zip(ours, ref):
        a, b = o.to_ndarray().astype(np.int64), r.to_ndarray().astype(np.int64)
        assert np.abs(a - b).max() <= 2


def test_cuda_backend_without_a_gpu_is_a_clear_error(make_clip, edsr_checkpoint, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    from vsr.backends.cuda_backend import CudaTorchBackend
    from vsr.errors import BackendError

    plan = replace(cpu_plan(make_clip(tmp_path / "in.mp4", frames=2), edsr_checkpoint), device="cuda")
    with pytest.raises(BackendError, match="use --device cpu"), CudaTorchBackend(plan.backend_spec()):
        pass


def test_one_table_gives_the_choices_the_classes_and_the_reasons() -> None:
    """--backend choices, the factory's classes and the plan's reasons all come from BACKEND_KINDS."""
    import importlib

    from vsr.backends.availability import BACKEND_KINDS
    from vsr.backends.factory import BACKENDS
    from vsr.config import BACKENDS as CHOICES
    from vsr.plan import BACKEND_BASIS

    assert CHOICES == ("auto", "torch", "openvino", "tensorrt")
    assert set(BACKENDS) == {"swscale", "torch", "torch-cuda", "openvino", "tensorrt"}
    for module, cls in BACKENDS.values():
        if "tensorrt" not in module:  # importing it is cheap, but keep the table honest without the engine
            assert getattr(importlib.import_module(module), cls).name in BACKEND_KINDS.keys() | {"torch-cuda"}
    assert BACKEND_BASIS["tensorrt"] == "TensorRT is installed and a CUDA GPU is present"
    assert BACKEND_BASIS["resampler"] == "non-learned resampler: FFmpeg's swscale"
    assert [k.name for k in BACKEND_KINDS.values() if k.onnx] == ["torch"]  # ONNX Runtime runs graphs under torch


def test_an_onnx_graph_under_a_backend_that_cannot_parse_it(make_clip, tmp_path, monkeypatch) -> None:
    """Asked for by name: one usage error naming the fix; chosen by auto: PyTorch (ONNX Runtime) with the reason."""
    torch = pytest.importorskip("torch")
    from vsr.backends.availability import BACKEND_KINDS
    from vsr.backends.onnx_export import export_onnx
    from vsr.errors import UsageError
    from vsr.models import loader
    from vsr.models.loaded import LoadedModel

    graph = export_onnx(LoadedModel.of(loader.build("edsr", num_features=8, num_blocks=1, scale=2).eval()), tmp_path / "g.onnx")
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    monkeypatch.setitem(BACKEND_KINDS, "tensorrt", replace(BACKEND_KINDS["tensorrt"], check=lambda device: None))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr("vsr.plan.choose_precision", lambda requested, device: choose_precision(requested, "cpu"))
    with pytest.raises(UsageError, match=r"--backend tensorrt cannot run the ONNX graph .* use --backend torch \(ONNX Runtime runs it\)"):
        make_plan(UpscaleOptions(input=clip, model=str(graph), backend="tensorrt"), check_paths=False)
    plan = make_plan(UpscaleOptions(input=clip, model=str(graph)), check_paths=False)
    assert (plan.backend, plan.device) == ("torch", "cuda")
    assert plan.backend_reason == "PyTorch on CUDA (ONNX graphs run in ONNX Runtime)"

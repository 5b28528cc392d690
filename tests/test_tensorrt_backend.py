"""The TensorRT backend around the engine, without TensorRT or a GPU: ``open_model`` exports the
model and asks for its engine, and a stand-in engine made from that ONNX graph's inputs and outputs
(names, dtypes, channels) executes the PyTorch module on the CPU at the addresses the backend binds.
Checked: the temporal model's engine gets all four inputs and both outputs by name, with shapes in
its profile (batch 1); each call's state is the previous call's ``state_out``, the very same memory,
and never the memory the call writes; tiles keep their own state; reset and scene cuts restart it;
an engine whose tensors do not match the model is refused with the fix; an image model runs as
before. The real thing (TensorRT on a GPU against PyTorch on the GPU) is the ``tensorrt`` test at
the end."""

from __future__ import annotations

import ctypes
import importlib.util
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from test_temporal_model import as_tensor, panning, tiny
from vsr.backends import engine_build, engine_io
from vsr.backends.engine_build import LoadedEngine
from vsr.backends.recurrent import RecurrentRunner, frame_runner
from vsr.backends.spec import BackendSpec, Frames, SourceFrames
from vsr.backends.tensorrt_backend import TensorRTBackend, profile_for
from vsr.errors import BackendError
from vsr.io.colour import ColourInfo
from vsr.models.edsr import EDSR
from vsr.models.loaded import LoadedModel

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


class FakeTRT:
    """The parts of the ``tensorrt`` module the backend reads (not the builder: test_engine_cache)."""

    __version__ = "10.7.0"
    DataType = SimpleNamespace(FLOAT="FLOAT", HALF="HALF", BF16="BF16")
    TensorIOMode = SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    BuilderFlag = SimpleNamespace(FP16="FP16", BF16="BF16", TF32="TF32")  # weak typing: an fp32 graph

    class ILogger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

        def __init__(self) -> None:
            pass


DTYPES = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16}


def at(ptr: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """The CPU tensor of ``shape`` at address ``ptr`` (what the engine reads or writes there)."""
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    return torch.frombuffer((ctypes.c_char * nbytes).from_address(ptr), dtype=dtype).view(shape)


class FakeEngine:
    """An engine with the given tensors ({name: (mode, dtype, shape with -1 for dynamic axes)})
    that runs ``module`` on the CPU when executed."""

    def __init__(self, module: torch.nn.Module, tensors: dict[str, tuple[str, str, tuple[int, ...]]]) -> None:
        self.module, self.tensors = module.eval(), tensors
        self.num_io_tensors = len(tensors)
        self.contexts: list[FakeContext] = []

    def get_tensor_name(self, i: int) -> str:
        return list(self.tensors)[i]

    def get_tensor_mode(self, name: str) -> str:
        return self.tensors[name][0]

    def get_tensor_dtype(self, name: str) -> str:
        return self.tensors[name][1]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name][2]

    def create_execution_context(self) -> FakeContext:
        self.contexts.append(FakeContext(self))
        return self.contexts[-1]


class FakeContext:
    def __init__(self, engine: FakeEngine, *, refuse: str | None = None, fail: bool = False) -> None:
        self.engine, self.refuse, self.fail = engine, refuse, fail
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}
        self.calls: list[dict] = []  # per execute: shapes, addresses, dtypes and whether the state was zero

    def inputs(self) -> list[str]:
        return [n for n, (mode, _, _) in self.engine.tensors.items() if mode == "INPUT"]

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        if name == self.refuse:
            return False
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        if any(n not in self.shapes for n in self.inputs()):
            return (-1, -1, -1, -1)  # as TensorRT: unknown until every input shape is set
        n, _, h, w = self.shapes["input"]
        s = self.engine.module.scale
        channels = self.engine.tensors[name][2][1]
        return (n, channels, h * s, w * s) if name == "output" else (n, channels, h, w)

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = ptr
        return True

    def execute_async_v3(self, stream: int) -> bool:
        if self.fail:
            return False
        tensors = self.engine.tensors
        view = {n: at(self.addresses[n], self.shapes[n] if n in self.shapes else tuple(self.get_tensor_shape(n)),
                      DTYPES[tensors[n][1]]) for n in tensors}
        with torch.no_grad():
            if "state" in tensors:
                y, state = self.engine.module(*(view[n].float() for n in ("input", "prev", "state", "flow")))
                view["state_out"].copy_(state)
            else:
                y = self.engine.module(view["input"].float())
            view["output"].copy_(y)
        self.calls.append({"shapes": dict(self.shapes), "addresses": dict(self.addresses), "stream": stream,
                           "state_was_zero": bool("state" in view and not view["state"].any())})
        return True


def onnx_tensors(path: Path) -> dict[str, tuple[str, str, tuple[int, ...]]]:
    """What an engine built from this (float32) ONNX file reports: its inputs and outputs in
    order, with their shapes (-1 for the dynamic axes)."""
    import onnx

    graph = onnx.load(str(path)).graph
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in (*graph.input, *graph.output))

    def shape(v) -> tuple[int, ...]:
        return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim)

    return {**{v.name: ("INPUT", "FLOAT", shape(v)) for v in graph.input},
            **{v.name: ("OUTPUT", "FLOAT", shape(v)) for v in graph.output}}


def make_spec(tmp_path, *, width: int, height: int, tile: int = 0, overlap: int = 0, batch: int = 2) -> BackendSpec:
    colour = ColourInfo(matrix="itu709", full_range=False, colorspace=1, primaries=1, transfer=1)
    return BackendSpec(backend="tensorrt", model="fake", model_source=None, arch=None, device="cuda",
                       precision="fp16", batch=batch, tile=tile, tile_overlap=overlap,
                       input=SourceFrames(width, height, "yuv420p", "h264", colour),
                       output=Frames(width * 2, height * 2, "yuv420p"), engine_dir=tmp_path / "engines")


@pytest.fixture
def no_gpu_needed(monkeypatch):
    """``open_model`` on the CPU: the fake TensorRT module, a GPU that says it is there, an engine
    made from the exported ONNX graph (``tensors`` replaces its tensors, ``retype`` changes them),
    and a fake stream handle."""
    made: dict = {"tensors": None, "retype": None, "specs": []}

    def ensure_engine(spec, onnx, directory, *, trt):
        made["specs"].append(spec)
        made["onnx"] = onnx_tensors(onnx)
        tensors = made["tensors"] or made["onnx"]
        if made["retype"]:
            tensors = made["retype"](tensors)
        made["engine"] = FakeEngine(made["module"], tensors)
        logger = SimpleNamespace(last_error=lambda: "the fake says no")
        return LoadedEngine(None, made["engine"], logger), Path(directory) / "fake.engine", True

    monkeypatch.setattr(engine_build, "import_tensorrt", lambda: FakeTRT)
    monkeypatch.setattr(engine_build, "ensure_engine", ensure_engine)
    monkeypatch.setattr(engine_build, "gpu_identity", lambda device="cuda": ("NVIDIA H100", "9.0"))
    monkeypatch.setattr(engine_io, "current_stream", lambda device: 1234)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    return made


def opened(made: dict, spec: BackendSpec, module: torch.nn.Module) -> TensorRTBackend:
    made["module"] = module
    backend = TensorRTBackend(spec, model=LoadedModel.of(module))
    backend.open_model()
    return backend


def calls(made: dict) -> list[dict]:
    return made["engine"].contexts[-1].calls


# ------------------------------------------------------------------------------------ temporal


def test_a_temporal_engine_is_built_for_one_frame_with_all_four_inputs(tmp_path, no_gpu_needed):
    spec = make_spec(tmp_path, width=32, height=24, batch=4)
    backend = opened(no_gpu_needed, spec, tiny())
    [wanted] = no_gpu_needed["specs"]
    assert wanted.profile == profile_for(spec, temporal=True)
    assert (wanted.profile.min, wanted.profile.max) == ((1, 3, 24, 32), (1, 3, 24, 32))  # batch 1 exactly
    assert profile_for(spec).max == (4, 3, 24, 32)  # an image model keeps batch 1 .. --batch
    onnx = no_gpu_needed["onnx"]
    assert [n for n, t in onnx.items() if t[0] == "INPUT"] == ["input", "prev", "state", "flow"]
    assert [n for n, t in onnx.items() if t[0] == "OUTPUT"] == ["output", "state_out"]
    assert {n: t[2][1] for n, t in onnx.items()} == {"input": 3, "prev": 3, "state": 12, "flow": 2, "output": 3, "state_out": 12}
    assert isinstance(backend._tiler, RecurrentRunner)
    frames = as_tensor(panning(3))
    backend.infer(frames)
    for call in calls(no_gpu_needed):
        assert call["shapes"] == {"input": (1, 3, 24, 32), "prev": (1, 3, 24, 32), "state": (1, 12, 24, 32), "flow": (1, 2, 24, 32)}
        assert set(call["addresses"]) == {"input", "prev", "state", "flow", "output", "state_out"}
        assert call["stream"] == 1234  # enqueued on the stream current at the call (the compute stream)


def test_the_engine_gives_what_the_module_gives_across_batches(tmp_path, no_gpu_needed):
    model = tiny()
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), model)
    frames = as_tensor(panning(6))
    ours = torch.cat([backend.infer(frames[i : i + 2]) for i in range(0, 6, 2)])  # three batches
    with torch.no_grad():
        want = frame_runner(model, model, scale=2, tile=0, overlap=0)(frames)
    assert ours.shape == (6, 3, 48, 64)
    assert (ours - want).abs().max().item() < 1e-5


def test_each_call_reads_the_state_the_previous_call_wrote_in_place(tmp_path, no_gpu_needed):
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), tiny())
    frames = as_tensor(panning(5))
    backend.infer(frames[:2])
    backend.infer(frames[2:])  # across a batch boundary too
    seen = calls(no_gpu_needed)
    assert len(seen) == 5 and seen[0]["state_was_zero"] and not any(c["state_was_zero"] for c in seen[1:])
    for before, now in zip(seen, seen[1:]):
        assert now["addresses"]["state"] == before["addresses"]["state_out"]  # handed on the device, no copy
    for call in seen:
        assert call["addresses"]["state_out"] != call["addresses"]["state"]  # never written over while read


def test_tiles_keep_their_own_state(tmp_path, no_gpu_needed):
    model = tiny()
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=56, height=40, tile=24, overlap=4), model)
    assert no_gpu_needed["specs"][0].profile.max == (1, 3, 24, 24)
    frames = as_tensor(panning(3, 40, 56))
    ours = backend.infer(frames)
    seen = calls(no_gpu_needed)
    assert len(seen) == 3 * 6 and all(c["shapes"]["state"] == (1, 12, 24, 24) for c in seen)  # 2 x 3 tiles a frame
    for i in range(6, len(seen)):
        assert seen[i]["addresses"]["state"] == seen[i - 6]["addresses"]["state_out"]  # tile k of the frame before
    with torch.no_grad():
        want = frame_runner(model, model, scale=2, tile=24, overlap=4)(frames)
    assert (ours - want).abs().max().item() < 1e-5


def test_reset_and_scene_cuts_restart_the_state(tmp_path, no_gpu_needed):
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), tiny())
    shot_a, shot_b = as_tensor(panning(3, seed=0)), as_tensor([255 - f for f in panning(2, seed=7)])
    backend.infer(torch.cat([shot_a, shot_b]))
    assert backend._tiler.cuts == 1
    assert [c["state_was_zero"] for c in calls(no_gpu_needed)] == [True, False, False, True, False]
    backend.reset()  # Backend.reset finds the runner in _tiler (vsr eval between clips)
    backend.infer(shot_b[:1])
    assert calls(no_gpu_needed)[-1]["state_was_zero"]


def test_a_half_precision_engine_carries_its_state_without_conversion(tmp_path, no_gpu_needed):
    """A strongly typed fp16 engine: image and state tensors in fp16 (the flow stays fp32, as
    exported); the state still goes from one call to the next at the same address."""
    no_gpu_needed["retype"] = lambda tensors: {n: (mode, "FLOAT" if n == "flow" else "HALF", shape)
                                               for n, (mode, _, shape) in tensors.items()}
    model = tiny()
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), model)
    assert backend.io.in_dtype == torch.float16 and backend.io.inputs["flow"].dtype == torch.float32
    frames = as_tensor(panning(3))
    out = backend.infer(frames)
    seen = calls(no_gpu_needed)
    assert out.dtype == torch.float16 and out.shape == (3, 3, 48, 64)
    for before, now in zip(seen, seen[1:]):
        assert now["addresses"]["state"] == before["addresses"]["state_out"]
    with torch.no_grad():
        want = frame_runner(model, model, scale=2, tile=0, overlap=0)(frames)
    assert (out.float() - want).abs().max().item() < 2e-2  # fp16 storage between frames


def image_tensors() -> dict:
    return {"input": ("INPUT", "FLOAT", (-1, 3, -1, -1)), "output": ("OUTPUT", "FLOAT", (-1, 3, -1, -1))}


def temporal_tensors(**changes) -> dict:
    tensors = {
        "input": ("INPUT", "FLOAT", (-1, 3, -1, -1)), "prev": ("INPUT", "FLOAT", (-1, 3, -1, -1)),
        "state": ("INPUT", "FLOAT", (-1, 12, -1, -1)), "flow": ("INPUT", "FLOAT", (-1, 2, -1, -1)),
        "output": ("OUTPUT", "FLOAT", (-1, 3, -1, -1)), "state_out": ("OUTPUT", "FLOAT", (-1, 12, -1, -1)),
    }
    for name, value in changes.items():
        if value is None:
            tensors.pop(name)
        else:
            tensors[name] = value
    return tensors


@pytest.mark.parametrize("tensors,message", [
    (image_tensors(), r"inputs \['input'\] and outputs \['output'\]; a temporal model's engine takes input, prev, state, flow and gives output, state_out: delete it \(`vsr engine clean`\)"),
    (temporal_tensors(state_out=None), r"a temporal model's engine takes .* gives output, state_out"),
    (temporal_tensors(state=("INPUT", "FLOAT", (-1, 16, -1, -1))), "state has 16 channels where the model takes 12: delete it"),
    (temporal_tensors(state_out=("OUTPUT", "FLOAT", (-1, 16, -1, -1))), "state_out has 16 channels where the model takes 12"),
    (temporal_tensors(flow=("INPUT", "FLOAT", (-1, 3, -1, -1))), "flow has 3 channels where the model takes 2"),
    (temporal_tensors(prev=("INPUT", "FLOAT", (-1, 1, -1, -1))), "prev has 1 channels where the model takes 3"),
    (temporal_tensors(state=("INPUT", "INT8", (-1, 12, -1, -1))), "tensor type INT8 is not supported"),
])
def test_an_engine_that_does_not_fit_the_temporal_model_is_refused_with_the_fix(tmp_path, no_gpu_needed, tensors, message):
    no_gpu_needed["tensors"] = tensors
    with pytest.raises(BackendError, match=message):
        opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), tiny())


def test_an_image_model_refuses_a_temporal_engine_as_before(tmp_path, no_gpu_needed):
    no_gpu_needed["tensors"] = temporal_tensors()
    with pytest.raises(BackendError, match=r"fake.engine has inputs \['input', 'prev', 'state', 'flow'\] .* vsr needs one of each"):
        opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), EDSR(num_features=8, num_blocks=1, scale=2))


def test_refusals_while_running_name_the_tensor(tmp_path, no_gpu_needed):
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), tiny())
    ctx = no_gpu_needed["engine"].contexts[-1]
    ctx.refuse = "state"
    with pytest.raises(BackendError, match=r"TensorRT refused state shape \(1, 12, 24, 32\): the fake says no"):
        backend.infer(as_tensor(panning(1)))
    ctx.refuse, ctx.fail = None, True
    with pytest.raises(BackendError, match="TensorRT inference failed: the fake says no"):
        backend.infer(as_tensor(panning(1)))


def test_a_state_of_another_size_than_the_frame_is_caught_before_the_engine_runs(tmp_path, no_gpu_needed):
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), tiny())
    x = torch.rand(1, 3, 24, 32)
    with pytest.raises(BackendError, match=r"^state \(1, 8, 12, 16\) is outside the engine profile \(1, 12, 24, 32\)"):
        backend.io.temporal(x, x, torch.zeros(1, 8, 12, 16), torch.zeros(1, 2, 24, 32))
    with pytest.raises(BackendError, match=r"input \(1, 3, 48, 64\) is outside the engine profile"):
        big = torch.rand(1, 3, 48, 64)
        backend.io.temporal(big, big, torch.zeros(1, 12, 48, 64), torch.zeros(1, 2, 48, 64))


def test_engine_build_makes_the_engine_upscale_asks_for_a_temporal_model(tmp_path, no_gpu_needed):
    """`vsr engine build` of a temporal model at --batch 4: batch 1, as `vsr upscale` will want it."""
    from click.testing import CliRunner

    from vsr.cli.engine import engine
    from vsr.models.loader import save

    model = tiny()
    no_gpu_needed["module"] = model
    checkpoint = save(model, tmp_path / "t.safetensors")
    run = CliRunner().invoke(engine, ["build", str(checkpoint), "--resolution", "32x24", "--batch", "4",
                                      "--engine-dir", str(tmp_path / "engines")])
    assert run.exit_code == 0, run.output
    assert "temporal model" in run.output and "batch 1" in run.output
    [wanted] = no_gpu_needed["specs"]
    assert wanted.profile == profile_for(make_spec(tmp_path, width=32, height=24, batch=4), temporal=True)


# ------------------------------------------------------------------------------------ image models


def test_an_image_model_runs_as_before(tmp_path, no_gpu_needed):
    torch.manual_seed(0)
    model = EDSR(num_features=8, num_blocks=1, scale=2).eval()
    spec = make_spec(tmp_path, width=56, height=40, tile=24, overlap=4, batch=3)
    backend = opened(no_gpu_needed, spec, model)
    assert no_gpu_needed["specs"][0].profile == profile_for(spec) and backend._tiler is None
    x = torch.rand(3, 3, 40, 56)
    out = backend.infer(x)
    seen = calls(no_gpu_needed)
    assert len(seen) == 6 and all(c["shapes"] == {"input": (3, 3, 24, 24)} for c in seen)
    assert all(set(c["addresses"]) == {"input", "output"} for c in seen)
    with torch.no_grad():
        want = frame_runner(model, model, scale=2, tile=24, overlap=4)(x)
    assert (out - want).abs().max().item() < 1e-5
    with pytest.raises(BackendError, match=r"^input \(3, 3, 40, 56\) is outside the engine profile \(1, 3, 24, 24\)\.\.\(3, 3, 24, 24\)"):
        backend.io.image(x)


def test_closing_drops_the_runner_and_the_context(tmp_path, no_gpu_needed):
    backend = opened(no_gpu_needed, make_spec(tmp_path, width=32, height=24), tiny())
    backend.close()
    assert backend.io is None and backend._tiler is None and backend.context is None
    with pytest.raises(BackendError, match="outside 'with'"):
        backend.infer(torch.rand(1, 3, 24, 32))


# ------------------------------------------------------------------------------------ on a GPU


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_tensorrt_runs_a_temporal_model_like_pytorch_on_the_gpu(tmp_path):
    """TensorRT (fp32 engine) and the PyTorch CUDA backend on the same temporal checkpoint and clip:
    every frame within 2 codes, the state carried on the GPU, a cached engine reused."""
    if not (HAS_TENSORRT and torch.cuda.is_available()):
        pytest.skip("needs TensorRT and a CUDA GPU")
    import av
    import numpy as np

    from test_temporal_pipeline import write_clip
    from vsr.backends.cuda_backend import CudaTorchBackend
    from vsr.config import UpscaleOptions
    from vsr.models.loader import save
    from vsr.plan import make_plan

    checkpoint = save(tiny(scale=2, seed=3), tmp_path / "temporal_x2.safetensors")
    clip = tmp_path / "in.mkv"
    write_clip(clip, panning(7, 48, 64))
    with av.open(str(clip)) as c:
        frames = list(c.decode(video=0))
    batches = [frames[i : i + 3] for i in range(0, len(frames), 3)]
    plan = make_plan(UpscaleOptions(input=clip, model=str(checkpoint), device="cuda", precision="fp32", batch=3, scale=2),
                     check_paths=False)
    with CudaTorchBackend(plan.backend_spec()) as ref_b:
        ref = [f for out in ref_b.run(batches) for f in out]
    from dataclasses import replace

    trt_spec = replace(plan, backend="tensorrt", engine_dir=tmp_path / "engines").backend_spec()
    with TensorRTBackend(trt_spec) as trt_b:
        assert trt_b.profile.max[0] == 1 and isinstance(trt_b._tiler, RecurrentRunner)
        ours = [f for out in trt_b.run(batches) for f in out]
    with TensorRTBackend(trt_spec) as again:  # cached: no rebuild
        assert again.engine_path.is_file()
    assert len(ours) == len(ref) == 7
    for o, r in zip(ours, ref):
        a, b = o.to_ndarray().astype(np.int64), r.to_ndarray().astype(np.int64)
        assert np.abs(a - b).max() <= 2

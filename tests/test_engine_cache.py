"""TensorRT engine cache and builder logic, without TensorRT: keys, directories, locking, rebuilds,
and the builder's calls checked against a recording stand-in for the ``tensorrt`` module."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import one_line_error
from vsr.backends import engine_build, engine_cache
from vsr.backends.engine_cache import EngineSpec, Profile, engine_dir, get_or_build, list_engines
from vsr.errors import BackendError
from vsr.hashing import file_sha256
from vsr.models.loaded import LoadedModel

PROFILE = Profile.for_frames(batch=4, height=1080, width=1920)


def spec(**changes) -> EngineSpec:
    base = EngineSpec(
        model="snu-edsr-baseline-x2",
        onnx_sha256="ab" * 32,
        precision="fp16",
        profile=PROFILE,
        tensorrt_version="10.7.0",
        gpu_name="NVIDIA H200",
        compute_capability="9.0",
    )
    return replace(base, **changes)


# ------------------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    "change",
    [
        {"onnx_sha256": "cd" * 32},
        {"tensorrt_version": "10.8.0"},
        {"gpu_name": "NVIDIA GeForce RTX 4090"},
        {"compute_capability": "8.9"},
        {"precision": "bf16"},
        {"opt_level": 5},
        {"profile": Profile.for_frames(batch=8, height=1080, width=1920)},
        {"profile": Profile.for_frames(batch=4, height=720, width=1280)},
    ],
)
def test_anything_an_engine_depends_on_changes_its_file(change) -> None:
    assert spec(**change).filename != spec().filename


def test_the_label_is_not_part_of_the_key_but_names_the_file() -> None:
    a, b = spec(), spec(model="/home/me/weights/edsr x2.pth")
    assert a.key == b.key
    assert a.filename.startswith("snu-edsr-baseline-x2-fp16-") and a.filename.endswith(".engine")
    assert " " not in b.filename and "/" not in b.filename


def test_keys_are_stable_across_versions() -> None:
    """An engine built by an earlier vsr is found again: the key hashes the same fields the same way
    (pinned value; changing it makes every user rebuild their engines, which takes minutes each)."""
    assert spec().key == "ee420679c4e4b9bd322f"


def test_bad_profiles_and_precisions_are_refused_with_the_fix() -> None:
    with pytest.raises(BackendError, match="min <= opt <= max"):
        Profile((1, 3, 720, 1280), (4, 3, 1080, 1920), (4, 3, 720, 1280))
    with pytest.raises(BackendError, match="fp16"):
        spec(precision="int8")
    assert PROFILE.covers((2, 3, 1080, 1920)) and not PROFILE.covers((5, 3, 1080, 1920))


# ------------------------------------------------------------------------------------ directory


def test_engine_dir_order(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VSR_ENGINE_DIR", str(tmp_path / "env"))
    assert engine_dir(tmp_path / "flag") == tmp_path / "flag"  # --engine-dir first
    assert engine_dir() == tmp_path / "env"
    monkeypatch.delenv("VSR_ENGINE_DIR")
    repo = Path(__file__).resolve().parent.parent
    assert engine_dir() == repo / "engines" / "cache"  # running from this checkout (git-ignored)
    monkeypatch.setattr(engine_cache, "_checkout_root", lambda: None)  # an installed package
    monkeypatch.setenv("VSR_CACHE", str(tmp_path / "user"))
    assert engine_dir() == tmp_path / "user" / "engines"
    assert (tmp_path / "user" / "engines").is_dir()


def test_unwritable_engine_dir_says_what_to_do(tmp_path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if engine_cache.os.access(ro, engine_cache.os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(BackendError, match="--engine-dir"):
            engine_dir(ro / "engines")
    finally:
        ro.chmod(0o700)


# ------------------------------------------------------------------------------------ get or build


class Builds:
    def __init__(self, delay: float = 0.0) -> None:
        self.count, self.delay = 0, delay

    def __call__(self) -> bytes:
        self.count += 1
        time.sleep(self.delay)
        return b"ENGINE" + bytes(100)


def load(data: bytes):
    return ("engine", len(data)) if data.startswith(b"ENGINE") else None


def test_built_once_then_loaded_and_listed(tmp_path) -> None:
    builds = Builds()
    engine, path, built = get_or_build(spec(), tmp_path, builds, load)
    assert built and engine == ("engine", 106) and path.is_file()
    engine2, path2, built2 = get_or_build(spec(), tmp_path, builds, load)
    assert (engine2, path2, built2) == (engine, path, False) and builds.count == 1
    [row] = list_engines(tmp_path)
    assert row["file"] == path.name and row["precision"] == "fp16" and row["gpu_name"] == "NVIDIA H200"
    assert row["profile"]["opt"] == [4, 3, 1080, 1920]
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_engine_is_found_by_key_whatever_label_built_it(tmp_path) -> None:
    builds = Builds()
    _, path, _ = get_or_build(spec(model="snu-edsr-baseline-x2"), tmp_path, builds, load)
    _, path2, built = get_or_build(spec(model="snu-edsr-baseline"), tmp_path, builds, load)
    assert path2 == path and not built and builds.count == 1


def test_corrupt_engine_is_rebuilt_with_a_warning(tmp_path) -> None:
    builds, warnings = Builds(), []
    _, path, _ = get_or_build(spec(), tmp_path, builds, load)
    path.write_bytes(b"\x00garbage")  # truncated copy, other TensorRT version, disk error...
    engine, _, built = get_or_build(spec(), tmp_path, builds, load, warn=warnings.append)
    assert built and engine is not None and builds.count == 2
    assert len(warnings) == 1 and "rebuilding" in warnings[0] and path.name in warnings[0]


def test_concurrent_requests_build_once(tmp_path) -> None:
    builds, results = Builds(delay=0.3), []

    def worker() -> None:
        results.append(get_or_build(spec(), tmp_path, builds, load)[2])

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds.count == 1 and sorted(results) == [False, False, True]


def test_concurrent_requests_under_different_labels_build_once(tmp_path) -> None:
    """`vsr engine build snu-edsr-baseline-x2` and `vsr upscale --model snu-edsr-baseline` at once:
    same network and profile, so the same key, the same lock and one build."""
    builds, results = Builds(delay=0.3), []

    def worker(label: str) -> None:
        results.append(get_or_build(spec(model=label), tmp_path, builds, load)[1:])

    threads = [threading.Thread(target=worker, args=(label,)) for label in ("snu-edsr-baseline-x2", "snu-edsr-baseline", "edsr")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds.count == 1
    assert len({path for path, _ in results}) == 1 and sorted(built for _, built in results) == [False, False, True]
    assert engine_cache.lock_path(tmp_path, spec(model="a")) == engine_cache.lock_path(tmp_path, spec(model="b"))
    assert engine_cache.lock_path(tmp_path, spec()) != engine_cache.lock_path(tmp_path, spec(precision="fp32"))


def test_failed_build_leaves_nothing_under_the_engine_name(tmp_path) -> None:
    def failing() -> bytes:
        raise BackendError("TensorRT could not build the engine: out of memory")

    with pytest.raises(BackendError, match="out of memory"):
        get_or_build(spec(), tmp_path, failing, load)
    assert not (tmp_path / spec().filename).exists() and list_engines(tmp_path) == []


def test_clean_removes_engines_and_sidecars(tmp_path) -> None:
    get_or_build(spec(), tmp_path, Builds(), load)
    get_or_build(spec(precision="fp32"), tmp_path, Builds(), load)
    removed = engine_cache.clean(tmp_path, keep=lambda row: row["precision"] == "fp32")
    assert [p.name for p in removed] == [spec().filename]
    assert [r["precision"] for r in list_engines(tmp_path)] == ["fp32"]
    assert not (tmp_path / spec().filename).with_suffix(".json").exists()


def test_onnx_export_is_deterministic_so_the_cache_hits(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from vsr.backends.onnx_export import export_onnx
    from vsr.models.edsr import EDSR

    torch.manual_seed(0)
    model = EDSR(num_features=8, num_blocks=1, scale=2)
    a = file_sha256(export_onnx(LoadedModel.of(model), tmp_path / "a.onnx"))
    b = file_sha256(export_onnx(LoadedModel.of(model), tmp_path / "b.onnx"))
    assert a == b


# ------------------------------------------------------------------------------------ builder calls


class FakeTRT:
    """Just enough of the TensorRT 10 Python API to record what the builder asks for."""

    __version__ = "10.7.0"

    class ILogger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

        def __init__(self) -> None:
            pass

    BuilderFlag = SimpleNamespace(FP16="FP16", BF16="BF16", TF32="TF32")
    MemoryPoolType = SimpleNamespace(WORKSPACE="WORKSPACE")
    NetworkDefinitionCreationFlag = SimpleNamespace(STRONGLY_TYPED=1)
    DataType = SimpleNamespace(FLOAT="FLOAT", HALF="HALF", BF16="BF16")

    def __init__(self, *, parse_ok=True, build_ok=True, input_name="input", input_dtype="FLOAT", inputs=None) -> None:
        self.parse_ok, self.build_ok, self.input_name, self.input_dtype = parse_ok, build_ok, input_name, input_dtype
        self.inputs = inputs  # the network's inputs (name, shape, dtype); default: one image input
        self.flags_set, self.flags_cleared, self.shapes, self.calls = [], [], {}, []
        self.config = self.cache_in = self.network_flags = None

    # classes the builder code instantiates
    def Builder(self, logger):  # noqa: N802 - TensorRT's names
        trt = self

        class Config:
            builder_optimization_level = None

            def set_flag(self, f):
                trt.flags_set.append(f)

            def clear_flag(self, f):
                trt.flags_cleared.append(f)

            def set_memory_pool_limit(self, pool, size):
                trt.calls.append(("pool", pool, size))

            def add_optimization_profile(self, p):
                return 0

            def create_timing_cache(self, data):
                trt.cache_in = data
                return SimpleNamespace(serialize=lambda: b"TIMING" + data)

            def set_timing_cache(self, cache, ignore_mismatch):
                self._cache = cache
                return True

            def get_timing_cache(self):
                return self._cache

        class Profile:
            def set_shape(self, name, mn, opt, mx):
                trt.shapes[name] = (tuple(mn), tuple(opt), tuple(mx))

        class B:
            def create_network(self, flags):
                trt.network_flags = flags
                inputs = trt.inputs or [SimpleNamespace(name=trt.input_name, shape=(-1, 3, -1, -1), dtype=trt.input_dtype)]
                return SimpleNamespace(num_inputs=len(inputs), get_input=lambda i: inputs[i])

            def create_builder_config(self):
                trt.config = Config()
                return trt.config

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                if not trt.build_ok:
                    logger.log(FakeTRT.ILogger.ERROR, "Internal Error: out of device memory")
                    return None
                return b"ENGINE-BYTES"

        return B()

    def OnnxParser(self, network, logger):  # noqa: N802
        trt = self
        return SimpleNamespace(
            parse_from_file=lambda path: trt.parse_ok,
            num_errors=0 if self.parse_ok else 1,
            get_error=lambda i: "In node 3 (importConv): unsupported dilation",
        )


def build(trt, tmp_path, **kw) -> bytes:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    kw.setdefault("precision", "fp16")
    return engine_build.build_serialized(onnx, profile=PROFILE, trt=trt, **kw)


def test_fp16_by_default_profile_from_the_plan_and_timing_cache_kept(tmp_path) -> None:
    trt, cache = FakeTRT(), tmp_path / "t.timing-cache"
    cache.write_bytes(b"OLD")
    assert build(trt, tmp_path, timing_cache=cache, opt_level=4) == b"ENGINE-BYTES"
    assert trt.flags_set == ["FP16"] and trt.config.builder_optimization_level == 4
    assert trt.shapes["input"] == ((1, 3, 1080, 1920), (4, 3, 1080, 1920), (4, 3, 1080, 1920))
    assert trt.cache_in == b"OLD" and cache.read_bytes() == b"TIMINGOLD"  # read, extended, written back


@pytest.mark.parametrize("precision,flags,cleared", [("bf16", ["BF16"], []), ("fp32", [], ["TF32"])])
def test_other_precisions_on_request(tmp_path, precision, flags, cleared) -> None:
    trt = FakeTRT()
    build(trt, tmp_path, precision=precision)
    assert trt.flags_set == flags and trt.flags_cleared == cleared


def test_builder_failures_become_errors_that_say_what_to_do(tmp_path) -> None:
    with pytest.raises(BackendError, match="cannot parse m.onnx: In node 3.*vsr export"):
        build(FakeTRT(parse_ok=False), tmp_path)
    with pytest.raises(BackendError, match="out of device memory.*--batch"):
        build(FakeTRT(build_ok=False), tmp_path)
    with pytest.raises(BackendError, match="named 'x'.*fix the profile"):
        build(FakeTRT(input_name="x"), tmp_path)
    with pytest.raises(BackendError, match="optimisation level"):
        build(FakeTRT(), tmp_path, opt_level=9)


def onnx_inputs(path: Path) -> list[SimpleNamespace]:
    """The inputs TensorRT's parser would find in an ONNX file: names and shapes (-1: dynamic)."""
    import onnx

    return [SimpleNamespace(name=v.name, dtype="FLOAT",
                            shape=tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim))
            for v in onnx.load(str(path)).graph.input]


def temporal_onnx(tmp_path) -> Path:
    pytest.importorskip("torch")
    from test_temporal_model import tiny
    from vsr.backends.onnx_export import export_onnx

    return export_onnx(LoadedModel.of(tiny()), tmp_path / "temporal.onnx")


def test_a_temporal_graph_gets_the_profile_for_every_input(tmp_path) -> None:
    """input and prev 3 channels, state the model's 12 (3 x 2 x 2: its output folded), flow 2: the frame profile's batch and size each."""
    trt = FakeTRT(inputs=onnx_inputs(temporal_onnx(tmp_path)))
    profile = Profile.for_frames(batch=1, height=24, width=32)
    assert engine_build.build_serialized(tmp_path / "temporal.onnx", precision="fp16", profile=profile, trt=trt) == b"ENGINE-BYTES"
    assert trt.shapes == {name: ((1, c, 24, 32),) * 3 for name, c in (("input", 3), ("prev", 3), ("state", 12), ("flow", 2))}


def test_graphs_with_other_inputs_are_refused_with_the_fix(tmp_path) -> None:
    def graph(*inputs) -> FakeTRT:
        return FakeTRT(inputs=[SimpleNamespace(name=n, shape=shape, dtype="FLOAT") for n, shape in inputs])

    image = (-1, 3, -1, -1)
    with pytest.raises(BackendError, match=r"has inputs \['input', 'state'\]; vsr engines take one image batch or a temporal model's input, prev, state, flow"):
        build(graph(("input", image), ("state", (-1, 8, -1, -1))), tmp_path)
    with pytest.raises(BackendError, match=r"input 'state' has shape \(-1, -1, -1, -1\), not N x C x H x W with a fixed C"):
        build(graph(("input", image), ("prev", image), ("state", (-1, -1, -1, -1)), ("flow", (-1, 2, -1, -1))), tmp_path)
    with pytest.raises(BackendError, match="the model takes 1 channels, the profile gives 3"):
        build(graph(("input", (-1, 1, -1, -1)), ("prev", image), ("state", (-1, 8, -1, -1)), ("flow", (-1, 2, -1, -1))), tmp_path)


def test_a_temporal_engine_has_its_own_cache_key(tmp_path) -> None:
    """The same EDSR inside a temporal model (from_edsr: equal outputs at the start) is another graph,
    so another ONNX hash and another engine; and it is built for one frame at a time."""
    from test_temporal_model import tiny
    from vsr.backends.onnx_export import export_onnx
    from vsr.models.edsr import EDSR

    edsr = EDSR(num_features=8, num_blocks=1, scale=2)
    temporal = tiny()
    temporal.from_edsr(edsr.state_dict())
    image_onnx = export_onnx(LoadedModel.of(edsr), tmp_path / "edsr.onnx")
    temporal_onnx = export_onnx(LoadedModel.of(temporal), tmp_path / "temporal.onnx")
    frames = Profile.for_frames(batch=4, height=24, width=32)

    def key(onnx, profile) -> str:
        return engine_build.engine_spec("same-label", onnx, precision="fp16", profile=profile, trt=FakeTRT(),
                                        gpu=("NVIDIA H200", "9.0")).key

    assert key(image_onnx, frames) != key(temporal_onnx, frames) != key(temporal_onnx, frames.single_frame())
    assert frames.single_frame() == Profile.for_frames(batch=1, height=24, width=32)


class FakeTRT11(FakeTRT):
    """TensorRT 11: no weak-typing builder flags (BuilderFlag.FP16/BF16 are gone)."""

    __version__ = "11.0.0"
    BuilderFlag = SimpleNamespace(TF32="TF32")


@pytest.mark.parametrize("precision,dtype", [("fp16", "HALF"), ("bf16", "BF16"), ("fp32", "FLOAT")])
def test_without_fp16_builder_flags_the_network_is_strongly_typed(tmp_path, precision, dtype) -> None:
    trt = FakeTRT11(input_dtype=dtype)
    assert engine_build.typing_mode(trt) == "strong"
    assert build(trt, tmp_path, precision=precision) == b"ENGINE-BYTES"
    assert trt.network_flags == 1 << 1 and trt.flags_set == []  # types come from the graph, not flags
    assert trt.flags_cleared == (["TF32"] if precision == "fp32" else [])


def test_a_strongly_typed_build_refuses_a_graph_of_the_wrong_type(tmp_path) -> None:
    with pytest.raises(BackendError, match="strongly typed fp16 engine needs an ONNX graph in fp16"):
        build(FakeTRT11(input_dtype="FLOAT"), tmp_path, precision="fp16")


def test_weak_typing_on_tensorrt_10_unless_strong_typing_is_asked_for(tmp_path, monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    trt = FakeTRT()
    monkeypatch.delenv(engine_build.STRONG_TYPING_ENV, raising=False)
    assert engine_build.typing_mode(trt) == "weak" and engine_build.onnx_dtype(trt, "fp16") == torch.float32
    build(trt, tmp_path)
    assert trt.network_flags == 0
    monkeypatch.setenv(engine_build.STRONG_TYPING_ENV, "1")
    assert engine_build.typing_mode(trt) == "strong"
    assert engine_build.onnx_dtype(trt, "fp16") == torch.float16 and engine_build.onnx_dtype(trt, "bf16") == torch.bfloat16
    assert engine_build.onnx_dtype(trt, "fp32") == torch.float32
    strong = FakeTRT(input_dtype="HALF")
    build(strong, tmp_path)
    assert strong.network_flags == 2 and strong.flags_set == []


@pytest.mark.parametrize("version,major", [("10.7.0", 10), ("10.13.3.9.post1", 10), ("11.0.0", 11), ("9.2", 9), ("", 0)])
def test_tensorrt_version_parsing(version, major) -> None:
    assert engine_build.tensorrt_major(version) == major


@pytest.mark.parametrize("version,message", [("11.1.0", "not supported yet.*tensorrt>=10,<11"), ("8.6.1", "too old")])
def test_tensorrt_outside_10_is_refused_with_the_fix(monkeypatch, version, message) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__=version))
    with pytest.raises(BackendError, match=message):
        engine_build.import_tensorrt()


def test_the_tensorrt_extra_is_capped_below_11() -> None:
    import tomllib

    from packaging.requirements import Requirement

    doc = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    [req] = [Requirement(r) for r in doc["project"]["optional-dependencies"]["tensorrt"]]
    assert req.name == "tensorrt"
    assert all(req.specifier.contains(v) for v in ("10.0.1", "10.13.3"))
    assert not any(req.specifier.contains(v) for v in ("9.3.0", "11.0.0", "11.4.1"))


def test_missing_tensorrt_names_the_install_command(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails as if not installed
    with pytest.raises(BackendError, match=r"pip install 'vsr\[tensorrt\]'"):
        engine_build.import_tensorrt()


# ------------------------------------------------------------------------------------ vsr engine


def test_engine_list_and_clean_commands(tmp_path, vsr) -> None:
    get_or_build(spec(), tmp_path, Builds(), load)
    get_or_build(spec(precision="fp32", model="other"), tmp_path, Builds(), load)
    run = vsr("engine", "list", "--engine-dir", tmp_path, "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)["engines"]
    assert sorted(r["precision"] for r in rows) == ["fp16", "fp32"]
    text = vsr("engine", "list", "--engine-dir", tmp_path).stdout
    assert "2 engine(s)" in text and "NVIDIA H200" in text and "4x3x1080x1920" in text
    assert vsr("engine", "clean", "--engine-dir", tmp_path, "--model", "other").stdout.strip() == "removed 1 engine(s)"
    assert [r["model"] for r in list_engines(tmp_path)] == ["snu-edsr-baseline-x2"]


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_engine_build_without_tensorrt_is_one_line(tmp_path, vsr) -> None:
    run = vsr("engine", "build", "--profile", "snu-edsr-baseline-x2-1080p", "--engine-dir", tmp_path)
    assert run.returncode == 1
    one_line_error(run)
    assert "pip install 'vsr[tensorrt]'" in run.stderr


@pytest.mark.parametrize("name", ["snu-edsr-baseline-x2-1080p", "snu-edsr-baseline-x3-720p"])
def test_shipped_build_profiles_match_what_upscale_asks_for(name) -> None:
    """A prebuilt engine is a cache hit for `vsr upscale` at batch 4 on that input size."""
    from vsr.cli.engine import load_build_profile

    doc = load_build_profile(name)
    prof = Profile.from_dict(doc["profile"])
    _, _, h, w = prof.opt
    assert prof == Profile.for_frames(batch=4, height=h, width=w)
    scale = int(doc["model"].rsplit("x", 1)[1])
    assert (w * scale, h * scale) == (3840, 2160)
    assert doc["precision"] == "fp16"


@pytest.mark.tensorrt
def test_strongly_typed_fp16_engine_matches_the_weakly_typed_one(tmp_path, monkeypatch) -> None:
    """On TensorRT 10 with VSR_TRT_STRONGLY_TYPED=1: the fp16 ONNX graph builds and runs, and agrees
    with the weakly typed fp16 engine (what lifting the <11 cap needs to be true)."""
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("tensorrt") is None or not torch.cuda.is_available():
        pytest.skip("needs TensorRT and a CUDA GPU")
    from vsr.backends.onnx_export import export_onnx
    from vsr.models.edsr import EDSR

    trt = engine_build.import_tensorrt()
    torch.manual_seed(0)
    model = EDSR(num_features=16, num_blocks=2, scale=2).eval()
    profile = Profile.for_frames(batch=2, height=48, width=64)
    x = torch.rand(2, 3, 48, 64, device="cuda")
    outputs = {}
    for strong in ("0", "1"):
        monkeypatch.setenv(engine_build.STRONG_TYPING_ENV, strong)
        onnx = export_onnx(LoadedModel.of(model), tmp_path / f"m{strong}.onnx", dtype=engine_build.onnx_dtype(trt, "fp16"))
        loaded = engine_build.deserialize(engine_build.build_serialized(onnx, precision="fp16", profile=profile, trt=trt), trt=trt)
        engine = loaded.engine
        ctx = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        dtype = torch.float16 if strong == "1" else torch.float32
        inp = x.to(dtype).contiguous()
        out = torch.empty(2, 3, 96, 128, device="cuda", dtype=dtype)
        assert ctx.set_input_shape(names[0], tuple(inp.shape))
        ctx.set_tensor_address(names[0], inp.data_ptr())
        ctx.set_tensor_address(names[1], out.data_ptr())
        stream = torch.cuda.Stream()
        assert ctx.execute_async_v3(stream.cuda_stream)
        stream.synchronize()
        outputs[strong] = out.float()
    with torch.no_grad():
        want = model.cuda()(x)
    for strong, got in outputs.items():
        assert (got - want).abs().max().item() < 2e-2, f"strongly typed={strong}"

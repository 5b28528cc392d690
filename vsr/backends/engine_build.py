"""ONNX -> TensorRT engine (TensorRT 10 Python API), with every call's result checked.

    spec = engine_spec("snu-edsr-baseline-x2", onnx, precision="fp16", profile=Profile.for_frames(batch=4, height=1080, width=1920))
    engine, path, built = ensure_engine(spec, onnx, engine_dir())

FP16 by default, BF16 or FP32 on request; FP32 means IEEE FP32 (TF32 off), as on the PyTorch CUDA
path. Precision comes one of two ways (``typing_mode``):

- **weak typing** (TensorRT 10, the default): the ONNX file stays FP32 and the FP16/BF16 builder
  flag lets TensorRT pick reduced-precision kernels where it can;
- **strong typing** (TensorRT 11 removes ``BuilderFlag.FP16/BF16``; on 10.x opt in with
  ``VSR_TRT_STRONGLY_TYPED=1``): the ONNX graph is exported in the precision's dtype
  (``onnx_dtype``) and the network is created ``STRONGLY_TYPED``, so the types are the graph's.

``pyproject.toml`` caps ``tensorrt<11`` and ``import_tensorrt`` refuses 11+ until the strong path
has been run on a GPU with it; lifting the cap is then the version check alone. One optimisation
profile over batch and frame size; a temporal model's graph (inputs ``input, prev, state, flow``)
gets it for every input, each with its own channel count (``Profile.for_input``). The builder's
timing cache is kept next to the engines and shared by every build on this GPU/TensorRT, which
makes rebuilds for new shapes much faster.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.backends.engine_cache import EngineSpec, Profile, get_or_build, write_atomic
from vsr.errors import BackendError
from vsr.hashing import file_sha256

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'vsr[tensorrt]'"
TIMING_CACHE_NAME = "timing-{key}.timing-cache"
SUPPORTED_MAJOR = 10  # keep in step with the `tensorrt` extra in pyproject.toml
STRONG_TYPING_ENV = "VSR_TRT_STRONGLY_TYPED"


def tensorrt_major(version: str) -> int:
    """The major number of a TensorRT version string ("10.7.0.post1" -> 10); 0 if there is none."""
    m = re.match(r"\s*(\d+)", str(version))
    return int(m.group(1)) if m else 0


def import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendError(f"TensorRT is not installed: {INSTALL_HINT} (or use --backend torch)") from exc
    except OSError as exc:  # the wheel is there but its CUDA libraries are not
        raise BackendError(f"TensorRT is installed but cannot load its libraries ({exc}): check the CUDA driver and reinstall with {INSTALL_HINT}") from exc
    version = str(getattr(trt, "__version__", "0"))
    major = tensorrt_major(version)
    if major < SUPPORTED_MAJOR:
        raise BackendError(f"TensorRT {version} is too old: vsr needs TensorRT 10 ({INSTALL_HINT} --upgrade)")
    if major > SUPPORTED_MAJOR:
        raise BackendError(
            f"TensorRT {version} is not supported yet (vsr is tested with TensorRT 10): "
            f"pip install 'tensorrt>=10,<11', or use --backend torch"
        )
    return trt


def typing_mode(trt: Any) -> str:
    """``"strong"`` where TensorRT has no FP16 builder flag (11+) or ``VSR_TRT_STRONGLY_TYPED=1``
    asks for it, else ``"weak"`` (precision from builder flags)."""
    if not hasattr(trt.BuilderFlag, "FP16") or os.environ.get(STRONG_TYPING_ENV, "") == "1":
        return "strong"
    return "weak"


def onnx_dtype(trt: Any, precision: str) -> Any:
    """The dtype to export the ONNX graph in for ``precision`` under this TensorRT's typing."""
    import torch

    if typing_mode(trt) == "weak" or precision == "fp32":
        return torch.float32
    return {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]


_LOGGERS: dict[int, Any] = {}


def make_logger(trt: Any) -> Any:
    """The TensorRT logger: forwards to ``logging`` and remembers errors for messages.

    One per process (TensorRT expects every builder and runtime to share a logger); callers clear
    ``errors`` before an operation whose failure they report.
    """
    if id(trt) not in _LOGGERS:
        _LOGGERS[id(trt)] = _new_logger(trt)
    return _LOGGERS[id(trt)]


def _new_logger(trt: Any) -> Any:

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.INTERNAL_ERROR, trt.ILogger.ERROR):
                self.errors.append(msg)
                log.error("TensorRT: %s", msg)
            elif severity == trt.ILogger.WARNING:
                log.warning("TensorRT: %s", msg)
            else:
                log.debug("TensorRT: %s", msg)

        def last_error(self) -> str:
            return self.errors[-1].splitlines()[0] if self.errors else "no error message (run with --debug)"

    return _Logger()


@dataclass
class LoadedEngine:
    """A deserialised engine and the runtime that must outlive it."""

    runtime: Any
    engine: Any
    logger: Any


def gpu_identity(device: str = "cuda") -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") of ``device``."""
    import torch

    if not torch.cuda.is_available():
        raise BackendError("No CUDA GPU: TensorRT needs an NVIDIA GPU (use --backend torch)")
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    major, minor = torch.cuda.get_device_capability(index)
    return torch.cuda.get_device_name(index), f"{major}.{minor}"


def engine_spec(
    model: str,
    onnx_path: Path,
    *,
    precision: str,
    profile: Profile,
    opt_level: int = 3,
    device: str = "cuda",
    trt: Any = None,
    gpu: tuple[str, str] | None = None,
) -> EngineSpec:
    trt = trt or import_tensorrt()
    name, cc = gpu or gpu_identity(device)
    return EngineSpec(
        model=model,
        onnx_sha256=file_sha256(onnx_path),
        precision=precision,
        profile=profile,
        tensorrt_version=str(trt.__version__),
        gpu_name=name,
        compute_capability=cc,
        opt_level=opt_level,
    )


def build_serialized(
    onnx_path: Path,
    *,
    precision: str,
    profile: Profile,
    opt_level: int = 3,
    timing_cache: Path | None = None,
    workspace_bytes: int | None = None,
    trt: Any = None,
) -> bytes:
    """Build and serialise an engine; raises BackendError saying what to do on any failure."""
    trt = trt or import_tensorrt()
    logger = make_logger(trt)
    logger.errors.clear()

    def need(obj: Any, what: str) -> Any:
        if obj is None:
            raise BackendError(f"TensorRT could not {what}: {logger.last_error()}")
        return obj

    if precision not in ("fp16", "bf16", "fp32"):
        raise BackendError(f"unknown precision {precision!r}: use fp16, bf16 or fp32")
    strong = typing_mode(trt) == "strong"
    builder = need(trt.Builder(logger), "create a builder (is a CUDA GPU visible?)")
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strong else 0
    network = need(builder.create_network(flags), "create a network")
    parser = need(trt.OnnxParser(network, logger), "create the ONNX parser")
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        first = errors[0].splitlines()[0] if errors else logger.last_error()
        raise BackendError(f"TensorRT cannot parse {Path(onnx_path).name}: {first} (re-export with `vsr export --opset 17`)")
    inputs = network_inputs(network, profile, Path(onnx_path).name)
    inp = inputs[profile.input_name]
    channels = tuple(inp.shape)[1] if len(tuple(inp.shape)) == 4 else -1
    if channels not in (-1, profile.opt[1]):
        raise BackendError(f"the model takes {channels} channels, the profile gives {profile.opt[1]}: fix the profile")

    if strong:
        wanted = {"fp16": trt.DataType.HALF, "bf16": trt.DataType.BF16, "fp32": trt.DataType.FLOAT}[precision]
        if inp.dtype != wanted:
            raise BackendError(
                f"a strongly typed {precision} engine needs an ONNX graph in {precision}, and {Path(onnx_path).name} "
                f"takes {inp.dtype}: build from vsr's own export (`vsr engine build`), which is in {precision}"
            )

    config = need(builder.create_builder_config(), "create a builder config")
    if not strong and precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif not strong and precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    if precision == "fp32":
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means IEEE fp32 (TensorRT allows TF32 by default)
    if not 0 <= opt_level <= 5:
        raise BackendError(f"builder optimisation level {opt_level} is out of range: use 0 (fast build) to 5 (slow build, fastest engine)")
    config.builder_optimization_level = opt_level
    if workspace_bytes:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))

    opt_profile = need(builder.create_optimization_profile(), "create an optimisation profile")
    for name, tensor in inputs.items():
        p = profile if name == profile.input_name else profile.for_input(name, _fixed_channels(tensor, Path(onnx_path).name))
        opt_profile.set_shape(name, p.min, p.opt, p.max)
    if config.add_optimization_profile(opt_profile) < 0:
        raise BackendError(f"TensorRT rejected the profile {profile.to_dict()}: {logger.last_error()}")

    cache = None
    if timing_cache is not None:
        previous = timing_cache.read_bytes() if timing_cache.is_file() else b""
        cache = config.create_timing_cache(previous)
        if cache is None and previous:
            log.warning("timing cache %s is unreadable; starting a new one", timing_cache)
            cache = config.create_timing_cache(b"")
        if cache is not None and not config.set_timing_cache(cache, ignore_mismatch=False):
            log.warning("timing cache %s does not match this GPU/TensorRT; starting a new one", timing_cache)
            cache = config.create_timing_cache(b"")
            if cache is not None:
                config.set_timing_cache(cache, ignore_mismatch=True)

    log.info("building a %s TensorRT engine from %s (profile %s); this takes minutes", precision, onnx_path, profile.to_dict())
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(
            f"TensorRT could not build the engine: {logger.last_error()} "
            "(out of GPU memory? try a smaller --batch or profile, or --precision fp16)"
        )
    if timing_cache is not None and cache is not None:
        updated = config.get_timing_cache()
        if updated is not None:
            write_atomic(timing_cache, bytes(memoryview(updated.serialize())))
    return bytes(memoryview(serialized))


def network_inputs(network: Any, profile: Profile, onnx_name: str) -> dict[str, Any]:
    """The parsed network's inputs by name: one image batch named as the profile says, or a temporal
    model's ``input, prev, state, flow`` (``vsr.backends.onnx_export``)."""
    from vsr.backends.onnx_export import TEMPORAL_INPUTS

    inputs = {t.name: t for t in (network.get_input(i) for i in range(network.num_inputs))}
    names = list(inputs)
    if len(names) == 1 and names[0] != profile.input_name:
        raise BackendError(f"the ONNX input is named {names[0]!r}, the build profile says {profile.input_name!r}: fix the profile")
    if len(names) != 1 and sorted(names) != sorted(TEMPORAL_INPUTS):
        raise BackendError(
            f"{onnx_name} has inputs {names}; vsr engines take one image batch or a temporal model's "
            f"{', '.join(TEMPORAL_INPUTS)} (export it with `vsr export`)"
        )
    if profile.input_name not in inputs:
        raise BackendError(f"the build profile is for an input named {profile.input_name!r}, and {onnx_name} has {names}: fix the profile")
    return inputs


def _fixed_channels(tensor: Any, onnx_name: str) -> int:
    shape = tuple(tensor.shape)
    if len(shape) != 4 or shape[1] < 1:
        raise BackendError(
            f"{onnx_name}: input {tensor.name!r} has shape {shape}, not N x C x H x W with a fixed C, so vsr cannot give it "
            "an optimisation profile (export it with `vsr export`)"
        )
    return int(shape[1])


def deserialize(data: bytes, *, trt: Any = None) -> LoadedEngine | None:
    """The engine in ``data``, or None when this TensorRT/GPU cannot load it."""
    trt = trt or import_tensorrt()
    logger = make_logger(trt)
    logger.errors.clear()
    runtime = trt.Runtime(logger)
    if runtime is None:
        raise BackendError(f"TensorRT could not create a runtime: {logger.last_error()}")
    engine = runtime.deserialize_cuda_engine(data)
    return None if engine is None else LoadedEngine(runtime, engine, logger)


def timing_cache_path(directory: Path, spec: EngineSpec) -> Path:
    """One timing cache per TensorRT version, GPU and precision (it is only valid for those)."""
    import hashlib

    key = hashlib.sha256(f"{spec.tensorrt_version}|{spec.gpu_name}|{spec.compute_capability}|{spec.precision}".encode()).hexdigest()[:12]
    return directory / TIMING_CACHE_NAME.format(key=key)


def ensure_engine(spec: EngineSpec, onnx_path: Path, directory: Path, *, trt: Any = None) -> tuple[LoadedEngine, Path, bool]:
    """Load the cached engine for ``spec`` or build it (once, under a lock)."""
    trt = trt or import_tensorrt()
    return get_or_build(
        spec,
        directory,
        build=lambda: build_serialized(
            onnx_path,
            precision=spec.precision,
            profile=spec.profile,
            opt_level=spec.opt_level,
            timing_cache=timing_cache_path(directory, spec),
            trt=trt,
        ),
        load=lambda data: deserialize(data, trt=trt),
    )

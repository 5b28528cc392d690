"""Load a model from a registry name or a checkpoint file, detecting its architecture.

    model = load_model("RealESRGAN_x4plus")       # published, after `vsr models download`
    model.module, model.scale, model.size_multiple  # the network and what callers need to know of it
    net = load("weights/my_edsr.safetensors")      # just the nn.Module; any supported layout, no hints needed
    arch, scale = inspect("edsr_x3-ea3ef2c6.pt")

Safety: ``.pth``/``.pt`` files are read with ``torch.load(weights_only=True)`` only; a pickle that
would run code is refused with a ModelError before anything runs. Prefer ``.safetensors``.

Containers are unwrapped (``params_ema`` preferred over ``params``, then ``state_dict``,
``model``, ``net_g``; a ``module.`` prefix from DataParallel is stripped). Architecture and
hyper-parameters come from ``vsr.models.architectures``; values the weights cannot show come from the
file's ``vsr`` metadata (written by ``save``), then the registry entry, then the caller's overrides.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsr.atomic import atomic_path
from vsr.errors import ModelError
from vsr.models import registry
from vsr.models.loaded import LoadedModel
from vsr.models.spec import Architecture, Detected

CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")
META_KEY = "vsr"


def architecture(name: str) -> Architecture:
    """An architecture by name or alias; a ModelError naming the supported ones otherwise."""
    from vsr.models import architectures

    found = architectures.get(name)
    if found is None:
        raise ModelError(f"unknown architecture {name!r}; supported: {', '.join(architectures.supported())}")
    return found


def build(arch: str, **kwargs: Any) -> nn.Module:
    """Construct an architecture by name with keyword hyper-parameters (random weights)."""
    return architecture(arch).module(**kwargs)


# ---------------------------------------------------------------- reading files


def _refuse(path: Path, exc: BaseException) -> ModelError:
    return ModelError(
        f"{path}: vsr refuses to unpickle code from this file ({str(exc).splitlines()[0][:160]}); "
        "it is either not a plain weights file or unsafe. Convert it to .safetensors in a trusted environment"
    )


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refuse(path, exc) from None
    except RuntimeError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            raise _refuse(path, exc) from None
        raise ModelError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    except (EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap(obj: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Find the state dict inside a publisher's container; return it and any ``vsr`` metadata."""
    meta: dict[str, Any] = {}
    for _ in range(4):
        if not isinstance(obj, dict):
            break
        if isinstance(obj.get(META_KEY), dict):
            meta = dict(obj[META_KEY])
        if _is_state_dict(obj):
            break
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
            obj = tensors  # e.g. a state dict next to scalar bookkeeping
            break
        obj = inner
    if not _is_state_dict(obj):
        raise ModelError(
            "no state dict found in the checkpoint (looked for tensors at the top level and under "
            f"{', '.join(CONTAINER_KEYS)}); a pickled whole model is not supported: save its state_dict()"
        )
    state = dict(obj)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state, meta


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint file's state dict (unwrapped) and its ``vsr`` metadata."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise ModelError(f"{path}: not a readable safetensors file ({exc})") from exc
        return unwrap(state)[0], _safetensors_header(path)[1]
    return unwrap(_torch_load(path))


def _safetensors_header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    """Shapes and ``vsr`` metadata from a safetensors header, without reading the tensors."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from exc
    raw_meta = header.pop("__metadata__", None) or {}
    meta: dict[str, Any] = {}
    if META_KEY in raw_meta:
        try:
            meta = json.loads(raw_meta[META_KEY])
        except ValueError:
            meta = {}
    shapes = {k: tuple(v["shape"]) for k, v in header.items()}
    if all(k.startswith("module.") for k in shapes):
        shapes = {k[len("module."):]: v for k, v in shapes.items()}
    return shapes, meta


# ---------------------------------------------------------------- detection


def _describe(shapes: dict[str, tuple[int, ...]]) -> str:
    keys = sorted(shapes)
    sample = ", ".join(f"{k} {list(shapes[k])}" for k in keys[:5])
    return f"{len(keys)} tensors, e.g. {sample}"


def _resolve(
    shapes: dict[str, tuple[int, ...]],
    meta: dict[str, Any],
    *,
    arch: str | None,
    hints: dict[str, Any],
    overrides: dict[str, Any],
    where: str,
) -> Detected:
    from vsr.models import architectures

    wanted = architecture(arch).name if arch is not None else None
    found = architectures.detect(shapes, arch=wanted)
    if found is None:
        what = f"does not look like {wanted}" if wanted else "has an unrecognised layout"
        raise ModelError(
            f"{where} {what} ({_describe(shapes)}); supported architectures: "
            f"{', '.join(architectures.supported())}"
        )
    if meta.get("arch") == found.arch:
        found.kwargs.update({k: v for k, v in meta.items() if k != "arch" and k in found.guessed | set(found.kwargs)})
    found.kwargs.update({k: v for k, v in hints.items() if k in found.guessed})
    found.kwargs.update({k: v for k, v in overrides.items() if v is not None})
    if "kernel_sizes" in found.kwargs:
        found.kwargs["kernel_sizes"] = tuple(found.kwargs["kernel_sizes"])
    return found


# ---------------------------------------------------------------- public API


def load_model(
    source: str | Path,
    *,
    arch: str | None = None,
    device: str | torch.device = "cpu",
    **overrides: Any,
) -> LoadedModel:
    """A ready model (eval mode) and its description, from a registry name or checkpoint path.

    ``arch`` restricts detection to one architecture (aliases such as ``esrgan`` accepted);
    ``overrides`` (e.g. ``scale=3`` for SRCNN/VDSR, ``res_scale=0.1`` for EDSR) replace detected values.
    """
    path, hints = registry.weights_file(source)
    state, meta = read_state_dict(path)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    found = _resolve(shapes, meta, arch=arch, hints=hints, overrides=overrides, where=str(path))
    spec = architecture(found.arch)
    if spec.refine is not None:
        spec.refine(state, found)
    model = spec.module(**found.kwargs)
    try:
        model.load_state_dict(spec.to_module_keys(state, found), strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:300]
        raise ModelError(f"{path}: weights do not fit {found.arch} {found.kwargs}: {first}") from exc
    return LoadedModel.of(model.eval().to(device), source=str(source))


def load(source: str | Path, *, arch: str | None = None, device: str | torch.device = "cpu", **overrides: Any) -> nn.Module:
    """The module alone of ``load_model`` (``.scale``, ``.arch`` and ``.config`` as attributes)."""
    return load_model(source, arch=arch, device=device, **overrides).module


def inspect(source: str | Path, *, arch: str | None = None) -> tuple[str, int]:
    """``(arch, scale)`` of a checkpoint or registry name; safetensors answer from the header only.
    ``arch`` overrides detection, as in ``load``."""
    path = Path(source)
    if not path.is_file():
        entry = next((e for e in registry.SHIPPED if e.name == str(source)), None) or registry.find(str(source))
        if entry is not None:
            return entry.arch, entry.scale
        path, _ = registry.weights_file(source)
    if path.suffix == ".safetensors":
        shapes, meta = _safetensors_header(path)
    else:
        state, meta = read_state_dict(path)
        shapes = {k: tuple(v.shape) for k, v in state.items()}
    found = _resolve(shapes, meta, arch=arch, hints={}, overrides={}, where=str(path))
    return found.arch, int(found.kwargs["scale"])


def save(model: nn.Module, path: str | Path, *, notes: dict[str, str] | None = None) -> Path:
    """Write weights plus ``vsr`` metadata (arch and hyper-parameters); atomically (temp + rename).

    ``.safetensors`` (preferred) stores the metadata in its header, with ``notes`` (e.g. a training
    run's step and validation PSNR) as extra header entries; ``.pth`` stores
    ``{"params": state_dict, "vsr": {...}}``, which ``torch.load(weights_only=True)`` reads.
    """
    path = Path(path)
    meta = {"arch": model.arch, **model.config}
    meta = {k: list(v) if isinstance(v, tuple) else v for k, v in meta.items()}
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(tmp), metadata={**(notes or {}), META_KEY: json.dumps(meta)})
        else:
            torch.save({"params": state, META_KEY: meta}, str(tmp))
    return path

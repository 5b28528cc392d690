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

import functools
import json
import pickle
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsr.atomic import atomic_path
from vsr.errors import ModelError, UnsupportedModelError
from vsr.models import registry
from vsr.models.loaded import LoadedModel, ModelFacts
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
        raise UnsupportedModelError(f"{path}: not a readable PyTorch checkpoint ({_first_line(exc)})") from exc
    except (EOFError, OSError, ValueError) as exc:
        raise UnsupportedModelError(f"{path}: not a readable PyTorch checkpoint ({_first_line(exc)}): truncated or not a model?") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


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


def read_checkpoint(path: str | Path) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """A checkpoint file as read (tensors, possibly in a publisher's wrapping), its ``vsr`` metadata and
    the descriptive metadata it carries (licence, author, description...)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            raw = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise UnsupportedModelError(f"{path}: not a readable safetensors file ({exc})") from exc
        header_meta, described = _safetensors_metadata(path)
        return raw, header_meta, described
    raw = _torch_load(path)
    described = {k: v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, dict) else {}
    return raw, {}, _descriptive(described)


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint file's state dict (unwrapped) and its ``vsr`` metadata."""
    raw, header_meta, _ = read_checkpoint(path)
    state, meta = unwrap(raw)
    return state, header_meta or meta


DESCRIPTIVE = ("licen", "author", "descr", "title", "name", "url", "source", "date", "version", "architecture")


def _descriptive(meta: dict[str, Any]) -> dict[str, str]:
    """Entries of a file's metadata a user wants to see (licence, author, description, ...)."""
    return {k: str(v)[:300] for k, v in meta.items()
            if isinstance(v, str) and k != META_KEY and any(word in k.lower() for word in DESCRIPTIVE)}


def _safetensors_metadata(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    raw_meta = _safetensors_header(path, raw=True)[1]
    return _vsr_metadata(raw_meta), _descriptive(raw_meta)


def _vsr_metadata(raw_meta: dict[str, Any]) -> dict[str, Any]:
    """The ``vsr`` entry of a safetensors ``__metadata__`` (what ``save`` wrote), or {}."""
    try:
        return json.loads(raw_meta[META_KEY]) if META_KEY in raw_meta else {}
    except ValueError:
        return {}


def _safetensors_header(path: Path, *, raw: bool = False) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    """Shapes and ``vsr`` metadata (``raw``: the whole ``__metadata__``) from a safetensors header,
    without reading the tensors."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error) as exc:
        raise UnsupportedModelError(f"{path}: not a readable safetensors file ({exc})") from exc
    raw_meta = header.pop("__metadata__", None) or {}
    if raw:
        return {}, dict(raw_meta)
    meta = _vsr_metadata(raw_meta)
    shapes = {k: tuple(v["shape"]) for k, v in header.items()}
    if all(k.startswith("module.") for k in shapes):
        shapes = {k[len("module."):]: v for k, v in shapes.items()}
    return shapes, meta


# ---------------------------------------------------------------- detection


def _describe(shapes: dict[str, tuple[int, ...]]) -> str:
    keys = sorted(shapes)
    sample = ", ".join(f"{k} {list(shapes[k])}" for k in keys[:5])
    return f"{len(keys)} tensors, e.g. {sample}"


def _detect(
    shapes: dict[str, tuple[int, ...]],
    meta: dict[str, Any],
    *,
    arch: str | None,
    hints: dict[str, Any],
    overrides: dict[str, Any],
) -> Detected | None:
    """vsr's own shape-only detection (``arch``: of that architecture only); None when no layout fits
    (or ``arch`` is one of spandrel's architectures only)."""
    from vsr.models import architectures

    own = _own_arch(arch)
    if arch is not None and own is None:
        return None
    found = architectures.detect(shapes, arch=own)
    if found is None:
        return None
    if meta.get("arch") == found.arch:
        found.kwargs.update({k: v for k, v in meta.items() if k != "arch" and k in found.guessed | set(found.kwargs)})
    found.kwargs.update({k: v for k, v in hints.items() if k in found.guessed})
    found.kwargs.update({k: v for k, v in overrides.items() if v is not None})
    if "kernel_sizes" in found.kwargs:
        found.kwargs["kernel_sizes"] = tuple(found.kwargs["kernel_sizes"])
    return found


def _own_arch(arch: str | None) -> str | None:
    """vsr's name for ``--arch``; None when it is None or only spandrel knows it; a ModelError naming
    both lists when neither does."""
    from vsr.models import architectures

    if arch is None:
        return None
    if (own := architectures.get(arch)) is not None:
        return own.name
    from vsr.models.spandrel_net import spandrel_architecture, spandrel_names

    if spandrel_architecture(arch) is None:
        raise ModelError(f"unknown architecture {arch!r}; vsr's: {', '.join(architectures.supported())} "
                         f"(and aliases such as esrgan, compact); spandrel's: {', '.join(spandrel_names())}")
    return None


def _unrecognised(where: str, shapes: dict[str, tuple[int, ...]], arch: str | None) -> UnsupportedModelError:
    from vsr.models import architectures

    if arch is not None:
        from vsr.models.spandrel_net import spandrel_architecture

        theirs = spandrel_architecture(arch)
        names = [architecture(arch).name] if architectures.get(arch) else []
        names += [f"spandrel's {theirs.architecture.id}"] if theirs else []
        return UnsupportedModelError(f"{where} does not look like {' or '.join(names)} ({_describe(shapes)}); "
                                     "leave out --arch to let vsr and spandrel detect it")
    return UnsupportedModelError(
        f"{where} has an unrecognised layout ({_describe(shapes)}): neither vsr's architectures "
        f"({', '.join(architectures.supported())}) nor spandrel's know it; vsr loads state dicts "
        "(.pth/.pt/.ckpt/.safetensors) of those and ONNX graphs (.onnx)"
    )


def _why_vsr(found: Detected) -> str:
    layout = f", {found.layout} key layout" if found.layout else ""
    return f"vsr's own {found.arch}{layout}, detected from the tensor shapes"


def _build(path: Path, state: dict[str, torch.Tensor], found: Detected) -> nn.Module:
    spec = architecture(found.arch)
    if spec.refine is not None:
        spec.refine(state, found)
    model = spec.module(**found.kwargs)
    try:
        model.load_state_dict(spec.to_module_keys(state, found), strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:300]
        raise UnsupportedModelError(f"{path}: weights do not fit {found.arch} {found.kwargs}: {first}") from exc
    return model.eval()


# ---------------------------------------------------------------- public API


def is_chain(source: str | Path) -> bool:
    """Whether a ``--model`` value is a chain ``A+B[+C...]`` (a file whose name has a '+' is a file)."""
    text = str(source)
    return "+" in text and not Path(text).expanduser().is_file()


def load_model(
    source: str | Path,
    *,
    arch: str | None = None,
    device: str | torch.device = "cpu",
    **overrides: Any,
) -> LoadedModel:
    """A ready model (eval mode) and its description, from a registry name, checkpoint, ONNX graph or chain.

    The one resolver of ``--model FILE``: a chain ``A+B`` loads each link (``vsr.models.chain``); an
    ``.onnx`` file runs in ONNX Runtime (``vsr.models.onnx_net``); any other file is read safely and
    detected by vsr's own architectures first (shape-only), then by spandrel (``vsr.models.spandrel_net``).
    ``LoadedModel.facts`` says which loader took it and why.

    ``arch`` restricts detection to one architecture: vsr's (aliases such as ``esrgan`` accepted), then
    spandrel's of that name (``DAT``, ``HAT``, ``ESRGAN``...; case-insensitive);
    ``overrides`` (e.g. ``scale=3`` for SRCNN/VDSR, ``res_scale=0.1`` for EDSR) replace detected values.
    """
    if is_chain(source):
        from vsr.models.chain import load_chain

        return load_chain(str(source), arch=arch, device=device)
    path, hints = registry.weights_file(source)
    if path.suffix.lower() == ".onnx":
        from vsr.models.onnx_net import load_onnx

        return load_onnx(path, device=device)
    raw, header_meta, described = read_checkpoint(path)
    try:
        state, meta = unwrap(raw)
    except ModelError:
        state, meta = {}, {}
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    found = _detect(shapes, header_meta or meta, arch=arch, hints=hints, overrides=overrides) if state else None
    if found is not None:
        model = _build(path, state, found).to(device)
        loaded = LoadedModel.of(model, source=str(source))
        facts = replace(loaded.describe(), why=_why_vsr(found), metadata=described)
        return replace(loaded, facts=facts)
    from vsr.models.spandrel_net import load_spandrel, spandrel_architecture

    if arch is not None and spandrel_architecture(arch) is None:
        raise _unrecognised(str(path), shapes, arch)
    loaded = load_spandrel(raw if isinstance(raw, dict) else {}, str(path), described, arch=arch)
    if loaded is None:
        raise _unrecognised(str(path), shapes, arch)
    loaded.module.to(device)
    return loaded


def load(source: str | Path, *, arch: str | None = None, device: str | torch.device = "cpu", **overrides: Any) -> nn.Module:
    """The module alone of ``load_model`` (``.scale``, ``.arch`` and ``.config`` as attributes)."""
    return load_model(source, arch=arch, device=device, **overrides).module


def describe(source: str | Path, *, arch: str | None = None) -> ModelFacts:
    """What a model is (loader and why, scale, channels, precisions, size multiple, metadata).

    Registry names answer from the registry and safetensors of vsr's architectures from the header,
    without reading tensors; anything else is loaded (once per file and modification time)."""
    text = str(source)
    path = Path(text).expanduser()
    if not is_chain(text) and not path.is_file():
        entry = next((e for e in registry.SHIPPED if e.name == text), None) or registry.find(text)
        if entry is not None:
            return ModelFacts(entry.arch, entry.scale, "vsr", f"vsr's own {entry.arch} (registry entry {entry.name})",
                              metadata={k: v for k, v in (("licence", entry.licence), ("description", entry.description)) if v},
                              source=text)
        path, _ = registry.weights_file(source)
    if not is_chain(text) and path.suffix == ".safetensors":
        shapes, meta = _safetensors_header(path)
        found = _detect(shapes, meta, arch=arch, hints={}, overrides={})
        if found is not None:
            return ModelFacts(found.arch, int(found.kwargs["scale"]), "vsr", _why_vsr(found),
                              metadata=_safetensors_metadata(path)[1], source=text)
    stamp = None if is_chain(text) else path.stat().st_mtime_ns
    return _loaded_facts(text if is_chain(text) else str(path), arch, stamp)


@functools.lru_cache(maxsize=32)
def _loaded_facts(source: str, arch: str | None, stamp: int | None) -> ModelFacts:
    return load_model(source, arch=arch).describe()


def inspect(source: str | Path, *, arch: str | None = None) -> tuple[str, int]:
    """``(arch, scale)`` of a checkpoint, ONNX graph, chain or registry name (``describe``)."""
    facts = describe(source, arch=arch)
    return facts.arch, facts.scale


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

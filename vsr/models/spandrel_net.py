"""Architectures vsr does not define itself, loaded by spandrel (chaiNNer's loader, MIT).

``vsr.models.loader`` comes here when its own shape-only detection does not recognise a state dict.
The file has already been read safely by vsr (``torch.load(weights_only=True)`` or safetensors), so
spandrel only sees tensors; its own file reader (which tries TorchScript for ``.pt``) is not used.
The descriptor's facts (scale, channels, size requirements, fp16/bf16 support, tiling advice,
purpose) become ``ModelFacts``; the network runs through spandrel's per-architecture call function
(DnCNN's noise-level default, FBCNN's first output, ...) inside ``ForeignNet``'s padding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from vsr.errors import UnsupportedModelError
from vsr.models.foreign import ForeignNet
from vsr.models.loaded import LOADER_WHY, LoadedModel, ModelFacts


class SpandrelNet(ForeignNet):
    """A spandrel ``ImageModelDescriptor``'s network as a vsr network (see ``ForeignNet``)."""

    def __init__(self, descriptor: Any, where: str) -> None:
        req = descriptor.size_requirements
        super().__init__(arch=descriptor.architecture.name, scale=descriptor.scale,
                         in_channels=descriptor.input_channels, out_channels=descriptor.output_channels,
                         multiple=req.multiple_of, minimum=req.minimum, square=req.square, where=where)
        self.net = descriptor.model
        # spandrel's call function for this architecture (its public __call__ wraps it in inference_mode,
        # which ONNX export cannot trace); custom ones build per-image extras (noise maps) for batch 1
        self._call: Callable[[Any, torch.Tensor], torch.Tensor] = getattr(descriptor, "_call_fn", None) or (lambda m, x: m(x))
        self._per_image = not getattr(self._call, "__qualname__", "").startswith("ImageModelDescriptor.")

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if self._per_image and x.shape[0] > 1:
            return torch.cat([self._call(self.net, x[i : i + 1]) for i in range(x.shape[0])])
        return self._call(self.net, x)


def _precisions(descriptor: Any) -> tuple[str, ...]:
    return ("fp32",) + (("fp16",) if descriptor.supports_half else ()) + (("bf16",) if descriptor.supports_bfloat16 else ())


def spandrel_architecture(name: str) -> Any | None:
    """spandrel's architecture (its ``ArchSupport``) whose id or name is ``name``, case-insensitively; None if none."""
    import spandrel

    key = name.lower()
    return next((s for s in spandrel.MAIN_REGISTRY.architectures()
                 if key in (s.architecture.id.lower(), s.architecture.name.lower())), None)


def spandrel_names() -> list[str]:
    """The architecture ids spandrel loads (what ``--arch`` takes beside vsr's own names)."""
    import spandrel

    return sorted((s.architecture.id for s in spandrel.MAIN_REGISTRY.architectures()), key=str.lower)


def load_spandrel(raw: Mapping[str, Any], where: str, metadata: Mapping[str, str], why: str = "", *,
                  arch: str | None = None) -> LoadedModel | None:
    """The network in ``raw`` (a checkpoint as read, in any wrapping spandrel knows); None when spandrel
    does not know the layout (with ``arch``, a spandrel architecture name: when it is not that one), an
    UnsupportedModelError when it knows it but cannot use it."""
    import spandrel

    state = spandrel.canonicalize_state_dict(dict(raw))
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    support = spandrel_architecture(arch) if arch is not None else None
    if support is not None and not support.detect(state):
        return None  # the caller says what --arch did not match
    try:
        descriptor = support.architecture.load(state) if support else spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        return None  # the caller names what neither loader knew
    except (RuntimeError, KeyError, ValueError, AssertionError, TypeError, IndexError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise UnsupportedModelError(f"{where}: spandrel recognised the layout but could not load it ({first})") from exc
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise UnsupportedModelError(
            f"{where}: a {descriptor.architecture.name} {descriptor.purpose} model needs a mask as well as the picture; "
            "vsr runs networks that take a frame and give a frame")
    net = SpandrelNet(descriptor, where).eval()
    facts = ModelFacts(
        arch=net.arch, scale=net.scale, loader="spandrel", why=why or f"{LOADER_WHY['spandrel']} as {net.arch}",
        size_multiple=net.size_multiple, in_channels=descriptor.input_channels,
        out_channels=descriptor.output_channels, precisions=_precisions(descriptor),
        tiling=descriptor.tiling.name.lower(), purpose=descriptor.purpose,
        params=sum(p.numel() for p in net.parameters()), metadata=dict(metadata), source=where,
    )
    return LoadedModel(net, net.arch, net.scale, net.size_multiple, 3, {"tags": list(descriptor.tags)}, where, facts)

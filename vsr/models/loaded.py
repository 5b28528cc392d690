"""A network ready to run, with the facts its callers need (``vsr.models.loader.load_model`` makes it).

Backends, ``vsr bench``, ONNX export, the plan and ``vsr models info`` read the scale, the input
size multiple, the channels, the precisions the network computes correctly and who loaded it here,
rather than probing the module's attributes each on their own. ``ModelFacts`` is the torch-free
part (what ``vsr.models.loader.describe`` answers without building the module when it can).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

ALL_PRECISIONS = ("fp32", "fp16", "bf16")
LOADER_WHY = {  # loader -> why it took the file (ModelFacts.why gives the detail)
    "vsr": "vsr's own architecture, detected from the tensor shapes",
    "spandrel": "not one of vsr's architectures; spandrel recognised it",
    "onnxruntime": "an ONNX graph, run by ONNX Runtime",
    "chain": "links run back to back on the device",
}


@dataclass(frozen=True)
class ModelFacts:
    """What a model is and needs: the plan and ``vsr models info`` read these."""

    arch: str
    scale: int  # output pixels per input pixel, each way (1: restoration)
    loader: str = "vsr"  # vsr | spandrel | onnxruntime | chain (LOADER_WHY)
    why: str = ""  # one line: why this loader took it
    size_multiple: int = 1  # input height and width are padded to multiples of it (then cropped)
    in_channels: int = 3
    out_channels: int = 3
    precisions: tuple[str, ...] = ALL_PRECISIONS  # the formats the network computes correctly in
    tiling: str = "supported"  # supported | discouraged | internal (spandrel's advice)
    purpose: str = "SR"  # SR | Restoration | FaceSR
    params: int = 0  # parameter count (0: unknown, e.g. ONNX graphs report initialisers)
    metadata: Mapping[str, str] = field(default_factory=dict)  # licence, author, description the file carries
    links: tuple[ModelFacts, ...] = ()  # a chain's links, in order
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "links"}
        d["metadata"], d["precisions"] = dict(self.metadata), list(self.precisions)
        d["links"] = [link.to_dict() for link in self.links]
        return d


@dataclass(frozen=True, eq=False)
class LoadedModel:
    module: nn.Module
    arch: str
    scale: int  # output pixels per input pixel, each way
    size_multiple: int = 1  # input height and width must be multiples of it
    in_channels: int = 3
    config: Mapping[str, Any] = field(default_factory=dict)  # constructor keyword arguments (saved as metadata)
    source: str | None = None  # registry name or file it was loaded from; None when built in memory
    facts: ModelFacts | None = None  # None: a vsr architecture built in memory (see ``describe``)

    @classmethod
    def of(cls, module: nn.Module, source: str | None = None, facts: ModelFacts | None = None) -> LoadedModel:
        """Describe a module: an architecture of ``vsr.models`` (``SRModel``), or any module with a ``scale``."""
        from torch import nn

        config = dict(getattr(module, "config", {}))
        first = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
        channels = config.get("in_channels", first.in_channels if first is not None else 3)
        return cls(module, getattr(module, "arch", type(module).__name__), int(module.scale),
                   int(getattr(module, "size_multiple", 1)), int(channels), config, source, facts)

    def describe(self) -> ModelFacts:
        """The model's facts (a vsr architecture: every precision, no metadata)."""
        if self.facts is not None:
            return self.facts
        params = sum(p.numel() for p in self.module.parameters())
        return ModelFacts(self.arch, self.scale, "vsr", LOADER_WHY["vsr"], self.size_multiple, self.in_channels,
                          self.in_channels, params=params, source=self.source)

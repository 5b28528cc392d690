"""A network ready to run, with the facts its callers need (``vsr.models.loader.load_model`` makes it).

Backends, ``vsr bench`` and ONNX export read the scale, the input size multiple and the input
channels here rather than probing the module's attributes each on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, eq=False)
class LoadedModel:
    module: nn.Module
    arch: str
    scale: int  # output pixels per input pixel, each way
    size_multiple: int = 1  # input height and width must be multiples of it
    in_channels: int = 3
    config: Mapping[str, Any] = field(default_factory=dict)  # constructor keyword arguments (saved as metadata)
    source: str | None = None  # registry name or file it was loaded from; None when built in memory

    @classmethod
    def of(cls, module: nn.Module, source: str | None = None) -> LoadedModel:
        """Describe a module: an architecture of ``vsr.models`` (``SRModel``), or any module with a ``scale``."""
        from torch import nn

        config = dict(getattr(module, "config", {}))
        first = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
        channels = config.get("in_channels", first.in_channels if first is not None else 3)
        return cls(module, getattr(module, "arch", type(module).__name__), int(module.scale),
                   int(getattr(module, "size_multiple", 1)), int(channels), config, source)

"""Super-resolution models: architectures, detection from state dicts, registry of weights.

Importing this package does not import torch; ``load`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn


def load(source: str | Path, *, arch: str | None = None, **kwargs: Any) -> nn.Module:
    """Load a model by registry name or file path (see ``vsr.models.loader.load``)."""
    from vsr.models.loader import load as _load

    return _load(source, arch=arch, **kwargs)


def inspect(source: str | Path) -> tuple[str, int]:
    """``(arch, scale)`` of a checkpoint or registry name (see ``vsr.models.loader.inspect``)."""
    from vsr.models.loader import inspect as _inspect

    return _inspect(source)


def build(arch: str, **kwargs: Any) -> nn.Module:
    """A fresh architecture by name with keyword hyper-parameters (``vsr.models.loader.build``)."""
    from vsr.models.loader import build as _build

    return _build(arch, **kwargs)

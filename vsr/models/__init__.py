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

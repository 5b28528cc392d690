"""What an architecture file declares: its layouts (detection from shapes, key conversion).

Detection works on ``{key: shape}`` only, so ``vsr.models.loader.inspect`` can answer from a
safetensors header without reading the tensors. Hyper-parameters the weights cannot show are
*guessed* and listed in ``Detected.guessed``; the file's ``vsr`` metadata (written by
``vsr.models.loader.save``), a registry entry or the caller may replace them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

Shapes = Mapping[str, tuple[int, ...]]
StateDict = dict[str, Any]  # parameter name -> torch.Tensor


@dataclass
class Detected:
    """An architecture recognised in a state dict: its keyword hyper-parameters and layout."""

    arch: str
    kwargs: dict[str, Any]
    guessed: set[str] = field(default_factory=set)
    layout: str = ""  # publisher layout whose keys are renamed before loading ("basicsr", "esrgan")


@dataclass(frozen=True)
class Layout:
    """One publisher's key layout: the keys it must have, how to read it, how to rename it to ours.

    ``read`` gets the shapes once ``required`` keys are present and returns the hyper-parameters
    (or None when the shapes do not fit after all); ``convert`` maps its state dict onto the module's
    own names (None: the names are already ours).
    """

    name: str
    required: frozenset[str]
    read: Callable[[Shapes], Detected | None]
    convert: Callable[[StateDict, Detected], StateDict] | None = None

    def detect(self, shapes: Shapes) -> Detected | None:
        if not self.required <= shapes.keys():
            return None
        found = self.read(shapes)
        if found is not None and self.convert is not None:
            found.layout = self.name
        return found


@dataclass(frozen=True)
class Architecture:
    """Everything vsr knows about one architecture; each ``vsr/models/<arch>.py`` exports one.

    ``refine`` may fill guessed hyper-parameters from tensor values (EDSR's ``rgb_range``) before
    the module is built; ``prepare`` completes a state dict in our names (constants that a
    publisher does not store). ``upsampler``: name prefixes of the parameters whose shapes depend
    on the scale (``vsr train --init`` from another scale copies everything else).
    """

    name: str
    module: type[nn.Module]
    layouts: tuple[Layout, ...]
    aliases: tuple[str, ...] = ()
    upsampler: tuple[str, ...] = ()
    refine: Callable[[StateDict, Detected], None] | None = None
    prepare: Callable[[StateDict, Detected], StateDict] | None = None

    def detect(self, shapes: Shapes) -> Detected | None:
        for layout in self.layouts:
            found = layout.detect(shapes)
            if found is not None:
                return found
        return None

    def to_module_keys(self, state: StateDict, found: Detected) -> StateDict:
        layout = next((lay for lay in self.layouts if lay.name == found.layout), None)
        if layout is not None and layout.convert is not None:
            state = layout.convert(state, found)
        return self.prepare(state, found) if self.prepare is not None else state


# ---------------------------------------------------------------- shape helpers for ``read``


def indices(shapes: Shapes, pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern``'s first group over the key names."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in shapes if (m := rx.fullmatch(k))})


def isqrt_exact(n: int) -> int | None:
    r = math.isqrt(n)
    return r if r * r == n else None


def shuffle_scale(stages: list[int], first_out: int, features: int) -> int | None:
    """Scale of a conv + PixelShuffle upsampler: one x3 stage (9F channels) or x2 stages (4F each)."""
    if len(stages) == 1 and first_out == 9 * features:
        return 3
    if stages and first_out == 4 * features:
        return 2 ** len(stages)
    return None

"""A ``--model`` value resolved into what to load: the one model-name lookup (plan, eval, bench).

A chain ``A+B`` resolves link by link: its native scales are the products of the links' (a family
link such as ``edsr-baseline`` contributes each of its members). Torch-free until a file's facts
must be read from the file (``vsr.models.loader.describe``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vsr.errors import UsageError
from vsr.models import registry

if TYPE_CHECKING:
    from vsr.models.loaded import ModelFacts


@dataclass(frozen=True)
class Resolved:
    """A ``--model`` value resolved: a resampler (no scales), or the load source of each native scale."""

    name: str
    scales: dict[int, str]

    @property
    def is_resampler(self) -> bool:
        return not self.scales

    def source(self, scale: int) -> str:
        """The source ``vsr.models.load`` takes for the member of native scale ``scale``."""
        if scale not in self.scales:
            have = ", ".join(f"x{s}" for s in sorted(self.scales))
            raise UsageError(f"model {self.name!r} upscales {have}, not x{scale}: pick --scale from those")
        return self.scales[scale]

    def facts(self, scale: int, *, arch: str | None = None) -> ModelFacts:
        """What the member of native scale ``scale`` is: loader and why, precisions, links, ..."""
        from vsr.models.loader import describe

        return describe(self.source(scale), arch=arch)


def resolve(name: str | None, *, arch: str | None = None) -> Resolved:
    """The one lookup of a model name (default, resampler, shipped or downloaded family, file path).

    A file's scale is read from its header (``vsr.models.loader.inspect``; ``arch`` as there)."""
    name = name or registry.DEFAULT_MODEL
    from vsr.models.loader import is_chain

    if is_chain(name):
        return _resolve_chain(name)
    if registry.is_resampler(name):
        return Resolved(name.lower(), {})
    scales = registry.family_scales(name)
    path = Path(name).expanduser()
    if not scales and path.is_file():
        from vsr.models.loader import inspect

        scales = {int(inspect(path, arch=arch)[1]): str(path)}
    if not scales:
        raise registry.unknown_model(name)
    return Resolved(name, scales)


def _resolve_chain(name: str) -> Resolved:
    """A chain's native scales: every combination of its links' scales, multiplied (the smallest links win ties)."""
    from vsr.models.chain import split_chain

    links = []
    for link in split_chain(name):
        if registry.is_resampler(link):
            raise UsageError(f"--model {name!r}: {link} is a resampler; a chain links networks (the plan resamples "
                             "the chain's output to the target size itself)")
        links.append(resolve(link))
    scales: dict[int, str] = {}
    for combo in itertools.product(*(sorted(link.scales.items()) for link in links)):
        scales.setdefault(math.prod(s for s, _ in combo), "+".join(source for _, source in combo))
    return Resolved(name, scales)

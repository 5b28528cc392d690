"""A ``--model`` value resolved into what to load: the one model-name lookup (plan, eval, bench).

Torch-free until a file path's scale must be read from the file (``vsr.models.loader.inspect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsr.errors import UsageError
from vsr.models import registry


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


def resolve(name: str | None, *, arch: str | None = None) -> Resolved:
    """The one lookup of a model name (default, resampler, shipped or downloaded family, file path).

    A file's scale is read from its header (``vsr.models.loader.inspect``; ``arch`` as there)."""
    name = name or registry.DEFAULT_MODEL
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

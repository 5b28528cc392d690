"""Which models exist, without importing torch.

Three kinds of names:
- the non-learned resamplers ``bicubic`` and ``lanczos`` (any scale, run by FFmpeg's swscale or torch);
- weights shipped inside the package (``vsr/weights/*.safetensors``), grouped in families whose
  members differ only in scale, so the plan can pick x2/x3/x4 for a target size;
- published checkpoints that ``vsr models download`` fetches into the user cache.
A file path is also a model; its scale is read from the file by ``vsr.models.loader``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vsr.errors import UnknownModelError, UsageError

RESAMPLERS: tuple[str, ...] = ("bicubic", "lanczos")
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

# The default is the shipped EDSR-baseline family (x2/x3/x4, see vsr/weights/edsr_baseline_x*.md).
DEFAULT_MODEL = "edsr-baseline"


@dataclass(frozen=True)
class ModelEntry:
    """One set of weights: where it comes from, what it is, how to verify it."""

    name: str
    arch: str
    scale: int
    filename: str
    family: str = ""
    urls: tuple[str, ...] = ()
    sha256: str = ""
    licence: str = ""
    description: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)


# Weights in vsr/weights/ (added by training runs, see vsr/weights/*.md model cards).
def _edsr_baseline(scale: int, training: str, result: str, variant: str = "") -> ModelEntry:
    family = "edsr-baseline" + (f"-{variant}" if variant else "")
    stem = family.replace("-", "_")
    return ModelEntry(
        name=f"{family}-x{scale}",
        arch="edsr",
        scale=scale,
        filename=f"{stem}_x{scale}.safetensors",
        family=family,
        licence=f"MIT (trained by the vsr project; see {stem}_x{scale}.md for data credits)",
        description=f"EDSR-baseline x{scale} (16x64), {training}, trained on CPU by vsr; {result} (paper protocol)",
    )


ARCHIVE_TRAINING = "fine-tuned from edsr-baseline on compressed input (H.264, MPEG-2, JPEG, light noise; vsr.quality.degrade)"
SHIPPED: tuple[ModelEntry, ...] = (
    _edsr_baseline(2, "L1, L2 fine-tune, then L1 again", "Set5 37.53 dB"),
    _edsr_baseline(3, "L1", "Set5 33.32 dB"),
    _edsr_baseline(4, "L1, L2 fine-tune, then L1 again", "Set5 31.38 dB"),
    # compressed, archive-like input (H.264/MPEG-2/JPEG, light noise): see vsr/weights/edsr_baseline_archive_x*.md
    _edsr_baseline(2, ARCHIVE_TRAINING, "Set14 x2: 27.27 dB on H.264 CRF 28 LR (+0.51 over edsr-baseline), -0.63 on clean LR", "archive"),
    _edsr_baseline(3, ARCHIVE_TRAINING, "Set14 x3: 25.40 dB on H.264 CRF 28 LR (+0.35 over edsr-baseline), -0.30 on clean LR", "archive"),
    _edsr_baseline(4, ARCHIVE_TRAINING, "Set14 x4: 24.28 dB on H.264 CRF 28 LR (+0.36 over edsr-baseline), -0.35 on clean LR", "archive"),
)


def shipped_path(entry: ModelEntry) -> Path:
    return WEIGHTS_DIR / entry.filename


def installed_shipped() -> list[ModelEntry]:
    return [e for e in SHIPPED if shipped_path(e).is_file()]


def family_scales(name: str) -> dict[int, str]:
    """Installed scales of a model or family name -> the source ``vsr.models.load`` accepts."""
    found = {e.scale: e.name for e in installed_shipped() if name in (e.name, e.family)}
    if not found:
        from vsr.models import zoo  # published checkpoints cached by `vsr models download`

        found = zoo.cached_scales(name)
    return found


def is_resampler(name: str) -> bool:
    return name.lower() in RESAMPLERS


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
    name = name or DEFAULT_MODEL
    if is_resampler(name):
        return Resolved(name.lower(), {})
    scales = family_scales(name)
    path = Path(name).expanduser()
    if not scales and path.is_file():
        from vsr.models.loader import inspect

        scales = {int(inspect(path, arch=arch)[1]): str(path)}
    if not scales:
        raise unknown_model(name)
    return Resolved(name, scales)


def known_names() -> list[str]:
    names = list(RESAMPLERS)
    for e in installed_shipped():
        names += [n for n in (e.family, e.name) if n and n not in names]
    return names


def unknown_model(name: str) -> UnknownModelError:
    return UnknownModelError(
        f"unknown model {name!r}: use one of {', '.join(known_names())}, a published name "
        "from `vsr models` (after `vsr models download NAME`), or a path to a .pth/.safetensors file"
    )

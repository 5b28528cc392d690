"""Which models exist, without importing torch.

Three kinds of names:
- the non-learned resamplers ``bicubic`` and ``lanczos`` (any scale, run by FFmpeg's swscale or torch);
- weights shipped inside the package (``vsr/weights/*.safetensors``), grouped in families whose
  members differ only in scale, so the plan can pick x2/x3/x4 for a target size;
- published checkpoints (``PUBLISHED``) that ``vsr models download`` (``vsr.models.zoo``) fetches
  into the user cache.
A file path is also a model; its scale is read from the file by ``vsr.models.loader``. This module
imports nothing else of vsr.models; ``vsr.models.resolver`` turns a ``--model`` value into sources.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.errors import ModelError, UnknownModelError

RESAMPLERS: tuple[str, ...] = ("bicubic", "lanczos")
WEIGHT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".ckpt", ".bin", ".safetensors", ".onnx")
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

# The default is the shipped temporal family (x2/x3/x4, see vsr/weights/temporal_x*.md): on held-out video it
# beats the single-frame edsr-baseline family it was trained from, clean and compressed, in less CPU time.
# vsr upscale runs temporal-archive instead on input it measures as compressed or noisy (vsr.models.default_choice).
DEFAULT_MODEL = "temporal"


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


# Weights in vsr/weights/ (added by training runs, see vsr/weights/*.md model cards).
def _ours(family: str, arch: str, scale: int, description: str) -> ModelEntry:
    stem = family.replace("-", "_")
    return ModelEntry(
        name=f"{family}-x{scale}",
        arch=arch,
        scale=scale,
        filename=f"{stem}_x{scale}.safetensors",
        family=family,
        licence=f"MIT (trained by the vsr project; see {stem}_x{scale}.md for data credits)",
        description=description,
    )


def _edsr_baseline(scale: int, training: str, result: str, variant: str = "") -> ModelEntry:
    family = "edsr-baseline" + (f"-{variant}" if variant else "")
    return _ours(family, "edsr", scale,
                 f"EDSR-baseline x{scale} (16x64), {training}, trained on CPU by vsr; {result} (paper protocol)")


def _temporal(scale: int, result: str, variant: str = "") -> ModelEntry:
    suffix = f"-{variant}" if variant else ""
    return _ours(f"temporal{suffix}", "temporal", scale,
                 f"recurrent, flow-guided EDSR-baseline x{scale} (16x64, direct upsampler; reads its previous output "
                 f"warped by DIS flow; back-projection fusion after it), trained on video from edsr-baseline{suffix} on CPU "
                 f"by vsr; {result}")


ARCHIVE_TRAINING = "fine-tuned from edsr-baseline on compressed input (H.264 CRF 8-34, MPEG-2, light noise; vsr.quality.degrade)"
GAN_TRAINING = ("GAN stage from edsr-baseline-archive (L1 + discriminator feature matching + adversarial, U-Net "
                "discriminator, EMA) on its compressed input")
SHIPPED: tuple[ModelEntry, ...] = (
    _edsr_baseline(2, "L1, L2 fine-tune, then L1 again", "Set5 37.53 dB"),
    _edsr_baseline(3, "L1", "Set5 33.32 dB"),
    _edsr_baseline(4, "L1, L2 fine-tune, then L1 again", "Set5 31.38 dB"),
    # compressed, archive-like input (H.264, MPEG-2, light noise): see vsr/weights/edsr_baseline_archive_x*.md
    _edsr_baseline(2, ARCHIVE_TRAINING, "Set14 x2 over edsr-baseline: +0.41 dB on H.264 CRF 16 LR, +0.84 on CRF 28, -0.16 on clean LR", "archive"),
    _edsr_baseline(3, ARCHIVE_TRAINING, "Set14 x3 over edsr-baseline: +0.24 dB on H.264 CRF 16 LR, +0.46 on CRF 28, -0.43 on clean LR", "archive"),
    _edsr_baseline(4, ARCHIVE_TRAINING, "Set14 x4 over edsr-baseline: +0.21 dB on H.264 CRF 16 LR, +0.57 on CRF 28, -0.25 on clean LR", "archive"),
    # perceptual (sharper texture, lower PSNR): see vsr/weights/edsr_baseline_archive_gan_x*.md
    _edsr_baseline(2, GAN_TRAINING, "held-out video ColorVideoVDP within 0.05 JOD of its parent, PSNR 0.35 dB lower on clean LR", "archive-gan"),
    _edsr_baseline(4, GAN_TRAINING, "held-out video ColorVideoVDP within 0.2 JOD of its parent, PSNR about 1.3 dB lower on clean LR", "archive-gan"),
    # video: each frame upscaled with the previous output, aligned (see vsr/weights/temporal*_x*.md)
    _temporal(2, "held-out video x2 over edsr-baseline: +0.52 dB on clean LR, +0.17 dB on H.264 CRF 25, in the same "
                 "CPU time per frame (the average of a clean and a compressed-clip fine-tune)"),
    _temporal(3, "held-out video x3 over edsr-baseline: +0.80 dB and 19% less tOF on clean LR, +0.07 dB on H.264 "
                 "CRF 25, in 85% of its CPU time per frame"),
    _temporal(4, "held-out video x4 over edsr-baseline: +0.78 dB and 24% less tOF on clean LR, +0.12 dB on H.264 "
                 "CRF 25, in 72% of its CPU time per frame"),
    _temporal(2, "held-out video x2 on H.264 CRF 25 over edsr-baseline-archive: +0.13 dB, tOF 0.525 vs 0.522, "
                 "the same CPU time per frame; -1.2 dB on clean LR", "archive"),
    _temporal(4, "held-out video x4 on H.264 CRF 25 over edsr-baseline-archive: +0.19 dB, tOF 0.859 vs 0.935 "
                 "(bicubic 0.882), in three quarters of its CPU time per frame; -0.46 dB on clean LR", "archive"),
)


def shipped_path(entry: ModelEntry) -> Path:
    return WEIGHTS_DIR / entry.filename


def installed_shipped() -> list[ModelEntry]:
    return [e for e in SHIPPED if shipped_path(e).is_file()]


def family_scales(name: str) -> dict[int, str]:
    """Installed scales of a model or family name -> the source ``vsr.models.load`` accepts."""
    found = {e.scale: e.name for e in installed_shipped() if name in (e.name, e.family)}
    if not found:
        found = cached_scales(name)  # published checkpoints fetched by `vsr models download`
    return found


def is_resampler(name: str) -> bool:
    return name.lower() in RESAMPLERS


def known_names() -> list[str]:
    names = list(RESAMPLERS)
    for e in installed_shipped():
        names += [n for n in (e.family, e.name) if n and n not in names]
    return names


def unknown_model(name: str) -> UnknownModelError:
    return UnknownModelError(
        f"unknown model {name!r}: use one of {', '.join(known_names())}, a published name "
        "from `vsr models` (after `vsr models download NAME`), a path to a .pth/.safetensors/.onnx file, or a chain A+B"
    )


# ---------------------------------------------------------------- published checkpoints (`vsr models download`)

_EDSR_SNU = "https://cv.snu.ac.kr/research/EDSR/models/"
_GDRIVE = "https://drive.google.com/uc?export=download&id="
_REALESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases/download/"
_BASICSR_ZOO = "https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md"


def _snu(name: str, family: str, scale: int, filename: str, desc: str) -> ModelEntry:
    return ModelEntry(
        name=name, arch="edsr", scale=scale, filename=filename, family=family,
        urls=(_EDSR_SNU + filename,), sha256=filename.rsplit("-", 1)[1].split(".")[0],
        licence="MIT (EDSR-PyTorch)", description=desc,
    )


def _basicsr_edsr(size: str, scale: int, file_id: str, digest: str) -> ModelEntry:
    feats = "f64b16" if size == "M" else "f256b32"
    return ModelEntry(
        name=f"basicsr-edsr-{size.lower()}-x{scale}", arch="edsr", scale=scale,
        filename=f"EDSR_{size}x{scale}_{feats}_DIV2K_official-{digest}.pth",
        family=f"basicsr-edsr-{size.lower()}", urls=(_GDRIVE + file_id,), sha256=digest,
        licence="Apache-2.0 (BasicSR)",
        description=f"BasicSR conversion of official EDSR {'baseline' if size == 'M' else 'full'} x{scale} "
        "(Google Drive: large files may need a browser; then use --url file:///path)",
    )


PUBLISHED: tuple[ModelEntry, ...] = (
    _snu("snu-edsr-baseline-x2", "snu-edsr-baseline", 2, "edsr_baseline_x2-1bc95232.pt", "official EDSR baseline 16x64 x2"),
    _snu("snu-edsr-baseline-x3", "snu-edsr-baseline", 3, "edsr_baseline_x3-abf2a44e.pt", "official EDSR baseline 16x64 x3"),
    _snu("snu-edsr-baseline-x4", "snu-edsr-baseline", 4, "edsr_baseline_x4-6b446fab.pt", "official EDSR baseline 16x64 x4"),
    _snu("snu-edsr-x2", "snu-edsr", 2, "edsr_x2-0edfb8a3.pt", "official EDSR 32x256 res_scale 0.1 x2"),
    _snu("snu-edsr-x3", "snu-edsr", 3, "edsr_x3-ea3ef2c6.pt", "official EDSR 32x256 res_scale 0.1 x3"),
    _snu("snu-edsr-x4", "snu-edsr", 4, "edsr_x4-4f62e9ef.pt", "official EDSR 32x256 res_scale 0.1 x4"),
    _basicsr_edsr("M", 2, "1mREMGVDymId3NzIc2u90sl_X4-pb4ZcV", "3ba7b086"),
    _basicsr_edsr("M", 3, "1EriqQqlIiRyPbrYGBbwr_FZzvb3iwqz5", "6908f88a"),
    _basicsr_edsr("M", 4, "1bCK6cFYU01uJudLgUUe-jgx-tZ3ikOWn", "0c287733"),
    _basicsr_edsr("L", 2, "15257lZCRZ0V6F9LzTyZFYbbPrqNjKyMU", "be38e77d"),
    _basicsr_edsr("L", 3, "18q_D434sLG_rAZeHGonAX8dkqjoyZ2su", "3660f70d"),
    _basicsr_edsr("L", 4, "1GCi30YYCzgMCcgheGWGusP9aWKOAy5vl", "76ee1c8f"),
    ModelEntry(
        name="basicsr-msrresnet-x4", arch="msrresnet", scale=4,
        filename="001_MSRResNet_x4_f64b16_DIV2K_1000k_B16G1_wandb.pth", family="basicsr-msrresnet",
        urls=(), licence="Apache-2.0 (BasicSR)",
        description="BasicSR MSRResNet x4 (reproduced experiments, Google Drive folder only: "
        f"see {_BASICSR_ZOO}; fetch net_g_1000000.pth by hand and pass --url file:///path --sha256 HEX)",
    ),
    ModelEntry(
        name="RealESRGAN_x4plus", arch="rrdbnet", scale=4, filename="RealESRGAN_x4plus.pth",
        family="RealESRGAN_plus", urls=(_REALESRGAN + "v0.1.0/RealESRGAN_x4plus.pth",),
        licence="BSD-3-Clause (Real-ESRGAN)", description="Real-ESRGAN general photos, RRDBNet 23 blocks x4",
    ),
    ModelEntry(
        name="RealESRGAN_x2plus", arch="rrdbnet", scale=2, filename="RealESRGAN_x2plus.pth",
        family="RealESRGAN_plus", urls=(_REALESRGAN + "v0.2.1/RealESRGAN_x2plus.pth",),
        licence="BSD-3-Clause (Real-ESRGAN)", description="Real-ESRGAN general photos, RRDBNet x2 (pixel-unshuffle)",
    ),
    ModelEntry(
        name="realesr-animevideov3", arch="srvgg", scale=4, filename="realesr-animevideov3.pth",
        urls=(_REALESRGAN + "v0.2.5.0/realesr-animevideov3.pth",),
        licence="BSD-3-Clause (Real-ESRGAN)", description="Real-ESRGAN anime video, SRVGGNetCompact 16 convs x4",
    ),
    ModelEntry(
        name="realesr-general-x4v3", arch="srvgg", scale=4, filename="realesr-general-x4v3.pth",
        urls=(_REALESRGAN + "v0.2.5.0/realesr-general-x4v3.pth",),
        licence="BSD-3-Clause (Real-ESRGAN)", description="Real-ESRGAN general, SRVGGNetCompact 32 convs x4",
    ),
)


def cache_dir() -> Path:
    """Root of the user cache: ``$VSR_CACHE``, ``$XDG_CACHE_HOME/vsr`` or ``~/.cache/vsr``."""
    if os.environ.get("VSR_CACHE"):
        return Path(os.environ["VSR_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "vsr"


def models_dir() -> Path:
    return cache_dir() / "models"


def find(name: str) -> ModelEntry | None:
    """A published entry by exact name, else case-insensitively."""
    for entry in PUBLISHED:
        if entry.name == name:
            return entry
    lowered = name.lower()
    return next((e for e in PUBLISHED if e.name.lower() == lowered), None)


def cached_path(entry: ModelEntry) -> Path | None:
    path = models_dir() / entry.filename
    return path if path.is_file() else None


def cached_scales(name: str) -> dict[int, str]:
    """Cached published checkpoints of a name or family -> {scale: name}."""
    lowered = name.lower()
    return {
        e.scale: e.name
        for e in PUBLISHED
        if lowered in (e.name.lower(), e.family.lower()) and cached_path(e) is not None
    }


def weights_file(source: str | Path) -> tuple[Path, dict[str, Any]]:
    """The file of a registry name or path, and the hints its entry gives (``{"scale": S}``)."""
    path = Path(source)
    if path.is_file():
        return path, {}
    name = str(source)
    for entry in SHIPPED:
        if name == entry.name:
            shipped = shipped_path(entry)
            if not shipped.is_file():
                raise ModelError(f"shipped weights for {name} are missing from {shipped}; reinstall vsr")
            return shipped, {"scale": entry.scale}
    entry = find(name)
    if entry is not None:
        cached = cached_path(entry)
        if cached is None:
            raise ModelError(f"{entry.name} is not downloaded yet: run `vsr models download {entry.name}`")
        return cached, {"scale": entry.scale}
    if is_resampler(name):
        raise ModelError(f"{name} is a resampler, not a network: it has no weights to load")
    if path.suffix in WEIGHT_SUFFIXES or os.sep in name:
        raise ModelError(f"model file not found: {path}")
    raise unknown_model(name)

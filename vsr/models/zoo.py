"""Published checkpoints: where they come from, how they are verified, and the user cache.

Torch-free. ``vsr models download NAME`` fetches a checkpoint with urllib into the cache
(``$VSR_CACHE``, else ``$XDG_CACHE_HOME/vsr``, else ``~/.cache/vsr``; files under ``models/``),
verifies its sha256, and renames it into place only when it is complete and verified. An
interrupted download resumes with an HTTP Range request. A cached file is used offline.

Hashes: ``sha256`` holds the full digest when the publisher documents one, or the hex *prefix*
the publisher embeds in the file name (EDSR-PyTorch follows torch.hub's ``name-<sha256[:8]>.pt``
convention; BasicSR's ``scripts/publish_models.py`` appends ``sha256[:8]``). Real-ESRGAN publishes
no digest: those downloads need ``--sha256 HEX`` from a source the user trusts, or an explicit
``--accept-unverified`` (the digest is then printed and recorded next to the file).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from vsr.atomic import replace_into, write_bytes
from vsr.errors import ModelError
from vsr.models.registry import ModelEntry

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

ProgressFn = Callable[[int, "int | None"], None]


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


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def digest_matches(digest: str, expected: str) -> bool:
    """Full digest, or a published prefix of at least 8 hex digits."""
    expected = expected.strip().lower()
    return len(expected) >= 8 and digest.startswith(expected)


def _check_hex(value: str) -> str:
    value = value.strip().lower()
    if len(value) < 8 or any(c not in "0123456789abcdef" for c in value):
        raise ModelError(f"--sha256 must be hexadecimal (64 digits, or a published prefix of 8+); got {value!r}")
    return value


def download(
    name: str,
    *,
    url: str | None = None,
    sha256: str | None = None,
    accept_unverified: bool = False,
    retries: int = 3,
    timeout: float = 30.0,
    progress: ProgressFn | None = None,
) -> Path:
    """Fetch a published checkpoint into the cache; return its path (no network if already cached)."""
    entry = find(name)
    if entry is None:
        raise ModelError(
            f"no published model named {name!r}; known: {', '.join(e.name for e in PUBLISHED)}"
        )
    expected = _check_hex(sha256) if sha256 else entry.sha256
    target = models_dir() / entry.filename
    if target.is_file():
        if expected and not digest_matches(sha256_of(target), expected):
            raise ModelError(
                f"cached {target} does not match sha256 {expected}; delete it and download again"
            )
        return target
    if not expected and not accept_unverified:
        raise ModelError(
            f"{entry.name} has no published sha256: pass --sha256 HEX from a source you trust, "
            "or --accept-unverified to record the digest of what you download"
        )
    sources = (url,) if url else entry.urls
    if not sources:
        raise ModelError(f"{entry.name} has no direct download URL: {entry.description}")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    errors: list[str] = []
    for source in sources:
        try:
            _fetch(source, part, retries=retries, timeout=timeout, progress=progress)
        except ModelError as exc:
            errors.append(str(exc))
            continue
        digest = sha256_of(part)
        if expected and not digest_matches(digest, expected):
            hint = ""
            with open(part, "rb") as f:
                if f.read(512).lstrip()[:1] == b"<":
                    hint = " (the server sent a web page: download it in a browser and pass --url file:///path)"
            part.unlink()
            raise ModelError(
                f"sha256 mismatch for {entry.name} from {source}: expected {expected}, got {digest}; "
                f"nothing was kept{hint}"
            )
        replace_into(part, target)
        write_bytes(target.with_name(target.name + ".sha256"), f"{digest}  {target.name}\n".encode())
        return target
    raise ModelError(f"could not download {entry.name}: {'; '.join(errors)}")


def _fetch(url: str, part: Path, *, retries: int, timeout: float, progress: ProgressFn | None) -> None:
    """Download ``url`` into ``part``, resuming from its current size; retry transient failures."""
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(0.5 * 2**attempt, 8.0))
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "vsr"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = getattr(response, "status", 200)
                if have and status != 206:
                    have = 0  # server ignored the range: start again
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else None
                with open(part, "ab" if have else "wb") as out:
                    done = have
                    while block := response.read(1 << 16):
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
                if total is not None and done < total:
                    last = f"connection closed at {done} of {total} bytes"
                    continue
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:
                return  # the part file is already complete; the hash check decides
            if exc.code in (408, 429) or exc.code >= 500:
                last = f"HTTP {exc.code} from {url}"
                continue
            raise ModelError(f"HTTP {exc.code} {exc.reason} from {url}") from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)} ({url})"
            continue
    raise ModelError(f"download failed after {retries + 1} attempts: {last}")

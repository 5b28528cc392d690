"""Downloading published checkpoints (``vsr.models.registry.PUBLISHED``) into the user cache.

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

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from vsr.atomic import replace_into, write_bytes
from vsr.errors import ModelError
from vsr.hashing import file_sha256
from vsr.models import registry

ProgressFn = Callable[[int, "int | None"], None]


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
    entry = registry.find(name)
    if entry is None:
        raise ModelError(
            f"no published model named {name!r}; known: {', '.join(e.name for e in registry.PUBLISHED)}"
        )
    expected = _check_hex(sha256) if sha256 else entry.sha256
    target = registry.models_dir() / entry.filename
    if target.is_file():
        if expected and not digest_matches(file_sha256(target), expected):
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
        digest = file_sha256(part)
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

"""Atomic file creation: write a temporary file beside the destination, rename it into place.

Every file vsr creates (videos, ONNX exports, TensorRT engines, downloaded or saved weights, PNGs)
goes through here, so that

- a crash, an error or Ctrl-C never leaves a truncated file under the real name (the temporary
  file is hidden, in the same directory, and removed on failure);
- the new file gets the mode a new file gets from the process umask (and default ACLs): the
  temporary file is created with ``open(..., 0o666)``, which the kernel masks, rather than
  ``mkstemp``'s 0600, which would make a remaster on a shared disk unreadable to the team;
- a file replaced on purpose (``--overwrite``) keeps its mode.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vsr.errors import OutputError

_NEW_FILE_MODE = 0o666  # masked by the umask, as for any file a program creates


class AtomicFile:
    """A hidden temporary file beside ``destination``; ``commit`` renames it onto the destination.

    ``suffix`` ends the temporary name (muxers and exporters pick formats by extension).
    """

    def __init__(self, destination: str | os.PathLike, *, suffix: str = ".partial") -> None:
        self.destination = Path(destination)
        self.suffix = suffix
        self.path: Path | None = None
        self._mode: int | None = None  # what the kernel gave the new file (umask, default ACLs)

    def create(self) -> Path:
        """Create the (empty) temporary file and return its path."""
        directory = self.destination.parent
        for _ in range(100):
            candidate = directory / f".{self.destination.name}.{secrets.token_hex(4)}{self.suffix}"
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), _NEW_FILE_MODE)
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(f"cannot write to {directory}: {exc.strerror}") from exc
            try:
                self._mode = stat.S_IMODE(os.fstat(fd).st_mode)
            finally:
                os.close(fd)
            self.path = candidate
            return candidate
        raise OutputError(f"cannot create a temporary file in {directory}")

    def commit(self) -> Path:
        """Flush the temporary file to disk and rename it onto the destination, with the
        destination's mode if it existed, else the new file's (writers such as safetensors
        recreate the file with a mode of their own)."""
        assert self.path is not None, "create() first"
        try:
            replace_into(self.path, self.destination, new_mode=self._mode)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.destination}: {exc.strerror}") from exc
        self.path = None
        return self.destination

    def abort(self) -> None:
        """Remove the temporary file; the destination is never touched."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


@contextmanager
def atomic_path(destination: str | os.PathLike, *, suffix: str = ".partial") -> Iterator[Path]:
    """``with atomic_path(dest) as tmp:`` write ``tmp`` by path; on success it becomes ``dest``,
    on any exception it is removed and ``dest`` is left as it was."""
    f = AtomicFile(destination, suffix=suffix)
    tmp = f.create()
    try:
        yield tmp
    except BaseException:
        f.abort()
        raise
    f.commit()


def write_bytes(destination: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically."""
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def replace_into(source: str | os.PathLike, destination: str | os.PathLike, *, new_mode: int | None = None) -> Path:
    """Rename a finished file (e.g. a resumable download's ``.part``) onto ``destination``.

    The result keeps the destination's mode if it existed, else gets ``new_mode`` (None: the
    source's own)."""
    destination = Path(destination)
    try:
        existing = os.stat(destination)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISREG(existing.st_mode):
        new_mode = stat.S_IMODE(existing.st_mode)
    if new_mode is not None:
        os.chmod(source, new_mode)
    _fsync(Path(source))
    os.replace(source, destination)
    return destination


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

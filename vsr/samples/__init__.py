"""A short real clip shipped with the package, so a fresh install has something to upscale.

``bottles.mp4``: 1.5 s of real camera footage (Intel IoT devkit sample videos, CC BY 4.0; see
``bottles.md``), cut and downscaled to an archive-like 320x180 by ``tools/make_sample.py``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from vsr.atomic import write_bytes
from vsr.errors import UsageError

SAMPLE_NAME = "bottles.mp4"
CREDIT = "Intel IoT devkit sample videos (bottle-detection), CC BY 4.0"
DESCRIPTION = "320x180, 1.5 s of real camera footage"


def sample_bytes() -> bytes:
    return resources.files(__package__).joinpath(SAMPLE_NAME).read_bytes()


def write_sample(destination: str | os.PathLike, *, overwrite: bool = False) -> tuple[Path, bool]:
    """Copy the sample clip to ``destination``: (path, whether it was written); an identical file
    already there is left as it is."""
    destination = Path(destination)
    data = sample_bytes()
    if destination.is_dir():
        raise UsageError(f"{destination} is a directory: give a file name, e.g. -o {destination / 'sample.mp4'}")
    if destination.exists() and not overwrite:
        if destination.read_bytes() == data:
            return destination, False
        raise UsageError(f"{destination} exists and is not the sample (use --overwrite to replace it)")
    parent = destination.parent if str(destination.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    return write_bytes(destination, data), True

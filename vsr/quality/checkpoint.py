"""Training checkpoints that load safely: plain tensors, numbers, strings, lists and dicts only.

``torch.load(weights_only=True)`` refuses anything else, so a ``--resume`` pointed at a file from
elsewhere cannot run code. Random generator states are stored in that form too (numpy's and
Python's as lists), which is what the image and the video training loops both save.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsr.errors import UsageError


def rng_state() -> dict[str, Any]:
    """torch, numpy and Python generator states as plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)),
                                                                       int(pos), int(has_gauss), float(cached)],
                             "python": [version, list(internal), gauss]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a crash never leaves half a checkpoint)."""
    from vsr.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, str(tmp))


def load(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, loaded with ``weights_only=True``."""
    if not path.is_file():
        raise UsageError(f"--resume: no checkpoint at {path}")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--resume: {path} is not a checkpoint vsr can load safely ({first}): start a new run "
                         "(without --resume) or point --out at the run that wrote it") from exc


def plain(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict with lists for tuples (what ``weights_only`` loading gives back anyway)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}

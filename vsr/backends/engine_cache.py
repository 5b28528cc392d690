"""Where built TensorRT engines live, what they are keyed on, and how they are built once.

An engine only runs on the TensorRT version and GPU model it was built for, and only for the
shapes of its optimisation profile, so the cache key covers: the ONNX file's content (SHA-256),
the TensorRT version, the GPU name and compute capability, the precision, the builder optimisation
level and the profile's min/opt/max shapes. The file name shows the model and precision for humans;
a ``.json`` sidecar records the whole key (``vsr engine list`` reads it).

Directory, first that applies: ``--engine-dir``; ``$VSR_ENGINE_DIR``; ``engines/cache/`` of the
source checkout vsr runs from (git-ignored); the user cache (``$VSR_CACHE`` / ``$XDG_CACHE_HOME/vsr``
/ ``~/.cache/vsr``, then ``engines/``) when vsr is installed as a package.

Builds take minutes, so concurrent ``vsr`` processes wanting the same engine serialise on a file
lock named by the cache key (``fcntl.flock``; any label) and the second one finds the first one's result. An engine is written to a
temporary file and renamed into place, so a crash never leaves a truncated engine under the real
name; an engine that fails to load anyway (corrupt, or from another TensorRT) is rebuilt with a
warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vsr.atomic import write_bytes as write_atomic  # also used by engine_build (timing cache)
from vsr.errors import BackendError

log = logging.getLogger(__name__)

ENGINE_SUFFIX = ".engine"
PRECISIONS = ("fp16", "bf16", "fp32")


@dataclass(frozen=True)
class Profile:
    """One optimisation profile: min/opt/max NCHW shapes of the input tensor."""

    min: tuple[int, int, int, int]
    opt: tuple[int, int, int, int]
    max: tuple[int, int, int, int]
    input_name: str = "input"

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            shape = tuple(int(v) for v in getattr(self, name))
            if len(shape) != 4 or min(shape) < 1:
                raise BackendError(f"profile {name} shape {shape} must be 4 positive numbers (N, C, H, W)")
            object.__setattr__(self, name, shape)
        if not all(a <= b <= c for a, b, c in zip(self.min, self.opt, self.max)):
            raise BackendError(f"profile shapes must satisfy min <= opt <= max in every axis: {self.min} {self.opt} {self.max}")
        if self.min[1] != self.max[1]:
            raise BackendError("profile channel count must be fixed")

    @classmethod
    def for_frames(cls, *, batch: int, height: int, width: int, channels: int = 3) -> Profile:
        """Exact frame size (fastest kernels), batch 1 .. ``batch``."""
        return cls((1, channels, height, width), (batch, channels, height, width), (batch, channels, height, width))

    @classmethod
    def from_dict(cls, d: dict) -> Profile:
        try:
            return cls(tuple(d["min"]), tuple(d["opt"]), tuple(d["max"]), d.get("input_name", "input"))
        except (KeyError, TypeError) as exc:
            raise BackendError(f"a build profile needs min, opt and max shapes (N, C, H, W): {exc}") from None

    def for_input(self, name: str, channels: int) -> Profile:
        """The same batch and size range for another input of ``channels`` channels: a temporal
        engine's ``prev``, ``state`` and ``flow`` follow its image input (``vsr.backends.engine_io``)."""

        def shape(s: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
            return (s[0], channels, s[2], s[3])

        return Profile(shape(self.min), shape(self.opt), shape(self.max), input_name=name)

    def single_frame(self) -> Profile:
        """This profile with batch 1 exactly: a temporal model runs one frame at a time."""
        return Profile((1, *self.min[1:]), (1, *self.opt[1:]), (1, *self.max[1:]), input_name=self.input_name)

    def covers(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == 4 and all(lo <= s <= hi for lo, s, hi in zip(self.min, shape, self.max))

    def to_dict(self) -> dict:
        return {"input_name": self.input_name, "min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


@dataclass(frozen=True)
class EngineSpec:
    """Everything a built engine depends on; ``key`` hashes it."""

    model: str  # a label for humans (file names, listings)
    onnx_sha256: str
    precision: str
    profile: Profile
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    opt_level: int = 3

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise BackendError(f"unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["profile"] = self.profile.to_dict()
        return d

    @property
    def key(self) -> str:
        d = self.to_dict()
        d.pop("model")  # a label: the same network under two names is the same engine
        blob = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:20]

    @property
    def filename(self) -> str:
        label = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.model).stem)[:60] or "model"
        return f"{label}-{self.precision}-{self.key}{ENGINE_SUFFIX}"


# ----------------------------------------------------------------------------------- directory


def _checkout_root() -> Path | None:
    root = Path(__file__).resolve().parent.parent.parent
    if (root / "pyproject.toml").is_file() and (root / "engines").is_dir() and (root / "vsr").is_dir():
        return root
    return None


def engine_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The engine cache directory (created if needed); see the module docstring for the order."""
    if explicit:
        d = Path(explicit).expanduser()
    elif os.environ.get("VSR_ENGINE_DIR"):
        d = Path(os.environ["VSR_ENGINE_DIR"]).expanduser()
    else:
        root = _checkout_root()
        if root is not None and os.access(root / "engines", os.W_OK):
            d = root / "engines" / "cache"
        else:
            from vsr.models.registry import cache_dir

            d = cache_dir() / "engines"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendError(f"cannot create the engine directory {d}: {exc.strerror} (use --engine-dir or VSR_ENGINE_DIR)") from exc
    if not os.access(d, os.W_OK | os.X_OK):
        raise BackendError(f"engine directory {d} is not writable (use --engine-dir or VSR_ENGINE_DIR)")
    return d


# ----------------------------------------------------------------------------------- locking


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the ``with`` block (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: no TensorRT engines built concurrently there in practice
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------- get or build


def lock_path(directory: Path, spec: EngineSpec) -> Path:
    """The lock serialising builds of ``spec``'s engine: one per cache key, whatever the label."""
    return directory / f".{spec.key}.lock"


def get_or_build(
    spec: EngineSpec,
    directory: Path,
    build: Callable[[], bytes],
    load: Callable[[bytes], Any],
    *,
    warn: Callable[[str], None] = log.warning,
) -> tuple[Any, Path, bool]:
    """(loaded engine, its path, whether it was built now).

    ``build()`` returns a serialised engine (raising BackendError on failure); ``load(bytes)``
    deserialises one and returns None (or raises) when it cannot.
    """
    # the key decides; the label in the name does not (an engine built with `vsr engine build MODEL`
    # is found by `vsr upscale --model FAMILY` when the network and profile are the same). So the
    # lock is named by the key too, and the search for an engine under another label runs inside it:
    # two processes asking for the same engine under different labels build it once.
    with file_lock(lock_path(directory, spec)):
        same_key = sorted(directory.glob(f"*-{spec.precision}-{spec.key}{ENGINE_SUFFIX}"))
        path = same_key[0] if same_key else directory / spec.filename
        if path.is_file():
            engine, problem = _try_load(load, path)
            if engine is not None:
                return engine, path, False
            warn(f"cached engine {path.name} cannot be used ({problem}); rebuilding it")
            path.unlink(missing_ok=True)
        started = time.perf_counter()
        data = build()
        if not data:
            raise BackendError(f"TensorRT produced an empty engine for {spec.model}: run with --debug to see the builder log")
        write_atomic(path, data)
        meta = spec.to_dict() | {"build_seconds": round(time.perf_counter() - started, 1), "created": time.time(), "bytes": len(data)}
        write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1).encode())
        engine, problem = _try_load(load, path)
        if engine is None:
            raise BackendError(f"TensorRT cannot load the engine it just built ({problem}): check the TensorRT install")
        return engine, path, True


def _try_load(load: Callable[[bytes], Any], path: Path) -> tuple[Any, str]:
    try:
        engine = load(path.read_bytes())
    except (OSError, RuntimeError, ValueError, TypeError, BackendError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return engine, "" if engine is not None else "deserialisation failed: corrupt, or built by another TensorRT version"


# ----------------------------------------------------------------------------------- list / clean


def list_engines(directory: Path) -> list[dict]:
    """One dict per engine file: path, bytes, modified time and the recorded key fields (if any)."""
    rows = []
    for path in sorted(directory.glob(f"*{ENGINE_SUFFIX}")):
        meta: dict = {}
        sidecar = path.with_suffix(".json")
        if sidecar.is_file():
            try:
                meta = json.loads(sidecar.read_text())
            except (OSError, json.JSONDecodeError):
                meta = {}
        stat = path.stat()
        rows.append({"path": str(path), "file": path.name, "bytes": stat.st_size, "modified": stat.st_mtime, **meta})
    return rows


def clean(directory: Path, *, keep: Callable[[dict], bool] | None = None) -> list[Path]:
    """Delete engines (and their sidecars) for which ``keep`` is false; returns the deleted paths.

    Lock files stay: deleting one while another process builds would let a third build alongside it.
    """
    removed = []
    for row in list_engines(directory):
        if keep is not None and keep(row):
            continue
        path = Path(row["path"])
        for p in (path, path.with_suffix(".json")):
            p.unlink(missing_ok=True)
        removed.append(path)
    for stale in directory.glob(".*.tmp"):  # left by a build that was killed
        stale.unlink(missing_ok=True)
    return removed

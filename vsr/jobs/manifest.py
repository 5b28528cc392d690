"""The job folder's ``manifest.json``: which input, which settings, which segments are done.

Only the driver writes it (atomically, through vsr.atomic). A segment counts as done
when its file exists: segment files are renamed into place only once complete, so a kill at any
moment leaves either a whole segment or none.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import vsr
from vsr.atomic import write_bytes
from vsr.errors import UsageError
from vsr.jobs.segments import Segment
from vsr.plan import Plan

FORMAT = 1
MANIFEST = "manifest.json"
_MIB = 1 << 20
# Plan fields that change the output's pixels or packets (the device, batch size or file name do not).
_SETTINGS = ("width", "height", "sar", "model", "model_source", "model_scale", "resample", "backend", "precision",
             "tile", "tile_overlap", "codec", "pix_fmt", "crf", "preset", "start", "duration", "arch", "deinterlace")


def job_dir_for(output: Path) -> Path:
    """The hidden job folder beside the output, named after it."""
    return output.parent / f".{output.name}.vsr-job"


def input_identity(path: Path) -> dict:
    """Size, mtime and a hash of the first and last MiB: enough to notice a replaced or edited file
    without reading a film."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(_MIB))
        if st.st_size > _MIB:
            f.seek(max(_MIB, st.st_size - _MIB))
            digest.update(f.read(_MIB))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_ends": digest.hexdigest()}


def settings_of(plan: Plan, segment_seconds: float) -> dict:
    d = plan.to_dict()
    settings = {k: d[k] for k in _SETTINGS}
    settings["segment_seconds"] = segment_seconds
    return settings


@dataclass
class Manifest:
    path: Path
    input: dict
    settings: dict
    segments: list[Segment]
    version: str = vsr.__version__
    done: dict[int, int] = field(default_factory=dict)  # segment index -> frames written

    @property
    def folder(self) -> Path:
        return self.path.parent

    def segment_path(self, segment: Segment) -> Path:
        return self.folder / segment.file_name

    def save(self) -> None:
        data = {
            "format": FORMAT, "vsr_version": self.version, "input": self.input, "settings": self.settings,
            "segments": [{**s.to_dict(), "file": s.file_name,
                          "state": "done" if s.index in self.done else "pending",
                          "frames_written": self.done.get(s.index)} for s in self.segments],
        }
        write_bytes(self.path, json.dumps(data, indent=1).encode())

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
            segments = [Segment(**{k: s[k] for k in Segment.__dataclass_fields__ if k in s}) for s in data["segments"]]
            done = {s["index"]: s["frames_written"] for s in data["segments"] if s["state"] == "done"}
            return cls(path, data["input"], data["settings"], segments, data["vsr_version"], done)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"the job folder {path.parent} has an unreadable manifest ({exc}): run with --restart") from exc

    def differences(self, identity: dict, settings: dict) -> list[str]:
        """What changed since the job was started (empty: the job can be resumed)."""
        changed = [f"input {k}" for k in identity if self.input.get(k) != identity[k]]
        changed += [k for k in settings if self.settings.get(k) != settings[k]]
        if self.version != vsr.__version__:
            changed.append(f"vsr version ({self.version} -> {vsr.__version__})")
        return changed

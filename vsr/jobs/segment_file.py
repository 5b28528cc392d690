"""A segment's encoded video packets, exactly as the encoder made them, in a file of their own.

Containers rewrite timestamps (Matroska rounds to milliseconds, MP4 shifts B-frame delays into edit
lists), so a segment is stored as plain records: pts, dts, duration, flags and bytes in the
encoder's time base, then a JSON trailer (time base, encoder headers, frame count). The join
muxes these packets through the same writer a single pass uses, so timestamps come out identical.
The file is written beside its final name and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from vsr.atomic import AtomicFile
from vsr.errors import OutputError
from vsr.io.spec import EncoderSpec
from vsr.io.writer import VideoWriter, _format_for

MAGIC = b"VSRSEG1\n"
_RECORD = struct.Struct("<qqqII")  # pts, dts, duration, flags, size
_NONE = -(1 << 63)
_TRAILER = struct.Struct("<I")


class SegmentWriter(VideoWriter):
    """The output's encoder (same settings as a single pass), packets recorded to ``path``."""

    def __init__(self, spec: EncoderSpec, path: Path, time_offset: float = 0.0, *, background: bool = False) -> None:
        super().__init__(spec, (), time_offset=time_offset)
        self.path = Path(path)
        self.background = background  # commit() flushes in a thread; wait() joins it
        self._atomic = AtomicFile(self.path)
        self._file = None
        self._time_base: Fraction | None = None
        self._finisher: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> SegmentWriter:
        try:
            self._file = open(self._atomic.create(), "wb")
            self._file.write(MAGIC)
            # The encoder is opened through a container of the output's format, so it makes the
            # same global headers (extradata) as a single pass; nothing is muxed into it.
            self._container = av.open(os.devnull, mode="w", format=_format_for(self.output))
            self._setup()
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write segment {self.path}: {exc.strerror}") from exc
        except Exception:
            self.abort()
            raise
        return self

    def mux_video(self, packet: av.Packet) -> None:
        if self._time_base is None:
            self._time_base = Fraction(packet.time_base)
        data = bytes(packet)
        pts = _NONE if packet.pts is None else packet.pts
        dts = _NONE if packet.dts is None else packet.dts
        self._file.write(_RECORD.pack(pts, dts, packet.duration or 0, int(packet.is_keyframe), len(data)))
        self._file.write(data)

    def commit(self) -> Path:
        if not self.background:
            return self._finish()
        self._finisher = threading.Thread(target=self._finish_or_keep_error, name="vsr-segment-flush", daemon=True)
        self._finisher.start()
        return self.path

    def wait(self) -> None:
        """Wait for a background commit; raises what it raised (the partial file is then gone)."""
        if self._finisher is not None:
            self._finisher.join()
            self._finisher = None
        if self._error is not None:
            raise self._error

    def _finish_or_keep_error(self) -> None:
        try:
            self._finish()
        except BaseException as exc:  # noqa: BLE001 - raised by wait() in the caller's thread
            self._error = exc
            self.abort()

    def _finish(self) -> Path:
        for packet in self._video.encode(None):
            self.mux_video(packet)
        extradata = self._video.codec_context.extradata or b""
        self._container.close()
        self._container = None
        trailer = json.dumps({"time_base": str(self._time_base or self._video.codec_context.time_base),
                              "extradata": extradata.hex(), "frames": self.frames_written}).encode()
        self._file.write(trailer + _TRAILER.pack(len(trailer)))
        self._file.close()
        self._file = None
        return self._atomic.commit()  # fsynced, then renamed into place

    def abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except av.error.FFmpegError:
                pass  # nothing was muxed into it
            self._container = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self._atomic.abort()


def read_trailer(path: Path) -> dict:
    """{'time_base': Fraction, 'extradata': bytes, 'frames': int} of a finished segment file."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise OutputError(f"{path} is not a vsr segment file: run again with --restart")
        f.seek(-_TRAILER.size, os.SEEK_END)
        (size,) = _TRAILER.unpack(f.read(_TRAILER.size))
        f.seek(-_TRAILER.size - size, os.SEEK_END)
        meta = json.loads(f.read(size))
    return {"time_base": Fraction(meta["time_base"]), "extradata": bytes.fromhex(meta["extradata"]), "frames": int(meta["frames"])}


def read_packets(path: Path) -> Iterator[av.Packet]:
    """The segment's packets, in decode order, with the encoder's time base."""
    time_base = read_trailer(path)["time_base"]
    end = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(-_TRAILER.size, os.SEEK_END)
        (size,) = _TRAILER.unpack(f.read(_TRAILER.size))
        end -= _TRAILER.size + size
        f.seek(len(MAGIC))
        while f.tell() < end:
            pts, dts, duration, flags, length = _RECORD.unpack(f.read(_RECORD.size))
            packet = av.Packet(f.read(length))
            packet.time_base = time_base
            packet.pts = None if pts == _NONE else pts
            packet.dts = None if dts == _NONE else dts
            packet.duration = duration
            packet.is_keyframe = bool(flags & 1)
            yield packet

"""Copied packets outlive the input container: the reader closes it as soon as it has demuxed
everything, while the writer thread may still have packets queued (the cause of lost audio
packets at the end of short clips)."""

from __future__ import annotations

import av
import pytest

from conftest import stream_packets
from vsr.config import UpscaleOptions
from vsr.io.reader import Section, VideoReader
from vsr.io.writer import VideoWriter
from vsr.plan import make_plan


def test_packets_copied_after_the_input_is_closed(make_clip, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=15, audio=True)
    plan = make_plan(UpscaleOptions(input=src, output=tmp_path / "out.mp4", model="bicubic", scale=2))
    queued: list[av.Packet] = []
    with VideoReader(plan.source, copy_streams=plan.copy_streams, on_packet=queued.append) as reader:
        frames = list(reader.frames())
    for _ in range(20):  # reuse the freed input's memory
        with av.open(str(src)) as other:
            next(other.demux())

    with VideoWriter(plan.encoder_spec(), plan.copy_streams) as writer:
        for packet in queued:
            writer.copy(packet)
        for frame in frames:
            writer.write(frame.reformat(plan.width, plan.height, plan.pix_fmt))
        writer.commit()

    (src_audio,), (out_audio,) = stream_packets(src, "audio"), stream_packets(plan.output, "audio")
    assert [bytes_ for _, bytes_ in out_audio] == [bytes_ for _, bytes_ in src_audio]


def test_an_unset_dts_from_the_encoder_is_repaired_and_a_real_one_kept():
    """libx265 sometimes hands out an uninitialised DTS when it flushes a clip shorter than its
    lookahead (seen: pts 307, dts -140294503132877 in 1/12288); the muxer then refuses the packet."""
    from fractions import Fraction

    from vsr.io.writer import repaired_dts

    tb = Fraction(1, 12288)
    assert repaired_dts(307, -140294503132877, None, tb) == 307
    assert repaired_dts(819, -140294503132877, 307, tb) == 308
    assert repaired_dts(1024, -512, -1024, tb) == -512, "B-frame reordering: a real DTS stays"
    assert repaired_dts(512, None, None, tb) is None


@pytest.fixture
def no_dts_input(monkeypatch):
    """Inputs demuxed as Matroska's demuxer hands them out, before FFmpeg's generic fill-in: audio
    and subtitle packets with a pts and no DTS (a valid packet may have none)."""
    from vsr.io import probe, reader

    def open_without_dts(path):
        probe.open_input(path).close()  # the same checks and errors
        return av.open(str(path), metadata_errors="ignore", options={"fflags": "+nofillin"})

    monkeypatch.setattr(reader, "open_input", open_without_dts)


def _copied(path, section: Section | None = None) -> list[list[bytes]]:
    """The data of every audio and subtitle packet of ``path`` (in ``section``), per stream."""
    with av.open(str(path)) as c:
        streams = [s for s in c.streams if s.type in ("audio", "subtitle")]
        data = {s.index: [] for s in streams}
        for p in c.demux(*streams):
            if p.size and (section is None or section.contains(float(p.pts * p.time_base))):
                data[p.stream_index].append(bytes(p))
    return list(data.values())


def test_copied_packets_without_a_dts_arrive_byte_for_byte(make_clip, tmp_path, no_dts_input):
    from vsr import pipeline

    src = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=25, audio=True, subtitles=True)
    with VideoReader(make_plan(UpscaleOptions(input=src, model="bicubic", scale=2)).source) as r:
        demuxed = [p for p in r._demux(r._container, list(r._container.streams)) if p.stream.type != "video"]
    assert demuxed and all(p.dts is None for p in demuxed), "the input's copied packets carry no DTS"

    plan = make_plan(UpscaleOptions(input=src, output=tmp_path / "out.mkv", model="bicubic", scale=2))
    pipeline.run(plan)
    expected = _copied(src)
    assert len(expected) == 2 and all(expected)
    assert _copied(plan.output) == expected


def test_copied_packets_without_a_dts_in_a_section_and_for_the_join(make_clip, tmp_path, no_dts_input):
    src = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=50, audio=True, subtitles=True)
    plan = make_plan(UpscaleOptions(input=src, model="bicubic", scale=2))
    section = Section(0.5, 1.5)
    expected = _copied(src, section)
    assert all(expected)
    demuxed: list[av.Packet] = []
    with VideoReader(plan.source, section, copy_streams=plan.copy_streams, on_packet=demuxed.append) as r:
        assert sum(1 for _ in r.frames()) == 25
    with VideoReader(plan.source, section, copy_streams=plan.copy_streams) as r:
        joined = list(r.copied_packets())
    for got in (demuxed, joined):
        assert [[bytes(p) for p in got if p.stream_index == i] for i in plan.copy_streams] == expected

"""Copied packets outlive the input container: the reader closes it as soon as it has demuxed
everything, while the writer thread may still have packets queued (the cause of lost audio
packets at the end of short clips)."""

from __future__ import annotations

import av

from conftest import stream_packets
from vsr.config import UpscaleOptions
from vsr.io.reader import VideoReader
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

    with VideoWriter(plan, plan.copy_streams) as writer:
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

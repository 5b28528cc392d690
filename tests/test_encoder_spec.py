"""Plan.encoder_spec: what the writer, segment files and the join are told (they never see the Plan)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import av
import pytest

from vsr.config import UpscaleOptions
from vsr.io.colour import output_tags
from vsr.io.spec import EncoderSpec
from vsr.io.writer import VideoWriter
from vsr.plan import make_plan


def test_the_spec_carries_the_plans_encoder_decisions(make_clip, tmp_path) -> None:
    clip = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=3, sar="4/3", rotation=90, colorspace=5)
    plan = make_plan(UpscaleOptions(input=clip, model="bicubic", scale=2, codec="hevc", crf=30, preset="fast"),
                     check_paths=False)
    spec = plan.encoder_spec()
    assert isinstance(spec, EncoderSpec)
    assert (spec.output, spec.source, spec.stream_index) == (plan.output, clip, plan.source.stream_index)
    assert (spec.codec, spec.pix_fmt, spec.crf, spec.preset) == ("libx265", plan.pix_fmt, 30, "fast")
    assert (spec.width, spec.height, spec.sar) == (128, 96, Fraction(4, 3))
    assert (spec.time_base, spec.frame_rate) == (plan.source.time_base, Fraction(25))
    assert spec.colour == output_tags(plan.source.colour, 48) and spec.hdr == plan.source.hdr
    assert spec.rotation == plan.source.rotation != 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.crf = 1  # type: ignore[misc]


def test_a_writer_needs_only_the_spec(make_clip, tmp_path) -> None:
    """What the stream says is what the spec says: encoder, size, SAR, colour tags, rotation, every frame."""
    clip = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=4, sar="16/15", rotation=90, colorspace=6)
    plan = make_plan(UpscaleOptions(input=clip, model="bicubic", scale=2, codec="h264", crf=23), check_paths=False)
    spec = dataclasses.replace(plan.encoder_spec(), output=tmp_path / "out.mkv")
    with av.open(str(clip)) as c:
        frames = [f.reformat(spec.width, spec.height, spec.pix_fmt) for f in c.decode(video=0)]
    with VideoWriter(spec, ()) as writer:
        for frame in frames:
            writer.write(frame)
        writer.commit()
    with av.open(str(spec.output)) as out:
        v = out.streams.video[0]
        cc = v.codec_context
        assert (v.codec.name, cc.width, cc.height, cc.pix_fmt) == ("h264", 128, 96, spec.pix_fmt)
        assert Fraction(cc.sample_aspect_ratio) == Fraction(16, 15)
        assert (cc.colorspace, cc.color_primaries, cc.color_trc) == (
            spec.colour.colorspace, spec.colour.primaries, spec.colour.transfer)
        assert v.frames == 4 or len(list(out.decode(video=0))) == 4

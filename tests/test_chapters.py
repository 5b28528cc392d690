"""Chapters and container metadata survive an upscale; a section keeps the chapters it overlaps."""

from __future__ import annotations

from fractions import Fraction

import av

from vsr.io.writer import section_chapters

TB = Fraction(1, 1000)


def _chapters() -> list[dict]:
    return [
        {"id": 1, "start": 0, "end": 1000, "time_base": TB, "metadata": {"title": "Intro"}},
        {"id": 2, "start": 1000, "end": 2000, "time_base": TB, "metadata": {"title": "Main"}},
    ]


def _with_chapters(src, dst) -> None:
    """Rewrite ``src`` into ``dst`` with two chapters and a title (stream copy)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        out.metadata["title"] = "My Film"
        out.set_chapters(_chapters())
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)


def test_section_chapters_clip_and_shift():
    assert [c["metadata"]["title"] for c in section_chapters(_chapters(), 0.0, None)] == ["Intro", "Main"]
    cut = section_chapters(_chapters(), 0.5, 1.2)
    assert [(c["start"], c["end"]) for c in cut] == [(0, 500), (500, 700)]
    assert section_chapters(_chapters(), 1.5, None) == [
        {"id": 2, "start": 0, "end": 500, "time_base": TB, "metadata": {"title": "Main"}}
    ]


def test_chapters_and_title_copied(make_clip, vsr, tmp_path):
    plain = make_clip(tmp_path / "plain.mkv", size=(64, 48), frames=50, rate=25)
    src = tmp_path / "chapters.mkv"
    _with_chapters(plain, src)
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    with av.open(str(out)) as c:
        chapters = c.chapters()
        assert c.metadata.get("title") == "My Film"
    assert [ch["metadata"]["title"] for ch in chapters] == ["Intro", "Main"]
    assert [float(ch["start"] * ch["time_base"]) for ch in chapters] == [0.0, 1.0]
    assert [float(ch["end"] * ch["time_base"]) for ch in chapters] == [1.0, 2.0]

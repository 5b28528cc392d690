"""A segmented upscale (cut at keyframes, segments encoded apart, packets joined) gives what a single
pass gives: the same frames at the same times, the other streams byte for byte at their times, the
same chapters and metadata, and a stream that decodes cleanly across every join.

Clips: 64x48, 25 fps, a keyframe every 12 frames (0.48 s); ``--segment-seconds 1`` cuts them into
several segments. Times are compared exactly (to the microsecond)."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from conftest import encode_frames, listing, read_video, stream_packets
from test_chapters import _with_chapters
from test_upscale_fidelity import assert_packets_copied

UP = ["--model", "bicubic", "--scale", "2"]


def upscale_both(vsr, src, tmp_path, *args, ext=None):
    """(single-pass output, segmented output, segmented --json summary)."""
    ext = ext or src.suffix
    one, seg = tmp_path / f"one{ext}", tmp_path / f"seg{ext}"
    r1 = vsr("upscale", src, "-o", one, *UP, *args, "--segment-seconds", "0", "--json")
    r2 = vsr("upscale", src, "-o", seg, *UP, *args, "--segment-seconds", "1", "--json")
    assert r1.returncode == 0, str(r1)
    assert r2.returncode == 0, str(r2)
    assert r1.json()["segments"] == 1
    summary = r2.json()
    assert summary["segments"] >= 3, summary
    assert listing(tmp_path) == {src.name, one.name, seg.name}, "the job folder is removed after the join"
    return one, seg, summary


def decode_all(path):
    """Times and Y planes of every frame; fails on a decoder error or a frame flagged corrupt."""
    times, frames = [], []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            assert not frame.is_corrupt, f"corrupt frame at {frame.time:.3f} s in {path.name}"
            times.append(round(float(frame.time), 6))
            frames.append(frame.to_ndarray(format="gray"))
    return times, frames


def assert_same_as_single_pass(src, one, seg, *, pixel_exact=False):
    in_times, in_frames = decode_all(src)
    t1, f1 = decode_all(one)
    t2, f2 = decode_all(seg)
    assert t2 == t1, f"segmented times differ from the single pass\nseg={t2}\none={t1}"
    assert len(t2) == len(in_times)
    if pixel_exact:
        for k, (a, b) in enumerate(zip(f1, f2)):
            assert np.array_equal(a, b), f"frame {k} differs from the single pass"
    else:  # lossy: each output frame, shrunk back, is nearest to the input frame of its index
        small = [b[::2, ::2].astype(float) for b in f2]
        for k, s in enumerate(small):
            errors = [float(np.mean((s - x.astype(float)) ** 2)) for x in in_frames]
            assert int(np.argmin(errors)) == k, f"output frame {k} looks like input frame {int(np.argmin(errors))}"
    for kind in ("audio", "subtitle"):
        assert stream_packets(seg, kind) == stream_packets(one, kind), f"{kind} packets differ from the single pass"


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_cfr_with_audio(make_clip, vsr, tmp_path, ext):
    src = make_clip(tmp_path / f"in.{ext}", size=(64, 48), frames=100, audio=True, subtitles=ext == "mkv", content="moving")
    one, seg, summary = upscale_both(vsr, src, tmp_path)
    assert summary["frames"] == 100 and summary["resumed_frames"] == 0
    assert_same_as_single_pass(src, one, seg)
    assert_packets_copied(seg, src, "audio")
    if ext == "mkv":
        assert_packets_copied(seg, src, "subtitle")


def test_mpegts_input(make_clip, vsr, tmp_path):
    """MPEG-TS seeks can land after the keyframe asked for: the reader seeks further back."""
    src = make_clip(tmp_path / "in.ts", size=(64, 48), frames=150, audio=True, content="moving", x264_params="bframes=3")
    one, seg, summary = upscale_both(vsr, src, tmp_path, ext=".mkv")
    assert summary["frames"] == 150 and summary["warnings"] == []
    assert_same_as_single_pass(src, one, seg)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_vfr(make_clip, vsr, tmp_path, ext):
    rng = np.random.default_rng(1)
    pts = np.cumsum(rng.choice([10, 40, 40, 80, 120], size=90)).tolist()
    src = make_clip(tmp_path / f"vfr.{ext}", size=(64, 48), vfr_pts=[0, *pts], content="moving")
    one, seg, _ = upscale_both(vsr, src, tmp_path)
    assert_same_as_single_pass(src, one, seg)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_b_frames_in_input(make_clip, vsr, tmp_path, ext):
    src = make_clip(tmp_path / f"b.{ext}", size=(64, 48), frames=90, content="moving", audio=True, x264_params="bframes=3:b-pyramid=normal")
    with av.open(str(src)) as c:
        packets = [p for p in c.demux(video=0) if p.size]
        assert any(p.pts != p.dts for p in packets), "fixture sanity: B-frames reorder"
    one, seg, _ = upscale_both(vsr, src, tmp_path)
    assert_same_as_single_pass(src, one, seg)


def test_open_gop(make_clip, vsr, tmp_path):
    """Leading pictures that follow an open-GOP keyframe in decode order belong, by pts, to the segment
    before it; each is encoded once."""
    src = make_clip(tmp_path / "open.mkv", size=(64, 48), frames=100, content="moving", x264_params="bframes=3:open-gop=1:keyint=12")
    with av.open(str(src)) as c:
        seen_key, leading = None, 0
        for p in c.demux(video=0):
            if not p.size:
                continue
            if p.is_keyframe:
                seen_key = p.pts
            elif seen_key is not None and p.pts < seen_key:
                leading += 1
    assert leading > 0, "fixture sanity: the clip has open-GOP leading pictures"
    one, seg, _ = upscale_both(vsr, src, tmp_path)
    assert_same_as_single_pass(src, one, seg)


@pytest.mark.parametrize("ext, offset", [("mp4", 0.3), ("mkv", 0.25)])
def test_audio_offset_unchanged(make_clip, vsr, tmp_path, ext, offset):
    src = make_clip(tmp_path / f"off.{ext}", size=(64, 48), frames=100, audio=True, audio_start=offset, content="moving")
    one, seg, _ = upscale_both(vsr, src, tmp_path)
    assert_same_as_single_pass(src, one, seg)
    first_video = decode_all(seg)[0][0]
    first_audio = stream_packets(seg, "audio")[0][0][0]
    in_offset = stream_packets(src, "audio")[0][0][0] - decode_all(src)[0][0]
    assert abs((first_audio - first_video) - in_offset) <= 0.001, "audio/video offset moved"


def test_lossless_output_is_pixel_identical(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=100, content="noise", x264_params="bframes=2")
    one, seg, _ = upscale_both(vsr, src, tmp_path, "--codec", "ffv1")
    assert_same_as_single_pass(src, one, seg, pixel_exact=True)


def test_chapters_and_metadata_as_single_pass(make_clip, vsr, tmp_path):
    plain = make_clip(tmp_path / "plain.mkv", size=(64, 48), frames=100, rate=25, content="moving")
    src = tmp_path / "chapters.mkv"
    _with_chapters(plain, src)
    plain.unlink()
    one, seg, _ = upscale_both(vsr, src, tmp_path)
    with av.open(str(one)) as a, av.open(str(seg)) as b:
        assert b.chapters() == a.chapters() and len(b.chapters()) == 2
        assert dict(b.metadata) == dict(a.metadata) and b.metadata.get("title") == "My Film"
    assert_same_as_single_pass(src, one, seg)


def test_section_segmented(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=150, audio=True, content="moving")
    one, seg, summary = upscale_both(vsr, src, tmp_path, "--start", "0.9", "--duration", "4.1")
    t1, _ = decode_all(one)
    t2, _ = decode_all(seg)
    assert t2 == t1 and len(t2) == round(4.1 * 25)
    assert stream_packets(seg, "audio") == stream_packets(one, "audio")


def test_short_clip_is_one_segment_without_job_folder(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=30)
    out = tmp_path / "out.mp4"
    run = vsr("upscale", src, "-o", out, *UP, "--json")
    assert run.returncode == 0, str(run)
    assert run.json()["segments"] == 1 and run.json()["resumed_frames"] == 0
    assert listing(tmp_path) == {"in.mp4", "out.mp4"}


def test_keep_job_keeps_manifest(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=100, content="moving")
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, *UP, "--segment-seconds", "1", "--keep-job")
    assert run.returncode == 0, str(run)
    manifest = json.loads((tmp_path / ".out.mkv.vsr-job" / "manifest.json").read_text())
    assert manifest["vsr_version"] and manifest["input"]["size"] == src.stat().st_size
    assert set(manifest["input"]) == {"size", "mtime_ns", "sha256_ends"}
    segments = manifest["segments"]
    assert all(s["state"] == "done" for s in segments)
    assert sum(s["frames"] for s in segments) == 100
    assert [s["start"] for s in segments[1:]] == [s["end"] for s in segments[:-1]], "segments tile the input"
    assert len(read_video(out).times) == 100


def _interlaced_moving_clip(path, frames=100):
    """Interlaced-coded H.264 (tff) whose two fields show a square at different places."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"x264-params": "tff=1:keyint=12", "crf": "12", "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"

        def picture(i: int) -> av.VideoFrame:
            img = np.full((48, 64, 3), 30, np.uint8)
            x = (3 * i) % 48
            img[0::2, x:x + 12, :] = 220  # top field
            img[1::2, (x + 2) % 48:(x + 2) % 48 + 12, :] = 220  # bottom field, half a frame later
            return av.VideoFrame.from_ndarray(img, format="rgb24")

        encode_frames(out, s, (picture(i) for i in range(frames)))
    return path


def test_deinterlaced_frames_at_the_cuts_as_single_pass(vsr, tmp_path):
    """bwdif looks at the neighbouring frames: a segment decodes one more frame on each side."""
    src = _interlaced_moving_clip(tmp_path / "tv.mkv")
    with av.open(str(src)) as c:
        if not next(c.decode(video=0)).interlaced_frame:
            pytest.skip("this libx264 did not code the clip as interlaced")
    one, seg, summary = upscale_both(vsr, src, tmp_path, "--codec", "ffv1", "--deinterlace", "on")
    assert summary["deinterlaced"] == 100, "each frame counted once, context frames not"
    assert_same_as_single_pass(src, one, seg, pixel_exact=True)

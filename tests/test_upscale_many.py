"""Many files: ``vsr upscale a.mkv b.mp4 -o OUTDIR/`` and ``vsr upscale FOLDER -o OUTDIR/`` run one job
per file, go on past a file that fails, and end with a summary (exit 1 if any failed)."""

from __future__ import annotations

from conftest import listing, read_video

UP = ["--model", "bicubic", "--scale", "2"]


def test_several_files_into_a_folder(make_clip, vsr, tmp_path):
    a = make_clip(tmp_path / "a.mkv", size=(64, 48), frames=5)
    b = make_clip(tmp_path / "b.mp4", size=(64, 48), frames=7, audio=True)
    outdir = tmp_path / "out"
    run = vsr("upscale", a, b, "-o", outdir, *UP, "--json")
    assert run.returncode == 0, str(run)
    assert listing(outdir) == {"a.x2.mkv", "b.x2.mp4"}
    assert len(read_video(outdir / "a.x2.mkv").times) == 5 and len(read_video(outdir / "b.x2.mp4").times) == 7
    summary = run.json()
    assert [f["frames"] for f in summary["files"]] == [5, 7] and summary["failed"] == []
    assert "2 of 2 file(s) done" in run.stderr


def test_folder_with_a_bad_file_goes_on_and_exits_1(make_clip, vsr, tmp_path):
    src = tmp_path / "tapes"
    src.mkdir()
    make_clip(src / "tape1.mkv", size=(64, 48), frames=4)
    (src / "tape2.mp4").write_bytes(b"not a video at all" * 100)
    make_clip(src / "tape3.mkv", size=(64, 48), frames=6)
    (src / "notes.txt").write_text("not a video, skipped")
    outdir = tmp_path / "out"
    run = vsr("upscale", src, "-o", outdir, *UP)
    assert run.returncode == 1, str(run)
    assert listing(outdir) == {"tape1.x2.mkv", "tape3.x2.mkv"}, "the files after the bad one are done too"
    assert "tape2.mp4" in run.stderr and "2 of 3 file(s) done, 1 failed: tape2.mp4" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_existing_outputs_fail_alone(make_clip, vsr, tmp_path):
    a = make_clip(tmp_path / "a.mkv", size=(64, 48), frames=3)
    b = make_clip(tmp_path / "b.mkv", size=(64, 48), frames=3)
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "a.x2.mkv").write_bytes(b"keep me")
    run = vsr("upscale", a, b, "-o", outdir, *UP)
    assert run.returncode == 1, str(run)
    assert (outdir / "a.x2.mkv").read_bytes() == b"keep me"
    assert len(read_video(outdir / "b.x2.mkv").times) == 3
    assert "--overwrite" in run.stderr


def test_one_file_into_an_existing_folder(make_clip, vsr, tmp_path):
    a = make_clip(tmp_path / "a.mp4", size=(64, 48), frames=3)
    outdir = tmp_path / "out"
    outdir.mkdir()
    run = vsr("upscale", a, "-o", outdir, *UP)
    assert run.returncode == 0, str(run)
    assert listing(outdir) == {"a.x2.mp4"}


def test_output_file_with_several_inputs_is_refused(make_clip, vsr, tmp_path):
    a = make_clip(tmp_path / "a.mkv", size=(64, 48), frames=3)
    b = make_clip(tmp_path / "b.mkv", size=(64, 48), frames=3)
    (tmp_path / "x.mkv").write_bytes(b"")
    run = vsr("upscale", a, b, "-o", tmp_path / "x.mkv", *UP)
    assert run.returncode == 2, str(run)
    assert "output folder" in run.stderr


def test_empty_folder_is_a_usage_error(vsr, tmp_path):
    (tmp_path / "empty").mkdir()
    run = vsr("upscale", tmp_path / "empty", *UP)
    assert run.returncode == 2 and "no video files" in run.stderr, str(run)

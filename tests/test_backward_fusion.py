"""benchmarks/backward_fusion.py: a backward fusion pass over a temporal model's outputs, offline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import load_script
from vsr.models import fusion
from vsr.models.loader import save
from vsr.models.temporal import TemporalEDSR
from vsr.quality.datasets import write_rgb
from vsr.quality.video_data import pan_clip

bench = load_script("benchmarks/backward_fusion.py")


def test_where_each_frames_chain_starts():
    shot_ends = [3, 3, 3, 3, 6, 6, 6]  # two shots: frames 0-3 and 4-6
    assert bench.chain_starts("lag:0", shot_ends) == list(range(7))
    assert bench.chain_starts("lag:2", shot_ends) == [2, 3, 3, 3, 6, 6, 6]
    assert bench.chain_starts("block:2:1", shot_ends) == [2, 2, 3, 3, 6, 6, 6]
    assert bench.chain_starts("all", shot_ends) == shot_ends
    with pytest.raises(SystemExit):
        bench.chain_starts("lag", shot_ends)


def test_a_backward_pass_changes_frames_only_from_later_frames_of_their_own_shot():
    stage = fusion.BackProjectionFusion("lr", 2, 255.0)
    rng = np.random.default_rng(0)
    base = torch.from_numpy(rng.normal(0, 40, (1, 3, 16, 16))).float()
    outputs = [base + t for t in range(4)]  # the same picture a little brighter each frame
    frames = [stage.down(o) for o in outputs]
    flows = [torch.zeros(1, 2, 8, 8), None, torch.zeros(1, 2, 8, 8), None]  # a cut between frames 1 and 2
    result = bench.backward_pass(stage, outputs, frames, flows, [1, 1, 3, 3], "bicubic")
    assert result[1] is outputs[1] and result[3] is outputs[3]  # the last frame of each shot: nothing after it
    assert not torch.equal(result[0], outputs[0]) and not torch.equal(result[2], outputs[2])
    lag0 = bench.backward_pass(stage, outputs, frames, flows, [0, 1, 2, 3], "bicubic")
    assert all(r is o for r, o in zip(lag0, outputs))


def test_the_benchmark_with_no_lag_gives_the_forward_outputs(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(1)
    picture = np.clip(rng.normal(128, 50, (80, 80, 3)), 0, 255).astype(np.uint8)
    (tmp_path / "clips" / "a").mkdir(parents=True)
    for t, frame in enumerate(pan_clip(picture, 4, 32, rng, max_speed=2.0)):
        write_rgb(tmp_path / "clips" / "a" / f"{t:04d}.png", frame)
    model = save(TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler="direct", fusion="lr"),
                 tmp_path / "t.safetensors")
    monkeypatch.setattr("sys.argv", ["backward_fusion.py", "--model", str(model), "--scale", "2",
                                     "--clips", str(tmp_path / "clips"), "--gt-downscale", "1",
                                     "--variants", "lag:0,all"])
    bench.main()
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| a |")]
    forward, lag0, whole = ([float(v) for v in cell.split(" / ")] for cell in rows[0][1:])  # PSNR-Y, tOF
    assert lag0 == forward and whole[0] != forward[0] and all(v >= 0 for v in forward + whole)


def stream(n: int, seed: int = 2):
    """A fusion stage and ``n`` frames: outputs and LR frames less the mean, and small smooth LR flows to
    the frame before."""
    stage = fusion.BackProjectionFusion("lr", 2, 255.0)
    rng = np.random.default_rng(seed)
    outputs = [torch.from_numpy(rng.normal(0, 30, (1, 3, 16, 16))).float() for _ in range(n)]
    frames = [stage.down(o) + 1.0 for o in outputs]
    flows = [np.ones((2, 8, 8), np.float32) * rng.normal(0, 0.5, (2, 1, 1)).astype(np.float32) for _ in range(n)]
    return stage, outputs, frames, flows


def test_streaming_blocks_equal_the_benchmarks_block_variant_and_wait_no_longer_than_needed():
    from vsr.models.backward_fusion import BackwardFusion, Pending
    from vsr.models.motion import invert_flow

    n, cut, fps, w, o = 13, 9, 25.0, 4, 2
    stage, outputs, frames, flows = stream(n)
    shot_ends = [cut - 1] * cut + [n - 1] * (n - cut)
    back = [None if shot_ends[t] == t else torch.from_numpy(invert_flow(flows[t + 1]))[None] for t in range(n)]
    expected = bench.backward_pass(stage, outputs, frames, back, bench.chain_starts(f"block:{w}:{o}", shot_ends),
                                   "bicubic")

    fuser = BackwardFusion(stage, block_seconds=w / fps, overlap=o)
    got, emitted_at = {}, {}
    for t in range(n):
        flow = None if t in (0, cut) else flows[t]
        for tag, b in fuser.push(Pending(outputs[t], frames[t], flow, t / fps, tag=t)):
            got[tag], emitted_at[tag] = b, t
    for tag, b in fuser.flush():
        got[tag], emitted_at[tag] = b, n
    assert list(got) == list(range(n))  # every frame once, in order
    assert all(torch.equal(got[t], expected[t]) for t in range(n))
    # frames 0-3 wait for frame 3 + 2; 4-7 for 7 + 2, past the cut: the cut (frame 9) releases them
    assert [emitted_at[t] for t in range(n)] == [5] * 4 + [9] * 5 + [n] * 4


def test_an_inverted_flow_undoes_the_flow():
    from vsr.models.motion import invert_flow

    h, w = 24, 32
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    flow = np.stack([1.5 + 0.1 * ys, -0.8 + 0.08 * xs]).astype(np.float32)  # smooth, not a plain shift
    inverse = invert_flow(flow)
    inner = np.s_[:, 4:-4, 4:-4]
    # a pixel moved by the inverse, then by the flow where it lands, comes back to itself
    mx, my = xs + inverse[0], ys + inverse[1]
    back = np.stack([cv2.remap(c, mx, my, cv2.INTER_LINEAR) for c in flow]) + inverse
    assert np.abs(back[inner]).max() < 0.01 and np.abs(inverse + flow)[inner].max() > 0.1


def test_streaming_refuses_an_empty_block():
    from vsr.models.backward_fusion import BackwardFusion

    with pytest.raises(ValueError):
        BackwardFusion(fusion.BackProjectionFusion("lr", 2, 255.0), block_seconds=0, overlap=2)


def fused_tiny() -> TemporalEDSR:
    from test_temporal_model import tiny

    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2, fusion="lr")
    model.load_state_dict(tiny(scale=2, seed=3).state_dict())
    return model.eval()


def test_the_cpu_runner_gives_the_benchmarks_block_variant_as_frames_stream():
    from test_temporal_model import as_tensor, panning
    from vsr.backends.recurrent import frame_runner
    from vsr.models.backward_fusion import BACKWARD_STEPS, BLOCK_FRAMES, FORWARD_STEPS, OVERLAP_FRAMES, backward_pass_for
    from vsr.models.motion import invert_flow

    model, fps, n = fused_tiny(), 25.0, 30
    run = frame_runner(model, model, scale=2, tile=0, overlap=0, backward=backward_pass_for(model, fps))
    assert model.fusion.settings.steps == FORWARD_STEPS, "the forward fusion leaves the rest to the backward pass"
    lr = panning(n, 24, 32)
    outputs, frames, flows = bench.forward_pass(model, lr)
    back = [None if t == n - 1 else torch.from_numpy(invert_flow(flows[t + 1]))[None] for t in range(n)]
    stage = fusion.BackProjectionFusion("lr", 2, 255.0)
    stage.settings = fusion.FusionSettings(stage.settings.alpha, stage.settings.sigma, BACKWARD_STEPS["lr"])
    starts = bench.chain_starts(f"block:{BLOCK_FRAMES}:{OVERLAP_FRAMES}", [n - 1] * n)
    expected = [(model.add_mean(b) / 255.0) for b in bench.backward_pass(stage, outputs, frames, back, starts, "bicubic")]

    x, got, released = as_tensor(lr), [], []
    for first in range(0, n, 4):  # batches of 4, as the backend sends them
        last = min(first + 4, n)
        done = run.stream(x[first:last], range(first, last), [t / fps for t in range(first, last)])
        got += done
        released.append((last - 1, len(done)))
    got += run.flush()
    assert [tag for tag, _ in got] == list(range(n)), "every frame once, in order"
    # the first block (frames 0-15) waits for frame 19, the start of its chain; the second block for the end
    assert released == [(3, 0), (7, 0), (11, 0), (15, 0), (19, 16), (23, 0), (27, 0), (29, 0)]
    worst = max(float((y - e).abs().max()) for (_, y), e in zip(got, expected))
    assert worst < 2e-3, worst  # the held outputs are float16: 1/16 of a level at most off
    forward = [model.add_mean(o) / 255.0 for o in outputs]
    assert float((got[0][1] - forward[0]).abs().mean()) > 1e-3, "the backward pass must change the frames"


def test_a_whole_batch_through_the_runner_is_a_stream_of_its_own():
    from test_temporal_model import as_tensor, panning
    from vsr.backends.recurrent import frame_runner
    from vsr.models.backward_fusion import backward_pass_for

    model = fused_tiny()
    x = as_tensor(panning(6, 24, 32))
    whole = frame_runner(model, model, scale=2, tile=0, overlap=0, backward=backward_pass_for(model, 25.0))(x)
    streamed = frame_runner(model, model, scale=2, tile=0, overlap=0, backward=backward_pass_for(model, 25.0))
    held = streamed.stream(x, range(6), [None] * 6)  # no timeline: one chain from the last frame
    assert held == []
    assert torch.equal(whole, torch.cat([y for _, y in streamed.flush()]))
    assert backward_pass_for(TemporalEDSR(num_features=8, num_blocks=1, scale=2), 25.0) is None, "no fusion, no pass"


def test_frames_that_go_back_in_time_start_a_new_stream_and_memory_stays_bounded():
    from vsr.models.backward_fusion import BackwardFusion, Pending

    n = 10
    stage, outputs, frames, flows = stream(n)
    fuser = BackwardFusion(stage, block_seconds=100.0, overlap=1, block_frames=2)  # one block: never released
    done = [tag for t in range(n) for tag, _ in fuser.push(Pending(outputs[t], frames[t], flows[t], t / 25, t))]
    assert done == list(range(6)) and fuser.pending == n - 6, "at 2 * (2 + 1) frames held the stage flushes"
    again = fuser.push(Pending(outputs[0], frames[0], flows[0], 0.0, "again"))  # the same times again
    assert [tag for tag, _ in again] == list(range(6, n)) and fuser.pending == 1

"""benchmarks/perfect_past.py: a temporal model scored with no past, its own past and a perfect one."""

from __future__ import annotations

import torch

from conftest import load_script
from test_temporal_model import panning
from vsr.models.temporal import TemporalEDSR
from vsr.quality.datasets import make_lr

perfect_past = load_script("benchmarks/perfect_past.py")


def clip(frames: int = 5) -> tuple[list, list]:
    gt = panning(frames, 48, 64, step=2)  # 2 HR pixels a frame: one LR pixel at x2
    return gt, [make_lr(f, 2) for f in gt]


def test_a_model_deaf_to_its_past_scores_the_same_every_way_and_the_copy_follows_the_motion():
    torch.manual_seed(0)
    net = TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler="direct").eval()
    with torch.no_grad():
        net.recurrent_weight.zero_()
    gt, lr = clip()
    scores = perfect_past.past_scores(net, gt, lr)
    assert set(scores) == set(perfect_past.WAYS)
    assert scores["none"] == scores["own"] == scores["perfect"]
    assert scores["copy"] > 30  # the previous ground truth, warped by the LR flow, lands on the current one


def test_the_past_changes_the_scores_of_a_model_that_reads_it():
    torch.manual_seed(0)
    net = TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler="direct").eval()
    with torch.no_grad():
        net.recurrent_weight.normal_(0.0, 0.05)
    gt, lr = clip()
    scores = perfect_past.past_scores(net, gt, lr)
    assert len({scores["none"], scores["own"], scores["perfect"]}) == 3
    assert perfect_past.past_scores(net, gt, lr) == scores  # the same on every run

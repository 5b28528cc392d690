"""Shipped weights: every registry entry has its file and card, loads at its scale, and families
give the plan x2/x3/x4 members."""

from __future__ import annotations

import hashlib
import re

import pytest

from vsr.models import registry

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("entry", registry.SHIPPED, ids=lambda e: e.name)
def test_each_shipped_model_loads_at_its_scale_and_matches_its_card(entry):
    from vsr.models import load

    path = registry.shipped_path(entry)
    card = path.with_suffix(".md").read_text()
    assert f"# {entry.name}" in card
    digest = re.search(r"sha256 `([0-9a-f]{64})`", card).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path.name}: update the card's sha256"
    net = load(entry.name).eval()
    assert net.scale == entry.scale
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        from vsr.models.temporal import shot_start_args

        y = net(*shot_start_args(net, x))
        if isinstance(y, tuple):  # a temporal model: the output and its next state
            y, state = y
            assert state.shape == (1, net.state_channels, 8, 10)
    assert y.shape == (1, 3, 8 * entry.scale, 10 * entry.scale)


@pytest.mark.parametrize("family", ["edsr-baseline", "edsr-baseline-archive"])
def test_families_have_x2_x3_x4(family):
    assert sorted(registry.family_scales(family)) == [2, 3, 4]


def test_perceptual_family_has_x2_and_x4():
    assert sorted(registry.family_scales("edsr-baseline-archive-gan")) == [2, 4]


def test_temporal_families_are_shipped_as_temporal_models():
    assert sorted(registry.family_scales("temporal")) == [2, 3, 4]
    assert sorted(registry.family_scales("temporal-archive")) == [2, 4]
    assert {e.arch for e in registry.SHIPPED if e.family.startswith("temporal")} == {"temporal"}

"""tools/average_weights.py: the average of two checkpoints of one network, refused for two networks."""

from __future__ import annotations

import pytest
import torch

from conftest import load_script


def tool():
    return load_script("tools/average_weights.py")


def test_average_is_the_weighted_mean_in_the_first_files_dtypes():
    a = {"w": torch.tensor([0.0, 2.0], dtype=torch.float16), "b": torch.tensor([1.0])}
    b = {"w": torch.tensor([4.0, 6.0], dtype=torch.float16), "b": torch.tensor([3.0])}
    out = tool().average(a, b, 0.25)
    assert out["w"].dtype == torch.float16 and out["w"].tolist() == [1.0, 3.0] and out["b"].tolist() == [1.5]


def test_two_networks_are_refused():
    with pytest.raises(SystemExit, match="not the same network"):
        tool().average({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)
    with pytest.raises(SystemExit, match="not the same network"):
        tool().average({"w": torch.zeros(2)}, {"v": torch.zeros(2)}, 0.5)

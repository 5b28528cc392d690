"""The pipeline's stages: which decoded frames are computed and which are written."""

from __future__ import annotations

import pytest

from conftest import read_video
from vsr import pipeline
from vsr.backends.factory import create_backend
from vsr.config import UpscaleOptions
from vsr.io.reader import Section
from vsr.plan import make_plan


class _Counting:
    """A backend that records the timestamps of the frames it is given."""

    def __init__(self, backend) -> None:
        self.backend, self.seen = backend, []

    def run(self, batches):
        for batch in batches:
            self.seen += [round(float(f.pts * f.time_base), 3) for f in batch]
            yield self.backend.process(batch)


@pytest.fixture
def plan(make_clip, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=12, rate=10)
    return make_plan(UpscaleOptions(input=src, output=tmp_path / "out.mkv", model="bicubic", scale=2, codec="ffv1"))


def test_frames_outside_keep_are_neither_computed_nor_written(plan):
    with create_backend(plan) as backend:
        counting = _Counting(backend)
        result = pipeline.run(plan, keep=Section(0.3, 0.8), backend=counting)
    assert counting.seen == [0.3, 0.4, 0.5, 0.6, 0.7]
    assert result.frames == 5
    assert [round(t, 3) for t in read_video(plan.output).times] == [0.3, 0.4, 0.5, 0.6, 0.7]


def test_the_write_step_drops_computed_frames_that_are_not_written(plan):
    """The seam for warm-up frames: computed (``computes``), not written (``writes``)."""

    class WarmingUp(pipeline._Pipeline):
        def computes(self, frame) -> bool:
            return True

    progress = []
    with create_backend(plan) as backend:
        counting = _Counting(backend)
        result = WarmingUp(plan, progress.append, None, Section(0.3, 0.8), None).execute(counting)
    assert counting.seen == [round(0.1 * i, 3) for i in range(12)]
    assert result.frames == 5 and progress[-1].frames == 5
    assert [round(t, 3) for t in read_video(plan.output).times] == [0.3, 0.4, 0.5, 0.6, 0.7]

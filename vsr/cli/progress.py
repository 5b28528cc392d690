"""A tqdm progress bar on stderr fed by the pipeline's progress callback."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

    from vsr.pipeline import Progress


class ProgressBar:
    def __init__(self, *, disabled: bool) -> None:
        self.disabled = disabled or not sys.stderr.isatty()  # no bar residue in logs and pipes
        self._bar: tqdm | None = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, progress: Progress) -> None:
        if self.disabled:
            return
        if self._bar is None:
            from tqdm import tqdm  # imported only when a bar is shown (startup time counts)

            self._bar = tqdm(total=progress.total, unit="frame", dynamic_ncols=True, leave=False, smoothing=0.1)
        self._bar.update(progress.frames - self._bar.n)

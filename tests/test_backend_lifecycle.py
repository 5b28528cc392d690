"""Backends are context managers: a failed open() is closed before its error goes on."""

from __future__ import annotations

import pytest

from vsr.backends.base import Backend
from vsr.errors import BackendError


class _HalfOpening(Backend):
    name = "half"

    def __init__(self, fail_close: bool = False) -> None:
        super().__init__(spec=None)  # type: ignore[arg-type]
        self.buffers, self.closed, self.fail_close = None, 0, fail_close

    def open(self) -> None:
        self.buffers = bytearray(16)  # something made before the failure
        raise BackendError("engine build failed: try --backend torch")

    def close(self) -> None:
        self.closed += 1
        self.buffers = None
        if self.fail_close:
            raise RuntimeError("close failed too")

    def process(self, frames):
        return list(frames)


def test_failed_open_is_closed_and_its_error_kept():
    backend = _HalfOpening()
    with pytest.raises(BackendError, match="engine build failed"):
        with backend:
            pytest.fail("the body must not run")
    assert backend.closed == 1 and backend.buffers is None


def test_a_failing_close_does_not_hide_the_open_error(caplog):
    backend = _HalfOpening(fail_close=True)
    with pytest.raises(BackendError, match="engine build failed"):
        with backend:
            pass
    assert "closing the half-opened half backend failed too" in caplog.text

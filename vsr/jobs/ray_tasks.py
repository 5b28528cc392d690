"""``--ray ADDRESS`` / ``--ray local``: segments as Ray tasks; the driver (this process) keeps the
manifest and joins.

Each task asks for one GPU when the plan runs on CUDA (Ray then sets CUDA_VISIBLE_DEVICES, so the
task uses ``cuda``), else one CPU; a task whose worker dies is retried by Ray (``max_retries``).
The input and the job folder must be at the same path on every node (shared storage), and vsr
must be installed there. Progress is reported per finished segment.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from vsr import errors
from vsr.errors import BackendError, UsageError
from vsr.jobs.segments import Segment
from vsr.plan import Plan

MAX_RETRIES = 3


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'vsr[ray]'") from None
    return ray


def _encode(plan: Plan, segment: Segment, folder: str) -> dict:
    """The task body, on a Ray worker."""
    from vsr.jobs.encode import encode_segment

    if plan.device.startswith("cuda"):
        plan = replace(plan, device="cuda")  # the GPU Ray gave this task is the only one it sees
    return encode_segment(plan, segment, Path(folder))


class RayExecutor:
    def __init__(self, plan: Plan, address: str) -> None:
        self.ray = _ray()
        self.plan = plan
        self.address = address

    def run(self, pending: list[Segment], folder: Path, on_frames, on_done) -> None:
        ray = self.ray
        local = self.address == "local"
        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(address=None if local else self.address, include_dashboard=False,
                         log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise BackendError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from exc
        resources = {"num_gpus": 1} if self.plan.device.startswith("cuda") else {"num_cpus": 1}
        task = ray.remote(_encode).options(max_retries=MAX_RETRIES, **resources)
        refs = {task.remote(self.plan, s, str(folder)): s for s in pending}
        try:
            waiting = list(refs)
            while waiting:
                ready, waiting = ray.wait(waiting, num_returns=1)
                on_done(self._result(ready[0], refs[ready[0]]))
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started_here:
                ray.shutdown()

    def _result(self, ref, segment: Segment) -> dict:
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, errors.VsrError):
                raise type(cause)(f"segment {segment.index}: {cause}") from exc
            raise BackendError(f"segment {segment.index} failed on Ray: {cause or exc}".splitlines()[0]) from exc
        except ray.exceptions.RayError as exc:
            raise BackendError(f"segment {segment.index} failed on Ray after {MAX_RETRIES} retries: "
                               f"{type(exc).__name__}".splitlines()[0]) from exc

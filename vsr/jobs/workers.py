"""``--workers N``: N processes take segments from one queue (``--device cuda:0,cuda:1``: one per GPU).

Workers are spawned (not forked: the driver may hold threads and CUDA state) and ignore SIGINT; the
driver stops them. A worker whose driver died (SIGKILL) notices and exits."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from dataclasses import replace
from pathlib import Path

from vsr import errors
from vsr.errors import BackendError, Interrupted
from vsr.jobs.segments import Segment
from vsr.plan import Plan

_POLL = 0.5


class ProcessExecutor:
    def __init__(self, plan: Plan, devices: tuple[str, ...]) -> None:
        self.plan = plan
        self.devices = devices  # one entry per worker; "" keeps the plan's device

    def run(self, pending: list[Segment], folder: Path, on_frames, on_done) -> None:
        if not pending:
            return
        ctx = mp.get_context("spawn")
        tasks, events = ctx.Queue(), ctx.Queue()
        devices = self.devices[: len(pending)]
        threads = max(1, (os.cpu_count() or 1) // len(devices))
        for segment in pending:
            tasks.put(segment)
        for _ in devices:
            tasks.put(None)
        procs = [ctx.Process(target=_work, args=(self.plan, device, threads, folder, tasks, events),
                             name=f"vsr-worker-{n}", daemon=True) for n, device in enumerate(devices)]
        for p in procs:
            p.start()
        remaining = len(pending)
        try:
            while remaining:
                try:
                    event = events.get(timeout=_POLL)
                except queue.Empty:
                    dead = [p for p in procs if p.exitcode not in (None, 0)]
                    if dead:
                        raise BackendError(f"worker process {dead[0].name} died (exit code {dead[0].exitcode}; "
                                           "killed for memory?)") from None
                    if all(p.exitcode == 0 for p in procs):
                        raise BackendError("the worker processes stopped before every segment was done")
                    continue
                kind = event[0]
                if kind == "frames":
                    on_frames(event[1], event[2])
                elif kind == "done":
                    on_done(event[1])
                    remaining -= 1
                else:
                    _, index, error_name, message = event
                    raise getattr(errors, error_name, errors.VsrError)(f"segment {index}: {message}")
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=10)


def _work(plan: Plan, device: str, threads: int, folder: Path, tasks, events) -> None:
    """A worker process: encode segments until the queue says stop or the driver is gone."""
    from vsr.jobs.encode import encode_segment

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if device:
        plan = replace(plan, device=device)
    if not plan.is_resampler and plan.device == "cpu":
        import torch

        torch.set_num_threads(threads)
    parent = mp.parent_process()

    def driver_alive() -> bool:
        return parent is None or parent.is_alive()

    while driver_alive():
        try:
            segment = tasks.get(timeout=_POLL)
        except queue.Empty:
            continue
        if segment is None:
            return

        def on_frames(frames: int, index: int = segment.index) -> None:
            if not driver_alive():
                raise Interrupted("the driver process is gone")
            events.put(("frames", index, frames))

        try:
            events.put(("done", encode_segment(plan, segment, folder, on_frames)))
        except errors.VsrError as exc:
            events.put(("error", segment.index, type(exc).__name__, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which fails the job
            events.put(("error", segment.index, "VsrError", f"{type(exc).__name__}: {exc}"))
            return

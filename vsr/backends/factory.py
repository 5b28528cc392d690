"""Which backend runs a plan: the classes of ``availability.BACKEND_KINDS``; a backend's heavy modules load on use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from vsr.backends.availability import BACKEND_KINDS, device_kind

if TYPE_CHECKING:
    from vsr.backends.base import Backend
    from vsr.backends.spec import BackendSpec
    from vsr.plan import Plan

# entry -> (module, class), read off BACKEND_KINDS: a backend's first class under its own name, the classes
# for other device kinds as "name-device" ("torch-cuda": PyTorch on a GPU runs the pipelined GPU backend)
BACKENDS: dict[str, tuple[str, str]] = {
    (kind.name if i == 0 else f"{kind.name}-{device}"): (module, cls)
    for kind in BACKEND_KINDS.values() for i, (device, module, cls) in enumerate(kind.runs)
}


def backend_name(spec: BackendSpec) -> str:
    """The table entry for a spec: its backend, with PyTorch on a GPU as ``torch-cuda``."""
    on_device = f"{spec.backend}-{device_kind(spec.device)}"
    return on_device if on_device in BACKENDS else spec.backend


def create_backend(plan: Plan) -> Backend:
    """The backend the plan chose, built from its spec (not yet opened: use it as a context manager)."""
    return backend_for(plan.backend_spec())


def backend_for(spec: BackendSpec) -> Backend:
    """The backend a spec names (not yet opened)."""
    name = backend_name(spec)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {spec.backend!r}")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(spec)

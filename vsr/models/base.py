"""The base class of every architecture: records its constructor's keyword arguments.

``loader.save`` writes ``model.config`` as metadata so the file rebuilds the same module;
subclasses declare ``arch`` and get ``config`` (keyword arguments with defaults applied) without
copying their arguments by hand. ``size_multiple``: input H and W must be multiples of it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar

from torch import nn


class SRModel(nn.Module):
    arch: ClassVar[str]
    size_multiple: int = 1
    scale: int
    config: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: SRModel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            self.config = {k: v for k, v in list(bound.arguments.items())[1:]}  # the most derived wins

        cls.__init__ = recording_init  # type: ignore[method-assign]

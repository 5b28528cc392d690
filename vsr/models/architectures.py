"""The ordered list of architectures vsr can build and recognise.

Adding an architecture: one file ``vsr/models/<arch>.py`` exporting ``ARCHITECTURE``
(module, layouts, aliases; see ``vsr.models.spec``) and one line below. Detection tries the list
in order and the first layout that recognises the keys wins, so more specific layouts come first.
"""

from __future__ import annotations

from vsr.models import edsr, msrresnet, rrdbnet, span, srcnn, srresnet, srvgg, temporal, vdsr
from vsr.models.spec import Architecture, Detected, Shapes

ARCHITECTURES: tuple[Architecture, ...] = (
    temporal.ARCHITECTURE,  # before edsr: same key names, a wider head
    edsr.ARCHITECTURE,
    rrdbnet.ARCHITECTURE,
    msrresnet.ARCHITECTURE,
    srresnet.ARCHITECTURE,
    span.ARCHITECTURE,
    srvgg.ARCHITECTURE,
    srcnn.ARCHITECTURE,
    vdsr.ARCHITECTURE,
)

_BY_NAME = {a.name: a for a in ARCHITECTURES}


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_ALIASES = {_key(alias): a.name for a in ARCHITECTURES for alias in (a.name, *a.aliases)}


def supported() -> list[str]:
    return [a.name for a in ARCHITECTURES]


def get(name: str) -> Architecture | None:
    """The architecture called ``name`` or one of its aliases (``esrgan``, ``compact``...)."""
    canonical = _ALIASES.get(_key(name))
    return _BY_NAME[canonical] if canonical else None


def detect(shapes: Shapes, *, arch: str | None = None) -> Detected | None:
    """The first layout (of architecture ``arch`` only, when given) that recognises ``shapes``."""
    for architecture in ARCHITECTURES:
        if arch is None or architecture.name == arch:
            found = architecture.detect(shapes)
            if found is not None:
                return found
    return None

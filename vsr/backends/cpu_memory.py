"""Keep freed memory in the process for the next frame instead of returning it to the kernel.

A network's activations on a whole frame are tens of megabytes each (EDSR-baseline on 640x360:
59 MB per fp32 feature map), above glibc malloc's mmap threshold (at most 32 MB), so every layer of
every frame maps fresh pages and unmaps them again: page faults and zeroing that showed up as a third
of the CPU time (14.7 s system for 25.5 s user on 6 frames). Telling malloc to serve every size from
its heap and never trim it makes the second frame reuse the first frame's pages.

glibc only (Linux); elsewhere this does nothing. It changes the whole process's allocator, so the
library does it once, when a CPU backend opens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Make malloc reuse freed pages (no mmap per allocation, no trimming); True if it applied."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    if not applied:
        log.debug("mallopt refused the settings; frames will allocate fresh pages")
    return applied

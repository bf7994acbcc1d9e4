"""Host memory: keep freed buffers in the process instead of handing them back to the OS.

Why: XLA's CPU runtime allocates each execution's temporaries as one large buffer with
`malloc` and frees it afterwards. glibc serves blocks above its mmap threshold (at most
32 MiB) with a fresh `mmap` and returns them with `munmap`, and trims the heap's top on
free. So every step of a CNN starts on untouched pages: the W2 training step took ~43,000
page faults (~170 MB) per call. With no mmap'd blocks and a high trim threshold, buffers
are reused from the heap, as a caching allocator would (PyTorch's CUDA allocator, JAX's GPU
preallocation): half the faults go, and the step is ~20% faster on this machine.

What is left (~22,000 faults) is a buffer above 64 MiB allocated on one of XLA's worker
threads: glibc always maps those afresh. One shared arena (`M_ARENA_MAX=1`) would remove
them too, but XLA's compiler threads then contend on it and a first call (compile) got
~0.3 s slower; so the threads keep their arenas.

The cost is the usual one of a caching allocator: memory freed below the heap's top stays
with the process (up to `TRIM_BYTES` at the top is kept too) until it exits.

Applied once, at `import jtorch`, before JAX starts its threads, on glibc only. Set
`JTORCH_CPU_ALLOCATOR=system` in the environment to keep glibc's defaults.
"""
from __future__ import annotations

import ctypes
import os
import platform

# glibc's mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
TRIM_BYTES = 1 << 30  # free space at the heap's top beyond this goes back to the OS

tuned = False  # whether `tune` changed glibc's settings in this process


def tune() -> bool:
    """Apply the settings above; False when opted out or not on glibc."""
    global tuned
    if tuned:
        return True
    if os.environ.get("JTORCH_CPU_ALLOCATOR", "caching") == "system":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    tuned = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, TRIM_BYTES)))
    return tuned

"""`import jtorch` keeps freed host buffers for reuse (jtorch._cpu_runtime): a large buffer
allocated and freed over and over stops costing fresh pages each time, and
`JTORCH_CPU_ALLOCATOR=system` leaves glibc's defaults alone."""
import platform
import subprocess
import sys

import pytest

from _subproc import env

# A 40 MiB malloc (above glibc's largest mmap threshold, 32 MiB) filled and freed
# five times after a warm-up; prints whether jtorch tuned malloc and the page faults taken.
PROBE = """
import ctypes, resource
import jtorch
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
def churn():
    p = libc.malloc(40 << 20)
    ctypes.memset(p, 1, 40 << 20)
    libc.free(p)
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    churn()
print(jtorch.backends.cpu.caching_allocator_enabled(),
      resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the setting is glibc's (mallopt); elsewhere jtorch leaves malloc alone")


def _probe(mode):
    out = subprocess.run([sys.executable, "-c", PROBE], env=env(JTORCH_CPU_ALLOCATOR=mode),
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@glibc_only
def test_freed_buffers_are_reused_not_refaulted():
    tuned, faults = _probe("caching")
    plain, plain_faults = _probe("system")
    assert tuned and not plain
    pages = 5 * (40 << 20) // 4096
    assert plain_faults > pages // 2  # glibc maps each 40 MiB block afresh...
    assert faults < pages // 50       # ...the tuned heap hands the same pages back


SCHED = "--xla_cpu_enable_concurrency_optimized_scheduler"
FLAGS_PROBE = "import os, jtorch, jax; jax.devices(); print(os.environ.get('XLA_FLAGS', ''))"


def _xla_flags(**extra):
    return subprocess.run([sys.executable, "-c", FLAGS_PROBE], env=env(**extra),
                          capture_output=True, text=True, timeout=120,
                          check=True).stdout.strip()


def test_xla_cpu_scheduler_flag_only_on_request_and_never_over_the_users():
    assert _xla_flags() == ""  # XLA's own scheduler by default
    cp = dict(JTORCH_XLA_SCHEDULER="critical-path")
    assert _xla_flags(**cp) == f"{SCHED}=false"
    assert _xla_flags(XLA_FLAGS=f"{SCHED}=true", **cp) == f"{SCHED}=true"  # the user's wins
    kept = _xla_flags(XLA_FLAGS="--xla_cpu_use_thunk_runtime=true", **cp)
    assert kept == f"--xla_cpu_use_thunk_runtime=true {SCHED}=false"
    assert _xla_flags(JTORCH_XLA_SCHEDULER="default") == ""


def test_xla_cpu_scheduler_flag_left_alone_once_the_backend_started():
    code = ("import os, jax; jax.devices(); import jtorch; "
            "print(repr(os.environ.get('XLA_FLAGS', '')))")
    out = subprocess.run([sys.executable, "-c", code],
                         env=env(JTORCH_XLA_SCHEDULER="critical-path"), capture_output=True,
                         text=True, timeout=120, check=True).stdout.strip()
    assert out == "''"  # too late to matter: jtorch does not pretend it applied


def test_user_environ_drops_only_what_jtorch_added():
    code = ("import os, jtorch; from jtorch._cpu_runtime import user_environ; "
            "print(repr(os.environ.get('XLA_FLAGS')), repr(user_environ().get('XLA_FLAGS')))")
    def run(**extra):
        return subprocess.run([sys.executable, "-c", code], env=env(**extra),
                              capture_output=True, text=True, timeout=120,
                              check=True).stdout.strip()
    cp = dict(JTORCH_XLA_SCHEDULER="critical-path")
    assert run(**cp) == f"'{SCHED}=false' None"
    assert run(XLA_FLAGS="--xla_cpu_use_thunk_runtime=true", **cp) == (
        f"'--xla_cpu_use_thunk_runtime=true {SCHED}=false' '--xla_cpu_use_thunk_runtime=true'")

"""One (workload, column) in its own fresh process: `python -m benchmarks.cell W COLUMN`.

Why a process per cell: the first step's time must include all tracing and compiling a new
user pays, so every compilation cache is off (JAX's persistent cache; Inductor writes into
the new empty directory the parent gives it); the peak-memory number is this process's
own (peak RSS, VmHWM, over the RSS after imports); and libraries never share an address
space or thread pools with each other, as in a user's own training run.

Protocol, one JSON object per line on the original stdout (anything the libraries print
goes to stderr): on start the worker builds the cell, times its first step, runs the
warm-up steps and answers {"ready": {...}} (or {"error": ...} and exits). Then the parent
sends `run N S` (answer {"step_s": [wall times of N steps, or more until S seconds]}) as
often as it likes, interleaving the workers of one workload in rotating rounds, and finally
`done` (answer: loss, memory).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback


def _err(exc):
    msg = f"{type(exc).__name__}: {exc}".strip()
    return msg if len(msg) <= 500 else msg[:500] + "..."


def _status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB
    raise OSError(field)


def _rss_baseline():
    """Current RSS with the peak reset to it, so the later peak is this cell's own.
    (ru_maxrss is unusable: Linux carries the parent's high-water mark across fork+exec.)"""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        return _status_bytes("VmRSS")
    except OSError:  # not Linux: the best available high-water mark
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss_peak():
    try:
        return _status_bytes("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _preimport(column):
    """Import the column's libraries before the memory baseline is taken."""
    if column.startswith("torch"):
        import torch  # noqa: F401
        return
    import jax
    jax.config.update("jax_enable_compilation_cache", False)
    if column.startswith("jtorch") or column == "flax-jtorch-settings":
        import jtorch  # noqa: F401  (sets malloc and XLA CPU flags on import: jtorch._cpu_runtime)
    if not column.startswith("jtorch"):
        import flax.linen  # noqa: F401
        import optax  # noqa: F401


# Warm-up runs at least `warmup` steps and, for fast steps, until this much time has passed:
# the first tens of calls of a few-millisecond jitted step are still settling.
_WARM_SECONDS = float(os.environ.get("JTORCH_BENCH_WARM_SECONDS", "1.0"))
_WARM_MAX = 200
_ROUND_MAX = 500  # timed steps in one round at most
# Each round starts with untimed steps for at least this long (and at least one step): while
# the other columns' processes ran, this one's threads slept and its caches went cold, and
# the first few steps after that wake-up are 1.5-4x slower for a few-millisecond step. A
# training loop that runs step after step never pays that, so it is measured apart
# ("rewarm_s") and the rounds time the steady state.
_REWARM_SECONDS = float(os.environ.get("JTORCH_BENCH_REWARM_SECONDS", "0.1"))


def _timed_steps(cell, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        cell.step()
        out.append(time.perf_counter() - t0)
    return out


def _steps_for(cell, at_least, seconds, most=_WARM_MAX):
    """`at_least` steps, then more until `seconds` have passed (at most `most` in all);
    returns their times (warm-up steps' times are kept for the record, not the medians)."""
    out = _timed_steps(cell, at_least)
    while sum(out) < seconds and len(out) < most:
        out += _timed_steps(cell, 1)
    return out


def serve(workload, column, warmup, commands, send):
    """Build, time the first step, warm up, then answer `run N` / `done` commands."""
    from .columns import make
    try:
        _preimport(column)
        base = _rss_baseline()
        t0 = time.perf_counter()
        cell = make(column, workload)
        build_s = time.perf_counter() - t0
        first_s = _timed_steps(cell, 1)[0]
        warm = _steps_for(cell, warmup, _WARM_SECONDS)  # a fast step settles for a while
    except Exception as exc:  # a column that cannot run is reported, not fatal
        send({"error": _err(exc), "traceback": traceback.format_exc(limit=8)})
        return
    send({"ready": {"first_call_s": first_s, "build_s": build_s, "warmup_s": warm,
                    "device": cell.device, **cell.info}})
    for line in commands:
        cmd = line.split()
        try:
            if cmd[:1] == ["run"]:
                rewarm = _steps_for(cell, 1, _REWARM_SECONDS)
                # `run N S`: N steps, then more until S seconds (a fast step's median then
                # comes from hundreds of samples, not tens, at no cost a user would notice)
                secs = float(cmd[2]) if len(cmd) > 2 else 0.0
                send({"step_s": _steps_for(cell, int(cmd[1]), secs, _ROUND_MAX),
                      "rewarm_s": rewarm})
            elif cmd[:1] == ["done"]:
                send({"loss": cell.loss(), "peak_rss_delta_bytes": _rss_peak() - base,
                      "device_peak_bytes": cell.peak_memory()})
                return
            else:
                send({"error": f"unknown command {line.strip()!r}"})
        except Exception as exc:
            send({"error": _err(exc), "traceback": traceback.format_exc(limit=8)})
            return


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    workload, column, warmup = argv[0], argv[1], int(argv[2]) if len(argv) > 2 else 2
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library chatter (C or Python) goes to stderr, never into the protocol
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    serve(workload, column, warmup, sys.stdin, send)
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown (JAX/torch thread pools); answers are sent


if __name__ == "__main__":
    main()

"""`jtorch bench`: training-step time, first-call time and peak memory of three workloads,
for jtorch eager, jtorch.compile, a hand-written flax+optax `jax.jit` step (the limit),
PyTorch eager and torch.compile, measured side by side in one run.

Every process serves one (workload, column), fresh, with compilation caches off (see
`cell.py`). A workload is measured in two phases. First calls: each in a fresh process
that runs alone and is closed once it answers, as a user's one training run is. Steps: a
second set of processes, started one at a time and warmed up, then driven in interleaved
rounds of N steps each, the order rotating, so machine noise hits all columns alike;
per-step medians come from those rounds. Each round first re-warms its process with
untimed steps (`cell.py`), as a training loop running step after step is. The two columns
the targets compare get `first_calls` processes each in both phases (see
FIRST_CALL_COLUMNS): the median of their first calls, and step medians that pool the
samples of all their step processes.
"""
from __future__ import annotations

import json
import math
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .columns import COLUMNS, LABELS
from .workloads import NAMES, TITLES

SCHEMA = "jtorch-bench/1"
TARGETS = {"compiled_vs_flax": 1.05, "compiled_first_call_vs_flax": 1.2}
MODES = {  # interleaved rounds x steps per round (at least; more until round_seconds);
    # warm-up steps after the first; timeout (s); first_calls: processes of each
    # FIRST_CALL_COLUMNS column, for first calls and again for steps
    "quick": dict(rounds=5, steps=4, round_seconds=0.25, warmup=10, warm_seconds=1.0,
                  rewarm_seconds=0.1, first_calls=4, timeout=300),
    "full": dict(rounds=7, steps=5, round_seconds=0.5, warmup=20, warm_seconds=2.0,
                 rewarm_seconds=0.1, first_calls=4, timeout=900),
}
# A first call happens once per process, and on a shared machine one sample of it varies by
# 10-20% from run to run (measured: flax's W2 first call 1.32-1.65 s in three runs). The two
# columns the targets compare get `first_calls` processes each for their first calls and
# report the median. Those processes run alone, each closed before the next starts: on this
# machine a process started while others stayed alive page-faulted its compiler's memory in
# at a higher cost (W1: system time 0.03 -> 0.08-0.12 s of a 0.25 s first call), which grew
# with every process started, so the late starts decided the ratio (W1, six processes of each
# column kept alive: 1.12-1.24; closed one by one: 1.02-1.07).
# For steps, `first_calls` processes of each column take part in the rounds too: a step's
# speed varies from process to process, and one process per column let that decide a ratio
# by a few percent. On this machine the spread even depends on when a process started:
# three processes of the same W1 step started back to back ran at 3.43, 3.23 and 3.12 ms
# (jtorch.compile) and 3.31, 3.10 and 3.05 ms (flax), whatever the order of the rounds
# (with 25 s between starts, the first was the fastest instead). So the two columns' starts
# follow the Thue-Morse sequence, A B B A B A A B (`_start_order`): with 2, 4 or 8
# processes each, both columns get the same sum of start places.
FIRST_CALL_COLUMNS = ("jtorch-compiled", "flax")
# torch.compile takes ~1 minute per workload to compile on a small CPU; the quick default
# (which should finish in a few minutes) leaves it out unless asked for with --columns.
QUICK_COLUMNS = tuple(c for c in COLUMNS if c != "torch-compile")
QUICK_SKIP_NOTE = ("left out of the quick default (about a minute of compiling per workload "
                   "on a small CPU); add it with --columns or run --full")
MEM_RSS = "peak RSS of a fresh process (VmHWM) minus its RSS after the library imports"
MEM_DEVICE = "device allocator peak (jax memory_stats / torch.cuda.max_memory_allocated)"


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _torch_available():
    import importlib.util
    return importlib.util.find_spec("torch") is not None


class _Worker:
    """A `python -m benchmarks.cell` process serving one (workload, column)."""

    def __init__(self, workload, column, warmup, env_extra):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        from jtorch._cpu_runtime import user_environ
        env = user_environ()  # jtorch's columns set their own flags when they import it
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
        env.update(env_extra)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.cell", workload, column, str(warmup)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.buf = b""

    def _stderr_tail(self):
        self.log.seek(0)
        lines = self.log.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def answer(self, timeout):
        """The worker's next JSON line, or {"error": ...} on timeout or death."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                return {"error": f"timed out after {timeout} s"}
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.proc.wait()
                return {"error": f"process exited with {self.proc.returncode}: "
                                 f"{self._stderr_tail()}"}
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, cmd, timeout):
        try:
            self.proc.stdin.write(cmd.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"error": f"process exited: {self._stderr_tail()}"}
        return self.answer(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _finite_pos(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _ratio(a, b):
    return a / b if _finite_pos(a) and _finite_pos(b) else None


def measure(workloads=NAMES, columns=None, mode="quick", progress=_log, **overrides):
    """Run the benchmark; returns the result dict (the JSON schema `SCHEMA`)."""
    cfg = {**MODES[mode], **overrides}
    skipped = {}
    if columns is None:
        columns = COLUMNS if mode == "full" else QUICK_COLUMNS
        skipped = {c: QUICK_SKIP_NOTE for c in COLUMNS if c not in columns}
    for w in workloads:
        if w not in NAMES:
            raise ValueError(f"unknown workload {w!r}; expected some of {', '.join(NAMES)}")
    for c in columns:
        if c not in COLUMNS:
            raise ValueError(f"unknown column {c!r}; expected some of {', '.join(COLUMNS)}")
    has_torch = _torch_available()
    result = {"schema": SCHEMA, "meta": _meta(mode, cfg, has_torch), "workloads": {}}
    result["meta"]["skipped_columns"] = skipped
    for c, why in skipped.items():
        progress(f"[bench] {c}: {why}")
    for w in workloads:
        cols = {}
        inductor_dir = tempfile.mkdtemp(prefix=f"jtorch-bench-inductor-{w}-")
        try:
            cols = _measure_workload(w, columns, cfg, has_torch, inductor_dir, progress)
        finally:
            shutil.rmtree(inductor_dir, ignore_errors=True)
        result["workloads"][w] = {"title": TITLES[w], "columns": cols, "ratios": _ratios(cols)}
    return result


def _fail(cols, w, c, msg, progress):
    cols[c] = {"available": False, "error": msg}
    progress(f"[bench] {w} {c:<16} unavailable: {msg}")


def _measure_workload(w, columns, cfg, has_torch, inductor_dir, progress):
    cols = {}
    workers = {}  # column -> its processes; the first also reports loss and memory
    timeout = cfg["timeout"]
    env = {"TORCHINDUCTOR_CACHE_DIR": inductor_dir,
           "JTORCH_BENCH_WARM_SECONDS": str(cfg["warm_seconds"]),
           "JTORCH_BENCH_REWARM_SECONDS": str(cfg["rewarm_seconds"])}
    try:
        # 1. First calls, each in a fresh process that is closed before the next starts.
        _first_calls(w, columns, cfg, has_torch, env, cols, progress)
        # 2. The processes the rounds drive, started one at a time and warmed up.
        _start_step_processes(w, cols, workers, cfg, env, progress)
        # 3. Interleaved rounds: every live process runs N steps, the order rotating.
        samples = {c: [[] for _ in wks] for c, wks in workers.items()}
        rewarm = {c: [] for c in workers}
        for rnd in range(cfg["rounds"]):
            live = [(c, i) for c, wks in workers.items() for i in range(len(wks))]
            k = rnd % max(1, len(live))
            for c, i in live[k:] + live[:k]:
                if not cols[c]["available"]:
                    continue
                r = workers[c][i].ask(f"run {cfg['steps']} {cfg['round_seconds']}", timeout)
                if "error" in r:
                    _fail(cols, w, c, r["error"], progress)
                else:
                    samples[c][i] += r["step_s"]
                    rewarm[c].append(r["rewarm_s"])
        # 4. Final loss and memory; one line per finished cell.
        for c, wks in workers.items():
            if not cols[c]["available"]:
                continue
            r = wks[0].ask("done", timeout)
            if "error" in r:
                _fail(cols, w, c, r["error"], progress)
                continue
            dev = r.get("device_peak_bytes")
            pooled = [s for per in samples[c] for s in per]
            med = statistics.median(pooled)
            cols[c].update(step_s_median=med, step_s=pooled, rewarm_s=rewarm[c],
                           loss=r["loss"],
                           peak_mem_bytes=dev if dev else r["peak_rss_delta_bytes"],
                           mem_method=MEM_DEVICE if dev else MEM_RSS,
                           peak_rss_delta_bytes=r["peak_rss_delta_bytes"])
            if len(wks) > 1:
                cols[c]["step_s_by_process"] = samples[c]
            progress(f"[bench] {w} {c:<16} {med * 1e3:10.3f} ms/step (median of "
                     f"{len(pooled)}{f' from {len(wks)} processes' if len(wks) > 1 else ''})"
                     f"   peak mem {cols[c]['peak_mem_bytes'] / 2**20:.1f} MiB")
    finally:
        for wks in workers.values():
            for wk in wks:
                wk.close()
    return {c: cols[c] for c in columns if c in cols}


def _start_order(cs, n_each):
    """The columns of the later starts, after one of each (places 0 and 1, in `cs` order):
    places 2 .. 2*n_each-1 of the Thue-Morse sequence, A B B A B A A B B A A B A B B A."""
    if len(cs) < 2:
        return list(cs) * (n_each - 1)
    return [cs[bin(i).count("1") % 2] for i in range(2, 2 * n_each)]


def _process_failed(cols, w, c, ran_before, msg, progress):
    """A column that already ran in this phase keeps what was measured; one whose only
    process failed is unavailable."""
    if ran_before:
        progress(f"[bench] {w} {c:<16} another process failed: {msg}")
    else:
        _fail(cols, w, c, msg, progress)


def _first_calls(w, columns, cfg, has_torch, env, cols, progress):
    """Time each column's first call in fresh processes that run alone: one of each column,
    then `first_calls - 1` more of each FIRST_CALL_COLUMNS column in `_start_order`. Each
    process is closed as soon as it answers (see FIRST_CALL_COLUMNS). Fills `cols`."""
    samples = {}
    no_warmup = {**env, "JTORCH_BENCH_WARM_SECONDS": "0"}  # no warm-up: the process ends here

    def sample(c):
        t0 = time.perf_counter()
        wk = _Worker(w, c, 0, no_warmup)
        r = wk.answer(cfg["timeout"])
        wk.close()
        if "error" in r:
            _process_failed(cols, w, c, c in samples, r["error"], progress)
            return
        samples.setdefault(c, []).append(r["ready"]["first_call_s"])
        progress(f"[bench] {w} {c:<16} first call {r['ready']['first_call_s']:8.3f} s "
                 f"(sample {len(samples[c])}, {time.perf_counter() - t0:.0f} s incl. start-up)")

    for c in columns:
        if c.startswith("torch") and not has_torch:
            _fail(cols, w, c, "torch is not installed", progress)
        else:
            sample(c)
    for c in _start_order([c for c in FIRST_CALL_COLUMNS if c in samples], cfg["first_calls"]):
        sample(c)
    for c, got in samples.items():
        cols[c] = {"available": True, "first_call_s": statistics.median(got),
                   "first_call_samples_s": got}


def _start_step_processes(w, cols, workers, cfg, env, progress):
    """The processes whose steps the rounds time, started one at a time, each answering
    once warmed up: one per available column, `first_calls` for each FIRST_CALL_COLUMNS
    column (see there), the later ones in `_start_order`."""
    avail = [c for c, r in cols.items() if r["available"]]
    pair = [c for c in FIRST_CALL_COLUMNS if c in avail]
    for c in avail + _start_order(pair, cfg["first_calls"]):
        t0 = time.perf_counter()
        wk = _Worker(w, c, cfg["warmup"], env)
        r = wk.answer(cfg["timeout"])
        if "error" in r:
            wk.close()
            _process_failed(cols, w, c, c in workers, r["error"], progress)
            continue
        if c not in workers:
            info = {k: v for k, v in r["ready"].items() if k != "first_call_s"}
            cols[c].update(info)
        workers.setdefault(c, []).append(wk)
        progress(f"[bench] {w} {c:<16} process {len(workers[c])} ready for the rounds "
                 f"({time.perf_counter() - t0:.0f} s)")


def _ratios(cols):
    def get(c, k):
        return cols.get(c, {}).get(k)
    r = {
        "compiled_vs_flax": _ratio(get("jtorch-compiled", "step_s_median"),
                                   get("flax", "step_s_median")),
        "compiled_vs_flax_same_settings": _ratio(get("jtorch-compiled", "step_s_median"),
                                               get("flax-jtorch-settings", "step_s_median")),
        "compiled_first_call_vs_flax": _ratio(get("jtorch-compiled", "first_call_s"),
                                              get("flax", "first_call_s")),
        "eager_vs_torch": _ratio(get("jtorch-eager", "step_s_median"),
                                 get("torch-eager", "step_s_median")),
    }
    r["targets_met"] = {k: (None if r[k] is None else r[k] <= t) for k, t in TARGETS.items()}
    return r


def _meta(mode, cfg, has_torch):
    import platform
    from importlib.metadata import PackageNotFoundError, version
    vers = {}
    for pkg in ("jax", "jaxlib", "flax", "optax", "torch", "numpy"):
        try:
            vers[pkg] = version(pkg)
        except PackageNotFoundError:
            vers[pkg] = None
    from jtorch import __jtorch_version__
    vers["jtorch"] = __jtorch_version__
    return {
        "mode": mode, "config": {k: v for k, v in cfg.items() if k != "timeout"},
        "versions": vers, "python": platform.python_version(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "torch_available": has_torch, "columns": LABELS,
        "optimizers": {"W1": "SGD(lr=0.01, momentum=0.9)", "W2": "SGD(lr=0.01, momentum=0.9)",
                       "W3": "AdamW(lr=3e-4, weight_decay=0.1)"},
        "time_unit": "seconds", "memory_unit": "bytes",
        "step_time": "wall time of one full training step (forward, loss, backward, optimizer "
                     "step) waited on with block_until_ready / cuda.synchronize; median over "
                     "interleaved rounds of at least `steps` steps and round_seconds, each "
                     "begun with untimed steps (rewarm_s, at least rewarm_seconds) that wake "
                     "the process after the other columns ran; for "
                     f"{' and '.join(FIRST_CALL_COLUMNS)} pooled over their first_calls "
                     "processes (step_s_by_process)",
        "first_call": "wall time of the first step in a fresh process with compilation caches "
                      "off (includes tracing and compiling) that runs alone (closed before the "
                      "next starts); model construction excluded; for "
                      f"{' and '.join(FIRST_CALL_COLUMNS)} the median of first_calls such "
                      "processes (first_call_samples_s), in Thue-Morse order",
        "memory_methods": [MEM_DEVICE, MEM_RSS],
        "targets": TARGETS,
    }


def run(workloads=NAMES, columns=None, full=False, out_json="bench_results.json",
        out_png="bench_results.png", progress=_log, **overrides):
    """The `jtorch bench` entry point: measure, print the table, write JSON and PNG.
    `overrides` replace the mode's repetition settings (rounds, steps, round_seconds, warmup,
    warm_seconds, rewarm_seconds, first_calls, timeout)."""
    from .report import plot, table
    result = measure(workloads, columns, "full" if full else "quick", progress, **overrides)
    print(table(result))
    if out_json:
        with open(out_json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {out_json}")
    if out_png:
        note = plot(result, out_png)
        print(note)
    return result

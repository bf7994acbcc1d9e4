"""`jtorch bench --overhead`: eager dispatch overhead, jtorch vs PyTorch eager vs raw jnp.

Measures per-op dispatch (small add / small matmul, with and without grad recording)
and a forward+backward of an MLP 784-512-512-10 (batch 128) written in raw tensor
ops. Reports medians and ratios; the same code runs on each library. The step cases also
run with jtorch's deferred ops off (`JTORCH_LAZY=0`, jtorch/_lazy.py) as "jtorch no-defer".

The per-op cases run in this process (they time dispatch, microseconds). The step cases
(MLP forward+backward, W1/W3 training steps) run one library per worker process, in
alternating rounds: in one process, torch's OpenMP threads and XLA's pool spin against
each other and skew both, and a shared machine's load drifts over all libraries alike only
if their samples interleave. Worker protocol (`python -m benchmarks.overhead LIB`): it
builds its cases and prints "ready"; each "CASE N" line is answered with N microsecond
samples as JSON; "done" ends it.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time


def _samples_us(fn, reps, warmup, warm_seconds=0.0):
    """`reps` timings of fn() in us, after `warmup` untimed calls and then more until
    `warm_seconds` have passed."""
    t_end = time.perf_counter() + warm_seconds
    for _ in range(warmup):
        fn()
    while time.perf_counter() < t_end:
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return samples


def _median_us(fn, reps, warmup=3):
    return statistics.median(_samples_us(fn, reps, warmup))


def _block(x):
    """Wait for async JAX work so timings are honest."""
    v = getattr(x, "_value", x)
    if hasattr(v, "block_until_ready"):
        v.block_until_ready()
    return x


def _synced(step):
    """A step timed until its loss is computed (JAX dispatches asynchronously)."""
    return lambda: _block(step())


def _op_cases(lib, grad):
    gen = lib.Generator().manual_seed(0) if hasattr(lib, "Generator") else None
    a = lib.randn(32, 32, generator=gen)
    b = lib.randn(32, 32, generator=gen)
    if grad:
        a.requires_grad_(True)
    return {
        "add 32x32": lambda: _block(a + b),
        "matmul 32x32": lambda: _block(a @ b),
    }


def _mlp(lib, batch=128, seed=0):
    g = lib.Generator().manual_seed(seed)
    dims = [784, 512, 512, 10]
    params = []
    for i, o in zip(dims[:-1], dims[1:]):
        w = (lib.randn(i, o, generator=g) * (1.0 / i ** 0.5)).requires_grad_(True)
        bias = lib.zeros(o).requires_grad_(True)
        params += [w, bias]
    x = lib.randn(batch, 784, generator=g)
    y = lib.randn(batch, 10, generator=g)

    def step():
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k < len(params) - 2:
                h = h.relu()
        loss = ((h - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        _block(params[0].grad)
        return loss
    return step


def _jnp_cases():
    import jax
    import jax.numpy as jnp
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (32, 32), jnp.float32)
    b = jax.random.normal(kb, (32, 32), jnp.float32)
    return {"add 32x32": lambda: (a + b).block_until_ready(),
            "matmul 32x32": lambda: (a @ b).block_until_ready()}


def _jnp_mlp(jit):
    import jax
    import jax.numpy as jnp
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    dims = [784, 512, 512, 10]
    params = []
    for k, (i, o) in zip(keys, zip(dims[:-1], dims[1:])):
        params += [jax.random.normal(k, (i, o), jnp.float32) / i ** 0.5, jnp.zeros(o, jnp.float32)]
    x = jax.random.normal(keys[3], (128, 784), jnp.float32)
    y = jax.random.normal(keys[4], (128, 10), jnp.float32)

    def loss_fn(ps):
        h = x
        for k in range(0, len(ps), 2):
            h = h @ ps[k] + ps[k + 1]
            if k < len(ps) - 2:
                h = jnp.maximum(h, 0)
        return ((h - y) ** 2).mean()
    vg = jax.value_and_grad(loss_fn)
    if jit:
        vg = jax.jit(vg)
    return lambda: jax.block_until_ready(vg(params))


def run(quick=False, out_json=None, progress=print):
    import jtorch
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    reps_op, reps_mlp = (200, 20) if quick else (2000, 40)
    rows = []

    def measure(label, libname, fn, reps):
        us = _median_us(fn, reps)
        rows.append({"case": label, "lib": libname, "median_us": us})
        progress(f"  {label:<34} {libname:<14} {us:10.1f} us")

    progress("per-op dispatch")
    jnp_cases = _jnp_cases()
    for grad in (False, True):
        suffix = " (grad)" if grad else ""
        cases = {"jtorch": _op_cases(jtorch, grad)}
        if torch is not None:
            cases["torch"] = _op_cases(torch, grad)
        for name in jnp_cases:
            for lib, cs in cases.items():
                measure(name + suffix, lib, cs[name], reps_op)
            measure(name + suffix, "jnp", jnp_cases[name], reps_op)
    progress("training steps (forward, backward, optimizer.step) and "
             "MLP 784-512-512-10, batch 128, forward+backward: one process per library")
    libs = ["jtorch", "jtorch-no-defer"] + (["torch"] if torch is not None else []) + ["jax"]
    for case, samples in _step_cases(libs, reps_step=10 if quick else 20,
                                     reps_mlp=reps_mlp, rounds=5).items():
        for libname, us in samples.items():
            rows.append({"case": case, "lib": libname, "median_us": us})
            progress(f"  {case:<34} {libname:<14} {us:10.1f} us")

    table = {}
    for r in rows:
        table.setdefault(r["case"], {})[r["lib"]] = r["median_us"]
    progress("\nratios (jtorch / other; lower is better)")
    progress(f"  {'case':<22} {'jtorch us':>10} {'vs torch':>9} {'vs jnp':>9} {'vs jit':>9} "
             f"{'vs no-defer':>11}")
    summary = {}
    for case, libs in table.items():
        j = libs["jtorch"]
        vt = j / libs["torch"] if "torch" in libs else None
        vj = j / libs.get("jnp", libs.get("jnp eager")) if ("jnp" in libs or "jnp eager" in libs) \
            else None
        vjit = j / libs["jax.jit"] if "jax.jit" in libs else None
        nodefer = j / libs["jtorch no-defer"] if "jtorch no-defer" in libs else None
        summary[case] = {"jtorch_us": j, "vs_torch": vt, "vs_jnp": vj, "vs_jit": vjit,
                         "vs_no_defer": nodefer}
        fmt = lambda v, w=9: f"{v:{w}.2f}" if v is not None else f"{'-':>{w}}"  # noqa: E731
        progress(f"  {case:<22} {j:10.1f} {fmt(vt)} {fmt(vj)} {fmt(vjit)} {fmt(nodefer, 11)}")
    result = {"rows": rows, "summary": summary}
    if out_json:
        with open(out_json, "w") as f:
            json.dump(result, f, indent=2)
        progress(f"\nwrote {out_json}")
    return result


# ------------------------------------------------------------------ step cases, per process
STEP_CASES = {  # case -> {worker library: label in the results}
    "W1 mlp train step": {"jtorch": "jtorch", "jtorch-no-defer": "jtorch no-defer",
                          "torch": "torch"},
    "W3 gpt train step": {"jtorch": "jtorch", "jtorch-no-defer": "jtorch no-defer",
                          "torch": "torch"},
    "mlp fwd+bwd": {"jtorch": "jtorch", "jtorch-no-defer": "jtorch no-defer", "torch": "torch",
                    "jax": "jax.jit"},
    "mlp fwd+bwd (jnp eager)": {"jax": "jnp eager"},
}


def _worker_cases(lib):
    """{case: step callable} for one library, built in the worker process."""
    if lib == "jax":
        return {"mlp fwd+bwd": _jnp_mlp(True), "mlp fwd+bwd (jnp eager)": _jnp_mlp(False)}
    if lib == "torch":
        import torch as mod
        mod.set_num_threads(2)
    else:
        import jtorch as mod
        if lib == "jtorch-no-defer":
            import jtorch._lazy
            jtorch._lazy.ENABLED = False
    from .workloads import build, train_step_fn

    def train_step(name):
        model, opt, crit, x, y = build(mod, name)
        step = train_step_fn(model, opt, crit)
        return _synced(lambda: step(x, y))
    return {"W1 mlp train step": train_step("W1"), "W3 gpt train step": train_step("W3"),
            "mlp fwd+bwd": _mlp(mod)}


def _worker(lib):
    out = sys.stdout
    sys.stdout = sys.stderr  # anything the libraries print stays off the protocol
    cases = _worker_cases(lib)
    for fn in cases.values():
        for _ in range(3):
            fn()
    print("ready", file=out, flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "done":
            break
        case, n = " ".join(cmd[:-1]), int(cmd[-1])
        print(json.dumps(_samples_us(cases[case], n, _BATCH_WARMUP, _BATCH_WARM_SECONDS)),
              file=out, flush=True)


# Untimed calls at the start of each batch: after waiting its turn a worker's first calls
# run several times slower (threads, caches and the VM's CPUs wake up). At least this many,
# and more until the worker has run for _BATCH_WARM_SECONDS, as `jtorch bench` re-warms
# each round: a training loop never pays that wake-up, and a few calls do not settle it.
_BATCH_WARMUP = 2
_BATCH_WARM_SECONDS = 0.1
# Pause before each batch: the previous worker's thread pools spin a little before they
# sleep, and on a 2-core machine that would land on the next worker's first samples.
_SETTLE_S = 0.1


def _step_cases(libs, reps_step, reps_mlp, rounds):
    """{case: {label: median us}}: each library in its own worker, rounds alternating."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    from jtorch._cpu_runtime import user_environ
    env = user_environ()  # the jtorch worker sets its own flags when it imports jtorch
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    workers = {lib: subprocess.Popen([sys.executable, "-m", "benchmarks.overhead", lib],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, cwd=root) for lib in libs}
    samples = {}
    try:
        for lib, w in workers.items():
            if w.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {lib} benchmark worker failed to start (exit "
                                   f"{w.wait()}); its stderr is above")
        for _ in range(rounds):
            for case, labels in STEP_CASES.items():
                n = max(1, (reps_step if "train step" in case else reps_mlp) // rounds)
                if "jnp eager" in case:
                    n = max(1, n // 4)
                for lib, label in labels.items():
                    if lib in workers:
                        time.sleep(_SETTLE_S)
                        w = workers[lib]
                        w.stdin.write(f"{case} {n}\n")
                        w.stdin.flush()
                        samples.setdefault(case, {}).setdefault(label, []).extend(
                            json.loads(w.stdout.readline()))
    finally:
        for w in workers.values():
            if w.poll() is None:
                w.stdin.write("done\n")
                w.stdin.flush()
                w.wait(timeout=60)
    out = {}
    for case, by in samples.items():
        name = "mlp fwd+bwd" if "jnp eager" in case else case
        for label, v in by.items():
            out.setdefault(name, {})[label] = statistics.median(v)
    return out


if __name__ == "__main__":
    _worker(sys.argv[1])

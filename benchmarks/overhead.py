"""`jtorch bench --overhead`: eager dispatch overhead, jtorch vs PyTorch eager vs raw jnp.

Measures per-op dispatch (small add / small matmul, with and without grad recording)
and a forward+backward of an MLP 784-512-512-10 (batch 128) written in raw tensor
ops. Reports medians and ratios; the same code runs on each library.
"""
from __future__ import annotations

import json
import statistics
import time


def _median_us(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


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
    reps_op, reps_mlp = (200, 10) if quick else (2000, 40)
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
    from .workloads import build, train_step_fn

    def train_step(lib, name):
        model, opt, crit, x, y = build(lib, name)
        step = train_step_fn(model, opt, crit)
        return lambda: step(x, y)
    progress("training steps (forward, backward, optimizer.step)")
    reps_step = 5 if quick else 20
    for label, name in (("W1 mlp train step", "W1"), ("W3 gpt train step", "W3")):
        measure(label, "jtorch", _synced(train_step(jtorch, name)), reps_step)
        if torch is not None:
            measure(label, "torch", _synced(train_step(torch, name)), reps_step)
    progress("MLP 784-512-512-10, batch 128, forward+backward")
    measure("mlp fwd+bwd", "jtorch", _mlp(jtorch), reps_mlp)
    if torch is not None:
        measure("mlp fwd+bwd", "torch", _mlp(torch), reps_mlp)
    measure("mlp fwd+bwd", "jnp eager", _jnp_mlp(False), max(3, reps_mlp // 4))
    measure("mlp fwd+bwd", "jax.jit", _jnp_mlp(True), reps_mlp)

    table = {}
    for r in rows:
        table.setdefault(r["case"], {})[r["lib"]] = r["median_us"]
    progress("\nratios (jtorch / other; lower is better)")
    progress(f"  {'case':<22} {'jtorch us':>10} {'vs torch':>9} {'vs jnp':>9} {'vs jit':>9}")
    summary = {}
    for case, libs in table.items():
        j = libs["jtorch"]
        vt = j / libs["torch"] if "torch" in libs else None
        vj = j / libs.get("jnp", libs.get("jnp eager")) if ("jnp" in libs or "jnp eager" in libs) \
            else None
        vjit = j / libs["jax.jit"] if "jax.jit" in libs else None
        summary[case] = {"jtorch_us": j, "vs_torch": vt, "vs_jnp": vj, "vs_jit": vjit}
        fmt = lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9}"  # noqa: E731
        progress(f"  {case:<22} {j:10.1f} {fmt(vt)} {fmt(vj)} {fmt(vjit)}")
    result = {"rows": rows, "summary": summary}
    if out_json:
        with open(out_json, "w") as f:
            json.dump(result, f, indent=2)
        progress(f"\nwrote {out_json}")
    return result

"""Benchmarks: jtorch vs PyTorch vs hand-written JAX, measured side by side in one run.

`bench.py` is `jtorch bench` (training steps of three workloads: eager, compiled, flax, torch);
`overhead.py` is `jtorch bench --overhead` (per-op eager dispatch cost).
Kept outside the `jtorch` package because they import real torch (the library never does).
"""

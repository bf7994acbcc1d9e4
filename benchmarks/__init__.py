"""Benchmarks: jtorch vs PyTorch vs raw JAX, measured side by side in one run.

Kept outside the `jtorch` package because they import real torch (the library never does).
"""

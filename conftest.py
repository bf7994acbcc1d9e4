"""Repo-wide test setup.

JAX compiles each (op, shape, dtype) once; a persistent compilation cache lets later
runs on the same machine (and pytest-xdist workers after the first) reuse those
executables. Set JTORCH_JAX_CACHE= (empty) to disable.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

_cache = os.environ.get("JTORCH_JAX_CACHE", os.path.expanduser("~/.cache/jtorch/jax"))
if _cache:
    import jax

    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

"""Environment for the subprocesses the parallel tests start (launcher ranks, the
4-device DataParallel worker): jtorch importable from the checkout, no inherited
XLA_FLAGS, and the persistent JAX compilation cache test_examples.py also uses."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(**extra):
    e = dict(os.environ)
    e.pop("XLA_FLAGS", None)
    cache = os.environ.get("JTORCH_JAX_CACHE", os.path.expanduser("~/.cache/jtorch/jax"))
    if cache:
        e.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
        e.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.05")
        e.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.update(extra)
    return e

"""torch.jit: TorchScript has no counterpart here, so `script`/`trace` return what they
are given (jtorch compiles each op with XLA instead, and the result runs the same code
eagerly). The decorators (`ignore`, `unused`, `export`, ...) are identity, `is_scripting()`
and `is_tracing()` are False. Saving/loading TorchScript archives is not supported.
"""
from __future__ import annotations

import typing as _typing

Final = _typing.Final

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "Final", "annotate", "fork", "wait", "freeze",
           "optimize_for_inference", "script_if_tracing", "interface", "ScriptModule",
           "ScriptFunction", "Attribute"]


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns `obj` unchanged (module, function or class)."""
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """Returns `func` unchanged: calling it reruns the Python code, which is what a trace
    of it would compute for the traced control flow."""
    return func


def trace_module(mod, inputs, *args, **kwargs):
    return mod


def _decorator_or_direct(fn=None, **kw):
    if callable(fn):
        return fn
    return lambda f: f


def ignore(drop=False, **kwargs):
    """`@torch.jit.ignore` and `@torch.jit.ignore(drop=True)`: identity."""
    return _decorator_or_direct(drop)


def unused(fn):
    return fn


def export(fn):
    return fn


def script_if_tracing(fn):
    return fn


def interface(obj):
    return obj


def is_scripting():
    return False


def is_tracing():
    return False


def annotate(the_type, the_value):
    return the_value


class _Future:
    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    def value(self):
        return self._value

    def done(self):
        return True


def fork(func, *args, **kwargs):
    """Runs `func` now; `wait` returns its result."""
    return _Future(func(*args, **kwargs))


def wait(future):
    return future.wait()


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    return mod


def optimize_for_inference(mod, other_methods=None):
    return mod


def enable_onednn_fusion(enabled):
    pass


def onednn_fusion_enabled():
    return False


class ScriptModule:
    """Never produced by jtorch (`script` returns the module itself)."""


class ScriptFunction:
    """Never produced by jtorch (`script` returns the function itself)."""


class Attribute:
    def __new__(cls, value, type=None):  # noqa: A002
        return value


def save(m, f, _extra_files=None):
    from .._errors import missing
    raise missing("torch.jit.save")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    from .._errors import missing
    raise missing("torch.jit.load")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.jit.{name}")

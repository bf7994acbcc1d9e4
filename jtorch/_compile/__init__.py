"""jtorch.compile: torch.compile's counterpart, on jax.jit.

`jtorch.compile(train_step)` turns eager-style code (forward, `loss.backward()`,
`optimizer.step()`, scheduler, GradScaler) into one XLA program. The state it reads and
writes is found by walking the function's closure (state.py), swapped for tracers while
the function runs once under jax.make_jaxpr (compiled.py), and written back after each
call. Guards retrace on new shapes, dtypes, module structure, training flags or grad
mode, never on a plain repeated call. Lines that need concrete values fall back to
eager with one warning (or raise with fullgraph=True).

`jtorch.compile(module)` returns an `OptimizedModule` whose forward is compiled; in
training its output is one autograd node whose backward is the compiled VJP, so
`loss.backward()` outside keeps working.
"""
from __future__ import annotations

from ..nn.modules.module import Module
from .compiled import CompiledFunction, CompileError

__all__ = ["compile", "CompiledFunction", "CompileError", "OptimizedModule"]

_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs", "jax", "xla")
_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False):
    """torch.compile(model=None, *, fullgraph=False, dynamic=None, backend='inductor',
    mode=None, options=None, disable=False). Also usable as a decorator, with or without
    arguments. `backend`/`mode`/`options` are accepted for compatibility (XLA compiles
    everything); `dynamic=True` is refused since XLA programs have static shapes."""
    if model is None:
        def decorate(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, disable=disable)
        return decorate
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(m for m in _MODES if m)}")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise RuntimeError(f"invalid backend {backend!r}: jtorch.compile always compiles "
                           f"with XLA; accepted names are {', '.join(_BACKENDS)}")
    if dynamic:
        raise NotImplementedError("torch.compile(dynamic=True): XLA programs have static "
                                  "shapes; jtorch retraces once per new input shape instead")
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model, fullgraph=fullgraph)
    if not callable(model):
        raise RuntimeError("torch.compile: model must be a callable or a torch.nn.Module, "
                           f"got {type(model).__name__}")
    return CompiledFunction(model, fullgraph=fullgraph)


class OptimizedModule(Module):
    """A module whose forward runs as one compiled program (torch's OptimizedModule: the
    original is `_orig_mod`, and state_dict keys carry that prefix)."""

    def __init__(self, mod, fullgraph=False):
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled_call"] = CompiledFunction(
            _ModuleCall(mod), fullgraph=fullgraph, roots=[mod], name=type(mod).__name__)

    def forward(self, *args, **kwargs):
        return self.__dict__["_compiled_call"](*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)


class _ModuleCall:
    """`mod(*args)` as a plain callable (hooks included), for CompiledFunction."""

    def __init__(self, mod):
        self.mod = mod

    def __call__(self, *args, **kwargs):
        return self.mod(*args, **kwargs)

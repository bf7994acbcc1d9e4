"""`import torch` → jtorch: a sys.meta_path finder that serves `torch` and every
`torch.X.Y` as the already-importable `jtorch.X.Y` module object (so
`torch.nn is jtorch.nn`). Installed by `jtorch run` (`run_script` below); `install()`
is also public.

A `torch.<sub>` jtorch lacks raises MissingModuleError: a NotImplementedError (so
`jtorch run` reports it as a missing API) that is also a ModuleNotFoundError (so a
script's `try: import torch.x / except ImportError:` fallback still works).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import traceback


class MissingModuleError(NotImplementedError, ModuleNotFoundError):
    """`import torch.<sub>` where jtorch has no `<sub>`."""


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        try:
            module = importlib.import_module(self.target)
        except ModuleNotFoundError as e:
            if e.name and (self.target == e.name or self.target.startswith(e.name + ".")):
                err = MissingModuleError(f"{spec.name} is not implemented in jtorch")
                err.name = spec.name
                raise err from None
            raise
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module):
        # importlib stamped the torch.* spec on jtorch's module: give it its own back.
        module.__spec__ = self.own_spec


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        real = "jtorch" + fullname[len("torch"):]
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real),
                                               is_package=True)


_finder = TorchAliasFinder()
_NAMESPACES = ("utils", "utils.data", "cuda", "backends", "jit", "testing")


def is_installed():
    return _finder in sys.meta_path


def install():
    """Make `import torch[.X]` resolve to jtorch[.X]; refuses if real torch is loaded."""
    existing = sys.modules.get("torch")
    import jtorch
    if existing is not None and existing is not jtorch:
        raise RuntimeError("the real torch is already imported; jtorch cannot alias it")
    if not is_installed():
        sys.meta_path.insert(0, _finder)
    sys.modules["torch"] = jtorch
    for sub in _NAMESPACES:     # reachable as attributes (`torch.cuda.is_available()`)
        importlib.import_module("jtorch." + sub)
    for name, mod in list(sys.modules.items()):
        if name.startswith("jtorch.") and mod is not None:
            sys.modules.setdefault("torch" + name[len("jtorch"):], mod)


def uninstall():
    if is_installed():
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
        if getattr(sys.modules[name], "__name__", "").startswith("jtorch"):
            del sys.modules[name]


# ---------------------------------------------------------------- jtorch run
# `jtorch run script.py [args...]`: the script runs as `__main__` with
# `sys.argv = [script, *args]` and its directory on sys.path, after install(). When it
# reaches an API jtorch lacks (a NotImplementedError raised inside jtorch, or a missing
# `torch.<sub>` import), it stops with one line naming the API and the script's file:line
# that used it, exit status 1.
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _in_jtorch(filename):
    return os.path.abspath(filename).startswith(_PKG_DIR + os.sep)


def _is_jtorch_limit(exc):
    """True when the NotImplementedError comes from jtorch, not from the user's code."""
    from ._errors import NotImplementedAPIError
    if isinstance(exc, (NotImplementedAPIError, MissingModuleError)):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    worker = getattr(exc, "_jtorch_worker", None)
    if worker is not None:
        frames = [traceback.FrameSummary(f, ln, "") for f, ln in worker[1]]
    return bool(frames) and _in_jtorch(frames[-1].filename)


def _where(exc, script):
    """The script's (file, line) that led to `exc`: its last frame in the script itself,
    else the last frame outside jtorch and the standard library."""
    frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    worker = getattr(exc, "_jtorch_worker", None)
    if worker is not None:
        frames = frames + list(worker[1])
    script = os.path.abspath(script)
    mine = [f for f in frames if os.path.abspath(f[0]) == script]
    if mine:
        return mine[-1]
    stdlib = os.path.dirname(os.__file__)
    user = [f for f in frames if not _in_jtorch(f[0]) and not f[0].startswith(stdlib)
            and not f[0].startswith("<")]
    return user[-1] if user else (script, 0)


def run_script(script, args):
    if not os.path.isfile(script):
        print(f"jtorch run: can't open file '{script}': No such file", file=sys.stderr)
        return 2
    install()
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except NotImplementedError as exc:
        if not _is_jtorch_limit(exc):
            raise
        msg = getattr(exc, "_jtorch_worker", (str(exc),))[0].strip().splitlines()
        msg = msg[0] if msg else type(exc).__name__
        file, line = _where(exc, script)
        print(f"jtorch run: {file}:{line}: {msg}", file=sys.stderr)
        return 1
    return 0

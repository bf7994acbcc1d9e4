"""Has a dict changed since we last looked? CPython's dict version tag answers that.

Why: a compiled call first checks that the containers its state walk looked inside (module
`__dict__`s, their parameter and submodule tables, the optimizer's dicts) still hold the
same objects. Comparing every value by identity touches (and writes the reference count
of) every value object, and after a training step has streamed megabytes through the caches
each of them is a cache miss. On W1 (42 dicts, 170 values) reading tags instead took the
cold check from ~36 to ~28 us, and 1.5-2.5% off the whole step when another process was
streaming memory at the same time (0.2-0.8% on a quiet machine).

CPython 3.11-3.13 keep a 64-bit `ma_version_tag` in every dict (PEP 509) that changes on
every insertion, deletion and replacement by another object, however it is made (a
`setattr`, a write straight into `obj.__dict__`, `dict.update`, ...). Reading one tag per
dict touches only the dict's header. The tag is not exposed to Python, so it is read from
the dict's memory through ctypes; `AVAILABLE` says whether a self-test at import found it
where expected and behaving as described. Where it is not (PyPy, free-threaded builds,
3.14, which dropped the tag), callers compare values as before.
"""
from __future__ import annotations

import sys
import sysconfig
from operator import attrgetter

try:
    import ctypes
except ImportError:  # (a Python built without it: values are compared instead)
    ctypes = None

# PyDictObject on a 64-bit build: ob_refcnt, ob_type, ma_used (8 bytes each), ma_version_tag
_OFFSET = 3 * 8
_VALUE = attrgetter("value")


def _tag(d):
    return ctypes.c_uint64.from_address(id(d) + _OFFSET)


def _self_test():
    if ctypes is None or ctypes.sizeof(ctypes.c_ssize_t) != 8 \
            or sys.implementation.name != "cpython" \
            or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return False
    try:
        d = {"a": object()}
        t = _tag(d)
        seen = [t.value]
        same = d["a"]
        d["a"] = same                      # the same object again: no change to see
        unchanged = t.value == seen[0]
        d["a"] = object()
        seen.append(t.value)
        d["b"] = 1
        seen.append(t.value)
        del d["b"]
        seen.append(t.value)

        class Probe:
            pass
        o = Probe()
        o.x = 1
        ot = _tag(vars(o))                 # an instance dict, once it exists as a dict
        seen.append(ot.value)
        o.x = 2
        seen.append(ot.value)
        o.y = 3
        seen.append(ot.value)
        del o.x
        seen.append(ot.value)
        return unchanged and len(set(seen)) == len(seen)
    except Exception:  # noqa: BLE001 - any surprise means: do not rely on it
        return False


AVAILABLE = _self_test()


class Versions:
    """The version tags of some dicts, read in one C-level pass.

    Holds the dicts: a tag is read from its dict's memory, which must stay alive."""

    def __init__(self, dicts):
        self.dicts = list(dicts)
        self.cells = [_tag(d) for d in self.dicts]
        self.seen = self.read()

    def read(self):
        return list(map(_VALUE, self.cells))

    def unchanged(self):
        return self.read() == self.seen

    def refresh(self):
        self.seen = self.read()


def versions(dicts):
    """A `Versions` of `dicts`, or None where tags cannot be read (then compare values)."""
    if not AVAILABLE or not all(isinstance(d, dict) for d in dicts):
        return None
    return Versions(dicts)

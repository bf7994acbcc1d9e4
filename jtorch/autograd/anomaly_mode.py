"""torch.autograd.detect_anomaly / set_detect_anomaly.

When enabled (with check_nan), the engine checks each node's gradients for NaN and
raises torch's "Function 'XBackward0' returned nan values in its 0th output." error.
This syncs with the device after every node, so it is for debugging only.

While enabled, every new Node keeps the Python stack of the forward call that made it
(`node.metadata["traceback_"]`, as torch does); when a node's backward fails, the engine
warns "Error detected in XBackward0. Traceback of forward call that caused the error:"
with that stack, so the culprit forward line is named. Nothing is recorded when off.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
import warnings


class _State:
    enabled = False
    check_nan = True


STATE = _State()


def is_anomaly_enabled() -> bool:
    return STATE.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return STATE.check_nan


class detect_anomaly:
    """Context manager / decorator enabling anomaly detection for its body."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = (STATE.enabled, STATE.check_nan)
        STATE.enabled, STATE.check_nan = True, self.check_nan

    def __exit__(self, *exc):
        STATE.enabled, STATE.check_nan = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Switches anomaly detection now (usable as a plain call) and restores it on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = (STATE.enabled, STATE.check_nan)
        STATE.enabled, STATE.check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.enabled, STATE.check_nan = self.prev


# Frames in these places stand in for torch's C++ (dispatch, the tape, the facade), so
# they are cut from the end of a recorded stack: it ends where Python code called the op.
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL = tuple(os.path.join(_PKG, p) for p in ("_ops", "autograd", "_surface.py",
                                                  "_tensor.py", "_creation.py"))


def _internal(frame):
    code = frame.f_code.co_filename
    if code.startswith(_INTERNAL):
        return True
    g = frame.f_globals  # the op wrappers dispatch generates with exec()
    return code == "<string>" and "_op" in g and "_call" in g


def forward_stack():
    """The caller's stack as `traceback.format_list` lines, internal frames trimmed."""
    f = sys._getframe(1)
    while f is not None and _internal(f):
        f = f.f_back
    return traceback.format_list(traceback.extract_stack(f)) if f is not None else []


def report_error(node):
    """torch's warning naming the forward call behind a failing backward node."""
    meta = node._metadata or {}
    stack = meta.get("traceback_")
    name = node.name()
    if stack is None:
        msg = (f"Error detected in {name}. No forward pass information available. Enable "
               "detect anomaly during forward pass for more information.")
    else:
        msg = (f"Error detected in {name}. Traceback of forward call that caused the "
               f"error:\n{''.join(stack)}")
    warnings.warn(msg, UserWarning, stacklevel=4)

"""Tensor printing in torch's default format (`repr(t)` == torch's string for the same data).

The layout rules follow torch's documented print options: `precision` digits, fixed vs
scientific notation chosen from the magnitude range of the non-zero finite values,
integer-valued floats printed as `1.`, columns right-aligned to the widest element,
`linewidth` wrapping, and summarisation (`...`) above `threshold` elements showing
`edgeitems` per edge. Only the summarised corners are copied off the device.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

import jax
import numpy as np

from . import _dtype as D


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """torch.set_printoptions: a profile first, then the individual overrides."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"Invalid profile: {profile}")
        for k, v in _PROFILES[profile].items():
            setattr(PRINT_OPTS, k, v)
    for k, v in (("precision", precision), ("threshold", threshold),
                 ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            setattr(PRINT_OPTS, k, v)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


# ------------------------------------------------------------------------------ formatting

class _Formatter:
    """Decides notation and column width from (the summarised) values of one tensor."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        p = PRINT_OPTS.precision
        if not floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        nz = flat[np.isfinite(flat) & (flat != 0)]
        if nz.size == 0:
            return
        absd = np.abs(nz.astype(np.float64))
        lo, hi = absd.min(), absd.max()
        self.int_mode = bool(np.all(nz == np.ceil(nz)))
        vals = nz.tolist()
        if self.int_mode:
            self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8)
        else:
            self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode
        if self.sci_mode:
            self.max_width = max(len(f"{v:.{p}e}") for v in vals)
        elif self.int_mode:
            self.max_width = max(1, max(len(f"{v:.0f}") + 1 for v in vals))
        else:
            self.max_width = max(len(f"{v:.{p}f}") for v in vals)

    def width(self):
        return self.max_width

    def format(self, value):
        p = PRINT_OPTS.precision
        if self.floating:
            if self.sci_mode:
                s = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    s += "."
            else:
                s = f"{value:.{p}f}"
        else:
            s = f"{value}"
        return (self.max_width - len(s)) * " " + s


def _join_complex(real_str, imag_str):
    imag_str = (imag_str + "j").lstrip()
    if imag_str[0] in "+-":
        return real_str + imag_str
    return real_str + "+" + imag_str


class _Printer:
    """Walks the summarised array; `cut[d]` says dim d was summarised (edges kept)."""

    def __init__(self, arr, cut, f1, f2):
        self.arr, self.cut, self.f1, self.f2 = arr, cut, f1, f2

    def val(self, v):
        if self.f2 is None:
            return self.f1.format(v)
        return _join_complex(self.f1.format(v.real), self.f2.format(v.imag))

    def block(self, a, depth, indent):
        if a.ndim == 0:
            return self.val(a.item())
        e = PRINT_OPTS.edgeitems
        summarized = self.cut[depth]
        if a.ndim == 1:
            elem_len = self.f1.width() + 2
            if self.f2 is not None:
                elem_len += self.f2.width() + 1
            per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / elem_len)))
            items = a.tolist()
            if summarized and not e:
                data = ["..."]
            elif summarized:
                data = [self.val(v) for v in items[:e]] + [" ..."] + \
                       [self.val(v) for v in items[e:]]
            else:
                data = [self.val(v) for v in items]
            lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
            return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
        subs = [self.block(a[i], depth + 1, indent + 1) for i in range(a.shape[0])]
        if summarized:
            subs = subs[:e] + ["..."] + subs[e:]
        return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(subs) + "]"


def _summarize(v, edge):
    """The corners torch prints: along every dim longer than 2*edge keep edge items
    at each end. Slices the device array first so only the corners are transferred."""
    cut = []
    for d, n in enumerate(v.shape):
        if n > 2 * edge:
            idx = np.r_[0:edge, n - edge:n]
            v = v.take(idx, axis=d) if not isinstance(v, np.ndarray) else np.take(v, idx, d)
            cut.append(True)
        else:
            cut.append(False)
    return v, cut


def _tensor_str(t, indent):
    v = t._value
    summarize = t.numel() > PRINT_OPTS.threshold
    if summarize:
        v, cut = _summarize(v, PRINT_OPTS.edgeitems)
    else:
        cut = [False] * v.ndim
    arr = np.asarray(v)
    if t.dtype in (D.float16, D.bfloat16):
        arr = arr.astype(np.float32)
    if t.dtype.is_complex:
        f1 = _Formatter(arr.real, True)
        f2 = _Formatter(arr.imag, True)
    else:
        f1, f2 = _Formatter(arr, t.dtype._category >= 2), None
    if arr.ndim == 0 and f2 is not None:
        return _join_complex(f1.format(arr.real.item()), f2.format(arr.imag.item()))
    return _Printer(arr, cut, f1, f2).block(arr, 0, indent)


def _add_suffixes(text, suffixes, indent):
    parts = [text]
    last_len = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last_len + len(s) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last_len = indent + len(s)
        else:
            parts.append(", " + s)
            last_len += len(s) + 2
    parts.append(")")
    return "".join(parts)


def _device_suffix(t):
    from . import _device
    dev = t.device
    default = _device.to_device(None)
    if dev.type != default.type or (dev.type == "cuda" and (dev.index or 0) != (
            default.index or 0)):
        return f"device='{dev}'"
    return None


def tensor_repr(t, prefix="tensor("):
    indent = len(prefix)
    suffixes = []
    dev = _device_suffix(t)
    if dev:
        suffixes.append(dev)
    dt = t.dtype
    default = D.get_default_dtype()
    if isinstance(t._value, jax.core.Tracer):
        body = f"<traced {dt.name}{list(t.shape)}>"
    elif t.numel() == 0:
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if dt is not default:
            suffixes.append(f"dtype={dt!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(t.shape)}")
        if dt not in (default, D._default_complex(), D.int64, D.bool):
            suffixes.append(f"dtype={dt!r}")
        body = _tensor_str(t, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)

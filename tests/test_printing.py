"""repr(tensor) must be exactly torch's string for the same data and options."""
import math

import numpy as np
import pytest
import torch

import jtorch

DTYPES = [None, "float64", "float16", "bfloat16", "int32", "int64", "uint8", "bool",
          "complex64", "complex128"]

DATA = [
    [1., 2.], [1, 2], 3.5, 7, True, 0., -0.0, [-0.0], [1.5, math.inf], [0., math.nan],
    [1., math.nan], [-math.inf, 3.], [1e20], [1e-5, 1.], [0.1, 0.2, 123456.7], [1e8, 1.],
    [1e9], [True, False], [[1, 2], [3, 4]], [[1.5, 2], [3, 4]], list(range(100)),
    [[[1., 2], [3, 4]], [[5, 6], [7, 8]]], [1 + 2j, -3.5 - 1j], [2j, 0j], [[1j]],
    [0.001, 0.01], [123.456, 0.5], [-1., 2.5], [1e-10, 1e10], 1e-5, [0.00012, 5.],
    [123456789.], [-5, 100000], [1.25, -3.75, 1000.5], [[0.1] * 40] * 2,
    np.linspace(-3, 3, 30).tolist(), [[1e-3, 2e-3], [3e-3, 4e-3]], [1000., 1.],
    [1001., 1.],
]


def _lib_dtype(lib, name):
    return None if name is None else getattr(lib, name)


def _both(data, dtype=None):
    try:
        t = torch.tensor(data, dtype=_lib_dtype(torch, dtype))
    except (RuntimeError, TypeError, ValueError):
        return None, None
    return t, jtorch.tensor(data, dtype=_lib_dtype(jtorch, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repr_matches_torch(dtype):
    for data in DATA:
        t, j = _both(data, dtype)
        if t is None:
            continue
        assert repr(j) == repr(t), (data, dtype)
        assert str(j) == str(t)


def test_summarized_large_tensors():
    for shape in [(2000,), (30, 100), (4, 5, 60), (1001,), (3, 400)]:
        a = (np.arange(np.prod(shape)).reshape(shape) * 0.37 - 11).astype(np.float32)
        assert repr(jtorch.tensor(a)) == repr(torch.tensor(a)), shape
        ai = np.arange(np.prod(shape)).reshape(shape)
        assert repr(jtorch.tensor(ai)) == repr(torch.tensor(ai)), shape


def test_empty_and_shapes():
    for shape, dt in [((0,), None), ((0, 3), None), ((2, 0, 1), None), ((0,), "int64"),
                      ((0, 2), "float64"), ((0,), "bool")]:
        t = torch.zeros(shape, dtype=_lib_dtype(torch, dt))
        j = jtorch.zeros(shape, dtype=_lib_dtype(jtorch, dt))
        assert repr(j) == repr(t)


def test_autograd_suffixes():
    t = torch.tensor([1., 2.], requires_grad=True)
    j = jtorch.tensor([1., 2.], requires_grad=True)
    assert repr(j) == repr(t)
    assert repr(j * 2) == repr(t * 2)
    assert repr(j + 1) == repr(t + 1)
    t64 = torch.ones(3, 30, dtype=torch.float64, requires_grad=True) * 3.25
    j64 = jtorch.ones(3, 30, dtype=jtorch.float64, requires_grad=True) * 3.25
    assert repr(j64) == repr(t64)   # suffixes wrap onto their own lines past linewidth


def test_set_printoptions():
    a = np.array([[1.123456789, -22.5, 3e-3], [4.0, 5.5, 6.25]], np.float32)
    cases = [dict(precision=2), dict(precision=8), dict(sci_mode=True), dict(sci_mode=False),
             dict(linewidth=30), dict(threshold=3, edgeitems=1), dict(profile="short"),
             dict(profile="full"), dict(edgeitems=1, threshold=2)]
    try:
        for kw in cases:
            torch.set_printoptions(**kw)
            jtorch.set_printoptions(**kw)
            for data in (a, a[0], np.arange(50.), np.array(1e-7), np.arange(3000) * 1.5):
                assert repr(jtorch.tensor(data)) == repr(torch.tensor(data)), (kw, data.shape)
            torch.set_printoptions(profile="default")
            jtorch.set_printoptions(profile="default")
    finally:
        torch.set_printoptions(profile="default")
        jtorch.set_printoptions(profile="default")
    with pytest.raises(ValueError):
        jtorch.set_printoptions(profile="nope")


def test_default_dtype_affects_suffix():
    try:
        torch.set_default_dtype(torch.float64)
        jtorch.set_default_dtype(jtorch.float64)
        for data, dt in [([1.5, 2.], None), ([1.5], "float32"), ([1j], None),
                         ([1j], "complex64")]:
            t, j = _both(data, dt)
            assert repr(j) == repr(t)
        assert repr(jtorch.zeros(0, dtype=jtorch.float32)) == repr(torch.zeros(0, dtype=torch.float32))
        assert repr(jtorch.zeros(0)) == repr(torch.zeros(0))
    finally:
        torch.set_default_dtype(torch.float32)
        jtorch.set_default_dtype(jtorch.float32)


def test_forced_notation_widths():
    try:
        for mode in (True, False):
            torch.set_printoptions(sci_mode=mode)
            jtorch.set_printoptions(sci_mode=mode)
            for data in ([1e-5, 1.], [1e10, 3.], list(range(30)), [0.5, 100.25] * 10):
                assert repr(jtorch.tensor(data)) == repr(torch.tensor(data)), (mode, data)
    finally:
        torch.set_printoptions(profile="default")
        jtorch.set_printoptions(profile="default")

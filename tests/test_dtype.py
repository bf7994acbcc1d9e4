"""dtype promotion equals torch for every pair of the 12 dtypes, Python scalars and 0-d tensors."""
import itertools

import pytest
import torch

import jtorch
from jtorch import _dtype as D

NAMES = [d.name for d in D.ALL]
# JAX has no complex32 (torch.chalf): torch promotes float16 with complex to it; we give complex64.
COMPLEX32_CASES = {("float16", "complex64"), ("float16", "complex128")}


def _t(name):
    return getattr(torch, name)


def _j(name):
    return getattr(jtorch, name)


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_pairs(a, b):
    assert str(torch.promote_types(_t(a), _t(b))) == repr(jtorch.promote_types(_j(a), _j(b)))
    assert torch.can_cast(_t(a), _t(b)) == jtorch.can_cast(_j(a), _j(b))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scalar", [True, 3, 2.5, 1 + 2j])
@pytest.mark.parametrize("zero_dim", [False, True])
def test_result_type_with_python_scalars(name, scalar, zero_dim):
    shape = () if zero_dim else (2,)
    expected = torch.result_type(torch.zeros(shape, dtype=_t(name)), scalar)
    got = jtorch.result_type(jtorch.zeros(shape, dtype=_j(name)), scalar)
    if str(expected) == "torch.complex32":
        assert name == "float16" and got is jtorch.complex64
    else:
        assert str(expected) == repr(got)


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_result_type_dim_vs_zero_dim(a, b):
    expected = torch.result_type(torch.zeros(2, dtype=_t(a)), torch.zeros((), dtype=_t(b)))
    got = jtorch.result_type(jtorch.zeros(2, dtype=_j(a)), jtorch.zeros((), dtype=_j(b)))
    if (a, b) in COMPLEX32_CASES:
        assert got is jtorch.complex64
    else:
        assert str(expected) == repr(got)


@pytest.mark.parametrize("a,b", [("int32", "float16"), ("uint8", "int8"), ("bool", "int16"),
                                 ("bfloat16", "float16"), ("int64", "complex64")])
def test_binary_op_result_dtype_follows_promotion(a, b):
    x = jtorch.ones(2, dtype=_j(a)) + jtorch.ones(2, dtype=_j(b))
    assert repr(x.dtype) == str((torch.ones(2, dtype=_t(a)) + torch.ones(2, dtype=_t(b))).dtype)


def test_default_dtype_roundtrip():
    assert jtorch.get_default_dtype() is jtorch.float32
    jtorch.set_default_dtype(jtorch.float64)
    assert jtorch.tensor([1.0]).dtype is jtorch.float64
    assert jtorch.result_type(jtorch.tensor([1, 2]), 1.5) is jtorch.float64
    with pytest.raises(TypeError):
        jtorch.set_default_dtype(jtorch.int64)


def test_dtype_attributes_match_torch():
    for name in NAMES:
        t, j = _t(name), _j(name)
        assert (t.is_floating_point, t.is_complex, t.is_signed, t.itemsize) == \
            (j.is_floating_point, j.is_complex, j.is_signed, j.itemsize)
        assert str(t) == repr(j)
    assert jtorch.float is jtorch.float32 and jtorch.long is jtorch.int64
    assert jtorch.half is jtorch.float16 and jtorch.cdouble is jtorch.complex128

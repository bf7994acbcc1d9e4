"""Tensor facade basics against torch: metadata, conversions, operators, devices."""
import numpy as np
import pytest
import torch

import jtorch


def test_metadata():
    t, j = torch.ones(2, 3), jtorch.ones(2, 3)
    assert tuple(j.shape) == tuple(t.shape) and repr(j.shape) == repr(t.shape)
    assert j.size() == t.size() and j.size(1) == t.size(1) and j.size(-1) == 3
    assert (j.ndim, j.dim(), j.numel(), len(j)) == (t.ndim, t.dim(), t.numel(), len(t))
    assert j.element_size() == t.element_size() and j.nbytes == t.nbytes
    assert j.is_leaf and not j.requires_grad and j.grad is None and j.grad_fn is None
    assert str(j.device) == "cpu" and j.device == jtorch.device("cpu")
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        j.size(2)


def test_scalar_conversions():
    j = jtorch.tensor(2.5)
    assert float(j) == 2.5 and int(j) == 2 and bool(j) and j.item() == 2.5
    assert jtorch.tensor([1, 2]).tolist() == [1, 2]
    assert jtorch.tensor(3).__index__() == 3
    assert [1, 2, 3, 4][jtorch.tensor(1)] == 2
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value "
                                           "is ambiguous"):
        bool(jtorch.ones(2))
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to "
                                           "Scalar"):
        jtorch.ones(2).item()


def test_numpy_roundtrip_and_array_protocol():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    j = jtorch.from_numpy(a)
    assert j.dtype is jtorch.float64
    np.testing.assert_array_equal(j.numpy(), a)
    np.testing.assert_array_equal(np.asarray(j), a)
    r = jtorch.ones(2).requires_grad_()
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        r.numpy()


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require "
                                           "gradients"):
        jtorch.tensor([1, 2]).requires_grad_()
    x = jtorch.ones(2, requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf "
                                           "variables"):
        y.requires_grad = False


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__mul__", "__truediv__", "__radd__",
                                "__rsub__", "__rmul__", "__rtruediv__", "__pow__", "__rpow__",
                                "__lt__", "__ge__", "__eq__", "__ne__"])
@pytest.mark.parametrize("other", [2, 2.5, "tensor"])
def test_python_operators_match_torch(op, other):
    base = [[1.0, 2.0], [3.0, 4.0]]
    t, j = torch.tensor(base), jtorch.tensor(base)
    ot = torch.tensor([0.5, 2.0]) if other == "tensor" else other
    oj = jtorch.tensor([0.5, 2.0]) if other == "tensor" else other
    r_t, r_j = getattr(t, op)(ot), getattr(j, op)(oj)
    assert repr(r_j.dtype) == str(r_t.dtype)
    np.testing.assert_allclose(r_j.numpy(), r_t.numpy(), rtol=1e-6)


def test_inplace_operators_keep_identity_and_bump_version():
    j = jtorch.ones(3)
    ident = id(j)
    j += 1
    j *= 3
    assert id(j) == ident and j._version == 2
    np.testing.assert_array_equal(j.numpy(), [6.0, 6.0, 6.0])
    k = jtorch.ones(3, dtype=jtorch.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        k += 1.5


def test_dtype_conversions():
    j = jtorch.tensor([1.7, -2.2])
    t = torch.tensor([1.7, -2.2])
    for name in ["float", "double", "half", "bfloat16", "long", "int", "bool"]:
        rj, rt = getattr(j, name)(), getattr(t, name)()
        assert repr(rj.dtype) == str(rt.dtype)
        np.testing.assert_allclose(rj.float().numpy(), rt.float().numpy())
    assert j.to(jtorch.float64).dtype is jtorch.float64
    assert j.to("cpu", jtorch.int32).dtype is jtorch.int32
    assert j.type() == t.type() == "torch.FloatTensor"
    assert j.type(jtorch.float64).dtype is jtorch.float64


def test_to_keeps_autograd_history():
    x = jtorch.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    y.sum().backward()
    assert x.grad.dtype is jtorch.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_cuda_without_gpu_raises_like_torch():
    with pytest.raises((RuntimeError, AssertionError), match="CUDA"):
        jtorch.ones(2).cuda()
    with pytest.raises(AssertionError):
        jtorch.ones(2, device="cuda")


def test_devices():
    d = jtorch.device("cuda:1")
    assert (d.type, d.index) == ("cuda", 1) and str(d) == "cuda:1"
    assert repr(jtorch.device("cpu")) == repr(torch.device("cpu"))
    assert repr(d) == repr(torch.device("cuda:1"))
    with pytest.raises(RuntimeError):
        jtorch.device("nonsense")


def test_missing_api_raises_not_implemented_naming_it():
    with pytest.raises(NotImplementedError, match="torch.definitely_not_an_op"):
        jtorch.definitely_not_an_op
    assert not hasattr(jtorch, "definitely_not_an_op")


def test_broadcast_error_message():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                           r"tensor b \(4\) at non-singleton dimension 1"):
        jtorch.ones(2, 3) + jtorch.ones(2, 4)


def test_isinstance_and_legacy_constructor():
    j = jtorch.Tensor([1, 2])
    assert isinstance(j, jtorch.Tensor) and j.dtype is jtorch.float32
    assert jtorch.Tensor(2, 3).shape == (2, 3)

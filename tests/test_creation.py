"""Factories and torch.tensor inference, run on torch and jtorch side by side.

Results are compared through repr() (values, dtype, shape, autograd flags; printing is
itself tested against torch) and errors through their type and message.
"""
import warnings

import numpy as np
import pytest
import torch

import jtorch


def _run(lib, expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return repr(eval(expr, {"torch": lib, "np": np}))
        except Exception as e:  # noqa: BLE001 - the exception is the result
            return f"{type(e).__name__}: {e}"


def _check(exprs):
    for expr in exprs.strip().split("\n"):
        expr = expr.strip()
        assert _run(jtorch, expr) == _run(torch, expr), expr


def test_zeros_ones_full_empty():
    _check("""
        torch.zeros(2, 3)
        torch.zeros((2, 3))
        torch.zeros(size=(2, 3))
        torch.zeros([])
        torch.zeros(())
        torch.zeros(-1)
        torch.ones(-1)
        torch.zeros(2, 3.0)
        torch.zeros(torch.Size([2]))
        torch.zeros(np.int64(2))
        torch.ones(2, dtype=torch.int64, requires_grad=True)
        torch.ones(2, requires_grad=True)
        torch.ones(2, 2, dtype=torch.float64)
        torch.empty(2, 3).shape
        torch.empty(2, 3).dtype
        torch.full((2,), 1)
        torch.full((2,), True)
        torch.full((2,), 1.5)
        torch.full((2,), 1j)
        torch.full((2,), torch.tensor(2))
        torch.full([], 2.)
        torch.full((2,), 300, dtype=torch.uint8)
        torch.full((2,), np.float64(1.))
        torch.full((-1,), 1.)
        torch.full((2, 2), 2.5, dtype=torch.float64)
        torch.empty_strided((2, 3), (3, 1)).shape
        torch.empty_permuted((2, 3), (1, 0)).shape
        torch.scalar_tensor(3)
        torch.scalar_tensor(3, dtype=torch.int64)
    """)


def test_like_and_new():
    _check("""
        torch.zeros_like(torch.ones(2), dtype=torch.int32)
        torch.ones_like(torch.ones(2, 2, dtype=torch.float64))
        torch.empty_like(torch.ones(2, 2, dtype=torch.int16)).shape
        torch.full_like(torch.ones(2, dtype=torch.int64), 2.7)
        torch.full_like(torch.ones(2), 7, requires_grad=True)
        torch.ones(2).new_tensor([1, 2])
        torch.ones(2).new_tensor(torch.tensor([1, 2]))
        torch.ones(2).new_zeros(2, 3)
        torch.ones(2).new_zeros((2, 3))
        torch.ones(2).new_full((2,), 3)
        torch.ones(2, dtype=torch.int32).new_ones((2,))
        torch.ones(2, dtype=torch.int32).new_ones((2,), dtype=torch.float64)
        torch.ones(2).new_empty(3).shape
        torch.ones(2).new_zeros(-1)
        torch.ones(2).new_ones(2, requires_grad=True)
    """)


def test_sequences():
    _check("""
        torch.arange(0, 1, 0.1)
        torch.arange(5)
        torch.arange(5.)
        torch.arange(0.5, 5, 1.5, dtype=torch.int64)
        torch.arange(1, 2.5, 0.5)
        torch.arange(10, 0, -3)
        torch.arange(0, 10, 0)
        torch.arange(0, -10, 1)
        torch.arange(torch.tensor(3))
        torch.arange(torch.tensor(3.))
        torch.arange(np.float64(3.))
        torch.arange(float('inf'))
        torch.arange(0, 5.5, dtype=torch.int64)
        torch.arange(0, 5.5, 2, dtype=torch.int64)
        torch.arange(start=1, end=4)
        torch.arange(end=4)
        torch.arange(-7, 8, 3)
        torch.arange(1, 10, dtype=torch.float64)
        torch.arange(4, requires_grad=True)
        torch.range(0, 3)
        torch.range(0, 3, dtype=torch.int64)
        torch.range(1, 2, 0.25)
        torch.linspace(0, 10, 4, dtype=torch.int64)
        torch.linspace(0, 1, 1)
        torch.linspace(0, 1, 0)
        torch.linspace(0, 1, -1)
        torch.linspace(3, 10, steps=5)
        torch.linspace(-3.3, 7.9, 11)
        torch.linspace(-3.3, 7.9, 11, dtype=torch.float64)
        torch.linspace(torch.tensor(0.), torch.tensor(1.), 5)
        torch.linspace(0, 1+1j, 3)
        torch.logspace(0, 2, 3)
        torch.logspace(0, 2, 3, base=2)
        torch.logspace(0, 2, 3, dtype=torch.int64)
        torch.logspace(-2, 2, 5, dtype=torch.float64)
        torch.eye(3, 2)
        torch.eye(3)
        torch.eye(2, dtype=torch.int32)
        torch.eye(-1)
        torch.eye(2, -1)
        torch.tril_indices(3, 3)
        torch.triu_indices(3, 4, 1)
        torch.tril_indices(3, 4, -1, dtype=torch.int32)
        torch.triu_indices(4, 3, -1)
        torch.tril_indices(0, 3)
    """)


def test_sequence_values_exact():
    """Element values bit-for-bit (repr shows only 4 digits)."""
    for args in [(0, 1, 7), (-3.3, 7.9, 11), (0.1, 0.7, 13), (0, 10, 4), (-5, 5, 7)]:
        for dt in ("float32", "float64"):
            a = torch.linspace(*args, dtype=getattr(torch, dt)).numpy()
            b = jtorch.linspace(*args, dtype=getattr(jtorch, dt)).numpy()
            np.testing.assert_array_equal(a, b)
    for args in [(0, 1, 0.1), (1, 2.5, 0.5), (-1.5, 3.3, 0.7)]:
        np.testing.assert_allclose(jtorch.arange(*args).numpy(), torch.arange(*args).numpy(),
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(jtorch.logspace(*args[:2], 5).numpy(),
                                   torch.logspace(*args[:2], 5).numpy(), rtol=1e-6)


def test_tensor_inference():
    _check("""
        torch.tensor([300], dtype=torch.uint8)
        torch.tensor(300, dtype=torch.uint8)
        torch.tensor([-1], dtype=torch.uint8)
        torch.tensor([2**63])
        torch.tensor([[1, 2], [3]])
        torch.tensor([[1, 2], [3, 4, 5]])
        torch.tensor([torch.tensor(1), torch.tensor(2.5)])
        torch.tensor([[torch.tensor(1.), torch.tensor(2.)]])
        torch.tensor([np.float64(1), 2])
        torch.tensor([np.int32(1), 2])
        torch.tensor([True, 1])
        torch.tensor([True, 1.5])
        torch.tensor([1, 2j])
        torch.tensor([[], []])
        torch.tensor([])
        torch.tensor(3)
        torch.tensor(3.5)
        torch.tensor('abc')
        torch.tensor([1, 'a'])
        torch.tensor(None)
        torch.tensor(np.array([1, 2], np.int32))
        torch.tensor(np.array([1., 2.]))
        torch.tensor([np.array([1, 2], np.int32), np.array([1, 2], np.int32)])
        torch.tensor([1, 2], dtype=torch.int64, requires_grad=True)
        torch.tensor([1., 2.], requires_grad=True)
        torch.tensor([1.7, -1.2], dtype=torch.int64)
        torch.tensor(np.float64(2.0))
        torch.tensor(np.float32(1.5))
        torch.tensor([np.bool_(True)])
        torch.tensor([[1, 2], [3.5, 4]])
        torch.tensor(float('nan'), dtype=torch.int64)
        torch.tensor(1e300)
        torch.tensor((1, 2))
        torch.tensor(range(3))
        torch.tensor([[1, 2]], dtype=torch.bool)
        torch.tensor([1+2j, 0j], dtype=torch.bool)
        torch.tensor([1+2j], dtype=torch.int64)
        torch.tensor([1+2j], dtype=torch.float32)
        torch.tensor(torch.ones(2, requires_grad=True))
        torch.Tensor([1, 2])
        torch.Tensor(2, 3).shape
        torch.as_tensor([1, 2], dtype=torch.float64)
        torch.asarray([1., 2.])
    """)


def test_tensor_copies_and_warns():
    src = jtorch.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        t = jtorch.tensor(src)
    assert t.requires_grad is False and t.grad_fn is None
    t.add_(1)
    assert src.tolist() == [1., 1.]


def test_fill_and_zero():
    _check("""
        torch.ones(2).fill_(torch.tensor([1., 2]))
        torch.fill(torch.ones(2), 3)
        torch.ones(2, dtype=torch.int64).fill_(2.5)
        torch.ones(2).fill_(1j)
        torch.ones(2).fill_(torch.tensor(4, dtype=torch.int64))
        torch.ones(2, 3).zero_()
        torch.zeros(2, requires_grad=True).zero_()
        torch.zeros(2, requires_grad=True).fill_(1.)
        (torch.zeros(2, requires_grad=True) * 2).zero_()
        (torch.zeros(2, requires_grad=True) * 2).fill_(1)
    """)


def test_fill_inplace_semantics_and_grads():
    for lib in (torch, jtorch):
        base = lib.zeros(2, 3)
        view = base[0]
        view.fill_(5.)
        base[1].zero_()
        assert base.tolist() == [[5., 5., 5.], [0., 0., 0.]]
        assert base._version > 0
    res = []
    for lib in (torch, jtorch):
        x = lib.tensor([1., 2., 3.], requires_grad=True)
        v = lib.tensor(4., requires_grad=True)
        y = x * 2
        y[:2].fill_(v)
        (y * lib.tensor([1., 10., 100.])).sum().backward()
        res.append((x.grad.tolist(), v.grad.item()))
        x2 = lib.tensor([1., 2.], requires_grad=True)
        z = x2 * 3
        z.zero_()
        (z + x2).sum().backward()
        res.append(x2.grad.tolist())
    assert res[:2] == res[2:]


def test_out_and_devices():
    for lib in (torch, jtorch):
        o = lib.empty(0)
        r = lib.zeros(2, 2, out=o)
        assert r is o and o.shape == (2, 2)
        o = lib.empty(0, dtype=lib.int64)
        lib.arange(4, out=o)
        assert o.tolist() == [0, 1, 2, 3] and o.dtype == lib.int64
    t = jtorch.zeros(2, device="cpu")
    assert t.device == jtorch.device("cpu")
    assert jtorch.ones(2, device=jtorch.device("cpu")).device.type == "cpu"
    from jtorch._device import gpu_devices
    if not gpu_devices():
        with pytest.raises(AssertionError, match="CUDA"):
            jtorch.zeros(2, device="cuda")
        with pytest.raises(AssertionError, match="CUDA"):
            jtorch.tensor([1.], device="cuda")

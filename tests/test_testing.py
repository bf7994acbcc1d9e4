"""jtorch.testing.assert_close / make_tensor against torch.testing (messages included)."""
import numpy as np
import pytest
import torch

import jtorch
import jtorch.testing  # noqa: F401  (until jtorch/__init__ imports it)

NAN, INF = float("nan"), float("inf")

# Each case: fn(T) -> (actual, expected, kwargs), built with T = torch or jtorch.
CASES = {
    "float_one_off": lambda T: (T.tensor([1., 2., 3.]), T.tensor([1., 2.5, 3.]), {}),
    "2d": lambda T: (T.tensor([[1., 2.], [3., 4.]]), T.tensor([[1., 2.], [3., 5.]]), {}),
    "int_equal": lambda T: (T.tensor([1, 2, 3]), T.tensor([1, 5, 3]), {}),
    "uint8": lambda T: (T.tensor([1, 2], dtype=T.uint8), T.tensor([3, 2], dtype=T.uint8), {}),
    "bool": lambda T: (T.tensor([True, False]), T.tensor([True, True]), {}),
    "dtype": lambda T: (T.tensor([1., 2.]), T.tensor([1., 2.], dtype=T.float64), {}),
    "shape": lambda T: (T.tensor([1., 2.]), T.tensor([1., 2., 3.]), {}),
    "shape2": lambda T: (T.tensor([1., 2.]).reshape(2, 1), T.tensor([1., 2.]), {}),
    "nan": lambda T: (T.tensor([1., NAN]), T.tensor([1., NAN]), {}),
    "nan_ok": lambda T: (T.tensor([1., NAN]), T.tensor([1., NAN]), {"equal_nan": True}),
    "inf": lambda T: (T.tensor([1., INF]), T.tensor([1., INF]), {}),
    "inf_sign": lambda T: (T.tensor([1., INF]), T.tensor([1., -INF]), {}),
    "rel_inf": lambda T: (T.tensor([0., 1e-3]), T.tensor([0., 0.]), {}),
    "float16": lambda T: (T.tensor([1., 2.], dtype=T.float16),
                          T.tensor([1., 2.01], dtype=T.float16), {}),
    "bfloat16": lambda T: (T.tensor([1., 2.], dtype=T.bfloat16),
                           T.tensor([1., 2.1], dtype=T.bfloat16), {}),
    "float64": lambda T: (T.tensor([1., 2.], dtype=T.float64),
                          T.tensor([1., 2. + 1e-6], dtype=T.float64), {}),
    "complex": lambda T: (T.tensor([1. + 1j, 2.]), T.tensor([1. + 1j, 2. + 1j]), {}),
    "zero_dim": lambda T: (T.tensor(2.), T.tensor(3.), {}),
    "one_elem": lambda T: (T.tensor([2.]), T.tensor([3.]), {}),
    "explicit_tol": lambda T: (T.tensor([1., 2.]), T.tensor([1., 3.]), {"rtol": 0, "atol": 0}),
    "loose_tol": lambda T: (T.tensor([1., 2.]), T.tensor([1., 2.05]),
                            {"rtol": 0.1, "atol": 0.0}),
    "only_rtol": lambda T: (T.tensor([1., 2.]), T.tensor([1., 2.]), {"rtol": 1e-3}),
    "no_dtype_check": lambda T: (T.tensor([1., 2.]), T.tensor([1., 3.], dtype=T.float64),
                                 {"check_dtype": False}),
    "within_tol": lambda T: (T.tensor([1., 2.]), T.tensor([1., 2. + 1e-6]), {}),
    "empty": lambda T: (T.zeros(0), T.zeros(0), {}),
    "msg_str": lambda T: (T.tensor([1., 2.]), T.tensor([1., 3.]), {"msg": "custom"}),
    "msg_fn": lambda T: (T.tensor([1., 2.]), T.tensor([1., 3.]), {"msg": lambda m: "X" + m}),
    "py_float": lambda T: (1.0, 1.1, {}),
    "py_int": lambda T: (1, 2, {}),
    "py_int_float": lambda T: (1, 1.0, {}),
    "py_bool": lambda T: (True, False, {}),
    "py_nan": lambda T: (NAN, NAN, {}),
    "py_nan_ok": lambda T: (NAN, NAN, {"equal_nan": True}),
    "none": lambda T: (None, None, {}),
    "np_scalar": lambda T: (np.float32(1.), np.float32(2.), {}),
    "np_array": lambda T: (np.array([1., 2.]), np.array([1., 3.]), {}),
    "list": lambda T: ([T.tensor(1.), T.tensor(2.)], [T.tensor(1.), T.tensor(3.)], {}),
    "nested": lambda T: ({"a": [1, {"b": 2.0}]}, {"a": [1, {"b": 2.5}]}, {}),
    "nested_msg_fn": lambda T: ([1., 2.], [1., 3.], {"msg": lambda m: "X" + m}),
    "nested_shape": lambda T: ([T.tensor([1., 2.])], [T.tensor([1.])], {}),
    "seq_len": lambda T: ([1, 2], [1, 2, 3], {}),
    "tuple_list": lambda T: ((1, 2), [1, 2], {}),
    "keys": lambda T: ({"a": 1}, {"b": 1}, {}),
    "keys_missing": lambda T: ({"a": 1}, {"a": 1, "b": 2}, {}),
    "tensor_vs_float": lambda T: (T.tensor(1.), 1.0, {}),
    "strings": lambda T: ("a", "b", {}),
}


def _outcome(T, case):
    actual, expected, kw = case(T)
    try:
        T.testing.assert_close(actual, expected, **kw)
    except Exception as e:  # noqa: BLE001 - comparing what each library raises
        return type(e), str(e).replace("jtorch._tensor.Tensor", "torch.Tensor")
    return None, None


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_matches_torch(name):
    assert _outcome(jtorch, CASES[name]) == _outcome(torch, CASES[name])


def test_assert_close_passes_identical():
    x = jtorch.arange(6.).reshape(2, 3)
    jtorch.testing.assert_close(x, x.clone())
    jtorch.testing.assert_close({"w": [x, 3]}, {"w": [x.clone(), 3]})


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex64"])
def test_make_tensor(dtype):
    jt = jtorch.testing.make_tensor(3, 4, dtype=getattr(jtorch, dtype), device="cpu")
    ref = torch.testing.make_tensor(3, 4, dtype=getattr(torch, dtype), device="cpu")
    assert tuple(jt.shape) == tuple(ref.shape) and str(jt.dtype) == str(ref.dtype)
    if dtype not in ("bool", "complex64"):
        v = jt.numpy()
        assert v.min() >= (0 if dtype == "uint8" else -9) and v.max() <= 9


def test_make_tensor_options():
    jt = jtorch.testing.make_tensor((50,), dtype=jtorch.float32, device="cpu", low=2, high=3,
                                    requires_grad=True)
    assert jt.requires_grad and 2 <= jt.min().item() and jt.max().item() <= 3
    z = jtorch.testing.make_tensor(200, dtype=jtorch.int64, device="cpu", low=0, high=2,
                                   exclude_zero=True)
    assert (z.numpy() != 0).all()
    for T in (torch, jtorch):
        with pytest.raises(ValueError):
            T.testing.make_tensor(2, dtype=T.float32, device="cpu", low=3, high=1)

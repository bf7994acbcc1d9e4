"""Indexing against torch: __getitem__/__setitem__ (views for basic indices, copies for
advanced), gather/scatter, index_*, masked_*, take/put, where/nonzero, *_scatter, search."""
import numpy as np
import pytest
import torch

import jtorch
from test_views import check, check_raises, mk

A234 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
A35 = np.arange(15, dtype=np.float32).reshape(3, 5) - 7

GET = {
    "int": lambda L, x: (x[1], x[-1, 2], x[0, 1, 3]),
    "slice": lambda L, x: (x[1:], x[:, ::2], x[..., 1:3], x[:, -2:, :-1], x[5:], x[:, 1:1]),
    "none_ellipsis": lambda L, x: (x[None], x[..., None], x[:, None, 1], x[None, ..., None],
                                   x[...]),
    "bool_scalar": lambda L, x: (x[True], x[False], x[0, True]),
    "list": lambda L, x: (x[[0, 1, 1]], x[[1, 0], [2, 0]], x[:, [0, 2]], x[[True, False]]),
    "tensor": lambda L, x: (x[L.tensor([1, 0])], x[:, L.tensor([[0, 1], [2, -1]])],
                            x[L.tensor(1)], x[L.tensor([0, 1]), :, L.tensor([3, 2])]),
    "mask": lambda L, x: (x[x > 10], x[x[:, :, 0] > 5], x[:, L.tensor([True, False, True])]),
    "mixed_placement": lambda L, x: (x[0, :, [0, 1]], x[[0, 1], :, 0], x[:, 0, [0, 1]],
                                     x[None, [0, 1], None, 0], x[..., [0, 1], None],
                                     x[[0, 1], 1:, [1, 2]]),
}


@pytest.mark.parametrize("name", list(GET))
def test_getitem(name):
    check(GET[name], A234, grad=True)


def test_basic_index_is_view_advanced_is_copy():
    for lib in (torch, jtorch):
        a = mk(lib, A234)
        assert a[0]._base is a and a[:, 1:]._base is a and a[None, ..., 1]._base is a
        assert a[...]._base is a and a[lib.tensor(1)]._base is a
        assert a[[0]]._base is None and a[a > 3]._base is None


def test_getitem_errors():
    check_raises(lambda L, x: x[5], A234)
    check_raises(lambda L, x: x[:, -4], A234)
    check_raises(lambda L, x: x[L.tensor([5])], A234)
    check_raises(lambda L, x: x[::-1], A234)
    check_raises(lambda L, x: x[0:2:0], A234)
    check_raises(lambda L, x: x[0, 0, 0, 0], A234)
    check_raises(lambda L, x: x[1.0], A234)
    check_raises(lambda L, x: x[L.tensor([True, False, True])], A234)


SET = {
    "basic": lambda L, x, v: x.__setitem__((0, slice(1, None)), v[0, 1:]),
    "scalar": lambda L, x, v: x.__setitem__((slice(None), 1), 5.0),
    "broadcast": lambda L, x, v: x.__setitem__((Ellipsis, 0), v[0, :, 0]),
    "advanced": lambda L, x, v: x.__setitem__(([0, 1], [2, 0]), v[0, 0]),
    "mask": lambda L, x, v: x.__setitem__(x > 12, -1.0),
    "mixed": lambda L, x, v: x.__setitem__((1, [0, 2], slice(1, 3)), v[0, :2, :2]),
    "int_value_on_float": lambda L, x, v: x.__setitem__(0, 3),
}


@pytest.mark.parametrize("name", list(SET))
def test_setitem(name):
    def f(L, x, v):
        y = x * 1
        SET[name](L, y, v * 2)
        return y * y
    check(f, A234, A234[::-1].copy(), grad=True)


def test_setitem_writes_through_views():
    for lib in (torch, jtorch):
        a = mk(lib, A234)
        b = a[1]
        b[[0, 2], 1] = 100.0
        a[0, 0] = b[0]
        assert a[1, 0, 1].item() == 100 and a[0, 0].tolist() == b[0].tolist()
        assert a._version == b._version


def test_setitem_errors():
    check_raises(lambda L, x: x.__setitem__([0, 1], L.ones(3)), A234)

    def leaf(L, x):
        x.requires_grad_(True)
        x[[0]] = 1.0
    check_raises(leaf, A234)


IDX = np.array([[0, 2, 1, 0, 2], [1, 1, 0, 2, 2]])

OPS = {
    "gather": lambda L, x, i: (x.gather(0, i[:, :3]), L.gather(x, 1, i[:, :2] % 2)),
    "scatter": lambda L, x, i: (x.scatter(0, i, x[:2] * 10), x.scatter(1, i % 2, 7.5),
                                L.scatter(x, 0, i, x[:2], reduce="add").detach(),
                                x.scatter(0, i, 2.0, reduce="multiply").detach()),
    "scatter_add": lambda L, x, i: x.scatter_add(0, i, x[1:]),
    "scatter_reduce": lambda L, x, i: tuple(
        x.scatter_reduce(0, i, x[:2] * 2, r, include_self=s)
        for r, s in (("sum", True), ("prod", False), ("mean", False), ("mean", True),
                     ("amax", False), ("amin", True))),
    "index_select": lambda L, x, i: (x.index_select(0, i[0]), L.index_select(x, 1, i[1, :2])),
    "index_add": lambda L, x, i: (x.index_add(0, i[0, :2], x[:2], alpha=2),
                                  x.index_add(1, i[1], x * 2)),
    "index_copy": lambda L, x, i: x.index_copy(1, L.tensor([4, 0]), x[:, :2] * 3),
    "index_fill": lambda L, x, i: (x.index_fill(1, i[0], -1.0), x.index_fill(0, i[0, :1],
                                                                             x[0, 0])),
    "index_reduce": lambda L, x, i: tuple(x.index_reduce(0, i[0], x[:1].expand(5, 5) * 2, r,
                                                         include_self=s)
                                          for r, s in (("prod", True), ("mean", False),
                                                       ("amax", True), ("amin", False))),
    "index_put": lambda L, x, i: (x.index_put((i[0], i[1]), x[0, 0] * 3),
                                  x.index_put((i[0],), x[:1] * 2, accumulate=True)),
    "masked": lambda L, x, i: (x.masked_fill(x > 0, 2.0), x.masked_fill(x[0] > 0, x[1, 1]),
                               x.masked_select(x > 1), x.masked_scatter(x < 0, x * 10)),
    "take_put": lambda L, x, i: (x.take(i), L.take_along_dim(x, i, 0),
                                 x.take_along_dim(i), x.put(i[0], x[0] * 3),
                                 x.put(i[1, :2], x[1, :2], accumulate=True)),
    "where": lambda L, x, i: (L.where(x > 0, x, x * 2), L.where(x > 0, x, 0.5),
                              x.where(x < 0, -1), L.where(x > 2)),
    "nonzero": lambda L, x, i: (x.nonzero(), L.nonzero(x, as_tuple=True), L.argwhere(x > 3)),
    "scatters": lambda L, x, i: (L.select_scatter(x, x[0] * 2, 0, 1),
                                 L.slice_scatter(x, x[:, :2] * 2, 1, 1, 5, 2),
                                 L.diagonal_scatter(x, x[0, :3] * 5, 1)),
}


@pytest.mark.parametrize("name", list(OPS))
def test_indexing_ops(name):
    hot = name in ("gather", "scatter", "index_select", "index_put", "masked", "where")
    check(OPS[name], A35, IDX, grad=hot)


def test_reduce_grads():
    """torch's gradient for scatter/index prod with repeated indices (and zeros)."""
    def f(L, x, i):
        x = x * (x != -2)  # a zero among the contributors
        return (x.scatter_reduce(0, i, x[:2] * 2, "prod", include_self=False),
                x.index_reduce(0, i[0], x[1:2].expand(5, 5) + 1, "prod"),
                x.scatter_reduce(1, i % 2, x[:2], "amax"))
    check(f, A35, IDX, grad=True)


def test_inplace_variants():
    def f(L, x, i):
        y = x * 1
        y.index_add_(0, i[0, :2], x[:2])
        y.index_fill_(1, i[1], 0.5)
        y.scatter_(0, i, x[:2])
        y.scatter_add_(1, i, x[:2])
        y.masked_fill_(y > 3, 1.0)
        y.index_put_((i[0],), x[:1], accumulate=True)
        y.put_(i[0], x[0])
        return y
    check(f, A35, IDX, grad=True)


def test_search_and_isin():
    seq = np.array([[1., 3, 5, 7], [2, 4, 6, 8]], np.float32)
    vals = np.array([[3., 6], [9, 0]], np.float32)
    check(lambda L, s, v: (L.searchsorted(s, v), L.searchsorted(s, v, right=True),
                           L.searchsorted(s[0], v, side="right", out_int32=True),
                           L.bucketize(v, s[1]), L.bucketize(v, s[1], right=True),
                           L.isin(v, s), L.isin(v, s, invert=True)), seq, vals)


def test_indexing_op_errors():
    check_raises(lambda L, x, i: x.gather(1, i * 5), A35, IDX)
    check_raises(lambda L, x, i: x.index_select(0, i[0] + 5), A35, IDX)
    check_raises(lambda L, x, i: x.scatter(0, i + 5, 1.0), A35, IDX)
    check_raises(lambda L, x, i: x.take(i + 20), A35, IDX)
    check_raises(lambda L, x, i: x.masked_fill(i > 0, 1.0), A35, IDX)
    check_raises(lambda L, x, i: L.where(i[0], x, x), A35, IDX)

"""Shape/view ops against torch: values, dtypes, grads, errors, and view semantics
(shared storage, version counters, _base, autograd through in-place writes on views).

The compare helpers here are reused by test_indexing.py.
"""
import numpy as np
import pytest
import torch

import jtorch

def mk(lib, a, rg=False):
    """A tensor of `lib` from a numpy array (or a Python value)."""
    t = lib.tensor(np.asarray(a))
    if rg:
        t.requires_grad_(True)
    return t


def to_np(x):
    if isinstance(x, (tuple, list)):
        return [to_np(v) for v in x]
    if isinstance(x, (torch.Tensor, jtorch.Tensor)):
        return x.detach().numpy() if hasattr(x, "detach") else x.numpy()
    return x


def assert_same(t, j, what="output"):
    if isinstance(t, (tuple, list)):
        assert isinstance(j, (tuple, list)) and len(t) == len(j), f"{what}: {t} vs {j}"
        for a, b in zip(t, j):
            assert_same(a, b, what)
        return
    if isinstance(t, torch.Tensor):
        assert isinstance(j, jtorch.Tensor), f"{what}: got {type(j)}"
        assert tuple(j.shape) == tuple(t.shape), f"{what}: shape {j.shape} vs {t.shape}"
        assert str(j.dtype) == str(t.dtype), f"{what}: dtype {j.dtype} vs {t.dtype}"
        np.testing.assert_allclose(to_np(j), to_np(t), rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        assert j == t, f"{what}: {j} vs {t}"


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [v for e in x for v in _flat(e)]
    return [x] if isinstance(x, (torch.Tensor, jtorch.Tensor)) else []


def check(fn, *arrays, grad=False):
    """fn(lib, *tensors) on both libraries; compares outputs and (grad=True) input grads."""
    ts = [mk(torch, a, grad and np.asarray(a).dtype.kind == "f") for a in arrays]
    js = [mk(jtorch, a, grad and np.asarray(a).dtype.kind == "f") for a in arrays]
    rt, rj = fn(torch, *ts), fn(jtorch, *js)
    assert_same(rt, rj)
    if grad:
        outs_t, outs_j = _flat(rt), _flat(rj)
        lt = sum(((o * (i + 1.5)).sum() for i, o in enumerate(outs_t)
                  if o.requires_grad), torch.zeros(()))
        lj = None
        for i, o in enumerate(outs_j):
            if o.requires_grad:
                v = (o * (i + 1.5)).sum()
                lj = v if lj is None else lj + v
        if lj is None:
            return rt, rj
        lt.backward()
        lj.backward()
        for a, b in zip(ts, js):
            if a.requires_grad:
                assert_same(a.grad, b.grad, "grad")
    return rt, rj


def check_raises(fn, *arrays):
    """Both libraries raise the same exception type with the same message."""
    ts = [mk(torch, a) for a in arrays]
    js = [mk(jtorch, a) for a in arrays]
    with pytest.raises(Exception) as et:
        fn(torch, *ts)
    with pytest.raises(Exception) as ej:
        fn(jtorch, *js)
    assert type(ej.value).__name__ == type(et.value).__name__, (ej.value, et.value)
    assert str(ej.value) == str(et.value), (str(ej.value), str(et.value))


A23 = np.arange(6, dtype=np.float32).reshape(2, 3)
A234 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
V5 = np.arange(5, dtype=np.float32)


# ------------------------------------------------------------------------------ view semantics

def test_mutating_view_updates_base_and_back():
    for lib in (torch, jtorch):
        a = mk(lib, A23)
        b = a[1:]
        b.add_(1)
        assert a.tolist() == [[0, 1, 2], [4, 5, 6]]
        a.mul_(2)
        assert b.tolist() == [[8, 10, 12]]
        a.view(-1)[0] = 5
        assert a[0, 0].item() == 5
        a.t()[2] = a.t()[2] * 0 - 1
        assert a[:, 2].tolist() == [-1, -1]


def test_version_counter_shared_and_base_is_root():
    for lib in (torch, jtorch):
        a = mk(lib, A234)
        v = a.view(6, 4)
        w = v[1:].transpose(0, 1)
        assert v._base is a and w._base is a and a._base is None
        assert a._version == v._version == w._version == 0
        w.add_(1)
        assert a._version == v._version == w._version == 1
        a.add_(1)
        assert w._version == 2
        assert w.is_leaf is True or w._base is a


def test_multi_output_views_share_storage():
    for lib in (torch, jtorch):
        a = mk(lib, A23)
        x, y = a.unbind(0)
        x.add_(10)
        p, q = a.split([1, 2], 1)
        q.mul_(0)
        assert a.tolist() == [[10, 0, 0], [3, 0, 0]]
        assert y._base is a and p._base is a


@pytest.mark.parametrize("write", [
    lambda v: v.add_(1),
    lambda v: v.copy_(v * 0 + 3),
])
def test_expanded_view_write_raises(write):
    for lib in (torch, jtorch):
        x = mk(lib, np.zeros(3, np.float32))
        with pytest.raises(RuntimeError, match="unsupported operation: more than one element of "
                           "the written-to tensor refers to a single memory location. Please "
                           r"clone\(\) the tensor before performing the operation."):
            write(x.expand(3, 3))
        x.expand(3, 3)[0].add_(1)  # a non-overlapping view of an expanded tensor is fine
        assert x.tolist() == [1, 1, 1]


def _inplace_on_view(lib, x, w):
    y = x * 1
    y[1:, :2].mul_(w)
    y.view(-1)[0] = w[0, 0] * 3
    z = y.t()
    z[0].add_(1)
    return y * y


def test_autograd_through_inplace_on_views():
    w = np.array([[2., 3.], [4., 5.]], np.float32)
    check(_inplace_on_view, A23[[0, 1, 1]], w, grad=True)


def test_autograd_view_of_base_after_inplace():
    def f(lib, x):
        y = x * 2
        v = y[0]           # a view taken before the base changes
        y[1].mul_(3)
        y[0].add_(x[1])
        return v * v       # v sees both writes and their history
    check(f, A23, grad=True)


def test_leaf_view_inplace_errors():
    def f(lib, x):
        x.requires_grad_(True)
        x[0] = 1
    check_raises(f, A23)


def test_view_errors():
    check_raises(lambda L, x: x.view(2, 5), np.zeros(6, np.float32)[:3])
    check_raises(lambda L, x: x.view(-1, -1), A23)
    check_raises(lambda L, x: x.t(), A234)
    check_raises(lambda L, x: x.expand(3, 3), A23)
    check_raises(lambda L, x: x.expand(3), A23)
    check_raises(lambda L, x: x.permute(0, 0), A23)
    check_raises(lambda L, x: x.narrow(1, 2, 3), A23)
    check_raises(lambda L, x: x.select(1, 5), A23)
    check_raises(lambda L, x: x.squeeze(5), V5)
    check_raises(lambda L, x: x.unsqueeze(3), A23)
    check_raises(lambda L, x: x.flatten(1, 0), A23)
    check_raises(lambda L, x: x.unflatten(1, (2, 2)), A23)
    check_raises(lambda L, x: x.mT, V5)
    check_raises(lambda L, x: x.H, A234)
    check_raises(lambda L, x: x.diagonal(0, 0, 0), A23)
    check_raises(lambda L, x: x.unfold(1, 4, 1), A23)
    check_raises(lambda L, x: x.split(0), A23)
    check_raises(lambda L, x: x.tensor_split(0), A23)
    check_raises(lambda L, x: L.hsplit(x, 2), V5)
    check_raises(lambda L, x: L.vsplit(x, 2), V5)


def test_join_errors():
    check_raises(lambda L, a, b: L.cat([a, b], 1), A23, np.zeros((3, 3), np.float32))
    check_raises(lambda L, a, b: L.cat([a, b], 0), A23, np.zeros((2, 2), np.float32))
    check_raises(lambda L, a, b: L.cat([a, b]), A23, V5)
    check_raises(lambda L, a, b: L.stack([a, b]), V5, np.zeros(3, np.float32))
    check_raises(lambda L, a: a.repeat(2), A23)
    check_raises(lambda L, a: a.rot90(1, [0, 0]), A23)
    check_raises(lambda L, a: a.fliplr(), V5)
    check_raises(lambda L, a: a.tril(), V5)
    check_raises(lambda L, a: a.roll((1, 2), (0,)), A23)


# ------------------------------------------------------------------------------ values and grads

VIEW_CASES = {
    "view": lambda L, x: x.view(3, -1),
    "view_tuple": lambda L, x: x.view((4, 6)),
    "reshape": lambda L, x: L.reshape(x, (-1,)),
    "view_as": lambda L, x: x[0].view_as(x[1]),
    "flatten": lambda L, x: (x.flatten(), x.flatten(1), L.flatten(x[0, 0, 0])),
    "unflatten": lambda L, x: x.unflatten(2, (2, -1)),
    "ravel": lambda L, x: x.ravel(),
    "squeeze": lambda L, x: (x[:1].squeeze(), x[:1].squeeze(0), x[:1, :, :1].squeeze((0, 2)),
                             x.squeeze(1)),
    "unsqueeze": lambda L, x: (x.unsqueeze(0), x.unsqueeze(-1)),
    "permute": lambda L, x: (x.permute(2, 0, 1), L.permute(x, (1, 0, 2))),
    "transpose": lambda L, x: (x.transpose(0, 2), L.swapaxes(x, 0, 1), x.swapdims(1, 2)),
    "t_T_mT": lambda L, x: (x[0].t(), x[0].T, x.mT, x[0].mH, x[0].H, x[0].adjoint()),
    "expand": lambda L, x: (x[:, :1].expand(2, 3, 4), x[0].expand(2, -1, -1),
                            x[0, :1].expand_as(x), L.broadcast_to(x[0, 0], (2, 4))),
    "broadcast_tensors": lambda L, x: L.broadcast_tensors(x[:, :1], x[0]),
    "narrow_select": lambda L, x: (x.narrow(2, 1, 2), x.narrow(1, -2, 2), x.select(1, -1),
                                   L.select(x, 2, 0)),
    "unbind": lambda L, x: x.unbind(1),
    "split": lambda L, x: (x.split(2, 2), L.split(x, [1, 3], 2), x.split_with_sizes([2, 1], 1)),
    "chunk": lambda L, x: (x.chunk(3, 2), L.chunk(x, 2, 1)),
    "tensor_split": lambda L, x: (x.tensor_split(3, 2), L.tensor_split(x, [1, 3], 2),
                                  x.tensor_split(L.tensor([1]), 1)),
    "hvdsplit": lambda L, x: (L.hsplit(x, 3), L.vsplit(x, [1]), L.dsplit(x, 2)),
    "diagonal": lambda L, x: (x.diagonal(), x.diagonal(1, 1, 2), L.diagonal(x, -1, 2, 0)),
    "movedim": lambda L, x: (x.movedim(0, 2), L.moveaxis(x, (0, 1), (2, 0))),
    "unfold": lambda L, x: (x.unfold(2, 2, 1), x.unfold(1, 2, 2)),
    "as_strided": lambda L, x: L.as_strided(x, (3, 3), (2, 1), 1),
    "alias_copy": lambda L, x: (L.alias_copy(x), L.squeeze_copy(x[:1]), L.t_copy(x[0]),
                                L.permute_copy(x, (1, 0, 2)), L.diagonal_copy(x),
                                L.expand_copy(x[:1], (2, 3, 4)), L.view_copy(x, (6, 4)),
                                L.unbind_copy(x), L.narrow_copy(x, 0, 1, 1)),
}


@pytest.mark.parametrize("name", list(VIEW_CASES))
def test_view_ops(name):
    check(VIEW_CASES[name], A234, grad=name not in ("as_strided", "alias_copy", "hvdsplit",
                                                      "movedim", "unfold", "diagonal"))


SHAPE_CASES = {
    "cat": lambda L, x: (L.cat([x, x * 2], 1), L.cat((x[0], x[1]), -1), L.concat([x, x]),
                         L.concatenate([x, x], axis=2)),
    "stack": lambda L, x: (L.stack([x[0], x[1]]), L.stack([x, x], -1)),
    "hvdcolumn_stack": lambda L, x: (L.hstack([x, x]), L.vstack([x[0], x[1]]),
                                     L.row_stack([x[0, 0], x[1, 0]]), L.dstack([x, x]),
                                     L.column_stack([x[0, 0], x[1, 1]])),
    "flip": lambda L, x: (x.flip(0, 2), L.flip(x, (1,)), L.fliplr(x), L.flipud(x)),
    "roll": lambda L, x: (x.roll(1), x.roll((1, -1), (0, 2)), L.roll(x, 2, 1)),
    "rot90": lambda L, x: (x.rot90(), L.rot90(x, 2, (1, 2)), x.rot90(-1, [2, 0])),
    "repeat_tile": lambda L, x: (x.repeat(2, 1, 1, 2), x[0].tile((2,)), L.tile(x, (2, 1, 1))),
    "repeat_interleave": lambda L, x: (x.repeat_interleave(2), x.repeat_interleave(2, 1),
                                       L.repeat_interleave(x, L.tensor([1, 0, 2]), 1),
                                       L.repeat_interleave(L.tensor([2, 1]))),
    "atleast": lambda L, x: (L.atleast_1d(x[0, 0, 0]), L.atleast_2d(x[0, 0]),
                             L.atleast_3d(x[0]), L.atleast_3d(x[0, 0], x)),
    "tril_triu": lambda L, x: (x.tril(), L.triu(x, 1), x.tril(-1)),
    "diag": lambda L, x: (L.diag(x[0]), L.diag(x[0, 0], 1), L.diag_embed(x),
                          L.diag_embed(x[0], -1, 0, 2), L.diagflat(x[0, 0])),
    "block_diag": lambda L, x: L.block_diag(x[0], x[1, 0], x[0, 0, 0]),
    "cartesian_combinations": lambda L, x: (L.cartesian_prod(x[0, 0], x[1, 1]),
                                            L.combinations(x[0, 0]),
                                            L.combinations(x[0, 0], 3, True)),
    "meshgrid": lambda L, x: (L.meshgrid(x[0, 0], x[1, 0, :3], indexing="ij"),
                              L.meshgrid(x[0, 0], x[1, 0, :3], indexing="xy")),
    "pad_sum_to": lambda L, x: (L.constant_pad_nd(x, (1, 2, -1, 0), 3.0),
                                x.sum_to_size(1, 3, 1)),
}


# gradients are checked for the hot ops; OpInfo replay covers the rest's gradients
HOT = {"cat", "stack", "flip", "repeat_tile", "tril_triu"}


@pytest.mark.parametrize("name", list(SHAPE_CASES))
def test_shape_ops(name):
    check(SHAPE_CASES[name], A234, grad=name in HOT)


def test_promotion_and_misc():
    check(lambda L, a, b: (L.cat([a, b]), L.stack([a, b])),
          np.ones(2, np.float32), np.arange(2))
    check(lambda L, a: (L.broadcast_shapes((2, 1), (3,)), L.unravel_index(a, (2, 3)),
                        L.view_as_real(L.view_as_complex(a.reshape(1, 2).float()))),
          np.array([4, 5]))
    check(lambda L, a: (a.view(L.int32), a.view(L.float64)), np.ones((2, 4), np.float32))


def test_reshape_views_only_when_torch_does():
    """reshape/flatten view when strides allow (else copy); view() then raises like torch."""
    res = {}
    for lib in (torch, jtorch):
        a = mk(lib, A234)
        v1 = a.permute(2, 0, 1)[1:].reshape(-1)      # not viewable: a copy
        v2 = a[:, 1:].reshape(2, -1)                 # viewable
        v3 = a.transpose(0, 1).flatten(1)            # a copy in torch too
        v4 = a[0].t().flatten()                      # copy
        a.mul_(0)
        res[lib] = [float(v.sum()) for v in (v1, v2, v3, v4)]
        assert v2._base is a and v1._base is None and v4._base is None
    assert res[torch] == res[jtorch]
    check_raises(lambda L, x: x.t().view(-1), A23)
    check(lambda L, x: (x.t().reshape(-1),
                        x.t().ravel(), x[:, ::2].flatten()), A23, grad=True)


_STRIDED_VIEWS = {
    "view": lambda x: x.view(6, 20), "transpose": lambda x: x.transpose(1, 3),
    "permute": lambda x: x.permute(3, 1, 0, 2), "narrow": lambda x: x.narrow(2, 1, 2),
    "select": lambda x: x.select(1, -1), "getitem": lambda x: x[1, ::2, 1:3],
    "split": lambda x: x.split(2, dim=2)[1], "unbind": lambda x: x.unbind(1)[2],
    "diagonal": lambda x: x.diagonal(1, 1, 2), "unfold": lambda x: x.unfold(3, 2, 1),
    "as_strided": lambda x: x.as_strided((3, 3), (2, 1), 1),
    "expand": lambda x: x[:, :1].expand(2, 3, 4, 5), "unsqueeze": lambda x: x[None, 1],
    "qkv heads": lambda x: x.reshape(2, 3, 20).split(10, 2)[1].view(2, 3, 2, 5).transpose(1, 2),
    "chain": lambda x: x.transpose(1, 2)[:, 1][..., 1:].unsqueeze(0).transpose(0, 3),
}


@pytest.mark.parametrize("name", sorted(_STRIDED_VIEWS))
def test_view_strides_from_host_index_map(name):
    """A view's strides and offset (torch's), read off an index map that numpy computes
    from the chain's jaxpr: no XLA compile per new view (index_map never falls back here)."""
    from jtorch._ops.dispatch import chain_fn
    from jtorch._ops.index_map import index_map
    f = _STRIDED_VIEWS[name]
    t = f(torch.arange(120.).reshape(2, 3, 4, 5))
    j = f(jtorch.arange(120.).reshape(2, 3, 4, 5))
    assert j.storage_offset() == t.storage_offset()
    # torch's stride of a size-1 dim depends on the op history; the others are the layout
    assert [s for s, n in zip(j.stride(), j.shape) if n > 1] == \
        [s for s, n in zip(t.stride(), t.shape) if n > 1]
    base_shape = tuple(j._st.arr.shape)
    got = index_map(chain_fn(j._chain), base_shape)
    assert got is not None
    iota = np.arange(int(np.prod(base_shape))).reshape(base_shape)
    np.testing.assert_array_equal(got, np.asarray(chain_fn(j._chain)(iota)))
    np.testing.assert_array_equal(got, t.numpy().astype(np.int64))  # arange: value = index

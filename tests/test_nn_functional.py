"""jtorch.nn.functional against real torch: values, dtypes, gradients and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jtorch
import jtorch.nn.functional as F


def J(t, requires_grad=None):
    """torch tensor -> jtorch tensor (same values/dtype; requires_grad copied unless given)."""
    if t is None:
        return None
    out = jtorch.from_numpy(t.detach().numpy().copy())
    rg = t.requires_grad if requires_grad is None else requires_grad
    return out.requires_grad_() if rg else out


def close(a, e, rtol=1e-5, atol=1e-6):
    """jtorch `a` vs torch `e`: shape, dtype and values."""
    assert tuple(a.shape) == tuple(e.shape), (a.shape, e.shape)
    assert str(a.dtype).split(".")[-1] == str(e.dtype).split(".")[-1], (a.dtype, e.dtype)
    np.testing.assert_allclose(np.asarray(a.detach().numpy(), dtype=np.float64),
                               e.detach().double().numpy(), rtol=rtol, atol=atol)


def run_both(fn_t, fn_j, *tensors, rtol=1e-5, atol=1e-6, grad=True):
    """Run fn on torch tensors and on their jtorch copies; compare outputs and the vjp of
    sum(out * cot) for every float input."""
    tt = [t.detach().clone().requires_grad_(grad and t.is_floating_point()) for t in tensors]
    jt = [J(t) for t in tt]
    out_t, out_j = fn_t(*tt), fn_j(*jt)
    close(out_j, out_t, rtol, atol)
    if not grad or not out_t.requires_grad:
        return
    cot = torch.randn(out_t.shape, generator=torch.Generator().manual_seed(0),
                      dtype=out_t.dtype)
    diff_t = [t for t in tt if t.requires_grad]
    diff_j = [j for j in jt if j.requires_grad]
    gt = torch.autograd.grad(out_t, diff_t, cot, allow_unused=True)
    gj = jtorch.autograd.grad(out_j, diff_j, J(cot), allow_unused=True)
    for a, e in zip(gj, gt):
        if e is None:
            assert a is None or not bool((a != 0).any())
        else:
            close(a, e, rtol, atol)


def raises_like(fn_t, fn_j, match=None):
    """Both raise the same exception type (and torch's message, when `match` is True)."""
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(type(et.value)) as ej:
        fn_j()
    if match:
        assert str(ej.value) == str(et.value), (str(ej.value), str(et.value))


torch.manual_seed(0)
X = torch.randn(4, 6)
X[0, :5] = torch.tensor([0.0, 1.0, -1.0, 3.0, -3.0])   # kinks and boundaries
X64 = X.double()

ACTS = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {}),
    ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {"alpha": 2.0}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 1.0}), ("softsign", {}), ("softshrink", {}),
    ("softshrink", {"lambd": 1.0}), ("hardshrink", {}), ("hardshrink", {"lambd": 1.0}),
    ("tanhshrink", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    ("hardsigmoid", {}), ("hardswish", {}), ("sigmoid", {}), ("tanh", {}), ("logsigmoid", {}),
    ("glu", {}), ("glu", {"dim": 0}), ("threshold", {"threshold": 0.5, "value": -2.0}),
    ("softmax", {"dim": 1}), ("log_softmax", {"dim": 0}), ("softmin", {"dim": 1}),
    ("rrelu", {}),
]


@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ACTS)])
def test_activation(name, kw):
    run_both(lambda x: getattr(TF, name)(x, **kw), lambda x: getattr(F, name)(x, **kw), X)


@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "elu", "hardswish", "mish"])
def test_activation_float64(name):
    run_both(lambda x: getattr(TF, name)(x), lambda x: getattr(F, name)(x), X64, rtol=1e-10,
             atol=1e-12)


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "threshold", "softsign",
                                  "gelu", "silu", "leaky_relu", "tanhshrink"])
def test_activation_integer_dtypes(name):
    x = torch.tensor([-2, 0, 3])
    args = (1, 5) if name == "threshold" else ()
    try:
        expected = getattr(TF, name)(x, *args)
    except Exception as e:
        with pytest.raises(type(e)):
            getattr(F, name)(J(x), *args)
        return
    close(getattr(F, name)(J(x), *args), expected)


@pytest.mark.parametrize("name,kw", [("relu_", {}), ("elu_", {}), ("leaky_relu_", {}),
                                     ("hardtanh_", {}), ("selu_", {}), ("celu_", {}),
                                     ("threshold_", {"threshold": 0.1, "value": 2.0}),
                                     ("rrelu_", {})])
def test_inplace_variants(name, kw):
    xt, xj = X.clone(), J(X)
    rt = getattr(TF, name)(xt, **kw)
    rj = getattr(F, name)(xj, **kw)
    assert rj is xj
    close(xj, xt)
    close(rj, rt)


@pytest.mark.parametrize("name", ["relu", "silu", "hardswish", "elu", "leaky_relu", "mish",
                                  "hardsigmoid", "dropout"])
def test_inplace_flag_through_autograd(name):
    kw = {"training": False} if name == "dropout" else {}
    a = torch.randn(3, 4, requires_grad=True)
    b = J(a)
    yt = getattr(TF, name)(a * 2, inplace=True, **kw)
    yj = getattr(F, name)(b * 2, inplace=True, **kw)
    close(yj, yt)
    yt.sum().backward()
    yj.sum().backward()
    close(b.grad, a.grad)


def test_prelu():
    w = torch.tensor([0.25, -0.5, 2.0, 0.1, 0.0, 1.0])
    x = torch.randn(2, 6, 3)
    run_both(TF.prelu, F.prelu, x, w)
    run_both(TF.prelu, F.prelu, x, torch.tensor([0.3]))
    raises_like(lambda: TF.prelu(torch.randn(2, 3), torch.randn(2)),
                lambda: F.prelu(jtorch.randn(2, 3), jtorch.randn(2)), match=True)


def test_rrelu_training_reproducible():
    x = J(-torch.rand(100) - 0.1)
    jtorch.manual_seed(3)
    a = F.rrelu(x, 0.1, 0.3, training=True)
    jtorch.manual_seed(3)
    b = F.rrelu(x, 0.1, 0.3, training=True)
    ratio = (a / x).numpy()
    assert np.array_equal(a.numpy(), b.numpy())
    assert ratio.min() >= 0.1 - 1e-6 and ratio.max() <= 0.3 + 1e-6 and ratio.std() > 0.01


def test_softmax_implicit_dim_and_dtype():
    x = torch.randn(2, 3, 4)
    with pytest.warns(UserWarning):
        close(F.softmax(J(x)), TF.softmax(x, dim=0))
    close(F.log_softmax(J(x), 2, dtype=jtorch.float64), TF.log_softmax(x, 2, dtype=torch.float64))
    close(F.softmin(J(x), 1, dtype=jtorch.float64), TF.softmin(x, 1, dtype=torch.float64))
    close(F.softmax(J(x), -1, _stacklevel=5), TF.softmax(x, -1, _stacklevel=5))


def test_gumbel_softmax():
    x = J(torch.randn(5, 7), requires_grad=True)
    jtorch.manual_seed(0)
    y = F.gumbel_softmax(x, tau=0.5)
    np.testing.assert_allclose(y.sum(-1).detach().numpy(), np.ones(5), rtol=1e-5)
    jtorch.manual_seed(0)
    h = F.gumbel_softmax(x, tau=0.5, hard=True)
    assert np.array_equal(h.detach().numpy().argmax(-1), y.detach().numpy().argmax(-1))
    assert set(np.unique(h.detach().numpy())) <= {0.0, 1.0}
    h.sum().backward()
    assert x.grad is not None


# ------------------------------------------------------------------------------ linear

@pytest.mark.parametrize("xs,ws,bias", [((4, 6), (3, 6), True), ((2, 4, 6), (3, 6), True),
                                        ((6,), (3, 6), False), ((4, 6), (6,), False),
                                        ((6,), (6,), False), ((2, 4, 6), (3, 6), False)])
def test_linear(xs, ws, bias):
    x, w = torch.randn(xs), torch.randn(ws)
    b = torch.randn(ws[0]) if bias else None
    if bias:
        run_both(TF.linear, F.linear, x, w, b)
    else:
        run_both(TF.linear, F.linear, x, w)


def test_linear_promotes_and_errors():
    x, w = torch.randn(2, 3, dtype=torch.float64), torch.randn(4, 3)
    raises_like(lambda: TF.linear(torch.randn(3, 4), torch.randn(5, 3)),
                lambda: F.linear(jtorch.randn(3, 4), jtorch.randn(5, 3)), match=True)
    raises_like(lambda: TF.linear(torch.randn(2, 3, 4), torch.randn(5, 3)),
                lambda: F.linear(jtorch.randn(2, 3, 4), jtorch.randn(5, 3)), match=True)
    try:
        expected = TF.linear(x, w)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            F.linear(J(x), J(w))
    else:
        close(F.linear(J(x), J(w)), expected)


def test_bilinear():
    x1, x2, w, b = torch.randn(4, 3), torch.randn(4, 5), torch.randn(2, 3, 5), torch.randn(2)
    run_both(TF.bilinear, F.bilinear, x1, x2, w, b)
    run_both(TF.bilinear, F.bilinear, torch.randn(2, 4, 3), torch.randn(2, 4, 5), w)


# ------------------------------------------------------------------------------ dropout

def test_dropout_eval_and_p0_return_input():
    x = J(X)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert F.alpha_dropout(x, 0.5) is x        # training defaults to False
    assert F.feature_alpha_dropout(x, 0.5) is x
    close(F.dropout(x, 1.0), TF.dropout(X, 1.0))


def test_dropout_mask_statistics_grad_and_seed():
    x = J(torch.ones(200, 50), requires_grad=True)
    jtorch.manual_seed(7)
    y = F.dropout(x, 0.3)
    jtorch.manual_seed(7)
    y2 = F.dropout(x, 0.3)
    assert np.array_equal(y.detach().numpy(), y2.detach().numpy())
    v = y.detach().numpy()
    assert np.all(np.isclose(v, 0) | np.isclose(v, 1 / 0.7))
    assert abs((v == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), v, rtol=1e-6)   # grad = mask / (1 - p)
    assert y.grad_fn is not None
    y3 = F.dropout(x, 0.3)
    assert not np.array_equal(y3.detach().numpy(), v)   # a new draw


@pytest.mark.parametrize("fn,shape,channel_dims", [
    ("dropout1d", (20, 30, 5), 2), ("dropout1d", (30, 5), 1), ("dropout2d", (10, 30, 4, 4), 2),
    ("dropout3d", (8, 30, 2, 2, 2), 2), ("dropout3d", (30, 2, 2, 2), 1)])
def test_feature_dropout_zeroes_whole_channels(fn, shape, channel_dims):
    y = getattr(F, fn)(jtorch.ones(*shape), 0.5).numpy()
    flat = y.reshape(int(np.prod(shape[:channel_dims])), -1)
    assert all(len(np.unique(row)) == 1 for row in flat)
    assert 0.2 < (flat[:, 0] == 0).mean() < 0.8


def test_alpha_dropout_keeps_mean_and_std():
    x = jtorch.randn(400, 400)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.03 and abs(y.std() - 1) < 0.03
    yf = F.feature_alpha_dropout(jtorch.randn(40, 50, 8, 8), 0.2, training=True).numpy()
    assert abs(yf.mean()) < 0.05 and abs(yf.std() - 1) < 0.05


def test_dropout_errors():
    raises_like(lambda: TF.dropout(X, 1.5), lambda: F.dropout(J(X), 1.5), match=True)
    raises_like(lambda: TF.dropout1d(torch.randn(2, 3, 4, 5)),
                lambda: F.dropout1d(jtorch.randn(2, 3, 4, 5)), match=True)


# ------------------------------------------------------------------------------ embedding

W = torch.randn(10, 3)
IDX = torch.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1},
                                {"scale_grad_by_freq": True},
                                {"scale_grad_by_freq": True, "padding_idx": 4}])
def test_embedding(kw):
    run_both(lambda w: TF.embedding(IDX, w, **kw), lambda w: F.embedding(J(IDX), w, **kw), W)


def test_embedding_sparse_flag_gives_dense_grad():
    wt, wj = W.clone().requires_grad_(), J(W, requires_grad=True)
    TF.embedding(IDX, wt, sparse=True).sum().backward()
    F.embedding(J(IDX), wj, sparse=True).sum().backward()
    close(wj.grad, wt.grad.to_dense())


def test_embedding_max_norm_renormalizes_in_place():
    wt, wj = W.clone() * 3, J(W * 3)
    ot = TF.embedding(IDX, wt, max_norm=1.5, norm_type=2.0)
    oj = F.embedding(J(IDX), wj, max_norm=1.5, norm_type=2.0)
    close(oj, ot)
    close(wj, wt)   # only referenced rows were scaled, in place


def test_embedding_errors():
    raises_like(lambda: TF.embedding(torch.tensor([10]), W),
                lambda: F.embedding(jtorch.tensor([10]), J(W)), match=True)
    raises_like(lambda: TF.embedding(torch.tensor([1.0]), W),
                lambda: F.embedding(jtorch.tensor([1.0]), J(W)), match=True)
    raises_like(lambda: TF.embedding(torch.tensor([1]), W, padding_idx=10),
                lambda: F.embedding(jtorch.tensor([1]), J(W), padding_idx=10), match=True)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("kw", [{}, {"padding_idx": 4}, {"include_last_offset": True}])
def test_embedding_bag_offsets(mode, kw):
    inp = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    offsets = torch.tensor([0, 2, 2, 5] + ([8] if kw.get("include_last_offset") else []))
    run_both(lambda w: TF.embedding_bag(inp, w, offsets, mode=mode, **kw),
             lambda w: F.embedding_bag(J(inp), w, J(offsets), mode=mode, **kw), W)


def test_embedding_bag_2d_and_per_sample_weights():
    psw = torch.rand(2, 4)
    run_both(lambda w, p: TF.embedding_bag(IDX, w, mode="sum", per_sample_weights=p),
             lambda w, p: F.embedding_bag(J(IDX), w, mode="sum", per_sample_weights=p), W, psw)
    run_both(lambda w: TF.embedding_bag(IDX, w), lambda w: F.embedding_bag(J(IDX), w), W)
    raises_like(lambda: TF.embedding_bag(IDX, W, mode="mean", per_sample_weights=psw),
                lambda: F.embedding_bag(J(IDX), J(W), mode="mean", per_sample_weights=J(psw)),
                match=True)


def test_one_hot():
    t = torch.tensor([[0, 3], [2, 1]])
    close(F.one_hot(J(t)), TF.one_hot(t))
    close(F.one_hot(J(t), 6), TF.one_hot(t, 6))
    for bad in (torch.tensor([1, -1]), torch.tensor([1.0])):
        raises_like(lambda: TF.one_hot(bad), lambda: F.one_hot(J(bad)), match=True)
    raises_like(lambda: TF.one_hot(t, 3), lambda: F.one_hot(J(t), 3), match=True)


# ------------------------------------------------------------------------------ padding

PADS = [
    ((2, 3, 4), (1, 2), "constant", 0.5), ((2, 3, 4), (1, 2, 0, 1), "constant", None),
    ((2, 3, 4), (-1, 2, 1, -2), "constant", None), ((2, 3, 4), (1, 2, 1, 1, 1, 0), "constant", 2),
    ((2, 3, 4), (2, 3), "reflect", None), ((1, 2, 3, 4), (1, 2, 2, 1), "reflect", None),
    ((2, 3, 4), (2, 3), "replicate", None), ((1, 2, 3, 4), (-1, 2, 0, 3), "replicate", None),
    ((2, 3, 4), (4, 1), "circular", None), ((1, 2, 3, 4), (1, 2, 3, 0), "circular", None),
    ((1, 1, 2, 3, 4), (1, 1, 1, 1, 1, 1), "reflect", None),
    ((1, 1, 2, 3, 4), (1, 1, -1, 1, 1, 0), "replicate", None),
]


@pytest.mark.parametrize("shape,p,mode,value", PADS)
def test_pad(shape, p, mode, value):
    kw = {} if value is None else {"value": value}
    run_both(lambda x: TF.pad(x, p, mode, **kw), lambda x: F.pad(x, p, mode, **kw),
             torch.randn(shape))


@pytest.mark.parametrize("shape,p,mode", [
    ((3,), (1, 1), "reflect"), ((1, 2, 3), (3, 3), "reflect"), ((1, 2, 3), (4, 4), "circular"),
    ((1, 2, 3), (1,), "constant"), ((1, 2, 3), (1,) * 8, "constant"), ((1, 2, 3), (1, 1), "foo")])
def test_pad_errors(shape, p, mode):
    raises_like(lambda: TF.pad(torch.randn(shape), p, mode),
                lambda: F.pad(jtorch.randn(*shape), p, mode), match=True)


# ------------------------------------------------------------------------------ distances

def test_normalize_and_similarity():
    x = torch.randn(4, 6)
    x[1] = 0
    y = torch.randn(4, 6)
    run_both(TF.normalize, F.normalize, x)
    run_both(lambda a: TF.normalize(a, p=1, dim=0), lambda a: F.normalize(a, p=1, dim=0), x)
    run_both(lambda a: TF.normalize(a, p=3.0, dim=-1), lambda a: F.normalize(a, p=3.0, dim=-1), x)
    run_both(TF.cosine_similarity, F.cosine_similarity, x, y)
    run_both(lambda a, b: TF.cosine_similarity(a, b, dim=0),
             lambda a, b: F.cosine_similarity(a, b, dim=0), x, torch.randn(1, 6), atol=1e-5)
    run_both(TF.pairwise_distance, F.pairwise_distance, x, y)
    run_both(lambda a, b: TF.pairwise_distance(a, b, p=1.0, keepdim=True),
             lambda a, b: F.pairwise_distance(a, b, p=1.0, keepdim=True), x, y)
    run_both(lambda a, b: TF.pairwise_distance(a, b, p=float("inf")),
             lambda a, b: F.pairwise_distance(a, b, p=float("inf")), x, y)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.0])
def test_pdist(p):
    x = torch.randn(5, 3)
    x[3] = x[1]   # a zero distance
    run_both(lambda a: TF.pdist(a, p), lambda a: F.pdist(a, p), x, atol=1e-5)


# ------------------------------------------------------------------------------ losses

RED = ["none", "mean", "sum"]
LOGITS = torch.randn(5, 4)
TGT = torch.tensor([0, 3, 1, 1, 2])


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("kw", [{}, {"weight": torch.tensor([0.2, 1.0, 3.0, 0.5])},
                                {"ignore_index": 1}, {"label_smoothing": 0.2},
                                {"weight": torch.tensor([0.2, 1.0, 3.0, 0.5]), "ignore_index": 1,
                                 "label_smoothing": 0.3},
                                {"weight": torch.tensor([0.2, 1.0, 3.0, 0.5]),
                                 "label_smoothing": 0.1}])
def test_cross_entropy_indices(reduction, kw):
    w = kw.get("weight")
    kj = {**kw, "weight": J(w)} if w is not None else kw
    run_both(lambda x: TF.cross_entropy(x, TGT, reduction=reduction, **kw),
             lambda x: F.cross_entropy(x, J(TGT), reduction=reduction, **kj), LOGITS)


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_kdim_and_probabilities(reduction, smoothing):
    x = torch.randn(2, 4, 3, 2)
    t = torch.randint(0, 4, (2, 3, 2))
    t[0, 0, 0] = -100
    w = torch.rand(4)
    run_both(lambda a: TF.cross_entropy(a, t, w, reduction=reduction, label_smoothing=smoothing),
             lambda a: F.cross_entropy(a, J(t), J(w), reduction=reduction,
                                       label_smoothing=smoothing), x)
    probs = torch.softmax(torch.randn(5, 4), 1)
    run_both(lambda a, p: TF.cross_entropy(a, p, reduction=reduction, label_smoothing=smoothing),
             lambda a, p: F.cross_entropy(a, p, reduction=reduction, label_smoothing=smoothing),
             LOGITS, probs)
    run_both(lambda a, p: TF.cross_entropy(a, p, w, reduction=reduction),
             lambda a, p: F.cross_entropy(a, p, J(w), reduction=reduction), LOGITS, probs)


def test_cross_entropy_unbatched_and_all_ignored():
    run_both(lambda a: TF.cross_entropy(a, torch.tensor(2)),
             lambda a: F.cross_entropy(a, jtorch.tensor(2)), torch.randn(4))
    t = torch.full((5,), -100)
    close(F.cross_entropy(J(LOGITS), J(t)), TF.cross_entropy(LOGITS, t))   # nan, as torch


@pytest.mark.parametrize("reduction", RED)
def test_nll_loss(reduction):
    lp = torch.log_softmax(torch.randn(3, 4, 2), 1)
    t = torch.tensor([[0, 3], [2, 2], [1, 0]])
    w = torch.rand(4)
    run_both(lambda a: TF.nll_loss(a, t, w, ignore_index=2, reduction=reduction),
             lambda a: F.nll_loss(a, J(t), J(w), ignore_index=2, reduction=reduction), lp)
    run_both(lambda a: TF.nll_loss(a, TGT, reduction=reduction),
             lambda a: F.nll_loss(a, J(TGT), reduction=reduction), LOGITS)


CLASS_ERRORS = [
    lambda F, T: F.cross_entropy(T(LOGITS), T(torch.tensor([0, 5, 1, 1, 1]))),
    lambda F, T: F.cross_entropy(T(LOGITS), T(torch.tensor([0, -3, 1, 1, 1]))),
    lambda F, T: F.cross_entropy(T(LOGITS), T(torch.tensor([0, 1]))),
    lambda F, T: F.nll_loss(T(torch.randn(2, 3, 4)), T(torch.zeros(2, 5, dtype=torch.long))),
    lambda F, T: F.nll_loss(T(torch.randn(())), T(torch.tensor(1))),
    lambda F, T: F.cross_entropy(T(LOGITS), T(TGT.int())),
    lambda F, T: F.nll_loss(T(LOGITS), T(TGT), weight=T(torch.ones(3))),
    lambda F, T: F.cross_entropy(T(LOGITS), T(TGT), weight=T(torch.ones(4).requires_grad_())),
    lambda F, T: F.soft_margin_loss(T(LOGITS), T(LOGITS.sign().requires_grad_())),
    lambda F, T: F.cross_entropy(T(LOGITS), T(torch.rand(5, 4)), ignore_index=1),
    lambda F, T: F.mse_loss(T(LOGITS), T(LOGITS), reduction="foo"),
    lambda F, T: F.binary_cross_entropy(T(torch.tensor([1.5])), T(torch.tensor([1.0]))),
    lambda F, T: F.binary_cross_entropy(T(torch.tensor([[0.5]])), T(torch.tensor([1.0]))),
    lambda F, T: F.multi_margin_loss(T(LOGITS), T(TGT), p=3),
    lambda F, T: F.gaussian_nll_loss(T(LOGITS), T(LOGITS), T(-torch.ones(5, 4))),
    lambda F, T: F.gaussian_nll_loss(T(LOGITS), T(LOGITS), T(torch.ones(2))),
    lambda F, T: F.margin_ranking_loss(T(torch.randn(3)), T(torch.randn(3, 1)), T(torch.randn(3))),
    lambda F, T: F.triplet_margin_loss(T(torch.randn(3, 2)), T(torch.randn(2)),
                                       T(torch.randn(3, 2))),
    lambda F, T: F.gelu(T(LOGITS), approximate="foo"),
    lambda F, T: F.softshrink(T(LOGITS), -1),
    lambda F, T: F.glu(T(torch.randn(3, 3))),
    lambda F, T: F.scaled_dot_product_attention(T(LOGITS), T(LOGITS), T(LOGITS),
                                                attn_mask=T(torch.ones(5, 5).bool()),
                                                is_causal=True),
]


@pytest.mark.parametrize("i", range(len(CLASS_ERRORS)))
def test_errors_match_torch(i):
    f = CLASS_ERRORS[i]
    raises_like(lambda: f(TF, lambda t: t), lambda: f(F, J), match=True)


@pytest.mark.parametrize("reduction", RED)
def test_bce_family(reduction):
    p = torch.rand(4, 3) * 0.98 + 0.01
    p[0, 0], p[0, 1] = 0.0, 1.0          # torch clamps log at -100
    t = torch.rand(4, 3)
    w = torch.rand(4, 3)
    run_both(lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), p, t, atol=1e-4)
    run_both(lambda a, b: TF.binary_cross_entropy(a, b, w[1:], reduction=reduction),
             lambda a, b: F.binary_cross_entropy(a, b, J(w[1:]), reduction=reduction),
             p[1:], t[1:])
    x = torch.randn(4, 3) * 3
    pw = torch.rand(3) * 2
    run_both(lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), x, t)
    run_both(lambda a, b: TF.binary_cross_entropy_with_logits(
        a, b, w, pos_weight=pw, reduction=reduction),
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, J(w), pos_weight=J(pw), reduction=reduction), x, t)
    raises_like(lambda: TF.binary_cross_entropy_with_logits(x, t, w.requires_grad_()),
                lambda: F.binary_cross_entropy_with_logits(J(x), J(t), J(w)), match=True)


A, B = torch.randn(4, 3), torch.randn(4, 3)
POS = torch.rand(4, 3) + 0.1
SIGN = torch.tensor([1.0, -1.0, 1.0, -1.0])
PW_LOSSES = [
    ("mse_loss", lambda a, b: (a, b), {}), ("l1_loss", lambda a, b: (a, b), {}),
    ("smooth_l1_loss", lambda a, b: (a, b), {"beta": 0.5}),
    ("smooth_l1_loss", lambda a, b: (a, b), {"beta": 0.0}),
    ("huber_loss", lambda a, b: (a, b), {"delta": 0.7}),
    ("soft_margin_loss", lambda a, b: (a, torch.sign(b)), {"nograd_target": True}),
    ("kl_div", lambda a, b: (torch.log_softmax(a, 1), torch.softmax(b, 1)), {}),
    ("kl_div", lambda a, b: (torch.log_softmax(a, 1), torch.log_softmax(b, 1)),
     {"log_target": True}),
    ("poisson_nll_loss", lambda a, b: (a, POS * 3), {}),
    ("poisson_nll_loss", lambda a, b: (POS, POS * 3), {"log_input": False, "full": True}),
    ("hinge_embedding_loss", lambda a, b: (a, torch.sign(b)), {"margin": 0.5}),
    ("multilabel_soft_margin_loss", lambda a, b: (a, (b > 0).float()), {}),
]


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("k", range(len(PW_LOSSES)))
def test_pointwise_losses(k, reduction):
    name, mk, kw = PW_LOSSES[k]
    a, b = mk(A, B)
    kw = dict(kw)
    if kw.pop("nograd_target", False):
        run_both(lambda x: getattr(TF, name)(x, b, reduction=reduction, **kw),
                 lambda x: getattr(F, name)(x, J(b), reduction=reduction, **kw), a)
        return
    run_both(lambda x, y: getattr(TF, name)(x, y, reduction=reduction, **kw),
             lambda x, y: getattr(F, name)(x, y, reduction=reduction, **kw), a, b)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", RED)
def test_weighted_pointwise_losses(name, reduction):
    w = torch.rand(4, 3)
    run_both(lambda x, y: getattr(TF, name)(x, y, reduction=reduction, weight=w),
             lambda x, y: getattr(F, name)(x, y, reduction=reduction, weight=J(w)), A, B)


def test_kl_div_batchmean_and_legacy_args():
    a, b = torch.log_softmax(A, 1), torch.softmax(B, 1)
    run_both(lambda x, y: TF.kl_div(x, y, reduction="batchmean"),
             lambda x, y: F.kl_div(x, y, reduction="batchmean"), a, b)
    with pytest.warns(UserWarning):
        close(F.mse_loss(J(A), J(B), size_average=False), TF.mse_loss(A, B, reduction="sum"))
    with pytest.warns(UserWarning):
        close(F.l1_loss(J(A), J(B), reduce=False), TF.l1_loss(A, B, reduction="none"))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(reduction, full):
    var = torch.rand(4, 3) + 0.1
    var[0, 0] = 1e-9   # clamped to eps (gradient passes through)
    run_both(lambda x, y, v: TF.gaussian_nll_loss(x, y, v, full=full, reduction=reduction),
             lambda x, y, v: F.gaussian_nll_loss(x, y, v, full=full, reduction=reduction),
             A, B, var)
    run_both(lambda x, y, v: TF.gaussian_nll_loss(x, y, v, reduction=reduction),
             lambda x, y, v: F.gaussian_nll_loss(x, y, v, reduction=reduction),
             A, B, torch.rand(4) + 0.1)


@pytest.mark.parametrize("reduction", RED)
def test_margin_losses(reduction):
    run_both(lambda a, b, t: TF.margin_ranking_loss(a, b, t, 0.3, reduction=reduction),
             lambda a, b, t: F.margin_ranking_loss(a, b, t, 0.3, reduction=reduction),
             A[:, 0], B[:, 0], SIGN)
    run_both(lambda a, b: TF.cosine_embedding_loss(a, b, SIGN, 0.2, reduction=reduction),
             lambda a, b: F.cosine_embedding_loss(a, b, J(SIGN), 0.2, reduction=reduction), A, B)
    mt = torch.tensor([[2, 0, -1], [1, 2, 0], [-1, 1, 2], [0, 1, 2]])
    run_both(lambda a: TF.multilabel_margin_loss(a, mt, reduction=reduction),
             lambda a: F.multilabel_margin_loss(a, J(mt), reduction=reduction),
             A)
    raises_like(lambda: TF.multilabel_margin_loss(A, mt + 1),
                lambda: F.multilabel_margin_loss(J(A), J(mt + 1)), match=True)
    t = torch.tensor([0, 2, 1, 1])
    w = torch.rand(3)
    for p in (1, 2):
        run_both(lambda a: TF.multi_margin_loss(a, t, p, 0.8, w, reduction=reduction),
                 lambda a: F.multi_margin_loss(a, J(t), p, 0.8, J(w), reduction=reduction), A)
    for swap in (False, True):
        run_both(lambda a, p, n: TF.triplet_margin_loss(a, p, n, 0.5, swap=swap,
                                                        reduction=reduction),
                 lambda a, p, n: F.triplet_margin_loss(a, p, n, 0.5, swap=swap,
                                                       reduction=reduction),
                 A, B, torch.randn(4, 3))
    run_both(lambda a, p, n: TF.triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda x, y: 1 - TF.cosine_similarity(x, y), swap=True,
        reduction=reduction),
        lambda a, p, n: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y), swap=True,
            reduction=reduction), A, B, torch.randn(4, 3))


@pytest.mark.parametrize("reduction,zero_infinity", [("none", True), ("mean", False),
                                                     ("sum", True)])
def test_ctc_loss(reduction, zero_infinity):
    T_, N, C = 6, 3, 4
    lp = torch.randn(T_, N, C).log_softmax(2)
    targets = torch.tensor([[1, 2, 2], [3, 0, 0], [1, 1, 1]])
    in_len = torch.tensor([6, 5, 2])         # the last one is impossible (inf loss)
    tg_len = torch.tensor([3, 1, 3])
    run_both(lambda a: TF.ctc_loss(a, targets, in_len, tg_len, reduction=reduction,
                                   zero_infinity=zero_infinity),
             lambda a: F.ctc_loss(a, J(targets), J(in_len), J(tg_len), reduction=reduction,
                                  zero_infinity=zero_infinity), lp, rtol=1e-4, atol=1e-5,
             grad=zero_infinity)
    if reduction != "mean":
        return
    flat = torch.tensor([1, 2, 2, 3, 1, 1])   # concatenated targets, tuple lengths
    run_both(lambda a: TF.ctc_loss(a, flat, (6, 5, 4), (3, 1, 2), reduction=reduction),
             lambda a: F.ctc_loss(a, J(flat), (6, 5, 4), (3, 1, 2), reduction=reduction),
             lp, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ attention

@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.3},
                                {"attn_mask": "bool"}, {"attn_mask": "float"},
                                {"attn_mask": "bool_full_row"}])
def test_sdpa(kw):
    q, k, v = torch.randn(2, 2, 3, 4), torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
    kw = dict(kw)
    if kw.get("is_causal"):
        k, v = k[:, :, :3], v[:, :, :3]
    mask = kw.pop("attn_mask", None)
    if mask is None:
        run_both(lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, **kw),
                 lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw), q, k, v,
                 atol=1e-5)
        return
    if mask.startswith("bool"):
        m = torch.rand(3, 5) > 0.4
        m[:, 0] = True
        if mask == "bool_full_row":
            m[1] = False
        run_both(lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, attn_mask=m),
                 lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=J(m)),
                 q, k, v, atol=1e-5)
    else:
        run_both(lambda a, b, c, m: TF.scaled_dot_product_attention(a, b, c, attn_mask=m),
                 lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                 q, k, v, torch.randn(2, 1, 3, 5), atol=1e-5)


def test_sdpa_gqa_and_dropout():
    q, k, v = torch.randn(1, 4, 3, 2), torch.randn(1, 2, 5, 2), torch.randn(1, 2, 5, 2)
    run_both(lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, enable_gqa=True),
             lambda a, b, c: F.scaled_dot_product_attention(a, b, c, enable_gqa=True),
             q, k, v, atol=1e-5)
    jq, jk, jv = J(q), J(k[:, :1].expand(1, 4, 5, 2).contiguous()), J(v[:, :1].expand(
        1, 4, 5, 2).contiguous())
    jtorch.manual_seed(1)
    a = F.scaled_dot_product_attention(jq, jk, jv, dropout_p=0.5)
    jtorch.manual_seed(1)
    b = F.scaled_dot_product_attention(jq, jk, jv, dropout_p=0.5)
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), F.scaled_dot_product_attention(jq, jk, jv).numpy())


def test_linear_cross_entropy():
    x, w, t = torch.randn(6, 3), torch.randn(4, 3), torch.randint(0, 4, (6,))
    run_both(lambda a, b: TF.linear_cross_entropy(a, b, t),
             lambda a, b: F.linear_cross_entropy(a, b, J(t)), x, w)


def test_top_level_aliases():
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    close(jtorch.pdist(J(x)), torch.pdist(x))
    close(jtorch.cosine_similarity(J(x), J(y)), torch.cosine_similarity(x, y))
    close(jtorch.pairwise_distance(J(x), J(y)), torch.pairwise_distance(x, y))
    close(J(x).hardshrink(0.3), x.hardshrink(0.3))
    close(jtorch.selu(J(x)), torch.selu(x))
    close(jtorch.threshold(J(x), 0.1, 2.0), torch.threshold(x, 0.1, 2.0))
    assert jtorch.dropout(J(x), 0.5, False).shape == (4, 3)

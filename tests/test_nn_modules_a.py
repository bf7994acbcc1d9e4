"""nn modules (activations, losses, dropout, embeddings, distances, flatten, attention,
transformers) against real torch: same weights via state_dict, same outputs and grads."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import jtorch
import jtorch.nn.modules.activation as A
import jtorch.nn.modules.distance as Dist
import jtorch.nn.modules.dropout as Drop
import jtorch.nn.modules.flatten as Flat
import jtorch.nn.modules.loss as L
import jtorch.nn.modules.sparse as S
import jtorch.nn.modules.transformer as T


def J(t, requires_grad=False):
    out = jtorch.from_numpy(t.detach().numpy().copy())
    return out.requires_grad_() if requires_grad else out


def close(a, e, rtol=1e-5, atol=1e-5):
    assert tuple(a.shape) == tuple(e.shape), (a.shape, e.shape)
    np.testing.assert_allclose(a.detach().numpy().astype(np.float64),
                               e.detach().double().numpy(), rtol=rtol, atol=atol)


def copy_weights(jm, tm):
    """torch module's state_dict -> jtorch module (strict: the key names must match)."""
    jm.load_state_dict({k: J(v) for k, v in tm.state_dict().items()})


MODULE_CASES = [
    ("Threshold", (0.1, 20.0), {}), ("Threshold", (0.1, 20.0), {"inplace": True}),
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("RReLU", (0.1, 0.3), {}),
    ("Hardtanh", (-2.0, 2.0), {}), ("ReLU6", (), {"inplace": True}), ("Sigmoid", (), {}),
    ("Hardsigmoid", (), {}), ("Tanh", (), {}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Hardswish", (), {}), ("ELU", (0.5,), {}), ("CELU", (), {"alpha": 2.0}), ("SELU", (), {}),
    ("GLU", (), {"dim": 0}), ("GELU", (), {"approximate": "tanh"}), ("Hardshrink", (0.3,), {}),
    ("LeakyReLU", (0.2,), {}), ("LogSigmoid", (), {}), ("Softplus", (2.0, 10.0), {}),
    ("Softshrink", (0.7,), {}), ("PReLU", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
    ("Softmin", (1,), {}), ("Softmax", (), {"dim": 0}), ("LogSoftmax", (1,), {}),
    ("Softmax2d", (), {}),
]


@pytest.mark.parametrize("name,args,kw", MODULE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(MODULE_CASES)])
def test_activation_modules(name, args, kw):
    tm, jm = getattr(tnn, name)(*args, **kw), getattr(A, name)(*args, **kw)
    assert repr(jm) == repr(tm)
    tm.eval(), jm.eval()
    x = torch.randn(2, 4, 3, 3)
    xt = x.clone().requires_grad_()
    xj = J(x, True)
    # in-place modules act on a non-leaf copy
    yt, yj = tm(xt * 1), jm(xj * 1)
    close(yj, yt)
    yt.sum().backward()
    yj.sum().backward()
    close(xj.grad, xt.grad)


def test_prelu_module_parameter_and_grad():
    tm, jm = tnn.PReLU(4, init=0.1), A.PReLU(4, init=0.1)
    assert list(dict(jm.named_parameters())) == ["weight"]
    close(jm.weight, tm.weight)
    assert A.PReLU().weight.tolist() == [0.25]
    x = torch.randn(3, 4, 2)
    tm(x).sum().backward()
    jm(J(x)).sum().backward()
    close(jm.weight.grad, tm.weight.grad)


# ------------------------------------------------------------------------------ losses

LOSSES = [
    ("L1Loss", {}, "pair"), ("MSELoss", {"reduction": "sum"}, "pair"),
    ("SmoothL1Loss", {"beta": 0.5}, "pair"), ("HuberLoss", {"delta": 0.5}, "pair"),
    ("SoftMarginLoss", {}, "sign"), ("KLDivLoss", {"reduction": "batchmean"}, "logprob"),
    ("PoissonNLLLoss", {"full": True}, "pos"), ("BCELoss", {"weight": "w3"}, "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": "w3"}, "prob"),
    ("CrossEntropyLoss", {"weight": "w3", "label_smoothing": 0.1, "ignore_index": 1}, "class"),
    ("NLLLoss", {"weight": "w3"}, "class"), ("MultiMarginLoss", {"p": 2}, "class"),
    ("MultiLabelSoftMarginLoss", {"weight": "w3"}, "prob"),
    ("HingeEmbeddingLoss", {"margin": 0.5}, "sign"), ("MultiLabelMarginLoss", {}, "multi"),
]


def _loss_inputs(kind):
    x = torch.randn(4, 3)
    if kind == "pair":
        return x, torch.randn(4, 3)
    if kind == "sign":
        return x, torch.sign(torch.randn(4, 3))
    if kind == "logprob":
        return x.log_softmax(1), torch.randn(4, 3).softmax(1)
    if kind == "pos":
        return x, torch.rand(4, 3) * 3
    if kind == "prob":
        return torch.rand(4, 3) * 0.9 + 0.05, torch.rand(4, 3)
    if kind == "class":
        return x, torch.tensor([0, 2, 1, 1])
    return x, torch.tensor([[2, 0, -1], [1, -1, 0], [0, 1, 2], [1, 2, -1]])


@pytest.mark.parametrize("name,kw,kind", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_modules(name, kw, kind):
    w3 = torch.tensor([0.3, 1.0, 2.0])
    kt = {k: (w3 if v == "w3" else v) for k, v in kw.items()}
    kj = {k: (J(w3) if v == "w3" else v) for k, v in kw.items()}
    tm, jm = getattr(tnn, name)(**kt), getattr(L, name)(**kj)
    assert repr(jm) == repr(tm)
    assert sorted(jm.state_dict()) == sorted(tm.state_dict())   # weight buffers, as torch
    x, t = _loss_inputs(kind)
    xt, xj = x.clone().requires_grad_(), J(x, True)
    lt, lj = tm(xt, t), jm(xj, J(t))
    close(lj, lt)
    lt.backward()
    lj.backward()
    close(xj.grad, xt.grad)


def test_three_input_and_special_loss_modules():
    a, b, c = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    y = torch.tensor([1.0, -1.0, -1.0, 1.0])
    pairs = [
        (tnn.CosineEmbeddingLoss(0.1), L.CosineEmbeddingLoss(0.1), (a, b, y)),
        (tnn.MarginRankingLoss(0.2), L.MarginRankingLoss(0.2), (a[:, 0], b[:, 0], y)),
        (tnn.TripletMarginLoss(0.5, swap=True), L.TripletMarginLoss(0.5, swap=True), (a, b, c)),
        (tnn.TripletMarginWithDistanceLoss(margin=0.5), L.TripletMarginWithDistanceLoss(
            margin=0.5), (a, b, c)),
        (tnn.GaussianNLLLoss(full=True), L.GaussianNLLLoss(full=True), (a, b, c.abs() + 0.1)),
    ]
    for tm, jm, args in pairs:
        close(jm(*[J(v) for v in args]), tm(*args))
    lp = torch.randn(5, 2, 4).log_softmax(2)
    tg, il, tl = torch.tensor([[1, 2], [3, 3]]), torch.tensor([5, 4]), torch.tensor([2, 1])
    close(L.CTCLoss()(J(lp), J(tg), J(il), J(tl)), tnn.CTCLoss()(lp, tg, il, tl), rtol=1e-4)


# ------------------------------------------------------------------------------ dropout

@pytest.mark.parametrize("name,shape", [("Dropout", (20, 20)), ("Dropout1d", (4, 20, 5)),
                                        ("Dropout2d", (4, 20, 3, 3)),
                                        ("Dropout3d", (2, 20, 2, 2, 2)),
                                        ("AlphaDropout", (20, 20)),
                                        ("FeatureAlphaDropout", (4, 20, 3, 3))])
def test_dropout_modules(name, shape):
    tm, jm = getattr(tnn, name)(0.3), getattr(Drop, name)(0.3)
    assert repr(jm) == repr(tm)
    x = jtorch.randn(*shape)
    jm.eval()
    assert jm(x) is x
    jm.train()
    y = jm(x).numpy()
    assert y.shape == shape and not np.allclose(y, x.numpy())
    with pytest.raises(ValueError):
        getattr(Drop, name)(1.5)


# ------------------------------------------------------------------------------ embeddings

def test_embedding_module():
    tm = tnn.Embedding(10, 3, padding_idx=2, max_norm=1.0)
    jm = S.Embedding(10, 3, padding_idx=2, max_norm=1.0)
    assert repr(jm) == repr(tm)
    assert jm.weight[2].abs().sum().item() == 0   # padding row zero-initialised
    copy_weights(jm, tm)
    idx = torch.tensor([[1, 2, 3], [2, 9, 1]])
    yt, yj = tm(idx), jm(J(idx))
    close(yj, yt)
    close(jm.weight, tm.weight)                 # max_norm renormalised both in place
    yt.pow(2).sum().backward()
    yj.pow(2).sum().backward()
    close(jm.weight.grad, tm.weight.grad)
    assert jm.weight.grad[2].abs().sum().item() == 0


def test_embedding_from_pretrained():
    w = torch.randn(5, 2)
    tm, jm = tnn.Embedding.from_pretrained(w), S.Embedding.from_pretrained(J(w))
    assert not jm.weight.requires_grad
    assert repr(jm) == repr(tm)
    close(jm(jtorch.tensor([4, 0])), tm(torch.tensor([4, 0])))
    jm2 = S.Embedding.from_pretrained(J(w), freeze=False, padding_idx=1)
    assert jm2.weight.requires_grad and jm2.padding_idx == 1


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_module(mode):
    tm = tnn.EmbeddingBag(10, 3, mode=mode, padding_idx=0)
    jm = S.EmbeddingBag(10, 3, mode=mode, padding_idx=0)
    assert repr(jm) == repr(tm)
    copy_weights(jm, tm)
    inp, off = torch.tensor([1, 0, 4, 5, 4, 3]), torch.tensor([0, 2, 2])
    yt, yj = tm(inp, off), jm(J(inp), J(off))
    close(yj, yt)
    yt.sum().backward()
    yj.sum().backward()
    close(jm.weight.grad, tm.weight.grad)


# ------------------------------------------------------------------------------ small modules

def test_distance_and_flatten_modules():
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    for tm, jm in [(tnn.PairwiseDistance(1.0, keepdim=True),
                    Dist.PairwiseDistance(1.0, keepdim=True)),
                   (tnn.CosineSimilarity(0), Dist.CosineSimilarity(0))]:
        assert repr(jm) == repr(tm)
        close(jm(J(a), J(b)), tm(a, b))
    x = torch.randn(2, 3, 4, 5)
    for tm, jm in [(tnn.Flatten(), Flat.Flatten()), (tnn.Flatten(0, 2), Flat.Flatten(0, 2)),
                   (tnn.Unflatten(1, (3, 1)), Flat.Unflatten(1, (3, 1)))]:
        assert repr(jm) == repr(tm)
        close(jm(J(x)), tm(x))
    with pytest.raises(TypeError):
        Flat.Unflatten(1, (2, 2.0))


# ------------------------------------------------------------------------------ attention

def _grads_match(jm, tm, jouts, touts, inputs_j, inputs_t):
    if touts:
        cot = [torch.randn(o.shape, generator=torch.Generator().manual_seed(i))
               for i, o in enumerate(touts)]
        sum(((o * c).sum() for o, c in zip(touts, cot)), torch.zeros(())).backward()
        sum(((o * J(c)).sum() for o, c in zip(jouts, cot)), jtorch.zeros(())).backward()
    jp = dict(jm.named_parameters())
    for name, p in tm.named_parameters():
        if p.grad is None:
            assert jp[name].grad is None or not bool((jp[name].grad != 0).any())
        else:
            close(jp[name].grad, p.grad, rtol=1e-4, atol=1e-5)
    for a, e in zip(inputs_j, inputs_t):
        close(a.grad, e.grad, rtol=1e-4, atol=1e-5)


MHA_CASES = [
    ({}, {}),
    ({"batch_first": True}, {"attn_mask": "float", "need_weights": False}),
    ({"kdim": 3, "vdim": 5}, {"average_attn_weights": False}),
    ({"add_bias_kv": True, "add_zero_attn": True},
     {"attn_mask": "bool", "key_padding_mask": True}),
    ({"bias": False}, {"attn_mask": "causal", "is_causal": True, "need_weights": False}),
    ({"add_bias_kv": True}, {"attn_mask": "bool3d", "key_padding_mask": True}),
]


@pytest.mark.parametrize("ctor,call", MHA_CASES, ids=[str(i) for i in range(len(MHA_CASES))])
def test_multihead_attention(ctor, call):
    E, H, L_, S_, N = 4, 2, 3, 5, 2
    torch.manual_seed(0)
    tm, jm = tnn.MultiheadAttention(E, H, **ctor), A.MultiheadAttention(E, H, **ctor)
    assert sorted(jm.state_dict()) == sorted(tm.state_dict())
    copy_weights(jm, tm)
    bf = ctor.get("batch_first", False)
    q = torch.randn((N, L_, E) if bf else (L_, N, E))
    k = torch.randn((N, S_, ctor.get("kdim", E)) if bf else (S_, N, ctor.get("kdim", E)))
    v = torch.randn((N, S_, ctor.get("vdim", E)) if bf else (S_, N, ctor.get("vdim", E)))
    if call.get("is_causal"):
        k, v = (k[:, :L_] if bf else k[:L_]), (v[:, :L_] if bf else v[:L_])
    kt, kj = {}, {}
    for key, val in call.items():
        if key == "attn_mask":
            s = k.shape[1] if bf else k.shape[0]
            m = {"bool": torch.rand(L_, s) > 0.7, "float": torch.randn(L_, s),
                 "causal": tnn.Transformer.generate_square_subsequent_mask(L_),
                 "bool3d": torch.rand(N * H, L_, s) > 0.7}[val]
            kt[key], kj[key] = m, J(m)
        elif key == "key_padding_mask":
            m = torch.zeros(N, S_, dtype=torch.bool)
            m[0, -2:] = True
            kt[key], kj[key] = m, J(m)
        else:
            kt[key] = kj[key] = val
    qt, kt_, vt = (x.clone().requires_grad_() for x in (q, k, v))
    qj, kj_, vj = (J(x, True) for x in (q, k, v))
    ot, wt = tm(qt, kt_, vt, **kt)
    oj, wj = jm(qj, kj_, vj, **kj)
    close(oj, ot)
    assert (wj is None) == (wt is None)
    outs_t, outs_j = [ot], [oj]
    if wt is not None:
        close(wj, wt)
        outs_t.append(wt)
        outs_j.append(wj)
    _grads_match(jm, tm, outs_j, outs_t, [qj, kj_, vj], [qt, kt_, vt])


def test_multihead_attention_unbatched():
    tm, jm = tnn.MultiheadAttention(4, 2), A.MultiheadAttention(4, 2)
    copy_weights(jm, tm)
    x = torch.randn(3, 4)
    ot, wt = tm(x, x, x)
    oj, wj = jm(J(x), J(x), J(x))
    close(oj, ot)
    close(wj, wt)


# ------------------------------------------------------------------------------ transformers

@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu",
                                     "batch_first": True, "bias": False}])
def test_transformer_layers(kw):
    torch.manual_seed(1)
    d, h, ff = 4, 2, 8
    te = tnn.TransformerEncoderLayer(d, h, ff, dropout=0.0, **kw)
    je = T.TransformerEncoderLayer(d, h, ff, dropout=0.0, **kw)
    td = tnn.TransformerDecoderLayer(d, h, ff, dropout=0.0, **kw)
    jd = T.TransformerDecoderLayer(d, h, ff, dropout=0.0, **kw)
    assert list(je.state_dict()) == list(te.state_dict())
    assert list(jd.state_dict()) == list(td.state_dict())
    copy_weights(je, te)
    copy_weights(jd, td)
    bf = kw.get("batch_first", False)
    src, tgt = torch.randn((2, 5, d) if bf else (5, 2, d)), torch.randn((2, 3, d) if bf
                                                                         else (3, 2, d))
    mask = tnn.Transformer.generate_square_subsequent_mask(3)
    kpm = torch.tensor([[False] * 4 + [True], [False] * 5])
    st, sj = src.clone().requires_grad_(), J(src, True)
    mt = te(st, src_key_padding_mask=kpm)
    mj = je(sj, src_key_padding_mask=J(kpm))
    close(mj, mt, rtol=1e-4)
    ot = td(tgt, mt, tgt_mask=mask, tgt_is_causal=True, memory_key_padding_mask=kpm)
    oj = jd(J(tgt), mj, tgt_mask=J(mask), tgt_is_causal=True,
            memory_key_padding_mask=J(kpm))
    close(oj, ot, rtol=1e-4)
    _grads_match(je, te, [oj], [ot], [sj], [st])
    _grads_match(jd, td, [], [], [], [])


def test_full_transformer_loads_torch_weights():
    torch.manual_seed(2)
    tm = tnn.Transformer(4, 2, 2, 1, 8, dropout=0.0, batch_first=True)
    jm = T.Transformer(4, 2, 2, 1, 8, dropout=0.0, batch_first=True)
    assert list(jm.state_dict()) == list(tm.state_dict())
    copy_weights(jm, tm)
    src, tgt = torch.randn(2, 5, 4), torch.randn(2, 3, 4)
    mask = tnn.Transformer.generate_square_subsequent_mask(3)
    close(T.Transformer.generate_square_subsequent_mask(3), mask)
    tm.eval(), jm.eval()
    ot = tm(src, tgt, tgt_mask=mask)
    oj = jm(J(src), J(tgt), tgt_mask=J(mask))
    close(oj, ot, rtol=1e-4)
    with pytest.raises(RuntimeError):
        jm(J(src), J(tgt[:1]))
    enc = T.TransformerEncoder(T.TransformerEncoderLayer(4, 2, 8), 3)
    assert len(enc.layers) == 3 and enc.layers[0] is not enc.layers[1]
    with pytest.raises(RuntimeError):
        T.TransformerEncoderLayer(4, 2, activation="tanh")

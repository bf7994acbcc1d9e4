"""RNN/LSTM/GRU modules, cells and packed sequences: jtorch vs torch with the same weights."""
import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import jtorch
from jtorch.nn.modules import rnn as jrnn
from jtorch.nn.utils import rnn as jurnn

RNG = np.random.default_rng(2)
warnings.filterwarnings("ignore", message="LSTM with projections")


def arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def copy_state(tm, jm):
    jm.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def close(j, t, atol=1e-5):
    np.testing.assert_allclose(j.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-4)


def flat(out):
    """Output tensors of an RNN call: (output, h) or (output, (h, c)); packed -> its data."""
    o, h = out
    o = o.data if isinstance(o, (trnn.PackedSequence, jurnn.PackedSequence)) else o
    return [o] + (list(h) if isinstance(h, tuple) else [h])


def run_both(tm, jm, tin, jin, thx=None, jhx=None):
    """Forward both, backward a random projection of every output, compare grads."""
    to, jo = flat(tm(tin, thx)), flat(jm(jin, jhx))
    assert len(to) == len(jo)
    loss_t, loss_j = 0, 0
    for a, b in zip(to, jo):
        assert tuple(a.shape) == tuple(b.shape)
        close(b, a)
        cot = arr(*a.shape)
        loss_t = loss_t + (a * torch.tensor(cot)).sum()
        loss_j = loss_j + (b * jtorch.tensor(cot)).sum()
    loss_t.backward()
    loss_j.backward()
    tp, jp = dict(tm.named_parameters()), dict(jm.named_parameters())
    assert list(tp) == list(jp)
    for k in tp:
        close(jp[k].grad, tp[k].grad, 1e-4)


@pytest.mark.parametrize("cls,kw", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2, batch_first=True)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("RNN", dict(nonlinearity="relu", bias=False)),
    ("RNN", dict(num_layers=2)),
])
def test_rnn_modules_match_torch(cls, kw):
    tm, jm = getattr(torch.nn, cls)(3, 4, **kw), getattr(jrnn, cls)(3, 4, **kw)
    assert list(tm.state_dict()) == list(jm.state_dict())
    assert repr(tm) == repr(jm)
    bound = 1 / 2   # torch's init: U(-1/sqrt(hidden), 1/sqrt(hidden))
    assert all(float(p.abs().max()) <= bound for p in jm.parameters())
    copy_state(tm, jm)
    x = arr(2, 5, 3) if kw.get("batch_first") else arr(5, 2, 3)
    tx, jx = torch.tensor(x, requires_grad=True), jtorch.tensor(x, requires_grad=True)
    run_both(tm, jm, tx, jx)
    close(jx.grad, tx.grad, 1e-4)


def test_initial_state_and_unbatched():
    tm, jm = torch.nn.LSTM(3, 4, num_layers=2), jrnn.LSTM(3, 4, num_layers=2)
    copy_state(tm, jm)
    h, c = arr(2, 2, 4), arr(2, 2, 4)
    th = (torch.tensor(h, requires_grad=True), torch.tensor(c, requires_grad=True))
    jh = (jtorch.tensor(h, requires_grad=True), jtorch.tensor(c, requires_grad=True))
    x = arr(4, 2, 3)
    run_both(tm, jm, torch.tensor(x), jtorch.tensor(x), th, jh)
    close(jh[0].grad, th[0].grad, 1e-4)
    close(jh[1].grad, th[1].grad, 1e-4)
    tm, jm = torch.nn.GRU(3, 4), jrnn.GRU(3, 4)
    copy_state(tm, jm)
    x, h = arr(4, 3), arr(1, 4)
    run_both(tm, jm, torch.tensor(x), jtorch.tensor(x), torch.tensor(h), jtorch.tensor(h))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \[1, 2, 4\], got \[1, 3, 4\]"):
        jm(jtorch.ones(5, 2, 3), jtorch.ones(1, 3, 4))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        jm(jtorch.ones(5, 2, 2))


@pytest.mark.parametrize("cls,kw", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(bidirectional=True, batch_first=True)),
])
def test_packed_sequence_round_trip(cls, kw):
    bf = kw.get("batch_first", False)
    tm, jm = getattr(torch.nn, cls)(3, 4, **kw), getattr(jrnn, cls)(3, 4, **kw)
    copy_state(tm, jm)
    x = arr(3, 5, 3) if bf else arr(5, 3, 3)
    lengths = [2, 5, 3]
    tx, jx = torch.tensor(x, requires_grad=True), jtorch.tensor(x, requires_grad=True)
    tp = trnn.pack_padded_sequence(tx, lengths, batch_first=bf, enforce_sorted=False)
    jp = jurnn.pack_padded_sequence(jx, lengths, batch_first=bf, enforce_sorted=False)
    close(jp.data, tp.data)
    assert jp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert jp.sorted_indices.tolist() == tp.sorted_indices.tolist()
    assert jp.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
    tout, jout = tm(tp), jm(jp)
    assert isinstance(jout[0], jurnn.PackedSequence)
    run_both(tm, jm, tp, jp)
    close(jx.grad, tx.grad, 1e-4)
    tpad, tl = trnn.pad_packed_sequence(tout[0], batch_first=bf, total_length=6)
    jpad, jl = jurnn.pad_packed_sequence(jout[0], batch_first=bf, total_length=6)
    close(jpad, tpad)
    assert jl.tolist() == tl.tolist() == lengths


def test_rnn_utils():
    seqs = [arr(4, 2), arr(2, 2), arr(3, 2)]
    for bf in (False, True):
        for side in ("right", "left"):
            close(jurnn.pad_sequence([jtorch.tensor(s) for s in seqs], bf, -1.0, side),
                  trnn.pad_sequence([torch.tensor(s) for s in seqs], bf, -1.0, side))
    tp = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    jp = jurnn.pack_sequence([jtorch.tensor(s) for s in seqs], enforce_sorted=False)
    close(jp.data, tp.data)
    for a, b in zip(jurnn.unpack_sequence(jp), trnn.unpack_sequence(tp)):
        close(a, b)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        jurnn.pack_sequence([jtorch.tensor(s) for s in seqs])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        jurnn.pad_packed_sequence(jp, total_length=2)
    sorted_seqs = sorted(seqs, key=len, reverse=True)
    jp = jurnn.pack_sequence([jtorch.tensor(s) for s in sorted_seqs])
    assert jp.sorted_indices is None and jp.batch_sizes.tolist() == [3, 3, 2, 1]


@pytest.mark.parametrize("cls,kw", [("LSTMCell", {}), ("GRUCell", {}),
                                    ("RNNCell", dict(nonlinearity="relu", bias=False))])
def test_cells(cls, kw):
    tm, jm = getattr(torch.nn, cls)(3, 4, **kw), getattr(jrnn, cls)(3, 4, **kw)
    assert list(tm.state_dict()) == list(jm.state_dict())
    assert repr(tm) == repr(jm)
    copy_state(tm, jm)
    x = arr(2, 3)
    tx, jx = torch.tensor(x, requires_grad=True), jtorch.tensor(x, requires_grad=True)
    to, jo = tm(tx), jm(jx)
    to, jo = (to if isinstance(to, tuple) else (to,)), (jo if isinstance(jo, tuple) else (jo,))
    for a, b in zip(to, jo):
        close(b, a)
    sum(a.sum() for a in to).backward()
    sum(b.sum() for b in jo).backward()
    close(jx.grad, tx.grad, 1e-4)
    close(jm.weight_hh.grad, tm.weight_hh.grad, 1e-4)
    h = jm(jtorch.ones(3))        # unbatched
    assert tuple((h[0] if isinstance(h, tuple) else h).shape) == (4,)


def test_dropout_between_layers_and_errors():
    m = jrnn.GRU(3, 4, num_layers=2, dropout=0.5)
    out, _ = m(jtorch.ones(3, 2, 3))
    assert tuple(out.shape) == (3, 2, 4)
    m.eval()
    a, _ = m(jtorch.ones(3, 2, 3))
    b, _ = m(jtorch.ones(3, 2, 3))
    close(a, b)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        jrnn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'foo'"):
        jrnn.RNN(3, 4, nonlinearity="foo")
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        jrnn.RNN(3, 4)(jtorch.ones(3))

"""Normalization functions and modules: jtorch vs torch (values, grads, running stats)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jtorch
from jtorch.nn import _functional_conv as F
from jtorch.nn.modules import batchnorm as jbn
from jtorch.nn.modules import instancenorm as jin
from jtorch.nn.modules import normalization as jnorm

RNG = np.random.default_rng(1)


def arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def copy_state(tm, jm):
    jm.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def close(j, t, atol=1e-5):
    np.testing.assert_allclose(j.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-4)


def grads_match(tm, jm, x, atol=1e-4):
    """Forward + backward through both modules; compare output, input and parameter grads."""
    tx, jx = torch.tensor(x, requires_grad=True), jtorch.tensor(x, requires_grad=True)
    to, jo = tm(tx), jm(jx)
    close(jo, to)
    cot = arr(*to.shape)
    (to * torch.tensor(cot)).sum().backward()
    (jo * jtorch.tensor(cot)).sum().backward()
    close(jx.grad, tx.grad, atol)
    tp, jp = dict(tm.named_parameters()), dict(jm.named_parameters())
    assert tp.keys() == jp.keys()
    for k in tp:
        close(jp[k].grad, tp[k].grad, atol)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_running_stats_and_eval(momentum):
    tm, jm = torch.nn.BatchNorm2d(3, momentum=momentum), jbn.BatchNorm2d(3, momentum=momentum)
    assert list(tm.state_dict()) == list(jm.state_dict())
    assert repr(tm) == repr(jm)
    copy_state(tm, jm)
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
    copy_state(tm, jm)
    for _ in range(3):
        x = arr(4, 3, 2, 3) * 2 + 1
        grads_match(tm, jm, x)
        tm.zero_grad()
        jm.zero_grad()
    close(jm.running_mean, tm.running_mean)
    close(jm.running_var, tm.running_var)
    assert int(jm.num_batches_tracked) == 3 and jm.num_batches_tracked.dtype == jtorch.long
    tm.eval()
    jm.eval()
    grads_match(tm, jm, arr(2, 3, 2, 2))


def test_batchnorm1d_variants():
    for kw in (dict(affine=False), dict(track_running_stats=False), dict(bias=False)):
        tm, jm = torch.nn.BatchNorm1d(4, **kw), jbn.BatchNorm1d(4, **kw)
        assert list(tm.state_dict()) == list(jm.state_dict())
        grads_match(tm, jm, arr(5, 4, 3))
        tm.eval()
        jm.eval()
        grads_match(tm, jm, arr(5, 4))
    tm, jm = torch.nn.BatchNorm3d(2), jbn.BatchNorm3d(2)
    grads_match(tm, jm, arr(2, 2, 2, 2, 3))
    with pytest.raises(ValueError, match="expected 4D input"):
        jbn.BatchNorm2d(3)(jtorch.ones(2, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        jbn.BatchNorm1d(3)(jtorch.ones(1, 3))
    lazy = jbn.LazyBatchNorm2d()
    lazy(jtorch.ones(2, 5, 2, 2))
    assert type(lazy) is jbn.BatchNorm2d and tuple(lazy.running_var.shape) == (5,)
    assert issubclass(jbn.SyncBatchNorm, jbn._BatchNorm)


def test_functional_batch_norm_updates_buffers_in_place():
    x = arr(6, 3)
    trm, trv = torch.zeros(3), torch.ones(3)
    jrm, jrv = jtorch.zeros(3), jtorch.ones(3)
    v0 = jrm._version
    to = TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    jo = F.batch_norm(jtorch.tensor(x), jrm, jrv, training=True, momentum=0.3)
    close(jo, to)
    close(jrm, trm)
    close(jrv, trv)
    assert jrm._version > v0
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(jtorch.tensor(x), None, None)


def test_instance_norm():
    for kw in (dict(), dict(affine=True, track_running_stats=True)):
        tm, jm = torch.nn.InstanceNorm2d(3, **kw), jin.InstanceNorm2d(3, **kw)
        assert list(tm.state_dict()) == list(jm.state_dict())
        copy_state(tm, jm)
        for _ in range(2):
            grads_match(tm, jm, arr(2, 3, 3, 4) + 1)
        if kw:
            close(jm.running_mean, tm.running_mean)
            close(jm.running_var, tm.running_var)
            tm.eval()
            jm.eval()
            grads_match(tm, jm, arr(2, 3, 3, 4))
    tm, jm = torch.nn.InstanceNorm1d(2, affine=True), jin.InstanceNorm1d(2, affine=True)
    grads_match(tm, jm, arr(2, 5))     # unbatched
    to = TF.instance_norm(torch.tensor(arr(2, 3, 4, 2, 2)))
    assert tuple(F.instance_norm(jtorch.ones(2, 3, 4, 2, 2)).shape) == tuple(to.shape)


def test_layer_group_rms_norm_modules():
    cases = [
        (torch.nn.LayerNorm([3, 4]), jnorm.LayerNorm([3, 4]), (2, 3, 4)),
        (torch.nn.LayerNorm(4, bias=False), jnorm.LayerNorm(4, bias=False), (5, 4)),
        (torch.nn.LayerNorm(4, elementwise_affine=False), jnorm.LayerNorm(4, elementwise_affine=False), (5, 4)),
        (torch.nn.GroupNorm(2, 4), jnorm.GroupNorm(2, 4), (3, 4, 5)),
        (torch.nn.GroupNorm(1, 2, bias=False), jnorm.GroupNorm(1, 2, bias=False), (3, 2)),
        (torch.nn.RMSNorm([4]), jnorm.RMSNorm([4]), (2, 3, 4)),
        (torch.nn.RMSNorm(4, eps=1e-3), jnorm.RMSNorm(4, eps=1e-3), (3, 4)),
        (torch.nn.LocalResponseNorm(3), jnorm.LocalResponseNorm(3), (2, 5, 3, 2)),
    ]
    for tm, jm, shape in cases:
        assert repr(tm) == repr(jm)
        assert list(tm.state_dict()) == list(jm.state_dict())
        with torch.no_grad():
            for p in tm.parameters():
                p.uniform_(0.5, 1.5)
        copy_state(tm, jm)
        grads_match(tm, jm, arr(*shape))


def test_functional_norm_errors_and_torch_namespace():
    for fn in (lambda m, f: f.layer_norm(m.ones(2, 3), (5,)),
               lambda m, f: f.group_norm(m.ones(2, 3, 4), 2),
               lambda m, f: f.local_response_norm(m.ones(2, 3), 2),
               lambda m, f: f.batch_norm(m.ones(2, 3), m.zeros(4), m.ones(4), training=True)):
        with pytest.raises(Exception) as et:
            fn(torch, TF)
        with pytest.raises(Exception) as ej:
            fn(jtorch, F)
        assert type(ej.value) is type(et.value) and str(ej.value) == str(et.value)
    x = arr(2, 3, 4)
    close(jtorch.layer_norm(jtorch.tensor(x), [4]), torch.layer_norm(torch.tensor(x), [4]))
    close(jtorch.group_norm(jtorch.tensor(x), 3), torch.group_norm(torch.tensor(x), 3))
    close(jtorch.rms_norm(jtorch.tensor(x), [3, 4]), torch.rms_norm(torch.tensor(x), [3, 4]))

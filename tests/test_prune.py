"""torch.nn.utils.prune against real torch: identical weights give identical masks,
state_dict layout, forward outputs and gradients; random pruning is checked structurally."""
import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import jtorch
import jtorch.nn.utils.prune as jprune


def _pair(name, *args, seed=0, **kwargs):
    """The same layer built in torch and jtorch, with torch's initial values copied over."""
    torch.manual_seed(seed)
    tm = getattr(torch.nn, name)(*args, **kwargs)
    jm = getattr(jtorch.nn, name)(*args, **kwargs)
    jm.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, jm


def _np(t):
    return t.detach().numpy()


def _same_state(tm, jm):
    tsd, jsd = tm.state_dict(), jm.state_dict()
    assert list(tsd) == list(jsd)
    for k in tsd:
        np.testing.assert_allclose(_np(jsd[k]), _np(tsd[k]), rtol=1e-6, atol=1e-7, err_msg=k)


def _same_forward_backward(tm, jm, shape):
    x = np.random.RandomState(1).rand(*shape).astype(np.float32)
    to, jo = tm(torch.tensor(x)), jm(jtorch.tensor(x))
    np.testing.assert_allclose(_np(jo), _np(to), rtol=1e-5, atol=1e-6)
    (to ** 2).sum().backward()
    (jo ** 2).sum().backward()
    for (tn, tp), (jn, jp) in zip(tm.named_parameters(), jm.named_parameters()):
        assert tn == jn
        np.testing.assert_allclose(_np(jp.grad), _np(tp.grad), rtol=1e-4, atol=1e-5, err_msg=tn)


def _same_error(fn_torch, fn_jtorch):
    with pytest.raises(Exception) as te:
        fn_torch()
    with pytest.raises(Exception) as je:
        fn_jtorch()
    assert type(je.value).__name__ == type(te.value).__name__
    # the only allowed difference: class paths name jtorch's module instead of torch's
    assert str(je.value).replace("jtorch.", "torch.") == str(te.value)


@pytest.mark.parametrize("amount", [0.3, 7, 0, 1.0])
def test_l1_unstructured_matches_torch(amount):
    tm, jm = _pair("Linear", 6, 4)
    assert tprune.l1_unstructured(tm, "weight", amount=amount) is tm
    assert jprune.l1_unstructured(jm, "weight", amount=amount) is jm
    _same_state(tm, jm)
    assert isinstance(jm.weight_orig, jtorch.nn.Parameter)
    assert "weight" not in jm._parameters and "weight_mask" in jm._buffers
    np.testing.assert_array_equal(_np(jm.weight), _np(tm.weight))
    _same_forward_backward(tm, jm, (3, 6))
    assert jprune.is_pruned(jm)


@pytest.mark.parametrize("n,dim", [(1, 0), (2, 1), (float("inf"), -1), (3, 2), (-2, 0)])
def test_ln_structured_matches_torch(n, dim):
    tm, jm = _pair("Conv2d", 3, 6, 3)
    tprune.ln_structured(tm, "weight", amount=0.5, n=n, dim=dim)
    jprune.ln_structured(jm, "weight", amount=0.5, n=n, dim=dim)
    _same_state(tm, jm)
    _same_forward_backward(tm, jm, (2, 3, 5, 5))


def test_importance_scores():
    tm, jm = _pair("Linear", 5, 4)
    scores = np.random.RandomState(3).rand(4, 5).astype(np.float32)
    tprune.l1_unstructured(tm, "weight", 0.4, importance_scores=torch.tensor(scores))
    jprune.l1_unstructured(jm, "weight", 0.4, importance_scores=jtorch.tensor(scores))
    tprune.ln_structured(tm, "weight", 1, 2, 0, importance_scores=torch.tensor(scores))
    jprune.ln_structured(jm, "weight", 1, 2, 0, importance_scores=jtorch.tensor(scores))
    _same_state(tm, jm)


def test_iterative_pruning_and_remove():
    tm, jm = _pair("Conv2d", 2, 5, 3)
    for lib, prune, m in ((torch, tprune, tm), (jtorch, jprune, jm)):
        prune.l1_unstructured(m, "weight", amount=0.2)
        prune.ln_structured(m, "weight", amount=2, n=2, dim=0)
        prune.ln_structured(m, "weight", amount=0.34, n=1, dim=1)
        prune.l1_unstructured(m, "weight", amount=5)
        prune.custom_from_mask(m, "bias", mask=lib.tensor([1.0, 0.0, 1.0, 1.0, 0.0]))
    hooks = list(jm._forward_pre_hooks.values())
    assert isinstance(hooks[0], jprune.PruningContainer) and len(hooks[0]) == 4
    assert [type(h).__name__ for h in hooks[0]] == [type(h).__name__
                                                  for h in list(tm._forward_pre_hooks.values())[0]]
    assert isinstance(hooks[1], jprune.CustomFromMask)
    _same_state(tm, jm)
    _same_forward_backward(tm, jm, (1, 2, 6, 6))

    # the pre-hook recomputes weight from weight_orig after an update
    with torch.no_grad():
        tm.weight_orig.mul_(2)
    with jtorch.no_grad():
        jm.weight_orig.mul_(2)
    x = np.ones((1, 2, 4, 4), np.float32)
    np.testing.assert_allclose(_np(jm(jtorch.tensor(x))), _np(tm(torch.tensor(x))), rtol=1e-5)

    for prune, m in ((tprune, tm), (jprune, jm)):
        assert prune.remove(m, "weight") is m
        prune.remove(m, "bias")
    _same_state(tm, jm)
    assert isinstance(jm.weight, jtorch.nn.Parameter) and not jm._forward_pre_hooks
    assert not jprune.is_pruned(jm)
    _same_error(lambda: tprune.remove(tm, "weight"), lambda: jprune.remove(jm, "weight"))


def test_global_unstructured():
    (tl, jl), (tc, jc) = _pair("Linear", 8, 4), _pair("Conv1d", 2, 3, 3, seed=1)
    tprune.l1_unstructured(tl, "weight", 0.25)
    jprune.l1_unstructured(jl, "weight", 0.25)
    for prune, lin, conv in ((tprune, tl, tc), (jprune, jl, jc)):
        prune.global_unstructured([(lin, "weight"), (conv, "weight"), (conv, "bias")],
                                  pruning_method=prune.L1Unstructured, amount=0.5)
    _same_state(tl, jl)
    _same_state(tc, jc)
    total = sum(int(m.sum()) for m in (jl.weight_mask, jc.weight_mask, jc.bias_mask))
    alive = 53 - 8  # the linear layer already lost 8 of its 32 weights
    assert total == alive - round(0.5 * alive)  # half of the survivors go
    _same_error(lambda: tprune.global_unstructured([(tc, "bias")], tprune.LnStructured,
                                                   amount=1, n=2, dim=0),
                lambda: jprune.global_unstructured([(jc, "bias")], jprune.LnStructured,
                                                   amount=1, n=2, dim=0))


def test_identity_and_prune_method():
    tm, jm = _pair("Linear", 3, 2)
    tprune.identity(tm, "weight")
    jprune.identity(jm, "weight")
    _same_state(tm, jm)
    t = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    tout = tprune.L1Unstructured(amount=4).prune(torch.tensor(t))
    jout = jprune.L1Unstructured(amount=4).prune(jtorch.tensor(t))
    np.testing.assert_array_equal(_np(jout), _np(tout))
    tout = tprune.LnStructured(amount=1, n=1, dim=1).prune(torch.tensor(t))
    jout = jprune.LnStructured(amount=1, n=1, dim=1).prune(jtorch.tensor(t))
    np.testing.assert_array_equal(_np(jout), _np(tout))


def test_random_unstructured_counts():
    jtorch.manual_seed(0)
    _, jm = _pair("Linear", 10, 6)
    jprune.random_unstructured(jm, "weight", amount=0.25)
    assert int((jm.weight_mask == 0).sum()) == 15
    jprune.random_unstructured(jm, "weight", amount=9)  # nine more among the 45 survivors
    mask = _np(jm.weight_mask)
    assert int((mask == 0).sum()) == 24 and set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(_np(jm.weight), _np(jm.weight_orig) * mask)


def test_random_structured_structure():
    jtorch.manual_seed(0)
    _, jm = _pair("Conv2d", 4, 6, 3)
    jprune.random_structured(jm, "weight", amount=2, dim=0)
    per_channel = _np(jm.weight_mask).reshape(6, -1)
    assert sorted(per_channel.sum(1).tolist()) == [0, 0] + [36] * 4
    jprune.random_structured(jm, "weight", amount=0.5, dim=1)
    per_in = _np(jm.weight_mask).transpose(1, 0, 2, 3).reshape(4, -1)
    assert (per_in.sum(1) == 0).sum() == 2  # two whole input channels gone
    assert ((_np(jm.weight_mask).reshape(6, -1).sum(1) == 0).sum()) == 2  # earlier ones stay


@pytest.mark.parametrize("call", [
    lambda p, m: p.l1_unstructured(m, "weight", amount=-1),
    lambda p, m: p.l1_unstructured(m, "weight", amount=1.5),
    lambda p, m: p.l1_unstructured(m, "weight", amount="a"),
    lambda p, m: p.l1_unstructured(m, "weight", amount=13),
    lambda p, m: p.ln_structured(m, "bias", amount=1, n=2, dim=0),
    lambda p, m: p.ln_structured(m, "weight", amount=1, n=2, dim=2),
    lambda p, m: p.random_structured(m, "weight", amount=5, dim=0),
    lambda p, m: p.remove(m, "weight"),
    lambda p, m: p.PruningContainer(p.Identity(), p.Identity()).compute_mask(None, None),
])
def test_errors_match_torch(call):
    tm, jm = _pair("Linear", 3, 4)
    _same_error(lambda: call(tprune, tm), lambda: call(jprune, jm))
    # a failed prune leaves the module untouched
    assert list(jm.state_dict()) == list(tm.state_dict())


def test_pruned_module_trains():
    tm, jm = _pair("Linear", 4, 3)
    for prune, m in ((tprune, tm), (jprune, jm)):
        prune.l1_unstructured(m, "weight", amount=0.5)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1)
    jopt = jtorch.optim.SGD(jm.parameters(), lr=0.1)
    x = np.random.RandomState(0).rand(5, 4).astype(np.float32)
    for _ in range(3):
        for lib, m, opt in ((torch, tm, topt), (jtorch, jm, jopt)):
            opt.zero_grad()
            m(lib.tensor(x)).pow(2).mean().backward()
            opt.step()
    _same_state(tm, jm)
    assert float((jm.weight == 0).sum()) == 6.0

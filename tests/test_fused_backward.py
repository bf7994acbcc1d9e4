"""A repeated backward graph runs as one compiled program (autograd/_fused_backward.py):
same gradients as torch and as the node-by-node engine, and every feature that needs the
node-by-node walk (hooks, retain_grad, version checks, released graphs) still works."""
import numpy as np
import pytest
import torch as real_torch

import jtorch
import jtorch.autograd._fused_backward as FB


def _loop(T, steps, hook=None):
    T.manual_seed(0)
    w1 = T.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), requires_grad=True)
    w2 = T.tensor(np.linspace(1, -1, 18, dtype=np.float32).reshape(6, 3), requires_grad=True)
    x = T.tensor(np.linspace(-2, 2, 20, dtype=np.float32).reshape(5, 4))
    y = T.tensor([0, 2, 1, 1, 0])
    grads = []
    for _ in range(steps):
        w1.grad = w2.grad = None
        h = (x @ w1).tanh()
        if hook is not None:
            h.register_hook(hook)
        loss = T.nn.functional.cross_entropy(h @ w2, y) + (w1 * w1).sum() * 0.01
        loss.backward()
        grads.append((w1.grad.numpy().copy(), w2.grad.numpy().copy()))
        with T.no_grad():
            w1 -= 0.1 * w1.grad
            w2 -= 0.1 * w2.grad
    return grads


def test_repeated_graph_is_fused_and_matches_torch():
    FB._FUSED.clear()
    FB._SEEN.clear()
    ours, theirs = _loop(jtorch, 4), _loop(real_torch, 4)
    assert len(FB._FUSED) == 1  # steps 2-4 ran one compiled backward
    for (a1, a2), (b1, b2) in zip(ours, theirs):
        np.testing.assert_allclose(a1, b1, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(a2, b2, rtol=1e-5, atol=1e-7)


def test_fused_equals_node_by_node():
    FB.ENABLED = False
    try:
        plain = _loop(jtorch, 3)
    finally:
        FB.ENABLED = True
    fused = _loop(jtorch, 3)
    for (a1, a2), (b1, b2) in zip(fused, plain):
        np.testing.assert_allclose(a1, b1, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(a2, b2, rtol=1e-6, atol=1e-8)


def test_hooks_keep_the_node_by_node_walk():
    calls = []
    _loop(jtorch, 3, hook=lambda g: calls.append(tuple(g.shape)))
    assert calls == [(5, 6)] * 3


def test_version_check_and_released_graph_still_raise():
    w = jtorch.ones(3, requires_grad=True)
    for _ in range(2):  # the same structure twice: the second is a fusion candidate
        (w * 2).exp().sum().backward()
    y = (w * 2).exp()
    loss = y.sum()
    y.add_(1)  # exp saved its result
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    loss = (w * 2).exp().sum()
    loss.backward(retain_graph=True)
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()

"""Eager ops whose output shapes are known are deferred and a repeated run of them becomes
one program (jtorch/_lazy.py): values, gradients and errors stay torch's, a pending value
never sees later in-place writes, and nothing pending leaks into a JAX trace."""
import jax
import numpy as np
import pytest
import torch as real_torch

import jtorch
import jtorch._lazy as L
import jtorch.autograd._fused_backward as FB


@pytest.fixture(autouse=True)
def _lazy_on():
    """On whatever JTORCH_LAZY says for the rest of the suite: these tests defer."""
    before = L.ENABLED
    L.ENABLED = True
    yield
    L.ENABLED = before


def _pending(t):
    v = t._st._v
    return type(v) is L.LazyArray and v.value is None


def _mlp_steps(T, steps, read_loss_first):
    """A raw-op MLP trained by hand; returns each step's loss and gradients."""
    w1 = T.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), requires_grad=True)
    b1 = T.tensor(np.linspace(0, 0.5, 6, dtype=np.float32), requires_grad=True)
    w2 = T.tensor(np.linspace(1, -1, 18, dtype=np.float32).reshape(6, 3), requires_grad=True)
    x = T.tensor(np.linspace(-2, 2, 20, dtype=np.float32).reshape(5, 4))
    y = T.tensor(np.linspace(0, 1, 15, dtype=np.float32).reshape(5, 3))
    out = []
    for _ in range(steps):
        for p in (w1, b1, w2):
            p.grad = None
        h = (x @ w1 + b1).relu()
        loss = ((h @ w2 - y) ** 2).mean()
        first = loss.item() if read_loss_first else None
        loss.backward()
        out.append((first if read_loss_first else loss.item(),
                    [p.grad.numpy().copy() for p in (w1, b1, w2)]))
        with T.no_grad():
            for p in (w1, b1, w2):
                p -= 0.1 * p.grad
    return out


@pytest.mark.parametrize("read_loss_first", [False, True])
def test_repeated_steps_run_fused_and_match_torch(read_loss_first):
    L._PROGRAMS.clear()
    L._SEEN.clear()
    FB._BOTH.clear()
    ours = _mlp_steps(jtorch, 5, read_loss_first)
    theirs = _mlp_steps(real_torch, 5, read_loss_first)
    if read_loss_first:   # the forward is forced on its own: a fused forward program
        assert len(L._PROGRAMS) >= 1
    else:                 # backward() runs the pending forward and itself as one program
        assert len(FB._BOTH) == 1
    for (l1, g1), (l2, g2) in zip(ours, theirs):
        assert l1 == pytest.approx(l2, rel=1e-5)
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_lazy_off_gives_the_same_numbers():
    L.ENABLED = False
    try:
        plain = _mlp_steps(jtorch, 4, False)
    finally:
        L.ENABLED = True
    lazy = _mlp_steps(jtorch, 4, False)
    for (l1, g1), (l2, g2) in zip(lazy, plain):
        assert l1 == pytest.approx(l2, rel=1e-6)
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_shape_and_dtype_without_computing():
    a = jtorch.ones(3, 4)
    b = jtorch.ones(3, 4)
    _ = a * b                      # teaches the kernel's output shape
    c = a * b
    assert _pending(c)
    assert c.shape == (3, 4) and c.dtype is jtorch.float32 and c.dim() == 2
    assert c.numel() == 12 and c.size(1) == 4
    assert _pending(c)             # metadata did not force it
    assert c.sum().item() == 12.0
    assert not _pending(c)


def test_pending_value_does_not_see_later_inplace_writes():
    a = jtorch.arange(4.0)
    ta = real_torch.arange(4.0)
    for _ in range(2):
        b = a * 2
        tb = ta * 2
    assert _pending(b)
    a.add_(10)
    ta.add_(10)
    np.testing.assert_array_equal(b.numpy(), tb.numpy())
    np.testing.assert_array_equal(a.numpy(), ta.numpy())


def test_inplace_on_a_pending_tensor_and_its_view():
    for _ in range(2):
        a = jtorch.arange(6.0).reshape(2, 3) + 1
    assert _pending(a)
    a.mul_(2)
    v = a[0]
    v.add_(100)
    t = (real_torch.arange(6.0).reshape(2, 3) + 1).mul_(2)
    t[0].add_(100)
    np.testing.assert_array_equal(a.numpy(), t.numpy())


def test_shape_errors_still_raise_at_the_call():
    a, b = jtorch.ones(2, 3), jtorch.ones(3, 2)
    for _ in range(3):
        jtorch.cat([a, a])                  # deferred from the second call on
    with pytest.raises(RuntimeError) as ours:
        jtorch.cat([a, b])
    with pytest.raises(RuntimeError) as theirs:
        real_torch.cat([real_torch.ones(2, 3), real_torch.ones(3, 2)])
    assert str(ours.value) == str(theirs.value)


def test_long_chains_are_bounded_and_exact():
    x = jtorch.zeros(3)
    for _ in range(2 * L.MAX_PENDING + 10):
        x = x + 1
        v = x._st._v
        assert type(v) is not L.LazyArray or v.value is not None or v.node.size <= L.MAX_PENDING
    np.testing.assert_array_equal(x.numpy(), np.full(3, 2 * L.MAX_PENDING + 10, np.float32))


def test_pending_values_enter_traces_as_constants():
    a = jtorch.ones(3)
    for _ in range(2):
        c = a + 1
    assert _pending(c)

    @jax.jit
    def f(x):
        return jtorch.interop.to_jax_array(jtorch.interop.from_jax_array(x) * c)
    np.testing.assert_array_equal(np.asarray(f(jax.numpy.arange(3.0))), [0.0, 2.0, 4.0])
    # ops inside a trace are never deferred, so no tracer is left behind in a pending value
    d = a + 1
    np.testing.assert_array_equal(d.numpy(), [2.0, 2.0, 2.0])


def test_compiled_step_reads_pending_state():
    """A tensor left pending by eager code is a plain input to jtorch.compile."""
    w = jtorch.ones(3, requires_grad=True)
    for _ in range(2):
        scale = jtorch.full((3,), 2.0) * 1.5
    assert _pending(scale)

    @jtorch.compile
    def step(x):
        return (w * x * scale).sum()
    assert step(jtorch.ones(3)).item() == pytest.approx(9.0)
    assert step(jtorch.ones(3) * 2).item() == pytest.approx(18.0)


def _held_and_retained(T, steps):
    """Logits read after backward, and a second backward through a retained graph."""
    w = T.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), requires_grad=True)
    x = T.tensor(np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4))
    out = []
    for _ in range(steps):
        w.grad = None
        logits = (x @ w).tanh()
        loss = (logits * logits).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        out.append((logits.detach().numpy().copy(), w.grad.numpy().copy(), loss.item()))
    return out


def test_values_read_after_a_fused_backward_and_retained_graphs():
    FB._BOTH.clear()
    ours, theirs = _held_and_retained(jtorch, 4), _held_and_retained(real_torch, 4)
    assert len(FB._BOTH) == 1
    for (l1, g1, s1), (l2, g2, s2) in zip(ours, theirs):
        np.testing.assert_allclose(l1, l2, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-6)
        assert s1 == pytest.approx(s2, rel=1e-6)


# Two CPU devices: pending ops on arrays placed on different devices are forced together.
_TWO_DEVICES = """
import jax, numpy as np, jtorch, jtorch._lazy as L
L.ENABLED = True
from jtorch._tensor import wrap
d0, d1 = jax.devices()[:2]
for i in range(L.FUSE_AT + 1):
    a = wrap(jax.device_put(np.ones(3, np.float32), d0))
    b = wrap(jax.device_put(np.ones(3, np.float32), d1))
    c, d = a * 2 + 1, b * 3 + 1
    L.resolve([c._raw, d._raw])
print(c.tolist(), d.tolist(), c._value.sharding.device_set == {d0},
      d._value.sharding.device_set == {d1})
"""


def test_ops_on_different_devices_run_where_their_inputs_are():
    import subprocess
    import sys

    from _subproc import env
    out = subprocess.run([sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True,
                         env=env(XLA_FLAGS="--xla_force_host_platform_device_count=2"),
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "[3.0, 3.0, 3.0] [4.0, 4.0, 4.0] True True"


def _norm_steps(T, steps, probe=None):
    """Views, a generic-derivative op (layer_norm) and a product in one small step."""
    w = T.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4), requires_grad=True)
    g = T.tensor(np.linspace(0.5, 1.5, 6, dtype=np.float32), requires_grad=True)
    x = T.tensor(np.linspace(-2, 2, 24, dtype=np.float32).reshape(2, 3, 4))
    out = []
    for _ in range(steps):
        w.grad = g.grad = None
        h = (x * 2).view(6, 4).transpose(0, 1)          # pending view of a pending value
        y = T.nn.functional.layer_norm(h, (6,), weight=g)
        if probe is not None:
            probe(_pending_view(h), _pending(y))
        z = y @ w                    # a product is deferred too
        if probe is not None:
            probe(_pending_view(h), _pending(y), _pending(z))
        loss = (z * z).mean()
        loss.backward()
        out.append((loss.item(), w.grad.numpy().copy(), g.grad.numpy().copy()))
    return out


def test_views_and_generic_derivative_ops_defer_and_match_torch():
    seen = []
    ours = _norm_steps(jtorch, 4, probe=lambda *flags: seen.append(flags))
    theirs = _norm_steps(real_torch, 4)
    assert seen[-2:] == [(True, True), (True, True, True)]
    for (l1, a1, b1), (l2, a2, b2) in zip(ours, theirs):
        assert l1 == pytest.approx(l2, rel=1e-5)
        np.testing.assert_allclose(a1, a2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-6)


def _conv_steps(T, steps, probe=None):
    x = T.tensor(np.linspace(-1, 1, 2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6))
    w = T.tensor(np.linspace(-0.5, 0.5, 4 * 3 * 3 * 3, dtype=np.float32).reshape(4, 3, 3, 3),
                 requires_grad=True)
    out = []
    for _ in range(steps):
        w.grad = None
        h = (x * 2 - 0.5).relu()
        if probe is not None:
            probe(_pending(h))
        c = T.nn.functional.conv2d(h, w, padding=1)
        if probe is not None:
            probe(_pending(h), _pending(c))
        loss = (c * c).mean()
        loss.backward()
        out.append((loss.item(), w.grad.numpy().copy()))
    return out


def test_a_convolution_launches_at_once_in_one_program_with_what_it_reads():
    """A convolution runs for long enough to hide the Python after it: it is not deferred,
    but the pending ops it reads run with it, as one program once the structure repeats."""
    L._PROGRAMS.clear()
    L._SEEN.clear()
    seen = []
    ours = _conv_steps(jtorch, 5, probe=lambda *flags: seen.append(flags))
    theirs = _conv_steps(real_torch, 5)
    assert seen[-2:] == [(True,), (False, False)]
    # mul, sub, relu and the convolution: one program
    assert 4 in [len(struct) for struct, _, _ in L._PROGRAMS]
    for (l1, g1), (l2, g2) in zip(ours, theirs):
        assert l1 == pytest.approx(l2, rel=1e-5)
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-6)


def _pending_view(t):
    v = t._arr
    return bool(t._chain) and type(v) is L.LazyArray and v.value is None


def test_fused_programs_keep_no_more_memory_than_eager():
    """Outputs nothing references are not written back, and ops are released once run:
    a loop that logs `.item()` holds the same bytes every step, fused or not."""
    import gc
    model = jtorch.nn.Sequential(jtorch.nn.Linear(16, 64), jtorch.nn.ReLU(),
                                 jtorch.nn.Linear(64, 1))
    opt = jtorch.optim.SGD(model.parameters(), lr=0.01)
    x, y = jtorch.randn(32, 16), jtorch.randn(32, 1)
    mem, log = [], []
    for _ in range(6):
        opt.zero_grad()
        loss = jtorch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        val = jtorch.nn.functional.mse_loss(model(x * 2), y)   # keeps its graph, as in torch
        log.append(val.item())
        gc.collect()
        mem.append(jtorch.cuda.memory_allocated())
    assert np.diff(mem).tolist() == [0] * 5, mem


def test_a_parameters_inplace_write_is_computed_at_once():
    """Loading or updating a parameter in place never leaves it pending, so the next forward
    runs the program it always runs; other tensors' in-place writes stay deferred."""
    x = jtorch.arange(6.0).reshape(2, 3)
    p = jtorch.zeros(2, 3, requires_grad=True)
    buf = jtorch.zeros(2, 3)
    for _ in range(3):       # the kernels learn their output shapes
        with jtorch.no_grad():
            p.copy_(x * 2)
            buf.copy_(x * 2)
    with jtorch.no_grad():
        p.copy_(x * 3)
        buf.copy_(x * 3)
    assert not _pending(p)
    assert _pending(buf)
    np.testing.assert_array_equal(p.detach().numpy(), np.arange(6.0).reshape(2, 3) * 3)
    np.testing.assert_array_equal(buf.numpy(), np.arange(6.0).reshape(2, 3) * 3)

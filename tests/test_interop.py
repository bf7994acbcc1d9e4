"""jtorch.interop (to_jax / load_jax_params / from_flax / array helpers) and DLPack."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch as real_torch

import jtorch as torch
from jtorch import nn
from jtorch.interop import from_flax, from_jax_array, load_jax_params, to_jax, to_jax_array


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))


def _data():
    rs = np.random.RandomState(0)
    return rs.randn(6, 5).astype(np.float32), rs.randn(6, 2).astype(np.float32)


# ------------------------------------------------------------------------------ to_jax

def test_to_jax_optax_jit_training_matches_eager_jtorch_and_torch():
    x, y = _data()
    m = _mlp()
    # the same training three ways: optax in jax.jit on to_jax params, jtorch eager, torch
    ref = _mlp()
    tm = real_torch.nn.Sequential(real_torch.nn.Linear(5, 8), real_torch.nn.Tanh(),
                                  real_torch.nn.Linear(8, 2))
    tm.load_state_dict({k: real_torch.from_numpy(np.array(v.numpy()))
                        for k, v in ref.state_dict().items()})

    params, apply_fn = to_jax(m)
    assert list(params) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(v, jax.Array) for v in params.values())
    opt = optax.sgd(0.1, momentum=0.9)
    state = opt.init(params)

    @jax.jit
    def step(p, s, x, y):
        loss, g = jax.value_and_grad(lambda p: jnp.mean((apply_fn(p, x) - y) ** 2))(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    jopt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    topt = real_torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    for _ in range(4):
        params, state, loss = step(params, state, x, y)
        jopt.zero_grad()
        jl = ((ref(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
        jl.backward()
        jopt.step()
        topt.zero_grad()
        tl = ((tm(real_torch.from_numpy(x)) - real_torch.from_numpy(y)) ** 2).mean()
        tl.backward()
        topt.step()
        assert abs(float(loss) - jl.item()) < 1e-5
        assert abs(float(loss) - tl.item()) < 1e-5

    load_jax_params(m, params)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(apply_fn(params, x)),
                               m(torch.from_numpy(x)).detach().numpy(), atol=1e-6)


def test_to_jax_buffers_kwargs_vmap_and_errors():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m(torch.randn(8, 3))
    m.eval()
    params, f = to_jax(m)
    assert "1.running_mean" not in params
    full, f2 = to_jax(m, include_buffers=True)
    assert "1.running_mean" in full and "1.num_batches_tracked" in full
    x = np.random.RandomState(1).randn(4, 3).astype(np.float32)
    want = m(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(f(params, x)), want, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(f2)(full, x)), want, atol=1e-6)
    per_row = jax.vmap(lambda r: f(params, r[None])[0])(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(per_row), want, atol=1e-6)

    enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    p, g = to_jax(enc)
    src = jnp.asarray(np.random.RandomState(2).randn(2, 3, 8).astype(np.float32))
    pad = jnp.asarray([[False, False, True], [False, False, False]])
    out = jax.jit(lambda p, s, k: g(p, s, src_key_padding_mask=k))(p, src, pad)
    ref = enc(from_jax_array(src), src_key_padding_mask=from_jax_array(pad))
    np.testing.assert_allclose(np.asarray(out), ref.detach().numpy(), atol=1e-5)

    with pytest.raises(RuntimeError, match="Unexpected key"):
        load_jax_params(m, {"nope": jnp.zeros(1)})
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        load_jax_params(m, {"0.bias": jnp.zeros(5)})
    with pytest.raises(TypeError):
        to_jax(lambda x: x)


# ------------------------------------------------------------------------------ from_flax

def _train_steps(module, x, y, steps, lr):
    opt = torch.optim.SGD(module.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((module(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _optax_steps(loss_fn, params, steps, lr):
    opt = optax.sgd(lr)
    s = opt.init(params)
    losses = []
    for _ in range(steps):
        loss, g = jax.value_and_grad(loss_fn)(params)
        u, s = opt.update(g, s, params)
        params = optax.apply_updates(params, u)
        losses.append(float(loss))
    return losses, params


def test_from_flax_linen_trains_like_optax():
    import flax.linen as fnn

    class MLP(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return fnn.Dense(2)(jnp.tanh(fnn.Dense(8)(x)))

    x, y = _data()
    m = from_flax(MLP(), torch.from_numpy(x), rngs=0)
    assert isinstance(m, nn.Module)
    assert sorted(n for n, _ in m.named_parameters()) == [
        "params.Dense_0.bias", "params.Dense_0.kernel", "params.Dense_1.bias",
        "params.Dense_1.kernel"]
    variables = MLP().init(jax.random.PRNGKey(0), x)
    out = m(torch.from_numpy(x))
    assert out.grad_fn is not None and out.grad_fn.name() == "FlaxBackward"
    np.testing.assert_allclose(out.detach().numpy(),
                               np.asarray(MLP().apply(variables, x)), atol=1e-6)

    got = _train_steps(m, torch.from_numpy(x), torch.from_numpy(y), 3, 0.2)
    want, trained = _optax_steps(
        lambda v: jnp.mean((MLP().apply(v, x) - y) ** 2), variables, 3, 0.2)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(m.state_dict()["params.Dense_0.kernel"].numpy(),
                               np.asarray(trained["params"]["Dense_0"]["kernel"]), atol=1e-6)

    # explicit params skip init; gradients also reach a tensor input
    m2 = from_flax(MLP(), params=variables)
    xt = torch.from_numpy(x).requires_grad_()
    m2(xt).sum().backward()
    gx = jax.grad(lambda a: MLP().apply(variables, a).sum())(x)
    np.testing.assert_allclose(xt.grad.numpy(), np.asarray(gx), atol=1e-6)


def test_from_flax_nnx_parameters_and_buffers():
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(5, 4, rngs=rngs)
            self.bn = nnx.BatchNorm(4, rngs=rngs)
            self.out = nnx.Linear(4, 2, rngs=rngs)

        def __call__(self, x):
            return self.out(nnx.relu(self.bn(self.lin(x))))

    net = Net(nnx.Rngs(0))
    net.eval()
    m = from_flax(net)
    assert sorted(n for n, _ in m.named_parameters()) == [
        "bn.bias", "bn.scale", "lin.bias", "lin.kernel", "out.bias", "out.kernel"]
    assert sorted(n for n, _ in m.named_buffers()) == ["bn.mean", "bn.var"]
    x, y = _data()
    np.testing.assert_allclose(m(torch.from_numpy(x)).detach().numpy(), np.asarray(net(x)),
                               atol=1e-6)
    graphdef, params, rest = nnx.split(net, nnx.Param, ...)
    got = _train_steps(m, torch.from_numpy(x), torch.from_numpy(y), 3, 0.1)
    want, _ = _optax_steps(
        lambda p: jnp.mean((nnx.merge(graphdef, p, rest)(x) - y) ** 2), params, 3, 0.1)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(TypeError, match="flax"):
        from_flax(nn.Linear(2, 2))


# ------------------------------------------------------------------------------ arrays / DLPack

def _ptr(t):
    return t._value.unsafe_buffer_pointer()


def test_jax_array_helpers_are_zero_copy():
    a = jnp.arange(6.0, dtype=jnp.float32)
    t = from_jax_array(a)
    assert to_jax_array(t) is a
    assert t.dtype == torch.float32 and t.tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(TypeError):
        from_jax_array(np.ones(2))
    with pytest.raises(TypeError):
        to_jax_array(np.ones(2))


def _aligned(n):
    """float32[n] starting on a 64-byte boundary (numpy only guarantees 16 for small ones)."""
    buf = np.empty(n * 4 + 64, np.uint8)
    off = (-buf.ctypes.data) % 64
    a = buf[off:off + n * 4].view(np.float32)
    a[:] = np.arange(n)
    return a


def test_dlpack_with_numpy():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    n = np.from_dlpack(t)
    assert n.ctypes.data == _ptr(t)          # jtorch -> numpy shares the buffer
    np.testing.assert_array_equal(n, t.numpy())
    assert t.__dlpack_device__() == (torch.utils.dlpack.DLDeviceType.kDLCPU, 0)

    src = _aligned(16)                        # a 64-byte aligned buffer is shared
    back = torch.from_dlpack(src)
    assert _ptr(back) == src.ctypes.data
    src[0] = 42.0                              # so the producer's writes show through
    assert back[0].item() == 42.0

    unaligned = _aligned(17)[1:]               # XLA's CPU client needs alignment: copied
    u = torch.from_dlpack(unaligned)
    assert _ptr(u) != unaligned.ctypes.data
    np.testing.assert_array_equal(u.numpy(), unaligned)

    strided = torch.from_dlpack(np.arange(10.0)[::2])   # non-compact: copied via numpy
    assert strided.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]

    with pytest.raises(BufferError, match="require gradient"):
        np.from_dlpack(torch.ones(2, requires_grad=True))


def test_dlpack_with_real_torch():
    t = torch.arange(6, dtype=torch.int64).reshape(2, 3)
    rt = real_torch.from_dlpack(t)
    assert rt.data_ptr() == _ptr(t) and rt.tolist() == t.tolist()
    rt2 = real_torch.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(t))
    assert rt2.data_ptr() == _ptr(t)

    src = real_torch.linspace(0, 1, 8)
    j = torch.from_dlpack(src)
    assert _ptr(j) == src.data_ptr() and j.dtype == torch.float32
    cap = torch.from_dlpack(real_torch.utils.dlpack.to_dlpack(src))   # a bare capsule
    assert _ptr(cap) == src.data_ptr()
    assert torch.to_dlpack is torch.utils.dlpack.to_dlpack
    copied = torch.from_dlpack(src, copy=True)
    assert _ptr(copied) != src.data_ptr()
    np.testing.assert_array_equal(copied.numpy(), src.numpy())
    with pytest.raises(RuntimeError, match="consumed only once"):
        capsule = real_torch.utils.dlpack.to_dlpack(src)
        torch.from_dlpack(capsule)
        torch.from_dlpack(capsule)

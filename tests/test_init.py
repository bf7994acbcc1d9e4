"""torch.nn.init against torch: deterministic initializers exactly, random ones by
their statistics (same law as torch's: bounds, mean, std over a large tensor)."""
import math
import warnings

import numpy as np
import pytest
import torch

import jtorch
import jtorch.nn  # noqa: F401  (the lead adds `from . import nn` to jtorch/__init__)

J, T = jtorch.nn.init, torch.nn.init
SHAPE = (200, 150)   # 30000 samples: std of the sample mean ~ 0.006 * sigma


def stats(t):
    a = np.asarray(t.detach().numpy(), dtype=np.float64)
    return a.min(), a.max(), a.mean(), a.std()


def same_error(fn):
    res = []
    for lib in (torch, jtorch):
        with pytest.raises(Exception) as ei:
            fn(lib)
        res.append(ei)
    assert type(res[1].value) is type(res[0].value)
    assert str(res[1].value) == str(res[0].value)


def test_calculate_gain_and_fans():
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        assert J.calculate_gain(nl) == T.calculate_gain(nl)
    for p in (0.2, 1, 0):
        assert J.calculate_gain("leaky_relu", p) == T.calculate_gain("leaky_relu", p)
    same_error(lambda lib: lib.nn.init.calculate_gain("leaky_relu", True))
    same_error(lambda lib: lib.nn.init.calculate_gain("swish"))
    for shape in [(3, 4), (5, 2, 3), (4, 3, 2, 2), (2, 3, 1, 2, 2)]:
        assert J._calculate_fan_in_and_fan_out(jtorch.empty(shape)) == \
            T._calculate_fan_in_and_fan_out(torch.empty(shape))
    same_error(lambda lib: lib.nn.init._calculate_fan_in_and_fan_out(lib.empty(3)))


def test_uniform_normal_statistics():
    x = jtorch.empty(SHAPE)
    assert J.uniform_(x, -2.0, 3.0) is x
    lo, hi, mean, std = stats(x)
    assert -2.0 <= lo < -1.99 and 2.99 < hi < 3.0
    assert abs(mean - 0.5) < 0.05 and abs(std - 5 / math.sqrt(12)) < 0.02
    J.normal_(x, 1.0, 0.5)
    _, _, mean, std = stats(x)
    assert abs(mean - 1.0) < 0.01 and abs(std - 0.5) < 0.01
    assert x.dtype is jtorch.float32


def _truncnorm_moments(mu, sigma, a, b):
    al, be = (a - mu) / sigma, (b - mu) / sigma
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))          # noqa: E731
    Z = cdf(be) - cdf(al)
    m = mu + sigma * (pdf(al) - pdf(be)) / Z
    var = sigma ** 2 * (1 + (al * pdf(al) - be * pdf(be)) / Z - ((pdf(al) - pdf(be)) / Z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 0.5, 3.0),
                                          (1.0, 0.02, 0.98, 1.1)])
def test_trunc_normal_statistics(mean, std, a, b):
    x = jtorch.empty(SHAPE)
    J.trunc_normal_(x, mean, std, a, b)
    lo, hi, m, s = stats(x)
    em, es = _truncnorm_moments(mean, std, a, b)
    assert a <= lo and hi <= b
    assert abs(m - em) < 0.02 * std + 1e-6 and abs(s - es) < 0.02 * std + 1e-6
    # torch agrees with the same theory
    t = T.trunc_normal_(torch.empty(SHAPE), mean, std, a, b)
    assert abs(stats(t)[2] - em) < 0.02 * std + 1e-6


@pytest.mark.parametrize("name,kwargs", [
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": 2.0}),
    ("xavier_normal_", {"gain": 0.5}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}),
])
@pytest.mark.parametrize("shape", [SHAPE, (100, 60, 5)])
def test_fan_based_initializers_match_torch_law(name, kwargs, shape):
    """Expected std from torch's own fan/gain helpers; 5-sigma sampling tolerances."""
    t_like = torch.empty(shape)
    fan_in, fan_out = T._calculate_fan_in_and_fan_out(t_like)
    if name.startswith("xavier"):
        sigma = kwargs.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
    else:
        fan = fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out
        sigma = T.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"),
                                 kwargs.get("a", 0)) / math.sqrt(fan)
    x = getattr(J, name)(jtorch.empty(shape), **kwargs)
    lo, hi, m, s = stats(x)
    n = x.numel()
    assert abs(m) < 5 * sigma / math.sqrt(n)
    assert abs(s - sigma) < 5 * sigma / math.sqrt(2 * n)
    if "uniform" in name:
        bound = math.sqrt(3.0) * sigma
        assert -bound <= lo < -0.99 * bound and 0.99 * bound < hi <= bound
    # torch's sample obeys the same law (the oracle check of the formula)
    assert abs(stats(getattr(T, name)(t_like, **kwargs))[3] - sigma) < 5 * sigma / math.sqrt(2 * n)


def test_deterministic_initializers_exact():
    assert np.array_equal(J.eye_(jtorch.empty(3, 5)).numpy(), T.eye_(torch.empty(3, 5)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 1, 3, 3), 1),
                          ((4, 6, 3), 2)]:
        assert np.array_equal(J.dirac_(jtorch.empty(shape), groups).numpy(),
                              T.dirac_(torch.empty(shape), groups).numpy())
    assert J.constant_(jtorch.empty(2, 2), 0.25).tolist() == [[0.25, 0.25]] * 2
    assert J.ones_(jtorch.empty(3)).tolist() == [1.0] * 3
    assert J.zeros_(jtorch.ones(3, dtype=jtorch.float64)).tolist() == [0.0] * 3
    same_error(lambda lib: lib.nn.init.eye_(lib.empty(2, 2, 2)))
    same_error(lambda lib: lib.nn.init.dirac_(lib.empty(2, 2)))
    same_error(lambda lib: lib.nn.init.dirac_(lib.empty(3, 2, 2), groups=2))
    same_error(lambda lib: lib.nn.init.orthogonal_(lib.empty(3)))
    same_error(lambda lib: lib.nn.init.sparse_(lib.empty(3), 0.1))
    same_error(lambda lib: lib.nn.init.kaiming_uniform_(lib.empty(3, 3), mode="fan_mid"))


@pytest.mark.parametrize("shape,gain", [((4, 3), 1.0), ((3, 4), 2.0), ((4, 3, 1), 1.0)])
def test_orthogonal(shape, gain):
    x = J.orthogonal_(jtorch.empty(shape), gain=gain)
    m = x.numpy().reshape(shape[0], -1).astype(np.float64)
    g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(g, gain ** 2 * np.eye(g.shape[0]), atol=1e-5)
    x64 = J.orthogonal_(jtorch.empty(4, 3, dtype=jtorch.float64))
    assert x64.dtype is jtorch.float64


def test_sparse_zero_count():
    x = J.sparse_(jtorch.empty(10, 6), sparsity=0.25, std=0.5)
    zeros = (x.numpy() == 0).sum(0)
    assert zeros.tolist() == [math.ceil(0.25 * 10)] * 6


def test_generator_determinism_and_in_place_semantics():
    g1, g2 = jtorch.Generator().manual_seed(7), jtorch.Generator().manual_seed(7)
    a = J.kaiming_normal_(jtorch.empty(4, 3), generator=g1)
    b = J.kaiming_normal_(jtorch.empty(4, 3), generator=g2)
    assert np.array_equal(a.numpy(), b.numpy())
    c = J.trunc_normal_(jtorch.empty(4, 3), generator=jtorch.Generator().manual_seed(7))
    d = J.trunc_normal_(jtorch.empty(4, 3), generator=jtorch.Generator().manual_seed(7))
    assert np.array_equal(c.numpy(), d.numpy())
    e = J.orthogonal_(jtorch.empty(4, 3), generator=jtorch.Generator().manual_seed(1))
    f = J.orthogonal_(jtorch.empty(4, 3), generator=jtorch.Generator().manual_seed(1))
    assert np.array_equal(e.numpy(), f.numpy())
    # parameters that require grad are filled under no_grad; the version counter bumps
    p = jtorch.nn.Parameter(jtorch.zeros(4, 3))
    v = p._version
    for fn in (J.xavier_uniform_, J.trunc_normal_, J.orthogonal_, J.eye_, J.ones_):
        assert fn(p) is p
    assert p._version > v and p.requires_grad and p.grad_fn is None
    # initializing a view writes into its base
    base = jtorch.zeros(4, 4)
    J.ones_(base[1:3])
    J.eye_(base[3:, :2])
    assert base.tolist() == [[0.0] * 4, [1.0] * 4, [1.0] * 4, [1.0, 0.0, 0.0, 0.0]]
    J.trunc_normal_(base[0], a=-0.1, b=0.1)
    assert 0 < float(base[0].abs().max()) <= 0.1 and base[1].tolist() == [1.0] * 4


def test_dtypes_and_warnings():
    h = J.normal_(jtorch.empty(4, 3, dtype=jtorch.float16))
    assert h.dtype is jtorch.float16
    bf = J.trunc_normal_(jtorch.empty(4, 3, dtype=jtorch.bfloat16))
    assert bf.dtype is jtorch.bfloat16 and float(bf.abs().max()) <= 2.0
    with pytest.warns(UserWarning, match="zero-element"):
        J.kaiming_uniform_(jtorch.empty(0, 3))
    with pytest.warns(UserWarning, match="more than 2 std"):
        J.trunc_normal_(jtorch.empty(4, 3), mean=10.0)
    with pytest.warns(FutureWarning, match="nn.init.normal_"):
        J.normal(jtorch.empty(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J.uniform_(jtorch.empty(2))

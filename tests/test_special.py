"""torch.special against real torch: values, dtypes, aliases and gradients."""
import numpy as np
import pytest
import torch

import jtorch
from tests.test_pointwise import check, same, same_error, same_grad

X = np.array([-3.5, -1.0, -0.2, 0.0, 0.4, 1.0, 2.5, 7.0], np.float32)
POS = np.array([0.05, 0.3, 1.0, 2.0, 4.5, 9.0, 13.0, 30.0], np.float32)
PROB = np.array([0.001, 0.1, 0.25, 0.5, 0.6, 0.9, 0.99, 0.999], np.float32)


@pytest.mark.parametrize("name,data", [
    *[(n, "X") for n in "entr erfcx i0e i1 i1e ndtr log_ndtr expit exp2 expm1 erf erfc i0 "
                       "sinc round bessel_j0 bessel_j1 modified_bessel_i0 modified_bessel_i1 "
                       "spherical_bessel_j0 gammaln".split()],
    *[(n, "POS") for n in "digamma psi log1p bessel_y0 bessel_y1 modified_bessel_k0 "
                         "modified_bessel_k1 scaled_modified_bessel_k0 "
                         "scaled_modified_bessel_k1".split()],
    *[(n, "PROB") for n in "ndtri erfinv logit".split()],
])
def test_unary(name, data):
    same(lambda lib, x: getattr(lib.special, name)(x), globals()[data], rtol=1e-4, atol=1e-5)


def test_large_arguments_and_int_inputs():
    big = np.array([11.9, 12.1, 25.0, 40.0, 100.0, -60.0], np.float64)
    for name in ("bessel_j0", "bessel_j1"):
        same(lambda lib, x: getattr(lib.special, name)(x), big, rtol=1e-7, atol=1e-9)
    for name in ("bessel_y0", "bessel_y1", "modified_bessel_k0", "scaled_modified_bessel_k1"):
        same(lambda lib, x: getattr(lib.special, name)(x), np.abs(big), rtol=1e-7, atol=1e-12)
    same(lambda lib, x: (lib.special.entr(x), lib.special.ndtr(x), lib.special.i1(x)),
         np.array([0, 1, 2, 3]))


def test_binary_and_aliases():
    same(lambda lib, x, y: (lib.special.xlogy(x, y), lib.special.xlog1py(x, y),
                            lib.special.zeta(x + 5, y), lib.special.gammainc(y, y + 1),
                            lib.special.gammaincc(y, y + 1)), X, POS, rtol=1e-4)
    same(lambda lib, x: (lib.special.xlogy(2, x), lib.special.xlog1py(x, 0.5),
                         lib.special.zeta(2.0, x)), POS, rtol=1e-4)
    same(lambda lib, x: (lib.special.polygamma(2, x), lib.special.multigammaln(x + 2, 3),
                         lib.special.logit(x, eps=0.05), lib.special.round(x * 10, decimals=-1)),
         PROB, rtol=1e-4)
    same(lambda lib, x: (lib.special.softmax(x, 0), lib.special.log_softmax(x, 0,
                                                                            dtype=lib.float64)),
         X)


def test_polygamma_and_mvlgamma():
    for n in range(4):
        same(lambda lib, x: (lib.polygamma(n, x), x.polygamma(n)), X + 0.25, rtol=1e-4,
             atol=1e-4)
    same(lambda lib, x: (lib.mvlgamma(x, 1), lib.mvlgamma(x, 3), x.mvlgamma(p=2)), POS + 1,
         rtol=1e-5)
    same_grad(lambda lib, x: lib.polygamma(1, x), POS, rtol=1e-4)
    same_grad(lambda lib, x: lib.mvlgamma(x, 2), POS + 1, rtol=1e-4)


@pytest.mark.parametrize("name", [
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
    "laguerre_polynomial_l", "legendre_polynomial_p"])
def test_polynomials(name):
    x = np.array([-0.9, -0.3, 0.0, 0.25, 0.6, 1.0, 1.5, -2.0], np.float32)
    n = np.array([0, 1, 2, 3, 5, 8, 4, -1], np.int64)
    same(lambda lib, a, k: (getattr(lib.special, name)(a, k), getattr(lib.special, name)(a, 3)),
         x, n, rtol=1e-4, atol=1e-4)


def test_grads():
    for name in ("entr", "i1e", "log_ndtr"):
        same_grad(lambda lib, x: getattr(lib.special, name)(x), POS, rtol=1e-4, atol=1e-5)
    same_grad(lambda lib, x: lib.special.ndtri(x), PROB, rtol=1e-4, atol=1e-4)
    same_grad(lambda lib, x, y: lib.special.xlog1py(x, y), X, POS, rtol=1e-4)


def test_missing_and_errors():
    with pytest.raises(NotImplementedError, match="airy_ai"):
        jtorch.special.airy_ai(jtorch.tensor([1.0]))
    same_error(lambda lib, x: lib.special.erfcx(x), np.array([1j], np.complex64))
    with pytest.raises(NotImplementedError, match="torch.special.not_a_function"):
        jtorch.special.not_a_function
    t = jtorch.special.entr(jtorch.tensor([0.5]), out=jtorch.tensor([0.0]))
    check(torch.special.entr(torch.tensor([0.5])), t)

"""torch.fft against real torch: values, dtype rules, normalisation modes, gradients."""
import numpy as np
import pytest
import torch

import jtorch
from test_blas import arr, raises_same, run_both, same

NORMS = [None, "ortho", "forward"]


@pytest.mark.parametrize("norm", NORMS)
def test_1d_transforms(norm):
    x, c = arr(3, 6), arr(3, 4, dtype=np.complex64)
    for name in ("fft", "ifft", "rfft", "ihfft"):
        run_both(lambda T, a: getattr(T.fft, name)(a, norm=norm), [x])
        run_both(lambda T, a: getattr(T.fft, name)(a, n=4, dim=0, norm=norm), [x])
    for name in ("fft", "ifft", "irfft", "hfft"):
        run_both(lambda T, a: getattr(T.fft, name)(a, norm=norm), [c])
        run_both(lambda T, a: getattr(T.fft, name)(a, n=5, norm=norm), [c])


@pytest.mark.parametrize("norm", NORMS)
def test_nd_transforms(norm):
    x, c = arr(2, 3, 4), arr(2, 3, 4, dtype=np.complex64)
    for name in ("fft2", "ifft2", "fftn", "ifftn", "rfft2", "rfftn", "ihfft2", "ihfftn"):
        run_both(lambda T, a: getattr(T.fft, name)(a, norm=norm), [x])
    for name in ("fft2", "ifft2", "fftn", "ifftn", "irfft2", "irfftn", "hfft2", "hfftn"):
        run_both(lambda T, a: getattr(T.fft, name)(a, norm=norm), [c])
    run_both(lambda T, a: T.fft.fftn(a, s=(2, 5), dim=(0, 2), norm=norm), [c])
    run_both(lambda T, a: T.fft.rfftn(a, s=(4, 6), norm=norm), [x])
    run_both(lambda T, a: T.fft.irfftn(a, s=(-1, 6), norm=norm), [c])


def test_dtype_rules():
    ints = np.arange(6).reshape(2, 3)
    run_both(lambda T, a: T.fft.fft(a), [ints], grad=False)        # int -> complex64
    run_both(lambda T, a: T.fft.rfft(a), [ints], grad=False)
    run_both(lambda T, a: T.fft.fft(a), [np.array([True, False, True])], grad=False)
    run_both(lambda T, a: T.fft.fft(a), [arr(4, dtype=np.float64)])  # -> complex128
    run_both(lambda T, a: T.fft.irfft(a), [arr(4, dtype=np.complex128)])
    run_both(lambda T, a: T.fft.irfft(a), [arr(4)])                  # real input promoted
    run_both(lambda T, a: T.fft.fftn(a), [np.array(2.0, np.float32)])


def test_freqs_and_shifts():
    same(torch.fft.fftfreq(5), jtorch.fft.fftfreq(5))
    same(torch.fft.fftfreq(6, 0.5, dtype=torch.float64),
         jtorch.fft.fftfreq(6, 0.5, dtype=jtorch.float64))
    same(torch.fft.rfftfreq(7, 2.0), jtorch.fft.rfftfreq(7, 2.0))
    assert jtorch.fft.fftfreq(4, requires_grad=True).requires_grad
    run_both(lambda T, a: T.fft.fftshift(a), [arr(3, 4)])
    run_both(lambda T, a: T.fft.ifftshift(a, dim=1), [arr(3, 5)])
    run_both(lambda T, a: T.fft.fftshift(a, dim=(0,)), [np.arange(5)], grad=False)


def test_out():
    x = arr(4)
    out = jtorch.tensor(np.zeros(4, np.complex64))
    r = jtorch.fft.fft(jtorch.tensor(x), out=out)
    assert r is out
    same(torch.fft.fft(torch.tensor(x)), out)


ERRORS = [
    lambda T: T.fft.fft(T.ones(4), norm="bad"),
    lambda T: T.fft.fft(T.ones(4), n=0),
    lambda T: T.fft.fft(T.ones(2, 3), dim=2),
    lambda T: T.fft.rfft(T.ones(4, dtype=T.complex64)),
    lambda T: T.fft.ihfft(T.ones(4, dtype=T.complex64)),
    lambda T: T.fft.fftn(T.ones(2, 3), s=(2,), dim=(0, 1)),
    lambda T: T.fft.fftn(T.ones(2, 3), dim=(0, 0)),
    lambda T: T.fft.irfft(T.ones(1, dtype=T.complex64)),
    lambda T: T.fft.fft(T.tensor(1.0)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    raises_same(ERRORS[i])

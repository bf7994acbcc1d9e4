"""Convolution, pooling, resampling and rearrangement: jtorch vs torch (values and grads)."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jtorch
from jtorch.nn import _functional_conv as F
from jtorch.nn.modules import conv as jconv
from jtorch.nn.modules import fold as jfold
from jtorch.nn.modules import padding as jpad
from jtorch.nn.modules import pixelshuffle as jps
from jtorch.nn.modules import pooling as jpool
from jtorch.nn.modules import upsampling as jup

RNG = np.random.default_rng(0)


def arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def both(fn_t, fn_j, arrays, grad=True, atol=1e-5, rtol=1e-4):
    """Run fn on torch and jtorch copies of `arrays`; compare outputs and input grads."""
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    js = [jtorch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    to, jo = fn_t(*ts), fn_j(*js)
    to = to if isinstance(to, tuple) else (to,)
    jo = jo if isinstance(jo, tuple) else (jo,)
    assert len(to) == len(jo)
    for a, b in zip(to, jo):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype) == str(b.dtype)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=atol, rtol=rtol)
    if grad:
        cot = arr(*to[0].shape)
        (to[0] * torch.tensor(cot)).sum().backward()
        (jo[0] * jtorch.tensor(cot)).sum().backward()
        for a, b in zip(ts, js):
            if a.grad is not None:
                np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=atol, rtol=rtol)
    return to, jo


def same_error(fn_t, fn_j):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(Exception) as ej:
        fn_j()
    assert type(ej.value) is type(et.value)
    assert str(ej.value) == str(et.value)


# ------------------------------------------------------------------------------ conv

@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1, groups=2),
    dict(padding="same", dilation=2),
    dict(stride=(2, 1), dilation=(1, 2), padding=(1, 0)),
    dict(padding="valid"),
])
def test_conv2d(kw):
    g = kw.get("groups", 1)
    both(lambda x, w, b: TF.conv2d(x, w, b, **kw), lambda x, w, b: F.conv2d(x, w, b, **kw),
         [arr(2, 4, 7, 6), arr(6, 4 // g, 3, 3), arr(6)])


def test_conv1d_3d_unbatched():
    both(lambda x, w: TF.conv1d(x, w, stride=2, padding=2), lambda x, w: F.conv1d(x, w, stride=2, padding=2),
         [arr(3, 9), arr(2, 3, 4)])
    both(lambda x, w, b: TF.conv3d(x, w, b, padding=1, groups=3),
         lambda x, w, b: F.conv3d(x, w, b, padding=1, groups=3),
         [arr(1, 3, 4, 4, 4), arr(3, 1, 2, 3, 2), arr(3)])
    assert jtorch.conv1d(jtorch.ones(1, 3, 9), jtorch.ones(2, 3, 4)).shape == (1, 2, 6)


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=2, groups=2, dilation=2),
    dict(padding=2),
])
def test_conv_transpose2d(kw):
    g = kw.get("groups", 1)
    both(lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
         lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
         [arr(2, 4, 5, 4), arr(4, 6 // g, 3, 3), arr(6)])


def test_conv_transpose1d_3d():
    both(lambda x, w: TF.conv_transpose1d(x, w, stride=3, output_padding=2),
         lambda x, w: F.conv_transpose1d(x, w, stride=3, output_padding=2), [arr(2, 3, 4), arr(3, 2, 3)])
    both(lambda x, w: TF.conv_transpose3d(x, w, stride=2), lambda x, w: F.conv_transpose3d(x, w, stride=2),
         [arr(1, 2, 2, 3, 2), arr(2, 2, 2, 2, 2)])


@pytest.mark.parametrize("case", [
    lambda t, m, x: m.conv2d(x, t.ones(4, 2, 3, 3)),
    lambda t, m, x: m.conv2d(x, t.ones(4, 3, 3, 3), groups=2),
    lambda t, m, x: m.conv2d(x, t.ones(4, 3, 7, 7)),
    lambda t, m, x: m.conv2d(x, t.ones(4, 3, 3, 3), stride=2, padding="same"),
    lambda t, m, x: m.conv2d(x, t.ones(4, 3, 3, 3), padding="foo"),
    lambda t, m, x: m.conv2d(x, t.ones(4, 3, 3, 3), bias=t.ones(3)),
    lambda t, m, x: m.conv2d(x[0, 0, 0], t.ones(4, 3, 3, 3)),
    lambda t, m, x: m.conv_transpose2d(x, t.ones(3, 4, 3, 3), output_padding=1),
    lambda t, m, x: m.max_pool2d(x, 2, padding=2),
    lambda t, m, x: m.max_pool2d(x[:, :, :1, :1], 2),
    lambda t, m, x: m.interpolate(x, size=4, mode="linear"),
    lambda t, m, x: m.interpolate(x, size=4, mode="nearest", align_corners=True),
    lambda t, m, x: m.interpolate(x, size=4, scale_factor=2.0),
    lambda t, m, x: m.pixel_shuffle(x, 2),
    lambda t, m, x: m.channel_shuffle(x, 2),
    lambda t, m, x: m.affine_grid(x[0, :1, :2], (1, 1, 3, 3), align_corners=False),
])
def test_errors_match_torch(case):
    x = np.ones((2, 3, 5, 5), np.float32)
    same_error(lambda: case(torch, TF, torch.tensor(x)), lambda: case(jtorch, F, jtorch.tensor(x)))


def test_conv_modules_state_dict_and_init():
    torch.manual_seed(0)
    for tcls, jcls, args, kw in [
        (torch.nn.Conv2d, jconv.Conv2d, (4, 6, 3), dict(stride=2, padding=1, groups=2)),
        (torch.nn.Conv1d, jconv.Conv1d, (4, 2, 3), dict(padding="same", padding_mode="reflect")),
        (torch.nn.Conv2d, jconv.Conv2d, (4, 2, 3), dict(padding=1, padding_mode="circular")),
        (torch.nn.Conv3d, jconv.Conv3d, (4, 2, 2), dict(padding=1, padding_mode="replicate",
                                                        bias=False)),
        (torch.nn.ConvTranspose2d, jconv.ConvTranspose2d, (4, 2, 3), dict(stride=2)),
    ]:
        tm, jm = tcls(*args, **kw), jcls(*args, **kw)
        assert list(tm.state_dict()) == list(jm.state_dict())
        assert repr(tm) == repr(jm)
        w = jm.weight.detach().numpy()
        bound = 1 / np.sqrt(np.prod(w.shape[1:]))   # kaiming_uniform(a=sqrt(5)) bound
        assert np.abs(w).max() <= bound + 1e-6 and np.abs(w).max() > bound / 2
        jm.load_state_dict({k: jtorch.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        nd = len(tm.kernel_size)
        x = arr(2, 4, *([6] * nd))
        both(lambda x: tm(x), lambda x: jm(x), [x])
        for (n, p), (_, q) in zip(tm.named_parameters(), jm.named_parameters()):
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), atol=1e-4, rtol=1e-4)
    tm, jm = torch.nn.ConvTranspose2d(2, 3, 3, stride=2), jconv.ConvTranspose2d(2, 3, 3, stride=2)
    jm.load_state_dict({k: jtorch.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    both(lambda x: tm(x, output_size=(8, 8)), lambda x: jm(x, output_size=(8, 8)), [arr(1, 2, 3, 3)])


def test_lazy_conv():
    m = jconv.LazyConv2d(5, 3)
    y = m(jtorch.ones(2, 3, 6, 6))
    assert type(m) is jconv.Conv2d and m.in_channels == 3 and tuple(m.weight.shape) == (5, 3, 3, 3)
    assert tuple(y.shape) == (2, 5, 4, 4)
    m = jconv.LazyConvTranspose1d(4, 2)
    assert tuple(m(jtorch.ones(3, 5)).shape) == (4, 6)


# ------------------------------------------------------------------------------ pooling

@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=1, dilation=(2, 1)),
])
def test_max_pool2d_with_indices(kw):
    x = np.round(arr(2, 3, 7, 6))   # ties: torch's gradient goes to the first maximum
    both(lambda x: TF.max_pool2d(x, return_indices=True, **kw),
         lambda x: F.max_pool2d(x, return_indices=True, **kw), [x])
    both(lambda x: TF.max_pool2d(x, **kw), lambda x: F.max_pool2d(x, **kw), [x])


def test_max_pool_1d_3d_and_torch_namespace():
    x = arr(2, 3, 8)
    both(lambda x: TF.max_pool1d(x, 3, 2, 1, return_indices=True),
         lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True), [x])
    both(lambda x: TF.max_pool3d(x, 2, ceil_mode=True), lambda x: F.max_pool3d(x, 2, ceil_mode=True),
         [arr(1, 2, 3, 5, 4)])
    both(lambda x: torch.max_pool2d(x, 2), lambda x: jtorch.max_pool2d(x, 2), [arr(3, 4, 4)])


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, ceil_mode=True, divisor_override=3),
])
def test_avg_pool2d(kw):
    both(lambda x: TF.avg_pool2d(x, **kw), lambda x: F.avg_pool2d(x, **kw), [arr(2, 3, 7, 6)])


def test_avg_lp_pool_1d_3d():
    both(lambda x: TF.avg_pool1d(x, 3, 2, 1, True, False), lambda x: F.avg_pool1d(x, 3, 2, 1, True, False),
         [arr(2, 3, 8)])
    both(lambda x: TF.avg_pool3d(x, 2, 1, 1), lambda x: F.avg_pool3d(x, 2, 1, 1), [arr(1, 2, 3, 4, 3)])
    x = np.abs(arr(2, 3, 6, 6)) + 0.1
    both(lambda x: TF.lp_pool2d(x, 2, 2), lambda x: F.lp_pool2d(x, 2, 2), [x])
    both(lambda x: TF.lp_pool1d(x, 3, 3, 2), lambda x: F.lp_pool1d(x, 3, 3, 2), [x[0]])


@pytest.mark.parametrize("out", [(3, 2), (4, None), 5])
def test_adaptive_pools(out):
    x = arr(2, 3, 7, 5)
    both(lambda x: TF.adaptive_avg_pool2d(x, out), lambda x: F.adaptive_avg_pool2d(x, out), [x])
    both(lambda x: TF.adaptive_max_pool2d(x, out, True), lambda x: F.adaptive_max_pool2d(x, out, True), [x])


def test_adaptive_1d_3d():
    both(lambda x: TF.adaptive_avg_pool1d(x, 4), lambda x: F.adaptive_avg_pool1d(x, 4), [arr(2, 7)])
    both(lambda x: TF.adaptive_max_pool3d(x, (2, 3, 1), True),
         lambda x: F.adaptive_max_pool3d(x, (2, 3, 1), True), [arr(1, 2, 3, 5, 4)])


def test_max_unpool_roundtrip():
    x = arr(2, 3, 6, 4)
    _, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    idx = ti.numpy()
    both(lambda v, i: TF.max_unpool2d(v, i, 2), lambda v, i: F.max_unpool2d(v, i, 2), [arr(2, 3, 3, 2), idx])
    both(lambda v, i: TF.max_unpool2d(v, i, 2, output_size=(7, 5)),
         lambda v, i: F.max_unpool2d(v, i, 2, output_size=(7, 5)), [arr(2, 3, 3, 2), idx])
    same_error(lambda: TF.max_unpool2d(torch.ones(1, 1, 2, 2), torch.tensor([[[[0, 1], [2, 100]]]]), 2),
               lambda: F.max_unpool2d(jtorch.ones(1, 1, 2, 2), jtorch.tensor([[[[0, 1], [2, 100]]]]), 2))


def test_pool_modules():
    x = arr(2, 3, 6, 6)
    for tm, jm in [
        (torch.nn.MaxPool2d(3, 2, 1), jpool.MaxPool2d(3, 2, 1)),
        (torch.nn.AvgPool2d(2, count_include_pad=False), jpool.AvgPool2d(2, count_include_pad=False)),
        (torch.nn.LPPool2d(2, 3), jpool.LPPool2d(2, 3)),
        (torch.nn.AdaptiveAvgPool2d((2, 3)), jpool.AdaptiveAvgPool2d((2, 3))),
        (torch.nn.AdaptiveMaxPool2d(2), jpool.AdaptiveMaxPool2d(2)),
        (torch.nn.Upsample(scale_factor=2, mode="bilinear"), jup.Upsample(scale_factor=2, mode="bilinear")),
        (torch.nn.UpsamplingNearest2d(size=4), jup.UpsamplingNearest2d(size=4)),
        (torch.nn.UpsamplingBilinear2d(scale_factor=1.5), jup.UpsamplingBilinear2d(scale_factor=1.5)),
        (torch.nn.PixelUnshuffle(3), jps.PixelUnshuffle(3)),
        (torch.nn.Unfold(2, padding=1), jfold.Unfold(2, padding=1)),
        (torch.nn.ReflectionPad2d((1, 2, 0, 1)), jpad.ReflectionPad2d((1, 2, 0, 1))),
        (torch.nn.ReplicationPad2d(1), jpad.ReplicationPad2d(1)),
        (torch.nn.CircularPad2d(2), jpad.CircularPad2d(2)),
        (torch.nn.ConstantPad2d(1, 3.5), jpad.ConstantPad2d(1, 3.5)),
        (torch.nn.ZeroPad2d((1, 0, 2, 0)), jpad.ZeroPad2d((1, 0, 2, 0))),
    ]:
        assert repr(tm) == repr(jm)
        abs_x = np.abs(x) + 0.1 if isinstance(tm, torch.nn.LPPool2d) else x
        both(lambda v: tm(v), lambda v: jm(v), [abs_x])


# ------------------------------------------------------------------------------ resampling

@pytest.mark.parametrize("mode,kw", [
    ("nearest", dict(size=(5, 7))),
    ("nearest", dict(scale_factor=1.7)),
    ("nearest-exact", dict(scale_factor=(0.6, 2.0))),
    ("bilinear", dict(size=(5, 3), align_corners=True)),
    ("bilinear", dict(scale_factor=2.3, align_corners=False)),
    ("bilinear", dict(scale_factor=2.3, recompute_scale_factor=True)),
    ("bicubic", dict(size=(7, 5), align_corners=False)),
    ("bicubic", dict(scale_factor=0.7, align_corners=True)),
    ("area", dict(size=(3, 2))),
])
def test_interpolate_2d(mode, kw):
    both(lambda x: TF.interpolate(x, mode=mode, **kw), lambda x: F.interpolate(x, mode=mode, **kw),
         [arr(2, 2, 4, 6)])


def test_interpolate_1d_3d():
    both(lambda x: TF.interpolate(x, scale_factor=2.5, mode="linear"),
         lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"), [arr(2, 3, 4)])
    both(lambda x: TF.interpolate(x, size=(3, 4, 2), mode="trilinear", align_corners=True),
         lambda x: F.interpolate(x, size=(3, 4, 2), mode="trilinear", align_corners=True),
         [arr(1, 2, 2, 3, 4)])
    both(lambda x: TF.interpolate(x, scale_factor=2, mode="nearest"),
         lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), [arr(1, 2, 2, 3, 4)])


@pytest.mark.parametrize("mode,padding_mode,align", [
    ("bilinear", "zeros", False), ("bilinear", "reflection", True),
    ("bilinear", "reflection", False), ("nearest", "border", False),
    ("nearest", "reflection", True), ("bicubic", "zeros", False),
    ("bicubic", "reflection", True), ("bicubic", "border", True),
])
def test_grid_sample_2d(mode, padding_mode, align):
    g = arr(2, 3, 4, 2) * 1.3
    both(lambda x, g: TF.grid_sample(x, g, mode, padding_mode, align),
         lambda x, g: F.grid_sample(x, g, mode, padding_mode, align), [arr(2, 3, 5, 4), g],
         atol=1e-4)


def test_grid_sample_3d_and_affine_grid():
    both(lambda x, g: TF.grid_sample(x, g, "bilinear", "border", False),
         lambda x, g: F.grid_sample(x, g, "bilinear", "border", False),
         [arr(1, 2, 3, 4, 3), arr(1, 2, 2, 3, 3)])
    for align in (False, True):
        both(lambda t: TF.affine_grid(t, (2, 3, 4, 5), align), lambda t: F.affine_grid(t, (2, 3, 4, 5), align),
             [arr(2, 2, 3)])
        both(lambda t: TF.affine_grid(t, (1, 1, 2, 3, 4), align),
             lambda t: F.affine_grid(t, (1, 1, 2, 3, 4), align), [arr(1, 3, 4)])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        F.affine_grid(jtorch.ones(1, 2, 3), (1, 1, 2, 2))
    assert any("align_corners" in str(x.message) for x in w)


# ------------------------------------------------------------------------------ rearrangement

def test_pixel_shuffle_channel_shuffle_fold():
    both(lambda x: TF.pixel_shuffle(x, 2), lambda x: F.pixel_shuffle(x, 2), [arr(2, 8, 3, 2)])
    both(lambda x: TF.pixel_unshuffle(x, 2), lambda x: F.pixel_unshuffle(x, 2), [arr(3, 4, 6)])
    both(lambda x: TF.channel_shuffle(x, 3), lambda x: F.channel_shuffle(x, 3), [arr(2, 6, 2, 2)])
    both(lambda x: torch.pixel_shuffle(x, 2), lambda x: jtorch.pixel_shuffle(x, 2), [arr(4, 3, 2)])
    both(lambda x: TF.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
         lambda x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), [arr(2, 3, 5, 6)])
    both(lambda x: TF.fold(x, (4, 5), 2, padding=1, stride=2), lambda x: F.fold(x, (4, 5), 2, padding=1, stride=2),
         [arr(2, 12, 9)])
    both(lambda x: torch.nn.Fold((3, 3), 2)(x), lambda x: jfold.Fold((3, 3), 2)(x), [arr(8, 4)])


def test_fractional_max_pool_with_given_samples():
    u2, u3 = RNG.random((2, 3, 2)).astype(np.float32), RNG.random((1, 2, 3)).astype(np.float32)
    t2, j2, t3, j3 = torch.tensor(u2), jtorch.tensor(u2), torch.tensor(u3), jtorch.tensor(u3)
    both(lambda x: TF.fractional_max_pool2d(x, (3, 2), output_size=(4, 5), return_indices=True,
                                            _random_samples=t2),
         lambda x: F.fractional_max_pool2d(x, (3, 2), output_size=(4, 5), return_indices=True,
                                           _random_samples=j2), [arr(2, 3, 9, 8)])
    both(lambda x: TF.fractional_max_pool3d(x, 2, output_ratio=0.5, _random_samples=t3),
         lambda x: F.fractional_max_pool3d(x, 2, output_ratio=0.5, _random_samples=j3),
         [arr(1, 2, 7, 8, 6)])
    assert tuple(jpool.FractionalMaxPool2d(2, output_size=3)(jtorch.ones(2, 5, 6)).shape) == (2, 3, 3)

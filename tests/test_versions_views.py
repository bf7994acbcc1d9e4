"""Version counters, the in-place-modified-saved-tensor error, and autograd through
in-place ops on views (CopySlices), against torch."""
import torch

import jtorch
from _autograd_oracle import same


def x0(t):
    return t.tensor([1., 2., 3.], requires_grad=True)


def test_version_counter_bumps():
    def f(t):
        a = t.tensor([1., 2., 3.])
        v = [a._version]
        a.add_(1)
        v.append(a._version)
        a.mul_(2)
        v.append(a._version)
        b = a.view(3, 1)
        b.mul_(2)  # a view shares its base's counter
        v += [a._version, b._version]
        c = a * 2  # out of place: fresh counter
        v.append(c._version)
        return v, a
    same(f)


def test_modified_saved_input_error():
    def f(t):
        x = x0(t)
        y = x * 1
        z = y * y
        y.add_(1)
        z.sum().backward()
    same(f)

    def plain(t):
        a = x0(t)
        b = t.tensor([1., 2., 3.])
        z = a * b
        b.add_(1)
        z.sum().backward()
    same(plain)


def test_unsaved_input_may_change():
    def f(t):
        x = x0(t)
        y = x * 1
        z = y + 2  # add saves nothing
        y.mul_(3)
        z.sum().backward()
        return x.grad
    same(f)


def test_inplace_keeps_correct_history():
    def f(t):
        x = x0(t)
        y = x * 1
        z = y.tanh()
        y.mul_(2)  # tanh saved its result, not y
        (z + y).sum().backward()
        return x.grad, y.grad_fn.name()
    same(f, rtol=1e-4)


def test_inplace_on_view_gradients():
    def view_mul(t):
        x = x0(t)
        y = x * 1
        v = y.view(3, 1)
        v.mul_(2)
        y.sum().backward()
        return x.grad, y.grad_fn.name(), y._version, v._version
    same(view_mul)

    def transposed(t):
        x = x0(t)
        y = x * 1
        v = y.view(3, 1).transpose(0, 1)
        v.mul_(x.view(1, 3))
        (y * y).sum().backward()
        return x.grad, y._version, v._version
    same(transposed)

    def base_then_view(t):
        x = t.tensor([[1., 2.], [3., 4.]], requires_grad=True)
        y = x * 1
        v = y.transpose(0, 1)
        y.mul_(3)  # the view's history follows its base
        (v * t.tensor([[1., 2.], [3., 4.]])).sum().backward()
        return x.grad
    same(base_then_view)


def test_view_of_leaf_inplace_error():
    same(lambda t: x0(t).view(3, 1).mul_(2))


def test_detach_and_data_versions():
    def f(t):
        x = x0(t)
        d = x.detach()
        d.add_(1)
        dd = x.data
        dd.add_(1)
        return x, x._version, d._version, dd._version
    same(f)

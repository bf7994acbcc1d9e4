"""torch.autograd.gradcheck / gradgradcheck: finite differences vs the tape.

The numerical Jacobian perturbs each input element by +-eps (central differences);
the analytical one takes one backward per output element. They must agree within
`atol + rtol * |numerical|` (torch.allclose), else GradcheckError (or False when
raise_exception=False). Only torch's slow mode exists; `fast_mode=True` runs it too.
"""
from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np

from . import grad_mode


class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when the gradients do not match."""


def _tensor_cls():
    from .._tensor import Tensor
    return Tensor


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _diff_outputs(outs):
    Tensor = _tensor_cls()
    return [o for o in outs if isinstance(o, Tensor) and o.requires_grad]


def _check_unsupported(**flags):
    for name, on in flags.items():
        if on:
            raise NotImplementedError(f"torch.autograd.gradcheck({name}=True) is not "
                                      "implemented in jtorch")


def _numerical(func, inputs, wrt, out_index, eps):
    """Per (input i in wrt): array (numel_in, numel_out) for each differentiable output."""
    from .._tensor import wrap
    Tensor = _tensor_cls()
    jacs = {}
    if True:  # grad mode as the caller has it: gradgradcheck's function calls grad()
        for i in wrt:
            x = inputs[i]
            base = np.array(x.detach()._value)
            flat = base.reshape(-1)
            cols = []
            for k in range(flat.size):
                vals = []
                for sign in (1, -1):
                    pert = flat.copy()
                    pert[k] = pert[k] + sign * eps
                    args = list(inputs)
                    args[i] = wrap(jnp.asarray(pert.reshape(base.shape))).requires_grad_(
                        x.requires_grad)
                    outs = _as_tuple(func(*args))
                    vals.append([np.asarray(outs[j]._value, dtype=np.float64).reshape(-1)
                                 if isinstance(outs[j], Tensor) else None for j in out_index])
                cols.append([(p - m) / (2 * eps) for p, m in zip(*vals)])
            jacs[i] = [np.stack([c[j] for c in cols]) if cols else
                       np.zeros((0, 0)) for j in range(len(out_index))]
    return jacs


def _analytical(outputs, inputs, wrt):
    """Per (input i in wrt): array (numel_in, numel_out) for each differentiable output."""
    from . import grad as _grad
    from .._tensor import wrap
    jacs = {i: [] for i in wrt}
    targets = [inputs[i] for i in wrt]
    for out in outputs:
        n = out.numel()
        cols = {i: [] for i in wrt}
        for m in range(n):
            onehot = wrap(jnp.zeros((n,), out._value.dtype).at[m].set(1).reshape(
                tuple(out.shape)))
            gs = _grad([out], targets, [onehot], retain_graph=True, allow_unused=True)
            for i, g in zip(wrt, gs):
                cols[i].append(np.zeros(inputs[i].numel()) if g is None else
                               np.asarray(g._value, dtype=np.float64).reshape(-1))
        for i in wrt:
            jacs[i].append(np.stack(cols[i], axis=1) if cols[i] else
                           np.zeros((inputs[i].numel(), 0)))
    return jacs


def _fmt(a):
    from .._tensor import wrap
    return repr(wrap(jnp.asarray(a)))


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """True if the tape's gradients of `func` at `inputs` match finite differences."""
    _check_unsupported(check_batched_grad=check_batched_grad,
                       check_batched_forward_grad=check_batched_forward_grad,
                       check_forward_ad=check_forward_ad)
    Tensor = _tensor_cls()
    inputs = _as_tuple(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for i in wrt:
        t = inputs[i]
        if t.dtype.is_complex:
            raise NotImplementedError("torch.autograd.gradcheck with complex inputs is not "
                                      "implemented in jtorch")
        if t.dtype.itemsize != 8:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ", stacklevel=2)
    if not check_backward_ad:
        return True
    with grad_mode.enable_grad():
        outs = _as_tuple(func(*inputs))
    all_idx = [j for j, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    diff = [outs[j] for j in all_idx]
    if any(o.dtype.is_complex for o in diff):
        raise NotImplementedError("torch.autograd.gradcheck with complex outputs is not "
                                  "implemented in jtorch")
    analytical = _analytical(diff, inputs, wrt)
    numerical = _numerical(func, inputs, wrt, all_idx, eps)
    for oi, j in enumerate(all_idx):
        for i in wrt:
            a, n = analytical[i][oi], numerical[i][oi]
            if a.shape != n.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
                msg = (f"Jacobian mismatch for output {oi} with respect to input {i},\n"
                       f"numerical:{_fmt(n)}\nanalytical:{_fmt(a)}\n")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """gradcheck of the function (inputs, grad_outputs) -> d<func, grad_outputs>/d inputs."""
    from .._tensor import wrap
    from . import grad as _grad
    _check_unsupported(check_batched_grad=check_batched_grad,
                       check_fwd_over_rev=check_fwd_over_rev)
    Tensor = _tensor_cls()
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        with grad_mode.enable_grad():
            outs = _diff_outputs(_as_tuple(func(*inputs)))
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            wrap(jnp.asarray(rng.standard_normal(tuple(o.shape)), o._value.dtype))
            .requires_grad_(True) for o in outs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def new_func(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = _diff_outputs(_as_tuple(func(*ins)))
        grads = _grad(outs, [ins[i] for i in wrt], list(gos), create_graph=True,
                      allow_unused=True)
        return tuple(g for g in grads if g is not None)

    if not check_rev_over_rev:
        return True
    return gradcheck(new_func, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, fast_mode=fast_mode)

"""Machinery shared by the jtorch.func transforms.

Every transform turns its Tensor inputs into arrays, runs a JAX transform over a pure
function that wraps the arrays back into Tensors and calls the user's jtorch code,
and wraps the resulting arrays. Inside, gradients come from JAX; the jtorch tape
does not see the inner computation. To still compose with an outer jtorch graph:

* explicit inputs that require grad: the whole transform runs under an eager
  `jax.vjp` and its outputs get one tape node (`_record`), differentiable again
  under create_graph=True;
* tensors the function closes over (e.g. a module's own parameters): their use is
  spotted from the tape nodes dispatch records inside, and leaf tensors are lifted
  into inputs (their storage holds a tracer for a second run); history that cannot
  be lifted (a captured non-leaf) gives the outputs a node whose backward raises.

Randomness inside vmap is steered through the default generator's key: a key that
raises ('error'), a traced per-sample key ('different'), or left alone ('same').
"""
from __future__ import annotations

import contextlib
import threading

import jax
import jax.numpy as jnp
import numpy as np

from .. import _random
from .._tensor import Tensor, wrap
from ..autograd import graph as _graph
from ..autograd import grad_mode
from ..autograd.graph import AccumulateGrad, Node
from . import _pytree as P

_GRAD = grad_mode.STATE
_float0 = jax.dtypes.float0


class _State(threading.local):
    depth = 0          # transforms currently running
    start_seq = 0      # Node.seq at the top-level transform's start (older nodes are outside)
    captured = None    # id -> outer leaf tensor requiring grad used inside (None: not tracking)
    external = False   # an outer non-leaf's history was used inside (cannot lift)
    random_modes = ()  # randomness of the active vmaps, innermost last


_S = _State()


def transform_depth():
    """How many jtorch.func transforms are active (0 outside them)."""
    return _S.depth


def _conj(x):
    return jnp.conj(x) if x is not None and jnp.iscomplexobj(x) else x


def _inexact(a):
    return jnp.issubdtype(a.dtype, jnp.inexact)


# ------------------------------------------------------------------------------ user calls

def call_user(func, args, kwargs, differentiating=True):
    """func(*args, **kwargs), noting outer tensors whose history the result carries.

    Differentiating transforms run func with grad mode on, as torch.func does (an outer
    no_grad does not stop them; is_grad_enabled() is True inside)."""
    if differentiating and not _GRAD.grad_enabled:
        with grad_mode.enable_grad():
            out = func(*args, **kwargs)
    else:
        out = func(*args, **kwargs)
    if _S.captured is not None:
        _scan(out)
    return out


def _scan(out):
    leaves, _ = P.flatten(out)
    stack = []
    for t in leaves:
        if isinstance(t, Tensor) and t._rg:
            if t.grad_fn is None:
                _S.captured[id(t)] = t
            else:
                stack.append(t.grad_fn)
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            var = node.variable
            var = var() if not isinstance(var, Tensor) else var   # held weakly
            if var is not None:
                _S.captured[id(var)] = var
        elif node.seq > _S.start_seq:   # recorded before this transform began
            _S.external = True
        else:
            stack.extend(n for n, _ in node.next_functions if n is not None)


# ------------------------------------------------------------------------------ running

def run(name, tensors, body):
    """Run `body(list of arrays) -> list of arrays` on the tensors' values; returns Tensors.

    At the top level with grad mode on, connects the outputs to the jtorch tape
    (see the module docstring)."""
    top = _S.depth == 0
    track = top and _GRAD.grad_enabled
    if top:
        _S.start_seq = -next(_graph._seq)
        _S.captured = {} if track else None
        _S.external = False
    elif _S.captured is not None:
        for t in tensors:   # an outer tensor passed explicitly to a nested transform
            if t._rg and not isinstance(t._value, jax.core.Tracer):
                _S.captured[id(t)] = t
    _S.depth += 1
    try:
        arrays = [t._value for t in tensors]
        need = [track and t._rg and _inexact(a) for t, a in zip(tensors, arrays)]
        if any(need):
            outs = _record(name, tensors, arrays, need, body)
        else:
            outs = [wrap(o) for o in body(arrays)]
        if track and (_S.captured or _S.external):
            captured, external = list(_S.captured.values()), _S.external
            _S.captured = None
            if external:
                outs = _poison(name, outs)
            else:
                outs = _lift(name, tensors, arrays, need, body, captured)
        return outs
    finally:
        _S.depth -= 1
        if top:
            _S.captured = None


def _lift(name, tensors, arrays, need, body, leaves):
    """Rerun with the captured leaves as extra inputs (their storage swapped for the
    traced value during the run)."""
    n = len(tensors)

    def lifted(a):
        saved = [(t._st.arr, t._rg) for t in leaves]
        try:
            for t, v in zip(leaves, a[n:]):
                t._st.arr, t._rg = v, False
            return body(a[:n])
        finally:
            for t, (arr, rg) in zip(leaves, saved):
                t._st.arr, t._rg = arr, rg
    all_t = list(tensors) + leaves
    all_a = list(arrays) + [t._st.arr for t in leaves]
    return _record(name, all_t, all_a, list(need) + [True] * len(leaves), lifted)


def _poison(name, outs):
    def fast(gs):
        raise NotImplementedError(
            f"jtorch.func: backward through {name} is not supported when the transformed "
            "function uses a non-leaf tensor requiring grad from outside the transform; "
            "pass it as an input instead")
    meta = tuple((tuple(o.shape), o._value.dtype) for o in outs)
    node = Node(name, (), fast, None, (), meta)
    return [wrap(o._value, node, i) if _inexact(o._value) else o for i, o in enumerate(outs)]


def _cotangent(g, meta):
    shape, dt = meta
    if not jnp.issubdtype(dt, jnp.inexact):
        return np.zeros(shape, _float0)
    if g is None:
        return jnp.zeros(shape, dt)
    return _conj(jnp.asarray(g).astype(dt))


def _edge(t):
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t._grad_accumulator(), 0)


def _record(name, tensors, arrays, need, body):
    """Eager jax.vjp of the whole transform; one tape node for its outputs."""
    idx = [i for i, m in enumerate(need) if m]

    def pure_at(arrs):
        def f(*diff):
            a = list(arrs)
            for i, d in zip(idx, diff):
                a[i] = d
            return tuple(body(a))
        return f

    outs, vjp_fn = jax.vjp(pure_at(arrays), *[arrays[i] for i in idx])
    meta = tuple((tuple(o.shape), o.dtype) for o in outs)
    diffable = [_inexact(o) for o in outs]
    if not any(diffable):
        return [wrap(o) for o in outs]

    def fast(gs):
        res = vjp_fn(tuple(_cotangent(g, m) for g, m in zip(gs, meta)))
        return [_conj(r) for r in res]

    def graph(gs):
        """create_graph=True: the backward itself as a recorded transform."""
        g_pos = [k for k, g in enumerate(gs) if g is not None]
        ng = len(g_pos)

        def backward(a):
            gv, arrs = a[:ng], a[ng:]
            _, vjp2 = jax.vjp(pure_at(arrs), *[arrs[i] for i in idx])
            full = [None] * len(meta)
            for k, v in zip(g_pos, gv):
                full[k] = v
            return [_conj(r) for r in vjp2(tuple(_cotangent(g, m) for g, m in zip(full, meta)))]
        return run(name + "Backward", [gs[k] for k in g_pos] + list(tensors), backward)

    node = Node(name, tuple(_edge(tensors[i]) for i in idx), fast, graph, (), meta)
    return [wrap(o, node, i) if d else wrap(o) for i, (o, d) in enumerate(zip(outs, diffable))]


# ------------------------------------------------------------------------------ randomness

_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either "
                 "use the 'same' or 'different' randomness flags on vmap or perform the "
                 "randomness operation out of vmap")


class _NoDraw(np.ndarray):
    """A generator key that raises when a random op draws from it."""

    def __getitem__(self, item):
        raise self.exc


def _no_draw(exc):
    k = np.zeros(2, np.uint32).view(_NoDraw)
    k.exc = exc
    return k


def check_randomness(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError("Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


def split_keys(randomness, n):
    """Per-sample generator keys for randomness='different' (one draw of the default
    generator), else None."""
    if randomness != "different":
        return None
    base = _random.default_generator._draw()
    keys = jax.random.split(_random.key_from(jnp.asarray(base)), n)
    return jax.random.key_data(keys)


@contextlib.contextmanager
def random_scope(randomness, key=None, exc=None):
    """Steer the default generator for the body of a vmap (run at trace time)."""
    g = _random.default_generator
    saved = (g._key, g._counter)
    if randomness == "error":
        g._key = _no_draw(exc or RuntimeError(_RANDOM_ERROR))
    elif randomness == "different":
        g._key, g._counter = key, 0
    modes = _S.random_modes
    _S.random_modes = modes + (randomness,)
    try:
        yield
    finally:
        _S.random_modes = modes
        g._key, g._counter = saved


def random_op_hook(generator):
    """For random ops given an explicit generator (the default one is steered through
    its key): raise inside vmap(randomness='error'); 'different' is unsupported there."""
    modes = _S.random_modes
    if not modes or generator is None or generator is _random.default_generator:
        return
    if "error" in modes:
        raise RuntimeError(_RANDOM_ERROR)
    if modes[-1] == "different":
        raise NotImplementedError("jtorch.func.vmap(randomness='different'): random operations "
                                  "with an explicit generator are not supported")

"""Interop with the JAX ecosystem: jtorch modules as pure JAX functions, Flax modules as
jtorch modules, and zero-copy Tensor <-> jax.Array conversion.

* `to_jax(module)` -> `(params, apply_fn)`: `params` is a dict of jax arrays keyed by the
  module's state_dict names; `apply_fn(params, *args, **kwargs)` is pure, so it can be
  jitted, differentiated and fed to optax. `load_jax_params(module, params)` copies
  trained values back.
* `from_flax(flax_module, *example_inputs)` wraps a flax.linen or flax.nnx module as a
  jtorch `nn.Module`: its Flax parameters become jtorch Parameters and its forward is one
  autograd node whose backward is the JAX VJP (`_ops.dispatch.apply_jax`).
* `to_jax_array(t)` / `from_jax_array(a)`: the same buffer seen from the other side.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._tensor import Tensor, wrap
from .autograd import grad_mode
from .nn import Module, Parameter

__all__ = ["to_jax", "load_jax_params", "from_flax", "FlaxModule", "to_jax_array",
           "from_jax_array"]


# ------------------------------------------------------------------------------ arrays

def to_jax_array(t):
    """The jax.Array holding `t`'s values (no copy; jax arrays are immutable, so later
    in-place ops on `t` swap in a new array rather than changing this one)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"to_jax_array(): expected a Tensor, got {type(t).__name__}")
    return t._value


def from_jax_array(a):
    """A Tensor around the jax.Array `a` (no copy)."""
    if not isinstance(a, jax.Array):
        raise TypeError(f"from_jax_array(): expected a jax.Array, got {type(a).__name__}")
    return wrap(a)


def _is_tensor(x):
    return isinstance(x, Tensor)


def _to_tensors(tree):
    """Array leaves (jax, tracers, numpy) -> Tensors; everything else is left alone."""
    def f(x):
        if isinstance(x, jax.Array):
            return wrap(x)
        if isinstance(x, np.ndarray):
            return wrap(jnp.asarray(x))
        return x
    return jax.tree_util.tree_map(f, tree, is_leaf=_is_tensor)


def _to_arrays(tree):
    return jax.tree_util.tree_map(lambda t: t._value if isinstance(t, Tensor) else t, tree,
                                  is_leaf=_is_tensor)


def _pure_call(module, state, args, kwargs):
    """module(*args, **kwargs) with `state` (name -> jax array) swapped in, on arrays.

    Runs without a tape (JAX does the differentiating) and with compile-time evaluation
    of constant sub-expressions, so index bookkeeping on concrete values stays concrete
    when this runs under jax.jit.
    """
    from .func import functional_call
    with grad_mode.no_grad(), jax.ensure_compile_time_eval():
        out = functional_call(module, {k: wrap(v) for k, v in state.items()},
                              tuple(_to_tensors(tuple(args))), _to_tensors(dict(kwargs)))
    return _to_arrays(out)


# ------------------------------------------------------------------------------ to_jax

def _named_state(module, include_buffers):
    """name -> Tensor, parameters first then (optionally) buffers; shared tensors once."""
    seen, out = set(), {}
    items = list(module.named_parameters())
    if include_buffers:
        items += [(n, b) for n, b in module.named_buffers() if b is not None]
    for n, t in items:
        if id(t) not in seen:
            seen.add(id(t))
            out[n] = t
    return out


def to_jax(module, *, include_buffers=False):
    """(params, apply_fn) for `module`.

    params: {state_dict name: jax.Array} of the parameters (plus buffers when
    include_buffers=True). apply_fn(params, *args, **kwargs) runs module.forward on
    jax arrays (array leaves of args become Tensors, outputs become arrays) and is pure:
    jit-, grad- and vmap-able. Buffers not in `params` are read from the module at call
    time (so BatchNorm running stats are constants under jit). The module's train/eval
    mode at call time applies; buffer updates made by the forward (BatchNorm running
    stats in train mode) are not returned — use eval mode or include_buffers and
    `jtorch.func` if you need them. Random ops (dropout in train mode) draw from jtorch's
    global generator, which under jax.jit is fixed at trace time: use eval mode.
    """
    if not isinstance(module, Module):
        raise TypeError(f"to_jax(): expected an nn.Module, got {type(module).__name__}")
    params = {n: t.detach()._value for n, t in _named_state(module, include_buffers).items()}

    def apply_fn(params, *args, **kwargs):
        return _pure_call(module, params, args, kwargs)

    apply_fn.__doc__ = f"Pure forward of {type(module).__name__}: apply_fn(params, *args)."
    return params, apply_fn


def load_jax_params(module, params, *, strict=True):
    """Copy `params` (name -> array, as from to_jax) into the module's tensors, in place.

    strict=True raises torch's load_state_dict error for names the module does not have.
    """
    state = module.state_dict(keep_vars=True)
    unexpected = [k for k in params if k not in state]
    if strict and unexpected:
        raise RuntimeError(
            f"Error(s) in loading state_dict for {type(module).__name__}:\n\t"
            f"Unexpected key(s) in state_dict: {', '.join(repr(k) for k in unexpected)}. ")
    with grad_mode.no_grad():
        for k, v in params.items():
            if k not in state:
                continue
            t = state[k]
            v = jnp.asarray(v)
            if tuple(v.shape) != tuple(t.shape):
                raise RuntimeError(
                    f"Error(s) in loading state_dict for {type(module).__name__}:\n\tsize "
                    f"mismatch for {k}: copying a param with shape {tuple(v.shape)}, the "
                    f"shape in current model is {tuple(t.shape)}.")
            t.copy_(wrap(v))
    return module


# ------------------------------------------------------------------------------ from_flax

def _path_name(path):
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return parts


class _Tree(Module):
    """Holds one level of a Flax variable tree, so state_dict names follow its paths."""


class FlaxModule(Module):
    """A flax.linen / flax.nnx module as a jtorch module.

    Leaves of the Flax `params` collection (nnx.Param variables) become Parameters;
    other collections (batch_stats, ...) become buffers. forward(*args) runs the
    Flax call as one autograd node (backward = the JAX VJP) on the current values.
    Flax-side state updates (mutable collections) are not written back.
    """

    def __init__(self, kind, flax_module, treedef, names, values, trainable, graphdef):
        super().__init__()
        self._kind, self._flax, self._treedef = kind, flax_module, treedef
        self._graphdef = graphdef
        self._fns = {}
        # leaves that are not numeric arrays (PRNG key state, Python values) stay constants
        self._consts = {i: v for i, v in enumerate(values) if not _numeric(v)}
        self._names = [n for i, n in enumerate(names) if i not in self._consts]
        for i, (name, v, tr) in enumerate(zip(names, values, trainable)):
            if i in self._consts:
                continue
            parent = self
            parts = name.split(".")
            for p in parts[:-1]:
                child = parent._modules.get(p)
                if child is None:
                    child = _Tree()
                    parent.add_module(p, child)
                parent = child
            t = wrap(jnp.asarray(v))
            if tr:
                parent.register_parameter(parts[-1], Parameter(t))
            else:
                parent.register_buffer(parts[-1], t)

    def _leaves(self):
        state = self.state_dict(keep_vars=True)
        return [state[n] for n in self._names]

    def _fn(self, spec, statics, n_leaves):
        key = (spec, statics)
        fn = self._fns.get(key)
        if fn is not None:
            return fn
        out_def = []

        def fn(*arrays):
            leaves, inputs = iter(arrays[:n_leaves]), arrays[n_leaves:]
            n_all = n_leaves + len(self._consts)
            full_leaves = [self._consts[i] if i in self._consts else next(leaves)
                           for i in range(n_all)]
            tree = jax.tree_util.tree_unflatten(self._treedef, full_leaves)
            slots = list(statics)
            it = iter(inputs)
            full = [next(it) if s is _TENSOR else s for s in slots]
            args, kwargs = jax.tree_util.tree_unflatten(spec, full)
            if self._kind == "linen":
                out = self._flax.apply(tree, *args, **kwargs)
            else:
                from flax import nnx
                out = nnx.merge(self._graphdef, tree)(*args, **kwargs)
            flat, od = jax.tree_util.tree_flatten(out)
            out_def[:] = [od]
            return tuple(flat)
        fn.out_def = out_def
        self._fns[key] = fn
        return fn

    def forward(self, *args, **kwargs):
        from ._ops.dispatch import apply_jax
        leaves, spec = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_tensor)
        tensors = [x for x in leaves if isinstance(x, Tensor)]
        statics = tuple(_TENSOR if isinstance(x, Tensor) else x for x in leaves)
        params = self._leaves()
        fn = self._fn(spec, statics, len(params))
        outs = apply_jax(fn, params + tensors, name="FlaxBackward")
        return jax.tree_util.tree_unflatten(fn.out_def[0], list(outs))

    def extra_repr(self):
        return f"{self._kind}: {type(self._flax).__name__}"


def _numeric(v):
    return isinstance(v, (jax.Array, np.ndarray)) and not jax.dtypes.issubdtype(
        v.dtype, jax.dtypes.prng_key) and v.dtype.kind in "biufc"


class _TensorSlot:
    def __repr__(self):
        return "<tensor>"


_TENSOR = _TensorSlot()


def from_flax(flax_module, *example_inputs, rngs=None, params=None, **example_kwargs):
    """Wrap a Flax module as a jtorch nn.Module.

    flax.linen: variables come from `params` (the dict `module.init` returns) or from
    `flax_module.init(rngs, *example_inputs, **example_kwargs)` (rngs: a PRNG key, an int
    seed or a dict of keys; default seed 0). flax.nnx: the module already holds its
    state; example inputs are not needed. Variables in the `params` collection (nnx.Param)
    are trainable Parameters named by their Flax path ("params.Dense_0.kernel"); other
    collections become buffers.
    """
    try:
        from flax import linen, nnx
    except ImportError as e:
        raise ImportError("jtorch.interop.from_flax needs Flax: pip install flax") from e
    if isinstance(flax_module, linen.Module):
        if params is None:
            if rngs is None:
                rngs = 0
            if isinstance(rngs, int):
                rngs = jax.random.PRNGKey(rngs)
            args = _to_arrays(example_inputs)
            kwargs = _to_arrays(example_kwargs)
            params = flax_module.init(rngs, *args, **kwargs)
        variables = jax.tree_util.tree_map(jnp.asarray, dict(params))
        flat, treedef = jax.tree_util.tree_flatten_with_path(variables)
        names = [".".join(_path_name(p)) for p, _ in flat]
        trainable = [n.split(".")[0] == "params" for n in names]
        return FlaxModule("linen", flax_module, treedef, names, [v for _, v in flat],
                          trainable, None)
    if isinstance(flax_module, nnx.Module):
        graphdef, state = nnx.split(flax_module)
        flat, treedef = jax.tree_util.tree_flatten_with_path(state)
        paths = [tuple(_path_name(p)) for p, _ in flat]
        param_paths = {tuple(_path_name(p)) for p, _ in jax.tree_util.tree_flatten_with_path(
            nnx.state(flax_module, nnx.Param))[0]}
        trainable = [p in param_paths for p in paths]
        # a Variable's pytree path ends in ".value": name the tensor after the variable
        names = [".".join(p[:-1] if len(p) > 1 and p[-1] == "value" else p) for p in paths]
        return FlaxModule("nnx", flax_module, treedef, names, [v for _, v in flat],
                          trainable, graphdef)
    raise TypeError(f"from_flax(): expected a flax.linen.Module or flax.nnx.Module, got "
                    f"{type(flax_module).__name__}")

"""torch.onnx.export for jtorch modules: trace to a jaxpr, lower each primitive to ONNX.

The module runs through `interop._pure_call` (functional_call on jax values) under
`jax.make_jaxpr`, with parameters and inputs as abstract arguments; everything that does
not depend on them is folded to constants while tracing. Parameters and buffers become
initializers named by their state_dict keys. Dynamic axes come from extra traces at
other sizes (see _graph.py).
"""
from __future__ import annotations

import contextlib
import inspect
import warnings

import jax
import numpy as np

from .. import _errors, _random
from .._tensor import Tensor
from . import _graph, _lower

DEFAULT_OPSET = 18
MIN_OPSET = 13

_STATE = {"exporting": False}
# size-valued params: read from the fitted output shapes (or fitted, for slice) instead
_SIZE_PARAMS = {"new_sizes", "shape", "slice_sizes", "start_indices", "limit_indices",
                "sharding", "out_sharding"}


def is_in_onnx_export():
    """True while jtorch.onnx.export is tracing the model."""
    return _STATE["exporting"]


@contextlib.contextmanager
def _exporting():
    prev = _STATE["exporting"]
    _STATE["exporting"] = True
    try:
        yield
    finally:
        _STATE["exporting"] = prev


def import_onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as e:
        raise ImportError("torch.onnx.export needs the 'onnx' package: pip install onnx") from e
    return onnx


def _is_tensor(x):
    return isinstance(x, Tensor)


def _default_input_names(model, args, kwargs):
    """forward's parameter names for top-level Tensor arguments, else input_<i>."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    pos = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = []
    for i, a in enumerate(args):
        base = pos[i] if i < len(pos) else f"input_{i}"
        sub = [x for x in jax.tree_util.tree_leaves(a, is_leaf=_is_tensor) if _is_tensor(x)]
        names += [base] if _is_tensor(a) else [f"{base}_{j}" for j in range(len(sub))]
    for k, a in kwargs.items():
        sub = [x for x in jax.tree_util.tree_leaves(a, is_leaf=_is_tensor) if _is_tensor(x)]
        names += [k] if _is_tensor(a) else [f"{k}_{j}" for j in range(len(sub))]
    return names


def _parse_dynamic_axes(dynamic_axes, in_names, out_names, in_shapes, warn=True):
    """-> symbols [(name, [(input index, axis)])], output labels {(out index, axis): name}."""
    syms, out_labels = {}, {}
    for key, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            pairs = [(int(a), str(n)) for a, n in axes.items()]
        elif isinstance(axes, (list, tuple)):
            pairs = [(int(a), f"{key}_dynamic_axes_{j + 1}") for j, a in enumerate(axes)]
        else:
            raise TypeError(f"dynamic_axes value for {key!r} must be a dict or list, got "
                            f"{type(axes).__name__}")
        if key in in_names:
            i = in_names.index(key)
            rank = len(in_shapes[i])
            for a, n in pairs:
                if not -rank <= a < rank:
                    raise IndexError(f"dynamic_axes: axis {a} out of range for input {key!r} "
                                     f"of rank {rank}")
                syms.setdefault(n, []).append((i, a % rank))
        elif key in out_names:
            j = out_names.index(key)
            for a, n in pairs:
                out_labels[(j, a)] = n
        elif warn:
            warnings.warn(f"Provided key {key} for dynamic axes is not a valid input/output "
                          "name")
    return list(syms.items()), out_labels


def _trace(fn, state_specs, input_specs):
    out_tree = []

    def traced(state, inputs):
        flat, tree = jax.tree_util.tree_flatten(fn(state, inputs))
        out_tree[:] = [tree]
        return [x for x in flat if isinstance(x, jax.Array)]
    closed = jax.make_jaxpr(traced)(state_specs, input_specs)
    return closed, out_tree[0]


def _eq(a, b):
    if isinstance(a, (np.ndarray, jax.Array, np.generic, float)) or \
            isinstance(b, (np.ndarray, jax.Array, np.generic, float)):
        try:
            return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
        except TypeError:
            return np.array_equal(np.asarray(a), np.asarray(b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - params without a usable ==
        return a is b


def _check_params(flats, sizes):
    """Params other than sizes must not change with the dynamic sizes; slice bounds are
    fitted. Literals and folded constants are checked too."""
    g0 = flats[0]
    for n, e in enumerate(g0.eqns):
        others = [g.eqns[n] for g in flats]
        for k, v in e.params.items():
            if k in _SIZE_PARAMS:
                continue
            if not all(_eq(v, o.params.get(k)) for o in others[1:]):
                raise NotImplementedError(
                    f"torch.onnx.export: dynamic_axes: the '{e.prim}' operation's {k} "
                    "depends on a dynamic size; export without dynamic_axes for this model")
        for j, r in enumerate(e.ins):
            if isinstance(r, _graph.Lit) and not all(
                    _eq(r.val, o.ins[j].val) for o in others[1:]):
                size = _int_size(sizes, [o.ins[j].val for o in others], r.aval.dtype)
                if size is not None:
                    r.sym = size
                    continue
                raise NotImplementedError(
                    f"torch.onnx.export: dynamic_axes: a constant used by '{e.prim}' "
                    "depends on a dynamic size (e.g. a mean over a dynamic axis); export "
                    "without dynamic_axes for this model")
        if e.prim == "slice":
            e.params["_fit"] = [
                (sizes.fit([o.params["start_indices"][ax] for o in others], "a slice start"),
                 sizes.fit([o.params["limit_indices"][ax] for o in others], "a slice end"))
                for ax in range(len(e.params["start_indices"]))]


def _int_size(sizes, vals, dtype):
    """An integer scalar that follows the dynamic sizes (index normalisation like
    `i + size`): its Sym, else None."""
    if np.dtype(dtype).kind not in "iu":
        return None
    d = sizes.fit([int(np.asarray(v)) for v in vals], "", strict=False)
    return d if isinstance(d, _graph.Sym) else None


def _dynamic_consts(flats, shapes, sizes):
    """Folded constants whose shape follows a dynamic size must be a fill (zeros, ones)."""
    out = {}
    g0 = flats[0]
    for i, c in g0.consts.items():
        vals = [np.asarray(g.consts[i]) for g in flats]
        if all(v.shape == vals[0].shape and np.array_equal(v, vals[0]) for v in vals[1:]):
            continue
        if vals[0].shape == ():
            size = _int_size(sizes, vals, vals[0].dtype)
            if size is not None:
                out[i] = ("size", size, None)
                continue
        flat0 = vals[0].reshape(-1)
        fill = flat0[:1]
        if fill.size and all(v.size and (v == fill[0]).all() for v in vals):
            out[i] = ("fill", fill.reshape(()), shapes[i])
            continue
        raise NotImplementedError(
            "torch.onnx.export: dynamic_axes: the model builds a constant whose values depend "
            "on a dynamic size; export without dynamic_axes for this model")
    return out


def build_model(model, args, kwargs, *, input_names, output_names, dynamic_axes, opset,
                export_params, keep_initializers_as_inputs):
    onnx = import_onnx()
    from ..interop import _named_state, _pure_call

    state = _named_state(model, include_buffers=True)
    state_names = list(state)
    state_arrays = [t.detach()._value for t in state.values()]
    leaves, spec = jax.tree_util.tree_flatten((tuple(args), dict(kwargs)), is_leaf=_is_tensor)
    tpos = [i for i, x in enumerate(leaves) if _is_tensor(x)]
    inputs = [leaves[i]._value for i in tpos]

    names = [n + "_input" if n in state else n
             for n in _default_input_names(model, args, kwargs)]
    if input_names is not None:
        if len(input_names) > len(names):
            raise RuntimeError(f"number of input names provided ({len(input_names)}) "
                               f"exceeded number of inputs ({len(names)})")
        names[:len(input_names)] = list(input_names)
    if len(set(names) | set(state_names)) != len(names) + len(state_names):
        raise ValueError(f"torch.onnx.export: input names {names} repeat or clash with the "
                         "model's parameter names")

    def fn(st, ins):
        cur = list(leaves)
        for p, a in zip(tpos, ins):
            cur[p] = a
        a, k = jax.tree_util.tree_unflatten(spec, cur)
        return _pure_call(model, dict(zip(state_names, st)), a, k)

    state_specs = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in state_arrays]
    in_shapes = [tuple(a.shape) for a in inputs]
    # output names are known only after a trace; parse them from dynamic_axes keys later
    syms, _ = _parse_dynamic_axes(dynamic_axes, names, [], in_shapes, warn=False)
    base = [max(in_shapes[uses[0][0]][uses[0][1]], 2) for _, uses in syms]
    plans = [base] + [[b + (1 if k == j else 0) for k, b in enumerate(base)]
                      for j in range(len(base))] + ([[b + 2 for b in base]] if base else [])

    def specs(vals):
        shapes = [list(s) for s in in_shapes]
        for (_, uses), v in zip(syms, vals):
            for i, ax in uses:
                shapes[i][ax] = v
        return [jax.ShapeDtypeStruct(tuple(s), a.dtype) for s, a in zip(shapes, inputs)]

    traced_error = getattr(_errors, "TracedValueError", None)
    closeds = []
    gen = _random.default_generator
    counter = gen._counter
    with _exporting():
        try:
            for vals in plans:
                closeds.append(_trace(fn, state_specs, specs(vals)))
        except jax.errors.ConcretizationTypeError as e:
            raise _data_dependent(e) from e
        except RuntimeError as e:
            if (traced_error is not None and isinstance(e, traced_error)) or \
                    "needs a concrete value" in str(e):
                raise _data_dependent(e) from e
            raise
    if gen._counter != counter:
        gen._counter = counter
        raise NotImplementedError(
            "torch.onnx.export: the model draws random numbers in forward (dropout or "
            "another random op in training mode); ONNX export would freeze one draw. Export "
            "in eval mode (training=TrainingMode.EVAL, the default)")
    flats = [_graph.flatten(c) for c, _ in closeds]
    g = flats[0]
    n_out = len(g.outputs)
    if not n_out:
        raise RuntimeError("torch.onnx.export: the model returned no tensors")
    if output_names is None:
        output_names = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    output_names = list(output_names) + [f"output_{i}" for i in range(len(output_names),
                                                                       n_out)]
    output_names = output_names[:n_out]
    _, out_labels = _parse_dynamic_axes(dynamic_axes, names, output_names, in_shapes)

    if syms:
        _graph.align(flats)
        sizes = _graph.SizeFit(base, [p[k] for k, p in enumerate(plans[1:-1])], plans[-1])
        shapes = _graph.symbolic_shapes(flats, sizes)
        _check_params(flats, sizes)
        dyn = _dynamic_consts(flats, shapes, sizes)
    else:
        sizes = _graph.SizeFit([], [], [])
        shapes = [[int(d) for d in a.shape] for a in g.avals]
        _check_params(flats, sizes)
        dyn = {}

    n_state = len(state_names)
    fixed = {v: n for v, n in zip(g.inputs[:n_state], state_names)}
    fixed.update({v: n for v, n in zip(g.inputs[n_state:], names)})
    sym_sources = [(names[uses[0][0]], uses[0][1]) for _, uses in syms]
    b = _lower.Builder(onnx, g, shapes, sym_sources, opset, fixed)
    b.dynamic_consts = dyn
    live = _graph.live_eqns(g)
    _lower.lower(b, live)
    for ref, oname in zip(g.outputs, output_names):
        b.nodes.append(onnx.helper.make_node("Identity", [b.name(ref)], [oname],
                                             name=oname + "_identity"))

    used = {r for e in live for r in e.ins if isinstance(r, int)}
    used |= {r for r in g.outputs if isinstance(r, int)}
    sym_names = [n for n, _ in syms]

    def value_info(name, aval, dims, labels=None):
        shape = []
        for ax, d in enumerate(dims):
            if isinstance(d, _graph.Sym):
                if labels and ax in labels:
                    shape.append(labels[ax])
                elif d.const == 0 and len(d.coeffs) == 1 and d.coeffs[0][1] == 1:
                    shape.append(sym_names[d.coeffs[0][0]])
                else:
                    shape.append(None)
            else:
                shape.append(int(d))
        return onnx.helper.make_tensor_value_info(name, b.elem(aval.dtype), shape)

    graph_inputs, inits = [], []
    for v, n in zip(g.inputs[n_state:], names):
        graph_inputs.append(value_info(n, g.avals[v], shapes[v]))
    for v, n, arr in zip(g.inputs[:n_state], state_names, state_arrays):
        if v not in used:
            continue
        if export_params:
            inits.append(onnx.numpy_helper.from_array(np.asarray(arr), n))
        if not export_params or keep_initializers_as_inputs:
            graph_inputs.append(value_info(n, g.avals[v], shapes[v]))
    outputs = []
    for j, (ref, oname) in enumerate(zip(g.outputs, output_names)):
        labels = {ax: n for (jj, ax), n in out_labels.items() if jj == j}
        outputs.append(value_info(oname, b.aval(ref), b.dims(ref), labels))
    graph = onnx.helper.make_graph(b.nodes, "main_graph", graph_inputs, outputs,
                                   initializer=inits + b.inits)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="jtorch",
                                   producer_version=_jtorch_version())
    proto.ir_version = max(onnx.helper.find_min_ir_version_for(opsets), 8)
    return proto


def _jtorch_version():
    import jtorch
    return jtorch.__jtorch_version__


def _data_dependent(e):
    return NotImplementedError(
        "torch.onnx.export: the model's Python code needs the value of a tensor that is an "
        "input of the exported graph (e.g. `if x.sum() > 0`, `.item()`, or a mask checked "
        f"for causality); ONNX graphs cannot follow that. Underlying error: {e}")

"""One compiled function: guards, a cache of traced entries, the call and the write-back.

A call walks the function's state (`state.discover`), builds the guard key, and runs
the matching entry. An entry is made by running the user's function ONCE under
`jax.make_jaxpr` with every lifted array replaced by a tracer in place (the Tensors keep
their identity, so closures, views, hooks and the tape all work unchanged), collecting
what the function returned and what state it wrote, and restoring everything. The
jaxpr is then jitted with the written state donated. Each later call gathers the
current arrays, runs the executable and writes the new values back into the same
storages: parameters, buffers, grads, optimizer state, RNG counters.
"""
from __future__ import annotations

import gc
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import ClosedJaxpr, Literal, jaxpr_as_fun

from .. import _tensor
from .._donation import donatable
from .._errors import TracedValueError
from .._tensor import Tensor, wrap
from ..autograd import grad_mode
from . import state as S
from .repeat import LastCall
from .tracking import LiftedCounter, Tracker

_UNTRACEABLE = (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                jax.errors.TracerIntegerConversionError, jax.errors.TracerArrayConversionError,
                jax.errors.NonConcreteBooleanIndexError, TracedValueError)
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_JAX_DIR = os.path.dirname(os.path.abspath(jax.__file__))
_EAGER = object()
_is_tensor = lambda x: isinstance(x, Tensor)  # noqa: E731


class CompileError(RuntimeError):
    """What `fullgraph=True` raises when part of the function cannot be traced."""


class CompiledFunction:
    """The callable `jtorch.compile(fn)` returns."""

    def __init__(self, fn, *, fullgraph=False, roots=None, name=None):
        self.fn = fn
        self.fullgraph = fullgraph
        self.roots = list(roots) if roots is not None else [fn]
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)
        self._cache = {}
        self._extra = []           # storages a trace wrote that the walk had not found
        self._walk = None          # the last state walk, reused while its checks hold
        self._last = None          # what the last call's guard key was built from
        self._consts = S.ConstsTable()  # tokens for the Python constants in guard keys
        self.trace_count = 0       # how many times the Python function was traced
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    # ------------------------------------------------------------------ call
    def __call__(self, *args, **kwargs):
        if _tensor._TRACK is not None:  # inside another compiled function: inline
            return self.fn(*args, **kwargs)
        leaves, treedef, arg_tensors, roots = self._split_args(args, kwargs)
        walk = self._walk
        if walk is None or not walk.still_valid(roots):
            walk = self._walk_again(roots)
        last, state, made = self._last, None, ()
        if last is not None:
            state = last.repeat(walk, treedef, leaves, arg_tensors, len(self._extra))
        if state is not None:
            # nothing to provision: the optimizers' state, their params' requires_grad and
            # their groups are those of the last call, after which every param had state
            # (or the state made for it was dropped, which changed what the walk saw)
            entries = last.entries
        else:
            made = [(o, o._compile_provision()) for o in walk.state.optimizers
                    if hasattr(o, "_compile_provision")]
            if any(m for _, m in made):  # first-step optimizer state now exists: walk again
                walk = self._walk_again(roots)
            state = walk.state_for(arg_tensors, self._extra)
            try:
                key = _guard_key(treedef, leaves, state)
            except KeyError:  # a tensor's storage was swapped (p.data = ...): walk again
                walk = self._walk_again(roots)
                state = walk.state_for(arg_tensors, self._extra)
                key = _guard_key(treedef, leaves, state)
            entries = self._cache.setdefault(key, [])
            self._last = LastCall.record(walk, state, treedef, key[1], arg_tensors,
                                         len(self._extra), key[3], entries)
        entry = next((e for e in entries if e is _EAGER or e.matches(state)), None)
        stepped = ()
        try:
            if entry is None:
                self._walk = self._last = None  # a trace may create state (a cache, ...)
                entry = self._trace(state, leaves, treedef, roots, arg_tensors)
                if entry is _EAGER or not entry.single_use:
                    entries.append(entry)
            if entry is _EAGER:
                for o, m in made:  # the eager step creates its state itself, as torch
                    o._compile_unprovision(m)
                made = ()
                return self.fn(*args, **kwargs)
            stepped = entry.stepped_ids
            return entry.run(state, leaves)
        finally:
            for o, m in made:
                o._compile_unprovision([p for p in m if id(p) not in stepped])

    # ------------------------------------------------------------------ tracing
    def _split_args(self, args, kwargs):
        """(leaves, treedef, argument tensors, walk roots): non-tensor arguments such as a
        module passed in are walked for state like the function itself."""
        if not kwargs and all(isinstance(a, Tensor) for a in args):  # the usual step(x, y)
            return list(args), _tensor_args_treedef(len(args)), args, self.roots
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_tensor)
        arg_tensors = [x for x in leaves if isinstance(x, Tensor)]
        roots = self.roots + [x for x in leaves if not isinstance(x, (Tensor,) + S._SCALARS)]
        return leaves, treedef, arg_tensors, roots

    def _walk_again(self, roots):
        self._walk = S.Walk(roots, self._consts)
        return self._walk

    def _trace(self, state, leaves, treedef, roots, arg_tensors, retries=3):
        self.trace_count += 1
        entry = _Entry(state)
        flat_in = entry.inputs_for_trace(state)

        def traced(*xs):
            return entry.trace_body(self.fn, self.roots, state, xs, leaves, treedef)

        try:
            closed = jax.make_jaxpr(traced)(*flat_in)
        except _UNTRACEABLE as exc:
            return self._untraceable(exc)
        escaped = entry.escaped()
        if escaped and retries:
            # the function wrote tensors the walk did not find: lift them and trace again
            self._extra.extend(escaped)
            state2 = S.discover(roots, arg_tensors, self._extra, self._consts)
            return self._trace(state2, leaves, treedef, roots, arg_tensors, retries - 1)
        entry.build(closed)
        return entry

    def _untraceable(self, exc):
        where = _user_frame(exc.__traceback__)
        msg = (f"jtorch.compile({self.name}): cannot trace {type(exc).__name__} at {where}. "
               "Why: this line needs a concrete value (e.g. .item(), bool(tensor), a "
               "data-dependent shape) while the function is being compiled into one "
               "program. Fix: keep the value as a tensor (torch.where instead of `if`), or "
               "move that line out of the compiled function.")
        if self.fullgraph:
            raise CompileError(msg + " (fullgraph=True forbids falling back to eager)") from exc
        warnings.warn(msg + " Falling back to eager execution for these inputs.",
                      RuntimeWarning, stacklevel=4)
        return _EAGER

    def memory_analysis(self, *args, **kwargs):
        """XLA's memory analysis of the program these arguments run (after one call with
        them): argument, output and temporary bytes, e.g. to check peak memory."""
        leaves, treedef, arg_tensors, roots = self._split_args(args, kwargs)
        state = S.discover(roots, arg_tensors, self._extra, self._consts)
        key = _guard_key(treedef, leaves, state)
        for e in self._cache.get(key, ()):
            if e is not _EAGER and e.matches(state):
                fn = e.jitted if not e.diff else e.fwd
                return fn.lower(*e.gather(state), *e.consts).compile().memory_analysis()
        raise RuntimeError("memory_analysis: call the compiled function with these "
                           "arguments first")

    def __repr__(self):
        return f"<jtorch.compile'd {self.name}>"


_ARGS_TREEDEFS = {}


def _tensor_args_treedef(n):
    """The treedef of ((t1, ..., tn), {}): what tree_flatten gives for n tensor arguments."""
    td = _ARGS_TREEDEFS.get(n)
    if td is None:
        td = _ARGS_TREEDEFS[n] = jax.tree_util.tree_structure(
            (tuple(object() for _ in range(n)), {}))
    return td


def _guard_key(treedef, leaves, state):
    """Everything a traced entry was specialized on (raises KeyError for a tensor whose
    storage is not the walked one). `LastCall` relies on this layout."""
    return (treedef, tuple(map(S.leaf_key, leaves)), state.key(), S.context_key(),
            state.arg_slots)


def _user_frame(tb):
    """'file:line: code' of the innermost frame outside jtorch and jax."""
    import linecache
    found = None
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        path = os.path.abspath(f)
        if not (path.startswith(_PKG_DIR) or path.startswith(_JAX_DIR)):
            found = (f, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return "an unknown line"
    line = linecache.getline(found[0], found[1]).strip()
    return f"{found[0]}:{found[1]}: `{line}`"


_KEYS = {}


def _device_key(k):
    """A generator's host key as a device array, converted once per key (not per call)."""
    if isinstance(k, jax.Array):
        return k
    hit = _KEYS.get(id(k))
    if hit is None or hit[0] is not k:
        if len(_KEYS) > 64:
            _KEYS.clear()
        hit = _KEYS[id(k)] = (k, jnp.asarray(k, jnp.uint32))
    return hit[1]


_DEVICE_SCALARS = {}


def _device_scalar(v):
    """A Python number input (a learning rate, a generator's counter) as a device scalar,
    made once per value: jit converts a Python scalar argument on every call (~15 us
    each after a step has run, measured on CPU) but passes an array straight through.
    `jax.device_put` keeps the number's weak type, so the program's signature is the
    same (jnp.asarray would too, but compiles a conversion the first time, ~15 ms)."""
    k = (type(v), v) if v or type(v) is not float else (float, str(v))  # (0.0 vs -0.0)
    a = _DEVICE_SCALARS.get(k)
    if a is None:
        if len(_DEVICE_SCALARS) > 256:  # (a schedule makes a new lr on every step)
            _DEVICE_SCALARS.clear()
        a = _DEVICE_SCALARS[k] = jax.device_put(v)
    return a


class _Entry:
    """One traced specialization: its input layout, write-back plan and executables."""

    def __init__(self, state):
        self.n_storages = len(state.storages)
        self.arg_storage_ids = set(range(state.arg_start, len(state.storages)))
        self.present_grads = [j for j, g in enumerate(state.grad_tensors) if g is not None]
        self.n_lr = len(state.hypers)
        self.n_gen = len(state.generators)
        self.n_val = len(state.value_args)
        self.single_use = False
        self.stepped_ids = set()
        self.select = None  # positions `gather` keeps (see `build`)

    # --------------------------------------------------------------- inputs
    def inputs_for_trace(self, state):
        xs = [st.arr for st in state.storages]
        xs += [state.grad_tensors[j]._st.arr for j in self.present_grads]
        xs += [S.hyper_get(*h) for h in state.hypers]
        for gen in state.generators:
            xs += [_device_key(gen._key), gen._counter]
        xs += [t._value for t in state.value_args]
        return xs

    def gather(self, state):
        """The current input arrays, in the kept layout (unread grads dropped)."""
        xs = [st.arr for st in state.storages]
        gt = state.grad_tensors
        xs += [gt[j]._st.arr for j in self.grad_inputs]
        xs += [_device_scalar(S.hyper_get(*h)) for h in state.hypers]
        for gen in state.generators:
            xs += [_device_key(gen._key), _device_scalar(gen._counter)]
        xs += [t._value for t in state.value_args]
        if self.select is not None:
            xs = list(map(xs.__getitem__, self.select))
        return xs

    def matches(self, state):
        gt = state.grad_tensors
        return all((gt[j] is not None) == present for j, present in self.grad_req)

    # --------------------------------------------------------------- the traced body
    def trace_body(self, fn, roots, state, xs, leaves, treedef):
        tracker = Tracker(state)
        self._tracker = tracker
        saved = _install(state, self, xs)
        prev = _tensor._TRACK
        subs = {}
        for t, x in zip(state.value_args, xs[len(xs) - self.n_val:]):
            leaf = wrap(x)
            leaf._rg = t._rg
            subs[id(t)] = leaf
        call_leaves = [subs.get(id(x), x) if isinstance(x, Tensor) else x for x in leaves]
        args, kwargs = jax.tree_util.tree_unflatten(treedef, call_leaves)
        _tensor._TRACK = tracker
        try:
            out = fn(*args, **kwargs)
            _tensor._TRACK = None
            return self._collect(out, roots, state, xs, tracker)
        finally:
            _tensor._TRACK = prev
            _restore(state, saved, tracker)

    def _collect(self, out, roots, state, xs, tracker):
        outs = []
        # what the user gets back
        out_leaves, self.out_tree = jax.tree_util.tree_flatten(out, is_leaf=_is_tensor)
        self.out_spec = []
        for x in out_leaves:
            if isinstance(x, Tensor):
                self.out_spec.append(("t", x._rg))
                outs.append(x._value)
            elif isinstance(x, jax.Array):
                self.out_spec.append(("a", False))
                outs.append(x)
            else:
                self.out_spec.append(("c", x))
        self.n_user = len(outs)
        # state storages written in place
        self.written = [i for i, st in enumerate(state.storages) if st.arr is not xs[i]]
        self.bumps = []
        for i in self.written:  # one version counter per tensor family on that storage
            st, seen, bump = state.storages[i], set(), []
            for k, t in enumerate(state.tensors):
                if t._st is st and id(t._vc) not in seen:
                    seen.add(id(t._vc))
                    bump.append(k)
            self.bumps.append(bump)
        outs += [state.storages[i].arr for i in self.written]
        # grad slots
        self.grad_req = tuple((j, state.grad_tensors[j] is not None)
                              for j, w in sorted(tracker.first.items()) if not w)
        read_first = {j for j, _ in self.grad_req}
        self.grad_inputs = [j for j in self.present_grads if j in read_first]
        base = self.n_storages
        self.grad_plan = []
        for j, owner in enumerate(state.grad_owners):
            if j not in tracker.first:
                continue
            now, orig = owner._grad, state.grad_tensors[j]
            if now is orig:
                if orig is not None:
                    k = base + self.present_grads.index(j)
                    if orig._st.arr is not xs[k]:
                        self.grad_plan.append(("inplace", j))
                        outs.append(orig._st.arr)
            elif now is None:
                self.grad_plan.append(("none", j))
            else:
                self.grad_plan.append(("new", j))
                outs.append(now._value)
        # tensors that became state during the call (e.g. a cache assigned to a module)
        after = S.discover(roots)
        known = {id(st) for st in state.storages}
        known.update(id(g._st) for g in state.grad_tensors if g is not None)
        grads_now = {id(o._grad) for o in state.grad_owners if o._grad is not None}
        self.new_state = []
        for t in after.tensors:
            if id(t._st) not in known and id(t) not in grads_now \
                    and isinstance(t._st.arr, jax.core.Tracer):
                known.add(id(t._st))
                self.new_state.append(t)
                outs.append(t._st.arr)
        self.single_use = bool(self.new_state)
        self._handled = {id(t._st) for t in self.new_state}
        # learning rates the function itself assigned
        lr0 = base + len(self.present_grads)
        self.lr_plan = [i for i, h in enumerate(state.hypers)
                        if S.hyper_get(*h) is not xs[lr0 + i]]
        outs += [S.hyper_get(*state.hypers[i]) for i in self.lr_plan]
        # generators: draws are counted on the host; a reseed inside is a constant
        self.gen_plan = []
        for gen in state.generators:
            c = gen._counter
            if isinstance(c, LiftedCounter):
                self.gen_plan.append(("advance", c.offset))
            else:
                self.gen_plan.append(("reseed", (gen._seed, gen._key, c)))
        # scheduler steps to replay eagerly after each call; tensor arguments are outputs
        self.deferred = []
        for f, a, k in tracker.deferred:
            lv, td = jax.tree_util.tree_flatten((a, k), is_leaf=_is_tensor)
            slots = []
            for x in lv:
                if isinstance(x, Tensor):
                    slots.append(("t", None))
                    outs.append(x._value)
                else:
                    slots.append(("c", x))
            self.deferred.append((f, td, slots))
        self.stepped_ids = set(tracker.stepped_ids)
        # differentiable call: outputs need grad and no backward ran inside
        self.diff = (grad_mode.STATE.grad_enabled and not tracker.backward_ran
                     and any(kind == "t" and rg for kind, rg in self.out_spec))
        if self.diff:
            self.diff_in = {i for i, _ in _diff_sources(state, self)}
            self.diff_out, k = [], 0
            for x in out_leaves:
                if isinstance(x, Tensor):
                    if x._rg and jnp.issubdtype(x._value.dtype, jnp.inexact):
                        self.diff_out.append(k)
                    k += 1
                elif isinstance(x, jax.Array):
                    k += 1
        return outs

    def escaped(self):
        """Storages outside the lifted state that the trace wrote and that are still alive
        (not temporaries): they are state the walk did not reach."""
        tracker = self._tracker
        if not tracker.foreign and not tracker.unknown_grads:
            return []
        gc.collect()
        alive = [r() for r, *_ in tracker.foreign.values()]
        alive = [st for st in alive if st is not None and id(st) not in self._handled]
        for r, _ in tracker.unknown_grads.values():
            t = r()  # (a frozen parameter's `.grad` read by the optimizer: lifted already)
            if t is not None and id(t._st) not in tracker.lifted:
                alive.append(t._st)
        return alive

    # --------------------------------------------------------------- executables
    def build(self, closed):
        n_in = len(closed.in_avals)
        grad_base = self.n_storages
        unread = {grad_base + i for i, j in enumerate(self.present_grads)
                  if j not in self.grad_inputs}
        # inputs the program never reads (a generator's key and counter when nothing was
        # drawn) are not passed: each argument costs jit's dispatch a few microseconds
        unused = _unused_inputs(closed.jaxpr)
        if self.diff:  # every differentiated input keeps its edge and its (zero) gradient
            unused -= self.diff_in
        drop = unread | unused
        keep = [i for i in range(n_in) if i not in drop]
        gathered = [i for i in range(n_in) if i not in unread]  # what `gather` collects
        at = {i: k for k, i in enumerate(gathered)}
        self.select = None if len(keep) == len(gathered) else [at[i] for i in keep]
        avals = closed.in_avals
        # the trace's captured constants become explicit arguments (passed on each call)
        self.consts = list(closed.consts)
        open_fn = jaxpr_as_fun(ClosedJaxpr(_constvars_as_invars(closed.jaxpr), []))

        # State the trace set to a constant (an optimizer's "first step" flag turning
        # False) is written back from the host: as a program output it is one more copy
        # kernel for XLA to compile, for a value known before the program runs.
        self.const_outs = [] if self.diff else [
            (k, jax.device_put(np.asarray(v.val, v.aval.dtype)))  # jnp would compile
            for k, v in enumerate(closed.jaxpr.outvars)
            if k >= self.n_user and isinstance(v, Literal)]
        const_pos = {k for k, _ in self.const_outs}

        def final(*kept_and_consts):
            kept, consts = kept_and_consts[:len(keep)], kept_and_consts[len(keep):]
            full = [None] * n_in
            for k, i in enumerate(keep):
                full[i] = kept[k]
            for i in drop:
                full[i] = jnp.zeros(avals[i].shape, avals[i].dtype)
            outs = open_fn(*consts, *full)
            return [o for k, o in enumerate(outs) if k not in const_pos]

        pos = {i: k for k, i in enumerate(keep)}
        if not self.diff:
            written_out = {i: self.n_user + k for k, i in enumerate(self.written)}
            donate = [pos[i] for i in self.written if i in pos
                      and i not in self.arg_storage_ids and written_out[i] not in const_pos]
            g_in = {j: grad_base + self.present_grads.index(j) for j in self.grad_inputs}
            donate += [pos[g_in[j]] for kind, j in self.grad_plan
                       if kind == "inplace" and j in g_in and g_in[j] in pos]
            self.donate = tuple(sorted(set(donate)))
            self.jitted = jax.jit(final, donate_argnums=self.donate)
            return
        self.donate = ()
        mask = tuple(i in self.diff_in for i in keep) + (False,) * len(self.consts)
        diff_out = self.diff_out

        def split(*kept):
            outs = final(*kept)
            d = tuple(outs[i] for i in diff_out)
            rest = tuple(o for i, o in enumerate(outs) if i not in diff_out)
            return d, rest

        def fwd(*kept):
            from .._ops.dispatch import _masked_vjp
            return _masked_vjp(split, kept, mask, has_aux=True)
        self.fwd = jax.jit(fwd)

        def bwd(vjp_fn, gs):
            return vjp_fn(tuple(gs))
        self.bwd = jax.jit(bwd)

    # --------------------------------------------------------------- one call
    def run(self, state, leaves):
        xs = self.gather(state)
        if not self.diff:
            for k in self.donate:  # never donate a buffer someone else still holds
                xs[k] = donatable(xs[k], 1)  # its one holder besides the storage: xs
            outs = list(self.jitted(*xs, *self.consts))
            for k, v in self.const_outs:  # in position order, so each lands where it was
                outs.insert(k, v)
            user = outs[:self.n_user]
        else:
            user, outs = self._run_diff(state, xs)
        self._write_back(state, outs)
        res, it = [], iter(user)
        for kind, v in self.out_spec:
            if kind == "c":
                res.append(v)
            else:
                o = next(it)
                res.append(o if kind == "a" or isinstance(o, Tensor) else wrap(o))
        return jax.tree_util.tree_unflatten(self.out_tree, res)

    def _run_diff(self, state, xs):
        from .._ops.dispatch import _VjpFast, _edge, _out_meta
        from ..autograd.graph import Node
        d_outs, vjp_fn, rest = self.fwd(*xs, *self.consts)
        edges = tuple(_edge(t) for _, t in _diff_sources(state, self))
        meta = _out_meta(tuple(d_outs))
        node = Node("CompiledFunctionBackward", edges,
                    _VjpFast(self._bwd_fn(meta), vjp_fn), None, (), meta)
        user, d_it, r_it = [], iter(range(len(d_outs))), iter(rest)
        for i in range(self.n_user):
            if i in self.diff_out:
                k = next(d_it)
                user.append(wrap(d_outs[k], node, k))
            else:
                user.append(next(r_it))
        return user, [None] * self.n_user + list(r_it)

    def _bwd_fn(self, meta):
        bwd = self.bwd

        def run(vjp_fn, gs):
            from .._ops.dispatch import _materialize
            return list(bwd(vjp_fn, _materialize(gs, meta)))
        return run

    def _write_back(self, state, outs):
        it = iter(outs[self.n_user:])
        tensors = state.tensors
        for i, bump in zip(self.written, self.bumps):
            st = state.storages[i]
            st.arr = next(it)
            st.gen += 1
            for k in bump:  # torch bumps the version of tensors changed in place
                tensors[k]._vc[0] += 1
        for kind, j in self.grad_plan:
            owner = state.grad_owners[j]
            if kind == "none":
                owner._grad = None
            elif kind == "new":
                owner._grad = wrap(next(it))
            else:
                g = owner._grad
                g._st.arr = next(it)
                g._st.gen += 1
                g._vc[0] += 1
        for t in self.new_state:
            t._st.arr = next(it)
            t._st.gen += 1
        for i in self.lr_plan:  # the function assigned a hyper-parameter itself
            S.hyper_set(*state.hypers[i], float(next(it)))
        for gen, (kind, v) in zip(state.generators, self.gen_plan):
            if kind == "advance":
                gen._counter += v
            else:
                gen._seed, gen._key, gen._counter = v
        for f, td, slots in self.deferred:
            lv = [wrap(next(it)) if kind == "t" else v for kind, v in slots]
            a, k = jax.tree_util.tree_unflatten(td, lv)
            f(*a, **k)


def _unused_inputs(jaxpr):
    """Positions of the inputs no equation or output of `jaxpr` reads."""
    used = {id(v) for e in jaxpr.eqns for v in e.invars if not isinstance(v, Literal)}
    used.update(id(v) for v in jaxpr.outvars if not isinstance(v, Literal))
    return {i for i, v in enumerate(jaxpr.invars) if id(v) not in used}


def _constvars_as_invars(jaxpr):
    """The same jaxpr with its constants as leading inputs (jitting a closed jaxpr whose
    constants are baked in trips jax's fast call path, and this also keeps large captured
    arrays out of the executable)."""
    return jaxpr.replace(constvars=[], invars=list(jaxpr.constvars) + list(jaxpr.invars))


def _diff_sources(state, entry):
    """(input position, tensor) pairs the compiled call is differentiated with respect to,
    in position order: the storage of each trainable leaf, and the argument tensors with
    history that require grad (the last inputs of the layout)."""
    src = {}
    for t in state.tensors:
        if t._rg and t.grad_fn is None and t._chain == () \
                and jnp.issubdtype(t._st.arr.dtype, jnp.inexact):
            src.setdefault(state.st_pos[id(t._st)], t)
    base = entry.n_storages + len(entry.present_grads) + entry.n_lr + 2 * entry.n_gen
    for k, t in enumerate(state.value_args):
        if t._rg and jnp.issubdtype(t._value.dtype, jnp.inexact):
            src[base + k] = t
    return sorted(src.items(), key=lambda kv: kv[0])


def _install(state, entry, xs):
    """Put the tracers into the live objects; returns what `_restore` puts back."""
    saved = {}
    st_saved = []
    for st, x in zip(state.storages, xs):
        st_saved.append((st, st.arr, st.grad_gen))
        st.arr = x
        st.gen += 1
    k = entry.n_storages
    for j in entry.present_grads:
        st = state.grad_tensors[j]._st
        st_saved.append((st, st.arr, st.grad_gen))
        st.arr = xs[k]
        st.gen += 1
        k += 1
    saved["storages"] = st_saved
    tens = list(state.tensors) + [g for g in state.grad_tensors if g is not None]
    saved["tensors"] = [(t, t.grad_fn, t._output_nr, t._rg, t._vc[0]) for t in tens]
    saved["grads"] = [(o, o._grad) for o in state.grad_owners]
    saved["hypers"] = [(h, S.hyper_get(*h)) for h in state.hypers]
    saved["concrete"] = []
    for o in state.optimizers:  # statics (e.g. "momentum != 0") come from the real values
        saved["concrete"].append(o)
        o.__dict__["_concrete_groups"] = {id(g): dict(g) for g in o.param_groups}
    for h in state.hypers:
        S.hyper_set(*h, xs[k])
        k += 1
    saved["gens"] = []
    for gen in state.generators:
        saved["gens"].append((gen, gen._seed, gen._key, gen._counter))
        gen._key, gen._counter = xs[k], LiftedCounter(xs[k + 1])
        k += 2
    saved["opt_state"] = [(o, {p: dict(s) for p, s in o.state.items()})
                          for o in state.optimizers]
    return saved


def _restore(state, saved, tracker):
    for st, arr, gg in saved["storages"]:
        st.arr, st.grad_gen = arr, gg
        st.gen += 1
    for t, fn, nr, rg, vc in saved["tensors"]:
        t.grad_fn, t._output_nr, t._rg = fn, nr, rg
        t._vc[0] = vc
    for o, g in saved["grads"]:
        o._grad = g
    for h, v in reversed(saved["hypers"]):
        S.hyper_set(*h, v)
    for o in saved["concrete"]:
        o.__dict__.pop("_concrete_groups", None)
    for gen, seed, key, counter in saved["gens"]:
        gen._seed, gen._key, gen._counter = seed, key, counter
    for o, snap in saved["opt_state"]:
        o.state.clear()
        o.state.update(snap)
    for r, arr, gen, gg in tracker.foreign.values():
        st = r()
        if st is not None:
            st.arr, st.grad_gen = arr, gg
            st.gen = max(st.gen, gen) + 1
    for r, g in tracker.unknown_grads.values():
        t = r()
        if t is not None:
            t._grad = g

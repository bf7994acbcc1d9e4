"""Finding a compiled function's state: everything it can read or write that outlives a call.

The user lists nothing. Starting from the function (its closure cells, the globals its
code names, defaults, a bound method's object) the walk follows Modules (parameters,
buffers, submodules and plain attributes), Optimizers (params, per-param state, the
'lr' of each group), schedulers, Generators, containers and the attributes of user
objects (a Trainer holding a model and an optimizer, a GradScaler, ...). Library code
(jtorch, jax, numpy, ...) is not walked: its globals are not the user's state.

The result is a `StateSet`: the tensors found, grouped by storage (views and aliases
share one input), each leaf's `.grad`, the lifted learning rates and generators, and a
hashable `key` of everything a trace depends on structurally, including the Python
constants it may have baked in (`_const`): a module's plain attributes and hooks, and the
closure cells, defaults and loaded globals of the function and of user modules' forward.
A constant read some other way (an attribute of a plain user object, an element of a
list) is not guarded.
"""
from __future__ import annotations

import dis
import functools
import operator
import sys
import types
from collections import OrderedDict
from itertools import chain, count, repeat

import numpy as np

from .. import _dtype as D
from .._random import Generator, default_generator
from .._tensor import Tensor
from ..autograd import grad_mode
from . import dict_version

_LIBRARIES = ("jtorch", "jax", "jaxlib", "numpy", "flax", "optax", "chex", "builtins",
              "functools", "typing", "collections", "abc", "torch", "_pytest", "pytest")
_SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic)
_SCALAR_TYPES = frozenset((bool, int, float, complex, str, bytes, type(None)))
_MAX_DEPTH = 8
_CLASSES = []


def _classes():
    """Module, Optimizer, LRScheduler (imported on first use: they import jtorch)."""
    if not _CLASSES:
        from ..nn.modules.module import Module
        from ..optim.lr_scheduler import LRScheduler
        from ..optim.optimizer import Optimizer
        _CLASSES.extend((Module, Optimizer, LRScheduler))
    return _CLASSES
_MAX_ITEMS = 10_000


def _hook_dict_type():
    return sys.modules["jtorch.nn.modules.module"]._HookDict


def _is_library(module_name):
    root = (module_name or "").partition(".")[0]
    return root in _LIBRARIES


class StateSet:
    """The lifted state of one call, in a deterministic order."""

    def __init__(self):
        self.tensors = []        # every tensor found (state, then arguments), walk order
        self.storages = []       # their distinct storages: one traced input each
        self.st_pos = {}         # id(storage) -> index in `storages`
        self.modules = []
        self.optimizers = []
        self.hypers = []         # (group, key, index) of the numbers in fused optimizers'
        #                          param groups (lr, betas, momentum, ...): traced inputs
        self.generators = []
        self.grad_owners = []    # leaves that require grad: their `.grad` is a state slot
        self.grad_tensors = []   # the `.grad` tensor of each owner at entry (or None)
        self.value_args = []     # argument tensors with history: traced as fresh leaves
        self.arg_start = 0       # storages from here on belong to argument tensors
        self.arg_slots = ()      # per argument tensor: its index in `tensors`, or -1 - k
        #                          for the k-th of `value_args`
        self.consts = None       # token of the Python constants a trace may bake in (Walk)

    # --------------------------------------------------------------- building
    def add_tensor(self, t):
        if not t._chain:
            t._arr = None  # a root reads its storage; do not pin its first array alive
        st = t._st
        if id(st) not in self.st_pos:
            self.st_pos[id(st)] = len(self.storages)
            self.storages.append(st)
        self.tensors.append(t)

    def add_storage(self, st):
        if id(st) not in self.st_pos:
            self.st_pos[id(st)] = len(self.storages)
            self.storages.append(st)

    def finish_state(self):
        """Called once the walk is done: each trainable leaf's `.grad` becomes a slot (its
        presence is checked per compiled entry, only where the trace read it)."""
        for t in self.tensors:
            if t._rg and t.grad_fn is None and t._chain == ():
                self.grad_owners.append(t)
                self.grad_tensors.append(t._grad)

    # --------------------------------------------------------------- the guard key
    def key(self):
        """Everything structural a trace depends on (values are inputs, not in the key)."""
        pos = self.st_pos
        tens = tuple((pos[id(t._st)], t._chain, t._rg, t.grad_fn is None)
                     for t in self.tensors)
        # dtype by identity (numpy's builtin dtypes are singletons): hashing and comparing
        # dtype objects is slow, and this key is built and looked up on every call
        stor = tuple((st.arr.shape, id(st.arr.dtype)) for st in self.storages)
        mods = tuple(m.training for m in self.modules)
        groups = groups_key(self.optimizers)
        vals = tuple((tuple(t.shape), t.dtype, t._rg) for t in self.value_args)
        return (tens, stor, mods, groups, len(self.generators), vals, self.consts)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _group_key(opt, group):
    """What of a param group shapes the program: a fused optimizer's statics (options
    like nesterov or "weight_decay != 0") and the types of its numbers, whose values are
    traced inputs; for other optimizers every value (they may use them in Python)."""
    fused = hasattr(opt, "_statics")
    items = []
    for k, v in group.items():
        if k in ("params", "param_names"):
            continue
        if isinstance(v, list):  # by value: only tuples of numbers are traced inputs
            v = ("list", tuple(v))
        elif fused and (_is_number(v) or isinstance(v, tuple) and v
                        and all(_is_number(e) for e in v)):
            v = ("number", tuple(type(e) for e in v) if isinstance(v, tuple) else type(v))
        elif isinstance(v, Tensor):
            v = "tensor"
        try:
            hash(v)
        except TypeError:
            v = id(v)
        items.append((k, v))
    statics = opt._statics(group) if fused else None
    return statics, tuple(items)


def groups_key(optimizers):
    """The guard key's part for the optimizers' param groups (see `_group_key`)."""
    return tuple(_group_key(o, g) for o in optimizers for g in o.param_groups)


def hyper_get(group, key, idx):
    v = group[key]
    return v if idx is None else v[idx]


def hyper_set(group, key, idx, value):
    if idx is None:
        group[key] = value
    else:
        t = list(group[key])
        t[idx] = value
        group[key] = tuple(t)


class _Walker:
    def __init__(self, state):
        self.state = state
        self.seen = set()
        # what the walk looked inside, with the objects it found there: if every container
        # still holds the same objects, a new walk would find the same state (Checks)
        self.vals, self.seqs, self.cells, self.globs, self.attrs, self.groups = \
            [], [], [], [], [], []
        self.hook_vals = []  # the module hook tables (see `hook_table`)
        # what a trace may have baked in as a constant (see `_const`): part of the guard key
        self.consts = []
        self.const_fns = set()  # ids of the functions whose constants are recorded

    def visit(self, obj, depth=0):
        if type(obj) in _SCALAR_TYPES or depth > _MAX_DEPTH or isinstance(obj, _SCALARS):
            return
        i = id(obj)
        if i in self.seen:
            return
        self.seen.add(i)
        if isinstance(obj, Tensor):
            self.state.add_tensor(obj)
            return
        Module, Optimizer, LRScheduler = _classes()
        if isinstance(obj, Module):
            self._module(obj, depth)
        elif isinstance(obj, Optimizer):
            self._optimizer(obj, depth)
        elif isinstance(obj, LRScheduler):
            self.attrs.append((obj, "optimizer", obj.optimizer))
            self.visit(obj.optimizer, depth + 1)
        elif isinstance(obj, Generator):
            self.state.generators.append(obj)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            if len(obj) <= _MAX_ITEMS:
                if isinstance(obj, (list, set)):
                    self.seqs.append((obj, tuple(obj)))
                for v in obj:
                    self.visit(v, depth + 1)
        elif isinstance(obj, dict):
            if len(obj) <= _MAX_ITEMS:
                self.vals.append((obj, tuple(obj.values())))
                for v in obj.values():
                    self.visit(v, depth + 1)
        elif isinstance(obj, types.FunctionType):
            self._function(obj, depth)
        elif isinstance(obj, types.MethodType):
            self.visit(obj.__self__, depth + 1)
            self.visit(obj.__func__, depth + 1)
        elif isinstance(obj, functools.partial):
            self.visit(obj.func, depth + 1)
            self.visit(obj.args, depth + 1)
            self.visit(obj.keywords, depth + 1)
        elif isinstance(obj, (types.ModuleType, type, types.BuiltinFunctionType)):
            return
        else:
            self._object(obj, depth)

    def _module(self, m, depth):
        st = self.state
        st.modules.append(m)
        d = m.__dict__
        self.vals.append((d, tuple(d.values())))
        for sub in (m._parameters, m._buffers, m._modules):
            self.vals.append((sub, tuple(sub.values())))
        for name in _MODULE_HOOKS:  # a hook added or removed later changes what runs
            hooks = d.get(name)
            if hooks is not None:
                self.hook_table(hooks)
                for h in hooks.values():
                    self.visit(h, depth + 1)
        self.consts.append((type(m), tuple(
            (k, tuple(map(_const, v.values())) if k in _MODULE_HOOKS else _const(v))
            for k, v in d.items() if k not in _MODULE_INTERNALS or k in _MODULE_HOOKS)))
        fwd = getattr(type(m), "forward", None)
        if isinstance(fwd, types.FunctionType) and not _is_library(fwd.__module__):
            self._function_constants(fwd, snapshot=True)
        for p in m._parameters.values():
            if p is not None and id(p) not in self.seen:
                self.seen.add(id(p))
                st.add_tensor(p)
        for b in m._buffers.values():
            if b is not None and id(b) not in self.seen:
                self.seen.add(id(b))
                st.add_tensor(b)
        for sub in m._modules.values():
            if sub is not None:
                self.visit(sub, depth + 1)
        for k, v in m.__dict__.items():  # plain tensor attributes, held objects
            if type(v) in _SCALAR_TYPES or k in _MODULE_INTERNALS:
                continue
            self.visit(v, depth + 1)

    def hook_table(self, hooks):
        """Hook tables are jtorch's `_HookDict`s, which count their changes: `still_valid`
        looks inside them only after some table in the process changed."""
        if type(hooks) is _hook_dict_type():
            self.hook_vals.append((hooks, tuple(hooks.values())))
        else:
            self.vals.append((hooks, tuple(hooks.values())))

    def _optimizer(self, opt, depth):
        st = self.state
        st.optimizers.append(opt)
        self.vals.append((opt.__dict__, tuple(opt.__dict__.values())))
        self.seqs.append((opt.param_groups, tuple(opt.param_groups)))
        self.vals.append((opt.state, tuple(opt.state.values())))
        for v in opt.state.values():
            if isinstance(v, dict):
                self.vals.append((v, tuple(v.values())))
        for group in opt.param_groups:
            # keys and value types (a new lr each step is fine; a float turned tensor is not)
            self.groups.append((group, tuple(group), tuple(map(type, group.values()))))
            self.seqs.append((group["params"], tuple(group["params"])))
            for p in group["params"]:
                self.visit(p, depth + 1)
            fused = hasattr(opt, "_statics")
            for k, v in group.items():
                if isinstance(v, Tensor):
                    self.visit(v, depth + 1)
                elif fused and k not in ("params", "param_names"):
                    if _is_number(v):
                        st.hypers.append((group, k, None))
                    elif isinstance(v, tuple) and v and all(_is_number(e) for e in v):
                        st.hypers.extend((group, k, i) for i in range(len(v)))
        for v in opt.state.values():
            self.visit(v, depth + 1)
        flags = opt.__dict__.get("_fresh_flags")
        if flags:
            self.vals.append((flags, tuple(flags.values())))
            for f in flags.values():
                self.visit(f, depth + 1)

    def _function(self, fn, depth):
        if _is_library(getattr(fn, "__module__", None)):
            return
        if fn.__closure__:
            for cell in fn.__closure__:
                v = _cell_value(cell)
                self.cells.append((cell, v))
                if v is not _MISSING:
                    self.visit(v, depth + 1)
        self.attrs.append((fn, "__defaults__", fn.__defaults__))
        self.attrs.append((fn, "__kwdefaults__", fn.__kwdefaults__))
        if fn.__defaults__:
            self.visit(fn.__defaults__, depth + 1)
        if fn.__kwdefaults__:
            self.visit(fn.__kwdefaults__, depth + 1)
        g = fn.__globals__
        for name in _code_names(fn.__code__):
            v = g.get(name, _MISSING)
            self.globs.append((g, name, v))
            if v is not _MISSING:
                self.visit(v, depth + 1)
        self._function_constants(fn, snapshot=False)

    def _function_constants(self, fn, snapshot):
        """The values a trace of `fn` reads as Python constants: its closure cells, its
        defaults and the globals it loads. `snapshot`: also record them for `still_valid`,
        so a change re-walks (`_function` has recorded them already for what it walks)."""
        if id(fn) in self.const_fns:  # (one forward serves every instance of a class)
            return
        self.const_fns.add(id(fn))
        cells = tuple(_cell_value(c) for c in fn.__closure__ or ())
        g = fn.__globals__
        loads = _global_loads(fn.__code__)
        if snapshot:
            self.cells.extend(zip(fn.__closure__ or (), cells))
            self.globs.extend((g, name, g.get(name, _MISSING)) for name in loads)
            self.attrs.append((fn, "__defaults__", fn.__defaults__))
            self.attrs.append((fn, "__kwdefaults__", fn.__kwdefaults__))
        self.consts.append((fn.__code__, tuple(map(_const, cells)),
                            _const(fn.__defaults__), _const(fn.__kwdefaults__),
                            tuple(_const(g.get(n, _MISSING)) for n in loads)))

    def _object(self, obj, depth):
        cls = type(obj)
        mod = getattr(cls, "__module__", "")
        if _is_library(mod) and not getattr(cls, "_jtorch_compile_state", False):
            return
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            self.vals.append((d, tuple(d.values())))
            for v in d.values():
                self.visit(v, depth + 1)


# Hook tables of a module, and the process-wide ones in jtorch.nn.modules.module: what
# Module.__call__ runs around forward (and backward hooks around its gradients).
_MODULE_HOOKS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
                 "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                 "_backward_pre_hooks", "_backward_hooks")
_GLOBAL_HOOKS = ("_global_forward_pre_hooks", "_global_forward_hooks",
                 "_global_forward_hooks_with_kwargs", "_global_forward_hooks_always_called",
                 "_global_backward_pre_hooks", "_global_backward_hooks")

_MODULE_INTERNALS = frozenset((
    "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "training",
    "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
    "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs", "_state_dict_hooks", "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_is_full_backward_hook",
))


@functools.lru_cache(maxsize=4096)
def _code_names(code):
    """Global names a code object (and the lambdas/comprehensions inside it) refers to."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return tuple(sorted(names))


@functools.lru_cache(maxsize=4096)
def _global_loads(code):
    """Names a code object (and the code nested in it) loads as globals: what it reads
    from its module, unlike co_names, which also holds every attribute name."""
    names = {i.argval for i in dis.get_instructions(code)
             if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= set(_global_loads(c))
    return tuple(sorted(names))


def _const(v, depth=0):
    """How a value the function reads enters the guard key: a number, string or None by
    value (a trace bakes it in), a small tuple of them likewise, a tensor not at all (its
    storage is an input), anything else by identity: a function, a module, a dtype, and a
    list or dict (mutable, so by value it would retrace whenever, say, a list of logged
    losses grows)."""
    t = type(v)
    if t in _SCALAR_TYPES:
        return (t, v)
    if isinstance(v, Tensor):
        return "tensor"
    if isinstance(v, np.generic):
        return (t, v.item())
    if t is tuple and len(v) <= 64 and depth < 2:
        return (t, tuple(_const(e, depth + 1) for e in v))
    return _Same(v)


class _Same:
    """A value compared by identity. It holds the object, so while the key that holds it
    lives, no new object can take the same id and match a stale program."""
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Same and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class ConstsTable:
    """Small int tokens for walks' constants, one table per compiled function: the guard
    key is hashed on every call and the constants can be long; equal constants give the
    same token, and the table (holding the constants) lives as long as the function."""

    def __init__(self):
        self._tokens, self._next = {}, count()

    def token(self, consts):
        tok = self._tokens.get(consts)
        if tok is None:
            if len(self._tokens) > 1024:
                self._tokens.clear()  # fresh tokens after this: at worst a retrace
            tok = self._tokens[consts] = next(self._next)
        return tok


_MISSING = object()
_VALUES = operator.methodcaller("values")  # the container's own order (an OrderedDict's)


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return _MISSING


class _DictValues:
    """Dicts and the values the walk found in them, flat, so that checking they still
    hold the same objects (by identity, in order) is two C-level passes."""

    def __init__(self, dicts_and_values):
        self.dicts = [d for d, _ in dicts_and_values]
        self.lens = [len(vs) for _, vs in dicts_and_values]
        self.full = [d for d, vs in dicts_and_values if vs]  # (empty ones: lengths suffice)
        self.items = tuple(v for _, vs in dicts_and_values for v in vs)

    def hold_the_same(self):
        return list(map(len, self.dicts)) == self.lens and all(map(
            operator.is_, chain.from_iterable(map(_VALUES, self.full)), self.items))


class Walk:
    """The state a walk of the roots found, and the identity checks that tell, far more
    cheaply than walking again, whether it would still find exactly that."""

    def __init__(self, roots, consts_table=None):
        state = StateSet()
        w = _Walker(state)
        for r in roots:
            w.visit(r)
        if default_generator not in state.generators:
            state.generators.append(default_generator)
        if state.modules:  # the process-wide module hooks run around every forward
            table = sys.modules["jtorch.nn.modules.module"]
            for name in _GLOBAL_HOOKS:
                hooks = getattr(table, name)
                w.hook_table(hooks)
                w.attrs.append((table, name, hooks))
                w.consts.append((name, tuple(map(_const, hooks.values()))))
            w.attrs.append((table, "_global_is_full_backward_hook",
                            table._global_is_full_backward_hook))
            w.consts.append(_const(table._global_is_full_backward_hook))
        self.state, self.seen = state, w.seen
        table = consts_table if consts_table is not None else ConstsTable()
        self.consts = state.consts = table.token(tuple(w.consts))
        self.roots = tuple(map(id, roots))
        # Flat snapshots, so that `still_valid` is a few C-level passes (map, all, list
        # compares) rather than a Python loop per container: it runs on every call.
        self.dicts = _DictValues(w.vals)
        # Their version tags: while none moves, no value needs comparing (dict_version).
        # An OrderedDict's order lives outside the dict proper (move_to_end moves no tag),
        # so those are compared value by value on every call, like all where tags
        # cannot be read.
        self.dict_versions = dict_version.versions(
            [d for d, _ in w.vals if not isinstance(d, OrderedDict)])
        if self.dict_versions is not None and self.dicts.hold_the_same():
            self.untagged = _DictValues([(d, vs) for d, vs in w.vals
                                         if isinstance(d, OrderedDict)])
        else:  # (no tags, or a dict changed during the walk: the next call re-walks)
            self.dict_versions, self.untagged = None, self.dicts
        self.seqs = [c for c, _ in w.seqs]
        self.seq_lens = [len(vs) for _, vs in w.seqs]
        self.seq_items = tuple(v for _, vs in w.seqs for v in vs)
        self.cells = [c for c, _ in w.cells]
        self.cell_items = tuple(v for _, v in w.cells)
        self.glob_dicts = [g for g, _, _ in w.globs]
        self.glob_names = [n for _, n, _ in w.globs]
        self.glob_items = tuple(v for _, _, v in w.globs)
        self.attr_objs = [o for o, _, _ in w.attrs]
        self.attr_names = [n for _, n, _ in w.attrs]
        self.attr_items = tuple(v for _, _, v in w.attrs)
        self.groups = w.groups
        self.hook_changes = _hook_dict_type().changes if w.hook_vals else None
        self.hook_tables = _DictValues(w.hook_vals)
        self._tensor_index = None

    def tensor_index(self):
        """id(tensor) -> its index in the walked state (for arguments that are state)."""
        if self._tensor_index is None:
            self._tensor_index = {id(t): k for k, t in enumerate(self.state.tensors)}
        return self._tensor_index

    def still_valid(self, roots):
        """Would a new walk of `roots` find exactly this state? True when every container
        the walk looked inside still holds the same objects (by identity, in order)."""
        if tuple(map(id, roots)) != self.roots:
            return False
        versions = self.dict_versions
        if versions is not None and not versions.unchanged():
            if not self.dicts.hold_the_same():
                return False
            versions.refresh()  # changed, and back (model.eval(); ...; model.train())
        elif not self.untagged.hold_the_same():
            return False
        if list(map(len, self.seqs)) != self.seq_lens:
            return False
        is_ = operator.is_
        if not (all(map(is_, chain.from_iterable(self.seqs), self.seq_items))
                and all(map(is_, map(_cell_value, self.cells), self.cell_items))
                and all(map(is_, map(dict.get, self.glob_dicts, self.glob_names,
                                     repeat(_MISSING)), self.glob_items))
                and all(map(is_, map(getattr, self.attr_objs, self.attr_names,
                                     repeat(_MISSING)), self.attr_items))):
            return False
        for g, keys, kinds in self.groups:
            if tuple(g) != keys or tuple(map(type, g.values())) != kinds:
                return False
        if self.hook_changes is not None and _hook_dict_type().changes != self.hook_changes:
            if not self.hook_tables.hold_the_same():
                return False
            self.hook_changes = _hook_dict_type().changes  # (another module's hooks)
        return True

    def state_for(self, arg_tensors=(), extra_storages=()):
        """A fresh StateSet: the walked state plus this call's arguments."""
        base = self.state
        state = StateSet()
        state.tensors = list(base.tensors)
        state.storages = list(base.storages)
        state.st_pos = dict(base.st_pos)
        state.modules, state.optimizers = base.modules, base.optimizers
        state.consts = base.consts
        state.hypers, state.generators = base.hypers, base.generators
        state.arg_start = len(state.storages)
        seen, mine, values, slots = self.seen, {}, {}, []
        for t in arg_tensors:
            # a view argument (x[i:j] of a dataset) is passed by value: its slice bounds
            # must not become part of the program, or every new batch offset would retrace
            i = id(t)
            if t.grad_fn is None and not t._chain:
                if i in seen:  # the function's own state, passed in
                    slots.append(self.tensor_index()[i])
                elif i in mine:
                    slots.append(mine[i])
                else:
                    slots.append(mine.setdefault(i, len(state.tensors)))
                    state.add_tensor(t)
            else:
                if i not in values:
                    values[i] = -1 - len(state.value_args)
                    state.value_args.append(t)
                slots.append(values[i])
        # which tensor each argument is: the same types and shapes with other aliasing
        # (f(a, a) after f(a, b), or state passed in) is another program
        state.arg_slots = tuple(slots)
        for st in extra_storages:
            state.add_storage(st)
        state.finish_state()
        return state


def discover(roots, arg_tensors=(), extra_storages=(), consts_table=None):
    """Walks `roots` (the function, or the module) and returns the StateSet.

    Argument tensors that are leaves are lifted like state (an in-place change or a
    gradient reaches the caller's tensor); those with history, and views, are traced as
    fresh leaves (connected to their history by the compiled call's autograd node)."""
    return Walk(roots, consts_table).state_for(arg_tensors, extra_storages)


def leaf_key(x):
    """How a function argument enters the guard key: a tensor not at all (its shape,
    dtype and requires_grad are in the state key), a number or string by value (a trace
    bakes it in), any other object by identity."""
    if isinstance(x, Tensor):
        return None
    if isinstance(x, _SCALARS):
        return (type(x), x)
    return ("obj", id(x))


def context_key():
    """The process-wide settings a trace depends on: grad mode, the default dtype and
    autocast's state."""
    amp = sys.modules.get("jtorch.amp.autocast_mode")
    fn = getattr(amp, "current_state", None)
    return (grad_mode.STATE.grad_enabled, D.get_default_dtype(),
            fn() if fn is not None else None)

"""Deferred eager ops: a run of ops the program has executed before becomes ONE program.

Why: on CPU each eager op is one XLA execution (tens of microseconds of launch, and no
fusion between ops). An eager training loop runs the same forward every step, so an op
whose output shape is already known (the same jitted kernel has run on inputs of the same
shapes) is recorded instead of launched: its output is a `LazyArray` holding shape and
dtype, which is all that dispatch, autograd recording and `.shape` need. The first read of
a value (`.item()`, printing, `backward()`'s saved arrays, a view, an unsupported op)
forces every pending op it depends on. A structure of pending ops forced for the third
time runs as one jitted program of them all; before that, op by op, exactly as before
(so one-off code never compiles anything extra).

Safety: pending ops hold only immutable arrays (or other pending outputs), so in-place
writes after recording cannot change what they compute; a fused program returns every
output anything outside the pending ops still references (a tensor, a view, autograd's
saved arrays; counted by reference count), so nothing that can be read later is missing;
nothing is deferred while JAX traces (jtorch.compile, jax.jit of user code) or for inputs
JAX is tracing; ops on differently placed arrays run one by one, as eager would; errors are
the ones the first, eager run raised, since shapes are only trusted once a kernel ran on
them.

On by default; `JTORCH_LAZY=0` (or `jtorch._lazy.ENABLED = False`) launches every op at
once. Measured by `jtorch bench --overhead` (one worker process per mode, alternating
rounds, 2-core CPU, six runs), deferred / immediate: W1 step 0.69-0.98, GPT step
0.89-1.13, raw-op MLP forward+backward 0.71-0.83. It pays least where long kernels
dominate: eager dispatch already overlaps Python with the previous op's compute, which
deferring gives up (hence convolutions launch at once, below).
"""
from __future__ import annotations

import math
import os
import sys

import jax
import numpy as np
from jax._src import core as _core
from jax._src.array import ArrayImpl

ENABLED = os.environ.get("JTORCH_LAZY", "1") != "0"
ACTIVE = False       # set once anything was deferred: until then callers skip the checks
FUSE_AT = 3          # a structure forced this many times runs as one program
MAX_PENDING = 256    # a chain of pending ops deeper than this is forced at once
_MAX_KEYS = 512

_trace_ctx = _core.trace_ctx
_EvalTrace = _core.EvalTrace
_OUT_META: dict = {}   # (kernel, input metas) -> output structure, learnt on the eager run
_SEEN: dict = {}
_PROGRAMS: dict = {}
_seq = [0]


class LazyArray:
    """One output of a pending op: its shape and dtype now, its value when forced."""
    __slots__ = ("node", "index", "shape", "dtype", "weak_type", "value")

    def __init__(self, node, index, meta):
        self.node, self.index = node, index
        self.shape, self.dtype, self.weak_type = meta
        self.value = None

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def get(self):
        if self.value is None:
            force((self,))
        return self.value


class _Node:
    __slots__ = ("fn", "inputs", "outs", "tree", "size", "seq")


def _meta(a):
    t = type(a)
    if t is ArrayImpl or t is LazyArray:
        return (a.shape, a.dtype, a.weak_type)
    if t is np.ndarray:
        return (a.shape, a.dtype, False)
    if a is None:
        return None
    raise TypeError


def resolve_tree(tree):
    """`tree` (arrays, lists, tuples, a vjp's residuals) with every pending leaf computed,
    all in one force."""
    leaves, structure = jax.tree_util.tree_flatten(tree)
    return structure.unflatten(resolve(leaves))


def resolve(arrays):
    """`arrays` with every pending value computed (together, in one force)."""
    pend = [a for a in arrays if type(a) is LazyArray]
    if not pend:
        return arrays
    force(pend)
    return [a.value if type(a) is LazyArray else a for a in arrays]


# Convolutions launch at once, in one program with the pending ops they read: each runs
# for milliseconds, long enough that Python records the ops after it meanwhile (W2 eager:
# ~15% slower when they are deferred too). Products are deferred like everything else: an
# MLP's products are too short to hide Python behind them, and in one program XLA fuses
# the bias adds and activations around them (raw-op MLP forward+backward ~10-20% faster).
LAUNCH_AT_ONCE = frozenset({"_jt_conv"})


def run_or_defer(fn, arrays, name=None):
    """fn(*arrays): recorded as pending when fn's outputs for these input shapes are known
    and nothing is being traced; otherwise run now (learning the output shapes)."""
    if not ENABLED or type(_trace_ctx.trace) is not _EvalTrace:
        return fn(*resolve(arrays))
    launch = name in LAUNCH_AT_ONCE
    if launch and not any(type(a) is LazyArray and a.value is None for a in arrays):
        return fn(*resolve(arrays))
    try:
        key = (fn, tuple(_meta(a) for a in arrays))
    except TypeError:          # a tracer or something else JAX owns: run as is
        return fn(*resolve(arrays))
    out = _OUT_META.get(key)
    if launch and out:   # it runs now, in one program with the pending ops it reads
        return resolve_tree(_record(fn, arrays, out))
    if out is None:
        res = fn(*resolve(arrays))
        if len(_OUT_META) > 16 * _MAX_KEYS:
            _OUT_META.clear()
        _OUT_META[key] = _structure(res)
        return res
    if out is False:
        return fn(*resolve(arrays))
    return _record(fn, arrays, out)


def _structure(res):
    """(pytree structure or None for one array, output metas), or False when the outputs
    are not all arrays (tuples, namedtuples and a vjp's residuals are pytrees of arrays)."""
    if type(res) is ArrayImpl:
        return (None, (_meta(res),))
    leaves, tree = jax.tree_util.tree_flatten(res)
    if leaves and all(type(r) is ArrayImpl for r in leaves):
        return (tree, tuple(_meta(r) for r in leaves))
    return False


def _leaves(node, res):
    return (res,) if node.tree is None else jax.tree_util.tree_leaves(res)


def _record(fn, arrays, out):
    global ACTIVE
    ACTIVE = True
    tree, metas = out
    node = _Node()
    node.fn, node.inputs, node.tree = fn, list(arrays), tree
    size = 1   # depth of the pending ops behind it: bounds a program's length
    for a in arrays:
        if type(a) is LazyArray and a.value is None and a.node.size >= size:
            size = a.node.size + 1
    node.size = size
    _seq[0] += 1
    node.seq = _seq[0]
    outs = tuple(LazyArray(node, i, m) for i, m in enumerate(metas))
    node.outs = outs
    if size > MAX_PENDING:
        force(outs)
    return outs[0] if tree is None else tree.unflatten(outs)


class Pending:
    """The pending ops behind some outputs, in recording order, as a hashable structure of
    (kernel, input references) over `leaves` (the concrete arrays they read), and which
    outputs leave the program: those asked for and those referenced from anywhere but the
    pending ops themselves. Nothing else can ever read the rest, so a program need not
    write them, and every op is done once it ran."""
    __slots__ = ("nodes", "key", "leaves", "pos", "selected", "mixed")

    def __init__(self, nodes, asked=(), held=None):
        self.nodes = nodes
        self.pos = pos = {id(n): i for i, n in enumerate(nodes)}
        asked = {id(a) for a in asked}
        leaves, leaf_pos, struct, leaf_meta, selected, sel = [], {}, [], [], [], []
        placements = set()
        inner = {}  # id(output) -> references to it from the inputs of these pending ops
        if held:
            inner.update(held)
        for n in nodes:
            for a in n.inputs:
                if type(a) is LazyArray and a.value is None:
                    inner[id(a)] = inner.get(id(a), 0) + 1
        for i, n in enumerate(nodes):
            refs = []
            for a in n.inputs:
                if a is None:
                    refs.append(None)
                    continue
                if type(a) is LazyArray:
                    if a.value is None:
                        refs.append((pos[id(a.node)], a.index))
                        continue
                    a = a.value
                j = leaf_pos.get(id(a))
                if j is None:
                    j = leaf_pos[id(a)] = len(leaves)
                    leaves.append(a)
                    leaf_meta.append(_meta(a))
                    if type(a) is ArrayImpl:
                        placements.add(a.sharding)
                refs.append((-1, j))
            struct.append((n.fn, tuple(refs), n.tree is not None))
            for la in n.outs:
                # references: n.outs, this loop's name, getrefcount's argument, the inputs
                # of later pending ops; any beyond those is a holder outside
                if id(la) in asked or sys.getrefcount(la) > 3 + inner.get(id(la), 0):
                    selected.append(la)
                    sel.append((i, la.index))
        self.key = (tuple(struct), tuple(leaf_meta), tuple(sel))
        self.leaves = leaves
        self.selected = selected
        self.mixed = len(placements) > 1   # one program cannot mix devices; eager ops can

    def position(self, la):
        """Where a pending output sits among program()'s values: (node, output index)."""
        return self.pos[id(la.node)], la.index

    def finish(self, values):
        for la, v in zip(self.selected, values):
            la.value = v
        for n in self.nodes:
            _release(n)


def pending(lazies):
    """The pending nodes behind `lazies` in recording order, or None when all are computed."""
    nodes, stack, found = [], [a.node for a in lazies if a.value is None], set()
    while stack:
        n = stack.pop()
        if id(n) in found:
            continue
        found.add(id(n))
        nodes.append(n)
        for a in n.inputs:
            if type(a) is LazyArray and a.value is None:
                stack.append(a.node)
    if not nodes:
        return None
    nodes.sort(key=_by_seq)
    return nodes


def _run_each(nodes):
    for n in nodes:
        _finish(n, n.fn(*[a.value if type(a) is LazyArray else a for a in n.inputs]))


def force(lazies):
    """Compute every pending op the given outputs depend on, as one program when this
    structure has been seen before, else op by op."""
    nodes = pending(lazies)
    if nodes is None:
        return
    if len(nodes) == 1:
        _run_each(nodes)
        return
    p = Pending(nodes, lazies)
    if p.mixed:
        _run_each(nodes)
        return
    prog = _PROGRAMS.get(p.key)
    if prog is None:
        seen = _SEEN.get(p.key, 0) + 1
        if seen < FUSE_AT:
            if len(_SEEN) > 4 * _MAX_KEYS:
                _SEEN.clear()
            _SEEN[p.key] = seen
            _run_each(nodes)
            return
        if len(_PROGRAMS) > _MAX_KEYS:
            _PROGRAMS.clear()
        prog = _PROGRAMS[p.key] = jax.jit(_selecting(program(p.key[0]), p.key[2]))
    p.finish(prog(p.leaves))


def _selecting(run, sel):
    def selected(leaves):
        vals = run(leaves)
        return [vals[i][j] for i, j in sel]
    return selected


def _by_seq(n):
    return n.seq


def _finish(node, res):
    for la, v in zip(node.outs, _leaves(node, res)):
        la.value = v
    _release(node)


def _release(node):
    for la in node.outs:
        la.node = None  # no node <-> output cycle left for the garbage collector
    node.inputs = node.outs = ()   # what it read may be freed now


def program(struct):
    """leaves -> every pending output, node by node (the body of one fused run)."""
    def run(leaves):
        vals = []
        for fn, refs, is_tree in struct:
            args = [None if r is None else (leaves[r[1]] if r[0] < 0 else vals[r[0]][r[1]])
                    for r in refs]
            out = fn(*args)
            vals.append(jax.tree_util.tree_leaves(out) if is_tree else (out,))
        return vals
    return run

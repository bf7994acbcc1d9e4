"""The repeat call: what a training loop does on every step after the first.

A loop calls its compiled step with the same model and optimizer and a new batch of the
same shape. The full path builds a `StateSet` and a guard key from every tensor and
storage (a Python tuple per tensor, then hashes it), which on a small model costs as much
as a few percent of the step. `LastCall` remembers what the last call's key was built
from, as flat lists, and checks with a few C-level passes (`map` over attrgetters,
list compares) that this call would build the same key. If so, the call reuses the last
layout with the new batch put in, and the same list of cached entries; if anything
differs it returns None and the full path runs.
"""
from __future__ import annotations

from operator import attrgetter, is_

from . import state as S

_ST = attrgetter("_st")
_CHAIN = attrgetter("_chain")
_RG = attrgetter("_rg")
_GRAD_FN = attrgetter("grad_fn")
_GRAD = attrgetter("_grad")
_SHAPE = attrgetter("_v.shape")  # the storage's array, or its pending op's (no forcing)
_DTYPE = attrgetter("_v.dtype")
_AVAL = attrgetter("_v.aval")


class LastCall:
    """The inputs of the last call's guard key, and the layout it produced."""

    @classmethod
    def record(cls, walk, state, treedef, leaf_key, arg_tensors, n_extra, context, entries):
        """A LastCall for this call, or None where the shortcut does not apply: argument
        tensors with history or views (traced by value), or one that is also state."""
        n_base = len(walk.state.tensors)
        if state.value_args or len(state.tensors) != n_base + len(arg_tensors):
            return None
        start = state.arg_start
        if any(state.st_pos[id(t._st)] != start + k for k, t in enumerate(arg_tensors)):
            return None  # two arguments share a storage
        self = cls()
        self.walk, self.treedef, self.leaf_key = walk, treedef, leaf_key
        self.context, self.entries, self.n_extra = context, entries, n_extra
        # what every call's StateSet shares (not the arguments: holding the recording
        # call's batch would keep it alive for as long as the loop runs)
        self.modules, self.optimizers = state.modules, state.optimizers
        self.hypers, self.generators, self.consts = state.hypers, state.generators, state.consts
        self.arg_start, self.arg_slots = state.arg_start, state.arg_slots
        self.n_args = len(arg_tensors)
        self.base_tensors = state.tensors[:n_base]
        self.base_storages = state.storages[:start]
        self.extra_storages = state.storages[start + self.n_args:]
        self.base_pos = {i: k for i, k in state.st_pos.items() if k < start}
        self.base_pos.update((id(st), start + self.n_args + k)
                             for k, st in enumerate(self.extra_storages))
        tensors, storages = state.tensors, state.storages
        self.sts = list(map(_ST, self.base_tensors))
        self.chains = list(map(_CHAIN, tensors))
        self.rgs = list(map(_RG, tensors))
        self.grad_fns = list(map(_GRAD_FN, tensors))
        self.shapes = list(map(_SHAPE, storages))
        self.dtypes = list(map(_DTYPE, storages))
        self.avals = None  # (set by the first repeat that compares shapes)
        self.groups = S.groups_key(state.optimizers)
        self._snapshot_groups()
        owners = {id(o) for o in state.grad_owners}
        self.owner_idx = [k for k, t in enumerate(tensors) if id(t) in owners]
        return self

    def _snapshot_groups(self):
        groups = [g for o in self.optimizers for g in o.param_groups]
        self.group_values = [(g, tuple(g.values())) for g in groups]
        # a list's contents can change while it stays the same object
        self.group_lists = any(type(v) is list for g in groups for k, v in g.items()
                               if k not in ("params", "param_names"))

    def _groups_unchanged(self):
        """Every param group holds the same objects as last time, or (a scheduler set a
        new lr, a list in a group) its key part is the same."""
        if not self.group_lists and all(
                all(map(is_, g.values(), vals)) for g, vals in self.group_values):
            return True
        if S.groups_key(self.optimizers) != self.groups:
            return False
        self._snapshot_groups()
        return True

    def _storages_unchanged(self, storages):
        """Same shapes and dtypes. A program's outputs share their avals from call to
        call, so comparing avals by identity settles it for the state it writes; shapes
        and dtypes are compared only where that fails (a new batch, a pending value)."""
        try:
            avals = list(map(_AVAL, storages))
        except AttributeError:  # a pending op's LazyArray: no aval
            avals = None
        if avals is not None and self.avals is not None and all(map(is_, avals, self.avals)):
            return True
        if list(map(_SHAPE, storages)) != self.shapes \
                or not all(map(is_, map(_DTYPE, storages), self.dtypes)):
            return False
        if avals is not None:
            self.avals = avals
        return True

    def repeat(self, walk, treedef, leaves, arg_tensors, n_extra):
        """The StateSet this call's full path would build, or None if its key could
        differ from the last call's."""
        if walk is not self.walk or len(arg_tensors) != self.n_args \
                or n_extra != self.n_extra or S.context_key() != self.context:
            return None
        if treedef is not self.treedef and (  # (the same object: all arguments are tensors)
                treedef != self.treedef or tuple(map(S.leaf_key, leaves)) != self.leaf_key):
            return None
        # (modules' training flags need no check: they live in the module __dict__s that
        # `walk.still_valid` found unchanged, and `walk` is the walk this call recorded)
        # arguments: fresh leaves, each on its own storage, none of them state
        arg_sts = list(map(_ST, arg_tensors))
        known = self.base_pos
        if not known.keys().isdisjoint(map(id, arg_sts)) \
                or self.n_args > 1 and len(set(map(id, arg_sts))) != self.n_args:
            return None
        tensors = self.base_tensors + list(arg_tensors)
        storages = self.base_storages + arg_sts + self.extra_storages
        if not (all(map(is_, map(_ST, self.base_tensors), self.sts))
                and list(map(_CHAIN, tensors)) == self.chains
                and list(map(_RG, tensors)) == self.rgs
                and all(map(is_, map(_GRAD_FN, tensors), self.grad_fns))
                and self._storages_unchanged(storages)
                and self._groups_unchanged()):
            return None
        state = S.StateSet()
        state.tensors, state.storages = tensors, storages
        state.st_pos = dict(known)
        start = self.arg_start
        state.st_pos.update((id(st), start + k) for k, st in enumerate(arg_sts))
        state.modules, state.optimizers = self.modules, self.optimizers
        state.hypers, state.generators, state.consts = self.hypers, self.generators, self.consts
        state.arg_start, state.arg_slots = start, self.arg_slots
        for a in arg_tensors:
            a._arr = None  # as StateSet.add_tensor: a root reads its storage
        state.grad_owners = owners = [tensors[k] for k in self.owner_idx]
        state.grad_tensors = list(map(_GRAD, owners))
        return state


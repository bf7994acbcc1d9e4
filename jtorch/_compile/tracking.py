"""What a trace touched: the Tensor hooks report here while jtorch.compile traces.

`Tracker` learns, during one trace, the facts a compiled entry needs afterwards: which
`.grad` slots were read before being written (their presence then guards the entry and
their value is an input), whether a backward pass ran, which parameters an optimizer
stepped, which scheduler steps to replay after the call, and which storages outside
the lifted state were written (restored after the trace; live ones become state).
"""
from __future__ import annotations

import weakref


class LiftedCounter:
    """A generator's draw counter inside a trace: a traced base plus a Python offset, so
    the number of draws is known without reading the device after the call."""

    __slots__ = ("base", "offset")

    def __init__(self, base, offset=0):
        self.base, self.offset = base, offset

    def __add__(self, n):
        return LiftedCounter(self.base, self.offset + int(n))

    def __jax_array__(self):
        return self.base + self.offset


class Tracker:
    def __init__(self, state):
        self.owner_pos = {id(t): i for i, t in enumerate(state.grad_owners)}
        self.lifted = {id(st) for st in state.storages}
        for g in state.grad_tensors:
            if g is not None:
                self.lifted.add(id(g._st))
        self.first = {}          # grad slot -> True when its first access was a write
        self.backward_ran = False
        self.stepped_ids = set()
        self.deferred = []       # (callable, args, kwargs) to replay after each call
        self.foreign = {}        # id(storage) -> (weakref, arr, grad_gen) before the write
        self.unknown_grads = {}  # id(tensor) -> (weakref, grad) for leaves not found

    def grad_access(self, t, write, accumulate=False):
        i = self.owner_pos.get(id(t))
        if accumulate:
            self.backward_ran = True
        if i is None:
            if id(t) not in self.unknown_grads:
                self.unknown_grads[id(t)] = (weakref.ref(t), t._grad)
            return
        if i not in self.first:
            self.first[i] = write

    def storage_write(self, st):
        k = id(st)
        if k in self.lifted or k in self.foreign:
            return
        self.foreign[k] = (weakref.ref(st), st.arr, st.gen, st.grad_gen)

    def stepped(self, params):
        self.stepped_ids.update(id(p) for p in params)

    def defer(self, fn, args, kwargs):
        self.deferred.append((fn, args, kwargs))

"""torch.nn.parallel.DistributedDataParallel over jtorch.distributed (one process per rank).

At construction the parameters and buffers are broadcast from rank 0. Each parameter
gets a post-accumulate-grad hook; once every parameter the forward expects has its
gradient, one all-reduce (all parameters in one SPMD call: a single bucket) replaces
each gradient by its average over the ranks. `no_sync()` skips that for the forwards
run inside it, so gradients accumulate locally until the next synchronized backward.
"""
from __future__ import annotations

import contextlib

import jax.numpy as jnp

from ..._tensor import Tensor, wrap
from ...autograd import grad_mode
from ...autograd.graph import AccumulateGrad
from ...func import _pytree as PT
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss.")


def _dist():
    from ... import distributed
    return distributed


class DistributedDataParallel(Module):
    """DistributedDataParallel(module, device_ids=None, ..., find_unused_parameters=False)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=None, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False,
                 bucket_cap_mb_list=None, batched_grad_copy=False, forward_sync_buffers=None):
        super().__init__()
        from ..._errors import missing
        from ...distributed.distributed_c10d import _world
        for name, val in (("mixed_precision", mixed_precision), ("device_mesh", device_mesh),
                          ("param_to_hook_all_reduce", param_to_hook_all_reduce),
                          ("delay_all_reduce_named_params", delay_all_reduce_named_params)):
            if val is not None:
                raise missing(f"DistributedDataParallel({name}=...)")
        if device_ids is not None and len(device_ids) > 1:
            raise missing("DistributedDataParallel with several devices per process")
        self.process_group = _world(process_group)
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else None
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._params = [p for p in module.parameters() if p.requires_grad]
        if not self._params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._expected = None     # ids of the parameters the armed backward will produce
        self._ready = set()
        if init_sync:
            self._broadcast(list(module.parameters()) + self._buffers_list())
        self._hooks = [p.register_post_accumulate_grad_hook(self._grad_ready)
                       for p in self._params]

    # ------------------------------------------------------------------ forward
    def _buffers_list(self):
        return [b for b in self.module.buffers() if b is not None]

    def _broadcast(self, tensors):
        if not tensors or self.process_group.size() == 1:
            return
        from ...distributed.distributed_c10d import _run, _write
        for t, v in zip(tensors, _run("broadcast", [t._value for t in tensors], src=0)):
            _write(t, v)

    def forward(self, *inputs, **kwargs):
        if self._expected is not None and self._ready and \
                len(self._ready) < len(self._expected):
            raise RuntimeError(_UNFINISHED)
        self._expected = None
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._broadcast(self._buffers_list())
        out = self.module(*inputs, **kwargs)
        if grad_mode.STATE.grad_enabled and self.require_backward_grad_sync:
            self._ready = set()
            if self.find_unused_parameters:
                self._expected = _reachable_params(out, self._params)
            else:
                self._expected = {id(p) for p in self._params}
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Forwards run inside skip the gradient all-reduce (local accumulation)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------------ backward
    def _grad_ready(self, p):
        expected = self._expected
        if expected is None or id(p) not in expected:
            return
        self._ready.add(id(p))
        if len(self._ready) == len(expected):
            self._expected = None
            self._ready = set()
            self._all_reduce(expected)

    def _all_reduce(self, used):
        """Average every gradient over the ranks in one collective call."""
        from ...distributed.distributed_c10d import _run
        world = self.process_group.size()
        if world == 1:
            return               # the local gradients already are the average
        params = self._params
        grads = [p.grad._value if p.grad is not None else jnp.zeros(tuple(p.shape),
                                                                    p._value.dtype)
                 for p in params]
        flags = jnp.array([1 if id(p) in used else 0 for p in params], jnp.int32)
        arrays = grads + [flags] if self.find_unused_parameters else grads
        arrays = _run("all_reduce", arrays, op="sum")
        users = arrays[-1] if self.find_unused_parameters else None
        with grad_mode.no_grad():
            for k, (p, g) in enumerate(zip(params, arrays)):
                if users is not None and int(users[k]) == 0:
                    continue             # unused on every rank: its grad is left alone
                avg = (g / world).astype(p._value.dtype)
                if p.grad is None:
                    p.grad = wrap(jnp.asarray(avg))
                else:
                    p.grad.copy_(wrap(avg))

    # ------------------------------------------------------------------ the rest
    def register_comm_hook(self, state, hook):
        from ..._errors import missing
        raise missing("DistributedDataParallel.register_comm_hook")

    def join(self, *args, **kwargs):
        from ..._errors import missing
        raise missing("DistributedDataParallel.join")

    def _set_static_graph(self):
        self.static_graph = True


def _reachable_params(out, params):
    """Ids of the parameters whose gradient a backward from `out` will produce."""
    want = {id(p) for p in params}
    leaves, _ = PT.flatten(out)
    stack = [t.grad_fn for t in leaves if isinstance(t, Tensor) and t.grad_fn is not None]
    found = {id(t) for t in leaves if isinstance(t, Tensor) and id(t) in want}
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            var = node.variable()
            if var is not None and id(var) in want:
                found.add(id(var))
            continue
        stack.extend(n for n, _ in node.next_functions)
    return found

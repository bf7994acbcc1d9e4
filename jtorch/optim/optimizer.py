"""torch.optim.Optimizer: param groups, per-parameter state, state_dict, hooks, fused step.

The math of every optimizer is an optax `GradientTransformation` chain applied to one
parameter at a time, but all the parameters of a group go through ONE jitted call
(`_FusedOptimizer._step_group`): params, grads and state in, new params and state out.
Hyper-parameters that schedulers change (lr, betas, momentum, ...) are passed as traced
scalars, so a new learning rate never recompiles; options that change the program
(maximize, amsgrad, nesterov, "weight_decay != 0", ...) are static jit keys.
State lives in `self.state[p]` as jtorch Tensors under torch's names, updated in place.

`foreach`, `fused`, `capturable` and `differentiable` are accepted for API compatibility
and ignored: the step is always one fused, compiled update and is not differentiable.
"""
from __future__ import annotations

import collections
import functools
import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._donation import donatable
from .._tensor import Tensor, wrap
from ..autograd import grad_mode
from ..autograd.graph import RemovableHandle, _Hooks

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks an optimizer argument that has no default (torch.optim.optimizer.required)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks = _Hooks()
_global_post_hooks = _Hooks()


def _add_hook(table, hook, prepend=False):
    handle = RemovableHandle(table)
    table[handle.id] = hook
    if prepend:
        items = list(table.items())
        table.clear()
        table[handle.id] = hook
        table.update((k, v) for k, v in items if k != handle.id)
    return handle


def register_optimizer_step_pre_hook(hook):
    """A hook run before every optimizer's step: hook(optimizer, args, kwargs)."""
    return _add_hook(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """A hook run after every optimizer's step: hook(optimizer, args, kwargs)."""
    return _add_hook(_global_post_hooks, hook)


def _typename(obj):
    if isinstance(obj, Tensor):
        try:
            return obj.type()  # 'torch.FloatTensor', as torch.typename
        except Exception:  # noqa: BLE001 - a dtype without a legacy type name
            return "torch.Tensor"
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


def _with_step_hooks(func):
    """Wraps a subclass's step so global and per-optimizer step hooks run around it."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        self = args[0]
        for hook in chain(tuple(_global_pre_hooks.values()),
                          tuple(self._optimizer_step_pre_hooks.values())):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{func} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
        out = func(*args, **kwargs)
        for hook in chain(tuple(self._optimizer_step_post_hooks.values()),
                          tuple(_global_post_hooks.values())):
            hook(self, args, kwargs)
        return out
    wrapper._hooked = True
    return wrapper


class Optimizer:
    """Base class: holds `param_groups` (list of dicts), `defaults` and `state`."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = _Hooks()
        self._optimizer_step_post_hooks = _Hooks()
        self._optimizer_state_dict_pre_hooks = _Hooks()
        self._optimizer_state_dict_post_hooks = _Hooks()
        self._optimizer_load_state_dict_pre_hooks = _Hooks()
        self._optimizer_load_state_dict_post_hooks = _Hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Adds a group (a dict with 'params' and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for p in param_group["params"]:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not self.defaults.get("differentiable", None) and not (p.is_leaf
                                                                      or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(tensors) != len({id(p) for p in tensors}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(id(p) for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ grads
    def zero_grad(self, set_to_none=True):
        """Resets the gradients of all optimized tensors (to None by default, as torch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:  # without reading .grad (a compiled step needs no old grads)
                    p.grad = None
                    continue
                g = p.grad
                if g is None:
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g._write(jnp.zeros_like(g._value))

    def step(self, closure=None):
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), before step."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None, after step."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state_dict
    def state_dict(self):
        """{'state': {param_index: {...}}, 'param_groups': [{..., 'params': [indices]}]}.

        The state tensors are the optimizer's own (not copies), as in torch."""
        for hook in tuple(self._optimizer_state_dict_pre_hooks.values()):
            hook(self)
        mapping = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        sd = {"state": state, "param_groups": groups}
        for hook in tuple(self._optimizer_state_dict_post_hooks.values()):
            result = hook(self, sd)
            if result is not None:
                sd = result
        return sd

    @staticmethod
    def _cast_state_value(param, value, key):
        """torch's policy: 'step' is kept as is; float state follows the param's dtype."""
        if isinstance(value, Tensor):
            if key == "step":
                return value
            if param.is_floating_point() and value.dtype is not param.dtype:
                return value.to(param.dtype)
            return value
        if isinstance(value, dict):
            return {k: Optimizer._cast_state_value(param, v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state_value(param, v, key) for v in value)
        return value

    def load_state_dict(self, state_dict):
        """Loads a state_dict produced by `state_dict()` (or by real torch, same layout)."""
        state_dict = state_dict.copy()
        for hook in tuple(self._optimizer_load_state_dict_pre_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = self._cast_state_value(param, v, None)
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in tuple(self._optimizer_load_state_dict_post_hooks.values()):
            hook(self)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, _Hooks())
        for group in self.param_groups:
            for k, v in self.defaults.items():
                if v is not required:
                    group.setdefault(k, v)
        # older checkpoints store 'step' as a number; torch keeps a float32 tensor
        for st in self.state.values():
            if isinstance(st, dict) and "step" in st and not isinstance(st["step"], Tensor):
                st["step"] = wrap(jnp.asarray(float(st["step"]), jnp.float32))

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"


# ---------------------------------------------------------------------- fused machinery
def run_chain(transforms, p, g, states):
    """Applies optax.chain(*transforms) to one parameter.

    `states` maps a transform's index to its (torch-derived) state; the others start from
    their init (stateless ones). Returns (new_param, tuple of new states)."""
    tx = optax.chain(*transforms)
    init = list(tx.init(p))
    for i, s in states.items():
        init[i] = s
    updates, new_state = tx.update(g, tuple(init), p)
    return optax.apply_updates(p, updates), new_state


def grad_prefix(maximize, weight_decay=None):
    """torch's common start: negate for maximize, then L2 weight decay into the gradient."""
    txs = []
    if maximize:
        txs.append(optax.scale(-1.0))
    if weight_decay is not None:
        txs.append(optax.add_decayed_weights(weight_decay))
    return txs


def count_of(step):
    """torch keeps 'step' as a float32 tensor; optax counts in int32."""
    return step.astype(jnp.int32)


def step_of(count, like):
    return count.astype(like.dtype)


def scalar_dtype():
    """torch's dtype for 'step'-like scalars: float32, or float64 under that default."""
    from .. import _dtype as D
    return jnp.float64 if D.get_default_dtype() is D.float64 else jnp.float32


def zero_step():
    return jax.device_put(np.zeros((), scalar_dtype()))  # jnp would compile


def state_like(p, fill=0):
    """Fresh optimizer state shaped, typed and placed like the param value `p`.
    jnp.full_like compiles one small XLA program per new shape, tens of milliseconds each
    on a small CPU: most of a first step's set-up, eager or compiled. On CPU devices the
    state is filled on the host and handed over instead; elsewhere (and under a trace)
    jnp fills it on the device."""
    if isinstance(p, jax.Array) and not isinstance(p, jax.core.Tracer) \
            and all(d.platform == "cpu" for d in p.sharding.device_set):
        # placed as jnp would: with the param's sharding only if the param is committed
        return jax.device_put(np.full(p.shape, fill, p.dtype),
                              p.sharding if p.committed else None)
    return jnp.full_like(p, fill)


_JITS = {}
TRACES = collections.Counter()  # traces per optimizer class (a recompile check for tests)


def _fused_fn(cls, donate=False):
    """One jitted update for a whole group: loops over the params inside the trace.
    `donate`: params and state are updated in place (their old buffers are reused)."""
    fn = _JITS.get((cls, donate))
    if fn is None:
        def run(statics, hp, ps, gs, sts, fresh, skip):
            TRACES[cls.__name__] += 1
            new_ps, new_sts = [], []
            for k, (p, g, st) in enumerate(zip(ps, gs, sts)):
                if fresh is not None:  # (not donated: read only, no output to reuse it)
                    st = dict(st, __fresh__=fresh[k])
                np_, nst = cls._update(statics, hp, p, g, st)
                np_ = np_.astype(p.dtype)
                nst = {k: v.astype(st[k].dtype) if k in st else v
                       for k, v in nst.items() if k != "__fresh__"}
                if skip is not None:  # GradScaler found inf/nan: keep everything as it was
                    np_ = jnp.where(skip, p, np_)
                    nst = {k: jnp.where(skip, st[k], v) if k in st else v
                           for k, v in nst.items()}
                new_ps.append(np_)
                new_sts.append(nst)
            return new_ps, new_sts
        fn = _JITS[(cls, donate)] = jax.jit(run, static_argnums=0,
                                            donate_argnums=(2, 4) if donate else ())
    return fn


class _FusedOptimizer(Optimizer):
    """An Optimizer whose step is one compiled optax update per parameter group.

    Subclasses define `_statics(group)` (hashable program options), `_hypers(group)`
    (dict of floats, traced), `_init_state(p, group)` (torch's fresh state, arrays, in
    torch's key order) and the pure `_update(statics, hp, p, g, state) -> (p, state)`.
    Where `_needs_fresh(statics)`, the state also holds a traced bool "__fresh__": this
    is the param's first step (torch treats it specially, e.g. SGD's damped momentum)."""

    def _needs_fresh(self, statics):
        """Whether the update reads the "__fresh__" flag with these statics (each flag is
        one more input of a compiled step, so it exists only where it is read)."""
        return False

    def _statics(self, group):
        raise NotImplementedError

    def _hypers(self, group):
        raise NotImplementedError

    def _init_state(self, p, group):
        raise NotImplementedError

    @staticmethod
    def _update(statics, hp, p, g, state):
        raise NotImplementedError

    def _prepare_state(self, p, group):
        """The param's state dict (created lazily on its first step, as torch)."""
        st = self.state.get(p)
        if st:
            return st
        init = self._init_state(p._value, group)
        if not init:  # stateless configuration (e.g. SGD without momentum): no entry
            return {}
        st = self.state[p]
        st.update((k, wrap(v)) for k, v in init.items())
        return st

    def _compile_provision(self):
        """For jtorch.compile: create now, as a first step would, the state of every
        trainable param that has none, so a compiled step's inputs are the same on every
        call. A traced 'fresh' flag stands for "no state yet" (see `_step_group`).
        Returns the params provisioned; the caller drops those the step did not touch."""
        made = []
        flags = self.__dict__.setdefault("_fresh_flags", {})
        for group in self.param_groups:
            for p in group["params"]:
                if not p.requires_grad or self.state.get(p):
                    continue
                init = self._init_state(p._value, group)
                if not init:
                    continue
                self.state[p].update((k, wrap(v)) for k, v in init.items())
                if self._needs_fresh(self._statics(group)):
                    flags[p] = wrap(jax.device_put(np.asarray(True)))  # jnp compiles
                made.append(p)
        return made

    def _compile_unprovision(self, params):
        flags = self.__dict__.get("_fresh_flags", {})
        for p in params:
            self.state.pop(p, None)
            flags.pop(p, None)

    def _step_group(self, group):
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return
        from .. import _tensor
        if _tensor._TRACK is not None:
            _tensor._TRACK.stepped(params)
        concrete = self.__dict__.get("_concrete_groups")  # set while jtorch.compile traces
        plain = group if concrete is None else concrete[id(group)]  # Python-valued options
        statics = self._statics(plain)
        flags = self.__dict__.get("_fresh_flags") or {}
        fresh = None
        if self._needs_fresh(statics):
            fresh = [flags[p]._value if p in flags else not self.state.get(p) for p in params]
        hp = {k: _hyper_value(v) for k, v in self._hypers(group).items()}
        p_arrs, g_arrs, st_tensors = [], [], []
        for p in params:
            if p.is_complex():
                raise NotImplementedError(f"torch.optim.{type(self).__name__}: complex "
                                          "parameters are not supported")
            grad = p.grad
            if grad.is_sparse:
                raise NotImplementedError(f"torch.optim.{type(self).__name__}: sparse "
                                          "gradients are not supported")
            p_arrs.append(p._value)
            g_arrs.append(grad._value)
        for p in params:
            st_tensors.append(self._prepare_state(p, plain))
        st_arrs = [{k: v._value for k, v in st.items() if isinstance(v, Tensor)}
                   for st in st_tensors]
        if fresh is not None:  # a traced flag: torch treats a param's first step specially
            fresh = [jnp.asarray(f) for f in fresh]
        skip = self.__dict__.get("_skip_flag")
        # Eagerly the step always donates (one compiled variant, so a refcount that differs
        # between steps never retraces); an array someone else still sees is copied first.
        donate = not any(isinstance(a, jax.core.Tracer) for a in p_arrs)
        if donate:  # each array's one holder besides its storage: p_arrs, its st dict
            for i in range(len(p_arrs)):  # by index: a loop variable would be one more holder
                p_arrs[i] = donatable(p_arrs[i], 1)
            for st in st_arrs:
                for k in st:
                    st[k] = donatable(st[k], 1)
        new_ps, new_sts = _fused_fn(type(self), donate)(statics, hp, p_arrs, g_arrs, st_arrs,
                                                        fresh, skip)
        for p, new in zip(params, new_ps):
            p._write(new)
            if p in flags:
                flags[p]._write(jnp.asarray(False))
        for st, new in zip(st_tensors, new_sts):
            for k, v in new.items():
                t = st.get(k)
                if isinstance(t, Tensor) and t.shape == v.shape:
                    t._write(v)
                else:
                    st[k] = wrap(v)

    def _step_unless(self, found_inf, *args, **kwargs):
        """step(), except that every update is discarded where the traced bool `found_inf`
        is true (GradScaler's skipped step, decided on device: no host sync)."""
        self._skip_flag = found_inf
        try:
            return self.step(*args, **kwargs)
        finally:
            self._skip_flag = None

    def step(self, closure=None):
        """One optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        with grad_mode.no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss


def _hyper_value(v):
    """A hyper-parameter as the fused step takes it: a float, or a traced scalar when
    jtorch.compile lifted it (so a scheduler's new lr never retraces)."""
    if isinstance(v, jax.Array):
        return v
    if isinstance(v, Tensor):
        return v._value
    return float(v)


def check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_common(lr, eps=None, betas=None, weight_decay=None):
    """torch's constructor validation (same ValueError messages)."""
    check_lr(lr)
    if eps is not None and not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if betas is not None:
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if weight_decay is not None and not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def check_fused_foreach(fused, foreach):
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

"""torch.optim.SGD: momentum, dampening, nesterov, weight decay, maximize."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .optimizer import (_FusedOptimizer, check_fused_foreach, check_lr, grad_prefix, run_chain,
                        state_like)

__all__ = ["SGD"]


class TorchMomentumState(NamedTuple):
    momentum_buffer: Any
    fresh: Any  # bool: the buffer is not yet initialised (torch then copies the gradient)


def torch_momentum(momentum, dampening):
    """torch's heavy-ball buffer: buf = g on the first step, else m*buf + (1-dampening)*g.

    optax.trace matches when dampening == 0 (its zero init gives buf = g); with
    dampening torch does not dampen the first step, so the buffer needs its own flag."""
    def init(params):
        return TorchMomentumState(jax.tree.map(jnp.zeros_like, params), jnp.asarray(True))

    def update(updates, state, params=None):
        del params
        buf = jax.tree.map(
            lambda g, b: jnp.where(state.fresh, g, momentum * b + (1 - dampening) * g),
            updates, state.momentum_buffer)
        return buf, TorchMomentumState(buf, jnp.asarray(False))

    return optax.GradientTransformation(init, update)


class SGD(_FusedOptimizer):
    """Stochastic gradient descent with torch's momentum semantics."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_fused_foreach(fused, foreach)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0, group["momentum"] != 0,
                group["dampening"] != 0, bool(group["nesterov"]))

    def _needs_fresh(self, statics):
        _, _, mom_on, damp_on, _ = statics
        return mom_on and damp_on  # without dampening, a zero buffer is torch's first step

    def _hypers(self, group):
        return dict(lr=group["lr"], momentum=group["momentum"],
                    dampening=group["dampening"], wd=group["weight_decay"])

    def _init_state(self, p, group):
        if group["momentum"] == 0:
            return {}
        return {"momentum_buffer": state_like(p)}

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on, mom_on, damp_on, nesterov = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on else None)
        states = {}
        if mom_on:
            i = len(txs)
            if damp_on:
                txs.append(torch_momentum(hp["momentum"], hp["dampening"]))
                states[i] = TorchMomentumState(st["momentum_buffer"], st["__fresh__"])
            else:  # optax.trace is exactly torch's buffer when dampening == 0
                txs.append(optax.trace(hp["momentum"], nesterov=nesterov))
                states[i] = optax.TraceState(trace=st["momentum_buffer"])
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        new_p, new_states = run_chain(txs, p, g, states)
        if not mom_on:
            return new_p, {}
        s = new_states[i]
        buf = s.momentum_buffer if damp_on else s.trace
        return new_p, {"momentum_buffer": buf}

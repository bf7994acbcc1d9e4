"""torch.optim.Adagrad: lr_decay, initial_accumulator_value, eps outside the sqrt."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .optimizer import (_FusedOptimizer, check_fused_foreach, check_lr, count_of, grad_prefix,
                        run_chain, state_like, step_of, zero_step)

__all__ = ["Adagrad"]


class TorchAdagradState(NamedTuple):
    count: Any
    sum: Any


def scale_by_torch_adagrad(lr_decay, eps, initial_accumulator_value=0.0):
    """g / (sqrt(sum) + eps) / (1 + (step-1)*lr_decay), sum += g^2 first.

    optax.scale_by_rss puts eps inside the sqrt and has no lr_decay, so this is torch's."""
    def init(params):
        return TorchAdagradState(
            jnp.zeros([], jnp.int32),
            jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        total = jax.tree.map(lambda g, s: s + g * g, updates, state.sum)
        decay = 1.0 / (1 + (count - 1) * lr_decay)
        out = jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps) * decay.astype(g.dtype),
                           updates, total)
        return out, TorchAdagradState(count, total)

    return optax.GradientTransformation(init, update)


class Adagrad(_FusedOptimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        check_fused_foreach(fused, foreach)
        super().__init__(params, defaults)
        # torch creates Adagrad's state eagerly, in the constructor
        for group in self.param_groups:
            for p in group["params"]:
                self._prepare_state(p, group)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0)

    def _hypers(self, group):
        return dict(lr=group["lr"], lr_decay=group["lr_decay"], eps=group["eps"],
                    wd=group["weight_decay"])

    def _init_state(self, p, group):
        return {"step": zero_step(),
                "sum": state_like(p, group["initial_accumulator_value"])}

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on else None)
        i = len(txs)
        txs.append(scale_by_torch_adagrad(hp["lr_decay"], hp["eps"]))
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        new_p, s = run_chain(txs, p, g, {i: TorchAdagradState(count_of(st["step"]),
                                                              st["sum"])})
        return new_p, {"step": step_of(s[i].count, st["step"]), "sum": s[i].sum}

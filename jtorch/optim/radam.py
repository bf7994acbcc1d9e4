"""torch.optim.RAdam: rectified Adam with torch's threshold (rho_t > 5) and eps placement."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .optimizer import (_FusedOptimizer, check_common, count_of, grad_prefix, run_chain,
                        state_like, step_of, zero_step)

__all__ = ["RAdam"]


class TorchRAdamState(NamedTuple):
    count: Any
    exp_avg: Any
    exp_avg_sq: Any


def scale_by_torch_radam(b1, b2, eps):
    """torch's RAdam: rectified when rho_t > 5 (optax: >= threshold), and the adaptive term
    is sqrt(bc2) / (sqrt(v) + eps) (optax puts eps after the bias correction)."""
    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return TorchRAdamState(jnp.zeros([], jnp.int32), z, z)

    def update(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        t = count.astype(jnp.float64)
        m = optax.tree.update_moment(updates, state.exp_avg, b1, 1)
        v = optax.tree.update_moment_per_elem_norm(updates, state.exp_avg_sq, b2, 2)
        bc1 = 1 - b1 ** t
        bc2 = 1 - b2 ** t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2 ** t) / bc2
        rectify = rho_t > 5.0
        rect = jnp.sqrt(jnp.where(rectify, (rho_t - 4) * (rho_t - 2) * rho_inf
                                  / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 1.0))

        def one(m_, v_):
            m_hat = m_ / bc1.astype(m_.dtype)
            adaptive = jnp.sqrt(bc2).astype(v_.dtype) / (jnp.sqrt(v_) + eps)
            return jnp.where(rectify, m_hat * adaptive * rect.astype(m_.dtype), m_hat)
        return jax.tree.map(one, m, v), TorchRAdamState(count, m, v)

    return optax.GradientTransformation(init, update)


class RAdam(_FusedOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_common(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0,
                bool(group["decoupled_weight_decay"]))

    def _hypers(self, group):
        b1, b2 = group["betas"]
        return dict(lr=group["lr"], b1=b1, b2=b2, eps=group["eps"], wd=group["weight_decay"])

    def _init_state(self, p, group):
        return {"step": zero_step(), "exp_avg": state_like(p),
                "exp_avg_sq": state_like(p)}

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on, decoupled = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on and not decoupled else None)
        i = len(txs)
        txs.append(scale_by_torch_radam(hp["b1"], hp["b2"], hp["eps"]))
        if wd_on and decoupled:
            txs.append(optax.add_decayed_weights(hp["wd"]))
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        core = TorchRAdamState(count_of(st["step"]), st["exp_avg"], st["exp_avg_sq"])
        new_p, s = run_chain(txs, p, g, {i: core})
        c = s[i]
        return new_p, {"step": step_of(c.count, st["step"]), "exp_avg": c.exp_avg,
                       "exp_avg_sq": c.exp_avg_sq}

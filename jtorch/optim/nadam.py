"""torch.optim.NAdam: Dozat's Nesterov Adam with torch's momentum_decay schedule."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .optimizer import (_FusedOptimizer, check_common, count_of, grad_prefix, run_chain,
                        scalar_dtype, state_like, step_of, zero_step)

__all__ = ["NAdam"]


class TorchNAdamState(NamedTuple):
    count: Any
    mu_product: Any
    exp_avg: Any
    exp_avg_sq: Any


def scale_by_torch_nadam(b1, b2, eps, momentum_decay):
    """mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)); the update mixes the gradient and the
    first moment with torch's mu_product weights (optax's nesterov Adam has no such decay).
    Scalars are computed in float64 as torch does in Python; mu_product stays a float32
    tensor like torch's state."""
    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return TorchNAdamState(jnp.zeros([], jnp.int32), jnp.ones([], scalar_dtype()), z, z)

    def update(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        t = count.astype(jnp.float64)
        bc2 = 1 - b2 ** t
        mu = b1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
        mu_product = state.mu_product * mu.astype(state.mu_product.dtype)
        mu_product_next = mu_product.astype(jnp.float64) * mu_next
        c_grad = (1.0 - mu) / (1.0 - mu_product.astype(jnp.float64))
        c_avg = mu_next / (1.0 - mu_product_next)
        m = optax.tree.update_moment(updates, state.exp_avg, b1, 1)
        v = optax.tree.update_moment_per_elem_norm(updates, state.exp_avg_sq, b2, 2)

        def one(g, m_, v_):
            denom = jnp.sqrt(v_ / bc2.astype(v_.dtype)) + eps
            return (c_grad.astype(g.dtype) * (g / denom)
                    + c_avg.astype(g.dtype) * (m_ / denom))
        out = jax.tree.map(one, updates, m, v)
        return out, TorchNAdamState(count, mu_product, m, v)

    return optax.GradientTransformation(init, update)


class NAdam(_FusedOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_common(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0,
                bool(group["decoupled_weight_decay"]))

    def _hypers(self, group):
        b1, b2 = group["betas"]
        return dict(lr=group["lr"], b1=b1, b2=b2, eps=group["eps"], wd=group["weight_decay"],
                    momentum_decay=group["momentum_decay"])

    def _init_state(self, p, group):
        return {"step": zero_step(), "mu_product": jax.device_put(np.ones((), scalar_dtype())),
                "exp_avg": state_like(p), "exp_avg_sq": state_like(p)}

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on, decoupled = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on and not decoupled else None)
        i = len(txs)
        txs.append(scale_by_torch_nadam(hp["b1"], hp["b2"], hp["eps"], hp["momentum_decay"]))
        if wd_on and decoupled:
            txs.append(optax.add_decayed_weights(hp["wd"]))
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        core = TorchNAdamState(count_of(st["step"]), st["mu_product"], st["exp_avg"],
                               st["exp_avg_sq"])
        new_p, s = run_chain(txs, p, g, {i: core})
        c = s[i]
        return new_p, {"step": step_of(c.count, st["step"]), "mu_product": c.mu_product,
                       "exp_avg": c.exp_avg, "exp_avg_sq": c.exp_avg_sq}

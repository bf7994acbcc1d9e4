"""torch.optim.Adam (L2 weight decay, or decoupled), with amsgrad and maximize."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .optimizer import (_FusedOptimizer, check_common, check_fused_foreach, count_of, grad_prefix,
                        run_chain, state_like, step_of, zero_step)

__all__ = ["Adam"]


class TorchAmsgradState(NamedTuple):
    count: Any
    exp_avg: Any
    exp_avg_sq: Any
    max_exp_avg_sq: Any


def scale_by_torch_amsgrad(b1, b2, eps):
    """torch's AMSGrad: the running max is of the *raw* second moment, bias-corrected after
    (optax.scale_by_amsgrad takes the max of the corrected one, which differs)."""
    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return TorchAmsgradState(jnp.zeros([], jnp.int32), z, z, z)

    def update(updates, state, params=None):
        del params
        mu = optax.tree.update_moment(updates, state.exp_avg, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.exp_avg_sq, b2, 2)
        count = optax.safe_increment(state.count)
        nu_max = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, nu)
        mu_hat = optax.tree.bias_correction(mu, b1, count)
        bc2_sqrt = jnp.sqrt(1 - b2 ** count)
        out = jax.tree.map(
            lambda m, v: m / (jnp.sqrt(v) / bc2_sqrt.astype(v.dtype) + eps), mu_hat, nu_max)
        return out, TorchAmsgradState(count, mu, nu, nu_max)

    return optax.GradientTransformation(init, update)


class Adam(_FusedOptimizer):
    """Adam: scale_by_adam (eps outside the sqrt, eps_root=0) after L2 decay, or with
    decoupled_weight_decay the AdamW chain (decay added after the Adam scaling)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_common(lr, eps, betas, weight_decay)
        betas = tuple(float(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        check_fused_foreach(fused, foreach)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), bool(group["amsgrad"]), group["weight_decay"] != 0,
                bool(group.get("decoupled_weight_decay", False)))

    def _hypers(self, group):
        b1, b2 = group["betas"]
        return dict(lr=group["lr"], b1=b1, b2=b2, eps=group["eps"], wd=group["weight_decay"])

    def _init_state(self, p, group):
        st = {"step": zero_step(), "exp_avg": state_like(p),
              "exp_avg_sq": state_like(p)}
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = state_like(p)
        return st

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, amsgrad, wd_on, decoupled = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on and not decoupled else None)
        i = len(txs)
        count = count_of(st["step"])
        if amsgrad:
            txs.append(scale_by_torch_amsgrad(hp["b1"], hp["b2"], hp["eps"]))
            core = TorchAmsgradState(count, st["exp_avg"], st["exp_avg_sq"],
                                     st["max_exp_avg_sq"])
        else:
            txs.append(optax.scale_by_adam(hp["b1"], hp["b2"], hp["eps"], eps_root=0.0))
            core = optax.ScaleByAdamState(count, st["exp_avg"], st["exp_avg_sq"])
        if wd_on and decoupled:
            txs.append(optax.add_decayed_weights(hp["wd"]))
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        new_p, states = run_chain(txs, p, g, {i: core})
        s = states[i]
        if amsgrad:
            return new_p, {"step": step_of(s.count, st["step"]), "exp_avg": s.exp_avg,
                           "exp_avg_sq": s.exp_avg_sq, "max_exp_avg_sq": s.max_exp_avg_sq}
        return new_p, {"step": step_of(s.count, st["step"]), "exp_avg": s.mu,
                       "exp_avg_sq": s.nu}

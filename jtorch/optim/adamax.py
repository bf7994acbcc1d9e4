"""torch.optim.Adamax: optax.scale_by_adamax (max(b2*u, |g|+eps), bias-corrected mean)."""
from __future__ import annotations

import optax

from .optimizer import (_FusedOptimizer, check_common, count_of, grad_prefix, run_chain,
                        state_like, step_of, zero_step)

__all__ = ["Adamax"]


class Adamax(_FusedOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_common(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0)

    def _hypers(self, group):
        b1, b2 = group["betas"]
        return dict(lr=group["lr"], b1=b1, b2=b2, eps=group["eps"], wd=group["weight_decay"])

    def _init_state(self, p, group):
        return {"step": zero_step(), "exp_avg": state_like(p),
                "exp_inf": state_like(p)}

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on else None)
        i = len(txs)
        txs.append(optax.scale_by_adamax(hp["b1"], hp["b2"], hp["eps"]))
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        core = optax.ScaleByAdamState(count_of(st["step"]), st["exp_avg"], st["exp_inf"])
        new_p, s = run_chain(txs, p, g, {i: core})
        return new_p, {"step": step_of(s[i].count, st["step"]), "exp_avg": s[i].mu,
                       "exp_inf": s[i].nu}

"""torch.optim.Adadelta: optax.scale_by_adadelta (same math as torch) then -lr."""
from __future__ import annotations

import optax

from .optimizer import (_FusedOptimizer, check_common, check_lr, grad_prefix, run_chain,
                        state_like, zero_step)

__all__ = ["Adadelta"]


class Adadelta(_FusedOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_common(lr, eps, None, weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0)

    def _hypers(self, group):
        return dict(lr=group["lr"], rho=group["rho"], eps=group["eps"],
                    wd=group["weight_decay"])

    def _init_state(self, p, group):
        return {"step": zero_step(), "square_avg": state_like(p),
                "acc_delta": state_like(p)}

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on else None)
        i = len(txs)
        txs.append(optax.scale_by_adadelta(hp["rho"], hp["eps"]))
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        core = optax.ScaleByAdaDeltaState(e_g=st["square_avg"], e_x=st["acc_delta"])
        new_p, s = run_chain(txs, p, g, {i: core})
        return new_p, {"step": st["step"] + 1, "square_avg": s[i].e_g,
                       "acc_delta": s[i].e_x}

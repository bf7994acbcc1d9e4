"""torch.optim.RMSprop: optax scale_by_rms / scale_by_stddev (eps outside the sqrt) + trace."""
from __future__ import annotations

import optax

from .optimizer import _FusedOptimizer, check_common, grad_prefix, run_chain, state_like, zero_step

__all__ = ["RMSprop"]


class RMSprop(_FusedOptimizer):
    """square_avg = alpha*square_avg + (1-alpha)*g^2; centered subtracts grad_avg^2;
    momentum keeps buf = m*buf + g/avg (optax.trace); the step is -lr * that."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_common(lr, eps)
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _statics(self, group):
        return (bool(group["maximize"]), group["weight_decay"] != 0, group["momentum"] > 0,
                bool(group["centered"]))

    def _hypers(self, group):
        return dict(lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                    wd=group["weight_decay"], momentum=group["momentum"])

    def _init_state(self, p, group):
        st = {"step": zero_step(), "square_avg": state_like(p)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = state_like(p)
        if group["centered"]:
            st["grad_avg"] = state_like(p)
        return st

    @staticmethod
    def _update(statics, hp, p, g, st):
        maximize, wd_on, mom_on, centered = statics
        txs = grad_prefix(maximize, hp["wd"] if wd_on else None)
        i = len(txs)
        if centered:
            txs.append(optax.scale_by_stddev(hp["alpha"], hp["eps"], eps_in_sqrt=False))
            states = {i: optax.ScaleByRStdDevState(mu=st["grad_avg"], nu=st["square_avg"])}
        else:
            txs.append(optax.scale_by_rms(hp["alpha"], hp["eps"], eps_in_sqrt=False))
            states = {i: optax.ScaleByRmsState(nu=st["square_avg"])}
        if mom_on:
            txs.append(optax.trace(hp["momentum"]))
            states[i + 1] = optax.TraceState(trace=st["momentum_buffer"])
        txs.append(optax.scale_by_learning_rate(hp["lr"]))
        new_p, s = run_chain(txs, p, g, states)
        out = {"step": st["step"] + 1, "square_avg": s[i].nu}
        if mom_on:
            out["momentum_buffer"] = s[i + 1].trace
        if centered:
            out["grad_avg"] = s[i].mu
        return new_p, out

"""jtorch.optim.lr_scheduler against torch's: the lr (and momentum) sequences, state_dict,
warnings, and a scheduled training run."""
import warnings

import numpy as np
import pytest
import torch

import jtorch
import jtorch.optim as jopt
from jtorch.optim import lr_scheduler as jls
from torch.optim import lr_scheduler as tls


def _opts(opt="SGD", **kw):
    """The same two-group optimizer in both libraries (params never get grads: the step is a
    no-op, only the schedule is compared)."""
    kw = kw or ({"momentum": 0.9} if opt == "SGD" else {})
    mk = lambda lib: [{"params": [lib.zeros(2, requires_grad=True)]},  # noqa: E731
                      {"params": [lib.zeros(3, requires_grad=True)], "lr": 0.5}]
    return getattr(torch.optim, opt)(mk(torch), lr=0.1, **kw), \
        getattr(jopt, opt)(mk(jtorch), lr=0.1, **kw)


def _groups(opt):
    keys = ("lr", "momentum", "betas", "initial_lr")
    return [{k: g[k] for k in keys if k in g} for g in opt.param_groups]


def _check_same(ts, js, topt, jo):
    assert js.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=1e-15)
    _groups_close(_groups(jo), _groups(topt))
    assert getattr(js, "last_epoch", None) == getattr(ts, "last_epoch", None)


def _groups_close(a, b):
    assert len(a) == len(b)
    for ga, gb in zip(a, b):
        assert ga.keys() == gb.keys()
        for k in ga:
            np.testing.assert_allclose(np.asarray(ga[k], float), np.asarray(gb[k], float),
                                       rtol=1e-12, atol=1e-15)


def _run(make, opt="SGD", steps=50, okw=None, metric=None):
    topt, jo = _opts(opt, **(okw or {}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right order warns about nothing, as in torch
        ts, js = make(tls, topt), make(jls, jo)
        _check_same(ts, js, topt, jo)
        for i in range(steps):
            topt.step()
            jo.step()
            if metric is None:
                ts.step()
                js.step()
            else:
                ts.step(metric(i))
                js.step(metric(i))
            _check_same(ts, js, topt, jo)
    return ts, js


class _Scale:
    """A callable object: its __dict__ is saved by LambdaLR.state_dict."""

    def __init__(self, base):
        self.base = base

    def __call__(self, epoch):
        return self.base ** epoch


SCHEDULES = {
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e)),
    "LambdaLR-list": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, _Scale(0.95)]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 20, 20, 33], gamma=0.3),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=9),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=17),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=30, power=2.0),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=5, T_mult=2, eta_min=0.001),
    "CyclicLR-triangular": lambda m, o: m.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=6),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                    step_size_down=7, mode="triangular2"),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                  mode="exp_range", gamma=0.97,
                                                  base_momentum=0.7, max_momentum=0.95),
    "CyclicLR-scale_fn": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                 scale_fn=lambda x: 0.5 ** x,
                                                 scale_mode="iterations",
                                                 cycle_momentum=False),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=[0.3, 1.0], total_steps=50),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, epochs=5, steps_per_epoch=10, anneal_strategy="linear",
        three_phase=True, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.2, total_iters=5), m.ExponentialLR(o, gamma=0.9),
            m.CosineAnnealingLR(o, T_max=10)], milestones=[5, 25]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.95),
         m.StepLR(o, step_size=10, gamma=0.5)]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch(name):
    _run(SCHEDULES[name])


@pytest.mark.parametrize("name", ["CyclicLR-triangular", "OneCycleLR-cos",
                                  "OneCycleLR-linear-3phase"])
def test_momentum_cycling_with_adam_betas(name):
    _run(SCHEDULES[name], opt="Adam")


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", threshold_mode="abs", threshold=0.5),
                                dict(patience=2, cooldown=3, factor=0.5, min_lr=[0.02, 0.1]),
                                dict(mode="min", threshold_mode="abs", patience=0, eps=0.05)])
def test_reduce_lr_on_plateau(kw):
    metrics = [5, 4, 4.5, 4.2, 4.1, 4.3, 4.4, 3.0, 3.1, 3.2, 3.3, 3.4, 2.9] * 4
    _run(lambda m, o: m.ReduceLROnPlateau(o, **kw), metric=lambda i: metrics[i], steps=50)


def test_state_dict_round_trip():
    for name in ["StepLR", "CosineAnnealingWarmRestarts", "OneCycleLR-cos",
                 "CyclicLR-triangular2", "LambdaLR-list", "SequentialLR"]:
        ts, js = _run(SCHEDULES[name], steps=13)
        tsd, jsd = ts.state_dict(), js.state_dict()
        assert sorted(jsd) == sorted(tsd), name
        # resume: a fresh scheduler loading the state continues like torch's original
        topt2, jo2 = _opts()
        ts2, js2 = SCHEDULES[name](tls, topt2), SCHEDULES[name](jls, jo2)
        ts2.load_state_dict(tsd)
        js2.load_state_dict(jsd)
        for _ in range(5):
            for o in (topt2, jo2):
                o.step()
            ts2.step()
            js2.step()
            assert js2.get_last_lr() == pytest.approx(ts2.get_last_lr(), rel=1e-12)
    _, js = _run(SCHEDULES["LambdaLR-list"], steps=3)
    assert js.state_dict()["lr_lambdas"] == [None, {"base": 0.95}]


def test_order_warning_and_epoch_closed_form():
    topt, jo = _opts()
    ts, js = tls.StepLR(topt, step_size=3, gamma=0.5), jls.StepLR(jo, step_size=3, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        js.step()  # scheduler stepped before the optimizer
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        ts.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        js.step(7)
    with pytest.warns(UserWarning, match="epoch parameter"):
        ts.step(7)
    assert js.get_last_lr() == ts.get_last_lr()
    with pytest.warns(UserWarning, match="get_last_lr"):
        js.get_lr()


def test_errors_match_torch():
    topt, jo = _opts()
    cases = [
        (lambda m, o: m.ConstantLR(o, factor=2.0)),
        (lambda m, o: m.LinearLR(o, start_factor=0)),
        (lambda m, o: m.StepLR(o, 3, last_epoch=4)),
        (lambda m, o: m.ReduceLROnPlateau(o, factor=1.5)),
        (lambda m, o: m.ReduceLROnPlateau(o, mode="avg")),
        (lambda m, o: m.OneCycleLR(o, max_lr=0.1)),
        (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0)),
        (lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="zigzag")),
        (lambda m, o: m.LambdaLR(o, [lambda e: 1.0])),
    ]
    for make in cases:
        with pytest.raises(Exception) as et:
            make(tls, topt)
        with pytest.raises(Exception) as ej:
            make(jls, jo)
        assert type(ej.value) is type(et.value) and str(ej.value) == str(et.value)
    t_ad, j_ad = _opts("Adagrad")
    with pytest.raises(ValueError, match="momentum or beta1"):
        jls.CyclicLR(j_ad, 0.1, 1.0)


def test_scheduled_training_matches_torch():
    """Adam + warmup/cosine schedule: lr changes reach the compiled step (traced lr)."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 2)).astype(np.float32)
    tp, jp = torch.tensor(x0, requires_grad=True), jtorch.tensor(x0, requires_grad=True)
    topt, jo = torch.optim.Adam([tp], lr=0.05), jopt.Adam([jp], lr=0.05)

    def sched(m, o):
        return m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=5),
                                  m.CosineAnnealingLR(o, T_max=20)], milestones=[5])

    ts, js = sched(tls, topt), sched(jls, jo)
    for _ in range(25):
        for lib, p, o, s in ((torch, tp, topt, ts), (jtorch, jp, jo, js)):
            o.zero_grad()
            ((p - 2.0) ** 2).sum().backward()
            o.step()
            s.step()
        np.testing.assert_allclose(jp.detach().numpy(), tp.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)

"""jtorch.compile: eager-style training steps compiled into one program.

Each test runs the same code eagerly and compiled from identical state (weights, RNG)
and checks the results agree, that state (params, grads, optimizer state, buffers, RNG,
learning rates) is written back, and how often the Python function was traced."""
import copy
import warnings

import jax
import numpy as np
import pytest
import torch as real_torch

import jtorch
import jtorch.nn as nn
import jtorch.nn.functional as F


def _snapshot(model, opt):
    return copy.deepcopy(model.state_dict()), jtorch.random.get_rng_state()


def _mlp(dropout=0.0, bn=False):
    jtorch.manual_seed(0)
    # before BatchNorm a bias has zero true gradient (only float noise, which Adam would
    # amplify into arbitrary updates), so it has none, as usual in practice
    layers = [nn.Linear(6, 16, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def _data(n=12, seed=1):
    g = jtorch.Generator().manual_seed(seed)
    return jtorch.randn(n, 6, generator=g), jtorch.randint(0, 3, (n,), generator=g)


def _train_step(model, opt, after=None):
    """step(x, y): zero_grad, cross-entropy, backward, optimizer step, then `after()`."""
    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        if after is not None:
            after()
        return loss
    return step


def _run(model, make_opt, steps, compiled, sched=None, x=None, y=None):
    opt = make_opt(model.parameters())
    scheduler = sched(opt) if sched else None
    crit = nn.CrossEntropyLoss()

    def step(xb, yb):
        opt.zero_grad()
        loss = crit(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    fn = jtorch.compile(step, fullgraph=True) if compiled else step
    losses, lrs = [], []
    for _ in range(steps):
        losses.append(fn(x, y).item())
        if scheduler is not None:
            scheduler.step()
            lrs.append(opt.param_groups[0]["lr"])
    return losses, lrs, opt, fn


@pytest.mark.parametrize("make_opt", [
    lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: jtorch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
], ids=["sgd_momentum", "adamw"])
def test_eager_and_compiled_agree_with_dropout_and_batchnorm(make_opt):
    x, y = _data()
    model = _mlp(dropout=0.3, bn=True)
    sd, rng = _snapshot(model, None)
    eager, _, opt_e, _ = _run(model, make_opt, 20, compiled=False, x=x, y=y)
    w_eager = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    jtorch.random.set_rng_state(rng)
    comp, _, opt_c, fn = _run(model, make_opt, 20, compiled=True, x=x, y=y)
    np.testing.assert_allclose(comp, eager, rtol=1e-5)
    for k, v in model.state_dict().items():  # running stats and num_batches_tracked too
        np.testing.assert_allclose(v.numpy(), w_eager[k].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    assert fn.trace_count == 1  # repeated calls never retrace
    # optimizer state was written back under torch's keys
    se, sc = opt_e.state_dict()["state"], opt_c.state_dict()["state"]
    assert se.keys() == sc.keys()
    for i in se:
        for k in se[i]:
            np.testing.assert_allclose(np.asarray(sc[i][k]), np.asarray(se[i][k]),
                                       rtol=1e-5, atol=1e-7)


def test_matches_real_torch_trajectory():
    x, y = _data()
    model = _mlp()
    tmodel = real_torch.nn.Sequential(real_torch.nn.Linear(6, 16), real_torch.nn.ReLU(),
                                      real_torch.nn.Dropout(0.0), real_torch.nn.Linear(16, 3))
    tmodel.load_state_dict({k: real_torch.tensor(v.numpy()) for k, v in
                            model.state_dict().items()})
    losses, _, opt, _ = _run(model, lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9),
                             10, compiled=True, x=x, y=y)
    # without dampening a zero buffer is torch's first step: no "first step" flags (each
    # would be one more program input)
    assert not opt.__dict__.get("_fresh_flags")
    topt = real_torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    tx, ty = real_torch.tensor(x.numpy()), real_torch.tensor(y.numpy())
    expected = []
    for _ in range(10):
        topt.zero_grad()
        loss = real_torch.nn.functional.cross_entropy(tmodel(tx), ty)
        loss.backward()
        topt.step()
        expected.append(loss.item())
    np.testing.assert_allclose(losses, expected, rtol=1e-5)


def test_new_batch_size_retraces_once_and_grads_are_written_back():
    model = _mlp()
    opt = jtorch.optim.SGD(model.parameters(), lr=0.1)

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    fn = jtorch.compile(step)
    x8, y8 = _data(8)
    x5, y5 = _data(5)
    fn(x8, y8)
    fn(x8, y8)
    assert fn.trace_count == 1
    fn(x5, y5)
    fn(x5, y5)
    assert fn.trace_count == 2
    fn(x8, y8)
    assert fn.trace_count == 2
    # .grad holds this call's gradient, as after an eager step
    w = model[0].weight
    g = w.grad.clone()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt2 = jtorch.optim.SGD(model.parameters(), lr=0.1)
    opt2.zero_grad()
    F.cross_entropy(model(x8), y8).backward()
    assert g.shape == w.shape and float(g.abs().sum()) > 0
    np.testing.assert_allclose(before["0.weight"].numpy(), w.detach().numpy())


def test_scheduler_inside_and_outside_the_step():
    x, y = _data()
    for inside in (False, True):
        results = []
        for compiled in (False, True):
            model = _mlp()
            opt = jtorch.optim.SGD(model.parameters(), lr=0.5)
            sched = jtorch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

            def step(xb, yb):
                opt.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                if inside:
                    sched.step()
                return loss

            fn = jtorch.compile(step) if compiled else step
            out = []
            for _ in range(6):
                out.append(fn(x, y).item())
                if not inside:
                    sched.step()
            results.append((out, opt.param_groups[0]["lr"], getattr(fn, "trace_count", 1)))
        (le, lr_e, _), (lc, lr_c, traces) = results
        np.testing.assert_allclose(lc, le, rtol=1e-5)
        assert lr_c == lr_e == 0.5 * 0.5 ** 3
        assert traces == 1  # a new learning rate is an input, not a constant


def test_gradient_accumulation_across_calls_keeps_torch_semantics():
    x, y = _data()
    model = _mlp()
    sd = copy.deepcopy(model.state_dict())

    def run(compiled):
        model.load_state_dict(sd)
        for p in model.parameters():
            p.grad = None
        opt = jtorch.optim.SGD(model.parameters(), lr=0.1)

        def micro(xb, yb):
            loss = F.cross_entropy(model(xb), yb) / 2
            loss.backward()
            return loss

        fn = jtorch.compile(micro) if compiled else micro
        for _ in range(3):
            fn(x[:6], y[:6])
            fn(x[6:], y[6:])
            opt.step()
            opt.zero_grad()
        return [p.detach().clone() for p in model.parameters()], fn

    eager, _ = run(False)
    comp, fn = run(True)
    for a, b in zip(comp, eager):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert fn.trace_count == 2  # grads absent (first micro-batch) / present (second)


def test_item_in_control_flow_falls_back_with_one_warning():
    model = _mlp()
    x, y = _data()

    def step(xb):
        out = model(xb).sum()
        if out.item() > 1e9:  # needs a concrete value
            out = out * 0
        return out

    fn = jtorch.compile(step)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        a = fn(x)
        b = fn(x)
    msgs = [str(m.message) for m in w if "jtorch.compile" in str(m.message)]
    assert len(msgs) == 1
    assert "test_compile.py" in msgs[0] and "out.item() > 1e9" in msgs[0]
    np.testing.assert_allclose(a.item(), model(x).sum().item(), rtol=1e-6)
    assert a.item() == b.item()
    with pytest.raises(jtorch._compile.CompileError, match="fullgraph=True"):
        jtorch.compile(step, fullgraph=True)(x)


def test_compiled_module_backward_outside_and_train_eval_guard():
    x, y = _data()
    model = _mlp(bn=True)
    ref = copy.deepcopy(model)
    cm = jtorch.compile(model)
    assert isinstance(cm, nn.Module) and cm._orig_mod is model
    assert list(cm.state_dict())[0].startswith("_orig_mod.")
    loss = F.cross_entropy(cm(x), y)
    loss.backward()
    rloss = F.cross_entropy(ref(x), y)
    rloss.backward()
    np.testing.assert_allclose(loss.item(), rloss.item(), rtol=1e-6)
    assert loss.grad_fn.next_functions[0][0].name() == "CompiledFunctionBackward"
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7,
                                   err_msg=n)
    # BatchNorm's running stats were updated by the compiled forward
    np.testing.assert_allclose(model[1].running_mean.numpy(), ref[1].running_mean.numpy(),
                               rtol=1e-6)
    fn = cm.__dict__["_compiled_call"]
    cm(x)
    ref(x)  # BatchNorm counts this forward too
    assert fn.trace_count == 1
    cm.eval()
    with jtorch.no_grad():
        out = cm(x)
    np.testing.assert_allclose(out.numpy(), ref.eval()(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert fn.trace_count == 2


def test_inplace_on_arguments_and_found_state_in_user_objects():
    class Tracker:
        def __init__(self):
            self.stats = {"count": jtorch.zeros(()), "total": jtorch.zeros(3)}

    tr = Tracker()

    def update(v):
        tr.stats["count"].add_(1)
        tr.stats["total"].add_(v)
        v.mul_(2)
        return tr.stats["total"].sum()

    fn = jtorch.compile(update)
    v = jtorch.ones(3)
    version = v._version
    for _ in range(3):
        s = fn(v)
    assert tr.stats["count"].item() == 3
    np.testing.assert_allclose(tr.stats["total"].numpy(), [7.0, 7.0, 7.0])
    np.testing.assert_allclose(v.numpy(), [8.0, 8.0, 8.0])
    assert s.item() == 21.0
    assert v._version == version + 3
    assert fn.trace_count == 1


def test_random_streams_match_eager_and_advance():
    def sample():
        return jtorch.rand(4) + jtorch.randn(2).sum()

    jtorch.manual_seed(7)
    eager = [sample().numpy() for _ in range(3)]
    after_eager = jtorch.rand(1).item()
    jtorch.manual_seed(7)
    fn = jtorch.compile(sample)
    comp = [fn().numpy() for _ in range(3)]
    np.testing.assert_allclose(np.stack(comp), np.stack(eager), rtol=1e-6)
    assert jtorch.rand(1).item() == after_eager
    g = jtorch.Generator().manual_seed(3)

    def with_gen():
        return jtorch.randn(3, generator=g)

    cg = jtorch.compile(with_gen)
    a, b = cg(), cg()
    g2 = jtorch.Generator().manual_seed(3)
    np.testing.assert_allclose(a.numpy(), jtorch.randn(3, generator=g2).numpy())
    np.testing.assert_allclose(b.numpy(), jtorch.randn(3, generator=g2).numpy())


def test_compile_arguments_and_decorator():
    @jtorch.compile(fullgraph=True)
    def f(a):
        return a * 2

    assert f(jtorch.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        jtorch.compile(f, mode="fastest")
    with pytest.raises(NotImplementedError, match="dynamic=True"):
        jtorch.compile(f, dynamic=True)
    assert jtorch.compile(f, disable=True) is f


def _accumulating_step(model, opt, k):
    def micro(xb, yb):
        loss = F.cross_entropy(model(xb), yb) / k
        loss.backward()
        return loss

    acc = jtorch.compiler.accumulate_grad(micro, micro_batches=k)

    def step(xb, yb):
        opt.zero_grad()
        losses = acc(xb, yb)
        opt.step()
        return losses.sum()
    return step


def test_accumulate_grad_equals_full_batch_eager_and_compiled():
    x, y = _data(16)
    model = _mlp()
    sd = copy.deepcopy(model.state_dict())
    results = {}
    for k, compiled in [(1, False), (4, False), (4, True)]:
        model.load_state_dict(sd)
        opt = jtorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        step = _accumulating_step(model, opt, k)
        step = jtorch.compile(step, fullgraph=True) if compiled else step
        losses = [step(x, y).item() for _ in range(3)]
        results[k, compiled] = losses, [p.detach().numpy().copy() for p in model.parameters()]
    full_losses, full_params = results[1, False]
    for key in [(4, False), (4, True)]:
        losses, params = results[key]
        np.testing.assert_allclose(losses, full_losses, rtol=1e-5)
        for a, b in zip(params, full_params):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="cannot be split into 3 equal"):
        jtorch.compiler.accumulate_grad(lambda a: a, micro_batches=3)(jtorch.ones(4))


def test_accumulate_grad_peak_memory_is_flat_in_k():
    model = _mlp()
    opt = jtorch.optim.SGD(model.parameters(), lr=0.1)
    temps = {}
    for k in (2, 8):
        x, y = _data(4 * k)
        step = jtorch.compile(_accumulating_step(model, opt, k))
        step(x, y)
        temps[k] = step.memory_analysis(x, y).temp_size_in_bytes
    # 4x the micro-batches, same working memory (only the inputs grow)
    assert temps[8] <= temps[2] * 1.1, temps


class _TinyGPT(nn.Module):
    def __init__(self, vocab=11, d=16, heads=2, layers=2, ctx=8, dropout=0.1):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d, heads, 4 * d, dropout, batch_first=True,
                                       norm_first=True) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(ctx))

    def forward(self, idx):
        t = idx.shape[1]
        h = self.tok(idx) + self.pos(jtorch.arange(t))
        for blk in self.blocks:
            h = blk(h, src_mask=self.mask[:t, :t], is_causal=True)
        return self.head(self.ln(h))


def test_gpt_with_dropout_adamw_and_clipping_eager_equals_compiled():
    jtorch.manual_seed(0)
    model = _TinyGPT()
    sd = copy.deepcopy(model.state_dict())
    g = jtorch.Generator().manual_seed(5)
    idx = jtorch.randint(0, 11, (4, 9), generator=g)
    x, y = idx[:, :-1], idx[:, 1:]
    rng = jtorch.random.get_rng_state()
    runs = []
    for compiled in (False, True):
        model.load_state_dict(sd)
        jtorch.random.set_rng_state(rng)
        opt = jtorch.optim.AdamW(model.parameters(), lr=3e-3)

        def step(xb, yb):
            opt.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits.reshape(-1, 11), yb.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss

        fn = jtorch.compile(step, fullgraph=True) if compiled else step
        runs.append([fn(x, y).item() for _ in range(20)])
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5)
    assert fn.trace_count == 1


def test_cnn_eager_equals_compiled():
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 16), nn.ReLU(),
                          nn.Linear(16, 3))
    sd = copy.deepcopy(model.state_dict())
    g = jtorch.Generator().manual_seed(2)
    x, y = jtorch.randn(6, 1, 8, 8, generator=g), jtorch.randint(0, 3, (6,), generator=g)
    runs = []
    for compiled in (False, True):
        model.load_state_dict(sd)
        opt = jtorch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def step(xb, yb):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            return loss

        fn = jtorch.compile(step, fullgraph=True) if compiled else step
        runs.append([fn(x, y).item() for _ in range(20)])
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5)


@pytest.mark.parametrize("make_opt", [
    lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: jtorch.optim.Adam(p, lr=0.01),
], ids=["sgd_nesterov", "adam"])
def test_onecycle_momentum_cycling_never_retraces(make_opt):
    """OneCycleLR rewrites lr and momentum/betas every step: they are traced inputs."""
    x, y = _data()
    results = []
    for compiled in (False, True):
        model = _mlp()
        opt = make_opt(model.parameters())
        sched = jtorch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=8)

        def step(xb, yb):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            return loss

        fn = jtorch.compile(step, fullgraph=True) if compiled else step
        losses = [fn(x, y).item() for _ in range(7)]
        results.append((losses, dict((k, v) for k, v in opt.param_groups[0].items()
                                     if k != "params")))
    (le, ge), (lc, gc_) = results
    np.testing.assert_allclose(lc, le, rtol=1e-5)
    assert ge == gc_
    assert fn.trace_count == 1
    # the numbers reach the program as device scalars of the Python numbers' weak types:
    # jit never compiles the traced program a second time for them
    (entry,) = [e for es in fn._cache.values() for e in es]
    assert entry.jitted._cache_size() == 1


def test_state_changes_between_calls_are_seen():
    """The state walk is reused while nothing it looked at changed; every kind of change
    below must be picked up on the next call."""
    x, y = _data()
    model = _mlp()
    opt = jtorch.optim.SGD(model.parameters(), lr=0.1)

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    fn = jtorch.compile(step, fullgraph=True)
    fn(x, y)
    fn(x, y)  # from here on each call reuses the previous call's walk, if still valid
    # a module replaced by a new one: its parameters are the new state
    model[3] = nn.Linear(16, 3)
    opt = jtorch.optim.SGD(model.parameters(), lr=0.1)  # the global the step names
    w_new = model[3].weight.detach().clone()
    fn(x, y)
    fn(x, y)
    assert not np.allclose(model[3].weight.detach().numpy(), w_new.numpy())
    # a parameter's data swapped in place of its storage
    with jtorch.no_grad():
        model[0].weight.data = jtorch.zeros(16, 6)
    fn(x, y)
    fn(x, y)
    assert float(model[0].weight.abs().sum()) > 0  # the zeros were trained from
    # a frozen parameter is left alone
    model[0].bias.requires_grad_(False)
    b = model[0].bias.detach().clone()
    fn(x, y)
    fn(x, y)
    np.testing.assert_array_equal(model[0].bias.detach().numpy(), b.numpy())
    # eager reference for the last state
    ref = copy.deepcopy(model)
    ref_opt = jtorch.optim.SGD(ref.parameters(), lr=0.1)
    ref_opt.zero_grad()
    F.cross_entropy(ref(x), y).backward()
    ref_opt.step()
    fn(x, y)
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-7)


_SCALE = 2.0


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 3)
        self.shift = 1.0  # a Python constant the trace bakes in

    def forward(self, x):
        return self.lin(x) * _SCALE + self.shift


def test_python_constants_and_hooks_are_guarded():
    """What a trace baked in as a constant (a module attribute, a global or closure value,
    a hook) retraces when it changes, and reuses the earlier program when it changes back;
    a growing list the function closes over does not retrace."""
    global _SCALE
    x, _ = _data()
    model = _Scaled()
    eps, logged = 0.5, []

    def step(xb):
        out = model(xb).sum() + eps
        logged.append(1)
        return out

    fn = jtorch.compile(step, fullgraph=True)

    def agree():
        np.testing.assert_allclose(float(fn(x)), float(step(x)), rtol=1e-6)

    agree()
    agree()
    assert fn.trace_count == 1  # the list `logged` grew: no retrace
    model.shift = -3.0
    agree()
    assert fn.trace_count == 2
    _SCALE = 0.5
    try:
        agree()
        assert fn.trace_count == 3
    finally:
        _SCALE = 2.0
    eps = 4.0
    agree()
    assert fn.trace_count == 4
    model.shift, eps = 1.0, 0.5  # back to the first constants: the first program again
    agree()
    assert fn.trace_count == 4
    h = model.lin.register_forward_hook(lambda m, i, out: out * 0)
    agree()
    assert fn.trace_count == 5
    h.remove()
    g = nn.modules.module.register_module_forward_pre_hook(lambda m, i: (i[0] * 2,))
    try:
        agree()
        assert fn.trace_count == 6
    finally:
        g.remove()
    agree()
    assert fn.trace_count == 6  # no hooks again: the first program


def test_a_replaced_function_attribute_never_matches_a_stale_program():
    """A module attribute holding a function is guarded by identity; the guard holds the
    old function, so a new one can never reuse its id and run the old program."""
    x, _ = _data()
    model = _Scaled()
    model.act = lambda t: t * 2

    class Wrap(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, xb):
            return self.inner.act(self.inner(xb)).sum()

    w = Wrap(model)
    fn = jtorch.compile(lambda xb: w(xb), fullgraph=True)
    for k in range(1, 6):  # each new lambda is freed-and-replaced: ids would be reused
        model.act = (lambda k: lambda t: t * k)(k)
        np.testing.assert_allclose(float(fn(x)), float(w(x)), rtol=1e-6)
    assert fn.trace_count == 5


def test_closure_constants_of_functions_sharing_code_are_each_guarded():
    """Two closures made by one factory share their code but not their cells: a value
    rebound in the second one's cell retraces, though the first was walked before it."""
    x, _ = _data()
    model = _Scaled()

    def factory(k):
        def scale(t):
            return t * k

        def rebind(v):
            nonlocal k
            k = v
        return scale, rebind

    first, _ = factory(1.0)
    second, set_second = factory(2.0)
    fn = jtorch.compile(lambda xb: second(first(model(xb))).sum(), fullgraph=True)
    np.testing.assert_allclose(float(fn(x)), float(second(first(model(x))).sum()), rtol=1e-6)
    set_second(-5.0)
    np.testing.assert_allclose(float(fn(x)), float(second(first(model(x))).sum()), rtol=1e-6)
    assert fn.trace_count == 2


def test_state_set_to_a_constant_is_written_back_without_being_a_program_output():
    """SGD's per-parameter "first step" flags turn False inside the step, and a buffer
    filled with a constant: the values land in the state as before, but the compiled
    program does not return them (each would be one more kernel for XLA to compile)."""
    x, y = _data()
    model = _mlp()
    model.register_buffer("calls_odd", jtorch.tensor(1.0))
    # with dampening, torch's first step is special: a per-parameter flag says "first"
    opt = jtorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.3)
    ref = copy.deepcopy(model)
    ref_opt = jtorch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, dampening=0.3)

    def make_step(m, o):
        return _train_step(m, o, after=lambda: m.calls_odd.fill_(0.0))

    fn = jtorch.compile(make_step(model, opt), fullgraph=True)
    eager = make_step(ref, ref_opt)
    for _ in range(3):
        model.calls_odd.fill_(1.0)
        v = model.calls_odd._version
        np.testing.assert_allclose(fn(x, y).item(), eager(x, y).item(), rtol=1e-6)
        assert model.calls_odd.item() == 0.0 and model.calls_odd._version > v
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(),
                                   ref_opt.state[q]["momentum_buffer"].numpy(), rtol=1e-5,
                                   atol=1e-7)
    (entry,) = [e for es in fn._cache.values() for e in es]
    n_params = len(list(model.parameters()))
    assert len(entry.const_outs) == n_params + 1  # the flags and the filled buffer
    out_dtypes = [str(o.dtype) for o in jax.tree.leaves(entry.jitted.eval_shape(
        *entry.gather(fn._walk.state_for((x, y), fn._extra)), *entry.consts))]
    assert "bool" not in out_dtypes and len(out_dtypes) == entry.n_user + len(
        entry.written) + len(entry.grad_plan) - len(entry.const_outs)


# The repeat call (repeat.py): from the third call on, a call checks that nothing the
# last guard key was built from changed and reuses it. Each change below, made after the
# shortcut is in use, must reach the program exactly as in eager mode.
def _freeze_bias(m, o):
    m[0].bias.requires_grad_(False)


def _swap_weight(m, o):
    with jtorch.no_grad():
        m[0].weight.data = jtorch.full((16, 6), 0.05)


def _nesterov(m, o):
    o.param_groups[0]["nesterov"] = True


def _betas_as_list(m, o):
    o.param_groups[0]["betas"] = [0.5, 0.9]  # a list: by value, not a traced input


def _betas_list_mutated(m, o):
    o.param_groups[0]["betas"][0] = 0.5  # the same list object, a new value


def _adam_with_betas_list(params):
    opt = jtorch.optim.Adam(params, lr=0.01)
    opt.param_groups[0]["betas"] = [0.9, 0.999]
    return opt


def _lr(m, o):
    o.param_groups[0]["lr"] = 0.02  # a traced input: no retrace


@pytest.mark.parametrize("change,make_opt,retraces", [
    (lambda m, o: m.eval(), lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9), True),
    (_freeze_bias, lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9), True),
    (_swap_weight, lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9), False),
    (_nesterov, lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9), True),
    (_lr, lambda p: jtorch.optim.SGD(p, lr=0.1, momentum=0.9), False),
    (_betas_as_list, lambda p: jtorch.optim.Adam(p, lr=0.01), True),
    (_betas_list_mutated, _adam_with_betas_list, True),
], ids=["eval", "freeze", "data_swap", "nesterov", "lr", "betas_list", "betas_list_mutated"])
def test_a_change_after_repeated_calls_reaches_the_program(change, make_opt, retraces,
                                                           monkeypatch):
    from jtorch._compile import repeat
    hits = []
    real = repeat.LastCall.repeat
    monkeypatch.setattr(repeat.LastCall, "repeat",
                        lambda *a: hits.append(real(*a)) or hits[-1])
    x, y = _data()
    models = [_mlp(dropout=0.5), _mlp(dropout=0.5)]
    opts = [make_opt(m.parameters()) for m in models]

    fn = jtorch.compile(_train_step(models[0], opts[0]), fullgraph=True)
    eager = _train_step(models[1], opts[1])
    jtorch.manual_seed(3)
    rng = jtorch.random.get_rng_state()
    for i in range(6):
        if i == 3:
            assert any(h is not None for h in hits)  # the shortcut is in use
            before = fn.trace_count
            for m, o in zip(models, opts):
                change(m, o)
        jtorch.random.set_rng_state(rng)
        want = eager(x, y).item()
        jtorch.random.set_rng_state(rng)
        np.testing.assert_allclose(fn(x, y).item(), want, rtol=1e-5, err_msg=f"call {i}")
        rng = jtorch.random.get_rng_state()
    assert fn.trace_count == before + retraces
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_repeated_calls_see_aliased_state_and_context_changes():
    """Arguments that alias each other or the function's state, grad mode and the
    default dtype, each changed after the shortcut is in use."""
    buf = jtorch.zeros(3)

    def f(a, b):
        a.add_(b)  # in place: aliasing decides what the sum sees
        return a.sum() + b.sum() + buf.sum() + jtorch.ones(1).sum()

    fn = jtorch.compile(f, fullgraph=True)
    for _ in range(3):
        a, b = jtorch.ones(3), jtorch.full((3,), 2.0)
        assert fn(a, b).item() == 9 + 6 + 0 + 1
        assert a.tolist() == [3.0, 3.0, 3.0]
    a = jtorch.ones(3)
    assert fn(a, a).item() == 6 + 6 + 0 + 1  # eager: a becomes 2, then both read it
    assert a.tolist() == [2.0, 2.0, 2.0]
    for _ in range(3):
        out = fn(buf, jtorch.ones(3))  # the argument is the state it also reads
    assert buf.tolist() == [3.0, 3.0, 3.0] and out.item() == 9 + 3 + 9 + 1
    x = jtorch.ones(3, requires_grad=True)
    for _ in range(3):
        y = fn(jtorch.zeros(3), x)
    assert y.requires_grad
    with jtorch.no_grad():
        assert not fn(jtorch.zeros(3), x).requires_grad
    prev = jtorch.get_default_dtype()
    jtorch.set_default_dtype(jtorch.float64)
    try:
        assert fn(jtorch.zeros(3, dtype=jtorch.float32), jtorch.zeros(3, dtype=jtorch.float32)
                  ).dtype == jtorch.float64  # jtorch.ones(1) inside follows the default
    finally:
        jtorch.set_default_dtype(prev)


def test_inputs_the_program_never_reads_are_not_passed():
    """A buffer the step only writes, and the generator when nothing is drawn, are not
    program inputs (each argument costs jit's dispatch time); results are unchanged."""
    buf, w = jtorch.zeros(3), jtorch.tensor([1.0, 2.0, 3.0])

    def f(x):
        buf.copy_(x * 2)
        return (w * x).sum()

    fn = jtorch.compile(f, fullgraph=True)
    for k in range(1, 4):
        x = jtorch.full((3,), float(k))
        v = buf._version
        assert fn(x).item() == 6 * k
        assert buf.tolist() == [2.0 * k] * 3 and buf._version == v + 1
    (entry,) = [e for es in fn._cache.values() for e in es]
    xs = entry.gather(fn._walk.state_for((x,), fn._extra))
    assert [tuple(a.shape) for a in xs] == [(3,), (3,)]  # w and x; not buf, key, counter
    np.testing.assert_array_equal(np.asarray(xs[0]), [1.0, 2.0, 3.0])


def test_every_change_to_a_hook_table_is_counted():
    """The walk skips looking inside hook tables while their change counter stands
    still, so every way of changing one must move it."""
    from jtorch.nn.modules.module import _HookDict
    d = _HookDict()
    changes = [lambda: d.__setitem__(1, print), lambda: d.update({2: print}),
               lambda: d.__ior__({3: print}), lambda: d.move_to_end(1),
               lambda: d.setdefault(4, print), lambda: d.pop(4),
               lambda: d.__delitem__(3), lambda: d.popitem(), lambda: d.clear()]
    for change in changes:
        before = _HookDict.changes
        change()
        assert _HookDict.changes > before
    assert d == {}


def test_repeated_calls_keep_no_old_batch_alive():
    """The repeat check remembers shapes and layout, not the recording call's tensors: a
    loop's earlier batches are freed as in eager mode."""
    import gc
    import weakref
    model = _mlp()
    fn = jtorch.compile(_train_step(model, jtorch.optim.SGD(model.parameters(), lr=0.1)))
    refs = []
    for seed in range(5):
        x, y = _data(seed=seed)
        fn(x, y)
        refs.append((weakref.ref(x), weakref.ref(y)))
        del x, y
    gc.collect()
    assert [r() for pair in refs[:-1] for r in pair] == [None] * 8


def test_a_first_backward_inside_a_trace_caches_no_tracer(monkeypatch):
    """backward()'s implicit seed (ones) is cached per dtype; made first inside a compiled
    step it must still be a concrete array, or a later jax.jit would capture a leaked
    tracer (its program then expected one argument more than it was given)."""
    from jtorch import autograd
    from jtorch._tensor import wrap
    monkeypatch.setattr(autograd, "_ONES", {})
    x, y = _data()
    model = _mlp()
    fn = jtorch.compile(_train_step(model, jtorch.optim.SGD(model.parameters(), lr=0.1)))
    fn(x, y)
    assert autograd._ONES
    assert not any(isinstance(g, jax.core.Tracer) for g in autograd._ONES.values())
    params = list(model.parameters())

    @jax.jit
    def grad_norm(arrays, xa):
        saved = [p._st.arr for p in params]
        for p, a in zip(params, arrays):
            p._st.arr = a
        try:
            for p in params:
                p.grad = None
            F.cross_entropy(model(wrap(xa)), y).backward()
            return sum((p.grad._value ** 2).sum() for p in params)
        finally:
            for p, a in zip(params, saved):
                p._st.arr = a

    arrays = [p._st.arr for p in params]
    first, again = grad_norm(arrays, x._value), grad_norm(arrays, x._value)
    assert float(first) == float(again) > 0


def test_dict_version_tags_see_every_change():
    """The walk check trusts a dict whose version tag stands still, so every way of
    changing a dict must move it, and reading must not."""
    import sys
    import sysconfig
    from jtorch._compile import dict_version
    expected = (sys.implementation.name == "cpython" and sys.version_info < (3, 14)
                and sys.maxsize > 2 ** 32 and not sysconfig.get_config_var("Py_GIL_DISABLED"))
    assert dict_version.AVAILABLE == expected
    if not expected:  # (there, callers compare values: the other tests cover that path)
        assert dict_version.versions([{}]) is None
        return
    d = {"a": 1}
    m = nn.Linear(2, 2)
    tags = dict_version.versions([d, vars(m), m._parameters])
    reads = [lambda: d.get("a"), lambda: list(d.items()), lambda: m.weight,
             lambda: m.__dict__["training"], lambda: d.__setitem__("a", d["a"]),
             lambda: m.__setattr__("training", m.training)]
    for read in reads:
        read()
        assert tags.unchanged()
    changes = [lambda: d.__setitem__("b", 2), lambda: d.__setitem__("b", 3),
               lambda: d.update(c=4), lambda: d.setdefault("e", 5), lambda: d.pop("e"),
               lambda: d.__delitem__("c"), lambda: d.popitem(), lambda: d.clear(),
               lambda: m.eval(), lambda: m.__dict__.__setitem__("training", True),
               lambda: setattr(m, "scale", 2.0), lambda: delattr(m, "scale"),
               lambda: m.register_parameter("extra", None),
               lambda: m._parameters.__setitem__("weight", m._parameters["bias"])]
    for change in changes:
        change()
        assert not tags.unchanged()
        tags.refresh()
        assert tags.unchanged()


@pytest.mark.parametrize("tags", [True, False], ids=["version_tags", "values"])
def test_module_attributes_changed_by_any_means_reach_the_program(tags, monkeypatch):
    """A Python constant of a module (read by forward, baked into the trace) changed after
    repeated calls: through setattr, straight into its __dict__, or changed and set back
    (a re-check, not a retrace); and reordered submodules of a Sequential."""
    from jtorch._compile import dict_version
    monkeypatch.setattr(dict_version, "AVAILABLE", tags)

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.scale = 2.0

        def forward(self, x):
            return self.lin(x) * self.scale

    jtorch.manual_seed(0)
    m = Scale()
    seq = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))

    def f(x):
        return m(x).sum() + seq(x).sum()

    fn = jtorch.compile(f, fullgraph=True)
    x = jtorch.randn(4, 3)

    def check():
        for _ in range(3):
            np.testing.assert_allclose(fn(x).item(), f(x).item(), rtol=1e-5)
    check()
    traces = fn.trace_count
    m.scale = 3.0
    check()
    m.__dict__["scale"] = 4.0
    check()
    assert fn.trace_count == traces + 2
    m.eval()
    m.train()  # changed and back: the same program
    check()
    assert fn.trace_count == traces + 2
    seq._modules["1"], seq._modules["2"] = seq._modules["2"], seq._modules["1"]
    check()  # Linear, Linear, Tanh now
    assert fn.trace_count == traces + 3
    walk = fn._walk
    assert (walk.dict_versions is not None) == tags
    compared = []
    real = type(walk.dicts).hold_the_same
    monkeypatch.setattr(type(walk.dicts), "hold_the_same",
                        lambda self: compared.append(self is walk.dicts) or real(self))
    check()
    assert fn._walk is walk and any(compared) == (not tags)  # tags: no value compared

"""Runs in a subprocess of tests/test_dataparallel.py with 4 virtual CPU devices
(XLA_FLAGS is set before JAX is imported). Prints one JSON line of observations."""
import json
import os

assert "xla_force_host_platform_device_count=4" in os.environ.get("XLA_FLAGS", "")

import jax  # noqa: E402

import jtorch as torch  # noqa: E402
import jtorch.nn as nn  # noqa: E402

STEPS = 10


def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def batches(n=8):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g))
            for _ in range(STEPS)]


def train(wrap, data, step_fn=None):
    m = make()
    model = nn.DataParallel(m) if wrap else m
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(xb, yb):
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    steps = [step, step if step_fn is None else step_fn(step)]
    # with step_fn, odd steps run through it: eager and compiled steps interleave
    losses = [steps[i % 2](xb, yb).item() for i, (xb, yb) in enumerate(data)]
    return losses, m, model


def sharded_hlo(dp, x):
    """The SPMD forward's compiled HLO for input x (to see it spans the 4 devices)."""
    from jtorch.nn.parallel._spmd import place
    (entry,) = dp._spmd_cache.values()
    ts = [place(t, dp._mesh.replicated) for t in
          list(dp.module.parameters()) + list(dp.module.buffers())]
    ts.append(place(x, dp._mesh.split(tuple(x.shape))))
    arrays = [t._value for t in ts] + [jax.numpy.zeros(2, "uint32")]
    return jax.jit(entry.fn).lower(*arrays).compile().as_text()


def main():
    res = {"devices": len(jax.devices())}
    data = batches()
    res["single"], m1, _ = train(False, data)
    res["dp"], m2, dp = train(True, data)
    res["running_mean"] = [m1[1].running_mean.tolist(), m2[1].running_mean.tolist()]
    res["running_var"] = [m1[1].running_var.tolist(), m2[1].running_var.tolist()]
    res["nbt"] = [int(m1[1].num_batches_tracked), int(m2[1].num_batches_tracked)]
    res["weight"] = [m1[0].weight.tolist(), m2[0].weight.tolist()]
    res["grad_device"] = str(m2[0].weight.grad.device)
    res["keys"] = list(dp.state_dict())[:3]
    res["module_is"] = dp.module is m2
    res["device_ids"] = dp.device_ids
    hlo = sharded_hlo(dp, data[0][0])
    res["hlo_partitions"] = "num_partitions=4" in hlo
    res["hlo_allreduce"] = "all-reduce" in hlo
    # uneven batch (6 rows on 4 devices) and a tuple/dict output
    m = make()
    dp6 = nn.DataParallel(m)
    x6 = torch.randn(6, 5)
    res["uneven"] = [m(x6).tolist(), dp6(x6).tolist()]

    class Multi(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 2)

        def forward(self, x, scale=1.0):
            y = self.lin(x)
            return {"y": y * scale, "n": 3, "pair": (y.sum(), None)}

    torch.manual_seed(2)
    mm = Multi()
    out = nn.DataParallel(mm)(torch.ones(4, 5), scale=2.0)
    res["multi"] = [out["n"], out["pair"][1] is None, out["y"].tolist(),
                    (mm(torch.ones(4, 5))["y"] * 2.0).tolist()]
    # gradient reaching a DataParallel input, and a no_grad (inference) call
    xg = torch.randn(8, 5)
    grads = []
    for mod in (m, dp6):
        xi = xg.clone().requires_grad_(True)
        mod(xi).pow(2).sum().backward()
        grads.append(xi.grad.tolist())
    res["input_grad"] = grads
    with torch.no_grad():
        res["no_grad"] = [m(xg).tolist(), dp6(xg).tolist()]
    # hooks inside would only run while tracing: refused
    h = m[0].register_forward_hook(lambda mod, i, o: None)
    try:
        dp6(xg)
        res["hook_refused"] = ""
    except NotImplementedError as e:
        res["hook_refused"] = str(e)
    h.remove()
    # one device: the module is called as is
    one = nn.DataParallel(make(), device_ids=[0])
    res["one_device"] = one._mesh is None
    # dropout draws inside the SPMD forward: fresh masks per call, deterministic in eval
    torch.manual_seed(3)
    dpd = nn.DataParallel(nn.Sequential(nn.Linear(5, 64), nn.Dropout(0.5)))
    xd = torch.ones(4, 5)
    a, b = dpd(xd), dpd(xd)
    res["dropout_differs"] = not bool((a == b).all())
    res["dropout_zeros"] = float((a == 0).float().mean())
    dpd.eval()
    res["eval_same"] = bool((dpd(xd) == dpd(xd)).all())
    # a compiled training step through DataParallel (one program, no eager fallback),
    # interleaved with eager steps on the same model and optimizer
    compiled = {}

    def compile_step(step):
        compiled["fn"] = torch.compile(step, fullgraph=True)
        return compiled["fn"]

    res["compiled"] = train(True, data, step_fn=compile_step)[0]
    res["compiled_traces"] = compiled["fn"].trace_count
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()

"""A long eager training loop keeps flat memory: each step's tape is freed by backward."""
import gc

import jax

import jtorch


def _live():
    gc.collect()
    return len(jax.live_arrays())


def test_thousand_step_loop_has_flat_memory():
    jtorch.manual_seed(0)
    model = jtorch.nn.Sequential(jtorch.nn.Linear(8, 16), jtorch.nn.Tanh(),
                                 jtorch.nn.Linear(16, 1))
    opt = jtorch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = jtorch.randn(4, 8), jtorch.randn(4, 1)
    counts = {}
    for step in range(1, 1001):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if step in (50, 1000):
            counts[step] = _live()
    assert counts[1000] <= counts[50], counts
    assert float(loss) < 10.0


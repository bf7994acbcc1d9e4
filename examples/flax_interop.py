"""jtorch <-> the JAX ecosystem: train a jtorch model with optax inside jax.jit, then train
a model that mixes a jtorch layer with a Flax layer using a jtorch optimizer.
Run: `python examples/flax_interop.py` (or `jtorch run examples/flax_interop.py`).

Shows: jtorch.interop.to_jax (state_dict-named params + a pure apply function),
load_jax_params, from_flax (Flax params become jtorch Parameters; loss.backward() goes
through the JAX VJP).
"""
import argparse

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jtorch as torch
import jtorch.nn as nn
from jtorch.interop import from_flax, load_jax_params, to_jax


def make_data(n, seed):
    rs = np.random.RandomState(seed)
    x = rs.uniform(-2, 2, size=(n, 4)).astype(np.float32)
    y = np.sin(x @ np.array([[1.0], [-0.5], [0.25], [2.0]], np.float32)).astype(np.float32)
    return x, y


def train_with_optax(steps, x, y):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
    params, apply_fn = to_jax(model)         # {"0.weight": ..., ...}, apply_fn(params, x)
    opt = optax.adam(1e-2)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            return jnp.mean((apply_fn(p, x) - y) ** 2)
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    for i in range(steps):
        params, opt_state, loss = step(params, opt_state, x, y)
        if i % 20 == 0 or i == steps - 1:
            print(f"optax step {i} loss {float(loss):.5f}")
    load_jax_params(model, params)           # the trained values back in the jtorch module
    with torch.no_grad():
        mse = ((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean().item()
    print(f"jtorch module after load_jax_params: mse {mse:.5f}")


class FlaxHead(fnn.Module):
    @fnn.compact
    def __call__(self, h):
        return fnn.Dense(1)(fnn.gelu(fnn.Dense(16)(h)))


def train_mixed(steps, x, y):
    torch.manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    body = nn.Sequential(nn.Linear(4, 32), nn.Tanh())
    head = from_flax(FlaxHead(), body(xt), rngs=0)   # Flax params -> jtorch Parameters
    model = nn.Sequential(body, head)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for i in range(steps):
        loss = ((model(xt) - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i % 20 == 0 or i == steps - 1:
            print(f"mixed step {i} loss {loss.item():.5f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args()
    x, y = make_data(256, 0)
    train_with_optax(args.steps, x, y)
    train_mixed(args.steps, x, y)


if __name__ == "__main__":
    main()

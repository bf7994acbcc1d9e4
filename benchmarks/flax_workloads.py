"""The same three workloads as idiomatic flax.linen + optax: the speed limit jtorch aims at.

Architectures, initial-weight distributions (PyTorch's defaults: U(+-1/sqrt(fan_in)) for
Linear/Conv weights and biases, N(0, 1) embeddings, LayerNorm eps 1e-5, exact GELU) and
optimizer hyper-parameters match `workloads.py`. Images are NHWC here (XLA's preferred
layout); `params_from_torch` maps a PyTorch state_dict onto these parameter trees so tests
can start both frameworks from identical numbers.
"""
from __future__ import annotations

import functools

import numpy as np

from .workloads import GPT, LR, MOMENTUM, WEIGHT_DECAY, batch


def _modules():
    """Import flax lazily so the torch-only columns never pay for it."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    def uniform(bound):
        def init(key, shape, dtype=jnp.float32):
            return jax.random.uniform(key, shape, dtype, -bound, bound)
        return init

    def dense(features, fan_in, name, bias=True):
        return nn.Dense(features, use_bias=bias, name=name,
                        kernel_init=uniform(fan_in ** -0.5), bias_init=uniform(fan_in ** -0.5))

    def conv(features, fan_in, name):
        return nn.Conv(features, (3, 3), padding="VALID", name=name,
                       kernel_init=uniform(fan_in ** -0.5), bias_init=uniform(fan_in ** -0.5))

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(dense(512, 784, "fc0")(x))
            x = nn.relu(dense(512, 512, "fc1")(x))
            return dense(10, 512, "fc2")(x)

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):  # x: (B, 28, 28, 1)
            x = nn.relu(conv(32, 9, "conv0")(x))
            x = nn.relu(conv(64, 32 * 9, "conv1")(x))
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
            x = x.reshape(x.shape[0], -1)
            x = nn.relu(dense(128, 64 * 12 * 12, "fc0")(x))
            return dense(10, 128, "fc1")(x)

    class Block(nn.Module):
        heads: int

        @nn.compact
        def __call__(self, x):
            B, T, C = x.shape
            h = nn.LayerNorm(epsilon=1e-5, name="ln1")(x)
            qkv = dense(3 * C, C, "qkv")(h).reshape(B, T, 3, self.heads, C // self.heads)
            att = jax.nn.dot_product_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2],
                                               is_causal=True)  # (B, T, heads, hs)
            x = x + dense(C, C, "proj")(att.reshape(B, T, C))
            h = nn.LayerNorm(epsilon=1e-5, name="ln2")(x)
            return x + dense(C, 4 * C, "out")(nn.gelu(dense(4 * C, C, "fc")(h),
                                                       approximate=False))

    class GPTModel(nn.Module):
        vocab: int
        block: int
        layers: int
        heads: int
        d: int

        @nn.compact
        def __call__(self, idx):
            T = idx.shape[1]
            emb = functools.partial(nn.Embed, embedding_init=nn.initializers.normal(1.0))
            x = emb(self.vocab, self.d, name="tok")(idx) + \
                emb(self.block, self.d, name="pos")(jnp.arange(T))
            for i in range(self.layers):
                x = Block(self.heads, name=f"block{i}")(x)
            x = nn.LayerNorm(epsilon=1e-5, name="ln")(x)
            return dense(self.vocab, self.d, "head", bias=False)(x).reshape(-1, self.vocab)

    return {"W1": MLP(), "W2": CNN(), "W3": GPTModel(**GPT)}


def inputs(name, seed=0):
    """The workload's numpy batch as jax arrays (images moved to NHWC)."""
    import jax.numpy as jnp
    x, y = batch(name, seed)
    if name == "W2":
        x = x.transpose(0, 2, 3, 1)
    return jnp.asarray(x), jnp.asarray(y)


def optimizer(name):
    import optax
    if name == "W3":
        return optax.adamw(LR[name], b1=0.9, b2=0.999, eps=1e-8, weight_decay=WEIGHT_DECAY)
    return optax.sgd(LR[name], momentum=MOMENTUM)


def make_step(model, tx):
    """One jitted training step over pytrees; params and optimizer state are donated."""
    import jax
    import optax

    def loss_fn(params, x, y):
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def build(name, seed=0, torch_state=None):
    """(params, opt_state, step, x, y). `torch_state`: optional {name: numpy} PyTorch
    state_dict to start from instead of a fresh init."""
    import jax
    model = _modules()[name]
    x, y = inputs(name, seed)
    if torch_state is None:
        params = jax.jit(model.init)(jax.random.PRNGKey(seed), x)["params"]
    else:
        params = jax.tree.map(jax.numpy.asarray, params_from_torch(name, torch_state))
    tx = optimizer(name)
    return params, tx.init(params), make_step(model, tx), x, y


def params_from_torch(name, sd):
    """Map a PyTorch state_dict (numpy values) of workload `name` onto the flax tree."""
    sd = {k: np.asarray(v) for k, v in sd.items()}

    def lin(prefix, bias=True):
        p = {"kernel": sd[prefix + ".weight"].T}
        if bias:
            p["bias"] = sd[prefix + ".bias"]
        return p

    def conv(prefix):  # OIHW -> HWIO
        return {"kernel": sd[prefix + ".weight"].transpose(2, 3, 1, 0),
                "bias": sd[prefix + ".bias"]}

    def ln(prefix):
        return {"scale": sd[prefix + ".weight"], "bias": sd[prefix + ".bias"]}

    if name == "W1":
        return {"fc0": lin("0"), "fc1": lin("2"), "fc2": lin("4")}
    if name == "W2":
        # torch flattens (C, H, W); flax flattens (H, W, C): permute fc0's input rows.
        w = sd["6.weight"].reshape(128, 64, 12, 12).transpose(2, 3, 1, 0).reshape(-1, 128)
        return {"conv0": conv("0"), "conv1": conv("2"),
                "fc0": {"kernel": w, "bias": sd["6.bias"]}, "fc1": lin("8")}
    if name == "W3":
        p = {"tok": {"embedding": sd["tok.weight"]}, "pos": {"embedding": sd["pos.weight"]},
             "ln": ln("ln"), "head": lin("head", bias=False)}
        for i in range(GPT["layers"]):
            b = f"blocks.{i}."
            p[f"block{i}"] = {"ln1": ln(b + "ln1"), "ln2": ln(b + "ln2"), "qkv": lin(b + "qkv"),
                              "proj": lin(b + "proj"), "fc": lin(b + "fc"), "out": lin(b + "out")}
        return p
    raise ValueError(f"unknown workload {name!r}")

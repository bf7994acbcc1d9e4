"""Pointwise math, comparison and logical ops."""
from __future__ import annotations

import jax.numpy as jnp

from .registry import op


@op("add(Tensor input, Tensor other, *, Scalar alpha=1) -> Tensor", inplace=True, out=True,
    saves=(), grad=lambda g, out, x, y, alpha: (g, g * alpha))
def add(x, y, alpha=1):
    return x + y * alpha if alpha != 1 else x + y


@op("sub(Tensor input, Tensor other, *, Scalar alpha=1) -> Tensor", inplace=True, out=True,
    aliases=("subtract",), saves=(), grad=lambda g, out, x, y, alpha: (g, -g * alpha))
def sub(x, y, alpha=1):
    if x.dtype == jnp.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return x - y * alpha if alpha != 1 else x - y


@op("mul(Tensor input, Tensor other) -> Tensor", inplace=True, out=True, aliases=("multiply",),
    grad=lambda g, out, x, y: (g * jnp.conj(y), g * jnp.conj(x)))
def mul(x, y):
    return x * y


@op("neg(Tensor input) -> Tensor", dtype="none", inplace=True, out=True, aliases=("negative",),
    saves=(), grad=lambda g, out, x: (-g,))
def neg(x):
    return -x


@op("exp(Tensor input) -> Tensor", dtype="float", inplace=True, out=True, saves=("result",),
    grad=lambda g, out, x: (g * jnp.conj(out),))
def exp(x):
    return jnp.exp(x)


@op("tanh(Tensor input) -> Tensor", dtype="float", inplace=True, out=True, saves=("result",),
    grad=lambda g, out, x: (g * (1 - out * out),))
def tanh(x):
    return jnp.tanh(x)


@op("eq(Tensor input, Tensor other) -> Tensor", dtype="compare", inplace=True, out=True)
def eq(x, y):
    return x == y

"""Donating an input lets XLA write a step's result into its buffer instead of a new one.
That is safe only while nothing but the tensor's own storage can still see the old array:
an alias, a saved activation or a user's reference would read overwritten memory."""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp


def donatable(a, holders):
    """`a` itself when only its storage and the caller's `holders` containers (lists,
    dicts it sits in) reference it, else a copy to donate in its place."""
    # references: the storage, the holders, this parameter and getrefcount's argument
    if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) \
            and sys.getrefcount(a) <= holders + 3:
        return a
    return jnp.copy(a)

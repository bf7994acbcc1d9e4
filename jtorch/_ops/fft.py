"""fft ops."""
from __future__ import annotations

import jax.numpy as jnp

from .registry import op

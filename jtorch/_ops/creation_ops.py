"""Creation ops: tensor/as_tensor/from_numpy, zeros/ones/full/empty(+_like), arange, ..."""
from __future__ import annotations

import jax.numpy as jnp

from .. import _creation
from .registry import function

for _f in (_creation.tensor, _creation.as_tensor, _creation.asarray, _creation.from_numpy,
           _creation.scalar_tensor):
    function()(_f)

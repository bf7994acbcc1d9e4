"""Op families. Importing a module registers its ops in registry.OPS."""
from . import (  # noqa: F401
    pointwise, reduction, views, indexing, blas, linalg, fft, special, creation_ops, random_ops,
    misc, nn_conv_ops, nn_ops,
)

"""torch.backends: the flags scripts set (`cudnn.benchmark = True`, `cuda.matmul.allow_tf32`).

They are plain settable attributes; XLA picks its own kernels, so most are recorded only.
`cuda.matmul.allow_tf32` is honoured: assigning it sets JAX's default float32 matmul
precision ("tensorfloat32" or "highest").
"""
from . import cpu, cuda, cudnn, mkldnn, mps, openmp  # noqa: F401


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.backends.{name}")

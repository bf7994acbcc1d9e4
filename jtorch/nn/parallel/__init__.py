"""torch.nn.parallel: DataParallel (devices of one process, SPMD) and
DistributedDataParallel (one process per rank, jtorch.distributed)."""
from .data_parallel import DataParallel, data_parallel  # noqa: F401


def __getattr__(name):
    if name in ("DistributedDataParallel",):
        from .distributed import DistributedDataParallel
        return DistributedDataParallel
    if name.startswith("__"):
        raise AttributeError(name)
    from ..._errors import missing
    raise missing(f"torch.nn.parallel.{name}")

"""torch.distributed on JAX's multi-controller runtime (see distributed_c10d.py).

One process per rank (start them with `jtorch run --nproc-per-node N script.py`); the
world group only. DistributedDataParallel lives in jtorch.nn.parallel.
"""
from .distributed_c10d import (  # noqa: F401
    Backend, GroupMember, ProcessGroup, ReduceOp, Work, all_gather, all_gather_into_tensor,
    all_gather_object, all_reduce, all_reduce_coalesced, barrier, broadcast,
    broadcast_object_list, destroy_process_group, gather, get_backend, get_global_rank,
    get_group_rank, get_process_group_ranks, get_rank, get_world_size, group,
    init_process_group, is_available, is_gloo_available, is_initialized, is_mpi_available,
    is_nccl_available, is_torchelastic_launched, monitored_barrier, new_group, reduce,
    reduce_scatter, reduce_scatter_tensor, scatter,
)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.distributed.{name}")

"""torch.distributed's process group API over JAX's multi-controller runtime.

`init_process_group` starts `jax.distributed` (the coordinator at MASTER_ADDR:MASTER_PORT
or the tcp:// address; CPU collectives through gloo) and every collective is one SPMD
computation over a mesh with one device per process (`_mesh.WorldMesh`). Only the world
group exists; results are written into the caller's tensors in place, as torch does.
"""
from __future__ import annotations

import datetime
import enum
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np

from .._tensor import Tensor, wrap
from ..autograd import grad_mode

_NOT_INIT = ("Default process group has not been initialized, please make sure to call "
             "init_process_group.")


class ReduceOp:
    """torch.distributed.ReduceOp: the members are RedOpType values."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8

        def __repr__(self):
            return f"<RedOpType.{self.name}: {self.value}>"

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


class Backend(str):
    """torch.distributed.Backend: a lower-cased backend name."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    UCC = "ucc"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: "
                             f"{type(name)}")
        return super().__new__(cls, name.lower())


class ProcessGroup:
    """The world group (jtorch has no subgroups)."""

    def __init__(self, rank, size, backend, mesh):
        self._rank, self._size, self._backend, self._mesh = rank, size, backend, mesh

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def name(self):
        return "0"

    def __repr__(self):
        return f"<jtorch.distributed.ProcessGroup world rank={self._rank} size={self._size}>"


class _World:
    pg = None
    started_jax = False


_W = _World()


class _GroupMember:
    """`group.WORLD` / `GroupMember.WORLD`: the default group once initialized."""

    @property
    def WORLD(self):  # noqa: N802 - torch's name
        return _W.pg

    NON_GROUP_MEMBER = -100


group = GroupMember = _GroupMember()


class Work:
    """What async_op=True returns. JAX dispatch is already asynchronous: wait() blocks
    until the collective's results are ready."""

    def __init__(self, tensors):
        self._tensors = list(tensors)

    def wait(self, timeout=None):
        for t in self._tensors:
            jax.block_until_ready(t._value)
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True

    def result(self):
        return self._tensors

    def exception(self):
        return None


# ------------------------------------------------------------------------ life cycle

def is_available():
    return True


def is_initialized():
    return _W.pg is not None


def is_gloo_available():
    return True


def is_nccl_available():
    """True once JAX runs on GPUs (asking earlier would start JAX's backends before
    init_process_group could start its multi-process runtime)."""
    return _backends_up() and jax.default_backend() == "gpu"


def is_mpi_available():
    return False


def is_torchelastic_launched():
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _backends_up():
    from jax._src import xla_bridge
    return xla_bridge.backends_are_initialized()


def _env_int(name, method):
    v = os.environ.get(name)
    if v is None:
        raise ValueError(f"Error initializing torch.distributed using {method} rendezvous: "
                         f"environment variable {name} expected, but not set")
    return int(v)


def _rendezvous(init_method, world_size, rank):
    """(coordinator 'host:port', world_size, rank) from torch's init_method conventions."""
    if init_method.startswith("env://"):
        addr = os.environ.get("MASTER_ADDR")
        if addr is None:
            raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                             "environment variable MASTER_ADDR expected, but not set")
        port = _env_int("MASTER_PORT", "env://")
        if rank == -1:
            rank = _env_int("RANK", "env://")
        if world_size == -1:
            world_size = _env_int("WORLD_SIZE", "env://")
        return f"{addr}:{port}", world_size, rank
    if init_method.startswith("tcp://"):
        hostport = init_method[len("tcp://"):].split("?")[0].rstrip("/")
        if rank == -1:
            raise ValueError("Error initializing torch.distributed using tcp:// rendezvous: "
                             "rank parameter missing")
        if world_size == -1:
            raise ValueError("Error initializing torch.distributed using tcp:// rendezvous: "
                             "world size parameter missing")
        if ":" not in hostport:
            raise ValueError("Error initializing torch.distributed using tcp:// rendezvous: "
                             "port number missing")
        return hostport, world_size, rank
    scheme = init_method.split("://")[0]
    from .._errors import missing
    raise missing(f"torch.distributed.init_process_group(init_method='{scheme}://')")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the world: starts jax.distributed (one process per rank, one device each)."""
    from .._errors import missing
    if _W.pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None:
        raise missing("torch.distributed.init_process_group(store=...)")
    if backend is None:    # the name only: JAX picks gloo on CPU and NCCL on GPU itself
        backend = "gloo"
    backend = Backend(str(backend))
    if backend not in ("gloo", "nccl"):
        raise missing(f"torch.distributed backend '{backend}'")
    coord, world_size, rank = _rendezvous(init_method or "env://", world_size, rank)
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                         f"[0, {world_size - 1}]")
    if world_size > 1:
        _start_jax(coord, world_size, rank, backend, timeout)
    from ._mesh import WorldMesh
    _W.pg = ProcessGroup(rank, world_size, backend, WorldMesh())


def _start_jax(coord, world_size, rank, backend, timeout):
    from jax._src import distributed as jdist
    state = jdist.global_state
    if state.client is not None:   # someone already started it: it must be this world
        if (jax.process_count(), jax.process_index()) != (world_size, rank):
            raise RuntimeError(f"jax.distributed is already initialized with "
                               f"{jax.process_count()} processes (this one: "
                               f"{jax.process_index()}), not world_size={world_size}, "
                               f"rank={rank}")
        return
    if _backends_up():
        raise RuntimeError("jtorch.distributed.init_process_group must be called before any "
                           "tensor is created: JAX's multi-process runtime has to start "
                           "before its first computation")
    if backend == "gloo":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    secs = 300
    if isinstance(timeout, datetime.timedelta):
        secs = max(1, int(timeout.total_seconds()))
    elif timeout is not None:
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout)}")
    kw = {}
    if os.environ.get("LOCAL_RANK") is not None:   # one accelerator per rank, as torchrun
        kw["local_device_ids"] = [int(os.environ["LOCAL_RANK"])]
    jax.distributed.initialize(coord, world_size, rank, initialization_timeout=secs, **kw)
    _W.started_jax = True


def destroy_process_group(group=None):
    _world(group)
    if _W.started_jax:
        jax.distributed.shutdown()
        _W.started_jax = False
    _W.pg = None


def _world(group=None):
    pg = _W.pg
    if pg is None:
        raise ValueError(_NOT_INIT)
    if group is not None and group is not pg:
        from .._errors import missing
        raise missing("torch.distributed process subgroups")
    return pg


def get_rank(group=None):
    return _world(group).rank()


def get_world_size(group=None):
    return _world(group).size()


def get_backend(group=None):
    return _world(group)._backend


def get_global_rank(group, group_rank):
    _world(group)
    return group_rank


def get_group_rank(group, global_rank):
    _world(group)
    return global_rank


def get_process_group_ranks(group):
    return list(range(_world(group).size()))


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None,
              sort_ranks=True):
    pg = _world()
    if ranks is None or sorted(ranks) == list(range(pg.size())):
        return pg
    from .._errors import missing
    raise missing(f"torch.distributed.new_group(ranks={list(ranks)}): process subgroups")


# ------------------------------------------------------------------------ collectives

_OPS = {ReduceOp.SUM: "sum", ReduceOp.AVG: "avg", ReduceOp.PRODUCT: "product",
        ReduceOp.MIN: "min", ReduceOp.MAX: "max", ReduceOp.BAND: "band",
        ReduceOp.BOR: "bor", ReduceOp.BXOR: "bxor"}


def _op(op):
    name = _OPS.get(op)
    if name is None:
        from .._errors import missing
        raise missing(f"torch.distributed ReduceOp {op!r}")
    return name


def _check_tensor(t, param):
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type "
                        f"torch.Tensor\n             but got {type(t)} instead.")


def _check_list(ts, param):
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type "
                        f"List[torch.Tensor]\n             but got {type(ts)} instead.")


def _write(t, arr):
    """Put a collective's result into `t` in place (not recorded by autograd, as in torch)."""
    with grad_mode.no_grad():
        t.copy_(wrap(jnp.reshape(arr, tuple(t.shape)).astype(t._value.dtype)))


def _done(async_op, tensors):
    return Work(tensors) if async_op else None


def _run(kind, arrays, **statics):
    return _W.pg._mesh.run(kind, arrays, **statics)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(tensor, "tensor")
    _world(group)
    _write(tensor, _run("all_reduce", [tensor._value], op=_op(op))[0])
    return _done(async_op, [tensor])


def all_reduce_coalesced(tensors, op=ReduceOp.SUM, group=None, async_op=False):
    _check_list(tensors, "tensors")
    _world(group)
    for t, r in zip(tensors, _run("all_reduce", [t._value for t in tensors], op=_op(op))):
        _write(t, r)
    return _done(async_op, tensors)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    _check_tensor(tensor, "tensor")
    pg = _world(group)
    dst = _peer(dst, group_dst, "dst", pg)
    res = _run("all_reduce", [tensor._value], op=_op(op))[0]
    if pg.rank() == dst:
        _write(tensor, res)
    return _done(async_op, [tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    _check_tensor(tensor, "tensor")
    pg = _world(group)
    src = _peer(src, group_src, "src", pg)
    _write(tensor, _run("broadcast", [tensor._value], src=src)[0])
    return _done(async_op, [tensor])


def _peer(rank, group_rank, name, pg):
    if rank is None:
        rank = group_rank
    if rank is None:
        raise ValueError(f"Must specify either {name} or group_{name}")
    if not 0 <= rank < pg.size():
        raise ValueError(f"Invalid {name} rank {rank}, it should be in the interval "
                         f"[0, {pg.size() - 1}]")
    return rank


def _same_shapes(tensors, like, what):
    for t in tensors:
        if tuple(t.shape) != tuple(like.shape):
            raise RuntimeError(f"{what}: the tensors must all have shape {list(like.shape)}, "
                               f"got {list(t.shape)}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _check_list(tensor_list, "tensor_list")
    _check_tensor(tensor, "tensor")
    pg = _world(group)
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather: tensor_list must have {pg.size()} (world size) "
                         f"tensors, got {len(tensor_list)}")
    _same_shapes(tensor_list, tensor, "all_gather")
    rows = _run("all_gather", [tensor._value])[0]
    for k, t in enumerate(tensor_list):
        _write(t, rows[k])
    return _done(async_op, tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _world(group)
    if output_tensor.numel() != pg.size() * input_tensor.numel():
        raise ValueError("output tensor size must be equal to world_size times input "
                         "tensor size")
    rows = _run("all_gather", [input_tensor._value])[0]
    _write(output_tensor, rows)      # stacked (world, ...) or concatenated along dim 0
    return _done(async_op, [output_tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(output, "output")
    _check_list(input_list, "input_list")
    pg = _world(group)
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list must have {pg.size()} (world size) "
                         f"tensors, got {len(input_list)}")
    _same_shapes(input_list, output, "reduce_scatter")
    stacked = jnp.stack([t._value for t in input_list])
    res = _run("reduce_scatter", [stacked], op=_op(op))[0]
    _write(output, res[0])     # this rank's row of the row-sharded result
    return _done(async_op, [output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _world(group)
    if input.numel() != pg.size() * output.numel():
        raise ValueError("input tensor must be the same size as output size times world "
                         "size")
    chunks = jnp.reshape(input._value, (pg.size(), -1))
    res = _run("reduce_scatter", [chunks], op=_op(op))[0]
    _write(output, res[0])
    return _done(async_op, [output])


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    _check_tensor(tensor, "tensor")
    pg = _world(group)
    dst = _peer(dst, group_dst, "dst", pg)
    rows = _run("all_gather", [tensor._value])[0]
    if pg.rank() == dst:
        if gather_list is None or len(gather_list) != pg.size():
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        for k, t in enumerate(gather_list):
            _write(t, rows[k])
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    return _done(async_op, list(gather_list or []))


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    _check_tensor(tensor, "tensor")
    pg = _world(group)
    src = _peer(src, group_src, "src", pg)
    if pg.rank() == src:
        if scatter_list is None or len(scatter_list) != pg.size():
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _same_shapes(scatter_list, tensor, "scatter")
        full = jnp.stack([t._value for t in scatter_list])
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source "
                             "ranks.")
        full = jnp.zeros((pg.size(),) + tuple(tensor.shape), tensor._value.dtype)
    rows = _run("broadcast", [full], src=src)[0]
    _write(tensor, rows[pg.rank()])
    return _done(async_op, [tensor])


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    _world(group)._mesh.barrier()
    return _done(async_op, [])


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    barrier(group)


# ------------------------------------------------------------------------ objects

def _object_rows(obj, pg):
    """Every rank's pickled `obj` (padded bytes rows gathered, then unpadded)."""
    data = np.frombuffer(pickle.dumps(obj), np.uint8)
    n = int(_run("all_reduce", [np.array(len(data), np.int32)], op="max")[0])
    buf = np.zeros(n + 4, np.uint8)
    buf[:4] = np.frombuffer(np.array(len(data), "<i4").tobytes(), np.uint8)
    buf[4:4 + len(data)] = data
    rows = np.asarray(_run("all_gather", [buf])[0])
    out = []
    for r in rows:
        size = int(np.frombuffer(r[:4].tobytes(), "<i4")[0])
        out.append(pickle.loads(r[4:4 + size].tobytes()))
    return out


def all_gather_object(object_list, obj, group=None):
    pg = _world(group)
    rows = _object_rows(obj, pg)
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must have {pg.size()} entries")
    object_list[:] = rows


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    pg = _world(group)
    src = _peer(src, group_src, "src", pg)
    rows = _object_rows(list(object_list) if pg.rank() == src else None, pg)
    object_list[:] = rows[src]

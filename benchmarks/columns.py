"""The benchmark's columns: one way each of running a workload's training step.

`make(column, workload)` returns a `Cell` whose `step()` runs one full training step and
waits for it (loss and updated parameters ready), so a wall-clock timer around it is honest
for JAX's asynchronous dispatch and for CUDA alike. Libraries are imported inside `make`
so a column's process pays only for what it uses (this matters for memory measurements).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

COLUMNS = ("jtorch-eager", "jtorch-compiled", "flax", "flax-jtorch-settings", "torch-eager",
           "torch-compile")
LABELS = {
    "jtorch-eager": "jtorch eager",
    "jtorch-compiled": "jtorch.compile",
    "flax": "flax+optax jax.jit",
    "flax-jtorch-settings": "flax, jtorch settings",
    "torch-eager": "PyTorch eager",
    "torch-compile": "torch.compile",
}


@dataclass
class Cell:
    """A built (workload, column): `step()` runs and syncs one step; `loss()` reads the
    last step's loss as a float."""
    step: Callable[[], None]
    loss: Callable[[], float]
    device: str
    peak_memory: Callable[[], "int | None"] = lambda: None  # device allocator peak, bytes
    info: dict = field(default_factory=dict)


def make(column, workload, seed=0, torch_state=None):
    """Build `column` for `workload`. `torch_state`: optional PyTorch state_dict (numpy
    values) every framework starts from, so tests can compare their losses."""
    if column not in COLUMNS:
        raise ValueError(f"unknown column {column!r}; expected one of {', '.join(COLUMNS)}")
    if column.startswith("jtorch"):
        return _jtorch(column, workload, seed, torch_state)
    if column.startswith("flax"):  # flax-jtorch-settings: the process was set up by cell.py
        return _flax(workload, seed, torch_state)
    return _torch(column, workload, seed, torch_state)


def _jax_peak():
    import jax
    stats = jax.devices()[0].memory_stats()
    return None if not stats else stats.get("peak_bytes_in_use")


def _jax_device():
    import jax
    d = jax.devices()[0]
    kind = getattr(d, "device_kind", "")
    return d.platform if kind in ("", d.platform) else f"{d.platform}:{kind}"


def _jtorch(column, workload, seed, torch_state):
    import jax
    import jtorch
    from .workloads import build, train_step_fn
    model, opt, crit, x, y = build(jtorch, workload, seed)
    if torch_state is not None:
        model.load_state_dict({k: jtorch.from_numpy(v) for k, v in torch_state.items()})
    fn = train_step_fn(model, opt, crit)
    if column == "jtorch-compiled":
        fn = jtorch.compile(fn)
    params = list(model.parameters())
    last = {}

    def step():
        loss = fn(x, y)
        jax.block_until_ready([loss._value] + [p._value for p in params])
        last["loss"] = loss

    return Cell(step, lambda: float(last["loss"].item()), _jax_device(), _jax_peak)


def _flax(workload, seed, torch_state):
    import jax
    from .flax_workloads import build
    params, opt_state, step_fn, x, y = build(workload, seed, torch_state)
    state = [params, opt_state, None]

    def step():
        p, s, loss = step_fn(state[0], state[1], x, y)
        jax.block_until_ready((loss, p))
        state[:] = [p, s, loss]

    return Cell(step, lambda: float(state[2]), _jax_device(), _jax_peak)


def _torch(column, workload, seed, torch_state):
    import torch
    from .workloads import build, train_step_fn
    cuda = torch.cuda.is_available()
    model, opt, crit, x, y = build(torch, workload, seed, device="cuda" if cuda else None)
    if torch_state is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state.items()})
    fn = train_step_fn(model, opt, crit)
    if column == "torch-compile":
        fn = torch.compile(fn)
    last = {}

    def step():
        loss = fn(x, y)
        if cuda:
            torch.cuda.synchronize()
        last["loss"] = loss

    peak = (lambda: torch.cuda.max_memory_allocated()) if cuda else (lambda: None)
    device = f"cuda:{torch.cuda.get_device_name()}" if cuda else "cpu"
    return Cell(step, lambda: float(last["loss"].detach().item()), device, peak,
                {"threads": torch.get_num_threads()})

"""jtorch.cuda / jtorch.utils.memory memory accounting. Without a GPU the figures are the
CPU's live-array account, so the leak-hunting recipe (memory_allocated() across steps)
works on any machine: exact byte counts for known arrays, growth for a loop that keeps
graphs alive, none for a loop that keeps only numbers."""
import gc

import numpy as np
import pytest

import jtorch
import jtorch.nn as nn
from jtorch.utils import memory

ON_GPU = jtorch.cuda.is_available()
DEV = "cuda" if ON_GPU else "cpu"


def _settle():
    gc.collect()
    jtorch.cuda.synchronize() if ON_GPU else memory.synchronize()


def test_allocation_is_counted_exactly():
    _settle()
    before = jtorch.cuda.memory_allocated()
    x = jtorch.ones(1000, device=DEV)       # 4000 bytes
    y = jtorch.zeros(10, 10, dtype=jtorch.float64, device=DEV)  # 800 bytes
    _ = (x.sum().item(), y.sum().item())
    after = jtorch.cuda.memory_allocated()
    if ON_GPU:  # the allocator rounds sizes up
        assert after - before >= 4800
    else:
        assert after - before == 4800
        assert memory.live_arrays_bytes("cpu")[0] == after
    del x, y
    _settle()
    assert jtorch.cuda.memory_allocated() == before


def test_peak_and_reset():
    _settle()
    jtorch.cuda.reset_peak_memory_stats()
    base = jtorch.cuda.memory_allocated()
    assert jtorch.cuda.max_memory_allocated() == base
    big = jtorch.ones(50_000, device=DEV)
    assert jtorch.cuda.max_memory_allocated() >= base + 200_000
    del big
    _settle()
    assert jtorch.cuda.memory_allocated() == base
    assert jtorch.cuda.max_memory_allocated() >= base + 200_000   # the high-water mark stays
    jtorch.cuda.reset_max_memory_allocated()
    assert jtorch.cuda.max_memory_allocated() == jtorch.cuda.memory_allocated()
    assert jtorch.cuda.max_memory_reserved() >= jtorch.cuda.memory_reserved() >= 0


def test_memory_stats_keys_and_summary():
    x = jtorch.ones(256, device=DEV)
    s = jtorch.cuda.memory_stats()
    assert list(s) == sorted(s)
    assert s["allocated_bytes.all.current"] == jtorch.cuda.memory_allocated()
    assert s["allocated_bytes.all.peak"] >= s["allocated_bytes.all.current"]
    assert s["reserved_bytes.all.current"] == jtorch.cuda.memory_reserved()
    text = jtorch.cuda.memory_summary()
    assert "memory summary, device ID 0" in text and "Allocated memory" in text
    del x


def test_mem_get_info():
    free, total = memory.mem_get_info("cpu")
    assert 0 < free <= total
    if ON_GPU:
        free, total = jtorch.cuda.mem_get_info()
        assert 0 < free <= total
    else:
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            jtorch.cuda.mem_get_info()
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            jtorch.cuda.synchronize()
    jtorch.cuda.empty_cache()  # no-op, never fails


def _model():
    jtorch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1)).to(DEV)


def _loop(keep, steps=5):
    """Per-step memory_allocated of a loop that logs its held-out loss each step."""
    model = _model()
    opt = jtorch.optim.SGD(model.parameters(), lr=0.01)
    x, y = jtorch.randn(32, 16, device=DEV), jtorch.randn(32, 1, device=DEV)
    xv = jtorch.randn(32, 16, device=DEV)
    history, mem = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        val = nn.functional.mse_loss(model(xv), y)   # forgot no_grad: val keeps its graph
        history.append(keep(val))
        _settle()
        mem.append(jtorch.cuda.memory_allocated())
    return np.diff(mem)


def test_leak_recipe_graph_kept_grows():
    growth = _loop(lambda v: v)
    # each kept loss holds its graph: torch keeps the (32, 64) hidden activation; jtorch
    # may keep, instead, the inputs of a forward it has not run yet (the weights it read,
    # which the optimizer has replaced since): at least the (64, 16) weight per step
    assert (growth >= 64 * 16 * 4).all(), growth


@pytest.mark.parametrize("keep", [lambda v: v.item(), lambda v: v.detach()],
                         ids=["item", "detach"])
def test_leak_recipe_clean_loop_flat(keep):
    growth = _loop(keep)
    # .item() keeps a Python float; .detach() a 4-byte scalar (on GPU: one allocator block)
    assert (growth <= (512 if ON_GPU else 4)).all(), growth


def test_utils_memory_cpu_account():
    _settle()
    if not ON_GPU:  # jtorch.cuda falls back to the CPU's account
        assert memory.memory_allocated("cpu") == jtorch.cuda.memory_allocated()
    before = memory.memory_allocated(jtorch.device("cpu"))
    x = jtorch.ones(3, 5, dtype=jtorch.int16)
    assert memory.memory_allocated("cpu") - before == 30
    assert memory.max_memory_allocated("cpu") >= before + 30
    del x

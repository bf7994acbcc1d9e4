"""jtorch.distributed, DistributedDataParallel and the `jtorch run --nproc-per-node` launcher.

The multi-process part starts 2 ranks on localhost once (tests/_dist_worker.py) and
checks their reports: collectives against exact values, DDP training against a
single-process full-batch run, no_sync accumulation against hand-combined gradients.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from _subproc import ROOT, env

import jtorch
import jtorch.distributed as jdist
import jtorch.nn as jnn
from jtorch.distributed.run import free_port

STEPS = 10


def _launch(args, timeout):
    return subprocess.run([sys.executable, "-m", "jtorch", "run", *args], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    p = _launch(["--nproc-per-node", "2", "--master-port", str(free_port()),
                 "tests/_dist_worker.py", str(out), str(STEPS)], timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_launcher_environment(ranks):
    for r, res in enumerate(ranks):
        assert (res["rank"], res["world"], res["env_rank"], res["local_rank"]) == (r, 2, r, r)
        assert res["backend"] == "gloo"


def test_collectives_exact(ranks):
    for r, res in enumerate(ranks):
        assert res["sum"] == [10.0, 12.0, 14.0, 16.0]
        assert res["AVG"] == [2.5, -5.0, 7.5]
        assert res["MAX"] == [3.0, -4.0, 9.0]
        assert res["MIN"] == [2.0, -6.0, 6.0]
        assert res["PRODUCT"] == [6.0, 24.0, 54.0]
        assert res["wait"] is True
        assert res["int_sum"] == [True, [9, 21]]
        assert res["all_gather"] == [[0.0, 0.0], [1.0, 1.0]]
        assert res["all_gather_into_tensor"] == [0.0, 0.5, 1.0, 1.5]
        assert res["broadcast"] == [2.0, 2.0, 2.0]
        assert res["reduce"] == ([3.0] if r == 0 else [2.0])   # only dst receives
        assert res["reduce_scatter"] == [[10.0, 10.0], [12.0, 12.0]][r]
        assert res["reduce_scatter_tensor"] == [[0.0, 3.0], [6.0, 9.0]][r]
        assert res["all_gather_object"] == [{"rank": 0}, {"rank": 1}]
        assert res["world_group"] is True
        assert "new_group" in res["subgroup"] and "not implemented" in res["subgroup"]


def _worker():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    try:
        import _dist_worker
    finally:
        sys.path.pop(0)
    return _dist_worker


def test_ddp_matches_single_process_full_batch(ranks, monkeypatch):
    w = _worker()
    monkeypatch.setattr(w, "torch", jtorch)
    monkeypatch.setattr(w, "nn", jnn)
    x, y = w.data()
    m = w.model()
    opt = jtorch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(STEPS):
        loss = jnn.functional.mse_loss(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    for res in ranks:
        got = res["ddp"]["losses"]
        np.testing.assert_allclose(got, losses, rtol=1e-5)
        np.testing.assert_allclose(res["ddp"]["weight"], m[0].weight.tolist(), rtol=1e-5,
                                   atol=1e-6)
        assert res["ddp"]["keys"] == ["module.0.weight", "module.0.bias"]


def test_no_sync_accumulates_locally(ranks, monkeypatch):
    w = _worker()
    monkeypatch.setattr(w, "torch", jtorch)
    monkeypatch.setattr(w, "nn", jnn)
    x, y = w.data()

    def grad(chunks):
        m = w.model()
        for c in chunks:
            idx = jtorch.arange(4) + 4 * c
            jnn.functional.mse_loss(m(x[idx]), y[idx]).backward()
        return np.array(m[0].weight.grad.tolist())

    synced = (grad([0, 1]) + grad([2, 3])) / 2
    for r, res in enumerate(ranks):
        np.testing.assert_allclose(res["no_sync"]["local"], grad([2 * r]), rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_allclose(res["no_sync"]["synced"], synced, rtol=1e-5, atol=1e-7)


def test_find_unused_parameters_across_ranks(ranks):
    for res in ranks:   # averages over both ranks, a rank that skipped b contributes 0
        assert res["unused"] == {"a": [[1.5, 1.5]], "b": [[0.5, 0.5]], "c": True}


def test_launcher_propagates_failure_and_stops_the_rest(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import os, sys, time\n"
                      "if os.environ['RANK'] == '1':\n"
                      "    sys.exit(3)\n"
                      "time.sleep(120)\n")
    t0 = time.monotonic()
    p = _launch(["--nproc-per-node", "2", str(script)], timeout=100)
    assert p.returncode == 3
    assert time.monotonic() - t0 < 90
    assert "rank 1" in p.stderr and "exit status 3" in p.stderr


# ------------------------------------------------------------------ in one process

def test_uninitialized_errors_match_torch():
    import torch.distributed as tdist
    assert jdist.is_available() and not jdist.is_initialized()
    for name in ("get_rank", "get_world_size", "get_backend", "barrier"):
        with pytest.raises(ValueError) as theirs:
            getattr(tdist, name)()
        with pytest.raises(ValueError) as ours:
            getattr(jdist, name)()
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="has not been initialized"):
        jdist.all_reduce(jtorch.ones(2))
    assert repr(jdist.ReduceOp.SUM) == repr(tdist.ReduceOp.SUM)
    assert int(jdist.ReduceOp.MAX) == int(tdist.ReduceOp.MAX)


def test_rendezvous_errors_match_torch(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ValueError, match="environment variable MASTER_ADDR expected"):
        jdist.init_process_group("gloo", init_method="env://", rank=0, world_size=1)
    with pytest.raises(ValueError, match="tcp:// rendezvous: rank parameter missing"):
        jdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}",
                                 world_size=1)
    with pytest.raises(NotImplementedError, match="file://"):
        jdist.init_process_group("gloo", init_method="file:///tmp/x", rank=0, world_size=1)
    assert not jdist.is_initialized()


def test_single_process_world():
    jdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                             world_size=1)
    try:
        assert jdist.is_initialized() and jdist.get_world_size() == 1
        with pytest.raises(ValueError, match="twice"):
            jdist.init_process_group("gloo", rank=0, world_size=1)
        t = jtorch.tensor([1.0, 2.0])
        work = jdist.all_reduce(t, op=jdist.ReduceOp.AVG, async_op=True)
        assert work.wait() and t.tolist() == [1.0, 2.0]
        with pytest.raises(TypeError, match="Expected parameter `tensor`"):
            jdist.all_reduce([1.0])
        m = jnn.Linear(2, 1)
        ddp = jnn.parallel.DistributedDataParallel(m)
        assert ddp.module is m and list(ddp.state_dict()) == ["module.weight", "module.bias"]
        ddp(jtorch.ones(3, 2)).sum().backward()
        assert m.weight.grad.tolist() == [[3.0, 3.0]]
    finally:
        jdist.destroy_process_group()
    assert not jdist.is_initialized()


def test_ddp_unused_parameter_error_and_detection():
    jdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                             world_size=1)
    try:
        class Two(jnn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = jnn.Linear(2, 1), jnn.Linear(2, 1)

            def forward(self, x):
                return self.a(x)

        ddp = jnn.parallel.DistributedDataParallel(Two())
        ddp(jtorch.ones(1, 2)).sum().backward()
        with pytest.raises(RuntimeError, match="Expected to have finished reduction"):
            ddp(jtorch.ones(1, 2))
        net = Two()
        ddp = jnn.parallel.DistributedDataParallel(net, find_unused_parameters=True)
        for _ in range(2):
            ddp(jtorch.ones(1, 2)).sum().backward()
        assert net.a.weight.grad.tolist() == [[2.0, 2.0]] and net.b.weight.grad is None
    finally:
        jdist.destroy_process_group()

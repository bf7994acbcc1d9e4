"""nn.DataParallel over 4 virtual CPU devices (a subprocess: XLA_FLAGS must be set before
JAX starts, and this process has one device). The worker is tests/_dp_worker.py."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from _subproc import ROOT, env

import jtorch
import jtorch.nn as nn



@pytest.fixture(scope="module")
def res():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "_dp_worker.py")],
                       cwd=ROOT, env=env(XLA_FLAGS="--xla_force_host_platform_device_count=4"),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def test_training_equals_single_device(res):
    assert res["devices"] == 4 and res["device_ids"] == [0, 1, 2, 3]
    np.testing.assert_allclose(res["dp"], res["single"], rtol=1e-5)
    np.testing.assert_allclose(*res["weight"], rtol=1e-5, atol=1e-6)
    # BatchNorm: whole-batch statistics, running stats updated once per step
    np.testing.assert_allclose(*res["running_mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(*res["running_var"], rtol=1e-5, atol=1e-6)
    assert res["nbt"] == [10, 10]
    assert res["grad_device"] == "cpu"


def test_forward_is_partitioned_across_devices(res):
    assert res["hlo_partitions"] and res["hlo_allreduce"]


def test_module_attribute_and_state_dict(res):
    assert res["module_is"]
    assert res["keys"] == ["module.0.weight", "module.0.bias", "module.1.weight"]


def test_uneven_batch_and_structured_outputs(res):
    np.testing.assert_allclose(*res["uneven"], rtol=1e-6, atol=1e-6)
    n, none_kept, y, ref = res["multi"]
    assert n == 3 and none_kept
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    assert res["one_device"]


def test_input_gradient_and_no_grad(res):
    np.testing.assert_allclose(*res["input_grad"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(*res["no_grad"], rtol=1e-5, atol=1e-6)


def test_module_hooks_refused(res):
    assert "hooks" in res["hook_refused"] and "not implemented" in res["hook_refused"]


def test_dropout_inside(res):
    assert res["dropout_differs"] and 0.3 < res["dropout_zeros"] < 0.7 and res["eval_same"]


def test_compiled_step_equals_eager(res):
    """jtorch.compile'd steps (every other step) give the eager DataParallel losses."""
    np.testing.assert_allclose(res["compiled"], res["dp"], rtol=1e-5)
    assert res["compiled_traces"] == 1


def test_one_device_in_process_matches_torch():
    """With a single device DataParallel calls the module; keys and grads as torch's."""
    import torch
    torch.manual_seed(0)
    tm = torch.nn.Linear(3, 2)
    m = nn.Linear(3, 2)
    m.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tdp, dp = torch.nn.DataParallel(tm), nn.DataParallel(m)
    assert list(dp.state_dict()) == list(tdp.state_dict())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    tdp(torch.tensor(x)).pow(2).sum().backward()
    dp(jtorch.tensor(x)).pow(2).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-6)
    assert dp.module is m and nn.parallel.DataParallel is nn.DataParallel

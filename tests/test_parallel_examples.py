"""Smoke-run examples/data_parallel.py (4 virtual CPU devices) and examples/ddp_training.py
(2 ranks through `jtorch run --nproc-per-node 2`) for a few steps."""
import math
import re
import subprocess
import sys

from _subproc import ROOT, env

import jtorch
from jtorch.distributed.run import free_port

LOSS = re.compile(r"loss (\S+)")


def _run(args, **env_extra):
    p = subprocess.run([sys.executable, "-m", "jtorch", "run", *args], cwd=ROOT,
                       env=env(**env_extra),
                       capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    losses = [float(v) for v in LOSS.findall(p.stdout)]
    assert losses and all(math.isfinite(v) for v in losses), p.stdout
    return p.stdout


def test_data_parallel_example():
    out = _run(["examples/data_parallel.py", "--steps", "10"],
               XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert "DataParallel over 4 device(s)" in out
    assert "state_dict keys: module.0.weight" in out


def test_ddp_example(tmp_path):
    ckpt = tmp_path / "ddp.pt"
    out = _run(["--nproc-per-node", "2", "--master-port", str(free_port()),
                "examples/ddp_training.py", "--steps", "3", "--checkpoint", str(ckpt)])
    assert out.count("step 3 loss") == 1        # printed by rank 0 only
    state = jtorch.load(str(ckpt))
    assert list(state)[:2] == ["0.weight", "0.bias"]

"""Smoke-run each examples/*.py training program through `python -m jtorch run` for a few
steps: exit status 0, at least one printed loss, every printed loss finite."""
import math
import os
import re
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOSS = re.compile(r"loss (\S+)")
TIMEOUT = 900


def _env():
    """Share the test session's persistent JAX compilation cache with the subprocess."""
    env = dict(os.environ)
    cache = os.environ.get("JTORCH_JAX_CACHE", os.path.expanduser("~/.cache/jtorch/jax"))
    if cache:
        env.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.05")
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def jtorch_run(script, *args):
    cmd = [sys.executable, "-m", "jtorch", "run", os.path.join("examples", script), *args]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, (
        f"jtorch run {script} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    losses = [float(m) for m in LOSS.findall(proc.stdout)]
    assert losses, f"no loss printed:\n{proc.stdout}"
    assert all(math.isfinite(v) for v in losses), proc.stdout
    return proc.stdout


def test_mlp_digits_checkpoint_and_resume(tmp_path):
    ckpt = str(tmp_path / "mlp.pt")
    out = jtorch_run("mlp_digits.py", "--steps", "3", "--checkpoint", ckpt)
    assert "final test accuracy" in out and os.path.exists(ckpt)
    out = jtorch_run("mlp_digits.py", "--steps", "3", "--epochs", "2", "--checkpoint", ckpt,
                     "--resume")
    assert "resumed from" in out and "epoch 1 " in out


def test_mlp_digits_adam_onecycle(tmp_path):
    jtorch_run("mlp_digits.py", "--steps", "3", "--optimizer", "adam", "--scheduler", "onecycle",
               "--checkpoint", str(tmp_path / "mlp.pt"))


def test_cnn_digits():
    assert "final test accuracy" in jtorch_run("cnn_digits.py", "--steps", "3")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_lstm_sequence(cell):
    assert "final test accuracy" in jtorch_run("lstm_sequence.py", "--steps", "3",
                                               "--cell", cell)


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
def test_gpt_tiny(attention):
    extra = ["--manual-attention"] if attention == "manual" else []
    out = jtorch_run("gpt_tiny.py", "--steps", "3", "--sample-tokens", "8", *extra)
    assert "sample:" in out


def test_compiled_training_with_accumulation():
    out = jtorch_run("compiled_training.py", "--steps", "3", "--accumulate", "2")
    assert "final test accuracy" in out

"""Whole PyTorch programs (compat_tests/programs/*.py) run twice in subprocesses — with real
torch (`python prog.py`) and through jtorch (`python -m jtorch run prog.py`) — and their
printed outputs must agree: the same lines and words, every number within 1e-4 relative.

The programs take weights and data from numpy (random streams differ between the two), so
any disagreement is jtorch's. A program that stops on a missing API fails with jtorch's
one-line `jtorch run: file:line: <API>` message in the assertion.
"""
import math
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
PROGRAMS_DIR = os.path.join(HERE, "programs")
PROGRAMS = sorted(f[:-3] for f in os.listdir(PROGRAMS_DIR)
                  if f.endswith(".py") and not f.startswith("_")
                  and f != "checkpoint_interop.py")   # that one has its own test below
RTOL, ATOL = 1e-4, 1e-6
TIMEOUT = 900


def _env():
    """The subprocesses share the test session's persistent JAX compilation cache."""
    env = dict(os.environ)
    cache = os.environ.get("JTORCH_JAX_CACHE", os.path.expanduser("~/.cache/jtorch/jax"))
    if cache:
        env.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.05")
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_program(name, *args, jtorch):
    """stdout of the program; a failed run fails the test with its stderr's tail."""
    script = os.path.join(PROGRAMS_DIR, name + ".py")
    cmd = [sys.executable] + (["-m", "jtorch", "run"] if jtorch else []) + [script, *args]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    who = "jtorch" if jtorch else "torch"
    assert proc.returncode == 0, (
        f"{name} failed under {who} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def _number(word):
    try:
        return float(word)
    except ValueError:
        return None


def compare_outputs(expected, actual, rtol=RTOL, atol=ATOL):
    """Line by line, word by word: numbers within rtol (relative) + atol, the rest equal."""
    exp_lines, act_lines = expected.strip().splitlines(), actual.strip().splitlines()
    for i, (e, a) in enumerate(zip(exp_lines, act_lines)):
        ew, aw = e.split(), a.split()
        ok = len(ew) == len(aw)
        for x, y in zip(ew, aw) if ok else ():
            fx, fy = _number(x), _number(y)
            if fx is not None and fy is not None:
                if math.isnan(fx) or math.isnan(fy):
                    ok = math.isnan(fx) and math.isnan(fy)
                else:
                    ok = fx == fy or abs(fx - fy) <= rtol * max(abs(fx), abs(fy)) + atol
            else:
                ok = x == y
            if not ok:
                break
        assert ok, f"line {i + 1} differs:\n  torch:  {e}\n  jtorch: {a}"
    assert len(exp_lines) == len(act_lines), (
        f"torch printed {len(exp_lines)} lines, jtorch {len(act_lines)}:\n"
        f"torch:\n{expected}\njtorch:\n{actual}")


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_matches_torch(name):
    expected = run_program(name, jtorch=False)
    assert "step 0" in expected
    compare_outputs(expected, run_program(name, jtorch=True))


@pytest.mark.parametrize("saver,loader", [("torch", "jtorch"), ("jtorch", "torch")])
def test_checkpoint_crosses_frameworks(tmp_path, saver, loader):
    """A checkpoint torch.save'd by one framework resumes identically in the other."""
    path = str(tmp_path / "ckpt.pt")
    saved = run_program("checkpoint_interop", "--save", path, jtorch=saver == "jtorch")
    if saver == "jtorch":   # the reference: torch saving and torch loading
        ref_path = str(tmp_path / "ref.pt")
        compare_outputs(run_program("checkpoint_interop", "--save", ref_path, jtorch=False),
                        saved)
    else:
        ref_path = path
    expected = run_program("checkpoint_interop", "--load", ref_path, jtorch=False)
    compare_outputs(expected, run_program("checkpoint_interop", "--load", path,
                                          jtorch=loader == "jtorch"))


def test_compare_outputs_catches_differences():
    """The comparison itself: tolerances, words, and line counts."""
    compare_outputs("step 0 loss 1.00000000e+00", "step 0 loss 1.00005000e+00")
    compare_outputs("x 0.00000000e+00", "x 1.0e-07")
    for bad in ["step 0 loss 1.00020000e+00", "step 1 loss 1.0", "step 0 loss nan",
                "step 0 loss 1.0\nextra"]:
        with pytest.raises(AssertionError):
            compare_outputs("step 0 loss 1.00000000e+00", bad)


def test_jtorch_run_really_serves_jtorch(tmp_path):
    """Guard against a vacuous pass: under `jtorch run`, `import torch` is jtorch, and the
    program helpers see the same module."""
    script = tmp_path / "which.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {PROGRAMS_DIR!r})\n"
        "import torch, torch.nn, _common\n"
        "print(torch.__name__, torch.nn.Linear.__module__.split('.')[0],"
        " _common.torch.__name__)\n")
    proc = subprocess.run([sys.executable, "-m", "jtorch", "run", str(script)], cwd=REPO_ROOT,
                          env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["jtorch", "jtorch", "jtorch"]

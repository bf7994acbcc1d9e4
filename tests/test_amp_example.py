"""Smoke-run examples/amp_training.py through `python -m jtorch run`, as tests/test_examples.py
does for the other examples: exit status 0, finite losses, the poisoned step skipped."""
from tests.test_examples import jtorch_run


def test_amp_training_example():
    out = jtorch_run("amp_training.py", "--steps", "6", "--poison-step", "2")
    assert "step 2 loss" in out and "(skipped)" in out
    assert "float16" in out and "final accuracy" in out  # bfloat16 on the CPU

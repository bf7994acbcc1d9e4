"""Smoke-run the ONNX export and JAX-interop examples through `python -m jtorch run`."""
import re

import pytest

from test_examples import jtorch_run


def test_onnx_export_example(tmp_path):
    out = jtorch_run("onnx_export.py", "--steps", "3", "--out", str(tmp_path / "cnn.onnx"))
    assert (tmp_path / "cnn.onnx").stat().st_size > 0
    diff = float(re.search(r"max abs diff (\S+)", out).group(1))
    assert diff <= 1e-5, out


def test_flax_interop_example():
    out = jtorch_run("flax_interop.py", "--steps", "3")
    assert "optax step 2 loss" in out and "mixed step 2 loss" in out
    assert "after load_jax_params" in out

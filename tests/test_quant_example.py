"""Smoke-run examples/quantization.py through `python -m jtorch run`: it trains a few steps
(finite losses), then prints float, dynamic-int8 and static-int8 accuracies."""
import re

import pytest
from test_examples import jtorch_run

ACC = re.compile(r"(float|dynamic int8|static int8) accuracy (\S+)")


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_quantization_example(model):
    out = jtorch_run("quantization.py", "--steps", "3", "--model", model,
                     "--calibration-batches", "1")
    accs = dict(ACC.findall(out))
    assert set(accs) == {"float", "dynamic int8", "static int8"}, out
    assert all(0.0 <= float(v) <= 1.0 for v in accs.values())
    assert "Quantize(scale=" in out and "DeQuantize()" in out
    assert ("QuantizedLinearReLU" if model == "mlp" else "QuantizedConvReLU2d") in out

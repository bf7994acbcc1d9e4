"""Smoke-runs of the diagnosis examples through `python -m jtorch run`: the TensorBoard
run is read back with TensorBoard's reader; the leak hunt must find the leaky loop."""
import re

import pytest

from tests.test_examples import jtorch_run

import tensorboard  # noqa: F401,E402  (in the test extra)


def test_tensorboard_logging(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = jtorch_run("tensorboard_logging.py", "--steps", "4", "--logdir", str(tmp_path))
    assert f"logged to {tmp_path}" in out
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    assert [e.step for e in acc.Scalars("train/loss")] == [0, 1, 2, 3]
    first = float(re.search(r"step 0 loss (\S+)", out).group(1))
    assert acc.Scalars("train/loss")[0].value == pytest.approx(first, abs=1e-4)
    assert "weights/0.weight" in tags["histograms"] and "grads/2.bias" in tags["histograms"]
    assert tags["images"] == ["first_layer_weights"]
    img = acc.Images("first_layer_weights")[0]
    assert (img.height, img.width) == (32, 2)
    ops = [n.op for n in acc.Graph().node]
    assert tags["graph"] and ops.count("jtorch::linear") == 2 and "jtorch::tanh" in ops
    hp = EventAccumulator(str(tmp_path / "hparams"))
    hp.Reload()
    assert "_hparams_/session_start_info" in hp.PluginTagToContent("hparams")
    sub = EventAccumulator(str(tmp_path / "train_metrics_accuracy"))
    sub.Reload()
    assert len(sub.Scalars("train/metrics")) == 4


def test_memory_leak_hunt():
    out = jtorch_run("memory_leak_hunt.py", "--steps", "3")
    rates = dict(re.findall(r"^  (.+): (-?\d+) bytes/step$", out, re.M))
    # each kept loss holds its graph: torch keeps the activations (256x512 floats); jtorch
    # may keep, instead, the inputs of the forward it has not run yet (the 64x512 weight)
    assert int(rates["leaky (append loss)"]) > 64 * 512 * 4
    assert int(rates["clean (append loss.item())"]) == 0
    assert int(rates["clean (append loss.detach())"]) <= 4
    assert "memory summary" in out

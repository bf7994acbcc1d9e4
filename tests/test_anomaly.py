"""Anomaly detection against torch: the NaN error, and the warning that names the forward
line whose backward failed (recorded only while anomaly mode is on)."""
import warnings

import pytest
import torch

import jtorch


def _sqrt_neg(lib):
    x = lib.tensor([-1.0, 4.0], requires_grad=True)
    y = x.sqrt()  # CULPRIT
    return y.sum()


def _zero_div(lib):
    a = lib.tensor([0.0, 1.0], requires_grad=True)
    b = a / a  # CULPRIT
    return (b * 2).sum()


def _log_mul(lib):
    a = lib.tensor([0.0, 2.0], requires_grad=True)
    c = a.log() * 0.0  # CULPRIT
    return c.sum()


def _run(lib, build, *, forward_in_mode=True):
    """(exception, [warning messages]) of build(lib).backward() under detect_anomaly."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        if forward_in_mode:
            with lib.autograd.detect_anomaly():
                loss = build(lib)
                with pytest.raises(Exception) as ei:
                    loss.backward()
        else:
            loss = build(lib)
            with lib.autograd.detect_anomaly():
                with pytest.raises(Exception) as ei:
                    loss.backward()
    return ei.value, [str(w.message) for w in rec]


@pytest.mark.parametrize("build", [_sqrt_neg, _zero_div, _log_mul])
def test_nan_error_and_forward_trace(build):
    te, tw = _run(torch, build)
    je, jw = _run(jtorch, build)
    assert type(je) is type(te) is RuntimeError
    assert str(je) == str(te)
    tmsg = [m for m in tw if m.startswith("Error detected in")]
    jmsg = [m for m in jw if m.startswith("Error detected in")]
    assert len(jmsg) == len(tmsg) == 1
    # torch's head line, then a stack whose last frame is the culprit line in this file
    assert jmsg[0].split("\n")[0] == tmsg[0].split("\n")[0]
    assert "Traceback of forward call that caused the error:" in jmsg[0]
    last_frame = [ln for ln in jmsg[0].rstrip().split("\n") if ln.strip()][-2:]
    assert __file__ in last_frame[0] and build.__name__ in last_frame[0]
    assert "# CULPRIT" in last_frame[1]
    assert jtorch.__path__[0] not in jmsg[0]  # no internal frames


def test_no_forward_info_when_forward_ran_outside_mode():
    te, tw = _run(torch, _sqrt_neg, forward_in_mode=False)
    je, jw = _run(jtorch, _sqrt_neg, forward_in_mode=False)
    assert str(je) == str(te)
    tmsg = [m for m in tw if m.startswith("Error detected in")]
    jmsg = [m for m in jw if m.startswith("Error detected in")]
    assert [m.split(" (Triggered internally")[0] for m in tmsg] == jmsg


def test_metadata_traceback_only_when_enabled():
    x = jtorch.ones(2, requires_grad=True)
    assert "traceback_" not in x.exp().grad_fn.metadata
    with jtorch.autograd.set_detect_anomaly(True):
        y = x.exp()
    tb = y.grad_fn.metadata["traceback_"]
    assert isinstance(tb, list) and "y = x.exp()" in tb[-1]
    with torch.autograd.set_detect_anomaly(True):
        ty = torch.ones(2, requires_grad=True).exp()
    assert isinstance(ty.grad_fn.metadata["traceback_"], list)


def test_check_nan_false_still_reports_other_errors():
    """With check_nan=False no NaN error, but any backward error still names its forward."""
    for lib in (torch, jtorch):
        x = lib.tensor([-1.0], requires_grad=True)
        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            y = x.sqrt()
            y.backward()
        assert lib.isnan(x.grad).all()

    def hook_fail(lib):
        x = lib.ones(2, requires_grad=True)
        y = x.exp()
        y.register_hook(lambda g: 1 / 0)
        return y.sum()
    heads = []
    for lib in (torch, jtorch):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            with lib.autograd.detect_anomaly(check_nan=False):
                loss = hook_fail(lib)
                with pytest.raises(ZeroDivisionError):
                    loss.backward()
        heads.append([str(w.message).split("\n")[0] for w in rec
                      if str(w.message).startswith("Error detected in")])
    assert heads[1] == heads[0]


def test_disabled_mode_has_no_nan_check():
    for lib in (torch, jtorch):
        x = lib.tensor([-1.0], requires_grad=True)
        x.sqrt().backward()
        assert lib.isnan(x.grad).all()

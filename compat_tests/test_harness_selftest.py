"""The replay harness judged against torch itself: it must pass true ops and catch planted bugs."""

import pytest
import torch
from torch.testing._internal.common_methods_invocations import op_db

from compat_tests import opinfo_scope
from compat_tests.opinfo_replay import (
    op_id, replay_forward, replay_gradient, resolve, torch_as_target,
)

OPS = {op_id(op): op for op in op_db}
SELF_OPS = ["add", "sum", "matmul", "max.reduction_with_dim", "max.binary",
            "linalg.solve", "einsum", "__radd__", "uniform"]


@pytest.mark.parametrize("name", SELF_OPS)
def test_torch_passes_against_itself(name):
    lib = torch_as_target()
    assert replay_forward(OPS[name], lib=lib).status == "pass"
    assert replay_gradient(OPS[name], lib=lib).status in ("pass", "n/a")


def test_wrong_values_fail():
    lib = torch_as_target(add=lambda a, b, alpha=1: torch.add(a, b, alpha=alpha) * 1.01)
    assert replay_forward(OPS["add"], lib=lib).status == "fail"
    assert replay_gradient(OPS["add"], lib=lib).status == "fail"


def test_wrong_dtype_fails():
    lib = torch_as_target(sum=lambda *a, **k: torch.sum(*a, **k).double())
    res = replay_forward(OPS["sum"], lib=lib)
    assert res.status == "fail" and "dtype" in res.message


def test_wrong_second_output_fails():
    def bad_max(*a, **k):
        values, indices = torch.max(*a, **k)
        return values, indices + 1
    res = replay_forward(OPS["max.reduction_with_dim"], lib=torch_as_target(max=bad_max))
    assert res.status == "fail" and "[1]" in res.message


def test_missing_api_is_named():
    res = replay_forward(OPS["einsum"], lib=torch_as_target(einsum=None))
    assert res.status == "missing" and "einsum" in res.message


def test_not_implemented_is_reported():
    def todo(*a, **k):
        raise NotImplementedError("matmul on jtorch")
    res = replay_forward(OPS["matmul"], lib=torch_as_target(matmul=todo))
    assert res.status == "notimpl"


def test_lambda_ops_resolve_through_their_bodies():
    lib = torch_as_target()
    assert resolve(OPS["uniform"], lib).api == "Tensor.uniform_"
    assert resolve(OPS["linalg.solve"], lib).api == "linalg.solve"
    assert resolve(OPS["__radd__"], lib).api == "Tensor.__radd__"


def test_every_opinfo_is_classified():
    unclassified = sorted({op.name for op in op_db
                           if opinfo_scope.classify(op.name)[0] == "unclassified"})
    assert not unclassified, f"classify these in opinfo_scope.py: {unclassified}"


def test_method_variant_is_checked_too():
    from compat_tests.opinfo_replay import resolve_method
    assert resolve_method(OPS["add"], torch_as_target()).api == "Tensor.add"
    assert resolve_method(OPS["linalg.solve"], torch_as_target()) is None

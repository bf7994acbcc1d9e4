"""Replay torch's OpInfo samples on jtorch for every in-scope op.

Ops jtorch lacks FAIL (naming the missing API) rather than skip, so the
suite's pass rate is the honest coverage. Scope: compat_tests/opinfo_scope.py.
Samples per op: JTORCH_OPINFO_SAMPLES (default 3).
"""

import pytest
from torch.testing._internal.common_methods_invocations import op_db

from compat_tests.opinfo_replay import (
    SELFTEST, gradient_applicable, op_id, replay_forward, replay_gradient,
)
from compat_tests.opinfo_scope import KNOWN_GAPS, family

IN_SCOPE = [op for op in op_db if family(op.name)]
DIFFERENTIABLE = [op for op in IN_SCOPE if gradient_applicable(op)]


def check(op, result):
    """Turn a replay Result into a pytest outcome; only `pass` passes.

    Known gaps must keep saying so (NotImplementedError naming the API). An op with no
    comparable sample skips: torch rejects all its samples on this platform
    (batch_norm.without_cudnn), or its only differentiable samples draw random numbers
    (multi_head_attention_forward with dropout_p > 0), which no RNG but torch's reproduces."""
    if op.name in KNOWN_GAPS and not SELFTEST:
        assert result.status in ("missing", "notimpl"), (
            f"{op.name} is listed in KNOWN_GAPS ({KNOWN_GAPS[op.name]}) but replayed as "
            f"{result.status}: {result.message}. Remove it from KNOWN_GAPS.")
        return
    if result.status == "nosamples":
        pytest.skip(f"no comparable sample (torch rejects them, or they are random): "
                    f"{result.message}")
    if result.status != "pass":
        where = f"\nsample: {result.sample}" if result.sample else ""
        pytest.fail(f"[{result.status}] {result.message} "
                    f"(after {result.samples} passing samples){where}", pytrace=False)


@pytest.mark.parametrize("op", IN_SCOPE, ids=op_id)
def test_forward(op):
    check(op, replay_forward(op))


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=op_id)
def test_gradient(op):
    check(op, replay_gradient(op))

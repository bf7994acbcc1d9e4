"""Shared test setup: jtorch importable from the repo root; torch (the oracle) on 2 threads."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _default_dtypes():
    import jtorch
    yield
    torch.set_default_dtype(torch.float32)
    jtorch.set_default_dtype(jtorch.float32)

"""Shared setup for the torch-compat tests: import paths and a fixed RNG per test."""

import os
import sys

import numpy as np
import pytest
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # make `import jtorch` / `compat_tests` work from anywhere
    sys.path.insert(0, REPO_ROOT)

torch.set_default_dtype(torch.float32)


@pytest.fixture(autouse=True)
def _reseed():
    """Each test starts from the same RNG state, whatever ran before it."""
    torch.manual_seed(0)
    np.random.seed(0)
    jtorch = sys.modules.get("jtorch")
    if jtorch is not None and hasattr(jtorch, "manual_seed"):
        jtorch.manual_seed(0)
    yield

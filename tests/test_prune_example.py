"""Smoke-run examples/pruning.py through `jtorch run`: losses printed and finite, the pruned
layer's state_dict in torch's layout, and the reported sparsity what the pruning asked for."""
import re

from test_examples import jtorch_run


def test_pruning_example():
    out = jtorch_run("pruning.py", "--steps", "3", "--amount", "0.5", "--neurons", "4")
    assert "state_dict keys: 0.bias, 0.weight_orig, 0.weight_mask" in out
    assert "first layer pruning: PruningContainer of 2 methods" in out
    assert "is_pruned after remove: False" in out
    # 4 whole neurons of the first layer (4 * 64 weights) go first; the global L1 pass then
    # prunes half of the weights still alive across all three layers
    total = 64 * 64 + 64 * 64 + 10 * 64
    expected = (256 + round(0.5 * (total - 256))) / total
    sparsity = float(re.search(r"sparsity (\S+)%", out).group(1))
    assert abs(sparsity - 100.0 * expected) < 0.1, (sparsity, expected)
    assert "final test accuracy" in out

"""Helpers shared by the compat programs. Imported as `import _common` (the program's own
folder is on sys.path under both `python prog.py` and `jtorch run prog.py`), and it uses
`import torch` like the programs, so it runs on whichever torch the program got.

Random streams differ between torch and jtorch, so weights and data come from numpy.
"""
import numpy as np
import torch


def numpy_init_(model, seed=0):
    """Overwrite every floating parameter of `model` with numpy-generated values through
    load_state_dict: weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases U(-0.1, 0.1),
    1-D norm gains 1 + U(-0.1, 0.1). Buffers (BatchNorm running stats) are left as built."""
    rng = np.random.RandomState(seed)
    params = dict(model.named_parameters())
    state = model.state_dict()
    for name, value in state.items():
        if name not in params:
            continue
        shape = tuple(value.shape)
        if len(shape) >= 2:
            bound = 1.0 / np.sqrt(int(np.prod(shape[1:])))
            arr = rng.uniform(-bound, bound, size=shape)
        elif name.endswith("bias") or "bias" in name.rsplit(".", 1)[-1]:
            arr = rng.uniform(-0.1, 0.1, size=shape)
        else:
            arr = 1.0 + rng.uniform(-0.1, 0.1, size=shape)
        state[name] = torch.from_numpy(arr.astype(np.float32))
    model.load_state_dict(state)
    return model


def report(prefix, **values):
    """One line, `prefix name value ...`; floats with 8 significant digits for the test to
    compare numerically (everything else must match exactly)."""
    parts = [prefix]
    for k, v in values.items():
        if hasattr(v, "item"):
            v = v.item()
        parts.append(k)
        parts.append(f"{v:.8e}" if isinstance(v, float) else str(v))
    print(" ".join(parts), flush=True)


def param_checksum(model):
    """Sum of |p| over all parameters: a single number that moves with every weight."""
    with torch.no_grad():
        return sum(p.abs().sum().item() for p in model.parameters())

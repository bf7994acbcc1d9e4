"""A compiled training step: the whole step (forward, backward, clipping, AdamW, dropout,
BatchNorm) as one program with `torch.compile`, on scikit-learn's bundled 8x8 digits.

Plain PyTorch: `python examples/compiled_training.py` runs it on real torch,
`jtorch run examples/compiled_training.py` on jtorch, where `torch.compile` lifts the
model's parameters and buffers, the gradients, the optimizer state, the learning rate
and the RNG into one jax.jit program. `--accumulate K` splits each batch into K
micro-batches inside that program (jtorch's `torch.compiler.accumulate_grad`; a plain
loop on real torch).
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits


def get_data(seed):
    digits = load_digits()
    x = torch.from_numpy(digits.data.astype(np.float32) / 16.0)
    y = torch.from_numpy(digits.target.astype(np.int64))
    perm = torch.from_numpy(np.random.RandomState(seed).permutation(len(x)))
    n = int(0.8 * len(x))
    return x[perm[:n]], y[perm[:n]], x[perm[n:]], y[perm[n:]]


def make_model():
    return nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(128, 10))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--accumulate", type=int, default=1, help="micro-batches per step")
    p.add_argument("--eager", action="store_true", help="do not compile the step")
    args = p.parse_args()
    torch.manual_seed(0)
    xtr, ytr, xte, yte = get_data(0)
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    k = args.accumulate

    def micro(x, y):
        loss = F.cross_entropy(model(x), y) / k
        loss.backward()
        return loss

    if hasattr(torch, "compiler") and hasattr(torch.compiler, "accumulate_grad"):
        accumulate = torch.compiler.accumulate_grad(micro, micro_batches=k)
    else:  # real torch: the same thing as a Python loop
        def accumulate(x, y):
            return torch.stack([micro(a, b) for a, b in zip(x.chunk(k), y.chunk(k))])

    def train_step(x, y):
        opt.zero_grad()
        loss = accumulate(x, y).sum()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    step = train_step if args.eager else torch.compile(train_step)
    n, bs = len(xtr), args.batch_size
    model.train()
    t0 = time.perf_counter()
    for i in range(args.steps):
        j = (i * bs) % (n - bs)
        loss = step(xtr[j:j + bs], ytr[j:j + bs])
        sched.step()
        if i % 20 == 0 or i == args.steps - 1:
            print(f"step {i} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.5f}")
    elapsed = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(f"final test accuracy {acc:.3f} ({args.steps} steps in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()

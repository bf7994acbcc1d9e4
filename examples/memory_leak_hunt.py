"""Hunting a memory leak with torch.cuda.memory_allocated(). Plain PyTorch (on jtorch:
`jtorch run examples/memory_leak_hunt.py`).

The leak: a training loop that also computes a held-out loss each step and keeps it in a
list *as a tensor*, outside torch.no_grad(). Each kept loss holds its autograd graph, and
the graph holds the activations it saved, so memory grows every step. The fix is to keep
a number (`.item()`) or a detached tensor. Measuring memory_allocated() after each step
shows the difference.

On a CUDA machine the figures are the GPU allocator's. On jtorch without a GPU they are
the CPU's live-array account (real PyTorch reports 0 there, so run it on a GPU).
"""
import argparse
import gc

import torch
import torch.nn as nn


def train(steps, keep, device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 1)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(256, 64, device=device), torch.randn(256, 1, device=device)
    x_val = torch.randn(256, 64, device=device)
    history, mem = [], []
    for step in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        val_loss = nn.functional.mse_loss(model(x_val), y)  # no torch.no_grad(): has a graph
        history.append(keep(val_loss))
        gc.collect()
        mem.append(torch.cuda.memory_allocated())
        print(f"step {step} loss {loss.item():.4f} memory_allocated {mem[-1]}")
    return mem


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = {}
    for name, keep in (("leaky (append loss)", lambda t: t),
                       ("clean (append loss.item())", lambda t: t.item()),
                       ("clean (append loss.detach())", lambda t: t.detach())):
        print(f"== {name}")
        mem = train(args.steps, keep, device)
        gc.collect()
        per_step = (mem[-1] - mem[0]) / max(len(mem) - 1, 1)
        report[name] = per_step
        print(f"growth per step: {per_step:.0f} bytes")
    print("summary:")
    for name, per_step in report.items():
        print(f"  {name}: {per_step:.0f} bytes/step")
    print(torch.cuda.memory_summary())


if __name__ == "__main__":
    main()

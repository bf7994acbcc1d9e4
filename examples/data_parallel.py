"""nn.DataParallel: one process, each batch split across the local devices.

Plain PyTorch (`python examples/data_parallel.py` on real torch, where a CPU-only
machine just runs the module) and jtorch (`jtorch run examples/data_parallel.py`).
On jtorch the batch is sharded over the JAX devices; on a CPU-only machine, ask XLA for
several host devices before starting:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 jtorch run examples/data_parallel.py

Shows: DataParallel (`.module`, `module.`-prefixed state_dict), BatchNorm inside it,
Dataset/DataLoader over numpy data, SGD with momentum.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class Blobs(Dataset):
    """Gaussian blobs around `classes` random centres (numpy: no download)."""

    def __init__(self, n=512, dim=16, classes=4, seed=0):
        rng = np.random.RandomState(seed)
        centres = rng.randn(classes, dim).astype(np.float32) * 2
        self.y = rng.randint(0, classes, n)
        self.x = (centres[self.y] + rng.randn(n, dim)).astype(np.float32)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), int(self.y[i])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    args = p.parse_args()

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))
    model = nn.DataParallel(net)
    print(f"DataParallel over {max(1, len(model.device_ids))} device(s)")
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loader = DataLoader(Blobs(), batch_size=args.batch_size, shuffle=True, drop_last=True)
    step = 0
    while step < args.steps:
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 10 == 0 or step == args.steps:
                print(f"step {step} loss {loss.item():.4f}")
            if step == args.steps:
                break
    assert model.module is net
    print("state_dict keys:", ", ".join(list(model.state_dict())[:2]), "...")


if __name__ == "__main__":
    main()

"""DistributedDataParallel on one machine: one process per rank.

Plain PyTorch: `torchrun --nproc-per-node 2 examples/ddp_training.py` on real torch, and
`jtorch run --nproc-per-node 2 examples/ddp_training.py` on jtorch (the launcher sets
RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, ... for each process).

Shows: init_process_group (gloo), DistributedSampler with set_epoch, DDP gradient
averaging, no_sync() gradient accumulation, all_reduce of the loss for logging, and a
rank-0-only checkpoint of `ddp.module`.
"""
import argparse
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class Regression(Dataset):
    """y = sin(x . w) + noise, from numpy (no download)."""

    def __init__(self, n=1024, dim=8, seed=0):
        rng = np.random.RandomState(seed)
        w = rng.randn(dim).astype(np.float32)
        self.x = rng.randn(n, dim).astype(np.float32)
        self.y = (np.sin(self.x @ w) + 0.05 * rng.randn(n)).astype(np.float32)[:, None]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), torch.from_numpy(self.y[i])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32, help="per rank")
    p.add_argument("--accumulate", type=int, default=2, help="micro-batches per step")
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)   # DDP broadcasts rank 0's initial weights anyway
    model = DDP(nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = Regression()
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, drop_last=True)

    step, epoch, micro = 0, 0, 0
    while step < args.steps:
        sampler.set_epoch(epoch)
        for x, y in loader:
            micro += 1
            last = micro % args.accumulate == 0
            if last:
                loss = nn.functional.mse_loss(model(x), y)
                (loss / args.accumulate).backward()      # all-reduces the gradients
            else:
                with model.no_sync():                    # accumulate locally
                    loss = nn.functional.mse_loss(model(x), y)
                    (loss / args.accumulate).backward()
                continue
            opt.step()
            opt.zero_grad()
            step += 1
            logged = loss.detach().clone()
            dist.all_reduce(logged)
            if rank == 0 and (step % 10 == 0 or step == args.steps):
                print(f"step {step} loss {logged.item() / world:.5f}", flush=True)
            if step == args.steps:
                break
        epoch += 1

    if rank == 0 and args.checkpoint:
        torch.save(model.module.state_dict(), args.checkpoint)
        print(f"saved {os.path.basename(args.checkpoint)}")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""One rank of tests/test_distributed.py, started by `jtorch run --nproc-per-node 2`.

Plain PyTorch code (`import torch` is jtorch here). Writes what it observed to
<outdir>/rank<R>.json for the test to compare against exact values and a
single-process run.
"""
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler, TensorDataset


def data():
    g = torch.Generator().manual_seed(123)
    return torch.randn(16, 3, generator=g), torch.randn(16, 1, generator=g)


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def collectives(rank, world):
    res = {}
    t = torch.arange(4, dtype=torch.float32) + 10 * rank
    dist.all_reduce(t)
    res["sum"] = t.tolist()
    for name in ("AVG", "MAX", "MIN", "PRODUCT"):
        t = torch.tensor([1.0, -2.0, 3.0]) * (rank + 2)
        dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
        res[name] = t.tolist()
    t = torch.tensor([3, 7], dtype=torch.int64) * (rank + 1)
    work = dist.all_reduce(t, async_op=True)
    res["wait"] = work.wait()
    res["int_sum"] = [t.dtype == torch.int64, t.tolist()]
    out = [torch.zeros(2) for _ in range(world)]
    dist.all_gather(out, torch.full((2,), float(rank)))
    res["all_gather"] = [o.tolist() for o in out]
    big = torch.zeros(world * 2)
    dist.all_gather_into_tensor(big, torch.tensor([rank, rank + 0.5]))
    res["all_gather_into_tensor"] = big.tolist()
    b = torch.full((3,), float(rank + 1))
    dist.broadcast(b, src=1)
    res["broadcast"] = b.tolist()
    r = torch.tensor([float(rank + 1)])
    dist.reduce(r, dst=0)
    res["reduce"] = r.tolist()
    o = torch.zeros(2)
    dist.reduce_scatter(o, [torch.full((2,), float(k + 10 * rank)) for k in range(world)])
    res["reduce_scatter"] = o.tolist()
    o = torch.zeros(2)
    dist.reduce_scatter_tensor(o, torch.arange(4, dtype=torch.float32) * (rank + 1))
    res["reduce_scatter_tensor"] = o.tolist()
    objs = [None] * world
    dist.all_gather_object(objs, {"rank": rank})
    res["all_gather_object"] = objs
    dist.barrier()
    res["world_group"] = dist.new_group(list(range(world))) is dist.group.WORLD
    try:
        dist.new_group([0])
        res["subgroup"] = "no error"
    except NotImplementedError as e:
        res["subgroup"] = str(e)
    return res


def ddp_training(rank, world, steps):
    x, y = data()
    sampler = DistributedSampler(TensorDataset(x, y), num_replicas=world, rank=rank,
                                 shuffle=False)
    idx = torch.tensor(list(sampler))
    xb, yb = x[idx], y[idx]
    m = model() if rank == 0 else nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    ddp = DDP(m)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = nn.functional.mse_loss(ddp(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        avg = loss.detach().clone()
        dist.all_reduce(avg, op=dist.ReduceOp.AVG)
        losses.append(avg.item())
    return {"losses": losses, "keys": list(ddp.state_dict())[:2],
            "weight": m[0].weight.tolist()}


def no_sync(rank, world):
    x, y = data()
    ddp = DDP(model())
    mine = []
    for k in range(2):
        idx = torch.arange(4) + 4 * (2 * rank + k)
        mine.append((x[idx], y[idx]))
    with ddp.no_sync():
        nn.functional.mse_loss(ddp(mine[0][0]), mine[0][1]).backward()
    local = ddp.module[0].weight.grad.tolist()
    nn.functional.mse_loss(ddp(mine[1][0]), mine[1][1]).backward()
    return {"local": local, "synced": ddp.module[0].weight.grad.tolist()}


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(2, 1), nn.Linear(2, 1), nn.Linear(2, 1)

    def forward(self, x, use_b):
        out = self.a(x)
        return out + self.b(x) if use_b else out


def unused(rank):
    """find_unused_parameters: b is used on rank 0 only, c nowhere."""
    net = Branches()
    ddp = DDP(net, find_unused_parameters=True)
    ddp(torch.ones(1, 2) * (rank + 1), rank == 0).sum().backward()
    return {"a": net.a.weight.grad.tolist(), "b": net.b.weight.grad.tolist(),
            "c": net.c.weight.grad is None}


def main():
    outdir, steps = sys.argv[1], int(sys.argv[2])
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    res = {"rank": rank, "world": world, "env_rank": int(os.environ["RANK"]),
           "local_rank": int(os.environ["LOCAL_RANK"]), "backend": dist.get_backend()}
    res.update(collectives(rank, world))
    res["ddp"] = ddp_training(rank, world, steps)
    res["no_sync"] = no_sync(rank, world)
    res["unused"] = unused(rank)
    dist.destroy_process_group()
    with open(os.path.join(outdir, f"rank{rank}.json"), "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()

"""Cross-framework checkpoints: `--save PATH` trains 4 steps and torch.saves the model,
optimizer and scheduler state; `--load PATH` restores them into fresh objects and trains
4 more steps. The test saves under one framework and loads under the other."""
import argparse

import numpy as np
import torch
import torch.nn as nn

from _common import numpy_init_, param_checksum, report

p = argparse.ArgumentParser()
p.add_argument("--save")
p.add_argument("--load")
args = p.parse_args()

rng = np.random.RandomState(0)
X = torch.from_numpy(rng.randn(32, 5).astype(np.float32))
Y = torch.from_numpy(rng.randint(0, 3, size=32).astype(np.int64))

model = numpy_init_(nn.Sequential(nn.Linear(5, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                                  nn.Linear(8, 3)), seed=1)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
first = 0
if args.load:
    ckpt = torch.load(args.load)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    first = ckpt["step"]
    report("loaded", step=first, checksum=param_checksum(model),
           running_var=model[1].running_var.sum(), lr=optimizer.param_groups[0]["lr"])

for step in range(first, first + 4):
    sl = slice((step % 4) * 8, (step % 4 + 1) * 8)
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(X[sl]), Y[sl])
    loss.backward()
    optimizer.step()
    scheduler.step()
    report(f"step {step}", loss=loss)

if args.save:
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": first + 4}, args.save)
report("final", checksum=param_checksum(model))

"""Checkpointing: train 5 steps, torch.save model/optimizer/scheduler state to a file,
rebuild everything from differently-initialised objects, torch.load + load_state_dict,
resume 5 steps; the resumed run must equal the uninterrupted one exactly."""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn

from _common import numpy_init_, param_checksum, report

rng = np.random.RandomState(0)
X = torch.from_numpy(rng.randn(40, 6).astype(np.float32))
Y = torch.from_numpy((rng.randn(40, 2) + X[:, :2].numpy()).astype(np.float32))


def build(seed):
    model = numpy_init_(nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.LayerNorm(16),
                                      nn.Linear(16, 2)), seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, dampening=0.1)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    return model, optimizer, scheduler


def train_step(model, optimizer, scheduler, step):
    sl = slice((step % 4) * 10, (step % 4 + 1) * 10)
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(X[sl]), Y[sl])
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss


model, optimizer, scheduler = build(seed=1)
for step in range(5):
    report(f"step {step}", loss=train_step(model, optimizer, scheduler, step))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "ckpt.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": 5}, path)
    ckpt = torch.load(path)
    # a second file with a bare state_dict, loaded with weights_only and map_location
    torch.save(model.state_dict(), os.path.join(tmp, "weights.pt"))
    weights = torch.load(os.path.join(tmp, "weights.pt"), map_location="cpu", weights_only=True)

resumed, r_opt, r_sched = build(seed=2)
resumed.load_state_dict(ckpt["model"])
r_opt.load_state_dict(ckpt["optimizer"])
r_sched.load_state_dict(ckpt["scheduler"])
print("keys", sorted(weights), "step", ckpt["step"])
print("weights equal", all(torch.equal(weights[k], v) for k, v in model.state_dict().items()))

same = True
for step in range(5, 10):
    a = train_step(model, optimizer, scheduler, step)
    b = train_step(resumed, r_opt, r_sched, step)
    same = same and torch.equal(a, b)
    report(f"step {step}", loss=b, lr=r_sched.get_last_lr()[0])
print("resumed equals uninterrupted", same and all(
    torch.equal(p, q) for p, q in zip(model.parameters(), resumed.parameters())))
report("final", checksum=param_checksum(resumed))

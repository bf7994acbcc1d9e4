"""MLP classifier: custom Dataset, DataLoader with a seeded Sampler, CrossEntropyLoss,
SGD (momentum, nesterov, weight decay), StepLR per epoch."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Sampler

from _common import numpy_init_, param_checksum, report


class Blobs(Dataset):
    """4 classes from a random linear teacher on 20-d gaussian inputs."""

    def __init__(self, n, seed):
        rng = np.random.RandomState(seed)
        self.x = rng.randn(n, 20).astype(np.float32)
        teacher = rng.randn(20, 4)
        self.y = (self.x @ teacher).argmax(1).astype(np.int64)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), int(self.y[i])


class NumpyShuffle(Sampler):
    """A new numpy permutation each epoch: the same order under torch and jtorch."""

    def __init__(self, n, seed):
        self.n, self.rng = n, np.random.RandomState(seed)

    def __iter__(self):
        return iter(self.rng.permutation(self.n).tolist())

    def __len__(self):
        return self.n


model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                      nn.Linear(32, 4))
numpy_init_(model, seed=1)
train = Blobs(128, seed=2)
loader = DataLoader(train, batch_size=32, sampler=NumpyShuffle(len(train), seed=3))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                            weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

step = 0
for epoch in range(4):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        report(f"step {step}", loss=loss, lr=optimizer.param_groups[0]["lr"])
        step += 1
    scheduler.step()

model.eval()
with torch.no_grad():
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    logits = model(x)
    acc = (logits.argmax(1) == y).float().mean()
report("final", loss=criterion(logits, y), acc=acc, checksum=param_checksum(model))

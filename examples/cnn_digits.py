"""A small CNN on scikit-learn's 8x8 handwritten digits (shipped inside the sklearn package).
Plain PyTorch: `python examples/cnn_digits.py` or `jtorch run examples/cnn_digits.py`.

Shows: Conv2d, BatchNorm2d, MaxPool2d, Dropout, train/eval modes, Adam with OneCycleLR,
a light data augmentation (random 1-pixel shifts) done with tensor ops.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset


def get_data(seed):
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    y = digits.target.astype(np.int64)
    perm = np.random.RandomState(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = perm[:n_train], perm[n_train:]
    return (TensorDataset(torch.from_numpy(x[tr]), torch.from_numpy(y[tr])),
            TensorDataset(torch.from_numpy(x[te]), torch.from_numpy(y[te])))


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                        # 8x8 -> 4x4
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                        # 4x4 -> 2x2
        )
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def random_shift(x):
    """Shift each image by up to one pixel (pad by 1, then crop an 8x8 window)."""
    padded = F.pad(x, (1, 1, 1, 1))
    dy, dx = torch.randint(0, 3, (2,)).tolist()
    return padded[:, :, dy:dy + 8, dx:dx + 8]


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return loss / n, correct / n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    train_set, test_set = get_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = Net()
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))
    print(f"{sum(p.numel() for p in model.parameters())} parameters")

    steps = 0
    for epoch in range(args.epochs):
        model.train()
        total, seen = 0.0, 0
        for x, y in train_loader:
            loss = criterion(model(random_shift(x)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(y)
            seen += len(y)
            steps += 1
            if args.steps is not None and steps >= args.steps:
                break
        test_loss, acc = evaluate(model, test_loader)
        print(f"epoch {epoch} train loss {total / seen:.4f} test loss {test_loss:.4f} "
              f"test acc {acc:.4f}")
        if args.steps is not None and steps >= args.steps:
            break
    bn = model.features[1]
    print(f"bn1 running_mean[:3] {bn.running_mean[:3].tolist()} "
          f"num_batches_tracked {bn.num_batches_tracked.item()}")
    print(f"final test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()

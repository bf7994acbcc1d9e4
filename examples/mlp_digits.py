"""An MLP on scikit-learn's 8x8 handwritten digits (shipped inside the sklearn package: no
download). Plain PyTorch: runs with real torch (`python examples/mlp_digits.py`) and with
jtorch unchanged (`jtorch run examples/mlp_digits.py`).

Shows: Dataset/DataLoader, CrossEntropyLoss, SGD with momentum (or Adam), StepLR (or
OneCycleLR), gradient clipping, checkpointing with torch.save/torch.load and resuming.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset


def get_data(seed):
    """Pixels scaled to [0, 1]; a fixed 80/20 split."""
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    perm = np.random.RandomState(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = perm[:n_train], perm[n_train:]
    return (TensorDataset(torch.from_numpy(x[tr]), torch.from_numpy(y[tr])),
            TensorDataset(torch.from_numpy(x[te]), torch.from_numpy(y[te])))


class MLP(nn.Module):
    def __init__(self, hidden=128, classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden // 2), nn.ReLU(),
            nn.Linear(hidden // 2, classes),
        )

    def forward(self, x):
        return self.net(x)


@torch.no_grad()
def evaluate(model, loader, loss_fn):
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        total_loss += loss_fn(logits, y).item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
        n += len(y)
    return total_loss / n, correct / n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--scheduler", choices=["step", "onecycle"], default="step")
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    p.add_argument("--checkpoint", default="checkpoints/mlp_digits.pt")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    train_set, test_set = get_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = MLP()
    loss_fn = nn.CrossEntropyLoss()
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=1e-4)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr / 10)
    if args.scheduler == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
        step_per_batch = False
    else:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))
        step_per_batch = True

    start_epoch = 0
    if args.resume and os.path.exists(args.checkpoint):
        ckpt = torch.load(args.checkpoint)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch = ckpt["epoch"] + 1
        print(f"resumed from {args.checkpoint} at epoch {start_epoch}")

    steps = 0
    for epoch in range(start_epoch, args.epochs):
        model.train()
        running, seen = 0.0, 0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            if step_per_batch:
                scheduler.step()
            running += loss.item() * len(y)
            seen += len(y)
            steps += 1
            if args.steps is not None and steps >= args.steps:
                break
        if not step_per_batch:
            scheduler.step()
        test_loss, acc = evaluate(model, test_loader, loss_fn)
        print(f"epoch {epoch} train loss {running / seen:.4f} test loss {test_loss:.4f} "
              f"test acc {acc:.4f} lr {optimizer.param_groups[0]['lr']:.5f}")
        os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch}, args.checkpoint)
        if args.steps is not None and steps >= args.steps:
            break

    # Reload the weights into a fresh model: the checkpoint must reproduce the accuracy.
    restored = MLP()
    restored.load_state_dict(torch.load(args.checkpoint)["model"])
    _, restored_acc = evaluate(restored, test_loader, loss_fn)
    _, acc = evaluate(model, test_loader, loss_fn)
    assert abs(restored_acc - acc) < 1e-9, (restored_acc, acc)
    print(f"final test accuracy {acc:.4f} (restored from checkpoint: {restored_acc:.4f})")


if __name__ == "__main__":
    main()

"""Prune an MLP on scikit-learn's 8x8 digits, then fine-tune the survivors. Plain PyTorch: runs
with real torch (`python examples/pruning.py`) and with jtorch unchanged
(`jtorch run examples/pruning.py`).

Shows: torch.nn.utils.prune (global L1 unstructured pruning across layers, Ln structured
pruning of whole neurons, iterative pruning through a PruningContainer, prune.remove),
weight_orig/weight_mask in the state_dict, fine-tuning with the mask held by a forward
pre-hook, and per-layer sparsity reporting.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset


def get_data(seed):
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    perm = np.random.RandomState(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = perm[:n_train], perm[n_train:]
    return (TensorDataset(torch.from_numpy(x[tr]), torch.from_numpy(y[tr])),
            TensorDataset(torch.from_numpy(x[te]), torch.from_numpy(y[te])))


def make_model(hidden):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def train(model, loader, optimizer, loss_fn, steps, label):
    model.train()
    step = 0
    while step < steps:
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            step += 1
            if step % 10 == 0 or step == steps or step == 1:
                print(f"{label} step {step} loss {loss.item():.4f}")
            if step == steps:
                return


@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    correct = n = 0
    for x, y in loader:
        correct += (model(x).argmax(dim=1) == y).sum().item()
        n += len(y)
    return correct / n


def sparsity(model):
    """Fraction of zero weights per Linear layer and overall (reads the pruned `weight`)."""
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    zeros = total = 0
    for name, m in layers:
        z, t = int((m.weight == 0).sum().item()), m.weight.nelement()
        zeros, total = zeros + z, total + t
        print(f"  layer {name}: {100.0 * z / t:.1f}% zeros")
    return zeros / total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200, help="optimizer steps per phase")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--amount", type=float, default=0.6, help="global fraction of weights pruned")
    p.add_argument("--neurons", type=int, default=8, help="hidden neurons removed (L2 norm)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    train_set, test_set = get_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    model = make_model(args.hidden)
    loss_fn = nn.CrossEntropyLoss()

    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train(model, train_loader, optimizer, loss_fn, args.steps, "dense")
    print(f"dense test accuracy {accuracy(model, test_loader):.4f}")

    # 1) whole hidden neurons of the first layer by L2 norm of their incoming weights
    prune.ln_structured(model[0], "weight", amount=args.neurons, n=2, dim=0)
    # 2) then the smallest weights across all layers together (combined with the mask above)
    targets = [(model[i], "weight") for i in (0, 2, 4)]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=args.amount)
    print("state_dict keys:", ", ".join(k for k in model.state_dict() if k.startswith("0.")))
    hook = next(iter(model[0]._forward_pre_hooks.values()))
    print(f"first layer pruning: {type(hook).__name__} of {len(hook)} methods")
    print(f"pruned test accuracy {accuracy(model, test_loader):.4f}")

    # fine-tune: gradients reach weight_orig, the pre-hook re-applies the mask every call
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr / 2, momentum=0.9)
    train(model, train_loader, optimizer, loss_fn, args.steps, "finetune")
    for module, name in targets:
        prune.remove(module, name)  # make it permanent: plain `weight` parameters again
    print(f"is_pruned after remove: {prune.is_pruned(model)}")
    overall = sparsity(model)
    print(f"sparsity {100.0 * overall:.1f}%")
    print(f"final test accuracy {accuracy(model, test_loader):.4f}")


if __name__ == "__main__":
    main()

"""Post-training quantization of a digits classifier (scikit-learn's 8x8 digits, shipped with
sklearn: no download). Plain PyTorch: `python examples/quantization.py` or
`jtorch run examples/quantization.py`.

Shows: training a float model, dynamic quantization (`quantize_dynamic`: int8 Linear weights,
activations quantized per batch) and eager-mode static quantization (QuantStub/DeQuantStub,
`fuse_modules`, `prepare`, calibration, `convert` to int8 modules), comparing accuracies.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.ao.quantization import (
    DeQuantStub, QuantStub, convert, fuse_modules, get_default_qconfig, prepare,
    quantize_dynamic,
)


def get_data(seed, images):
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    if images:
        x = x.reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    perm = np.random.RandomState(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = perm[:n_train], perm[n_train:]
    return (torch.from_numpy(x[tr]), torch.from_numpy(y[tr]),
            torch.from_numpy(x[te]), torch.from_numpy(y[te]))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = QuantStub()       # identity until convert: float -> quint8 there
        self.fc1 = nn.Linear(64, 128)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(128, 64)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(64, 10)
        self.dequant = DeQuantStub()   # quint8 -> float after convert

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.fc1(x))
        x = self.relu2(self.fc2(x))
        return self.dequant(self.fc3(x))

    fuse_groups = [["fc1", "relu1"], ["fc2", "relu2"]]


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)   # 8x8 -> 4x4
        self.bn2 = nn.BatchNorm2d(32)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(32 * 4 * 4, 10)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = x.flatten(1)                # works on quantized tensors too
        return self.dequant(self.fc(x))

    fuse_groups = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]]


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--steps", type=int, default=300, help="training steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--calibration-batches", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    x_tr, y_tr, x_te, y_te = get_data(args.seed, images=args.model == "cnn")
    model = MLP() if args.model == "mlp" else CNN()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    gen = np.random.RandomState(args.seed)
    model.train()
    for step in range(args.steps):
        idx = torch.from_numpy(gen.randint(0, len(x_tr), args.batch_size))
        opt.zero_grad()
        loss = loss_fn(model(x_tr[idx]), y_tr[idx])
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f}")
    model.eval()
    print(f"float accuracy {accuracy(model, x_te, y_te):.4f}")

    # Dynamic: Linear weights become int8 now; activations are quantized per batch.
    dq = quantize_dynamic(model, {nn.Linear})
    print(f"dynamic int8 accuracy {accuracy(dq, x_te, y_te):.4f}")
    print(dq.fc3 if args.model == "mlp" else dq.fc)

    # Static: fold BN, fuse ReLUs, observe activations on calibration data, convert.
    fused = fuse_modules(model, model.fuse_groups)
    fused.qconfig = get_default_qconfig("x86")
    prepared = prepare(fused)
    with torch.no_grad():
        for i in range(args.calibration_batches):
            prepared(x_tr[i * 256:(i + 1) * 256])
    sq = convert(prepared)
    print(sq)
    print(f"static int8 accuracy {accuracy(sq, x_te, y_te):.4f}")


if __name__ == "__main__":
    main()

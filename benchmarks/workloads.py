"""The three training workloads, written once as PyTorch code against a module object `lib`
(`torch` or `jtorch`), so both libraries run the identical model and step.

W1: MLP 784-512-512-10, batch 128, SGD(lr=0.01, momentum=0.9), cross-entropy.
W2: CNN conv(1->32,3x3)-relu-conv(32->64,3x3)-relu-maxpool2-flatten-fc128-relu-fc10 on
    1x28x28, batch 64, SGD(lr=0.01, momentum=0.9), cross-entropy.
W3: decoder-only GPT (vocab 65, context 64, 4 layers, 4 heads, d_model 128, pre-LN, causal
    attention, GELU MLP 4x), batch 16, AdamW(lr=3e-4, weight_decay=0.1), cross-entropy.

Inputs are fixed numpy batches (`batch(name)`), so every framework sees the same numbers.
"""
from __future__ import annotations

import numpy as np

NAMES = ("W1", "W2", "W3")
TITLES = {
    "W1": "MLP 784-512-512-10, b128, SGD+momentum",
    "W2": "CNN 2xconv3x3+pool+fc, b64, SGD+momentum",
    "W3": "GPT 4L/4H/d128/ctx64, b16, AdamW",
}
LR = {"W1": 0.01, "W2": 0.01, "W3": 3e-4}
MOMENTUM = 0.9
WEIGHT_DECAY = 0.1
GPT = dict(vocab=65, block=64, layers=4, heads=4, d=128)


def batch(name, seed=0):
    """(inputs, integer targets) as numpy arrays; targets are flat for W3 (B*T,)."""
    rng = np.random.default_rng(seed)
    if name == "W1":
        return rng.standard_normal((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    if name == "W2":
        return rng.standard_normal((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    if name == "W3":
        v, t = GPT["vocab"], GPT["block"]
        return rng.integers(0, v, (16, t)), rng.integers(0, v, 16 * t)
    raise ValueError(f"unknown workload {name!r}; expected one of {NAMES}")


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _gpt(lib, vocab, block, layers, heads, d):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
            x = x + self.proj(att.transpose(1, 2).reshape(B, T, C))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPTModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1], device=idx.device))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x)).view(-1, vocab)  # (B*T, vocab) logits

    return GPTModel()


def build(lib, name, seed=0, device=None):
    """(model, optimizer, criterion, x, y) for workload `name` on library `lib`."""
    lib.manual_seed(seed)
    model = {"W1": _mlp, "W2": _cnn, "W3": lambda m: _gpt(m, **GPT)}[name](lib)
    if device is not None:
        model = model.to(device)
    if name == "W3":
        opt = lib.optim.AdamW(model.parameters(), lr=LR[name], weight_decay=WEIGHT_DECAY)
    else:
        opt = lib.optim.SGD(model.parameters(), lr=LR[name], momentum=MOMENTUM)
    xn, yn = batch(name, seed)
    x, y = lib.from_numpy(xn), lib.from_numpy(yn)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return model, opt, lib.nn.CrossEntropyLoss(), x, y


def train_step_fn(model, opt, crit):
    """The plain closure every torch-style column runs (eager, or handed to a compiler)."""
    def train_step(x, y):
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return train_step

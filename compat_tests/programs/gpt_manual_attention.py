"""A hand-written GPT block stack (nanoGPT-style): fused qkv Linear + split, view/transpose
heads, masked_fill on a tril buffer, softmax, LayerNorm, GELU MLP, weight-decay groups in
AdamW, warmup + cosine via LambdaLR; then greedy decoding with argmax under no_grad."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from _common import numpy_init_, param_checksum, report

TEXT = ("the quick brown fox jumps over the lazy dog. " * 4 +
        "pack my box with five dozen liquor jugs. " * 4)
CHARS = sorted(set(TEXT))
BLOCK, D, HEADS = 16, 32, 4


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.register_buffer("tril", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, HEADS, C // HEADS).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // HEADS)
        att = att.masked_fill(self.tril[:, :, :T, :T] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = Attention()
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * D, D))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(len(CHARS), D)
        self.wpe = nn.Embedding(BLOCK, D)
        self.blocks = nn.Sequential(Block(), Block())
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, len(CHARS), bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        return self.head(self.ln_f(self.blocks(x)))


data = torch.tensor([CHARS.index(c) for c in TEXT], dtype=torch.long)
starts = np.random.RandomState(0).randint(0, len(data) - BLOCK - 1, size=(12, 8))

model = numpy_init_(GPT(), seed=1)
decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=3e-3, betas=(0.9, 0.95))
warmup, total = 3, 12
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer, lambda s: (s + 1) / warmup if s < warmup
    else 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))))
for step in range(total):
    ix = starts[step].tolist()
    x = torch.stack([data[i:i + BLOCK] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + BLOCK] for i in ix])
    logits = model(x)
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    report(f"step {step}", loss=loss, lr=optimizer.param_groups[0]["lr"])

model.eval()
with torch.no_grad():
    idx = data[:4].view(1, -1)
    for _ in range(8):
        nxt = model(idx[:, -BLOCK:])[:, -1].argmax(-1, keepdim=True)
        idx = torch.cat([idx, nxt], dim=1)
print("greedy", idx[0].tolist())
report("final", checksum=param_checksum(model))

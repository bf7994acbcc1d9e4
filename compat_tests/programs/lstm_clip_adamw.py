"""Sequence classifier: Embedding, 2-layer LSTM (batch_first), last time step into a
Linear head, clip_grad_norm_ (its returned total norm is printed), AdamW."""
import numpy as np
import torch
import torch.nn as nn

from _common import numpy_init_, param_checksum, report


class Model(nn.Module):
    def __init__(self, vocab=12, emb=8, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, 3)

    def forward(self, tokens):
        out, (h_n, c_n) = self.lstm(self.embed(tokens))
        return self.head(out[:, -1] + 0.5 * c_n[-1])


rng = np.random.RandomState(0)
tokens = rng.randint(0, 12, size=(64, 10))
labels = (tokens.sum(1) % 3).astype(np.int64)          # sequence sum mod 3
x_all, y_all = torch.from_numpy(tokens.astype(np.int64)), torch.from_numpy(labels)

model = numpy_init_(Model(), seed=1)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
for step in range(15):
    sl = slice((step % 4) * 16, (step % 4 + 1) * 16)
    optimizer.zero_grad()
    loss = criterion(model(x_all[sl]), y_all[sl])
    loss.backward()
    total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.2)
    optimizer.step()
    report(f"step {step}", loss=loss, grad_norm=total_norm)

with torch.no_grad():
    report("final", loss=criterion(model(x_all), y_all), checksum=param_checksum(model))

"""Next-token model with nn.TransformerEncoder(nn.TransformerEncoderLayer) (batch_first,
dropout 0, GELU, pre-norm), a causal mask, token + learned position Embedding, SGD with
momentum, CosineAnnealingLR per step; eval-mode loss under torch.no_grad."""
import numpy as np
import torch
import torch.nn as nn

from _common import numpy_init_, param_checksum, report

VOCAB, T, D = 11, 12, 32


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(T, D)
        layer = nn.TransformerEncoderLayer(d_model=D, nhead=4, dim_feedforward=64, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.out = nn.Linear(D, VOCAB)
        mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        self.register_buffer("causal_mask", mask)

    def forward(self, tokens):
        x = self.tok(tokens) + self.pos(torch.arange(tokens.size(1)))
        x = self.encoder(x, mask=self.causal_mask, is_causal=True)
        return self.out(self.norm(x))


rng = np.random.RandomState(0)
# sequences counting upward mod VOCAB from a random start, with 10% noise tokens
starts = rng.randint(0, VOCAB, size=(64, 1))
data = (starts + np.arange(T + 1)[None]) % VOCAB
noise = rng.rand(*data.shape) < 0.1
data = np.where(noise, rng.randint(0, VOCAB, size=data.shape), data).astype(np.int64)
inputs, targets = torch.from_numpy(data[:, :-1]), torch.from_numpy(data[:, 1:])

model = numpy_init_(TinyLM(), seed=1)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=15, eta_min=1e-3)
for step in range(15):
    sl = slice((step % 4) * 16, (step % 4 + 1) * 16)
    model.train()
    optimizer.zero_grad()
    logits = model(inputs[sl])
    loss = criterion(logits.reshape(-1, VOCAB), targets[sl].reshape(-1))
    loss.backward()
    optimizer.step()
    scheduler.step()
    report(f"step {step}", loss=loss, lr=scheduler.get_last_lr()[0])

model.eval()
with torch.no_grad():
    logits = model(inputs)
    report("final", loss=criterion(logits.reshape(-1, VOCAB), targets.reshape(-1)),
           checksum=param_checksum(model))

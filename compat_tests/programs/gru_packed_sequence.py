"""Variable-length sequences: Embedding(padding_idx), pad_sequence, pack_padded_sequence
(unsorted), a bidirectional GRU, pad_packed_sequence, masked mean pooling, Adam,
clip_grad_value_."""
import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from _common import numpy_init_, param_checksum, report


class Model(nn.Module):
    def __init__(self, vocab=10, emb=6, hidden=12):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb, padding_idx=0)
        self.gru = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(4 * hidden, 2)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, h_n = self.gru(packed)
        out, out_lengths = pad_packed_sequence(out, batch_first=True)
        mask = (torch.arange(out.size(1))[None, :] < out_lengths[:, None]).unsqueeze(-1)
        mean = (out * mask).sum(1) / out_lengths[:, None].float()
        final = torch.cat([h_n[0], h_n[1]], dim=1)
        return self.head(torch.cat([mean, final], dim=1))


rng = np.random.RandomState(0)
lengths = rng.randint(2, 9, size=48)
seqs = [torch.from_numpy(rng.randint(1, 10, size=k).astype(np.int64)) for k in lengths]
labels = torch.from_numpy(np.array([int((s > 5).sum()) * 2 > len(s) for s in seqs],
                                   dtype=np.int64))

model = numpy_init_(Model(), seed=1)
with torch.no_grad():
    model.embed.weight[0].zero_()   # the padding row stays zero (and gets no gradient)
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
for step in range(12):
    lo = (step % 4) * 12
    batch = seqs[lo:lo + 12]
    tokens = pad_sequence(batch, batch_first=True)
    lens = torch.tensor([len(s) for s in batch])
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(tokens, lens), labels[lo:lo + 12])
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), 0.2)
    optimizer.step()
    report(f"step {step}", loss=loss, pad_row=model.embed.weight[0].abs().sum())

report("final", checksum=param_checksum(model))

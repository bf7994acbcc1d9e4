"""An LSTM (or GRU) classifier on variable-length digit sequences: predict the largest
digit in the sequence. Plain PyTorch: `python examples/lstm_sequence.py` or
`jtorch run examples/lstm_sequence.py`.

Shows: Embedding with padding_idx, pad_sequence, pack_padded_sequence (unsorted lengths),
a 2-layer LSTM/GRU reading the packed batch, the final hidden state into a classifier,
AdamW, gradient clipping.
"""
import argparse

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

PAD = 0  # tokens 1..10 encode digits 0..9


class MaxDigitDataset(Dataset):
    """Random digit strings of length 1..max_len; the label is their maximum digit."""

    def __init__(self, n, max_len, generator):
        lengths = torch.randint(1, max_len + 1, (n,), generator=generator).tolist()
        digits = torch.randint(0, 10, (n, max_len), generator=generator).tolist()
        self.seqs = [row[:k] for row, k in zip(digits, lengths)]

    def __len__(self):
        return len(self.seqs)

    def __getitem__(self, i):
        seq = self.seqs[i]
        return torch.tensor(seq) + 1, max(seq)


def collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    padded = pad_sequence(list(seqs), batch_first=True, padding_value=PAD)
    return padded, lengths, torch.tensor(labels)


class SeqClassifier(nn.Module):
    def __init__(self, cell="lstm", vocab=11, emb=16, hidden=64, layers=2, classes=10):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb, padding_idx=PAD)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(emb, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, state = self.rnn(packed)
        h_n = state[0] if isinstance(state, tuple) else state   # LSTM returns (h_n, c_n)
        return self.head(h_n[-1])                                # last layer's final state


@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    correct = n = 0
    for tokens, lengths, y in loader:
        correct += (model(tokens, lengths).argmax(-1) == y).sum().item()
        n += len(y)
    return correct / n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--max-len", type=int, default=12)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(MaxDigitDataset(4000, args.max_len, g), batch_size=64,
                              shuffle=True, collate_fn=collate)
    test_loader = DataLoader(MaxDigitDataset(500, args.max_len, g), batch_size=250,
                             collate_fn=collate)

    model = SeqClassifier(args.cell)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    criterion = nn.CrossEntropyLoss()
    steps = 0
    for epoch in range(args.epochs):
        model.train()
        total, seen = 0.0, 0
        for tokens, lengths, y in train_loader:
            loss = criterion(model(tokens, lengths), y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
            steps += 1
            if args.steps is not None and steps >= args.steps:
                break
        acc = accuracy(model, test_loader)
        print(f"epoch {epoch} train loss {total / seen:.4f} test acc {acc:.4f}")
        if args.steps is not None and steps >= args.steps:
            break
    print(f"final test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()

"""PackedSequence and the pack/pad helpers of torch.nn.utils.rnn.

Packing is a single gather of the padded tensor (flat indices computed in numpy from the
lengths), unpacking a single gather from the packed data plus one padding row; both are
ordinary differentiable jtorch ops.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _jt():
    import jtorch
    return jtorch


class _PackedSequenceBase(NamedTuple):
    data: object
    batch_sizes: object
    sorted_indices: object
    unsorted_indices: object


class PackedSequence(_PackedSequenceBase):
    """Time-major concatenation of a batch's sequences sorted by decreasing length."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        data, batch_sizes = data[0], data[1]
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _map(self, fn):
        return type(self)(fn(self.data), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._map(lambda _: data)

    def cuda(self, *args, **kwargs):
        return self._map(lambda d: d.cuda(*args, **kwargs))

    def cpu(self, *args, **kwargs):
        return self._map(lambda d: d.cpu(*args, **kwargs))

    def double(self):
        return self.to(dtype=_jt().double)

    def float(self):
        return self.to(dtype=_jt().float)

    def half(self):
        return self.to(dtype=_jt().half)

    def long(self):
        return self.to(dtype=_jt().long)

    def int(self):
        return self.to(dtype=_jt().int)

    def short(self):
        return self.to(dtype=_jt().short)

    def char(self):
        return self.to(dtype=_jt().int8)

    def byte(self):
        return self.to(dtype=_jt().uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    jt = _jt()
    p = np.asarray(permutation.tolist(), np.int64)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return jt.tensor(inv, dtype=jt.long)


def _lengths_np(lengths):
    if hasattr(lengths, "tolist"):
        lengths = lengths.tolist()
    return np.asarray(lengths, np.int64).reshape(-1)


def _batch_sizes(lengths):
    """batch_sizes[t] = how many (sorted) sequences are longer than t."""
    t = int(lengths.max()) if lengths.size else 0
    return (lengths[None, :] > np.arange(t)[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    jt = _jt()
    lens = _lengths_np(lengths)
    if enforce_sorted:
        if lens.size > 1 and np.any(lens[:-1] < lens[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
        order = np.arange(lens.size)
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = jt.tensor(order, dtype=jt.long)
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if lens.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={B})")
    slens = lens[order]
    if slens.size and slens[0] > T:
        raise RuntimeError(f"Expected sequence length to be smaller than or equal to {T}, but "
                           f"got {slens[0]}")
    bs = _batch_sizes(slens)
    flat = np.concatenate([t * B + order[:n] for t, n in enumerate(bs)]) if bs.size else \
        np.zeros((0,), np.int64)
    data = input.reshape((T * B,) + tuple(input.shape[2:])).index_select(
        0, jt.tensor(flat, dtype=jt.long))
    return PackedSequence(data, jt.tensor(bs, dtype=jt.long), sorted_indices, None)


def _unpack_indices(bs, total_length):
    """(T, B) indices into [data; pad_row] laying packed rows out time-major (sorted order)."""
    B = int(bs[0]) if bs.size else 0
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]]).astype(np.int64)
    pad = int(bs.sum())
    idx = np.full((total_length, B), pad, np.int64)
    for t, n in enumerate(bs):
        idx[t, :n] = offsets[t] + np.arange(n)
    return idx


def _packed_to_padded(sequence, total_length=None, padding_value=0.0):
    """Padded (T, B, *) in the packed (sorted) batch order, and the sorted lengths."""
    jt = _jt()
    bs = _lengths_np(sequence.batch_sizes)
    T = bs.size if total_length is None else total_length
    idx = _unpack_indices(bs, T)
    data = sequence.data
    row = jt.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                  device=data.device)
    padded = jt.cat([data, row], 0).index_select(0, jt.tensor(idx.reshape(-1), dtype=jt.long))
    padded = padded.reshape((T, idx.shape[1]) + tuple(data.shape[1:]))
    lengths = (bs[None, :] > np.arange(idx.shape[1])[:, None]).sum(1).astype(np.int64)
    return padded, lengths


def _padded_to_packed_data(padded, bs):
    """Inverse of _packed_to_padded for (T, B, *) in sorted order: the packed data rows."""
    jt = _jt()
    T, B = padded.shape[0], padded.shape[1]
    flat = np.concatenate([t * B + np.arange(n) for t, n in enumerate(bs)])
    return padded.reshape((T * B,) + tuple(padded.shape[2:])).index_select(
        0, jt.tensor(flat, dtype=jt.long))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    jt = _jt()
    bs = _lengths_np(sequence.batch_sizes)
    max_len = bs.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_len}")
    padded, lengths = _packed_to_padded(sequence, total_length, padding_value)
    lengths_t = jt.tensor(lengths, dtype=jt.long)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths_t = jt.tensor(lengths[np.asarray(sequence.unsorted_indices.tolist(), np.int64)],
                              dtype=jt.long)
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, lengths_t


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    jt = _jt()
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, jt.Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        n = T - s.shape[0]
        if n:
            pad = jt.full((n,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                          device=s.device)
            s = jt.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return jt.stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences.unbind(0), _lengths_np(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

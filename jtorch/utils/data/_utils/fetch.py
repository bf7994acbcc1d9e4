"""Turning keys into batches: map-style (`dataset[i]`) and iterable (`next(it)`) fetchers."""
from __future__ import annotations

MAP, ITERABLE = 0, 1


class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        from . import collate
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        # Batched gather instead of per-sample indexing + stack (same result).
        self.fast = (getattr(dataset, "_jtorch_getbatch", None)
                     if auto_collation and collate_fn is collate.default_collate
                     and not collate.HOST_ONLY else None)

    def fetch(self, index):
        if self.auto_collation:
            if self.fast is not None:
                return self.fast(index)
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if getitems else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, \
            drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
    cls = _MapDatasetFetcher if kind == MAP else _IterableDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)

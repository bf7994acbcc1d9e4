"""Datasets for test_data.py's worker-process tests. Kept apart from the test module so
a DataLoader worker unpickling them imports only jtorch, not the torch oracle."""
import numpy as np

import jtorch
import jtorch.utils.data as jud


class DictDS(jud.Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        worker = jud.get_worker_info()
        return {"x": jtorch.tensor([float(i), i * 2.0]), "y": i, "name": f"s{i}",
                "np": np.full((2,), i), "wid": -1 if worker is None else worker.id}


class Stream(jud.IterableDataset):
    """0..n-1, sharded across workers by get_worker_info()."""

    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        info = jud.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


class Boom(jud.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise KeyError("bad key 2")
        return jtorch.tensor(float(i))


def init_fn(worker_id):
    np.random.seed(100 + worker_id)


class NumpyDS(jud.Dataset):
    """numpy-only samples: usable with multiprocessing_context='fork'."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full((2,), i, np.float32), "y": i, "w": i / 2, "b": i % 2 == 0}

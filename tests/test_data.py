"""jtorch.utils.data against torch.utils.data: collation structure, sampler index
sequences, dataset utilities, DataLoader options and worker processes."""
import collections
import math
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import jtorch
import jtorch.utils.data as jud
from _data_workers import Boom, DictDS, NumpyDS, Stream, init_fn

Point = collections.namedtuple("Point", "x y")


def to_py(obj):
    """Comparable form of a (nested) batch: tensors → (dtype name, shape, values)."""
    if isinstance(obj, (torch.Tensor, jtorch.Tensor)):
        return ("T", str(obj.dtype).replace("torch.", ""), tuple(obj.shape),
                np.asarray(obj.detach().numpy() if isinstance(obj, torch.Tensor)
                           else obj.numpy()).tolist())
    if isinstance(obj, dict):
        return {k: to_py(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, tuple(to_py(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [to_py(v) for v in obj])
    return obj


def samples(T):
    """The same batch of samples built with torch or jtorch."""
    return [
        {"img": T.tensor([[float(i), 1.0]]), "label": i, "w": 0.5 * i, "flag": i % 2 == 0,
         "name": f"s{i}", "arr": np.full((2,), i, dtype=np.float32),
         "npi": np.int64(i), "pt": Point(i, T.tensor(i)), "pair": (i, float(i)),
         "lst": [i, i + 1]}
        for i in range(3)
    ]


def test_default_collate_matches_torch():
    jt = jud.default_collate(samples(jtorch))
    ref = tud.default_collate(samples(torch))
    assert to_py(jt) == to_py(ref)


def test_default_collate_leaves():
    for batch in ([1.5, 2.5], [1, 2], [True, False], ["a", "b"],
                  [np.array([1, 2], np.int32), np.array([3, 4], np.int32)],
                  [np.float64(1), np.float64(2)], [(1, 2), (3, 4)], [[1, 2], [3, 4]]):
        assert to_py(jud.default_collate(batch)) == to_py(tud.default_collate(batch)), batch


def test_default_collate_errors():
    for T, mod in ((torch, tud), (jtorch, jud)):
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            mod.default_collate([object(), object()])
        with pytest.raises(RuntimeError, match="each element in list of batch should be of "
                                               "equal size"):
            mod.default_collate([[1, 2], [3]])
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            mod.default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_matches_torch():
    data = {"a": np.arange(3), "b": (np.float32(2), "s"), "c": [np.ones(2)], "p": Point(1, 2)}
    assert to_py(jud.default_convert(data)) == to_py(tud.default_convert(data))


def tensor_ds(T, n=7):
    return T.utils.data.TensorDataset(T.arange(2 * n, dtype=T.float32).reshape(n, 2),
                                      T.arange(n))


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None), dict(batch_size=1),
                                dict(batch_size=2, collate_fn=lambda b: b)])
def test_dataloader_batches_match_torch(kw):
    jt = [to_py(b) for b in jud.DataLoader(tensor_ds(jtorch), **kw)]
    ref = [to_py(b) for b in tud.DataLoader(tensor_ds(torch), **kw)]
    assert jt == ref
    assert len(jud.DataLoader(tensor_ds(jtorch), **kw)) == len(tud.DataLoader(
        tensor_ds(torch), **kw))


def test_dataloader_with_batch_sampler_and_subset():
    ds = jud.Subset(tensor_ds(jtorch), [6, 0, 3, 2])
    rds = tud.Subset(tensor_ds(torch), [6, 0, 3, 2])
    bs = [[0, 1], [3], [2, 1, 0]]
    assert [to_py(b) for b in jud.DataLoader(ds, batch_sampler=bs)] == \
        [to_py(b) for b in tud.DataLoader(rds, batch_sampler=bs)]


def test_sampler_sequences_match_torch():
    data = list(range(10))
    assert list(jud.SequentialSampler(data)) == list(tud.SequentialSampler(data))
    for bsz, drop in ((3, False), (3, True), (5, False), (11, True)):
        j = jud.BatchSampler(jud.SequentialSampler(data), bsz, drop)
        r = tud.BatchSampler(tud.SequentialSampler(data), bsz, drop)
        assert list(j) == list(r) and len(j) == len(r)


@pytest.mark.parametrize("n,reps,drop", [(10, 3, False), (10, 3, True), (2, 4, False),
                                         (8, 4, False)])
def test_distributed_sampler_matches_torch(n, reps, drop):
    data = list(range(n))
    for rank in range(reps):
        j = jud.DistributedSampler(data, num_replicas=reps, rank=rank, shuffle=False,
                                   drop_last=drop)
        r = tud.DistributedSampler(data, num_replicas=reps, rank=rank, shuffle=False,
                                   drop_last=drop)
        assert list(j) == list(r) and len(j) == len(r)


def test_distributed_sampler_shuffle_epochs():
    data = list(range(12))
    parts = [list(jud.DistributedSampler(data, 3, r, seed=5)) for r in range(3)]
    assert sorted(sum(parts, [])) == data
    s = jud.DistributedSampler(data, 3, 0, seed=5)
    assert list(s) == parts[0]
    s.set_epoch(1)
    assert list(s) != parts[0]
    for T in (torch, jtorch):
        with pytest.raises(ValueError, match="Invalid rank 3"):
            T.utils.data.DistributedSampler(data, num_replicas=3, rank=3)


def test_random_samplers_are_seeded_permutations():
    data = list(range(20))
    g = lambda: jtorch.Generator().manual_seed(7)  # noqa: E731
    a = list(jud.RandomSampler(data, generator=g()))
    assert sorted(a) == data and a == list(jud.RandomSampler(data, generator=g()))
    assert a != data
    jtorch.manual_seed(3)
    b = list(jud.RandomSampler(data))
    jtorch.manual_seed(3)
    assert b == list(jud.RandomSampler(data))
    more = list(jud.RandomSampler(data, num_samples=45, generator=g()))
    assert len(more) == 45 and sorted(more[:20]) == data and sorted(more[20:40]) == data
    rep = list(jud.RandomSampler(data, replacement=True, num_samples=50, generator=g()))
    assert len(rep) == 50 and set(rep) <= set(data)
    sub = list(jud.SubsetRandomSampler([3, 5, 9], generator=g()))
    assert sorted(sub) == [3, 5, 9]
    w = list(jud.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 40, generator=g()))
    assert len(w) == 40 and set(w) <= {1, 3}
    w2 = list(jud.WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=g()))
    assert sorted(w2) == [0, 1, 2]


def test_sampler_errors_match_torch():
    for mod in (tud, jud):
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            mod.RandomSampler([1, 2], num_samples=0)
        with pytest.raises(TypeError, match="replacement should be a boolean"):
            mod.RandomSampler([1, 2], replacement=1)
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            mod.BatchSampler([1, 2], 0, False)
        with pytest.raises(ValueError, match="drop_last should be a boolean"):
            mod.BatchSampler([1, 2], 2, 0)
        with pytest.raises(ValueError, match="weights should be a 1d sequence"):
            mod.WeightedRandomSampler([[1.0]], 2)


def test_shuffle_is_deterministic_under_generator():
    def epoch(seed):
        g = jtorch.Generator().manual_seed(seed)
        return [b[1].tolist() for b in jud.DataLoader(tensor_ds(jtorch, 9), batch_size=4,
                                                      shuffle=True, generator=g)]
    a = epoch(0)
    assert a == epoch(0) and a != epoch(1)
    assert sorted(sum(a, [])) == list(range(9)) and [len(b) for b in a] == [4, 4, 1]


def test_datasets_match_torch():
    for T in (torch, jtorch):
        with pytest.raises(AssertionError, match="Size mismatch between tensors"):
            T.utils.data.TensorDataset(T.zeros(2), T.zeros(3))
    jc = jud.ConcatDataset([list(range(3)), list(range(10, 15))])
    rc = tud.ConcatDataset([list(range(3)), list(range(10, 15))])
    assert len(jc) == len(rc) and [jc[i] for i in range(-8, 8)] == [rc[i] for i in range(-8, 8)]
    assert jc.cumulative_sizes == rc.cumulative_sizes
    for c in (jc, rc):
        with pytest.raises(ValueError, match="absolute value of index"):
            c[-9]
    js = jud.StackDataset([1, 2], ["a", "b"])
    rs = tud.StackDataset([1, 2], ["a", "b"])
    assert [js[i] for i in range(2)] == [rs[i] for i in range(2)]
    assert jud.StackDataset(a=[1, 2], b=[3, 4])[1] == tud.StackDataset(a=[1, 2], b=[3, 4])[1]
    assert js.__getitems__([1, 0]) == rs.__getitems__([1, 0])
    for mod in (tud, jud):
        with pytest.raises(ValueError, match="Size mismatch between datasets"):
            mod.StackDataset([1], [1, 2])
    sub = jud.Subset(list(range(10)), [4, 2, 8])
    assert [sub[i] for i in range(3)] == [4, 2, 8] and sub.__getitems__([2, 0]) == [8, 4]
    added = jud.TensorDataset(jtorch.zeros(2)) + jud.TensorDataset(jtorch.ones(3))
    assert isinstance(added, jud.ConcatDataset) and len(added) == 5


def test_random_split_lengths_and_determinism():
    data = list(range(10))
    for lengths in ([3, 7], [0.5, 0.3, 0.2], [0.33, 0.33, 0.34], [0.25, 0.25, 0.25, 0.25]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            js = jud.random_split(data, lengths, generator=jtorch.Generator().manual_seed(1))
            rs = tud.random_split(data, lengths, generator=torch.Generator().manual_seed(1))
        assert [len(s) for s in js] == [len(s) for s in rs]
        assert sorted(sum((list(s) for s in js), [])) == data
    a = jud.random_split(data, [4, 6], generator=jtorch.Generator().manual_seed(3))
    b = jud.random_split(data, [4, 6], generator=jtorch.Generator().manual_seed(3))
    assert [list(s) for s in a] == [list(s) for s in b]
    for mod in (tud, jud):
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            mod.random_split(data, [3, 3])


class TStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset_batching_and_len():
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        jl, rl = jud.DataLoader(Stream(7), **kw), tud.DataLoader(TStream(7), **kw)
        assert [to_py(b) for b in jl] == [to_py(b) for b in rl]
        assert len(jl) == len(rl)
    chain = jud.ChainDataset([Stream(2), Stream(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5


def test_dataloader_option_errors_match_torch():
    def outcomes(T, mod):
        res = []
        ds = tensor_ds(T)
        for kw in (dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
                   dict(persistent_workers=True), dict(sampler=[0, 1], shuffle=True),
                   dict(batch_sampler=[[0]], batch_size=2), dict(batch_size=None, drop_last=True),
                   dict(multiprocessing_context="spawn"),
                   dict(num_workers=1, multiprocessing_context="nope")):
            try:
                mod.DataLoader(ds, **kw)
                res.append(None)
            except Exception as e:  # noqa: BLE001
                res.append((type(e), str(e)))
        for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
            try:
                mod.DataLoader(Stream(3) if T is jtorch else TStream(3), **kw)
                res.append(None)
            except Exception as e:  # noqa: BLE001
                res.append((type(e), str(e).split(", but got")[0]))
        dl = mod.DataLoader(ds)
        with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                             "DataLoader is initialized"):
            dl.batch_size = 3
        return res
    assert outcomes(jtorch, jud) == outcomes(torch, tud)


# ------------------------------------------------------------------ workers
def test_workers_match_single_process_and_persist():
    """workers=2 give the same batches (in order) as workers=0; persistent workers serve
    two epochs; values come back as jtorch tensors; each worker ran part of the work."""
    single = list(jud.DataLoader(DictDS(), batch_size=3))
    dl = jud.DataLoader(DictDS(), batch_size=3, num_workers=2, persistent_workers=True,
                        worker_init_fn=init_fn, prefetch_factor=1)
    for _ in range(2):
        multi = list(dl)
        assert len(multi) == len(single) == 4
        for m, s in zip(multi, single):
            assert isinstance(m["x"], jtorch.Tensor) and m["x"].dtype == jtorch.float32
            for key in ("x", "y", "np"):
                assert m[key].tolist() == s[key].tolist()
            assert m["name"] == s["name"]
        assert sorted({w for b in multi for w in b["wid"].tolist()}) == [0, 1]
    assert [b["wid"].tolist() for b in single][0] == [-1, -1, -1]
    dl._iterator._shutdown_workers()


def test_workers_iterable_sharding_and_errors():
    got = sorted(sum((b.tolist() for b in jud.DataLoader(Stream(9), batch_size=2,
                                                         num_workers=2)), []))
    assert got == list(range(9))
    tens = list(jud.DataLoader(tensor_ds(jtorch), batch_size=3, num_workers=2))
    assert [to_py(b) for b in tens] == [to_py(b) for b in jud.DataLoader(tensor_ds(jtorch),
                                                                        batch_size=3)]
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        list(jud.DataLoader(Boom(), batch_size=1, num_workers=1))


def test_len_with_iterable_and_fractions():
    assert len(jud.DataLoader(Stream(10), batch_size=4)) == math.ceil(10 / 4)
    assert len(jud.DataLoader(Stream(10), batch_size=4, drop_last=True)) == 2


def test_fork_workers_numpy_dataset():
    """With fork the parent's JAX runtime is unusable in the child: numpy samples collate
    to host arrays there and arrive as jtorch tensors, equal to the single-process ones."""
    jtorch.ones(2).sum().item()      # the parent's JAX runtime is running
    multi = list(jud.DataLoader(NumpyDS(), batch_size=2, num_workers=2,
                                multiprocessing_context="fork"))
    single = list(jud.DataLoader(NumpyDS(), batch_size=2))
    assert [to_py(b) for b in multi] == [to_py(b) for b in single]

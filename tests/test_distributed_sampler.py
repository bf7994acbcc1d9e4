"""DistributedSampler: torch's exact partitioning (padding, drop_last, rank striding)."""
import pytest
from torch.utils.data import DistributedSampler as TorchSampler

import jtorch
from jtorch.utils.data import DistributedSampler
from jtorch.utils.data.distributed import DistributedSampler as FromModule

CASES = [(10, 3, False), (10, 3, True), (12, 4, False), (12, 4, True), (5, 8, False),
         (7, 2, True), (1, 3, False), (0, 2, False)]


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_unshuffled_partition_matches_torch(n, replicas, drop_last):
    ds = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(ds, num_replicas=replicas, rank=rank, shuffle=False,
                                  drop_last=drop_last)
        theirs = TorchSampler(ds, num_replicas=replicas, rank=rank, shuffle=False,
                              drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)
        assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True),
                                                  (16, 4, False)])
def test_shuffled_partition_properties(n, replicas, drop_last):
    ds = list(range(n))

    def parts(epoch, seed=0):
        out = []
        for rank in range(replicas):
            s = DistributedSampler(ds, num_replicas=replicas, rank=rank, seed=seed,
                                   drop_last=drop_last)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    p0 = parts(0)
    theirs = TorchSampler(ds, num_replicas=replicas, rank=0, drop_last=drop_last)
    flat = [i for p in p0 for i in p]
    assert all(len(p) == theirs.num_samples for p in p0)
    if drop_last:   # disjoint, no padding
        assert len(set(flat)) == len(flat) == theirs.total_size
    else:           # everything covered, padding repeats the permutation's first items
        assert set(flat) == set(ds) and len(flat) == theirs.total_size
    assert p0 == parts(0)                       # deterministic for (seed, epoch)
    assert p0 != parts(1) and p0 != parts(0, seed=5)
    assert p0 != [list(range(n))[r:theirs.total_size:replicas] for r in range(replicas)]


def test_errors_and_exports():
    assert FromModule is DistributedSampler is jtorch.utils.data.DistributedSampler
    with pytest.raises(ValueError) as theirs:
        TorchSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError) as ours:
        DistributedSampler(range(4), num_replicas=2, rank=2)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="has not been initialized"):
        DistributedSampler(range(4))


def test_with_dataloader():
    ds = jtorch.utils.data.TensorDataset(jtorch.arange(10))
    s = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    batches = [b[0].tolist() for b in jtorch.utils.data.DataLoader(ds, batch_size=2,
                                                                   sampler=s)]
    assert batches == [[1, 3], [5, 7], [9]]

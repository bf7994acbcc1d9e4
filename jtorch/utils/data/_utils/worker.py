"""DataLoader worker processes.

Why not fork (torch's Linux default): a forked child of a process whose JAX runtime
is running deadlocks or aborts on its first JAX op (XLA's thread pools and mutexes do
not survive fork), and any dataset that builds jtorch tensors needs JAX. So workers are
fresh interpreters: by default the 'forkserver' start method with `jtorch` preloaded in
the server (which never starts a JAX backend), so each worker is a cheap fork of a clean
process. Each worker pins JAX to the CPU platform before anything else runs (it never
touches the accelerator or its memory), runs the dataset and the collate on CPU, and
sends batches back pickled: a jtorch Tensor pickles as a numpy array and is rebuilt as a
jtorch tensor (on the default device) in the main process.

Like torch under spawn/forkserver (its macOS/Windows default), the script that creates
the DataLoader is re-imported in each worker, so guard its entry point with
`if __name__ == "__main__":` and define datasets/collate functions at module level.
`multiprocessing_context="fork"` is accepted for numpy-only datasets: there the worker
never runs JAX (default_collate leaves become numpy arrays that unpickle as jtorch
tensors in the parent), so the dataset must not build jtorch tensors itself.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

MP_STATUS_CHECK_INTERVAL = 5.0
_POLL_S = 0.1

_worker_info = None


@dataclass
class WorkerInfo:
    id: int
    num_workers: int
    seed: int
    dataset: object

    def __setattr__(self, key, val):
        if key in self.__dict__:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        object.__setattr__(self, key, val)


def get_worker_info():
    """In a DataLoader worker: its WorkerInfo(id, num_workers, seed, dataset); else None."""
    return _worker_info


class _IterableDatasetStopIteration:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    def __init__(self, seed=None):
        self.seed = seed


class ExceptionWrapper:
    """An exception caught in a worker, re-raised in the main process with its traceback."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where
        self.orig_msg = str(exc_info[1])
        self.frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc_info[2])]

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        exc._jtorch_worker = (self.orig_msg, self.frames)
        raise exc


def _child_setup(alias):
    """Runs first in a fresh worker (unpickled ahead of the parent's main module)."""
    _spawned[0] = True
    import jax
    jax.config.update("jax_platforms", "cpu")
    if alias:
        from .... import _alias
        _alias.install()


class _ChildSetup:
    def __init__(self, alias):
        self.alias = alias

    def __reduce__(self):
        return (_child_setup, (self.alias,))


@contextlib.contextmanager
def preparing_children():
    """While starting workers: put _ChildSetup first in multiprocessing's preparation data."""
    from multiprocessing import spawn
    from .... import _alias
    orig = spawn.get_preparation_data

    def patched(name):
        return {"jtorch_worker_setup": _ChildSetup(_alias.is_installed()), **orig(name)}

    spawn.get_preparation_data = patched
    try:
        yield
    finally:
        spawn.get_preparation_data = orig


@contextlib.contextmanager
def quiet_fork(ctx):
    """JAX warns on every fork; a fork-context worker never runs JAX (see above)."""
    import warnings
    with warnings.catch_warnings():
        if ctx.get_start_method() == "fork":
            warnings.filterwarnings("ignore", message="os.fork\\(\\) was called",
                                    category=RuntimeWarning)
        yield


def get_context(ctx):
    """The multiprocessing context workers start with (see the module docstring)."""
    if ctx is None:
        ctx = mp.get_context("forkserver")
        try:
            ctx.set_forkserver_preload(["jtorch"])
        except Exception:
            pass
        return ctx
    if isinstance(ctx, str):
        return mp.get_context(ctx)
    return ctx


_spawned = [False]      # set by _child_setup: this worker is a fresh interpreter


def _seed_worker(seed):
    import jtorch
    random.seed(seed)
    jtorch.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF])
                   .generate_state(4))


def _worker_loop(dataset_kind, dataset, index_queue, data_queue, done_event, auto_collation,
                 collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers,
                 persistent_workers):
    from . import collate, fetch
    global _worker_info
    if not _spawned[0]:     # forked from the parent: keep JAX out of this process
        collate.HOST_ONLY = True
        import gc       # jax's gc hook calls into the (now unusable) XLA runtime
        gc.callbacks[:] = [cb for cb in gc.callbacks
                           if not getattr(cb, "__module__", "").startswith(("jax", "jaxlib"))]
    try:
        seed = base_seed + worker_id
        _seed_worker(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = fetch.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn,
                                           drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        parent = mp.parent_process()
        while True:
            try:
                r = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                # done_event also ends the loop: a shutdown run by the garbage collector
                # may find the index queue already finalized, its None never sent.
                if done_event.is_set() or (parent is not None and not parent.is_alive()):
                    break
                continue
            if r is None:
                break
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                if init_exception is None:
                    fetcher = fetch.create_fetcher(dataset_kind, dataset, auto_collation,
                                                   collate_fn, drop_last)
                continue
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and dataset_kind == fetch.ITERABLE:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(
                            where=f"in DataLoader worker process {worker_id}")
            try:
                data_queue.put((idx, data))
            except Exception:
                data_queue.put((idx, ExceptionWrapper(
                    where=f"in DataLoader worker process {worker_id} (sending the batch)")))
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()

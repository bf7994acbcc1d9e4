"""torch's RNG API over JAX keys.

A Generator holds a threefry key (derived from its seed) and a draw counter. Each
draw hashes the counter with the key (threefry), so the same seed gives the same
numbers every run, get/set_state is just (seed, key, counter),
and the key can later be lifted as traced state (nothing here calls `.item()` on it).
The streams are not torch's Mersenne Twister/Philox: distributions, shapes, dtypes
and determinism match, the exact numbers do not.
"""
from __future__ import annotations

import contextlib
import os
import struct

import jax
import jax.numpy as jnp
import numpy as np

from . import _device

DEFAULT_SEED = 67280421310721   # torch's default_rng_seed_val
_MAGIC = b"JTRG"
_STATE_FMT = "<4sQQII"          # magic, seed, counter, key words
STATE_SIZE = struct.calcsize(_STATE_FMT)
_U64 = (1 << 64) - 1


def _check_seed(seed):
    """torch accepts any integer in [-2**63, 2**64) (negatives wrap to uint64)."""
    from ._tensor import Tensor
    if isinstance(seed, Tensor):
        seed = seed.item()
    seed = int(seed)
    if not -(1 << 63) <= seed <= _U64:
        raise ValueError("Overflow when unpacking long long")
    return seed & _U64


def _key_for(seed):
    return np.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF], np.uint32)


class Generator:
    """torch.Generator: manual_seed / seed / initial_seed / get_state / set_state."""

    def __init__(self, device="cpu"):
        dev = _device.to_device(device)
        if dev.type == "cuda":
            _device.jax_device(dev)   # torch's CPU build refuses CUDA generators
        self.device = dev
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed):
        seed = _check_seed(seed)
        self._seed = seed
        self._key = _key_for(seed)
        self._counter = 0
        return self

    def seed(self):
        """Re-seed from OS entropy and return the new seed."""
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from ._tensor import wrap
        key = self._key
        if isinstance(key, jax.core.Tracer):
            raise RuntimeError("Generator.get_state() needs a concrete key; the generator is "
                               "being traced inside a compiled function")
        k = np.asarray(key, np.uint32)
        buf = struct.pack(_STATE_FMT, _MAGIC, self._seed, self._counter & _U64,
                          int(k[0]), int(k[1]))
        return wrap(jnp.asarray(np.frombuffer(buf, np.uint8).copy()))

    def set_state(self, new_state):
        from . import _dtype as D
        from ._tensor import Tensor
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype is not D.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        if new_state.numel() != STATE_SIZE:
            raise RuntimeError(f"Expected a jtorch generator state of size {STATE_SIZE} but "
                               f"found the input RNG state size to be {new_state.numel()}")
        raw = np.asarray(new_state._value, np.uint8).tobytes()
        magic, seed, counter, k0, k1 = struct.unpack(_STATE_FMT, raw)
        if magic != _MAGIC:
            raise RuntimeError("Invalid RNG state: not produced by jtorch's get_state()")
        self._seed, self._counter = seed, counter
        self._key = np.array([k0, k1], np.uint32)
        return self

    def clone_state(self):
        g = Generator.__new__(Generator)
        g.device, g._seed, g._key, g._counter = self.device, self._seed, self._key, \
            self._counter
        return g

    def _draw(self):
        """This draw's key, threefry(generator key, counter), as an int64[2] array.

        Derived on the host (a few microseconds) so compiled samplers hold only the
        sampling itself; a traced key (under jax.jit) derives the same value in-graph.
        """
        c = self._counter
        self._counter = c + 1
        k = self._key
        if isinstance(k, np.ndarray) and isinstance(c, int):
            lo, hi = c & 0xFFFFFFFF, (c >> 32) & 0xFFFFFFFF
            return np.array(_threefry2x32(int(k[0]), int(k[1]), lo, hi), np.int64)
        # traced key or counter (jtorch.compile lifts both): the same value, in-graph
        from jax.extend.random import threefry_2x32
        c = jnp.asarray(c).astype(jnp.int64)
        words = jnp.stack([c & 0xFFFFFFFF, (c >> 32) & 0xFFFFFFFF]).astype(jnp.uint32)
        d = threefry_2x32(jnp.asarray(k).astype(jnp.uint32), words)
        return d.astype(jnp.int64)

    def __repr__(self):
        return f"<jtorch.Generator object at {hex(id(self))}>"


default_generator = Generator()


def key_from(seed_arr):
    """Inside a jitted forward: the JAX key from `Generator._draw()`'s array."""
    return jax.random.wrap_key_data(seed_arr.astype(jnp.uint32), impl="threefry2x32")


_M32 = 0xFFFFFFFF


def _threefry2x32(k0, k1, x0, x1):
    """One Threefry-2x32 block (20 rounds, Random123's constants) on Python ints;
    equals jax's threefry_2x32(key=[k0, k1], count=[x0, x1])."""
    ks = (k0, k1, k0 ^ k1 ^ 0x1BD11BDA)
    x0, x1 = (x0 + k0) & _M32, (x1 + k1) & _M32
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = (x0 + x1) & _M32
            x1 = (((x1 << r) | (x1 >> (32 - r))) & _M32) ^ x0
        x0 = (x0 + ks[(i + 1) % 3]) & _M32
        x1 = (x1 + ks[(i + 2) % 3] + i + 1) & _M32
    return x0, x1


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def manual_seed(seed):
    """Seed the default generator (every device shares it here); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type="cuda"):
    """Restore the default generator's state on exit."""
    if not enabled:
        yield
        return
    state = default_generator.clone_state()
    try:
        yield
    finally:
        default_generator._seed, default_generator._key, default_generator._counter = \
            state._seed, state._key, state._counter

"""torch.cuda over JAX's GPU devices: queries, seeding, synchronize, memory statistics.

"cuda:N" is JAX's N-th GPU. Seeding seeds jtorch's one default generator (shared by all
devices). Memory figures come from jtorch.utils.memory: the JAX device's `memory_stats()`
on GPU, and, when JAX sees no GPU, the CPU's account of live arrays (torch reports 0
there; jtorch reports the host figures so leak hunting works on any machine).
`empty_cache()` is a no-op: XLA's allocator owns the memory.
"""
from __future__ import annotations

import time as _time

import jax as _jax

from .. import _device, _random

_current = [0]


def is_available():
    return bool(_device.gpu_devices())


def device_count():
    return len(_device.gpu_devices())


def is_initialized():
    return is_available()


def init():
    _lazy_check()


def _lazy_check():
    if not is_available():
        raise _device.CudaUnavailableError("Torch not compiled with CUDA enabled (jtorch: JAX "
                                           "sees no GPU)")


def _index(device=None):
    if device is None:
        return _current[0]
    if isinstance(device, int):
        return device
    d = _device.to_device(device)
    if d.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return _current[0] if d.index is None else d.index


def _jax_dev(device=None):
    _lazy_check()
    return _device.jax_device(_device.device("cuda", _index(device)))


def current_device():
    _lazy_check()
    return _current[0]


def set_device(device):
    idx = _index(device)
    if idx >= 0:
        _jax_dev(idx)
        _current[0] = idx


class device:
    """Context manager selecting the current CUDA device."""

    def __init__(self, device):
        self.idx = _index(device) if device is not None else -1
        self.prev = -1

    def __enter__(self):
        self.prev = _current[0]
        if self.idx >= 0:
            set_device(self.idx)

    def __exit__(self, *exc):
        _current[0] = self.prev
        return False


def get_device_name(device=None):
    return _jax_dev(device).device_kind


def get_device_capability(device=None):
    cc = getattr(_jax_dev(device), "compute_capability", None)
    if not cc:
        return (0, 0)
    major, _, minor = str(cc).partition(".")
    return (int(major), int(minor or 0))


class _DeviceProperties:
    def __init__(self, dev):
        self.name = dev.device_kind
        self.major, self.minor = get_device_capability(dev.id)
        self.total_memory = int(_stats(dev).get("bytes_limit", 0))
        self.multi_processor_count = int(getattr(dev, "core_count", 0) or 0)
        self.is_integrated = False
        self.is_multi_gpu_board = False

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    return _DeviceProperties(_jax_dev(device))


def get_arch_list():
    if not is_available():
        return []
    return [f"sm_{a}{b}" for a, b in {get_device_capability(i) for i in range(device_count())}]


def is_bf16_supported(including_emulation=True):
    return is_available()


# ------------------------------------------------------------------- seeding
def manual_seed(seed):
    _random.manual_seed(seed)


def manual_seed_all(seed):
    _random.manual_seed(seed)


def seed():
    _random.seed()


def seed_all():
    _random.seed()


def initial_seed():
    return _random.initial_seed()


def get_rng_state(device="cuda"):
    return _random.get_rng_state()


def set_rng_state(new_state, device="cuda"):
    _random.set_rng_state(new_state)


def get_rng_state_all():
    return [get_rng_state() for _ in range(device_count())]


def set_rng_state_all(new_states):
    for s in new_states:
        set_rng_state(s)


# ------------------------------------------------------------- synchronize
def synchronize(device=None):
    """Block until every array computed on the device is ready."""
    dev = _jax_dev(device)
    for a in _jax.live_arrays():
        try:
            if dev in a.devices():
                a.block_until_ready()
        except Exception:   # deleted/donated buffers
            pass


class Event:
    """Timing events: record() synchronizes, so elapsed_time is wall time in ms."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.enable_timing = enable_timing
        self._t = None

    def record(self, stream=None):
        if is_available():
            synchronize()
        self._t = _time.perf_counter()

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass

    def query(self):
        return True

    def elapsed_time(self, end_event):
        if self._t is None or end_event._t is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return (end_event._t - self._t) * 1000.0


class Stream:
    """One in-order stream per device (XLA schedules the work)."""

    def __init__(self, device=None, priority=0, **kwargs):
        self.device = _device.device("cuda", _index(device))
        self.priority = priority

    def synchronize(self):
        synchronize(self.device)

    def wait_stream(self, stream):
        pass

    def wait_event(self, event):
        pass

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def query(self):
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def current_stream(device=None):
    return Stream(device)


def default_stream(device=None):
    return Stream(device)


class stream:
    """`with torch.cuda.stream(s):` — work still runs on XLA's stream."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ memory
# jtorch.utils.memory does the accounting. Without a GPU these report the CPU's account of
# live arrays (torch would report 0), so memory_allocated()-based leak hunting works anywhere.
def _stats(dev):
    try:
        return dev.memory_stats() or {}
    except Exception:
        return {}


class _LazyMemory:
    """jtorch.utils.memory, imported on first use (keeps `import jtorch` free of it)."""

    def __getattr__(self, name):
        from ..utils import memory
        return getattr(memory, name)


_memory = _LazyMemory()


def _mem_dev(device=None):
    """The JAX device the memory functions describe: the CUDA device, else the CPU."""
    if is_available():
        return _jax_dev(device)
    return _jax.local_devices(backend="cpu")[0]


def empty_cache():
    """No-op: XLA's allocator owns device memory."""


def ipc_collect():
    pass


def memory_allocated(device=None):
    return _memory.memory_allocated(_mem_dev(device))


def max_memory_allocated(device=None):
    return _memory.max_memory_allocated(_mem_dev(device))


def memory_reserved(device=None):
    return _memory.memory_reserved(_mem_dev(device))


def max_memory_reserved(device=None):
    return _memory.max_memory_reserved(_mem_dev(device))


def reset_peak_memory_stats(device=None):
    _memory.reset_peak_memory_stats(_mem_dev(device))


reset_max_memory_allocated = reset_peak_memory_stats
reset_max_memory_cached = reset_peak_memory_stats
memory_cached = memory_reserved
max_memory_cached = max_memory_reserved


def memory_stats(device=None):
    return _memory.memory_stats(_mem_dev(device))


def memory_summary(device=None, abbreviated=False):
    return _memory.memory_summary(_mem_dev(device), abbreviated)


def mem_get_info(device=None):
    """(free, total) bytes of the CUDA device (torch's error without one)."""
    return _memory.mem_get_info(_jax_dev(device))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name == "amp":  # torch.cuda.amp (deprecated aliases), imported on first use
        import importlib
        return importlib.import_module(".amp", __name__)
    from .._errors import missing
    raise missing(f"torch.cuda.{name}")

"""Memory accounting for any JAX device (jtorch-only: torch has no CPU memory API).

Why: leak hunting (`memory_allocated()` growing across training steps) should work on a
laptop as well as on a GPU. Figures come from the JAX device's `memory_stats()` when the
backend keeps them (GPU); otherwise from an account of the live JAX arrays on that device
(`jax.live_arrays()`, which includes every tensor's buffer and every array an autograd
graph keeps alive). The account is computed only when asked, so the eager op path pays
nothing; the peak is a high-water mark updated on each read (and on `synchronize()`), so
without a backend counter it is the largest figure any read has seen.

`torch.cuda`'s memory functions (jtorch.cuda) use this module for the CUDA device, or for
the CPU when JAX sees no GPU.
"""
from __future__ import annotations

import collections
import os

import jax

__all__ = ["memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
           "reset_peak_memory_stats", "reset_max_memory_allocated", "memory_stats",
           "memory_summary", "mem_get_info", "synchronize", "empty_cache", "live_arrays_bytes"]

# per JAX device: our high-water marks and the backend peaks seen at the last reset
_peaks: dict = {}


def _jax_dev(device):
    """A JAX device from None (jtorch's default), an int (GPU ordinal), str or torch.device."""
    from .. import _device
    if isinstance(device, jax.Device):
        return device
    if isinstance(device, int):
        return _device.jax_device(_device.device("cuda", device))
    return _device.jax_device(_device.to_device(device))


def _backend_stats(dev):
    try:
        st = dev.memory_stats()
    except Exception:  # backends without allocator statistics
        return None
    return st if st and "bytes_in_use" in st else None


def live_arrays_bytes(device=None):
    """(bytes, count) of the live JAX arrays held on `device` (their shards there)."""
    dev = _jax_dev(device)
    total = count = 0
    for a in jax.live_arrays():
        try:
            if a.is_deleted():
                continue
            devs = a.devices()
            if dev not in devs:
                continue
            if len(devs) == 1:
                total += a.nbytes
            else:
                total += sum(s.data.nbytes for s in a.addressable_shards if s.device == dev)
            count += 1
        except Exception:  # donated/deleted while we looked
            continue
    return total, count


def _read(dev):
    """Current figures for `dev`, updating the high-water marks."""
    st = _backend_stats(dev)
    if st is not None:
        cur = {"allocated": int(st["bytes_in_use"]),
               "reserved": int(st.get("pool_bytes") or st.get("bytes_reserved")
                               or st["bytes_in_use"]),
               "count": st.get("num_allocs"), "limit": st.get("bytes_limit")}
        backend_peak = {"allocated": int(st.get("peak_bytes_in_use", 0)),
                        "reserved": int(st.get("peak_pool_bytes") or
                                        st.get("peak_bytes_reserved") or 0)}
    else:
        nbytes, count = live_arrays_bytes(dev)
        cur = {"allocated": nbytes, "reserved": nbytes, "count": count, "limit": None}
        backend_peak = None
    rec = _peaks.get(dev)
    if rec is None:  # first read: the backend's own peak (if any) counts from process start
        rec = _peaks[dev] = {"allocated": 0, "reserved": 0, "baseline": None}
    for k in ("allocated", "reserved"):
        peak = max(rec[k], cur[k])
        if backend_peak is not None:
            base = rec["baseline"]
            # the backend's peak cannot be reset: use it only once it passed the reset mark
            if base is None or backend_peak[k] > base[k]:
                peak = max(peak, backend_peak[k])
        rec[k] = peak
    return cur, rec, st


def memory_allocated(device=None) -> int:
    """Bytes held by arrays on the device now."""
    return _read(_jax_dev(device))[0]["allocated"]


def max_memory_allocated(device=None) -> int:
    """Peak of memory_allocated since start or the last reset_peak_memory_stats()."""
    return _read(_jax_dev(device))[1]["allocated"]


def memory_reserved(device=None) -> int:
    """Bytes the allocator holds (its pool on GPU; the live arrays' bytes on CPU)."""
    return _read(_jax_dev(device))[0]["reserved"]


def max_memory_reserved(device=None) -> int:
    return _read(_jax_dev(device))[1]["reserved"]


def reset_peak_memory_stats(device=None) -> None:
    """Restart the peaks from the current figures."""
    dev = _jax_dev(device)
    cur, rec, st = _read(dev)
    rec["allocated"], rec["reserved"] = cur["allocated"], cur["reserved"]
    if st is not None:
        rec["baseline"] = {"allocated": int(st.get("peak_bytes_in_use", 0)),
                           "reserved": int(st.get("peak_pool_bytes") or
                                           st.get("peak_bytes_reserved") or 0)}


reset_max_memory_allocated = reset_peak_memory_stats


def memory_stats(device=None) -> collections.OrderedDict:
    """torch's memory_stats keys, for the figures this backend can give (sorted, as torch)."""
    cur, rec, st = _read(_jax_dev(device))
    out = {
        "allocated_bytes.all.current": cur["allocated"],
        "allocated_bytes.all.peak": rec["allocated"],
        "active_bytes.all.current": cur["allocated"],
        "active_bytes.all.peak": rec["allocated"],
        "reserved_bytes.all.current": cur["reserved"],
        "reserved_bytes.all.peak": rec["reserved"],
    }
    if st is None:
        out["allocation.all.current"] = cur["count"]
        out["active.all.current"] = cur["count"]
    elif st.get("num_allocs") is not None:
        out["allocation.all.allocated"] = int(st["num_allocs"])
    return collections.OrderedDict(sorted(out.items()))


def _fmt(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)


def memory_summary(device=None, abbreviated=False) -> str:
    """A table in the shape of torch.cuda.memory_summary (current and peak columns)."""
    dev = _jax_dev(device)
    s = memory_stats(dev)
    rule = "|" + "=" * 75 + "|"
    thin = "|" + "-" * 75 + "|"
    kind = "CUDA" if dev.platform == "gpu" else dev.platform.upper()
    lines = [rule, f"|{f'PyTorch {kind} memory summary, device ID {dev.id}':^75}|", thin,
             f"|{'Metric':^29}|{'Cur Usage':^22}|{'Peak Usage':^22}|", thin]
    for label, key in (("Allocated memory", "allocated_bytes"), ("Active memory", "active_bytes"),
                       ("GPU reserved memory" if kind == "CUDA" else "Reserved memory",
                        "reserved_bytes")):
        cur, peak = s[f"{key}.all.current"], s[f"{key}.all.peak"]
        lines.append(f"| {label:<28}|{_fmt(cur):>21} |{_fmt(peak):>21} |")
    if "allocation.all.current" in s:
        n = s["allocation.all.current"]
        lines.append(f"| {'Allocations':<28}|{n:>21} |{'':>21} |")
    lines.append(rule)
    return "\n".join(lines) + "\n"


def mem_get_info(device=None) -> tuple:
    """(free, total) bytes: the device's limit on GPU, the host's RAM on CPU."""
    dev = _jax_dev(device)
    st = _backend_stats(dev)
    if st is not None and st.get("bytes_limit"):
        total = int(st["bytes_limit"])
        return total - int(st["bytes_in_use"]), total
    page = os.sysconf("SC_PAGE_SIZE")
    return os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page


def synchronize(device=None) -> None:
    """Wait for all work producing arrays on the device; refreshes the peak marks."""
    dev = _jax_dev(device)
    for a in jax.live_arrays():
        try:
            if dev in a.devices():
                a.block_until_ready()
        except Exception:  # deleted/donated buffers
            pass
    _read(dev)


def empty_cache() -> None:
    """No-op: XLA's allocator owns device memory and frees buffers when arrays die."""

"""torch.backends.cpu."""


def get_cpu_capability():
    return "DEFAULT"


def caching_allocator_enabled():
    """jtorch-only: whether host buffers are kept for reuse (see `jtorch._cpu_runtime`);
    `JTORCH_CPU_ALLOCATOR=system` turns it off."""
    from .._cpu_runtime import tuned
    return tuned

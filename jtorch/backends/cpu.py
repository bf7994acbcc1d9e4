"""torch.backends.cpu."""


def get_cpu_capability():
    return "DEFAULT"


def caching_allocator_enabled():
    """jtorch-only: whether host buffers are kept for reuse (see `jtorch._allocator`);
    `JTORCH_CPU_ALLOCATOR=system` turns it off."""
    from .._allocator import tuned
    return tuned

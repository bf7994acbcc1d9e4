"""torch.backends.openmp: XLA's CPU backend uses its own thread pool."""


def is_available():
    return False

"""torch.backends.mps: JAX has no Metal backend here."""


def is_available():
    return False


def is_built():
    return False

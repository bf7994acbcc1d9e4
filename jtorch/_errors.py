"""jtorch's own exception types."""


class NotImplementedAPIError(NotImplementedError, AttributeError):
    """An API jtorch does not have (yet). Also an AttributeError, so hasattr() is False."""


def missing(qualname):
    return NotImplementedAPIError(f"{qualname} is not implemented in jtorch")


class TracedValueError(RuntimeError):
    """A concrete value (item(), tolist(), bool(t), ...) was asked of a tensor that is being
    traced (jtorch.compile, jax.jit). jtorch.compile catches it to fall back to eager."""

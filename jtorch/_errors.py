"""jtorch's own exception types."""


class NotImplementedAPIError(NotImplementedError, AttributeError):
    """An API jtorch does not have (yet). Also an AttributeError, so hasattr() is False."""


def missing(qualname):
    return NotImplementedAPIError(f"{qualname} is not implemented in jtorch")

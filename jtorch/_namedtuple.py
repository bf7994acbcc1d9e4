"""torch.return_types: namedtuples such as torch.return_types.max(values, indices)."""
from __future__ import annotations

import collections
import sys
import types

return_types = types.ModuleType("jtorch.return_types")
sys.modules["jtorch.return_types"] = return_types


def return_type(name, fields):
    existing = getattr(return_types, name, None)
    if existing is not None and existing._fields == tuple(fields):
        return existing
    cls = collections.namedtuple(name, fields)
    cls.__module__ = "torch.return_types"
    cls.__qualname__ = name
    setattr(return_types, name, cls)
    return cls

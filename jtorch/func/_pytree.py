"""A tiny torch-style pytree: tuples, lists, dicts and namedtuples are nodes, the rest
are leaves (None included, as in torch.utils._pytree). The specs print like torch's
TreeSpec so structure-mismatch errors read the same."""
from __future__ import annotations


class Spec:
    __slots__ = ("kind", "ctx", "children")

    def __init__(self, kind, ctx, children):
        self.kind, self.ctx, self.children = kind, ctx, children

    @property
    def is_leaf(self):
        return self.kind is None

    @property
    def num_leaves(self):
        return 1 if self.kind is None else sum(c.num_leaves for c in self.children)

    def __eq__(self, other):
        return isinstance(other, Spec) and self.kind is other.kind and self.ctx == other.ctx \
            and self.children == other.children

    def __hash__(self):
        return hash((self.kind, len(self.children)))

    def __repr__(self):
        return spec_str(self)


LEAF = Spec(None, None, ())


def _is_namedtuple(t):
    return issubclass(t, tuple) and hasattr(t, "_fields")


def flatten(tree):
    """(leaves, spec)."""
    leaves = []
    return leaves, _flat(tree, leaves)


def _flat(x, leaves):
    t = type(x)
    if t is tuple or t is list:
        return Spec(t, None, tuple(_flat(c, leaves) for c in x))
    if isinstance(x, tuple) and _is_namedtuple(t):
        return Spec(t, t, tuple(_flat(c, leaves) for c in x))
    if isinstance(x, dict):
        keys = list(x)
        return Spec(t, keys, tuple(_flat(x[k], leaves) for k in keys))
    leaves.append(x)
    return LEAF


def unflatten(leaves, spec):
    it = iter(leaves)
    return _build(it, spec)


def _build(it, spec):
    if spec.kind is None:
        return next(it)
    kids = [_build(it, c) for c in spec.children]
    if spec.kind is tuple or spec.kind is list:
        return spec.kind(kids)
    if spec.ctx is spec.kind:  # namedtuple
        return spec.kind(*kids)
    return spec.kind(zip(spec.ctx, kids))


def spec_str(spec, indent=0):
    """torch's TreeSpec repr: `TreeSpec(tuple, None, [*,\\n  *])`."""
    if spec.kind is None:
        return "*"
    if spec.ctx is spec.kind:
        name, ctx = "namedtuple", repr(spec.kind)
    else:
        name, ctx = spec.kind.__name__, repr(spec.ctx)
    sep = ",\n" + " " * (indent + 2)
    kids = sep.join(spec_str(c, indent + 2) for c in spec.children)
    return f"TreeSpec({name}, {ctx}, [{kids}])"


def broadcast_prefix(prefix, spec):
    """One value per leaf of `spec`, from a `prefix` tree whose leaves cover subtrees;
    None when the structures do not match."""
    pleaves, pspec = flatten(prefix)
    out = []
    it = iter(pleaves)
    if not _cover(pspec, spec, it, out):
        return None
    return out


def _cover(pspec, spec, it, out):
    if pspec.kind is None:
        out.extend([next(it)] * spec.num_leaves)
        return True
    if pspec.kind is not spec.kind or pspec.ctx != spec.ctx or \
            len(pspec.children) != len(spec.children):
        return False
    return all(_cover(p, s, it, out) for p, s in zip(pspec.children, spec.children))


class _Star:
    def __repr__(self):
        return "*"


def spec_pprint(spec):
    """torch's treespec_pprint: the structure with `*` for leaves, e.g. `(*,)`."""
    return repr(unflatten([_Star()] * spec.num_leaves, spec))

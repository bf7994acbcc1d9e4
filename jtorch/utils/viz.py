"""An autograd graph view in the manner of torchviz's `make_dot`.

Why: seeing which backward nodes a loss reaches (and which parameters feed them) is the
quickest way to spot a detached branch or an unexpected op. The DOT text is built here
(so `.source` needs nothing installed); drawing it uses the `graphviz` Python package and
Graphviz's `dot` program, imported only when `.render()`/`.pipe()` is called.

Nodes follow torchviz: one box per backward node named like torch's (`MmBackward0`,
`AccumulateGrad`), a light-blue box per leaf tensor (its name from `params`, and its size),
a green box per output tensor; edges run from a node's `next_functions` to the node.
"""
from __future__ import annotations

__all__ = ["make_dot", "Dot"]

_NODE_ATTR = {"style": "filled", "shape": "box", "align": "left", "fontsize": "10",
              "ranksep": "0.1", "height": "0.2", "fontname": "monospace"}
_GRAPH_ATTR = {"size": "12,12"}


def _quote(s):
    s = str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def _attrs(d):
    return " ".join(f"{k}={_quote(v)}" for k, v in d.items())


class Dot:
    """DOT source plus graphviz-backed drawing (graphviz.Digraph's render/pipe surface)."""

    def __init__(self, name=None):
        self.name = name
        self.nodes = []   # (id, label, attrs)
        self.edges = []   # (tail, head, attrs)

    def node(self, ident, label, **attrs):
        self.nodes.append((ident, label, attrs))

    def edge(self, tail, head, **attrs):
        self.edges.append((tail, head, attrs))

    @property
    def source(self):
        lines = ["digraph {" if self.name is None else f"digraph {_quote(self.name)} {{",
                 f"\tgraph [{_attrs(_GRAPH_ATTR)}]", f"\tnode [{_attrs(_NODE_ATTR)}]"]
        for ident, label, attrs in self.nodes:
            extra = (" " + _attrs(attrs)) if attrs else ""
            lines.append(f"\t{ident} [label={_quote(label)}{extra}]")
        for tail, head, attrs in self.edges:
            extra = f" [{_attrs(attrs)}]" if attrs else ""
            lines.append(f"\t{tail} -> {head}{extra}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self):
        return self.source

    def _graphviz(self):
        try:
            import graphviz
        except ImportError as e:
            raise ImportError("drawing the graph needs the graphviz Python package and "
                              "Graphviz's `dot` program: pip install graphviz (and e.g. "
                              "apt-get install graphviz)") from e
        return graphviz, graphviz.Source(self.source)

    def _run(self, fn):
        graphviz, _ = self._graphviz()
        try:
            return fn()
        except graphviz.ExecutableNotFound as e:
            raise RuntimeError("Graphviz's `dot` program was not found on PATH; install "
                               "Graphviz (e.g. apt-get install graphviz)") from e

    def pipe(self, format="svg", encoding=None):
        """The drawing as bytes (or str when `encoding` is given)."""
        _, src = self._graphviz()
        return self._run(lambda: src.pipe(format=format, encoding=encoding))

    def render(self, filename=None, directory=None, view=False, cleanup=False, format="svg"):
        """Writes `filename` (DOT source) and `filename.<format>`; returns the drawing's path."""
        _, src = self._graphviz()
        return self._run(lambda: src.render(filename=filename or "Digraph.gv",
                                            directory=directory, view=view, cleanup=cleanup,
                                            format=format))

    def _repr_svg_(self):
        return self.pipe(format="svg", encoding="utf-8")


def _size_str(shape):
    return "(" + ", ".join(str(int(v)) for v in shape) + ")"


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50):
    """The backward graph reaching `var` (a tensor or a sequence of tensors) as a Dot.

    `params` maps names to tensors (e.g. `dict(model.named_parameters())`) to label leaves.
    `show_saved` adds the tensors each node saved for backward (orange boxes).
    """
    from .._tensor import Tensor
    if show_attrs:
        from .._errors import missing
        raise missing("make_dot(show_attrs=True) (jtorch nodes keep no named saved "
                      "attributes)")
    if params is not None:
        if not all(isinstance(p, Tensor) for p in params.values()):
            raise AssertionError("params values must be Tensors")
        param_map = {id(v): k for k, v in params.items()}
    else:
        param_map = {}

    dot = Dot()
    seen = set()

    def var_label(t, name=None):
        if not name:
            name = param_map.get(id(t), "")
        return f"{name}\n {_size_str(t.shape)}"

    def add_nodes(fn):
        if fn in seen:
            return
        seen.add(fn)
        fid = str(id(fn))
        if show_saved:
            for i, t in enumerate(fn._saved_tensors):
                tid = str(id(t))
                if id(t) not in seen:
                    seen.add(id(t))
                    dot.node(tid, var_label(t, f"[saved tensor {i}]"), fillcolor="orange")
                dot.edge(tid, fid, dir="none")
        dot.node(fid, fn._name)
        variable = getattr(fn, "variable", None)
        if variable is not None:
            v = variable()
            if v is not None:
                if id(v) not in seen:
                    seen.add(id(v))
                    dot.node(str(id(v)), var_label(v), fillcolor="lightblue")
                dot.edge(str(id(v)), fid)
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                dot.edge(str(id(nxt)), fid)
                add_nodes(nxt)

    def add_base_tensor(t, color="darkolivegreen1"):
        if id(t) in seen:
            return
        seen.add(id(t))
        dot.node(str(id(t)), var_label(t), fillcolor=color)
        if t.grad_fn is not None:
            add_nodes(t.grad_fn)
            dot.edge(str(id(t.grad_fn)), str(id(t)))
        base = t._base
        if base is not None:
            add_base_tensor(base, "darkolivegreen3")
            dot.edge(str(id(base)), str(id(t)), style="dotted")

    for t in (var if isinstance(var, (tuple, list)) else (var,)):
        add_base_tensor(t)
    return dot

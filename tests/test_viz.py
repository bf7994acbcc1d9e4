"""jtorch.utils.viz.make_dot: the DOT graph of grad_fn nodes, compared with the graph torch
builds for the same small MLP (walked through torch's grad_fn.next_functions)."""
import re
import shutil

import pytest
import torch

import jtorch
from jtorch.utils.viz import make_dot

NODE = re.compile(r'^\t(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
EDGE = re.compile(r"^\t(\d+) -> (\d+)(.*)$")


def _mlp(lib):
    """x.mm(w1) + b1 -> relu -> mm(w2) -> sigmoid -> (.. - 1)^2 summed, on `lib`."""
    g = torch.Generator().manual_seed(0)
    vals = {k: torch.randn(*s, generator=g).numpy() for k, s in
            (("w1", (3, 4)), ("b1", (4,)), ("w2", (4, 2)), ("x", (5, 3)))}
    p = {k: lib.tensor(v, requires_grad=True) for k, v in vals.items() if k != "x"}
    h = lib.relu(lib.tensor(vals["x"]).mm(p["w1"]) + p["b1"])
    loss = ((h.mm(p["w2"])).sigmoid() - 1).pow(2).sum() * 0.5
    return loss, p


def _torch_graph(loss, params):
    """(node labels, edges as (label, label)) the torchviz way, from torch's own graph."""
    names = {id(v): k for k, v in params.items()}
    labels, edges, seen = [], [], set()

    def visit(fn):
        if fn in seen:
            return
        seen.add(fn)
        labels.append(type(fn).__name__)
        if hasattr(fn, "variable"):
            v = fn.variable
            labels.append(f"{names[id(v)]}\\n {tuple(v.shape)}".replace(",)", ")"))
            edges.append((labels[-1], type(fn).__name__))
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                edges.append((type(nxt).__name__, type(fn).__name__))
                visit(nxt)
    out_label = "\\n ()"
    labels.append(out_label)
    visit(loss.grad_fn)
    edges.append((type(loss.grad_fn).__name__, out_label))
    return sorted(labels), sorted(edges)


def _parse(src):
    labels, edges, attrs = {}, [], {}
    for line in src.splitlines():
        m = NODE.match(line)
        if m:
            labels[m.group(1)] = m.group(2)
            attrs[m.group(1)] = m.group(3)
            continue
        m = EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2), m.group(3)))
    return labels, edges, attrs


def test_mlp_graph_matches_torch():
    tl, tp = _mlp(torch)
    jl, jp = _mlp(jtorch)
    t_labels, t_edges = _torch_graph(tl, tp)
    dot = make_dot(jl, params=jp)
    src = dot.source
    assert src.startswith("digraph {") and src.rstrip().endswith("}")
    labels, edges, attrs = _parse(src)
    assert sorted(labels.values()) == t_labels
    assert sorted((labels[a], labels[b]) for a, b, _ in edges) == t_edges
    # torchviz colours: parameters light blue, the output green
    for ident, lab in labels.items():
        if lab.startswith(("w1", "w2", "b1")):
            assert 'fillcolor="lightblue"' in attrs[ident]
    assert 'fillcolor="darkolivegreen1"' in attrs[next(i for i, l in labels.items()
                                                         if l == "\\n ()")]


def test_without_params_and_multiple_outputs():
    a = jtorch.ones(2, requires_grad=True)
    b = a * 2
    c = a.exp()
    labels, edges, _ = _parse(make_dot((b, c)).source)
    assert sorted(labels.values()) == sorted(["\\n (2)", "\\n (2)", "MulBackward0",
                                              "ExpBackward0", "AccumulateGrad", "\\n (2)"])
    assert len(edges) == 5


def test_view_base_is_shown_dotted():
    a = jtorch.ones(2, 3, requires_grad=True)
    b = a * 1
    v = b[0]
    labels, edges, _ = _parse(make_dot(v).source)
    dotted = [(labels[x], labels[y]) for x, y, at in edges if 'style="dotted"' in at]
    assert dotted == [("\\n (2, 3)", "\\n (3)")]


def test_show_saved_adds_saved_tensors():
    x = jtorch.tensor([1.0, 2.0], requires_grad=True)
    w = jtorch.tensor([3.0, 4.0], requires_grad=True)
    y = x * w  # saves both inputs for backward
    labels, edges, attrs = _parse(make_dot(y, show_saved=True).source)
    saved = [i for i, a in attrs.items() if 'fillcolor="orange"' in a]
    assert saved and all(any(e[0] == s and 'dir="none"' in e[2] for e in edges) for s in saved)


def test_show_attrs_not_implemented():
    x = jtorch.ones(1, requires_grad=True)
    with pytest.raises(NotImplementedError, match="show_attrs"):
        make_dot(x * 2, show_attrs=True)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program not installed")
def test_render_and_pipe(tmp_path):
    x = jtorch.ones(2, requires_grad=True)
    dot = make_dot((x * 3).sum(), params={"x": x})
    svg = dot.pipe(format="svg")
    assert svg.lstrip().startswith(b"<?xml") and b"MulBackward0" in svg
    path = dot.render(str(tmp_path / "g"), format="svg")
    assert path.endswith("g.svg") and open(path).read().count("<svg") == 1


def test_missing_graphviz_package_message(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "graphviz", None)
    x = jtorch.ones(2, requires_grad=True)
    with pytest.raises(ImportError, match="pip install graphviz"):
        make_dot(x * 2).pipe()

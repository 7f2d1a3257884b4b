"""Pictures: a saturated graph drawn with Graphviz, its strands, crossings and critical path marked.

Its one concern is drawing.  `picture` builds the Graphviz description (with
the ``graphviz`` Python package) of a graph that has been through ``color``:

* every region is a cluster, nested as the regions nest, filled with the
  color of its strand (``color``'s table: control, streaming,
  width-irregular, width-dense) and labeled with its owner;
* every node is a box labeled ``%id kind`` and its operator, name or origin;
  data edges are solid, effect-token edges dashed, a region's results
  flow to its owner along dotted edges;
* every crossing (``color``'s ``crossings`` hyperedges: a control region
  waiting on width work) is one diamond node joined to the nodes it binds,
  a hyperedge rather than a clique of pairwise edges;
* each function's critical path (`nanopass.passes.flowloss.critical_path`:
  the longest chain of dependent, costed operations) is drawn in red.

`render` turns the description into ``dot`` text, or into SVG or PNG with
Debian's ``dot`` program (``make install`` installs graphviz).
"""

from __future__ import annotations

import graphviz

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.graph import Graph, Node

STRAND_FILLS = {
    "control": "#f4cccc",
    "streaming": "#fff2cc",
    "width-irregular": "#d9ead3",
    "width-dense": "#cfe2f3",
}
CRITICAL = "#cc0000"
FORMATS = ("dot", "svg", "png")
_SHOWN_ATTRIBUTES = ("op", "name", "callee", "origin", "case", "value")


def _label(node_id: int, node: Node) -> str:
    detail = next((str(node.attr(a)) for a in _SHOWN_ATTRIBUTES if node.attr(a) is not None), "")
    if len(detail) > 24:
        detail = detail[:21] + "..."
    return f"%{node_id} {node.kind}" + (f"\\n{detail}" if detail else "")


def picture(graph: Graph, name: str = "psg") -> graphviz.Digraph:
    """The Graphviz description of ``graph`` (see the module docstring)."""
    from nanopass.passes.flowloss import critical_path, node_cost

    colors = graph.annotation("color")
    owners = graph.owners()
    dot = graphviz.Digraph(name, graph_attr={"rankdir": "TB", "fontname": "Helvetica", "compound": "true"},
                           node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "10"},
                           edge_attr={"fontsize": "9"})
    critical: set[int] = set()
    critical_edges: set[tuple[int, int]] = set()
    for decl_id, decl in graph.top_level():
        if decl.kind in ("func", "global"):
            path = critical_path(graph, decl_id)
            if any(node_cost(graph, n) for n in path):  # a path of no costed operation is not worth a mark
                critical.update(path)
                critical_edges.update(zip(path, path[1:]))

    def draw_region(parent: graphviz.Digraph, region_id: int) -> None:
        region = graph.region(region_id)
        owner = owners.get(region_id)
        strand = colors.get(region_id)
        owner_node = graph.node(owner) if owner is not None else None
        title = f"#{region_id} {owner_node.kind}" if owner_node is not None else f"#{region_id}"
        if owner_node is not None and owner_node.attr("name"):
            title += f" {owner_node.attr('name')}"
        with parent.subgraph(name=f"cluster_r{region_id}") as cluster:
            cluster.attr(label=f"{title}\\n{strand or 'no strand'}", style="filled,rounded",
                         fillcolor=STRAND_FILLS.get(strand, "#ffffff"), color="#999999")
            for node_id in region.node_ids():
                node = graph.node(node_id)
                attributes = {"label": _label(node_id, node)}
                if node_id in critical:
                    attributes.update(color=CRITICAL, penwidth="2.5", fontcolor=CRITICAL)
                cluster.node(f"n{node_id}", **attributes)
                for nested in node.regions:
                    draw_region(cluster, nested)

    for decl_id, decl in graph.top_level():
        if decl.kind in ("func", "global"):
            for region_id in decl.regions:
                draw_region(dot, region_id)
    drawn = {node_id for decl_id, decl in graph.top_level() if decl.kind in ("func", "global")
             for r in decl.regions for node_id in graph.walk_region(r)}
    for node_id in sorted(drawn):
        node = graph.node(node_id)
        for operand in node.operands:
            if operand in drawn:
                on_path = (operand, node_id) in critical_edges
                dot.edge(f"n{operand}", f"n{node_id}",
                         **({"color": CRITICAL, "penwidth": "2.5"} if on_path else {}))
        if node.effect is not None and node.effect in drawn:
            dot.edge(f"n{node.effect}", f"n{node_id}", style="dashed", color="#888888")
        for region_id in node.regions:  # what a region yields flows to its owner
            for result in graph.region(region_id).results:
                if result in drawn and result != node_id:
                    on_path = (result, node_id) in critical_edges
                    dot.edge(f"n{result}", f"n{node_id}", style="dotted",
                             **({"color": CRITICAL, "penwidth": "2.5"} if on_path else {"color": "#666666"}))
    for edge_id, hyperedge in sorted(graph.annotation("crossings").items()):
        hub = f"h{edge_id}"
        dot.node(hub, label=f"{hyperedge.kind} {edge_id}", shape="diamond", style="filled", fillcolor="#ead1dc")
        for bound in hyperedge.nodes:
            if bound in drawn:
                dot.edge(hub, f"n{bound}", dir="none", style="bold", color="#a64d79")
    return dot


def render(graph: Graph, fmt: str) -> bytes:
    """``dot`` text, or an SVG or PNG image drawn by Graphviz's ``dot`` program."""
    if fmt not in FORMATS:
        endings = ", ".join("." + f for f in FORMATS)
        raise DiagnosticError(Diagnostic(Span("<-o>", 1, 1, 1, 2),
                                         f"cannot draw a '.{fmt}' file; expected an output ending in {endings}"))
    description = picture(graph)
    if fmt == "dot":
        return description.source.encode("utf-8")
    try:
        return description.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        message = ("Graphviz's 'dot' program is not installed; expected Debian's graphviz package (make install), "
                   "or an output ending in .dot")
        raise DiagnosticError(Diagnostic(Span("<-o>", 1, 1, 1, 2), message)) from None


def draw(clef: Graph) -> Graph:
    """The graph a picture shows: the program saturated, with its strands and crossings."""
    from nanopass.pipeline import Pipeline
    from nanopass.report import REPORT_PIPELINE

    return Pipeline.parse(REPORT_PIPELINE).run(clef).graph


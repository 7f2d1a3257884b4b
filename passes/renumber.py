"""Renumbering: dense node and region ids in one canonical order.

Its one concern is ids.  Passes delete nodes (leaving ``None`` slots) and
append new ones, so after a pipeline the ids of a program depend on its
history.  `Renumber` gives every node the position it has in a depth-first
region walk from the root (`Graph.walk_region`: a region's entry token,
params and body in order, then its nested regions, each in turn) and every
region the position at which that walk enters it, root first.  The result
has no ``None`` slots, and two programs that are equal up to ids renumber
to equal graphs, so they print the same text.  Renumbering a renumbered
graph changes nothing and returns the very same graph.

Annotation tables are keyed by node id, so their keys are renumbered too;
facts that are themselves node ids are not (no table holds such facts yet).
Nodes that no region holds are dropped: nothing can reach them.  A node
that one of them uses is a malformed graph, reported as a diagnostic.

Works at every level (its languages are ``None``).

Validation obligation: the output is the input up to a bijection of ids.
`validate` rebuilds that bijection from the two walks and checks every node
and region against its image; a mismatch is a counterexample.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from pyrsistent import pmap, pvector

from nanopass.diagnostics import Diagnostic, DiagnosticError
from nanopass.graph import Graph, Node, Region
from nanopass.pass_ import Pass, PassContext, Verdict, register


def canonical_order(graph: Graph) -> tuple[list[int], list[int]]:
    """Node ids and region ids in the order of the depth-first region walk from the root."""
    node_order: list[int] = []
    region_order: list[int] = []
    stack = [graph.root]
    while stack:
        region_id = stack.pop()
        region_order.append(region_id)
        region = graph.region(region_id)
        nested: list[int] = []
        for node_id in region.node_ids():
            node_order.append(node_id)
            nested.extend(graph.node(node_id).regions)
        stack.extend(reversed(nested))
    return node_order, region_order


def _mapped(ids: tuple[int, ...], table: dict[int, int]) -> tuple[int, ...]:
    return tuple(table[i] for i in ids)


@register
@attrs.frozen
class Renumber(Pass):
    """Dense ids in the canonical depth-first region order; no None slots."""

    name: ClassVar[str] = "renumber"
    input_language: ClassVar = None
    output_language: ClassVar = None

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        node_order, region_order = canonical_order(graph)
        new_node = {old: new for new, old in enumerate(node_order)}
        new_region = {old: new for new, old in enumerate(region_order)}
        nodes = [self._node(graph, old, new_node, new_region) for old in node_order]
        regions = [self._region(graph.region(old), new_node) for old in region_order]
        moved = sum(1 for new, old in enumerate(node_order) if new != old)
        dropped = len(graph) - len(node_order)
        if moved:
            ctx.stat("nodes moved", moved)
        if dropped:
            ctx.stat("unreachable nodes dropped", dropped)
        unchanged = (
            len(nodes) == len(graph.nodes) and len(regions) == len(graph.regions)
            and all(a is b for a, b in zip(nodes, graph.nodes))
            and all(a is b for a, b in zip(regions, graph.regions))
            and graph.root == 0
        )
        if unchanged:
            return graph
        annotations = pmap({
            table: pmap({new_node[k]: fact for k, fact in facts.items() if k in new_node})
            for table, facts in graph.annotations.items()
        })
        return Graph(pvector(nodes), pvector(regions), 0, annotations)

    @staticmethod
    def _node(graph: Graph, old: int, new_node: dict[int, int], new_region: dict[int, int]) -> Node:
        node = graph.node(old)
        try:
            operands = _mapped(node.operands, new_node)
            effect = None if node.effect is None else new_node[node.effect]
        except KeyError as missing:
            raise DiagnosticError(Diagnostic(
                node.span, f"node %{old} ({node.kind}) uses %{missing.args[0]}, which no region holds")) from None
        regions = _mapped(node.regions, new_region)
        if operands == node.operands and effect == node.effect and regions == node.regions:
            return node  # nothing it refers to moved: share it
        return attrs.evolve(node, operands=operands, effect=effect, regions=regions)

    @staticmethod
    def _region(region: Region, new_node: dict[int, int]) -> Region:
        renumbered = Region(
            _mapped(region.params, new_node),
            _mapped(region.body, new_node),
            _mapped(region.results, new_node),
            None if region.token is None else new_node[region.token],
            None if region.effect_out is None else new_node[region.effect_out],
        )
        return region if renumbered == region else renumbered

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        """Walk both graphs side by side: the walks must pair nodes and regions one to one."""
        before_nodes, before_regions = canonical_order(before)
        after_nodes, after_regions = canonical_order(after)
        problems = []
        if after_nodes != list(range(len(after.nodes))) or after_regions != list(range(len(after.regions))):
            problems.append("the output's ids are not dense in walk order")
        if len(before_nodes) != len(after_nodes) or len(before_regions) != len(after_regions):
            problems.append("the output does not hold the input's nodes and regions")
        node_map = dict(zip(before_nodes, after_nodes))
        region_map = dict(zip(before_regions, after_regions))

        def image(ids) -> tuple:
            return tuple(node_map.get(i) for i in ids)

        for old, new in node_map.items() if not problems else ():
            a, b = before.node(old), after.node(new)
            if (a.kind, a.attributes, a.span) != (b.kind, b.attributes, b.span) or image(a.operands) != b.operands \
                    or node_map.get(a.effect) != b.effect or tuple(region_map[r] for r in a.regions) != b.regions:
                problems.append(f"node %{old} does not become node %{new}")
        for old, new in region_map.items() if not problems else ():
            a, b = before.region(old), after.region(new)
            if (image(a.params), image(a.body), image(a.results), node_map.get(a.token), node_map.get(a.effect_out)) \
                    != (b.params, b.body, b.results, b.token, b.effect_out):
                problems.append(f"region #{old} does not become region #{new}")
        if problems:
            return [Verdict(self.name, "*", "counterexample", "; ".join(problems[:5]))]
        return [Verdict(self.name, "*", "validated", "the output is the input up to a bijection of ids")]

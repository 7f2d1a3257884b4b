"""Common subexpression elimination: merge identical pure nodes by hash-consing.

Its one concern is duplicate pure values.  Walking each region in body
order, a node's key is its kind, its operands after the merges made so far,
and its attributes compared exactly (``0.0`` and ``-0.0`` differ, so do
``1`` and ``1.0``; spans are ignored).  A node whose key is already in scope
is merged into the earlier node: its uses are redirected there and it is
deleted.  The table is scoped by region: a node in a nested region may
reuse a value from an enclosing region that precedes the region's owner
(that value is computed before the nested region runs, however often it
runs), never one from a sibling region or from a nested region.

Only nodes that are pure, own no region and carry no effect token are
merged.  The rule is a whitelist, so that an effect can only be missed by
leaving a kind off it:

* values: ``const ref prim tuple proj record field with union list cons pap``
  (immutable data; F# gives records, unions and tuples structural identity);
* ``native`` operations from `PURE_NATIVE_OPS`: math, conversions,
  ``fst``/``snd``, immutable ``List``/``Map`` operations and lengths;
  operations that allocate a mutable array (``Array.map``, ``zeroCreate``)
  are not, since two calls give two arrays;
* ``apply`` / ``call`` without a token whose callee is a ``ref`` to a
  declaration that declares itself pure (an ``extern`` with ``pure=true`` or
  a ``Pure`` attribute, a ``func`` with ``[<Pure>]``).

Never merged: anything with an effect token; ``var load assign store index
array post tell bind await actor`` (cells, mutable arrays, messages and
waits, at every level, with or without a token); ``param`` and ``token``;
declarations; and every node that owns a region (``if``, loops, ``match``,
``lambda``, ``async``, ``query``): their regions are not compared, which
keeps the pass linear and never merges two runs of a region with effects.

Works at every level (its languages are ``None``).  Statistic: nodes merged.

Validation obligation: the output refines the input.  Merging must keep
every use dominated by its definition, which `validate` checks locally on
the output (each operand is defined earlier in its region or in an enclosing
one); the verdicts of refinement (`nanopass.validation`) follow.
"""

from __future__ import annotations

from typing import ClassVar, Hashable

import attrs

from nanopass.graph import AttrValue, Graph, Node
from nanopass.pass_ import Pass, PassContext, Rewriter, Verdict, register
from nanopass.validation import refinement_verdicts

PURE_KINDS = frozenset({"const", "ref", "prim", "tuple", "proj", "record", "field", "with", "union", "list",
                        "cons", "pap"})
PURE_NATIVE_OPS = frozenset({
    "sqrt", "exp", "log", "sin", "cos", "abs", "min", "max", "floor",
    "float", "float32", "int", "int64", "uint8", "fst", "snd",
    "List.map", "List.filter", "List.fold", "List.collect", "List.distinct", "List.isEmpty", "List.length",
    "List.rev", "Map.empty", "Map.add", "Map.find", "Map.tryFind", "Map.merge",
    "Array.length", "Array2D.length1", "Array2D.length2",
})
CALL_KINDS = ("apply", "call")


def exact(value: AttrValue) -> Hashable:
    """An attribute value as a key that tells ``0.0`` from ``-0.0`` and ``1`` from ``1.0`` and ``True``."""
    if isinstance(value, tuple):
        return ("tuple", tuple(exact(v) for v in value))
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def pure_declarations(graph: Graph) -> frozenset[str]:
    """Names of top-level declarations that declare themselves pure."""
    names = set()
    for _, node in graph.top_level():
        marked = any(pair[0] == "Pure" for pair in node.attr("attributes", ()) or ())
        if marked or (node.kind == "extern" and node.attr("pure") is True):
            names.add(node.attr("name"))
    return frozenset(names)


def mergeable(graph: Graph, node: Node, pure_callees: frozenset[str]) -> bool:
    """Whether the node is on the whitelist of pure kinds (see the module docstring)."""
    if node.effect is not None or node.regions:
        return False
    if node.kind in PURE_KINDS:
        return True
    if node.kind == "native":
        return node.attr("op") in PURE_NATIVE_OPS
    if node.kind in CALL_KINDS:
        callee = graph.node(node.operands[0])
        return callee.kind == "ref" and callee.attr("name") in pure_callees
    return False


def scoping_violations(graph: Graph) -> set[str]:
    """Uses of a value outside the regions its definition dominates, described."""
    violations: set[str] = set()
    declarations = set(graph.root_region.body)

    def visit(region_id: int, visible: set[int]) -> None:
        region = graph.region(region_id)
        visible = visible | set(region.params) | ({region.token} if region.token is not None else set())
        for node_id in region.body:
            node = graph.node(node_id)
            violations.update(f"%{node_id} reads %{o} out of scope" for o in node.inputs()
                              if o not in visible and o not in declarations)
            for inner in node.regions:
                visit(inner, visible)
            visible = visible | {node_id}
        violations.update(f"#{region_id} yields %{v} out of scope" for v in region.results if v not in visible)

    visit(graph.root, set())
    return violations


@register
@attrs.frozen
class CommonSubexpressions(Pass):
    """Merge identical pure nodes, scoped so that the kept one dominates every use."""

    name: ClassVar[str] = "cse"
    input_language: ClassVar = None
    output_language: ClassVar = None

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        rw = Rewriter(graph)
        pure_callees = pure_declarations(graph)
        merged: dict[int, int] = {}  # deleted node -> the node it was merged into
        table: dict[tuple, int] = {}  # key -> node, for the keys in scope

        def key(node: Node) -> tuple | None:
            if not mergeable(graph, node, pure_callees):
                return None
            return node.kind, tuple(merged.get(o, o) for o in node.operands), exact(node.attributes)

        def visit(region_id: int) -> None:
            region = graph.region(region_id)
            added: list[tuple] = []
            kept: list[int] = []
            for node_id in region.body:
                node = graph.node(node_id)
                for inner in node.regions:
                    visit(inner)
                node_key = key(node)
                earlier = None if node_key is None else table.get(node_key)
                if earlier is None:
                    kept.append(node_id)
                    if node_key is not None:
                        table[node_key] = node_id
                        added.append(node_key)
                    continue
                merged[node_id] = earlier
                rw.redirect(node_id, earlier)
                rw.delete(node_id)
                ctx.stat("nodes merged")
            if len(kept) != len(region.body):
                rw.set_region(region_id, attrs.evolve(region, body=tuple(kept)))
            for node_key in added:  # leaving the region: its values go out of scope
                del table[node_key]

        visit(graph.root)
        return rw.finish()

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        new = scoping_violations(after) - scoping_violations(before)
        if new:
            return [Verdict(self.name, "*", "counterexample", "; ".join(sorted(new)[:5]))]
        verdict = Verdict(self.name, "*", "validated", "every merged value dominates its uses")
        return [verdict, *refinement_verdicts(self.name, before, after)]

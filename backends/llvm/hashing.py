"""The structural hash of what one compiled module holds, and the local numbers its symbols use.

Its one concern is naming a compilation so that equal programs share it.
A unit is the native functions (with every function they call) and the
kernels one module holds.  Its nodes are numbered in a canonical walk
(functions by name, kernels by their declaration and position; each region
tree in pre-order), and each node is written down by what determines its
code: kind, attributes, operands and regions as local numbers, effect, and
native type -- never its id or its source span.  The key is a BLAKE2 digest
of that text with the fusion decisions, the global constants the code
embeds, how each extern is bound (callback or native symbol), the emit
options and the host (`engine.host_description`).

The local numbers go into symbol names and fault reports; `UnitNames.node`
maps them back to this graph's node ids, so a module compiled for one graph
reports faults at the right node of an equal one.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import attrs

from nanopass.backends.llvm.plan import Plan


@attrs.frozen
class UnitNames:
    key: str
    local: dict  # node id -> local number
    nodes: tuple  # local number -> node id

    def node(self, local: int) -> int:
        return self.nodes[local]


def unit_names(plan: Plan, functions: Iterable[str], kernels: Iterable[int], extra: tuple) -> UnitNames:
    graph, facts = plan.graph, plan.facts
    order: list[int] = []
    local: dict[int, int] = {}

    def number(node_id: int) -> None:
        if node_id not in local:
            local[node_id] = len(order)
            order.append(node_id)

    roots: list[tuple[str, list[int]]] = []
    for name in sorted(functions):
        declaration = plan.functions[name].node_id
        roots.append((f"func {name}", [declaration]))
    positions = _kernel_positions(plan, kernels)
    for node_id in sorted(kernels, key=positions.__getitem__):
        roots.append((f"kernel {positions[node_id]}", [*plan.absorbed(node_id), node_id]))
    for _, ids in roots:
        for node_id in ids:
            number(node_id)
            for region_id in graph.node(node_id).regions:
                for inner in facts.tree(region_id, into_closed=True):
                    number(inner)
    outer: dict[int, str] = {}  # a kernel's inputs, by kernel and position
    for rank, node_id in enumerate(sorted(kernels, key=positions.__getitem__)):
        for position, value in enumerate(plan.kernels[node_id].inputs):
            outer.setdefault(value, f"in{rank}.{position}:{facts.ntype(value)}")
    text = [repr(extra)]
    for title, ids in roots:
        text.append(title)
        for node_id in ids:
            text.append(_describe(plan, node_id, local, outer))
            for region_id in graph.node(node_id).regions:
                for inner in facts.tree(region_id, into_closed=True):
                    text.append(_describe(plan, inner, local, outer))
    fused = sorted((local[p], local[c]) for p, c in plan.fused.items() if p in local and c in local)
    text.append(repr(fused))
    key = hashlib.blake2b("\n".join(text).encode(), digest_size=20).hexdigest()
    return UnitNames(key, local, tuple(order))


def _kernel_positions(plan: Plan, kernels: Iterable[int]) -> dict[int, tuple[str, int]]:
    """Each kernel's place: its declaration's name and its rank in that declaration's pre-order walk."""
    wanted = set(kernels)
    positions: dict[int, tuple[str, int]] = {}
    for declaration_id, declaration in plan.graph.top_level():
        for rank, node_id in enumerate(
                i for r in declaration.regions for i in plan.facts.tree(r, into_closed=True)):
            if node_id in wanted:
                positions[node_id] = (declaration.attr("name") or "", rank)
    return positions


def _describe(plan: Plan, node_id: int, local: dict[int, int], outer: dict[int, str]) -> str:
    graph = plan.graph
    node = graph.node(node_id)

    def name(value: int) -> str:
        if value in local:
            return f"%{local[value]}"
        return outer.get(value) or f"ref:{graph.node(value).attributes}"

    regions = []
    for region_id in node.regions:
        region = graph.region(region_id)
        regions.append(([name(p) for p in region.params], [name(b) for b in region.body],
                        [name(r) for r in region.results], region.token is not None))
    return repr((local[node_id], node.kind, node.attributes, [name(o) for o in node.operands],
                 node.effect is not None, regions, str(plan.facts.ntype(node_id))))

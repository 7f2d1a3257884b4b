"""Reachability: prune every node that no entry point reaches.

Its one concern is dead code, at the `Elaborated` level, where every effect
is an edge: a node is live when an entry point reaches it through data
edges (operands), effect edges (the token chain, ending in each region's
``effect_out``), region edges (a node reaches its regions; a region reaches
its params, entry token, results and ``effect_out``) and names (a ``ref``,
or a ``call``'s ``callee``, reaches the top-level declaration it names).
Everything else is deleted: its slot becomes ``None``, region bodies drop
its id, and a region whose owner is pruned is deleted with it.  At the
source level (`Clef`) order is implicit, so an unused ``assign`` or print
would look dead; the pass therefore takes elaborated graphs only.

Entry points (the roots):

* ``reachability{entries=main+helper}``: the declarations named, joined
  by ``+`` (a comma would end the pass in pipeline text);
* otherwise every declaration marked ``[<EntryPoint>]`` (an ``EntryPoint``
  pair in its ``attributes``);
* otherwise, for a library with no entry point, every top-level ``func``
  and ``global``: a library's functions are its interface.  (Rooting only
  the functions nothing refers to would prune a recursive function nobody
  else calls; every function is reached from such a root anyway.)

Whatever the roots, a ``global`` whose region has effects is one too: it
runs when the module starts.  ``typedef``s are always kept: types are
referred to from annotation tables and attribute names this pass does not
read.  Pruning a pure node that would have failed (an out-of-range
``index``) makes the program more defined, which refinement allows.

Statistics: pruned nodes, pruned declarations, pruned regions.

Validation obligation: nothing pruned is reachable.  `validate` checks it
locally on the output, independently of the traversal: every root is still
declared, and every live node and region refers only to live nodes and
regions (operands, token, regions, params, body, results, ``effect_out``,
and names that were declarations before).  Together these mean no edge
from a kept node leads to a pruned one.  When that holds, the verdicts of
refinement (`nanopass.validation`) follow.
"""

from __future__ import annotations

from typing import ClassVar, Iterable

import attrs

from nanopass.graph import Graph, Node
from nanopass.languages import Elaborated
from nanopass.pass_ import Pass, PassContext, Rewriter, Verdict, register
from nanopass.entries import check_entry_names, entry_names
from nanopass.validation import refinement_verdicts

ENTRY_ATTRIBUTE = "EntryPoint"


def named_declaration(node: Node) -> str | None:
    """The declaration name a node refers to, if any: a ``ref``'s or a ``call``'s ``callee``."""
    if node.kind == "ref":
        return node.attr("name")
    if node.kind == "call":
        return node.attr("callee")
    return None


def is_entry_point(node: Node) -> bool:
    return any(pair[0] == ENTRY_ATTRIBUTE for pair in node.attr("attributes", ()) or ())


def _runs_at_startup(graph: Graph, node: Node) -> bool:
    return node.kind == "global" and any(graph.region(r).token is not None for r in node.regions)


def roots(graph: Graph, entries: Iterable[str] = ()) -> list[int]:
    """The declarations reachability starts from (see the module docstring)."""
    symbols = {node.attr("name"): node_id for node_id, node in graph.top_level()}
    names = [name for name in entries if name]
    if names:
        check_entry_names(graph, names, "reachability", functions_only=False)
        chosen = [symbols[name] for name in names]
    else:
        top = list(graph.top_level())
        chosen = [node_id for node_id, node in top if is_entry_point(node)] or [
            node_id for node_id, node in top if node.kind in ("func", "global")]
    always = [node_id for node_id, node in graph.top_level()
              if node.kind == "typedef" or _runs_at_startup(graph, node)]
    return chosen + [node_id for node_id in always if node_id not in chosen]


def reachable(graph: Graph, start: Iterable[int]) -> tuple[set[int], set[int]]:
    """Node ids and region ids reached from ``start`` through data, effect, region edges and names."""
    symbols = {node.attr("name"): node_id for node_id, node in graph.top_level()}
    nodes: set[int] = set()
    regions: set[int] = {graph.root}
    stack = list(start)
    while stack:
        node_id = stack.pop()
        if node_id in nodes:
            continue
        nodes.add(node_id)
        node = graph.node(node_id)
        stack.extend(node.operands)
        if node.effect is not None:
            stack.append(node.effect)
        for region_id in node.regions:
            if region_id not in regions:
                regions.add(region_id)
                region = graph.region(region_id)
                stack.extend(region.results)
                stack.extend(region.params)
                stack.extend(i for i in (region.token, region.effect_out) if i is not None)
        target = symbols.get(named_declaration(node))
        if target is not None:
            stack.append(target)
    return nodes, regions


@register
@attrs.frozen
class Reachability(Pass):
    """Prune every node that no entry point reaches (entries: names joined by '+')."""

    name: ClassVar[str] = "reachability"
    input_language: ClassVar = Elaborated
    output_language: ClassVar = Elaborated

    entries: str = ""

    def entry_names(self) -> list[str]:
        return entry_names(self.entries)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        live_nodes, live_regions = reachable(graph, roots(graph, self.entry_names()))
        rw = Rewriter(graph)
        declarations = set(graph.root_region.body)
        for node_id, _ in graph.live_nodes():
            if node_id not in live_nodes:
                rw.delete(node_id)
                ctx.stat("pruned nodes")
                if node_id in declarations:
                    ctx.stat("pruned declarations")
        for region_id, region in enumerate(graph.regions):
            if region is None:
                continue
            if region_id not in live_regions:
                rw.delete_region(region_id)
                ctx.stat("pruned regions")
                continue
            body = tuple(i for i in region.body if i in live_nodes)
            if len(body) != len(region.body):
                rw.set_region(region_id, attrs.evolve(region, body=body))
        return rw.finish()

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        problems = unreached_uses(before, after, roots(before, self.entry_names()))
        if problems:  # the output is not even closed: refinement has nothing to compare
            return [Verdict(self.name, "*", "counterexample", "; ".join(problems[:5]))]
        verdict = Verdict(self.name, "*", "validated", "nothing pruned is reachable")
        return [verdict, *refinement_verdicts(self.name, before, after)]


def unreached_uses(before: Graph, after: Graph, start: Iterable[int]) -> list[str]:
    """Edges of ``after`` that lead to something pruned, and pruned roots; empty when pruning was sound."""

    def live(node_id: int | None) -> bool:
        return node_id is None or (0 <= node_id < len(after.nodes) and after.nodes[node_id] is not None)

    def live_region(region_id: int) -> bool:
        return 0 <= region_id < len(after.regions) and after.regions[region_id] is not None

    declared_before = {node.attr("name") for _, node in before.top_level()}
    declared_after = {after.nodes[i].attr("name") for i in after.root_region.body if live(i)}
    problems = [f"root %{node_id} was pruned" for node_id in start if not live(node_id)]
    for node_id, node in after.live_nodes():
        problems += [f"%{node_id} uses pruned %{i}" for i in node.inputs() if not live(i)]
        problems += [f"%{node_id} owns pruned #{r}" for r in node.regions if not live_region(r)]
        name = named_declaration(node)
        if name in declared_before and name not in declared_after:
            problems.append(f"%{node_id} names pruned declaration {name}")
    for region_id, region in enumerate(after.regions):
        if region is not None:
            problems += [f"#{region_id} holds pruned %{i}" for i in
                         region.node_ids() + region.results + (region.effect_out,) if not live(i)]
    return problems

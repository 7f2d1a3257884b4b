"""Translation validation plumbing: which functions a pass changed, and their verdicts.

The z3 semantics of the PSG plug in through `SEMANTICS`: a callable
``(pass_name, before, after, function_name) -> Verdict``.  Until one is
installed every changed function is reported ``unknown`` with the reason:
a verdict is never ``validated`` without a proof.
"""

from __future__ import annotations

from typing import Callable

from nanopass.graph import Graph
from nanopass.pass_ import Verdict

Semantics = Callable[[str, Graph, Graph, str], Verdict]
SEMANTICS: list[Semantics] = []


def function_fingerprint(graph: Graph, node_id: int) -> tuple:
    """A structural key of one declaration and everything nested in it, independent of ids."""
    order = {}
    items = []
    for nid in [node_id, *(n for r in graph.node(node_id).regions for n in graph.walk_region(r))]:
        order[nid] = len(order)
    for nid in order:
        node = graph.node(nid)
        items.append((
            node.kind,
            tuple(order.get(o, ("free", o)) for o in node.operands),
            node.attributes,
            len(node.regions),
            None if node.effect is None else order.get(node.effect, ("free", node.effect)),
        ))
    for r in [r for nid in order for r in graph.node(nid).regions]:
        region = graph.region(r)
        items.append(tuple(order.get(v, ("free", v)) for v in region.results + region.params))
    return tuple(items)


def declarations(graph: Graph) -> dict[str, int]:
    return {node.attr("name"): nid for nid, node in graph.top_level() if node.attr("name") is not None}


def changed_functions(before: Graph, after: Graph) -> list[str]:
    """Names of declarations whose structure differs (or that were added or removed)."""
    old, new = declarations(before), declarations(after)
    changed = [name for name in old if name not in new]
    for name, nid in new.items():
        if name not in old or function_fingerprint(before, old[name]) != function_fingerprint(after, nid):
            changed.append(name)
    return changed


def refinement_verdicts(pass_name: str, before: Graph, after: Graph) -> list[Verdict]:
    verdicts = []
    for name in changed_functions(before, after):
        if SEMANTICS:
            verdicts.append(SEMANTICS[-1](pass_name, before, after, name))
        else:
            verdicts.append(Verdict(pass_name, name, "unknown", "no SMT semantics installed"))
    return verdicts

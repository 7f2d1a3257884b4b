"""Effect tokens: at the levels that have them, does each function's token chain thread its effects?

The reference interpreter (and so `nanopass.smt.encoder`) runs effects in
body order and never reads tokens, so a token chain that is wrong does not
change what the program computes today; it misinforms every later pass and
backend that schedules by tokens.  This obligation checks the contract of
`nanopass.languages` on one function of the output, at a level with tokens:

* in every region, the nodes that consume a token form one chain in body
  order from the region's entry ``token``, and ``effect_out`` is its end; a
  region without an entry token has no effectful node;
* a ``call`` of an effectful extern, or of a top-level function whose body
  has effects, consumes a token;
* a node owning a region with effects consumes a token, except ``lambda``,
  ``async`` and ``actor``, whose effects happen when they run.
"""

from __future__ import annotations

from nanopass.graph import Graph

DEFERRED = frozenset({"lambda", "async", "actor"})


def token_problems(graph: Graph, function: str) -> list[str]:
    """What is wrong with the token chains of ``function`` (empty when nothing, or at a level without tokens)."""
    declarations = {node.attr("name"): node for _, node in graph.top_level() if node.attr("name") is not None}
    root = declarations.get(function)
    if root is None or not root.regions or not _has_tokens(graph):
        return []
    effectful = {name for name, node in declarations.items()
                 if (node.kind == "extern" and not node.attr("pure"))
                 or (node.kind == "func" and graph.region(node.regions[0]).token is not None)}
    problems: list[str] = []
    for region_id in root.regions:
        for node_id in graph.walk_region(region_id):
            node = graph.node(node_id)
            if node.kind == "call" and node.effect is None:
                callee = node.attr("callee") or _ref_name(graph, node.operands[0])
                if callee in effectful:
                    problems.append(f"%{node_id} calls the effectful '{callee}' without a token")
            if node.effect is None and node.kind not in DEFERRED and any(
                    graph.region(r).token is not None for r in node.regions) and node.kind not in ("func", "global"):
                problems.append(f"%{node_id} ({node.kind}) owns a region with effects but consumes no token")
        for nested in [region_id, *(r for n in graph.walk_region(region_id) for r in graph.node(n).regions)]:
            problems.extend(_chain_problems(graph, nested))
    return problems


def _ref_name(graph: Graph, node_id: int) -> str | None:
    node = graph.node(node_id)
    return node.attr("name") if node.kind == "ref" else None


def _has_tokens(graph: Graph) -> bool:
    return any(node.kind in ("native", "call", "pap", "loop", "parallel_for") or node.effect is not None
               for _, node in graph.live_nodes())


def _chain_problems(graph: Graph, region_id: int) -> list[str]:
    region = graph.region(region_id)
    current = region.token
    problems = []
    for node_id in region.body:
        node = graph.node(node_id)
        if node.effect is None:
            continue
        if current is None:
            problems.append(f"%{node_id} consumes a token in region #{region_id}, which has no entry token")
        elif node.effect != current:
            problems.append(f"%{node_id} consumes %{node.effect}, but the current token of region #{region_id} "
                            f"is %{current}")
        current = node_id
    if region.effect_out != current:
        problems.append(f"region #{region_id} hands back %{region.effect_out}, but its chain ends at %{current}")
    return problems

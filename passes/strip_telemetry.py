"""Strip telemetry (Telemetry -> Saturated): take every probe out again.

Its one concern is undoing `nanopass.passes.telemetry`: each ``probe`` is
replaced, where it stood, by the nodes of its region; the nodes that
consumed the region's entry token consume the probe's token again; every use
of the probe as a value reads the region's result, every use as a token
reads the region's ``effect_out``; the probe, its region and its entry token
are deleted.  Slots freed at the end of the node and region tables (where
`telemetry` appended them) are dropped, so right after `telemetry` the
output equals the graph `telemetry` was given; the ``types`` entries of the
probes go with them.

Statistics: probes removed.

Validation obligation: the output refines the input, since a probe is the
identity on its region's value and its region runs where the probe ran;
`validate` checks the structural half: no probe is left, and every node of
the input that was not a probe or a probe's entry token is still there,
with the same kind, attributes and regions.
"""

from __future__ import annotations

import attrs

from nanopass.graph import Graph
from nanopass.languages import Saturated, Telemetry as TelemetryLanguage
from nanopass.pass_ import Pass, PassContext, Verdict, register
from nanopass.passes.telemetry import _substitute


@register
@attrs.frozen
class StripTelemetry(Pass):
    """Remove every probe, giving back the graph the probes were added to."""

    name = "strip-telemetry"
    input_language = TelemetryLanguage
    output_language = Saturated

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        probes = [(node_id, node) for node_id, node in graph.live_nodes() if node.kind == "probe"]
        if not probes:
            return graph
        nodes, regions = graph.nodes.evolver(), graph.regions.evolver()
        home = {n: r for r, region in enumerate(graph.regions) if region is not None for n in region.body}
        values: dict[int, int] = {}
        tokens: dict[int, int] = {}
        freed_nodes: set[int] = set()
        freed_regions: set[int] = set()
        for probe_id, probe in probes:
            (inner_id,) = probe.regions
            inner = regions[inner_id]  # as edited so far: a probe inside it may be gone already
            for node_id in inner.body:
                node = nodes[node_id]
                if inner.token is not None and node.effect == inner.token:
                    nodes[node_id] = attrs.evolve(node, effect=probe.effect)
            if len(inner.results) == 1:
                values[probe_id] = inner.results[0]
            if inner.effect_out is not None:
                tokens[probe_id] = inner.effect_out
            elif probe.effect is not None:
                tokens[probe_id] = probe.effect  # a region with no effect of its own passes the token on
            owner = home[probe_id]
            body = []
            for node_id in regions[owner].body:
                body.extend(inner.body if node_id == probe_id else (node_id,))
            regions[owner] = attrs.evolve(regions[owner], body=tuple(body))
            for node_id in (probe_id,) + (() if inner.token is None else (inner.token,)):
                nodes[node_id] = None
                freed_nodes.add(node_id)
            regions[inner_id] = None
            freed_regions.add(inner_id)
            # A probe region may hold another probe: its home is this probe's owner now.
            home.update({n: owner for n in inner.body})
        _substitute(nodes, regions, _resolved(values), _resolved_tokens(tokens, values))
        out = attrs.evolve(graph, nodes=_trimmed(nodes.persistent(), freed_nodes),
                           regions=_trimmed(regions.persistent(), freed_regions))
        types = graph.annotation("types")
        if any(node_id in types for node_id in freed_nodes):
            table = types
            for node_id in freed_nodes:
                table = table.discard(node_id)
            out = out.with_annotations(out.annotations.set("types", table))
        ctx.stat("probes removed", len(probes))
        return out

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        left = [node_id for node_id, node in after.live_nodes() if node.kind == "probe"]
        if left:
            return [Verdict(self.name, "*", "counterexample", f"the probe %{left[0]} is still in the graph")]
        gone = {node_id for node_id, node in before.live_nodes() if node.kind == "probe"}
        gone |= {before.region(r).token for i in gone for r in before.node(i).regions} - {None}
        for node_id, node in before.live_nodes():
            if node_id in gone:
                continue
            kept = after.nodes[node_id] if node_id < len(after.nodes) else None
            if kept is None or (kept.kind, kept.attributes, kept.regions) != (node.kind, node.attributes, node.regions):
                return [Verdict(self.name, "*", "counterexample", f"%{node_id} ({node.kind}) was lost or changed")]
        return [Verdict(self.name, "*", "validated", f"{len(gone)} probe and probe token node(s) removed, every other node kept")]


def _resolved(mapping: dict[int, int]) -> dict[int, int]:
    """Follow chains (a probe whose result is another probe) to the end."""
    out = {}
    for start in mapping:
        target, seen = mapping[start], {start}
        while target in mapping and target not in seen:
            seen.add(target)
            target = mapping[target]
        out[start] = target
    return out


def _resolved_tokens(tokens: dict[int, int], values: dict[int, int]) -> dict[int, int]:
    resolved = {}
    for start, target in tokens.items():
        seen = {start}
        while (target in tokens or target in values) and target not in seen:
            seen.add(target)
            target = tokens.get(target, values.get(target, target))
        resolved[start] = target
    return resolved


def _trimmed(table, freed: set[int]):
    """Drop the freed slots at the end of a table (where `telemetry` appended them)."""
    end = len(table)
    while end > 0 and table[end - 1] is None and (end - 1) in freed:
        end -= 1
    return table if end == len(table) else table[:end]

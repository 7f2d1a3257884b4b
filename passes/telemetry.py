"""Telemetry (Saturated -> Telemetry): optional probes at coeffect boundaries.

Its one concern is observability derived from the coeffects: where the
analysis already knows what a computation needs from its context, a probe
measures it at run time.  Off unless asked for (it is not in the default
pipeline); ``telemetry{probes=latency+queue}`` picks the kinds (default all
three, joined by ``+``); `strip-telemetry` takes every probe out again.

A ``probe {probe, site}`` owns one region holding the node it measures, and
its value is that node's; when the node consumed an effect token, the probe
consumes it instead, the region gets its own entry token, and the probe is
the next token (every use of the node, as a value or a token, now uses the
probe).  The sites:

* ``cycles``: a pure computation, one that needs no resource and has no
  effect: a ``parallel_for``, ``reduce`` or ``stencil``, a loop (``loop``,
  ``for``, ``foreach``), or a call of a pure function or pure extern.  Only
  the outermost such site of a declaration is probed: what runs inside it is
  part of its count, and so is a call within the declaration's own ``let
  rec`` group (recursion is not a boundary).
* ``latency``: a call of an extern with a ``resource`` (a service, a
  registry, a database).
* ``queue``: a ``post`` or ``tell`` to an actor.

"Needs no resource" is read off the coeffects (`nanopass.passes.coeffects`):
a node whose requirement has no resources (posting to an actor reaches its
mailbox, a resource extern its resource, through calls too).  The
``coeffects`` table is used when the graph has one; otherwise the pass runs
that analysis itself, so purity has one definition.

``site`` names the place: ``<declaration>:<what>@<line>:<col>`` (``what`` is
``Array.map``, ``call fetchAll``, ``post catalog``, ...), with ``#2``, ``#3``
after the second and later sites that would share a name.  A probe never holds
a suspension point (no site contains an ``await``), so ``async`` regions run
it as an ordinary step.  The reference interpreter runs probes
(`nanopass.interp.probes`) and records each measurement in a telemetry sink
the caller reads; a probe's value is the wrapped value.

Probe nodes, their regions and their entry tokens are appended after the
graph's own ids, and no other id changes, so `strip-telemetry` gives the
input back exactly.

Statistics: one count per probe kind.

Validation obligation: the output refines the input because every probe is
the identity on its region's value and runs the wrapped node exactly where
it ran; `validate` checks it structurally: `strip-telemetry` of the output is
the input, node for node and region for region (then the measured nodes,
their order and their tokens are the input's).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping

import attrs

from nanopass.diagnostics import DiagnosticError, Span
from nanopass.graph import Graph, Node, Region, make_attributes
from nanopass.languages import Saturated, Telemetry as TelemetryLanguage
from nanopass.pass_ import Pass, PassContext, Verdict, register

PROBE_KINDS = ("cycles", "latency", "queue")
PROBE_SEPARATOR = "+"
WIDTH_SITES = frozenset({"parallel_for", "reduce", "stencil"})
LOOP_SITES = frozenset({"loop", "for", "foreach"})
MESSAGES = frozenset({"post", "tell"})
# Owners whose regions are their own code: a site inside them belongs to them, not to the enclosing site.
CLOSURES = frozenset({"lambda", "async", "actor"})


class _Resources:
    """Which nodes may reach a resource, read off the coeffects (a requirement with resources)."""

    def __init__(self, graph: Graph):
        table = graph.annotation("coeffects")
        if not table:  # the analysis has not run: run it, so that purity has one definition
            from nanopass.passes.coeffects import Coeffects

            table = Coeffects().analyze(graph, PassContext())["coeffects"]
        self.table = table

    def reaches(self, node_id: int) -> bool:
        need = self.table.get(node_id)
        return need is None or bool(need.resources)


def _site_name(graph: Graph, declaration: str, node: Node) -> str:
    if node.kind == "call":
        what = f"call {node.attr('callee') or 'closure'}"
    elif node.kind in MESSAGES:
        target = graph.nodes[node.operands[0]]
        name = target.attr("name") if target is not None and target.kind == "ref" else "actor"
        what = f"{node.kind} {name}"
    else:
        what = node.attr("origin") or node.kind
    return f"{declaration}:{what}@{node.span.line}:{node.span.col}"


@attrs.frozen(slots=True)
class Site:
    node: int
    probe: str
    name: str


def find_sites(graph: Graph, kinds: frozenset[str]) -> list[Site]:
    """The probe sites of ``graph`` in region order, for the probe kinds asked for."""
    resources = _Resources(graph)
    decls = {node.attr("name"): node for _, node in graph.top_level() if node.attr("name") is not None}
    sites: list[Site] = []
    named: dict[str, int] = defaultdict(int)
    for _, declaration in graph.top_level():
        name = declaration.attr("name") or declaration.kind
        group = {name} | {n for n, d in decls.items()
                          if d.attr("rec_group") is not None and d.attr("rec_group") == declaration.attr("rec_group")}
        # (region, inside a cycles site of this declaration)
        stack = [(r, False) for r in reversed(declaration.regions)]
        while stack:
            region_id, measured = stack.pop()
            nested = []
            for node_id in graph.region(region_id).body:
                node = graph.node(node_id)
                kind = _probe_kind(node, node_id, decls, resources, measured or node.attr("callee") in group)
                if kind is not None and kind in kinds:
                    site = _site_name(graph, name, node)
                    named[site] += 1
                    sites.append(Site(node_id, kind, site if named[site] == 1 else f"{site}#{named[site]}"))
                inside = measured or kind == "cycles"
                nested.extend((r, False if node.kind in CLOSURES else inside) for r in node.regions)
            stack.extend(reversed(nested))
    return sites


def _probe_kind(node: Node, node_id: int, decls: Mapping[str, Node], resources: _Resources,
                measured: bool) -> str | None:
    if node.kind in MESSAGES:
        return "queue"
    if node.kind == "call":
        target = decls.get(node.attr("callee")) if node.attr("callee") is not None else None
        if target is not None and target.kind == "extern" and target.attr("resource") is not None:
            return "latency"
        if target is None or measured or node.effect is not None or resources.reaches(node_id):
            return None
        if target.kind == "func" or (target.kind == "extern" and target.attr("pure", False)):
            return "cycles"
        return None
    if (node.kind in WIDTH_SITES or node.kind in LOOP_SITES) and not measured and node.effect is None:
        return None if resources.reaches(node_id) else "cycles"
    return None


def wrap_sites(graph: Graph, sites: list[Site]) -> Graph:
    """Put each site's node inside a probe that takes its place (see the module docstring)."""
    if not sites:
        return graph
    nodes, regions = graph.nodes.evolver(), graph.regions.evolver()
    home = {n: r for r, region in enumerate(graph.regions) if region is not None for n in region.body}
    replacement: dict[int, int] = {}  # measured node -> its probe
    probe_regions: set[int] = set()
    moved: set[int] = set()
    for site in sites:
        node = graph.node(site.node)
        token = None
        if node.effect is not None:
            token = len(nodes)
            nodes.append(Node("token", span=node.span))
            nodes[site.node] = attrs.evolve(node, effect=token)
        region_id = len(regions)
        regions.append(Region((), (site.node,), (site.node,), token, site.node if token is not None else None))
        probe = len(nodes)
        nodes.append(Node("probe", (), make_attributes({"probe": site.probe, "site": site.name}), (region_id,),
                          node.effect, node.span))
        owner = home[site.node]
        regions[owner] = attrs.evolve(regions[owner], body=tuple(probe if n == site.node else n
                                                                 for n in regions[owner].body))
        replacement[site.node] = probe
        probe_regions.add(region_id)
        moved.add(site.node)
    _substitute(nodes, regions, replacement, replacement, skip_effects=moved, skip_regions=probe_regions)
    out = attrs.evolve(graph, nodes=nodes.persistent(), regions=regions.persistent())
    types = graph.annotation("types")
    if types:
        added = {replacement[n]: types[n] for n in replacement if n in types}
        out = out.annotate("types", added)
    return out


def _substitute(nodes: Any, regions: Any, values: Mapping[int, int], tokens: Mapping[int, int],
                skip_effects: set[int] = frozenset(), skip_regions: set[int] = frozenset()) -> None:
    """Redirect value uses (operands, region results) and token uses (effects, ``effect_out``), in place."""
    for node_id in range(len(nodes)):
        node = nodes[node_id]
        if node is None:
            continue
        operands = tuple(values.get(o, o) for o in node.operands)
        effect = node.effect if node_id in skip_effects or node.effect is None else tokens.get(node.effect,
                                                                                               node.effect)
        if operands != node.operands or effect != node.effect:
            nodes[node_id] = attrs.evolve(node, operands=operands, effect=effect)
    for region_id in range(len(regions)):
        region = regions[region_id]
        if region is None or region_id in skip_regions:
            continue
        results = tuple(values.get(r, r) for r in region.results)
        effect_out = None if region.effect_out is None else tokens.get(region.effect_out, region.effect_out)
        if results != region.results or effect_out != region.effect_out:
            regions[region_id] = attrs.evolve(region, results=results, effect_out=effect_out)


def parse_probe_kinds(text: str) -> frozenset[str]:
    kinds = [k for k in text.split(PROBE_SEPARATOR) if k]
    unknown = [k for k in kinds if k not in PROBE_KINDS]
    if unknown:
        raise DiagnosticError.at(Span("<pipeline>", 1, 1, 1, 1),
                                 f"telemetry: unknown probe kind(s) {', '.join(unknown)}; expected "
                                 f"{', '.join(PROBE_KINDS)} joined by '{PROBE_SEPARATOR}'")
    return frozenset(kinds)


@register
@attrs.frozen
class Telemetry(Pass):
    """Probes at coeffect boundaries: cycles for pure computations, latency for resources, queues for actors."""

    name = "telemetry"
    input_language = Saturated
    output_language = TelemetryLanguage

    probes: str = PROBE_SEPARATOR.join(PROBE_KINDS)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        sites = find_sites(graph, parse_probe_kinds(self.probes))
        counts: dict[str, int] = defaultdict(int)
        for site in sites:
            counts[site.probe] += 1
        for kind, count in sorted(counts.items()):
            ctx.stat(f"{kind} probes", count)
        return wrap_sites(graph, sites)

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        from nanopass.passes.strip_telemetry import StripTelemetry

        stripped = StripTelemetry().run(after, PassContext())
        if stripped == before:
            probes = sum(1 for _, n in after.live_nodes() if n.kind == "probe")
            return [Verdict(self.name, "*", "validated",
                            f"strip-telemetry gives the input back; {probes} probe(s), each the identity on its region")]
        differing = next((i for i in range(max(len(before.nodes), len(stripped.nodes)))
                          if (before.nodes[i] if i < len(before.nodes) else None)
                          != (stripped.nodes[i] if i < len(stripped.nodes) else None)), None)
        detail = f"without its probes the output differs from the input at %{differing}" if differing is not None \
            else "without its probes the output's regions differ from the input's"
        return [Verdict(self.name, "*", "counterexample", detail)]

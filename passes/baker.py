"""Baker (Elaborated -> Saturated): saturate every construct that has no single machine operation.

Its one concern is to expand each higher-order intrinsic (``Array.map``,
``fold``, ``windowed``, ``List.collect``, ...) and each ``match`` into the
sub-graph of primitives that expresses it: ``parallel_for`` index spaces,
``reduce`` with its associativity facts, ``stencil`` windows, flags / ``scan``
/ ``scatter`` compaction, and decision trees of ``tag_test``s (the shapes are
in `nanopass.passes.baker_sites` and the conventions in `nanopass.languages`).

It runs in three steps, the shape of a braid at the scale of one pass:

* **discovery** walks the graph in region order and lists the sites (a map
  fed only by a ``windowed`` takes the windowed node with it; the sites
  inside a ``match`` are left to the match, whose arms are copied) and, for
  each, its read set: the nodes, regions and type facts its expansion reads;
* **fan-out** expands every site on its own into a `Fragment` with local ids,
  in batches on a `concurrent.futures.Executor`: serially when ``workers`` is
  1, on a thread pool of ``workers`` threads otherwise, or on the ``executor``
  a user injects from Python (a process pool, a Dask client's
  ``get_executor()``);
* **fold-in** merges the fragments serially in site order, allocating ids in
  that order, so the output is the same node for node whatever the executor
  and the number of workers.  A fragment's value node takes the site's id
  (uses need no rewriting) unless the expansion's value is an existing value.

Options: ``workers`` (default 1), ``reassociate_floats`` (default false:
float reductions are marked associative but not reassociable, since a
balanced tree changes the result).  Statistics: ``expanded <construct>`` per
site kind and ``nodes added``.

Validation obligation: the output refines the input (the default verdicts),
and baker's own: the fold-in kept every node of every expansion.  `validate`
recomputes the fragments from the input and finds each one in the output,
node for node and region for region, anchored where its site was; a lost or
altered node is a counterexample naming it.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Iterable, Mapping

import attrs
from pyrsistent import PVector

from nanopass.diagnostics import DiagnosticError, Span
from nanopass.graph import Graph, Node, Region
from nanopass.languages import Elaborated, Saturated
from nanopass.pass_ import Pass, PassContext, Rewriter, Verdict, register
from nanopass.passes.baker_sites import (
    FUSIBLE_CONSUMERS, SITE_OPS, ExpandOptions, Fragment, SiteInput, expand_batch, function_operands, is_site,
    local_index)

# Batches per worker: enough to even out uneven sites, few enough to keep transfers small.
_BATCHES_PER_WORKER = 4


@attrs.frozen(slots=True)
class Site:
    site: int
    region: int
    function: str
    absorbed: tuple[int, ...] = ()


# -- discovery ------------------------------------------------------------------------------

def use_counts(graph: Graph) -> dict[int, int]:
    """How many operands and region results name each value."""
    counts: dict[int, int] = defaultdict(int)
    for _, node in graph.live_nodes():
        for operand in node.operands:
            counts[operand] += 1
    for region in graph.regions:
        if region is not None:
            for value in region.results:
                counts[value] += 1
    return counts


def discover(graph: Graph) -> list[Site]:
    """The sites in region order (pre-order from the root); none inside a ``match``."""
    found: list[Site] = []
    for _, declaration in graph.top_level():
        function = declaration.attr("name") or ""
        stack = list(reversed(declaration.regions))
        while stack:
            region_id = stack.pop()
            nested: list[int] = []
            for node_id in graph.region(region_id).node_ids():
                node = graph.node(node_id)
                if is_site(node):
                    found.append(Site(node_id, region_id, function))
                if node.kind != "match":
                    nested.extend(node.regions)
            stack.extend(reversed(nested))
    return _fuse_windows(graph, found)


def _fuse_windows(graph: Graph, sites: list[Site]) -> list[Site]:
    """A map whose source is a ``windowed`` used by nothing else takes that node into its stencil."""
    by_id = {s.site: s for s in sites}
    candidates = []
    for site in sites:
        node = graph.node(site.site)
        if node.kind != "native" or SITE_OPS[node.attr("op")].family not in FUSIBLE_CONSUMERS:
            continue
        source = node.operands[1]
        producer = by_id.get(source)
        source_node = graph.node(source)
        if (producer is not None and producer.region == site.region and source_node.kind == "native"
                and SITE_OPS[source_node.attr("op")].family == "windowed" and source_node.effect is None):
            candidates.append((site, source))
    uses = use_counts(graph) if candidates else {}
    absorbed: set[int] = set()
    fused: dict[int, Site] = {}
    for site, source in candidates:
        if uses[source] == 1:
            absorbed.add(source)
            fused[site.site] = attrs.evolve(site, absorbed=(source,))
    return [fused.get(s.site, s) for s in sites if s.site not in absorbed]


def read_set(graph: Graph, roots: Iterable[int], symbols: Mapping[str, int]) -> tuple[dict[int, Node], dict[int, Region]]:
    """Every node and region an expansion rooted at ``roots`` may read.

    The regions of what it reads are read whole (they may be copied, and
    the sites in them expanded); a site's operands are read as nodes; a
    function value a site applies is read whole when it may be inlined (a
    lambda taking as many arguments as the site gives, a partial application
    and what it binds, a ref and the func it names when that is not
    recursive and takes them all), as a node otherwise.
    """
    nodes: dict[int, Node] = {}
    regions: dict[int, Region] = {}
    whole: list[int] = list(roots)
    done: set[int] = set()

    def read(node_id: int) -> Node:
        if node_id not in nodes:
            nodes[node_id] = graph.node(node_id)
        return nodes[node_id]

    def function_value(node_id: int, arity: int | None) -> None:
        """Read a function value applied to ``arity`` arguments (None: any count)."""
        node = read(node_id)
        if node.kind == "lambda":
            region_id = node.regions[0]
            regions[region_id] = graph.region(region_id)  # its params say whether it fits
            if arity is None or len(regions[region_id].params) == arity:
                whole.append(node_id)
        elif node.kind == "pap":
            whole.append(node_id)
            callee, bound = node.operands[0], node.operands[1:]
            function_value(callee, None if arity is None else arity + len(bound))
            for operand in bound:
                function_value(operand, None)
        elif node.kind == "ref":
            target = symbols.get(node.attr("name"))
            if target is None or read(target).kind != "func":
                return
            func = read(target)
            regions[func.regions[0]] = graph.region(func.regions[0])  # its token says whether calls need one
            # Only a func outside any ``let rec`` group, given all its parameters, is inlined.
            if func.attr("rec_group") is None and (arity is None or len(func.attr("params")) == arity):
                whole.append(target)

    while whole:
        node_id = whole.pop()
        if node_id in done:
            continue
        done.add(node_id)
        node = read(node_id)
        if is_site(node):
            for operand in node.operands:
                read(operand)
            for operand, arity in function_operands(node):
                function_value(operand, arity)
        for region_id in node.regions:
            region = graph.region(region_id)
            regions[region_id] = region
            whole.extend(region.node_ids())
    return nodes, regions


def site_inputs(graph: Graph, sites: list[Site]) -> list[SiteInput]:
    symbols = {node.attr("name"): node_id for node_id, node in graph.top_level() if node.attr("name") is not None}
    symbol_pairs = tuple(symbols.items())
    unions = tuple((node.attr("name"), tuple(node.attr("cases"))) for _, node in graph.top_level()
                   if node.kind == "typedef" and node.attr("cases"))
    types = graph.annotation("types")
    inputs = []
    for site in sites:
        # The read set's order is the walk's, fixed by the graph: the inputs are the same on every run.
        nodes, regions = read_set(graph, (site.site, *site.absorbed), symbols)
        inputs.append(SiteInput(
            site=site.site, region=site.region, function=site.function, absorbed=site.absorbed,
            nodes=tuple(nodes.items()), regions=tuple(regions.items()), symbols=symbol_pairs, unions=unions,
            types=tuple((i, t) for i, t in ((i, types.get(i)) for i in nodes) if t is not None),
        ))
    return inputs


# -- fan-out --------------------------------------------------------------------------------------

def batches(items: list, count: int) -> list[list]:
    """``items`` cut into at most ``count`` contiguous runs of near-equal length."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    runs, start = [], 0
    for k in range(count):
        end = start + size + (1 if k < extra else 0)
        runs.append(items[start:end])
        start = end
    return runs


def fan_out(inputs: list[SiteInput], options: ExpandOptions, executor: Executor | None,
            workers: int) -> list[Fragment]:
    """Every site's fragment, in site order, computed on ``executor`` (or serially)."""
    if not inputs:
        return []
    if executor is None and workers == 1:
        return list(expand_batch(inputs, options))
    runs = batches(inputs, _BATCHES_PER_WORKER * workers)
    if executor is None:
        with ThreadPoolExecutor(workers) as pool:
            return _gather(pool, runs, options)
    return _gather(executor, runs, options)


def _gather(executor: Executor, runs: list[list[SiteInput]], options: ExpandOptions) -> list[Fragment]:
    futures = [executor.submit(expand_batch, tuple(run), options) for run in runs]
    return [fragment for future in futures for fragment in future.result()]


# -- fold-in ----------------------------------------------------------------------------------------

@attrs.frozen(slots=True)
class Redirections:
    """Where uses of sites that did not keep their id (or whose token moved) go."""

    values: Mapping[int, int]
    tokens: Mapping[int, int]

    def value(self, node_id: int) -> int:
        while node_id in self.values:
            node_id = self.values[node_id]
        return node_id

    def token(self, node_id: int) -> int:
        seen = 0
        while node_id in self.tokens or node_id in self.values:
            node_id = self.tokens[node_id] if node_id in self.tokens else self.values[node_id]
            seen += 1
            if seen > len(self.tokens) + len(self.values):
                raise AssertionError(f"baker: redirection cycle through %{node_id}")
        return node_id


class _Allocation:
    """The output ids of one fragment's local nodes and regions."""

    def __init__(self, fragment: Fragment, first_node: int, first_region: int):
        self.nodes: dict[int, int] = {}
        next_id = first_node
        for k in range(len(fragment.nodes)):
            local = -1 - k
            if fragment.in_place and local == fragment.value:
                self.nodes[local] = fragment.site
            else:
                self.nodes[local] = next_id
                next_id += 1
        self.regions = {-1 - k: first_region + k for k in range(len(fragment.regions))}

    def node(self, node_id: int) -> int:
        return self.nodes[node_id] if node_id < 0 else node_id

    def optional(self, node_id: int | None) -> int | None:
        return None if node_id is None else self.node(node_id)

    def region(self, region_id: int) -> int:
        return self.regions[region_id] if region_id < 0 else region_id

    def translate_node(self, node: Node) -> Node:
        return attrs.evolve(node, operands=tuple(self.node(o) for o in node.operands),
                            regions=tuple(self.region(r) for r in node.regions), effect=self.optional(node.effect))

    def translate_region(self, region: Region) -> Region:
        return Region(tuple(self.node(p) for p in region.params), tuple(self.node(b) for b in region.body),
                      tuple(self.node(r) for r in region.results), self.optional(region.token),
                      self.optional(region.effect_out))


def redirections(graph: Graph, fragments: list[Fragment], allocations: list[_Allocation]) -> Redirections:
    """The site uses the fold-in rewrites: value uses of deleted sites, token uses of moved tokens."""
    values: dict[int, int] = {}
    tokens: dict[int, int] = {}
    for fragment, allocation in zip(fragments, allocations):
        had_token = graph.node(fragment.site).effect is not None
        if not fragment.in_place:
            values[fragment.site] = allocation.node(fragment.value)
        if had_token and fragment.effect_out is not None:
            out = allocation.node(fragment.effect_out)
            if out != fragment.site:
                tokens[fragment.site] = out
    return Redirections(values, tokens)


def allocate(graph: Graph, fragments: list[Fragment]) -> list[_Allocation]:
    """Output ids for every fragment, in site order, after the graph's own."""
    allocations = []
    next_node, next_region = len(graph.nodes), len(graph.regions)
    for fragment in fragments:
        allocation = _Allocation(fragment, next_node, next_region)
        next_node += len(fragment.nodes) - (1 if fragment.in_place else 0)
        next_region += len(fragment.regions)
        allocations.append(allocation)
    return allocations


def fold_in(graph: Graph, fragments: list[Fragment], ctx: PassContext) -> Graph:
    """Merge the fragments into the graph, serially in site order."""
    rw = Rewriter(graph)
    allocations = allocate(graph, fragments)
    placements: dict[int, dict[int, tuple[int, ...]]] = defaultdict(dict)  # region -> site -> ids in its place
    dropped: set[int] = set()
    added = 0
    for fragment, allocation in zip(fragments, allocations):
        ctx.stat(f"expanded {fragment.origin}")
        for k, node in enumerate(fragment.nodes):
            translated = allocation.translate_node(node)
            target = allocation.node(-1 - k)
            if target == fragment.site:
                rw.replace(target, translated)
            elif rw.add(translated) != target:
                raise AssertionError("baker: fold-in allocated ids out of order")
            else:
                added += 1
        for k, region in enumerate(fragment.regions):
            if rw.add_region(allocation.translate_region(region)) != allocation.region(-1 - k):
                raise AssertionError("baker: fold-in allocated regions out of order")
        for region_id in fragment.replaced_regions:
            for node_id in graph.walk_region(region_id):
                for nested in graph.node(node_id).regions:
                    rw.delete_region(nested)
                rw.delete(node_id)
            rw.delete_region(region_id)
        place = tuple(allocation.node(i) for i in fragment.prelude)
        if not fragment.in_place:
            rw.delete(fragment.site)
        placements[fragment.region][fragment.site] = place
        for node_id in fragment.absorbed:
            rw.delete(node_id)
            dropped.add(node_id)
    for region_id, places in placements.items():
        region = rw.region(region_id)
        body: list[int] = []
        for node_id in region.body:
            if node_id in places:
                body.extend(places[node_id])
            elif node_id not in dropped:
                body.append(node_id)
        rw.set_region(region_id, attrs.evolve(region, body=tuple(body)))
    ctx.stat("nodes added", added)
    out = rw.finish()
    redirect = redirections(graph, fragments, allocations)
    if redirect.values or redirect.tokens:
        out = attrs.evolve(out, **dict(zip(("nodes", "regions"), _redirect(out.nodes, out.regions, redirect))))
    return _with_types(out, fragments, allocations)


def _redirect(nodes: PVector, regions: PVector, redirect: Redirections) -> tuple[PVector, PVector]:
    """Rewrite value uses and token uses apart: a site's value and its token may now be two nodes."""
    def token(node_id: int | None) -> int | None:
        return None if node_id is None else redirect.token(node_id)

    node_ev = nodes.evolver()
    for node_id, node in enumerate(nodes):
        if node is None:
            continue
        operands = tuple(redirect.value(o) for o in node.operands)
        effect = token(node.effect)
        if operands != node.operands or effect != node.effect:
            node_ev[node_id] = attrs.evolve(node, operands=operands, effect=effect)
    region_ev = regions.evolver()
    for region_id, region in enumerate(regions):
        if region is None:
            continue
        results = tuple(redirect.value(r) for r in region.results)
        effect_out = token(region.effect_out)
        if results != region.results or effect_out != region.effect_out:
            region_ev[region_id] = attrs.evolve(region, results=results, effect_out=effect_out)
    return node_ev.persistent(), region_ev.persistent()


def _with_types(graph: Graph, fragments: list[Fragment], allocations: list[_Allocation]) -> Graph:
    """Carry the fragments' type facts into the ``types`` table (when the graph has one)."""
    if "types" not in graph.annotations:
        return graph
    table = graph.annotation("types")
    updates = {allocation.node(i): t for fragment, allocation in zip(fragments, allocations)
               for i, t in fragment.types if not (fragment.in_place and i == fragment.value)}
    table = table.update(updates)
    for node_id in [i for i in table if i >= len(graph.nodes) or graph.nodes[i] is None]:
        table = table.discard(node_id)
    return graph.with_annotations(graph.annotations.set("types", table))


# -- validation: every fragment is in the output -------------------------------------------------

def fragment_problems(before: Graph, after: Graph, fragments: list[Fragment]) -> dict[int, list[str]]:
    """For each fragment (by site), what of it the output lacks or altered; empty when all is there."""
    allocations = allocate(before, fragments)
    redirect = redirections(before, fragments, allocations)
    problems: dict[int, list[str]] = {f.site: [] for f in fragments}
    anchors = _anchors(before, after, fragments, problems)
    for fragment in fragments:
        if fragment.site in anchors:
            _match_fragment(after, fragment, anchors[fragment.site], redirect, problems[fragment.site])
        for region_id in fragment.replaced_regions:
            if region_id < len(after.regions) and after.regions[region_id] is not None:
                problems[fragment.site].append(f"the replaced region #{region_id} is still in the graph")
    return problems


def _anchors(before: Graph, after: Graph, fragments: list[Fragment],
             problems: dict[int, list[str]]) -> dict[int, list[tuple[int, int]]]:
    """Align each site's region before and after: (local id, output id) pairs for every prelude node."""
    by_region: dict[int, dict[int, Fragment]] = defaultdict(dict)
    for fragment in fragments:
        by_region[fragment.region][fragment.site] = fragment
    anchors: dict[int, list[tuple[int, int]]] = {}
    for region_id, sites in by_region.items():
        absorbed = {a for f in sites.values() for a in f.absorbed}
        if region_id >= len(after.regions) or after.regions[region_id] is None:
            for site in sites:
                problems[site].append(f"the site's region #{region_id} is gone")
            continue
        out = after.region(region_id).body
        position = 0
        for node_id in before.region(region_id).body:
            if node_id in absorbed:
                continue
            fragment = sites.get(node_id)
            if fragment is None:
                if position >= len(out) or out[position] != node_id:
                    first = next(iter(sites))
                    problems[first].append(f"region #{region_id} no longer holds %{node_id} where it was")
                    break
                position += 1
                continue
            before_site = fragment.prelude[:-1] if fragment.in_place else fragment.prelude
            placed = out[position:position + len(before_site)]
            position += len(placed)
            anchors[node_id] = list(zip(before_site, placed))
            if len(placed) != len(before_site):
                problems[node_id].append(f"region #{region_id} lacks nodes of the expansion where the site was")
            if fragment.in_place:
                if position >= len(out) or out[position] != node_id:
                    problems[node_id].append(f"the site %{node_id} is not where it was in region #{region_id}")
                anchors[node_id].append((fragment.value, node_id))
                position += 1
            elif after.nodes[node_id] is not None:
                problems[node_id].append(f"the site %{node_id} should have been replaced")
        else:
            if position != len(out):
                problems[next(iter(sites))].append(f"region #{region_id} holds nodes no expansion accounts for")
    return anchors


def _shape(region: Region) -> tuple:
    return len(region.params), len(region.body), len(region.results), region.token is None, region.effect_out is None


def _match_fragment(after: Graph, fragment: Fragment, anchors: list[tuple[int, int]], redirect: Redirections,
                    problems: list[str]) -> None:
    """Find every local node and region of ``fragment`` in ``after``, starting from its anchors."""
    nodes: dict[int, int] = {}
    regions: dict[int, int] = {}
    work = list(anchors)

    def existing(local_or_id: int | None, found: int | None, token: bool, what: str) -> None:
        if local_or_id is None or found is None:
            if (local_or_id is None) != (found is None):
                problems.append(f"{what}: expected {local_or_id}, found {found}")
            return
        if local_or_id < 0:
            work.append((local_or_id, found))
            return
        wanted = redirect.token(local_or_id) if token else redirect.value(local_or_id)
        if wanted != found:
            problems.append(f"{what}: expected %{wanted}, found %{found}")

    def region(local: int, found: int) -> None:
        if local in regions:
            if regions[local] != found:
                problems.append(f"local region {local} found twice, as #{regions[local]} and #{found}")
            return
        regions[local] = found
        if found >= len(after.regions) or after.regions[found] is None:
            problems.append(f"local region {local} is missing (#{found})")
            return
        want, got = fragment.regions[local_index(local)], after.region(found)
        if _shape(want) != _shape(got):
            problems.append(f"local region {local} (#{found}) has another shape")
            return
        for a, b in zip(want.params + want.body, got.params + got.body):
            existing(a, b, False, f"region #{found} body")
        for a, b in zip(want.results, got.results):
            existing(a, b, False, f"region #{found} results")
        existing(want.token, got.token, False, f"region #{found} token")
        existing(want.effect_out, got.effect_out, True, f"region #{found} effect_out")

    while work:
        local, found = work.pop()
        if local in nodes:
            if nodes[local] != found:
                problems.append(f"local node {local} found twice, as %{nodes[local]} and %{found}")
            continue
        nodes[local] = found
        want = fragment.nodes[local_index(local)]
        got = after.nodes[found] if 0 <= found < len(after.nodes) else None
        if got is None:
            problems.append(f"the {want.kind} node of the expansion (local {local}) is missing (%{found})")
            continue
        if (got.kind, got.attributes, len(got.operands), len(got.regions)) != (
                want.kind, want.attributes, len(want.operands), len(want.regions)):
            problems.append(f"the {want.kind} node of the expansion (local {local}) became %{found} ({got.kind})")
            continue
        for a, b in zip(want.operands, got.operands):
            existing(a, b, False, f"operand of %{found}")
        existing(want.effect, got.effect, True, f"token of %{found}")
        for a, b in zip(want.regions, got.regions):
            if a < 0:
                region(a, b)
            elif a != b:
                problems.append(f"%{found} owns #{b}, expected #{a}")
    missing_nodes = [k for k in range(len(fragment.nodes)) if -1 - k not in nodes]
    missing_regions = [k for k in range(len(fragment.regions)) if -1 - k not in regions]
    for k in missing_nodes:
        problems.append(f"the {fragment.nodes[k].kind} node of the expansion (local {-1 - k}) is not in the output")
    for k in missing_regions:
        problems.append(f"local region {-1 - k} of the expansion is not in the output")


# -- the pass ------------------------------------------------------------------------------------------

@register
@attrs.frozen
class Baker(Pass):
    """Saturate higher-order intrinsics and matches into primitive sub-graphs (fan-out, fold-in)."""

    name = "baker"
    input_language = Elaborated
    output_language = Saturated

    workers: int = 1
    reassociate_floats: bool = False
    # Injected from Python, never from pipeline text: any concurrent.futures.Executor.
    executor: Executor | None = attrs.field(default=None, eq=False, repr=False, metadata={"option": False})

    def expand_options(self) -> ExpandOptions:
        return ExpandOptions(reassociate_floats=self.reassociate_floats)

    def fragments(self, graph: Graph, executor: Executor | None = None, workers: int = 1) -> list[Fragment]:
        """Discovery and fan-out: every site's fragment, in site order."""
        inputs = site_inputs(graph, discover(graph))
        return fan_out(inputs, self.expand_options(), executor, workers)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        if self.workers < 1:
            raise DiagnosticError.at(Span("<pipeline>", 1, 1, 1, 1),
                                     f"baker: option 'workers' must be at least 1, got {self.workers}")
        return fold_in(graph, self.fragments(graph, self.executor, self.workers), ctx)

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        return super().validate(before, after, ctx) + self.fold_in_verdicts(before, after)

    def fold_in_verdicts(self, before: Graph, after: Graph) -> list[Verdict]:
        """Baker's own obligation: the fold-in kept every node of every expansion."""
        verdicts = []
        fragments = self.fragments(before)
        problems = fragment_problems(before, after, fragments)
        by_function: dict[str, list[Fragment]] = defaultdict(list)
        for fragment in fragments:
            by_function[fragment.function].append(fragment)
        for function, group in by_function.items():
            lost = [p for f in group for p in problems[f.site]]
            if lost:
                verdicts.append(Verdict(self.name, function, "counterexample", f"fold-in: {lost[0]}"))
            else:
                count = sum(len(f.nodes) for f in group)
                verdicts.append(Verdict(self.name, function, "validated",
                                        f"fold-in kept all {count} nodes of {len(group)} expansion(s)"))
        return verdicts

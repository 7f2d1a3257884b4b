"""Color (Saturated -> Saturated): part the regions into strands by dependency structure.

Its one concern is which strand each region belongs to, read off the graph's
dependency structure, never off a keyword (``async``, ``query`` and
``Array.Parallel`` are at most hints), and where the strands meet.  Every
region gets one of four colors, decided in this order:

* ``control`` -- effect-ordered or iteration-ordered work: a region whose
  body has an effect token chain; a ``loop`` (while: each iteration waits on
  the condition the one before computed); an actor handler (messages are
  handled one at a time, the state carried); a loop whose next iteration
  depends on results computed inside it: a ``for``/``foreach`` carried value
  the body reads and computes anew, a ``reduce`` whose operator is not
  associative (a fold: each step waits on the accumulator; an associative
  one reassociates into a tree, so it is width); a region that reaches a
  named resource (its coeffects hold a `ResourceAccess`); the module's root.
* an arm (``if`` branches, and any owner this pass has no rule for) that is
  not control by the rules above runs in its parent's strand: it takes the
  parent region's color.
* ``streaming`` -- a ``stencil`` body (a window over a stream), or a region
  whose coeffects hold history (`Temporal`: it holds or calls windowed work).
* ``width-irregular`` -- pure, but its work differs from run to run: a
  data-dependent branch (an ``if`` whose condition varies within the
  region: it reads the region's params or data computed in it); a call of a
  recursive function, of a function whose own work is irregular, or of a
  closure value (its body is unknown); the body of a recursive function;
  or a non-rectangular shape: an index space (``parallel_for``, ``for``,
  ``reduce``, ``foreach``) or a ``loop`` nested in an index space and sized
  by that space's indices or data (a triangle, a jagged array, a
  data-bounded while).  A callee's work counts as irregular when it
  branches on data, holds a while loop or recurses; its index spaces sized
  by its arguments do not count (lanes are taken to pass alike-shaped
  arguments).  Interaction-net work.  (Windows need no rule here: the
  history of a stencil makes every region holding or calling one
  streaming.)
* ``width-dense`` -- pure, rectangular and uniform: the rest (a
  ``parallel_for`` over extents with no data-dependent branching, an
  associative ``reduce``, straight-line scalar code).

Chains inside width: a sequential loop nested in a width lane (matmul's
``acc`` loop over ``p``, montecarlo's 252 steps per scenario) is colored
``control`` itself, since its iterations wait on one another, but it runs
once per lane, so it does not change the lane's color: the lane stays
``width-dense`` as long as the chain's trip count does not vary between
lanes.  Control hosts width, never the other way: a crossing is recorded
only where a control region waits on width work.

Tables written (the region-keyed ones are keyed by **region id**):

* ``color``: region id -> its color; ``color.reason``: region id -> why;
* ``strand``: declaration id -> the function's strand, the most constraining
  color (control, streaming, width-irregular, width-dense) among its body
  and the regions reached from it without entering a width index space
  (whose insides run per lane) or a lambda (which runs where it is called);
* ``crossings``: hyperedge id -> `nanopass.graph.Hyperedge` of kind
  ``crossing``.  In a control region, a *spawn* is a node of its body that
  starts width work: an index space whose region is width or streaming, or a
  call of a *kernel* (a function whose strand is width or streaming and
  which reaches such an index space).  A spawn's *site* is the latest
  control point it depends on: the region's entry (its token, else its
  owner), an effectful node of the body, or a join (a node of the body that
  reads a spawn's value).  Spawns sharing a site are launched together, and
  one hyperedge binds them: ``nodes = (site, spawn...)``, attributes
  ``waiter`` (the control region's id) and ``join`` (the first node of the
  region reading one of their values; None when the values only leave
  through the region's results).

`select_backend` maps a region's color to an execution strategy through
`BACKENDS`, as the coeffect article's ``selectBackend`` maps computation
patterns to backends.  The color rules read the ``coeffects.flat`` table
when the graph holds it for every region (``coeffects`` ran just before);
otherwise this pass runs the coeffect solver itself.

Statistics: regions per color, crossings.

Validation obligation: an analysis never edits nodes; the framework's
`Analysis.validate` checks that the output's node and region tables are the
input's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar, Iterable, Mapping

import attrs
import networkx as nx

from nanopass.graph import Graph, Hyperedge, Node, Region, make_attributes
from nanopass.languages import Saturated
from nanopass.pass_ import Analysis, PassContext, register
from nanopass.passes.coeffects import (
    CLOSURES, DECLARATIONS, INDEX_SPACES, Requirement, RegionTree, direct_callee, solve, symbol_table)

CONTROL = "control"
STREAMING = "streaming"
WIDTH_IRREGULAR = "width-irregular"
WIDTH_DENSE = "width-dense"
PRECEDENCE = (CONTROL, STREAMING, WIDTH_IRREGULAR, WIDTH_DENSE)  # most constraining first
WIDTH = frozenset({STREAMING, WIDTH_IRREGULAR, WIDTH_DENSE})  # what a control region can wait on

BACKENDS = {
    CONTROL: "host continuation (asyncio)",
    WIDTH_DENSE: "tensor/SIMD kernel (LLVM vectorized loop, GPU, NPU)",
    WIDTH_IRREGULAR: "interaction net / work-stealing",
    STREAMING: "stream/dataflow pipeline",
}
SEQUENTIAL = "sequential host code"  # for a region without a color

# Owners with a rule of their own; the regions of any other owner are arms.
_RULED_OWNERS = DECLARATIONS | CLOSURES | INDEX_SPACES | {"loop"}
# Variance checks stop taking an expression apart this deep (and answer "varies").
_VARIANCE_DEPTH = 200


def select_backend(graph: Graph, region_id: int) -> str:
    """The execution strategy for a region, by its color (`SEQUENTIAL` when it has none)."""
    return BACKENDS.get(graph.annotation("color").get(region_id), SEQUENTIAL)


def dominant(colors: Iterable[str]) -> str:
    """The most constraining of the colors given (width-dense for none)."""
    present = set(colors)
    return next((c for c in PRECEDENCE if c in present), WIDTH_DENSE)


def _bounds(node: Node) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """An index space's (scalar bounds, containers whose length bounds it)."""
    operands = node.operands
    if node.kind == "parallel_for":
        return operands, ()
    if node.kind == "for":
        return operands[:2], ()
    if node.kind == "stencil":
        return operands[:1], operands[1:2]
    return (), operands[:1]  # reduce, foreach


class Colorer:
    """Colors, strands and crossings of one graph (see the module docstring)."""

    def __init__(self, graph: Graph, flat: Mapping[int, Requirement] | None = None):
        self.graph = graph
        self.tree = RegionTree(graph)
        if flat is None or any(r not in flat for r in self.tree.order):
            flat = solve(graph).flat
        self.flat = flat
        self.symbols = symbol_table(graph)
        self.color: dict[int, str] = {}
        self.reason: dict[int, str] = {}
        self.strand: dict[int, str] = {}
        self.kernels: set[int] = set()
        self.crossings: dict[int, Hyperedge] = {}
        self._variant: dict[tuple[int, int], bool] = {}
        self.recursive, self.divergent = self._callees()

    def run(self) -> "Colorer":
        for region_id in self.tree.order:  # parents first: an arm takes its parent's color
            self.color[region_id], self.reason[region_id] = self._color(region_id)
        for declaration_id, node in self.graph.top_level():
            if node.regions:
                self.strand[declaration_id], kernel = self._strand(node)
                if kernel:
                    self.kernels.add(declaration_id)
        for region_id in self.tree.order:
            if self.color[region_id] == CONTROL and region_id != self.graph.root:
                self._cross(region_id)
        return self

    # -- calls ----------------------------------------------------------------------------------------
    def _callees(self) -> tuple[set[int], dict[int, str | None]]:
        """Recursive declarations, and for each declaration why its work is irregular (None: it is not)."""
        calls = nx.DiGraph()
        for declaration_id, regions in self.tree.regions_of.items():
            calls.add_node(declaration_id)
            for region_id in regions:
                for node_id in self.graph.region(region_id).body:
                    node = self.graph.node(node_id)
                    callee = direct_callee(node, self.symbols) if node.kind == "call" else None
                    if callee is not None:
                        calls.add_edge(declaration_id, callee)
        recursive: set[int] = set()
        divergent: dict[int, str | None] = {}
        condensed = nx.condensation(calls)
        for component in reversed(list(nx.topological_sort(condensed))):
            members = condensed.nodes[component]["members"]
            if len(members) > 1 or any(calls.has_edge(m, m) for m in members):
                recursive |= members
                divergent.update((m, "recursive") for m in members)
                continue
            for member in members:  # callees are settled: they come first
                node = self.graph.node(member)
                body = node.regions[0] if node.regions else None
                divergent[member] = None if body is None else self._irregular(body, None, divergent,
                                                                               whiles_anywhere=True)
        return recursive, divergent

    def _call_reason(self, node: Node, divergent: Mapping[int, str | None]) -> str | None:
        callee = direct_callee(node, self.symbols)
        if callee is None:
            return "calls a closure value"
        callee_node = self.graph.node(callee)
        why = divergent.get(callee)
        if callee_node.kind == "extern" or why is None:
            return None
        return f"calls {callee_node.attr('name')} ({why})"

    # -- variance ------------------------------------------------------------------------------------
    def varies(self, value: int, region_id: int, depth: int = 0) -> bool:
        """Whether ``value`` can differ between runs of the region: it is computed inside it from the
        region's params, tokens, regions, effects or calls rather than from constants and outer values."""
        if not self.tree.defined_within(value, region_id):
            return False
        key = (value, region_id)
        if key in self._variant:
            return self._variant[key]
        node = self.graph.node(value)
        if depth >= _VARIANCE_DEPTH:
            return True
        if node.kind in ("const", "ref"):
            result = False
        elif node.kind in ("param", "token") or node.regions or node.effect is not None:
            result = True
        else:
            result = any(self.varies(o, region_id, depth + 1) for o in node.operands)
        self._variant[key] = result
        return result

    # -- colors ------------------------------------------------------------------------------------------
    def _color(self, region_id: int) -> tuple[str, str]:
        graph, region = self.graph, self.graph.region(region_id)
        if region_id == graph.root:
            return CONTROL, "the module: the host runs its declarations in order"
        owner_id = self.tree.owner[region_id]
        owner = graph.node(owner_id)
        if region.token is not None:
            return CONTROL, "effect chain"
        if owner.kind == "loop":
            return CONTROL, "while loop: each iteration waits on the condition computed by the one before"
        if owner.kind == "actor":
            return CONTROL, "actor handler: one message at a time, the state carried"
        if owner.kind in ("for", "foreach") and self._carried_chain(region):
            return CONTROL, "carried values: the next iteration reads results computed inside this one"
        if owner.kind == "reduce" and not owner.attr("associative"):
            return CONTROL, "fold with a non-associative operator: each step waits on the accumulator"
        resources = self.flat[region_id].resources
        if resources:
            return CONTROL, f"reaches resource(s) {', '.join(sorted(resources))}"
        if owner.kind not in _RULED_OWNERS:
            parent = self.tree.parent[region_id]
            return self.color[parent], f"arm of %{owner_id}: runs in its parent's strand"
        if owner.kind == "stencil":
            return STREAMING, "window over a stream"
        if self.flat[region_id].temporal is not None:
            return STREAMING, f"holds history ({self.flat[region_id].temporal})"
        if owner_id in self.recursive:
            return WIDTH_IRREGULAR, "recursion"
        lane = region_id if owner.kind in INDEX_SPACES else None
        why = self._irregular(region_id, lane, self.divergent, whiles_anywhere=False)
        if why is not None:
            return WIDTH_IRREGULAR, why
        return WIDTH_DENSE, "pure, rectangular and uniform"

    def _carried_chain(self, region: Region) -> bool:
        """A carried value the body reads and whose next value is computed inside."""
        carried = region.params[1:]
        read = {o for n in self._region_nodes(region) for o in self.graph.node(n).operands}
        return any(param in read and k < len(region.results) and region.results[k] not in carried
                   for k, param in enumerate(carried))

    def _region_nodes(self, region: Region) -> Iterable[int]:
        for node_id in region.body:
            yield node_id
            for inner in self.graph.node(node_id).regions:
                yield from self.graph.walk_region(inner)

    def _irregular(self, region_id: int, lane: int | None, divergent: Mapping[int, str | None],
                   whiles_anywhere: bool) -> str | None:
        """Why the work of the region differs between its runs, or None (see the module docstring).

        ``lane`` is the innermost index region the shapes are checked against (None: the region itself
        is not one); with ``whiles_anywhere`` a while loop counts even outside an index region.
        """
        stack: list[tuple[int, int | None]] = [(region_id, lane)]
        while stack:
            current, space = stack.pop()
            for node_id in self.graph.region(current).body:
                node = self.graph.node(node_id)
                if node.kind in CLOSURES:
                    continue
                if node.kind == "if" and node.operands and self.varies(node.operands[0], region_id):
                    return f"data-dependent branch at %{node_id}"
                if node.kind == "call":
                    why = self._call_reason(node, divergent)
                    if why is not None:
                        return why
                if node.kind == "loop" and (space is not None or whiles_anywhere):
                    return f"while loop at %{node_id}: its trip count is decided by the data"
                if node.kind in INDEX_SPACES:
                    scalars, containers = _bounds(node)
                    if space is not None and (any(self.varies(v, space) for v in scalars)
                                              or any(self.varies(c, space) for c in containers)):
                        return f"non-rectangular: the extent of %{node_id} varies with the enclosing index"
                nested_space = node.kind in INDEX_SPACES or node.kind == "loop"  # its regions are the lanes now
                stack.extend((inner, inner if nested_space else space) for inner in node.regions)
        return None

    # -- strands ---------------------------------------------------------------------------------------
    def _strand(self, declaration: Node) -> tuple[str, bool]:
        """The declaration's strand, and whether it is a kernel (it reaches a width index space)."""
        colors: list[str] = []
        kernel = False
        stack = list(declaration.regions)
        while stack:
            region_id = stack.pop()
            color = self.color[region_id]
            colors.append(color)
            if self.tree.owner_node(region_id).kind in INDEX_SPACES and color in WIDTH:
                kernel = True
                continue
            for node_id in self.graph.region(region_id).body:
                node = self.graph.node(node_id)
                if node.kind != "lambda":
                    stack.extend(node.regions)
        strand = dominant(colors)
        return strand, kernel and strand in WIDTH

    # -- crossings ---------------------------------------------------------------------------------
    def _spawns(self, node: Node) -> bool:
        if node.kind in INDEX_SPACES:
            return any(self.color[r] in WIDTH for r in node.regions)
        if node.kind == "call":
            return direct_callee(node, self.symbols) in self.kernels
        return False

    def _reads(self, node: Node) -> set[int]:
        """Every value the node reads: operands, token, and the outer values its regions read."""
        reads = set(node.operands)
        if node.effect is not None:
            reads.add(node.effect)
        for inner in node.regions:
            for node_id in self.graph.walk_region(inner):
                reads.update(self.graph.node(node_id).inputs())
            reads.update(self.graph.region(inner).results)
        return reads

    def _cross(self, region_id: int) -> None:
        region = self.graph.region(region_id)
        spawns = [n for n in region.body if self._spawns(self.graph.node(n))]
        if not spawns:
            return
        position = {n: k for k, n in enumerate(region.body)}
        reads = {n: self._reads(self.graph.node(n)) for n in region.body}
        spawned = set(spawns)
        joins = {n for n in region.body if n not in spawned and reads[n] & spawned}
        points = joins | {n for n in region.body if self.graph.node(n).effect is not None}
        entry = region.token if region.token is not None else self.tree.owner[region_id]
        groups: dict[int, list[int]] = {}
        for spawn in spawns:
            site, site_position = entry, -1
            seen: set[int] = set()
            stack = list(reads[spawn])
            while stack:
                value = stack.pop()
                if value in seen or value not in position:
                    continue
                seen.add(value)
                if value in points and position[value] > site_position:
                    site, site_position = value, position[value]
                stack.extend(reads[value])
            groups.setdefault(site, []).append(spawn)
        for site in sorted(groups, key=lambda s: position.get(s, -1)):
            strands = groups[site]
            readers = [n for n in region.body if n not in spawned and reads[n] & set(strands)]
            self.crossings[len(self.crossings)] = Hyperedge(
                "crossing", (site, *strands),
                make_attributes({"waiter": region_id, "join": readers[0] if readers else None}))

    def tables(self) -> dict[str, dict[int, Any]]:
        return {"color": self.color, "color.reason": self.reason, "strand": self.strand,
                "crossings": self.crossings}


def color(graph: Graph) -> Colorer:
    """Run the analysis without a pipeline (reading ``coeffects.flat`` when the graph has it)."""
    flat = graph.annotation("coeffects.flat")
    return Colorer(graph, flat if flat else None).run()


@register
@attrs.frozen
class Color(Analysis):
    """Region colors, function strands and control/width crossings (tables ``color``, ``strand``,
    ``crossings``)."""

    name: ClassVar[str] = "color"
    input_language: ClassVar = Saturated
    output_language: ClassVar = Saturated

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        colorer = color(graph)
        for name, count in Counter(colorer.color.values()).items():
            ctx.stat(f"{name} regions", count)
        ctx.stat("crossings", len(colorer.crossings))
        return colorer.tables()

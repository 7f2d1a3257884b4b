"""Flowloss (Saturated -> Saturated): static work and span, the parallelism a sequential lowering loses.

Its one concern is the flow-loss figures of ../shared/FLOW_LOSS.md, read off
the saturated graph before anything runs, for every top-level function taken
as an entry point:

* **work W** and **span S** as intervals ``[lo, hi]``: each end attained by
  some input of the given sizes, exact where the structure is uniform, ``hi``
  unbounded (with the reason) where the analysis cannot find an end (a
  ``while``, recursion without a size bounding its depth, actors);
* **parallelism P = W / S**, whose ends are taken over the sets of paths the
  analysis keeps apart (so a branchy map over 1024 samples reads 52x ..
  1024x, not W_lo / S_hi);
* both readings of every reduction: as written (a chain) and reassociated
  (``span_reassociated``: a balanced tree);
* **serialization points**: each index space (and each ``for`` loop whose
  iterations are independent) with the independent iterations a sequential
  lowering puts in order, per run of the function, and its source line;
* the **memory axis**: bytes read and written, which intermediate arrays are
  materialized or fused into their consumer (as the LLVM backend's ``fused``
  table says, where the graph carries it), and whether the working set stays
  resident in the cache (`nanopass.passes.flowloss_memory`);
* the same W, S and P **per region** that holds work, each taken on its own
  (`nanopass.passes.flowloss_regions`).

Figures are symbolic in the sizes when sizes are not given: an array
parameter's length is ``n`` when it is the only size (``n_<param>``, or
``rows_<param>`` / ``cols_<param>`` for a 2-D array, when there are several),
an int parameter is itself; formulas take every size to be at least 1 and
every int parameter at least 0.  Given sizes (``sizes={"frame": (1024,)}``)
and values (``values={"scenarios": 1000}``) make them numbers.

The figures come from an abstract run of the profiler's cost model
(`nanopass.passes.flowloss_interp`, with loops and recursion in
`nanopass.passes.flowloss_loops` and the algebra in
`nanopass.passes.flowloss_algebra`): the dynamic oracle's W and S for any
input of the given sizes lie inside these intervals (tests/test_flowloss.py
holds the two against each other on every example and on generated
programs).

Tables written: ``flowloss``: declaration id -> `FunctionFlow`;
``flowloss.regions``: region id -> `RegionFlow` (plain data: it round-trips
through the psg text form, symbolic figures included).  Statistics:
functions analysed, unbounded figures, regions measured.  Validation
obligation: an analysis never edits nodes (`Analysis.validate`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import attrs
import networkx as nx
import sympy as sp

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph
from nanopass.interp.profiling import INTRINSIC_COSTS
from nanopass.languages import Saturated
from nanopass.pass_ import Analysis, PassContext, register
from nanopass.passes.baker_sites import SITE_OPS
from nanopass.passes.flowloss_algebra import (
    INF, ZERO, Figure, Range, add, ge, is_zero, mul, norm, point, r_hull, show, smax, smin, tidy)
from nanopass.passes.flowloss_domain import ArrayV, Entry, ListV, Scalar, State, Unknown
from nanopass.passes.flowloss_interp import Interpreter, Reason, Unsupported
from nanopass.passes.flowloss_memory import MemoryAxis, element_bytes, memory_axis
from nanopass.passes.flowloss_regions import TABLE as REGIONS_TABLE, RegionFlow, RegionRecorder

Sizes = Mapping[str, tuple[int, ...]]
Values = Mapping[str, int]


@attrs.frozen
class SerializationPoint:
    site: str
    ops: Figure | None  # independent operations sequenced per run; None when unbounded
    line: int
    node: int


@attrs.frozen
class FunctionFlow:
    """The flow-loss figures of one function taken as an entry point."""

    name: str
    params: tuple[tuple[str, str], ...]  # (name, type with its sizes)
    work: Range
    span: Range
    span_reassociated: Range
    parallelism: Range
    serialization_points: tuple[SerializationPoint, ...]
    regions: tuple[RegionFlow, ...]
    memory: MemoryAxis
    reasons: tuple[Reason, ...]
    outcomes: tuple[tuple[Range, Range], ...]  # (work, span) of each set of paths kept apart
    symbols: tuple[str, ...]  # the size symbols the figures may name

    @property
    def header(self) -> str:
        return f"{self.name} (" + ", ".join(f"{n}: {t}" for n, t in self.params) + ")"


# -- sizes and symbols ----------------------------------------------------------------------------

def parameter_types(graph: Graph, decl_id: int) -> list[Any]:
    decl = graph.node(decl_id)
    t = graph.annotation("types").get(decl_id)
    found = []
    for _ in decl.attr("params") or ():
        found.append(t.arg if isinstance(t, T.TFun) else None)
        t = t.result if isinstance(t, T.TFun) else None
    return found


def _rank(t: Any) -> int:
    if isinstance(t, T.TArray):
        return t.rank
    if isinstance(t, T.TCon) and t.name == "list":
        return 1
    return 0


def size_symbols(names: list[str], types: list[Any], sizes: Sizes) -> dict[tuple[str, int], Any]:
    """The figure standing for each dimension of each array or list parameter: given, or a symbol."""
    dims = [(n, d) for n, t in zip(names, types) for d in range(_rank(t))]
    unsized = [(n, d) for n, d in dims if n not in sizes]
    out: dict[tuple[str, int], Any] = {}
    for name, d in dims:
        if name in sizes:
            out[(name, d)] = sizes[name][d]
        elif len(unsized) == 1:
            out[(name, d)] = sp.Symbol("n", integer=True, positive=True)
        else:
            rank = next(_rank(t) for n, t in zip(names, types) if n == name)
            label = f"n_{name}" if rank == 1 else (f"rows_{name}" if d == 0 else f"cols_{name}")
            out[(name, d)] = sp.Symbol(label, integer=True, positive=True)
    return out


def check_sizes(graph: Graph, sizes: Sizes) -> list[str]:
    """Problems with the sizes and values given, for the caller to report (a size of the wrong rank)."""
    problems = []
    for decl_id, decl in graph.top_level():
        if decl.kind != "func":
            continue
        for name, t in zip(decl.attr("params") or (), parameter_types(graph, decl_id)):
            if name in sizes and _rank(t) and len(sizes[name]) != _rank(t):
                problems.append(f"'{name}' of '{decl.attr('name')}' has {_rank(t)} dimension(s), "
                                f"but the size gives {len(sizes[name])}")
    return problems


def _show_type(t: Any, dims: list[Any]) -> str:
    if isinstance(t, T.TArray):
        return T.show(t.elem) + "[" + ", ".join(show(d) for d in dims) + "]"
    if isinstance(t, T.TCon) and t.name == "list" and dims:
        return T.show(t) + f" (length {show(dims[0])})"
    return T.show(t) if t is not None else "?"


# -- the analysis of one function --------------------------------------------------------------------

class FunctionAnalysis:
    """Runs the interpreter on one function (as written, and reassociated) and gathers its figures."""

    def __init__(self, graph: Graph, decl_id: int, sizes: Sizes, values: Values, sites: Mapping,
                 cache_bytes: int):
        self.graph = graph
        self.decl_id = decl_id
        self.decl = graph.node(decl_id)
        self.name = self.decl.attr("name")
        self.sizes = sizes
        self.values = values
        self.sites = sites
        self.cache_bytes = cache_bytes
        self.names = list(self.decl.attr("params") or ())
        self.types = parameter_types(graph, decl_id)
        self.dims = size_symbols(self.names, self.types, sizes)
        self.recorder = RegionRecorder(graph, decl_id, element_bytes)

    def run(self) -> FunctionFlow:
        written, returned = self._run(reassociate=False)
        outcomes = [s for s, _ in returned]
        if written.reductions:
            tree, tree_returned = self._run(reassociate=True)
            span_tree = r_hull(*(s.top for s, _ in tree_returned)) if tree_returned else ZERO
            reasons = list(written.reasons) + [r for r in tree.reasons if r not in written.reasons]
        else:
            span_tree = r_hull(*(o.top for o in outcomes)) if outcomes else ZERO
            reasons = list(written.reasons)
        figures = tuple((_tidy(o.work), _tidy(o.top)) for o in outcomes) or ((ZERO, ZERO),)
        work = r_hull(*(w for w, _ in figures))
        span = r_hull(*(s for _, s in figures))
        params = tuple((n, _show_type(t, [self.dims[(n, d)] for d in range(_rank(t))]))
                       for n, t in zip(self.names, self.types))
        symbols = sorted({str(s) for v in self.dims.values() if not isinstance(v, int) for s in v.free_symbols}
                         | {n for n, t in zip(self.names, self.types) if _is_int(t) and n not in self.values})
        return FunctionFlow(
            name=self.name, params=params, work=work, span=span, span_reassociated=_tidy(span_tree),
            parallelism=parallelism(figures), serialization_points=self._points(written),
            regions=self._regions(work, span), memory=self._memory(returned), reasons=tuple(reasons),
            outcomes=figures, symbols=tuple(symbols))

    def _run(self, reassociate: bool) -> tuple[Interpreter, list[tuple[State, Any]]]:
        return run_with_big_stack(self._run_here, reassociate)

    def _run_here(self, reassociate: bool) -> tuple[Interpreter, list[tuple[State, Any]]]:
        # the regions are measured as written (the reassociated run reads the span of the whole only)
        interp = Interpreter(self.graph, reassociate=reassociate, regions=None if reassociate else self.recorder)
        heap: dict = {}
        args = [self._parameter(heap, n, t) for n, t in zip(self.names, self.types)]
        st = State({}, ZERO, ZERO, ZERO, heap)
        try:
            returned = interp.call_function(st, self.name, args, None, self.decl)
        except Unsupported as err:
            interp.note(self.decl, str(err))
            return interp, [(State({}, Range(0, INF), Range(0, INF), ZERO, {}), None)]
        # a global with work does it once, at its first use: at most once more, at most its span later
        extra_work = sum_figures(w for w, _ in interp.costly_globals.values())
        extra_span = sum_figures(s for _, s in interp.costly_globals.values())
        if not is_zero(extra_work):
            for o, _ in returned:
                o.work = Range(o.work.lo, add(o.work.hi, extra_work))
                o.top = Range(o.top.lo, add(o.top.hi, extra_span))
        return interp, returned

    def _parameter(self, heap: dict, name: str, t: Any) -> Any:
        """A parameter as the profiler sees an argument from the host: ready at 0, elements at 0."""
        if isinstance(t, T.TArray):
            dims = tuple(point(self.dims[(name, d)]) for d in range(t.rank))
            site = ("param", name)
            heap[site] = Entry(ZERO, dims, _host_content(t.elem, heap, name))
            return ArrayV(ZERO, frozenset({site}))
        if isinstance(t, T.TCon) and t.name == "list":
            return ListV(ZERO, point(self.dims[(name, 0)]), _host_content(t.args[0] if t.args else None, heap, name))
        if _is_int(t):
            value = self.values.get(name)
            return Scalar(ZERO, value if value is not None else sp.Symbol(name, integer=True, nonnegative=True))
        if isinstance(t, T.TPrim):
            return Scalar(ZERO)
        return Unknown(ZERO, ZERO) if t is not None and not isinstance(t, T.TFun) else Unknown(ZERO, Range(0, INF))

    # -- serialization points --------------------------------------------------------------------------
    def _points(self, interp: Interpreter) -> tuple[SerializationPoint, ...]:
        totals: dict[int, Figure | None] = {}
        origins: dict[int, str] = {}
        for point_ in interp.points.values():
            previous = totals.get(point_.node, 0)
            totals[point_.node] = None if previous is None or point_.ops is None else add(previous, point_.ops)
            origins[point_.node] = point_.origin
        found = []
        for node_id, ops in totals.items():
            if ops is not None and is_zero(ops):
                continue
            label, line = site_label(self.graph, node_id, self.sites)
            found.append(SerializationPoint(label, ops, line, node_id))
        return tuple(sorted(found, key=lambda p: (p.line, p.site)))

    def _regions(self, work: Range, span: Range) -> tuple[RegionFlow, ...]:
        """The figures of each region of the function's own body that holds work, each taken on its own.

        A run of a region is part of a run of the function, and its chains are chains of the function's:
        its W and S are at most the function's, which bound them where the region's own high ends are
        unbounded or provably higher (a recursion's deeper calls, each bounded by the outermost)."""
        recorder = self.recorder
        sizes = frozenset(v for v in self.dims.values() if isinstance(v, sp.Symbol)) | frozenset(
            sp.Symbol(n, integer=True, nonnegative=True) for n, t in zip(self.names, self.types)
            if _is_int(t) and n not in self.values)
        found = []
        for region, node_id in recorder.owner.items():
            if not recorder.holds_work(region):
                continue
            figures = tuple((_below(w, work.hi), _below(s, span.hi)) for w, s in recorder.figures(region, sizes))
            node = self.graph.node(node_id)
            label, line = site_label(self.graph, node_id, self.sites)
            if node.kind == "if":  # an arm: named by the branch, on the line its body starts
                label += " then" if node.regions[0] == region else " else"
                body = self.graph.region(region).body
                line = self.graph.node(body[0]).span.line if body else line
            found.append(RegionFlow.of(region, node_id, label, line, node.kind, r_hull(*(w for w, _ in figures)),
                                       r_hull(*(s for _, s in figures)), parallelism(figures),
                                       recorder.moved.get(region, 0)))
        return tuple(sorted(found, key=lambda r: (r.line, r.region)))
    # -- the memory axis -----------------------------------------------------------------------------
    def _memory(self, returned: list[tuple[State, Any]]) -> MemoryAxis:
        inputs = []
        for name, t in zip(self.names, self.types):
            if isinstance(t, T.TArray) or (isinstance(t, T.TCon) and t.name == "list"):
                count = 1
                for d in range(_rank(t)):
                    count = mul(count, self.dims[(name, d)])
                inputs.append((name, count, t.elem if isinstance(t, T.TArray) else (t.args[0] if t.args else None)))
        return memory_axis(self.graph, inputs, returned, lambda node_id: site_label(self.graph, node_id, self.sites),
                           frozenset(k for k in self.sites if type(k) is int), self.cache_bytes)


def _below(r: Range, cap: Figure) -> Range:
    """``r`` with its high end at most ``cap`` where that is known to lower it."""
    if cap is INF or (r.hi is not INF and not ge(r.hi, cap)):
        return r
    return Range(r.lo, cap)


def _tidy(r: Range) -> Range:
    return Range(tidy(r.lo), tidy(r.hi))


def sum_figures(xs) -> Figure:
    total: Figure = 0
    for x in xs:
        total = add(total, x)
    return total


def _is_int(t: Any) -> bool:
    return isinstance(t, T.TPrim) and t.base in ("int", "int64", "uint8")


def _host_content(t: Any, heap: dict, name: str) -> Any:
    """The structure of a host container's elements: nested arrays get a site of their own (lengths unknown)."""
    if isinstance(t, T.TArray):
        site = ("param", name, "inner")
        heap[site] = Entry(ZERO, tuple(Range(0, INF) for _ in range(t.rank)), _host_content(t.elem, heap,
                                                                                             name + ".inner"))
        return ArrayV(ZERO, frozenset({site}))
    if isinstance(t, T.TCon) and t.name == "list":
        return ListV(ZERO, Range(0, INF), _host_content(t.args[0] if t.args else None, heap, name + ".inner"))
    return None


def parallelism(figures: tuple[tuple[Range, Range], ...]) -> Range:
    """P's ends over the sets of paths kept apart: P = W / S, at least 1 (W >= S), and 1 with no work."""
    los, his = [], []
    for work, span in figures:
        if is_zero(work.hi):
            los.append(1)
            his.append(1)
            continue
        if work.exact and span.exact and not is_zero(span.lo):
            los.append(_ratio(work.lo, span.lo))
            his.append(los[-1])
            continue
        lo = 1 if span.hi is INF else smax(1, _ratio(work.lo, span.hi))
        hi = INF if work.hi is INF else _ratio(work.hi, smax(span.lo, 1))
        los.append(lo)
        his.append(hi)
    return Range(smin(*los), smax(*his))


def _ratio(a: Figure, b: Figure) -> Figure:
    if type(a) is int and type(b) is int:
        return sp.Rational(a, b) if a % b else a // b
    return norm(sp.simplify(sp.sympify(a) / b))


# -- reading the graph ----------------------------------------------------------------------------------

def site_label(graph: Graph, node_id: int, sites: Mapping) -> tuple[str, int]:
    """How the report names a site, and its line: from the source's own names when ``sites`` has them
    (by id for the node a site became, by span and origin for the others baker made of it)."""
    if node_id in sites:
        return sites[node_id]
    node = graph.node(node_id)
    origin = node.attr("origin")
    named = sites.get((node.span, origin)) or (sites.get(node.span) if origin is None else None)
    if named is not None:
        return named
    if node.kind == "for":
        index = graph.region(node.regions[0]).params
        name = graph.node(index[0]).attr("name") if index else "i"
        return f"for {name}", node.span.line
    if origin is None:
        return node.kind, node.span.line
    callee = None
    for region_id in node.regions:
        for inner in graph.region(region_id).body:
            candidate = graph.node(inner)
            if candidate.kind == "call" and candidate.attr("callee"):
                callee = candidate.attr("callee")
                break
    return (f"{origin} {callee}" if callee else origin), node.span.line


def source_sites(clef: Graph) -> dict[int, tuple[str, int]]:
    """Site names and lines from the source graph: ``Array.map calibrate`` on the line ``Array.map`` is on.

    Elaboration and baker keep the id of an application of a higher-order
    intrinsic for the node it becomes, so the Clef graph names it; the other
    nodes baker makes of it (a filter's flags) carry its span and its name as
    their origin, and are named by those.
    """
    found = {}
    for node_id, node in clef.live_nodes():
        if node.kind != "apply" or not node.operands:
            continue
        callee = clef.nodes[node.operands[0]]
        if callee is None or callee.kind != "ref" or callee.attr("name") not in SITE_OPS:
            continue
        label = callee.attr("name")
        position = _function_argument(label)
        if position is not None and len(node.operands) > position and clef.nodes[node.operands[position]] is not None:
            label += " " + _function_label(clef, clef.node(node.operands[position]))
        found[node_id] = (label, callee.span.line)
        found[(node.span, callee.attr("name"))] = (label, callee.span.line)
        found[node.span] = (label, callee.span.line)
    return found


def _function_argument(intrinsic: str) -> int | None:
    """The operand of an application of ``intrinsic`` that is its function (``Array.init n f``: 2), if any."""
    t = INTRINSICS[intrinsic].body
    position = 1
    while isinstance(t, T.TFun):
        if isinstance(t.arg, T.TFun):
            return position
        t, position = t.result, position + 1
    return None


def _function_label(clef: Graph, function: Any) -> str:
    """``calibrate``; ``(+)`` for an operator section; the function a lambda only applies to its
    parameters; ``(fun s -> ...)`` otherwise."""
    if function.kind == "ref":
        return function.attr("name")
    if function.kind != "lambda":
        return "(...)"
    region = clef.region(function.regions[0])
    params = list(region.params)
    if len(region.body) >= 1 and region.results == (region.body[-1],):
        last = clef.node(region.body[-1])
        if last.kind == "prim" and list(last.operands) == params:
            return f"({last.attr('op')})"
        if last.kind == "apply" and list(last.operands[1:]) == params:
            callee = clef.node(last.operands[0])
            if callee.kind == "ref" and len(region.body) == 2:
                return callee.attr("name")
    names = " ".join(clef.node(p).attr("name") for p in params)
    return f"(fun {names} -> ...)"


# -- the critical path ----------------------------------------------------------------------------------------

def node_cost(graph: Graph, node_id: int, interp: Interpreter | None = None) -> int:
    """The cost model's weight of one node: 1 for an operation that is not index arithmetic, an extern's
    ``Cost``, an intrinsic's cost; 0 for everything else (moving data, calls themselves, control)."""
    interp = interp or Interpreter(graph)
    node = graph.node(node_id)
    if node.kind == "prim":
        return 0 if interp.index_like(node_id) else 1
    if node.kind == "native":
        return INTRINSIC_COSTS.get(node.attr("op"), 0)
    if node.kind == "call" and node.attr("callee") in interp.decls:
        decl = interp.decls[node.attr("callee")][1]
        return decl.attr("cost", 1) if decl.kind == "extern" else 0
    return 0


def critical_path(graph: Graph, decl_id: int) -> list[int]:
    """The longest chain of dependent operations of one declaration, weighted by `node_cost`, each region
    taken once: operands before their users, an owner's operands before its regions, a region's results
    before its owner, a branch's condition before its arms."""
    interp = Interpreter(graph)
    dag = nx.DiGraph()
    decl = graph.node(decl_id)
    members = set()
    for region_id in decl.regions:
        members.update(graph.walk_region(region_id))
    for node_id in members:
        dag.add_node(node_id, cost=node_cost(graph, node_id, interp))
    for node_id in members:
        node = graph.node(node_id)
        for operand in node.operands:
            if operand in members:
                dag.add_edge(operand, node_id)
        for region_id in node.regions:
            region = graph.region(region_id)
            firsts = region.params if region.params else region.body
            for operand in node.operands:
                if operand in members:
                    for first in firsts:
                        dag.add_edge(operand, first)
            for result in region.results:
                if result in members and result != node_id:
                    dag.add_edge(result, node_id)
    if not nx.is_directed_acyclic_graph(dag):
        return []
    for u, v in dag.edges:  # cost first; among chains of equal cost, the one with more steps
        dag.edges[u, v]["weight"] = 1000 * dag.nodes[v]["cost"] + 1
    return nx.dag_longest_path(dag, weight="weight", default_weight=0)


# -- the pass ------------------------------------------------------------------------------------------------

def analyze(graph: Graph, sizes: Sizes | None = None, values: Values | None = None,
            sites: Mapping | None = None, functions: list[str] | None = None,
            cache_bytes: int | None = None) -> dict[str, FunctionFlow]:
    """The flow-loss figures of every top-level function (or of those named), at the sizes given."""
    from nanopass.passes.substrates import MACHINE

    found = {}
    for decl_id, decl in graph.top_level():
        if decl.kind != "func" or (functions is not None and decl.attr("name") not in functions):
            continue
        analysis = FunctionAnalysis(graph, decl_id, sizes or {}, values or {}, sites or {},
                                    cache_bytes or MACHINE.cache_bytes)
        found[decl.attr("name")] = analysis.run()
    return found


def parse_sizes(text: str) -> dict[str, tuple[int, ...]]:
    """``frame=1024,m=64x64`` as a sizes mapping (the pass's option; the CLI gives each on its own)."""
    sizes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, dims = item.partition("=")
        sizes[name.strip()] = tuple(int(d) for d in dims.lower().split("x"))
    return sizes


def parse_values(text: str) -> dict[str, int]:
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        values[name.strip()] = int(value)
    return values


@register
@attrs.frozen
class FlowLoss(Analysis):
    """Static work, span, parallelism, serialization points and memory axis per function (table
    ``flowloss``)."""

    name: ClassVar[str] = "flowloss"
    input_language: ClassVar = Saturated
    output_language: ClassVar = Saturated

    sizes: str = ""  # e.g. "frame=1024,m=64x64"
    values: str = ""  # e.g. "scenarios=1000"

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        try:
            sizes, values = parse_sizes(self.sizes), parse_values(self.values)
        except ValueError:
            raise DiagnosticError(Diagnostic(Span("<pipeline>", 1, 1, 1, 1),
                                             "options 'sizes' and 'values' of pass 'flowloss' expect "
                                             "NAME=N[xM] pairs separated by commas")) from None
        flows = analyze(graph, sizes, values)
        ctx.stat("functions analysed", len(flows))
        ctx.stat("unbounded figures", sum(1 for f in flows.values() for r in (f.work, f.span) if r.hi is INF))
        by_name = {decl.attr("name"): decl_id for decl_id, decl in graph.top_level()}
        regions = {r.region: r for flow in flows.values() for r in flow.regions}
        ctx.stat("regions measured", len(regions))
        return {"flowloss": {by_name[name]: flow for name, flow in flows.items()}, REGIONS_TABLE: regions}

"""Flow-loss regions: the work and span of each region of a function that holds work, taken on its own.

Its one concern is the per-region reading of the flow-loss figures.  The
regions are those a user points at in a function's own body (a closure made
there included): the body of an index space (``parallel_for``, ``stencil``),
of a reduction, of a ``for``/``foreach``/``while`` loop, and each arm of an
``if`` (`nanopass.profiler.REGION_OWNERS`).  A *run* of such a region is one
run of the construct that owns it (every iteration of an index space or a
loop, a while loop's conditions included; one arm of an ``if``), and its
figures are those of the run **on its own**: W the work it does, S its
longest chain of dependent operations with every value it reads from
outside ready when it starts, P = W / S.  That is what the profiler
measures behind a barrier (`nanopass.profiler.profile_regions`), and what
a lowering that runs the region as a kernel of its own would see.

How the analysis gets them: where the flow-loss interpreter reaches such a
construct in the function's outermost call, `RegionRecorder.measure` runs
the construct once more on a copy of the state with every time set to 0
(`standalone`), and keeps each outcome's (work, span).  A region reached
inside a loop is measured per run too: figures that depend on the enclosing
indices take their extremes over them, so the interval holds every run.
A region in the body of a recursion summed over a depth (not unrolled) is
measured with the deeper calls as symbols; once the recursion is summed they
are replaced by the outermost call's bounds (`RegionRecorder.settle`).  Any
other symbol that is not a size leaves its end unknown: 0 below, unbounded
above.

`RegionFlow` is the table's fact (``flowloss.regions``, keyed by region id):
plain data (figures by `flowloss_algebra.plain_figure`), so the table
round-trips through the psg text form.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import sympy as sp

from nanopass.graph import Graph, Node
from nanopass.passes.flowloss_algebra import (
    INF, ZERO, Figure, Range, add, figure_of, is_zero, mul, plain_figure, r_hull, smax, substitute, tidy)
from nanopass.passes.flowloss_domain import ArrayV, Entry, FnV, ListV, Parts, Scalar, State, Unknown, truth
from nanopass.profiler import REGION_OWNERS, measured_region

MAX_RUNS = 16  # (work, span) pairs kept apart per region; beyond, they are joined

TABLE = "flowloss.regions"


@attrs.frozen
class RegionFlow:
    """The figures of one region taken on its own (a fact of the ``flowloss.regions`` table).

    ``figures`` holds W, S and P as ``((lo, hi), ...)`` in plain form and
    ``bytes`` the arrays the region reads and makes (at most), so that the
    fact is plain data; `work`, `span`, `parallelism` and `moved` read them.
    """

    region: int
    node: int
    site: str
    line: int
    kind: str
    figures: tuple
    bytes: Any

    @classmethod
    def of(cls, region: int, node: int, site: str, line: int, kind: str, work: Range, span: Range,
           parallelism: Range, moved: Figure) -> "RegionFlow":
        figures = tuple((plain_figure(r.lo), plain_figure(r.hi)) for r in (work, span, parallelism))
        return cls(region, node, site, line, kind, figures, plain_figure(moved))

    def _range(self, k: int) -> Range:
        lo, hi = self.figures[k]
        return Range(figure_of(lo), figure_of(hi))

    @property
    def work(self) -> Range:
        return self._range(0)

    @property
    def span(self) -> Range:
        return self._range(1)

    @property
    def parallelism(self) -> Range:
        return self._range(2)

    @property
    def moved(self) -> Figure:
        return figure_of(self.bytes)


# -- a state with every time at 0 ------------------------------------------------------------------------

def standalone(st: State) -> State:
    """``st`` with every value, element and condition ready at time 0, no work done: a region's start."""
    memo: dict[int, dict] = {}
    env = _retimed_env(st.env, memo)
    heap = {site: Entry(ZERO, entry.dims, _retimed(entry.content, memo)) for site, entry in st.heap.items()}
    return State(env, ZERO, ZERO, ZERO, heap, st.facts)


def _retimed_env(env: dict, memo: dict[int, dict]) -> dict:
    found = memo.get(id(env))
    if found is None:
        found = memo[id(env)] = {}  # before filling: a closure in env may hold env itself
        for key, value in env.items():
            found[key] = _retimed(value, memo)
    return found


def _retimed(v: Any, memo: dict[int, dict]) -> Any:
    if v is None:
        return None
    if isinstance(v, Scalar):
        return v if v.time == ZERO else attrs.evolve(v, time=ZERO)
    if isinstance(v, Parts):
        return attrs.evolve(v, parts=tuple(_retimed(p, memo) for p in v.parts))
    if isinstance(v, ArrayV):
        return attrs.evolve(v, time=ZERO)
    if isinstance(v, ListV):
        return ListV(ZERO, v.length, _retimed(v.elem, memo))
    if isinstance(v, FnV):
        options = tuple(attrs.evolve(o, env=_retimed_env(o.env, memo) if o.env is not None else None,
                                     bound=tuple(_retimed(b, memo) for b in o.bound)) for o in v.options)
        return FnV(options, ZERO)
    if isinstance(v, Unknown):
        return Unknown(ZERO, ZERO)
    return v


# -- measuring -----------------------------------------------------------------------------------------------

class RegionRecorder:
    """The runs of the regions of one function's own body, measured as the interpreter reaches them."""

    def __init__(self, graph: Graph, decl_id: int, element_bytes: Callable[[Any], int]):
        self.graph = graph
        self.entry = graph.node(decl_id).attr("name")
        self.owned = frozenset(n for r in graph.node(decl_id).regions for n in graph.walk_region(r))
        self.element_bytes = element_bytes
        self.types = graph.annotation("types")
        self.runs: dict[int, list[tuple[Range, Range]]] = {}
        self.moved: dict[int, Figure] = {}
        self.owner: dict[int, int] = {}
        self._inputs: dict[tuple, tuple[int, ...]] = {}
        self._alone = 0  # > 0 while a standalone run is going: regions in it are measured by the real run

    def tracks(self, interp: Any, node_id: int, node: Node) -> bool:
        """Whether ``node`` owns a measured region and is reached in the function's outermost call."""
        return (not self._alone and node.kind in REGION_OWNERS and node_id in self.owned
                and sum(1 for name, _ in interp.stack if name == self.entry) == 1)

    def measure(self, interp: Any, node_id: int, node: Node, st: State) -> None:
        """Run the construct once more from ``st`` with every time at 0; record each outcome."""
        saved = list(interp.reasons), dict(interp.points), interp.reductions
        budgets = {name: left[0] for name, left in interp.unrolling.items()}
        self._alone += 1
        try:
            if node.kind == "if":
                self._arms(interp, node_id, node, st)
            else:
                outcomes = getattr(interp, "k_" + node.kind)(node_id, node, standalone(st))
                region = measured_region(node)
                self._record(interp, region, node_id, outcomes, self._bytes(interp, node_id, st, outcomes))
        finally:
            self._alone -= 1
            interp.reasons, interp.points, interp.reductions = saved
            for name, left in budgets.items():
                interp.unrolling[name][0] = left

    def _arms(self, interp: Any, node_id: int, node: Node, st: State) -> None:
        """Each arm the condition may take, on its own (the branch facts kept, as `k_if` keeps them)."""
        cond = interp.val(st, node.operands[0])
        decided = truth(cond)
        arms = [0] if decided is True else [1] if decided is False else [0, 1]
        relation = cond.value if isinstance(cond, Scalar) and isinstance(cond.value, sp.Basic) else None
        for arm in arms:
            alone = standalone(st)
            if relation is not None and decided is None:
                alone.facts = alone.facts + ((relation if arm == 0 else sp.Not(relation)),)
            region = measured_region(node, arm)
            outcomes = interp.region(region, alone, ())
            self._record(interp, region, node_id, outcomes, self._bytes(interp, node_id, st, [], (region,)))

    def _record(self, interp: Any, region: int, node_id: int, outcomes: list[State], moved: Figure) -> None:
        runs = self.runs.setdefault(region, [])
        self.owner[region] = node_id
        for o in outcomes:
            work, span = o.work, o.top
            for frame in reversed(interp.loops):  # a run inside a loop: its extremes over the indices
                work, span = interp.range_over_index(work, frame), interp.range_over_index(span, frame)
            pair = (Range(tidy(work.lo), tidy(work.hi)), Range(tidy(span.lo), tidy(span.hi)))
            if pair not in runs:
                runs.append(pair)
        if len(runs) > MAX_RUNS:
            runs[:] = [(r_hull(*(w for w, _ in runs)), r_hull(*(s for _, s in runs)))]
        for frame in reversed(interp.loops):
            moved = interp.over_index(moved, frame, True)
        self.moved[region] = smax(self.moved.get(region, 0), moved)

    # -- the memory a region moves -------------------------------------------------------------------------
    def _bytes(self, interp: Any, node_id: int, st: State, outcomes: list[State],
               regions: tuple[int, ...] | None = None) -> Figure:
        """The bytes of the arrays a run (of ``regions``, all the node's by default) reads from outside and
        of the array it makes (at most)."""
        total: Figure = 0
        for value_id in self.inputs(node_id, regions):
            value = st.env.get(value_id)
            if isinstance(value, ArrayV):
                total = add(total, self._array_bytes(value, st, self.types.get(value_id)))
        for o in outcomes:
            made = o.env.get(node_id)
            if isinstance(made, ArrayV):
                return add(total, self._array_bytes(made, o, self.types.get(node_id)))
        return total

    def _array_bytes(self, array: ArrayV, st: State, t: Any) -> Figure:
        largest: Figure = 0
        for site in array.sites:
            entry = st.heap.get(site)
            if entry is None:
                return INF
            count: Figure = 1
            for d in entry.dims:
                count = mul(count, d.hi)
            largest = smax(largest, count)
        return mul(largest, self.element_bytes(t))

    def inputs(self, node_id: int, regions: tuple[int, ...] | None = None) -> tuple[int, ...]:
        """The values a construct (or some of its regions) reads from outside: its operands and what the
        regions name."""
        node = self.graph.node(node_id)
        regions = node.regions if regions is None else regions
        found = self._inputs.get((node_id, regions))
        if found is None:
            inside = {n for r in regions for n in self.graph.walk_region(r)}
            seen = dict.fromkeys(node.operands)
            for n in inside:
                for operand in self.graph.node(n).operands:
                    if operand not in inside:
                        seen[operand] = None
            found = self._inputs[(node_id, regions)] = tuple(seen)
        return found

    def settle(self, upper: dict, lower: dict) -> None:
        """Replace symbols the runs were measured with by their bounds, once known: ``upper`` in the high
        ends, ``lower`` in the low ends (a recursion's deeper calls, summed after its body ran)."""
        for region, runs in self.runs.items():
            runs[:] = [(Range(substitute(w.lo, lower), substitute(w.hi, upper)),
                        Range(substitute(s.lo, lower), substitute(s.hi, upper))) for w, s in runs]
            self.moved[region] = substitute(self.moved[region], upper)

    # -- reading -------------------------------------------------------------------------------------------------
    def figures(self, region: int, sizes: frozenset) -> list[tuple[Range, Range]]:
        """The (work, span) pairs of a region's runs, an end naming a symbol outside ``sizes`` (a set of
        symbols) widened."""
        return [(_within(w, sizes), _within(s, sizes)) for w, s in self.runs[region]]

    def holds_work(self, region: int) -> bool:
        return any(not is_zero(w.hi) for w, _ in self.runs[region])


def _within(r: Range, sizes: frozenset) -> Range:
    lo = 0 if _foreign(r.lo, sizes) else r.lo
    hi = INF if _foreign(r.hi, sizes) else r.hi
    return Range(lo, hi)


def _foreign(x: Figure, sizes: frozenset) -> bool:
    return x is not INF and type(x) is not int and not x.free_symbols <= sizes


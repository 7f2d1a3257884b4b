"""Flow-loss interpreter: the profiler's cost model run once, on abstract values, over a Saturated graph.

Its one concern is to compute, without running the program, the intervals the
work/span profiler's figures (`nanopass.profiler`) must fall in, by the same
rules, kind by kind (`nanopass.interp.profiling`, ``profiled_kinds``,
``profiled_control``, ``profiled_intrinsics`` and the Saturated kinds'
profile steps in `nanopass.interp.saturated`).  Values are abstract
(`nanopass.passes.flowloss_domain`), figures may be symbolic in the sizes
(`nanopass.passes.flowloss_algebra`).

How each construct is summed without running it:

* a branch whose condition is unknown runs both arms, as two states; a state
  list is capped (`MAX_STATES`) by joining states;
* an index space (``parallel_for``, ``stencil``) runs its region once, with
  symbolic indices; its iterations are independent, so work is the sum over
  the indices (sympy sums a body whose work depends on its index) and the
  span the latest iteration.  When the region has several outcomes (a
  branch on the element), each non-empty set of outcomes the iterations may
  take is one state: the smallest and largest work and span of each set are
  attained by some input, which is what makes the ends of P exact
  (branchy's 52x .. 1024x);
* a loop (``for``, ``foreach``, a reduction as written, an index space whose
  iterations write what later ones read) runs its region once with the times
  carried between iterations as symbols; what the region yields is a
  max-plus function of them, whose k-fold iterate has a closed form
  (`chain_bound`): a chain grows by its step per iteration, an independent
  loop does not grow;
* array elements written in a loop and read in a later iteration carry a
  time between iterations too.  Whether iteration i writes an element that
  an iteration i' > i reads is an affine question over the indices, decided
  exactly by z3 (integer arithmetic) from the index expressions recorded
  while the region ran; ``unknown`` counts as a dependence;
* a reduction reassociated (the profiler's second run) is a balanced tree of
  ceil(log2 k) levels; a sum is n - 1 additions from its first element;
* a ``while`` loop runs iteration by iteration while the values given decide
  its condition (a counting loop at a given size is exact); when they do not,
  its trip count depends on the data and its high ends are unbounded, with
  the reason;
* recursion is unrolled call by call when the values given decide its depth;
  otherwise its depth is bounded by a size when every recursive call shrinks
  a list argument or counts an integer down (`flowloss_loops.RecursionFrame`),
  and unbounded, with the reason, when none does;
* what the model does not cover (actors, async code, a call of an unknown
  function value) is unbounded, with the reason, never a made-up number.
"""

from __future__ import annotations

from typing import Any, Iterable

import attrs
import sympy as sp

from nanopass.diagnostics import Span
from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS
from nanopass.graph import Graph, Node
from nanopass.interp.profiling import INTRINSIC_COSTS, SHAPE_READS
from nanopass.passes.baker_sites import PRIM_OPERATORS
from nanopass.passes.flowloss_algebra import (
    ANY_TIME, INF, ZERO, Figure, Range, add, ge, is_zero, mul, norm, point, r_add, r_hull, r_max, smax, smin, sub)
from nanopass.passes.flowloss_domain import (
    ArrayV, Entry, FnOption, FnV, ListV, Parts, Scalar, State, Unknown, after_branch, consumed, count_of, inner_of,
    int_value, join, join_entries, join_states, length_scalar, part, ready, retime, to_unknown, truth)
from nanopass.passes.flowloss_loops import Access, LoopFrame, LoopRules, Point

MAX_STATES = 8  # states kept apart at one program point; beyond, states are joined
MAX_SUBSET_OUTCOMES = 4  # outcomes of an index-space region combined set by set; beyond, joined
MAX_CALL_DEPTH = 48  # nested calls of distinct functions
UNROLL_DEPTH = 400  # nested calls of one recursive function unrolled
UNROLL_CALLS = 4000  # calls of one recursive function unrolled in all
INTEGRAL = frozenset({"int", "int64", "uint8"})
_INT_LIMITS = {"int": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1), "uint8": (0, 255)}
LENGTH_OPS = frozenset({"Array.length", "Array2D.length1", "Array2D.length2", "List.length"})
HIGHER_ORDER = frozenset({"Array.map", "Array.mapi", "Array.map2", "Array.filter", "Array.reduce", "Array.fold",
                          "Array.sum", "Array.init", "Array.windowed", "Array.Parallel.map", "Array2D.init",
                          "List.map", "List.filter", "List.fold", "List.collect", "Seq.windowed", "Seq.map",
                          "Seq.sum"})
SUMS = frozenset({"Array.sum", "Seq.sum"})


@attrs.frozen(slots=True)
class Reason:
    span: Span
    message: str


class Unrolled(Exception):
    """Raised when unrolling a recursion ran past its budget: its depth is not decided by the sizes given."""


class Unsupported(Exception):
    """Raised inside the interpreter where the model cannot follow; the caller widens to unbounded."""


class Interpreter(LoopRules):
    """Abstract runs of a graph's functions (see the module docstring); `call_function` is the entry."""

    MAX_SUBSET_OUTCOMES = MAX_SUBSET_OUTCOMES
    MAX_STATES_KEPT = MAX_STATES
    SUMS = SUMS

    def __init__(self, graph: Graph, reassociate: bool = False, regions: Any = None):
        self.graph = graph
        self.regions = regions  # a flowloss_regions.RegionRecorder measuring the entry's regions, or None
        self.types = graph.annotation("types")
        self.reassociate = reassociate
        self.decls: dict[str, tuple[int, Node]] = {
            n.attr("name"): (i, n) for i, n in graph.top_level() if n.attr("name") is not None}
        self.for_indices = frozenset(
            graph.region(n.regions[0]).params[0] for _, n in graph.live_nodes()
            if n.kind == "for" and graph.region(n.regions[0]).params)
        self._index_like: dict[int, bool] = {}
        self.stack: list[tuple[str, int | None]] = []
        self.loops: list[LoopFrame] = []
        self.recording: list[list[Access]] = []
        self.multipliers: list[Figure] = [1]
        self.reasons: list[Reason] = []
        self.points: dict[tuple, Point] = {}
        self.reductions = 0
        self.globals: dict[str, tuple[Any, Range, Range]] = {}
        self.costly_globals: dict[str, tuple[Figure, Figure]] = {}
        self.recursion: dict = {}  # function name -> RecursionFrame, while its depth is being bounded
        self.unrolling: dict[str, list[int]] = {}  # function name -> calls left, while it is unrolled
        self.recursive_names = _self_recursive(graph, self.decls)
        self._symbols = 0

    # -- reasons -------------------------------------------------------------------------------
    def note(self, node: Node | None, message: str) -> None:
        span = node.span if node is not None else Span()
        reason = Reason(span, message)
        if reason not in self.reasons:
            self.reasons.append(reason)

    def fresh(self, prefix: str, **assumptions: bool) -> sp.Symbol:
        self._symbols += 1
        return sp.Symbol(f"{prefix}{self._symbols}", **assumptions)

    # -- the cost model --------------------------------------------------------------------------
    def index_like(self, node_id: int) -> bool:
        """The profiler's `index_like`: constants, ``for`` indices, lengths and arithmetic on those only."""
        found = self._index_like.get(node_id)
        if found is None:
            self._index_like[node_id] = False
            node = self.graph.node(node_id)
            if node.kind == "const" or node.kind == "extent":
                found = True
            elif node.kind == "param":
                found = node_id in self.for_indices
            elif node.kind == "native":
                found = node.attr("op") in LENGTH_OPS
            elif node.kind == "prim":
                found = all(self.index_like(o) for o in node.operands)
            else:
                found = False
            self._index_like[node_id] = found
        return found

    def finish(self, st: State, start: Range, cost: Figure | Range) -> Range:
        """An operation of ``cost`` whose operands are ready at ``start`` (the profiler's ``finish``)."""
        c = cost if isinstance(cost, Range) else point(cost)
        end = Range(add(smax(start.lo, st.ctl.lo), c.lo), add(smax(start.hi, st.ctl.hi), c.hi))
        st.work = r_add(st.work, c)
        st.top = r_max(st.top, end)
        return end

    # -- heap sites ---------------------------------------------------------------------------------
    def site(self, node_id: int, tag: str = "") -> tuple:
        """A heap site: the allocating node in its call context."""
        return (tuple(c for _, c in self.stack), node_id, tag)

    def allocate(self, st: State, site: tuple, entry: Entry) -> ArrayV:
        old = st.heap.get(site)
        st.heap[site] = join_entries(old, entry, st.heap) if old is not None else entry
        return ArrayV(st.ctl, frozenset({site}))

    def entries(self, st: State, array: ArrayV) -> list[Entry]:
        return [st.heap[s] for s in array.sites if s in st.heap]

    def dims(self, st: State, array: Any) -> tuple:
        if isinstance(array, ArrayV):
            found = self.entries(st, array)
            if found and all(len(e.dims) == len(found[0].dims) for e in found):
                return tuple(r_hull(*ds) for ds in zip(*(e.dims for e in found)))
        return ()

    def record(self, site: Any, write: bool, indices: tuple, node: int | None = None,
               when: Range | None = None) -> None:
        if self.recording:
            access = Access(site, write, indices, tuple(self.loops), node, when)
            for accesses in self.recording:
                accesses.append(access)

    # -- regions ------------------------------------------------------------------------------------
    def region(self, region_id: int, st: State, args: Iterable[Any]) -> list[State]:
        region = self.graph.region(region_id)
        for param, arg in zip(region.params, args):
            st.env[param] = arg
        states = [st]
        for node_id in region.body:
            node = self.graph.node(node_id)
            handler = getattr(self, "k_" + node.kind, None)
            measured = self.regions is not None and self.regions.tracks(self, node_id, node)
            out: list[State] = []
            for s in states:
                if measured:
                    self.regions.measure(self, node_id, node, s)
                if handler is None:
                    found = self.outside(node_id, node, s, f"'{node.kind}' is outside the static model")
                else:
                    found = handler(node_id, node, s)
                out.extend(found)
            states = cap(out)
            if not states:
                break
        return states

    def results(self, region_id: int, st: State) -> Any:
        ids = self.graph.region(region_id).results
        if len(ids) == 1:
            return self.val(st, ids[0])
        if not ids:
            return Scalar(ZERO)
        return Parts(tuple(self.val(st, i) for i in ids))

    def val(self, st: State, node_id: int) -> Any:
        found = st.env.get(node_id)
        if found is None:
            raise Unsupported(f"the value %{node_id} is read where the analysis did not compute it")
        return found

    def outside(self, node_id: int, node: Node, st: State, message: str) -> list[State]:
        """A construct the model does not cover: unbounded from here on, with the reason."""
        self.note(node, message)
        args = [st.env[o] for o in node.operands if o in st.env]
        start = r_max(*(consumed(a, st.heap) for a in args)) if args else ZERO
        self.widen(st)
        st.env[node_id] = Unknown(Range(start.lo, INF), ANY_TIME)
        return [st]

    def widen(self, st: State) -> None:
        """After something unknown ran: any amount of work, any time, any array written."""
        st.work = Range(st.work.lo, INF)
        st.top = Range(st.top.lo, INF)
        for site, entry in list(st.heap.items()):
            st.heap[site] = attrs.evolve(entry, elem=Range(entry.elem.lo, INF))

    # -- values and data ------------------------------------------------------------------------------
    def k_param(self, nid, node, st):
        return [st]

    k_token = k_param

    def k_const(self, nid, node, st):
        kind, raw = node.attr("type"), node.attr("value")
        value = None
        if kind in INTEGRAL and isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif kind == "bool":
            value = bool(raw)
        elif kind == "float" and isinstance(raw, float):
            value = raw  # float64 arithmetic on known constants is Python's: branches on them decide
        st.env[nid] = Scalar(ZERO, value)
        return [st]

    def k_ref(self, nid, node, st):
        name = node.attr("name")
        found = self.decls.get(name)
        if found is not None:
            _, decl = found
            if decl.kind == "func":
                st.env[nid] = FnV((FnOption("func", name, len(decl.attr("params") or ())),))
            elif decl.kind == "extern":
                st.env[nid] = FnV((FnOption("extern", name, decl.attr("arity")),))
            elif decl.kind == "global":
                st.env[nid] = self.global_value(name, decl, node)
            else:
                st.env[nid] = Unknown(ZERO)
        elif name in INTRINSICS:
            st.env[nid] = FnV((FnOption("intrinsic", name, _intrinsic_arity(name)),))
        elif name in PRIM_OPERATORS:
            st.env[nid] = FnV((FnOption("operator", name, 2),))
        else:
            st.env[nid] = Unknown(ZERO)
        return [st]

    def global_value(self, name: str, decl: Node, node: Node) -> Any:
        """A global's value (shadow 0, as the profiler's ``ref``); its work is done once, at first use."""
        if name not in self.globals:
            self.globals[name] = (Unknown(ZERO, ANY_TIME), ZERO, ZERO)  # while it is computed
            saved = self.stack
            self.stack = [(name, None)]
            try:
                outcomes = self.region(decl.regions[0], State({}, ZERO, ZERO, ZERO, {}), ())
                final = join_states(outcomes) if outcomes else None
            except Unsupported:
                final = None
            finally:
                self.stack = saved
            if final is None:
                self.globals[name] = (Unknown(ZERO, ANY_TIME), ANY_TIME, ANY_TIME)
            else:
                value = self.results(decl.regions[0], final)
                self.globals[name] = (value, final.work, final.top)
        value, work, top = self.globals[name]
        if not is_zero(work.hi):
            self.costly_globals[name] = (work.hi, top.hi)
        if _holds_arrays(value):
            self.note(node, f"the global '{name}' holds arrays computed at its first use: their times are unknown")
            return Unknown(ZERO, ANY_TIME)
        return retime(value, ZERO)

    def k_prim(self, nid, node, st):
        values = [self.val(st, o) for o in node.operands]
        cost = 0 if self.index_like(nid) else 1
        end = self.finish(st, r_max(*(ready(v) for v in values)), cost)
        value, vrange = prim_value(node, values)
        st.env[nid] = Scalar(end, value, vrange)
        return [st]

    def k_lambda(self, nid, node, st):
        region = self.graph.region(node.regions[0])
        st.env[nid] = FnV((FnOption("closure", node.attr("name") or "fun", len(region.params), node.regions[0],
                                    st.env),))
        return [st]

    def k_tuple(self, nid, node, st):
        st.env[nid] = Parts(tuple(self.val(st, o) for o in node.operands))
        return [st]

    def k_record(self, nid, node, st):
        st.env[nid] = Parts(tuple(self.val(st, o) for o in node.operands), names=tuple(node.attr("fields")))
        return [st]

    def k_union(self, nid, node, st):
        st.env[nid] = Parts(tuple(self.val(st, o) for o in node.operands), tag=node.attr("case"))
        return [st]

    def k_proj(self, nid, node, st):
        st.env[nid] = part(self.val(st, node.operands[0]), node.attr("index"), st.heap)
        return [st]

    def k_field(self, nid, node, st):
        record = self.val(st, node.operands[0])
        name = node.attr("name")
        if isinstance(record, Parts) and record.names is not None and name in record.names:
            st.env[nid] = record.parts[record.names.index(name)]
        else:
            st.env[nid] = Unknown(ready(record), inner_of(record, st.heap))
        return [st]

    def k_with(self, nid, node, st):
        record = self.val(st, node.operands[0])
        names = tuple(node.attr("fields"))
        updates = [self.val(st, o) for o in node.operands[1:]]
        if isinstance(record, Parts) and record.names is not None and set(names) <= set(record.names):
            parts = list(record.parts)
            for name, value in zip(names, updates):
                parts[record.names.index(name)] = value
            st.env[nid] = Parts(tuple(parts), names=record.names)
        else:
            whole = to_unknown(record, st.heap)
            for value in updates:
                whole = join(whole, value, st.heap)
            st.env[nid] = to_unknown(whole, st.heap)
        return [st]

    def k_array(self, nid, node, st):
        values = [self.val(st, o) for o in node.operands]
        elem = r_hull(*(r_max(ready(v), st.ctl) for v in values)) if values else ZERO
        content = _structure(values, st.heap)
        st.env[nid] = self.allocate(st, self.site(nid), Entry(elem, (point(len(values)),), content))
        return [st]

    def k_list(self, nid, node, st):
        values = [self.val(st, o) for o in node.operands]
        time = r_max(*(ready(v) for v in values)) if values else ZERO
        st.env[nid] = ListV(time, point(len(values)), _structure(values, st.heap))
        return [st]

    def k_cons(self, nid, node, st):
        head, tail = (self.val(st, o) for o in node.operands)
        length = r_add(tail.length, 1) if isinstance(tail, ListV) else Range(1, INF)
        elem = join(_structure([head], st.heap), tail.elem if isinstance(tail, ListV) else None, st.heap)
        st.env[nid] = ListV(r_max(ready(head), ready(tail)), length, elem)
        return [st]

    def k_index(self, nid, node, st):
        container = self.val(st, node.operands[0])
        indices = [self.val(st, o) for o in node.operands[1:]]
        start = r_max(ready(container), st.ctl, *(ready(i) for i in indices))
        if isinstance(container, ArrayV):
            found = self.entries(st, container)
            if found:
                start = r_max(start, r_hull(*(e.elem for e in found)))
            content = None
            for e in found:
                content = join(content, e.content, st.heap)
            for site in container.sites:
                self.record(site, False, tuple(int_value(i) for i in indices))
            st.env[nid] = retime(content, start)
        elif isinstance(container, ListV):
            st.env[nid] = retime(container.elem, start)
        else:
            inner = inner_of(container, st.heap)
            st.env[nid] = Unknown(r_max(start, inner), ANY_TIME)
        return [st]

    def k_store(self, nid, node, st):
        container = self.val(st, node.operands[0])
        indices = [self.val(st, o) for o in node.operands[1:-1]]
        value = self.val(st, node.operands[-1])
        when = r_max(ready(value), st.ctl, *(ready(i) for i in indices))
        structure = _structure([value], st.heap)
        if isinstance(container, ArrayV):
            for site in container.sites:
                entry = st.heap.get(site)
                if entry is not None:
                    st.heap[site] = Entry(r_hull(entry.elem, when), entry.dims, join(entry.content, structure, st.heap))
                self.record(site, True, tuple(int_value(i) for i in indices), nid, when)
        else:  # an array the analysis lost track of may be any of them
            for site, entry in list(st.heap.items()):
                st.heap[site] = attrs.evolve(entry, elem=r_hull(entry.elem, when))
            self.record(None, True, ())
        st.env[nid] = Scalar(st.ctl)
        return [st]

    # -- Saturated data kinds -----------------------------------------------------------------------------
    def k_extent(self, nid, node, st):
        container = self.val(st, node.operands[0])
        dim = node.attr("dim")
        time = r_max(ready(container), st.ctl)
        st.env[nid] = length_scalar(time, self.length(st, container, dim))
        return [st]

    def length(self, st: State, container: Any, dim: int = 0) -> Range:
        if isinstance(container, ListV):
            return container.length if dim == 0 else Range(0, INF)
        dims = self.dims(st, container)
        return dims[dim] if dim < len(dims) else Range(0, INF)

    def k_scan(self, nid, node, st):
        source = self.val(st, node.operands[0])
        length = self.length(st, source)
        st.env[nid] = self.allocate(st, self.site(nid), Entry(st.ctl, (length,)))
        return [st]

    def k_scatter(self, nid, node, st):
        values, flags, _ = (self.val(st, o) for o in node.operands)
        n = self.length(st, values)
        value_times, flag_times = self.element_times(st, values), self.element_times(st, flags)
        content = self.content(st, values)
        if node.attr("container") == "list":
            lo = smax(st.ctl.lo, value_times.lo, flag_times.lo) if ge(n.lo, 1) else st.ctl.lo
            hi = smax(st.ctl.hi, value_times.hi, flag_times.hi)
            st.env[nid] = ListV(Range(lo, hi), Range(0, n.hi), content)
            return [st]
        kept = r_max(value_times, flag_times)
        st.env[nid] = self.allocate(st, self.site(nid), Entry(kept, (Range(0, n.hi),), content))
        return [st]

    def k_concat(self, nid, node, st):
        parts = self.val(st, node.operands[0])
        times = self.element_times(st, parts)
        inner = self.content(st, parts)
        count = self.length(st, parts)
        inner_length = inner.length if isinstance(inner, ListV) else (
            self.length(st, inner) if isinstance(inner, ArrayV) else Range(0, INF))
        length = Range(mul(count.lo, inner_length.lo), mul(count.hi, inner_length.hi))
        elem = inner.elem if isinstance(inner, ListV) else (self.content(st, inner) if isinstance(inner, ArrayV)
                                                             else None)
        if node.attr("container") == "list":
            lo = smax(st.ctl.lo, times.lo) if ge(count.lo, 1) else st.ctl.lo
            st.env[nid] = ListV(Range(lo, smax(st.ctl.hi, times.hi)), length, elem)
            return [st]
        st.env[nid] = self.allocate(st, self.site(nid), Entry(times, (length,), elem))
        return [st]

    def element_times(self, st: State, container: Any) -> Range:
        """Every element's time (the profiler's ``element_times``): per site for arrays, the list's own."""
        if isinstance(container, ArrayV):
            found = self.entries(st, container)
            return r_hull(*(e.elem for e in found)) if found else ANY_TIME
        if isinstance(container, ListV):
            return container.time
        return r_hull(ready(container), inner_of(container, st.heap)) if isinstance(container, Unknown) else ANY_TIME

    def content(self, st: State, container: Any) -> Any:
        if isinstance(container, ArrayV):
            found = None
            for e in self.entries(st, container):
                found = join(found, e.content, st.heap)
            return found
        if isinstance(container, ListV):
            return container.elem
        return None

    def k_tag_test(self, nid, node, st):
        value = self.val(st, node.operands[0])
        case = node.attr("case")
        time = st.ctl if isinstance(value, Parts) else r_max(ready(value), st.ctl)
        known = None
        if isinstance(value, Parts) and value.tag is not None:
            known = value.tag == case
        elif isinstance(value, ListV) and case in ("nil", "cons"):
            if ge(value.length.lo, 1):
                known = case == "cons"
            elif is_zero(value.length.hi):
                known = case == "nil"
        st.env[nid] = Scalar(time, known)
        return [st]

    def k_case_field(self, nid, node, st):
        value = self.val(st, node.operands[0])
        index = node.attr("index")
        if node.attr("case") == "cons":
            time = ready(value)
            if isinstance(value, ListV):
                if index == 0:
                    st.env[nid] = retime(value.elem, time)
                else:  # a tail exists only where the list is not empty (the tail of nil fails)
                    hi = value.length.hi
                    st.env[nid] = ListV(time, Range(smax(sub(value.length.lo, 1), 0),
                                                    hi if hi is INF else smax(sub(hi, 1), 0) if is_zero(hi) or
                                                    type(hi) is int else sub(hi, 1)), value.elem)
            else:
                st.env[nid] = Unknown(time, inner_of(value, st.heap))
        else:
            st.env[nid] = part(value, index, st.heap)
        return [st]

    def k_match_failure(self, nid, node, st):
        return []  # the run fails here: no profile to contain

    # -- intrinsics -----------------------------------------------------------------------------------------
    def k_native(self, nid, node, st):
        args = [self.val(st, o) for o in node.operands]
        st.env[nid] = self.intrinsic(st, node.attr("op"), args, nid, node)
        return [st]

    def intrinsic(self, st: State, name: str, args: list, nid: int, node: Node) -> Any:
        """An intrinsic that takes no function: its value and time, as `profiled_intrinsics` counts them."""
        if name in HIGHER_ORDER:
            self.note(node, f"'{name}' applied through a function value is outside the static model")
            self.widen(st)
            return Unknown(ANY_TIME, ANY_TIME)
        if name in SHAPE_READS:
            time = r_max(st.ctl, *(ready(a) for a in args))
            if name == "List.isEmpty":
                length = self.length(st, args[0])
                known = True if is_zero(length.hi) else (False if ge(length.lo, 1) else None)
                return Scalar(time, known)
            dim = 1 if name == "Array2D.length2" else 0
            return length_scalar(time, self.length(st, args[0], dim))
        if name in ("Array.zeroCreate", "Array2D.zeroCreate"):
            dims = tuple(count_of(a) for a in args)
            return self.allocate(st, self.site(nid), Entry(st.ctl, dims))
        if name == "Array.copy":
            source = args[0]
            return self.allocate(st, self.site(nid), Entry(self.element_times(st, source), self.dims(st, source) or
                                                           (Range(0, INF),), self.content(st, source)))
        if name == "Array.zip":
            first, second = args
            elem = r_max(self.element_times(st, first), self.element_times(st, second))
            content = Parts((retime(self.content(st, first), ZERO), retime(self.content(st, second), ZERO)))
            return self.allocate(st, self.site(nid), Entry(elem, self.dims(st, first) or (Range(0, INF),), content))
        if name in ("fst", "snd"):
            return part(args[0], 0 if name == "fst" else 1, st.heap)
        if name in ("List.rev", "List.distinct"):
            source = args[0]
            time = r_max(st.ctl, *(ready(a) for a in args))
            if isinstance(source, ListV):
                length = source.length if name == "List.rev" else Range(smin(source.length.lo, 1), source.length.hi)
                return ListV(time, length, source.elem)
            return Unknown(time, inner_of(source, st.heap))
        if name == "Map.merge":
            pairs = self.length(st, args[0])
            if not pairs.bounded:
                self.note(node, "'Map.merge' of a list whose length is unknown")
            end = self.finish(st, r_max(*(ready(a) for a in args)), pairs)
            return Scalar(end)
        cost = INTRINSIC_COSTS.get(name)
        if cost is not None and len(args) == 1 and not isinstance(args[0], (Parts, ArrayV)):
            end = self.finish(st, ready(args[0]), cost)
        else:
            start = r_max(*(consumed(a, st.heap) for a in args)) if args else ZERO
            end = self.finish(st, start, cost or 0)
        value = None
        if name in ("int", "int64") and len(args) == 1:
            value = int_value(args[0])
        elif name == "float" and len(args) == 1 and type(int_value(args[0])) is int:
            value = float(int_value(args[0]))
        return Scalar(end, value)

    # -- calls -------------------------------------------------------------------------------------------
    def k_call(self, nid, node, st):
        callee = self.val(st, node.operands[0])
        args = [self.val(st, o) for o in node.operands[1:]]
        out = []
        for s, value in self.apply(st, callee, args, nid, node):
            s.env[nid] = value
            out.append(s)
        return out

    def k_pap(self, nid, node, st):
        callee = self.val(st, node.operands[0])
        args = tuple(self.val(st, o) for o in node.operands[1:])
        time = r_max(*(ready(a) for a in args)) if args else ZERO
        if isinstance(callee, FnV):
            st.env[nid] = FnV(tuple(attrs.evolve(o, bound=o.bound + args) for o in callee.options), time)
        else:
            st.env[nid] = Unknown(time, ANY_TIME)
        return [st]

    def apply(self, st: State, fn: Any, args: list, nid: int, node: Node) -> list[tuple[State, Any]]:
        """Curried application (`profiling.apply_p`): a partial application, a call, or a call and more."""
        if not isinstance(fn, FnV) or not fn.options:
            return [(st, self.unknown_call(st, args, node, "a call of a function value the analysis cannot see"))]
        if len(fn.options) > 1:
            outcomes = []
            for option in fn.options:
                outcomes.extend(self.apply(st.fork(), FnV((option,), fn.time), args, nid, node))
            joined = join_states([s for s, _ in outcomes])
            value = None
            for _, v in outcomes:
                value = join(value, v, joined.heap)
            return [(joined, value)]
        option = fn.options[0]
        full = list(option.bound) + list(args)
        if len(full) < option.arity:
            time = r_max(fn.time, *(ready(a) for a in args)) if args else fn.time
            return [(st, FnV((attrs.evolve(option, bound=tuple(full)),), time))]
        now, rest = full[:option.arity], full[option.arity:]
        outcomes = self.invoke(st, option, now, nid, node)
        if not rest:
            return outcomes
        chained = []
        for s, value in outcomes:
            chained.extend(self.apply(s, value, rest, nid, node))
        return chained

    def invoke(self, st: State, option: FnOption, args: list, nid: int, node: Node) -> list[tuple[State, Any]]:
        if option.how == "func":
            return self.call_function(st, option.name, args, nid, node)
        if option.how == "extern":
            decl = self.decls[option.name][1]
            cost = decl.attr("cost", 1)
            start = r_max(*(consumed(a, st.heap) for a in args)) if args else ZERO
            end = self.finish(st, start, cost)
            return [(st, self.extern_result(option.name, end))]
        if option.how == "intrinsic":
            return [(st, self.intrinsic(st, option.name, args, nid, node))]
        if option.how == "operator":
            end = self.finish(st, r_max(*(ready(a) for a in args)), 1)
            return [(st, Scalar(end))]
        # a closure: its region over its captured values
        caller_env = st.env
        st.env = dict(option.env)
        outcomes = self.region(option.region, st, args)
        return self.returning(outcomes, option.region, caller_env)

    def returning(self, outcomes: list[State], region_id: int, caller_env: dict) -> list[tuple[State, Any]]:
        results = []
        for k, s in enumerate(outcomes):
            value = self.results(region_id, s)
            s.env = caller_env if len(outcomes) == 1 else dict(caller_env)
            results.append((s, value))
        return results

    def extern_result(self, name: str, end: Range) -> Any:
        """An extern's result is ready when it finishes; arrays it returns hold host elements (time 0) or
        elements of arrays it was given (ready before it started)."""
        result = _result_type(self.types.get(self.decls[name][0]), self.decls[name][1].attr("arity"))
        if isinstance(result, T.TPrim):
            return Scalar(end)
        return Unknown(end, Range(0, end.hi))

    def unknown_call(self, st: State, args: list, node: Node, message: str) -> Any:
        self.note(node, message)
        start = r_max(*(consumed(a, st.heap) for a in args)) if args else ZERO
        self.widen(st)
        return Unknown(Range(start.lo, INF), ANY_TIME)

    def call_function(self, st: State, name: str, args: list, nid: int, node: Node) -> list[tuple[State, Any]]:
        """A user function: its body, inline, on the arguments' values (`profiling.call_function`)."""
        _, decl = self.decls[name]
        active = [n for n, _ in self.stack]
        if name in active and name in self.unrolling:
            budget = self.unrolling[name]
            budget[0] -= 1
            if budget[0] < 0 or active.count(name) >= UNROLL_DEPTH:
                raise Unrolled(name)
        elif name in active:
            frame = self.recursion.get(name)
            if frame is not None:
                return [(st, frame.placeholder(self, st, args, node))]
            return [(st, self.unknown_call(st, args, node, f"the recursive call of '{name}' has no bound on its "
                                                             "depth"))]
        if len(self.stack) - sum(1 for n in active if n in self.unrolling) >= MAX_CALL_DEPTH:
            return [(st, self.unknown_call(st, args, node, "calls nested deeper than the analysis follows"))]
        if self.is_recursive(name) and name not in active:
            return self.recursive_call(st, name, decl, args, nid, node)
        caller_env = st.env
        st.env = {}
        self.stack.append((name, nid))
        try:
            outcomes = self.region(decl.regions[0], st, args)
        finally:
            self.stack.pop()
        return self.returning(outcomes, decl.regions[0], caller_env)

    # -- branches ----------------------------------------------------------------------------------------
    def k_if(self, nid, node, st):
        cond = self.val(st, node.operands[0])
        decided = truth(cond)
        raised = r_max(st.ctl, ready(cond))
        arms = [0] if decided is True else [1] if decided is False else [0, 1]
        relation = cond.value if isinstance(cond, Scalar) and isinstance(cond.value, sp.Basic) else None
        out = []
        for arm in arms:
            s = st if len(arms) == 1 else st.fork()
            saved = s.ctl
            s.ctl = raised
            if relation is not None and decided is None:
                s.facts = s.facts + ((relation if arm == 0 else sp.Not(relation)),)
            for outcome in self.region(node.regions[arm], s, ()):
                value = self.results(node.regions[arm], outcome)
                outcome.env[nid] = after_branch(value, outcome.ctl)
                outcome.ctl = saved
                outcome.facts = st.facts
                out.append(outcome)
        return out

    # -- outside the model --------------------------------------------------------------------------------
    def k_await(self, nid, node, st):
        return self.outside(nid, node, st, "asynchronous code is outside the static model")

    k_async = k_await

    def k_post(self, nid, node, st):
        return self.outside(nid, node, st, "actor messages are outside the static model")

    k_tell = k_post

    def k_actor(self, nid, node, st):
        st.env[nid] = Unknown(ZERO, ANY_TIME)
        return [st]



# -- helpers ----------------------------------------------------------------------------------------------

def _self_recursive(graph: Graph, decls: dict) -> frozenset[str]:
    """The functions whose bodies name themselves (self-recursion; mutual recursion is not bounded)."""
    found = set()
    for name, (decl_id, decl) in decls.items():
        if decl.kind != "func":
            continue
        for node_id in graph.walk_region(decl.regions[0]):
            node = graph.node(node_id)
            if node.kind == "ref" and node.attr("name") == name:
                found.add(name)
                break
    return frozenset(found)


def cap(states: list[State]) -> list[State]:
    """At most `MAX_STATES` states: those with the same span interval are joined first, then all."""
    if len(states) <= MAX_STATES:
        return states
    groups: dict[tuple, list[State]] = {}
    for s in states:
        groups.setdefault((str(s.top.lo), str(s.top.hi)), []).append(s)
    merged = [join_states(g) for g in groups.values()]
    if len(merged) <= MAX_STATES:
        return merged
    return [join_states(states)]


def _structure(values: list, heap: dict) -> Any:
    """The element structure of a container of ``values`` (None for scalars)."""
    found = None
    for v in values:
        if isinstance(v, Scalar):
            continue
        found = join(found, v, heap)
    return found


def _holds_arrays(v: Any) -> bool:
    if isinstance(v, Parts):
        return any(_holds_arrays(p) for p in v.parts)
    return isinstance(v, (ArrayV, ListV, Unknown))


def _result_type(t: Any, arity: int) -> Any:
    for _ in range(arity or 0):
        if not isinstance(t, T.TFun):
            return None
        t = t.result
    return t


def _intrinsic_arity(name: str) -> int:
    arity, t = 0, INTRINSICS[name].body
    while isinstance(t, T.TFun):
        arity, t = arity + 1, t.result
    return arity


def prim_value(node: Node, values: list) -> tuple[Any, Range | None]:
    """The value of an integer or boolean operation when its operands' values are known."""
    op, kind = node.attr("op"), node.attr("type")
    known = [v.value if isinstance(v, Scalar) else None for v in values]
    if any(k is None for k in known):
        return None, _range_of(op, values)
    if kind == "bool" or all(isinstance(k, bool) for k in known):
        return _bool_op(op, known), None
    if kind == "float" or any(type(k) is float for k in known):
        return _float_op(op, known), None
    if kind is not None and kind not in INTEGRAL:
        return None, None
    try:
        result = _int_op(op, known)
    except (ZeroDivisionError, TypeError):
        return None, None
    if isinstance(result, int) and not isinstance(result, bool):
        lo, hi = _INT_LIMITS.get(kind or "int", _INT_LIMITS["int"])
        if not lo <= result <= hi:
            return None, None  # it wraps at run time: the symbolic value would be wrong
    return result, None


def _bool_op(op: str, known: list) -> Any:
    if op == "not":
        (a,) = known
        return (not a) if isinstance(a, bool) else sp.Not(a)
    if op in ("=", "<>") and all(isinstance(k, bool) for k in known):
        return (known[0] == known[1]) if op == "=" else (known[0] != known[1])
    return None


def _float_op(op: str, known: list) -> Any:
    """A float64 operation on known operands (Python's floats are IEEE doubles, as numpy's float64)."""
    if not all(type(k) is float for k in known):
        return None
    if len(known) == 1:
        return -known[0] if op == "neg" else None
    a, b = known
    if op in ("+", "-", "*"):
        return a + b if op == "+" else a - b if op == "-" else a * b
    if op == "/" and b != 0.0:
        return a / b
    comparisons = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b, "<>": a != b}
    return comparisons.get(op)


_COMPARISONS = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "=": sp.Eq, "<>": sp.Ne}


def _int_op(op: str, known: list) -> Any:
    if len(known) == 1:
        return norm(-known[0]) if op == "neg" else None
    a, b = known
    concrete = type(a) is int and type(b) is int
    if op == "+":
        return add(a, b)
    if op == "-":
        return sub(a, b)
    if op == "*":
        return a * b if concrete else norm(sp.expand(a * b))
    if op in _COMPARISONS:
        if concrete:
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b, "<>": a != b}[op]
        relation = _COMPARISONS[op](a, b)
        return True if relation is sp.true else False if relation is sp.false else relation
    if op in ("/", "%"):
        if concrete:
            quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # truncating, as F#
            return quotient if op == "/" else a - b * quotient
        if ge(a, 0) and ge(b, 1):
            return norm(sp.floor(a / b)) if op == "/" else norm(sp.Mod(a, b))
    if concrete and op in ("&&&", "|||", "^^^", "<<<", ">>>") and a >= 0 and b >= 0:
        return {"&&&": a & b, "|||": a | b, "^^^": a ^ b, "<<<": a << b if b < 64 else None,
                ">>>": a >> b}[op]
    return None


def _range_of(op: str, values: list) -> Range | None:
    """Bounds of ``a + b`` / ``a - b`` when the operands are known or bounded."""
    if op not in ("+", "-") or len(values) != 2:
        return None
    bounds = []
    for v in values:
        if not isinstance(v, Scalar):
            return None
        if v.value is not None and not isinstance(v.value, bool):
            bounds.append(point(v.value))
        elif v.vrange is not None:
            bounds.append(v.vrange)
        else:
            return None
    a, b = bounds
    if op == "+":
        return Range(add(a.lo, b.lo), add(a.hi, b.hi))
    if b.hi is INF:
        return None
    return Range(sub(a.lo, b.hi), sub(a.hi, b.lo))

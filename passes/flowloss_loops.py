"""Flow-loss iteration rules: index spaces, loops, reductions and recursion, summed in closed form.

Its one concern is the constructs that run a region many times, for the
interpreter of `nanopass.passes.flowloss_interp` (which mixes `LoopRules` in).
Each runs its region *once*, with symbolic indices and with the times carried
from one iteration to the next as symbols, and sums the iterations:

* independent iterations (an index space whose iterations do not read what
  earlier ones wrote): work is the sum over the indices, span the latest
  iteration; several outcomes of the region are combined set by set
  (`combine_outcomes`);
* carried iterations (``for``/``foreach`` carried values, a reduction's
  accumulator, array elements one iteration writes and a later one reads):
  each carried time is a max-plus function of the times carried in, and
  `chain_bound` gives its value after k iterations (`ClosedForm`);
* whether array elements carry anything between iterations is decided by z3
  over the index expressions recorded while the region ran (`may_depend`);
* a recursive function's depth is bounded by a size when its recursive calls
  shrink a list argument or count an integer argument down to a bound the
  branch conditions on the path give (`recursive_call`).
"""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import sympy as sp
import z3

from nanopass.graph import Node
from nanopass.passes.flowloss_algebra import (
    INF, ZERO, Figure, Range, add, ceil_log2, chain_bound, depends, ge, is_zero, maxplus_terms, mul, norm, point,
    r_add, r_hull, r_max, smax, smin, sub, substitute)
from nanopass.passes.flowloss_domain import (
    ArrayV, Entry, ListV, Parts, Scalar, State, Unknown, after_branch, count_of, inner_of, int_value, join,
    join_states, leaves, minus_one, ready, retime, to_unknown, truth)

Z3_TIMEOUT_MS = 2000
UNROLLED_ITERATIONS = 256  # a known trip count up to this is iterated number by number (exact)
UNROLLED_WHILE = 1024  # a while loop whose conditions the values decide is run up to this many iterations


@attrs.frozen(slots=True)
class LoopFrame:
    """An enclosing iteration: its index symbols, their first values and their counts."""

    node: int
    symbols: tuple
    lows: tuple
    counts: tuple  # one Range per symbol

    def last(self, k: int, which: str = "hi") -> Figure:
        count = self.counts[k].hi if which == "hi" else self.counts[k].lo
        return INF if count is INF else add(self.lows[k], sub(count, 1))


@attrs.frozen(slots=True)
class Access:
    """An array access recorded while a loop's region ran: the site, read or write, the indices."""

    site: Any
    write: bool
    indices: tuple  # one figure per dimension, None where not known
    frames: tuple  # the LoopFrames around it, outermost first
    node: int | None = None  # the store
    when: Range | None = None  # when a store's element is ready


@attrs.frozen(slots=True)
class Point:
    """A serialization point: a site whose independent iterations a sequential lowering puts in order."""

    node: int
    origin: str
    ops: Figure | None  # None when the count is unbounded


@attrs.frozen(slots=True)
class Leaf:
    """One time carried between iterations: its symbols (lower, upper end), its value before the first
    iteration, and what one iteration makes of it."""

    lo_symbol: sp.Symbol
    hi_symbol: sp.Symbol
    init: Range
    next: Range = ZERO


class Carried:
    """The abstract values carried into an iteration, their times replaced by symbols."""

    def __init__(self, interp: Any, values: list):
        self.interp = interp
        self.leaves: list[Leaf] = []
        self.templates = [self._symbolize(v) for v in values]

    def _symbolize(self, v: Any) -> Any:
        if isinstance(v, Parts):
            return attrs.evolve(v, parts=tuple(self._symbolize(p) for p in v.parts))
        lo = self.interp.fresh("u", nonnegative=True)
        hi = self.interp.fresh("w", nonnegative=True)
        self.leaves.append(Leaf(lo, hi, v.time))
        time = Range(lo, hi)
        if isinstance(v, Scalar):
            return Scalar(time)
        if isinstance(v, ListV):
            return ListV(time, Range(0, INF), v.elem)
        return attrs.evolve(v, time=time)

    def widen_sites(self, results: list) -> bool:
        """Let each carried array stand for the arrays the iteration yields too; whether anything changed."""
        changed = False
        widened = []
        for template, result in zip(self.templates, results):
            new = _union_sites(template, result)
            changed |= new != template
            widened.append(new)
        self.templates = widened
        return changed

    def sites(self) -> set:
        found: set = set()
        for template in self.templates:
            found |= _sites_in(template)
        return found


def _union_sites(template: Any, result: Any) -> Any:
    if isinstance(template, Parts) and isinstance(result, Parts) and len(template.parts) == len(result.parts):
        return attrs.evolve(template, parts=tuple(_union_sites(t, r) for t, r in zip(template.parts, result.parts)))
    if isinstance(template, ArrayV) and isinstance(result, ArrayV):
        return attrs.evolve(template, sites=template.sites | result.sites)
    return template


def _sites_in(v: Any) -> set:
    if isinstance(v, Parts):
        return set().union(*(_sites_in(p) for p in v.parts)) if v.parts else set()
    if isinstance(v, ArrayV):
        return set(v.sites)
    if isinstance(v, ListV):
        return _sites_in(v.elem) if v.elem is not None else set()
    return set()


def _align(template: Any, result: Any) -> list[Range] | None:
    """The result's time for each of the template's leaves, when the two have the same shape."""
    if isinstance(template, Parts):
        if not isinstance(result, Parts) or len(result.parts) != len(template.parts):
            return None
        out: list[Range] = []
        for t, r in zip(template.parts, result.parts):
            found = _align(t, r)
            if found is None:
                return None
            out.extend(found)
        return out
    if isinstance(result, Parts) or type(result) is not type(template):
        return None
    return [result.time]


def _leafcount_of(template: Any) -> int:
    if isinstance(template, Parts):
        return sum(_leafcount_of(p) for p in template.parts)
    return 1


def _rebuild(template: Any, times: list[Range], result: Any, heap: dict) -> Any:
    """The template's shape with the leaves' final times (the result's shape, flattened, when they differ)."""
    if _align(template, result) is None:
        inner = inner_of(result, heap)
        return Unknown(r_hull(*times) if times else ZERO, inner)
    queue = list(times)

    def build(t: Any, r: Any) -> Any:
        if isinstance(t, Parts):
            return attrs.evolve(r, parts=tuple(build(tp, rp) for tp, rp in zip(t.parts, r.parts)))
        time = queue.pop(0)
        if isinstance(r, Scalar):
            return Scalar(time)
        return attrs.evolve(r, time=time)

    return build(template, result)


class ClosedForm:
    """The carried times after k iterations, from what one iteration makes of them (max-plus, closed form).

    Upper ends: each leaf's next upper end is ``max(b, w + c, ...)``.  With only
    its own term (a chain through itself) a leaf after k iterations is at most
    ``max(x0 + S, b + S - c)``, S the sum of the steps of those k iterations
    (``k*c`` when the step does not depend on the index; sympy sums one that
    does, such as an inner loop's trip count); with terms of other leaves
    every leaf is bounded by the largest start, constant and step together.
    Lower ends keep each leaf's own term only (dropping terms of a max lowers
    it, so the bound stays below): ``max(x0 + S, b + S - c)`` again, with the
    smallest constant and the largest step.  A trip count that is a small
    number is iterated instead, number by number, which is exact.
    """

    def __init__(self, leaf_list: list[Leaf], interp: Any, frame: LoopFrame):
        self.leaves = leaf_list
        self.interp = interp
        self.frame = frame
        self.his = [leaf.hi_symbol for leaf in leaf_list]
        self.los = [leaf.lo_symbol for leaf in leaf_list]
        self.upper = [maxplus_terms(leaf.next.hi, self.his) for leaf in leaf_list]
        self.lower = [maxplus_terms(leaf.next.lo, self.los) for leaf in leaf_list]
        self.bounded = all(u is not None for u in self.upper)
        self.coupled = any(u is not None and set(u[1]) - {leaf.hi_symbol} for u, leaf in zip(self.upper, leaf_list))

    def eliminate(self, x: Figure | None, upper: bool) -> Figure | None:
        return None if x is None else self.interp.over_index(x, self.frame, upper)

    @property
    def grows(self) -> bool:
        """Whether any carried time depends on the one carried in (a chain)."""
        return any(u is None or u[1] for u in self.upper)

    @property
    def climbs(self) -> bool:
        """Whether a chain adds a step that may be positive on every iteration."""
        return any(u is None or any(not is_zero(c) for c in u[1].values()) for u in self.upper)

    def steps(self, step: Figure, k: Figure, upper: bool) -> Figure:
        """The sum of ``step`` over the first ``k`` iterations."""
        frame = self.frame
        if not depends(step, frame.symbols):
            return mul(k, step)
        if len(frame.symbols) != 1 or k is INF:
            return mul(k, self.eliminate(step, upper))
        symbol, low = frame.symbols[0], frame.lows[0]
        total = sp.summation(step, (symbol, low, add(low, sub(k, 1))))
        if total.has(sp.Sum):
            return mul(k, self.eliminate(step, upper))
        return norm(sp.expand(total))

    def chain(self, start: Figure, constant: Figure | None, step: Figure | None, k: Figure, upper: bool) -> Figure:
        """A leaf after ``k`` >= 1 iterations of ``x -> max(constant, x + step)`` from ``start``."""
        if step is None:
            return self.eliminate(constant, upper) if constant is not None else start
        total = self.steps(step, k, upper)
        chained = add(start, total)
        if constant is None:
            return chained
        last = add(self.eliminate(constant, upper), sub(total, self.eliminate(step, not upper)))
        return smax(chained, last) if upper else smax(chained, last, self.eliminate(constant, False))

    def iterated(self, k: int, upper: bool) -> list[Figure] | None:
        """The leaves after ``k`` iterations of the max-plus map itself, index by index (exact), when ``k``
        is a small number and every figure is one."""
        terms = self.upper if upper else self.lower
        if k > UNROLLED_ITERATIONS or any(t is None for t in terms) or len(self.frame.symbols) != 1:
            return None
        symbols = self.his if upper else self.los
        values = [leaf.init.hi if upper else leaf.init.lo for leaf in self.leaves]
        if any(type(v) is not int for v in values):
            return None
        symbol, low = self.frame.symbols[0], self.frame.lows[0]
        if type(low) is not int:
            return None
        for step in range(k):
            at = {symbol: low + step}
            nxt = []
            for constant, offsets in terms:
                candidates = [] if constant is None else [substitute(constant, at)]
                for carried, offset in offsets.items():
                    candidates.append(add(values[symbols.index(carried)], substitute(offset, at)))
                best = smax(*candidates) if candidates else 0
                if type(best) is not int:
                    return None
                nxt.append(best)
            values = nxt
        return values

    def hi_at(self, k: Figure) -> list[Figure]:
        """Upper ends after ``k`` iterations."""
        if is_zero(k):
            return [leaf.init.hi for leaf in self.leaves]
        if not self.bounded:
            return [INF for _ in self.leaves]
        if type(k) is int and k > 0:
            found = self.iterated(k, True)
            if found is not None:
                return found
        if k is INF:
            if self.climbs:
                return [INF for _ in self.leaves]
            return [smax(leaf.init.hi, self.eliminate(u[0], True) if u[0] is not None else 0)
                    for leaf, u in zip(self.leaves, self.upper)]
        if self.coupled:
            start = smax(*(leaf.init.hi for leaf in self.leaves))
            constants = [self.eliminate(u[0], True) for u in self.upper if u[0] is not None]
            steps = [self.eliminate(c, True) for u in self.upper for c in u[1].values()]
            bound = chain_bound(start, smax(*constants) if constants else None, smax(*steps) if steps else None, k)
            return [bound for _ in self.leaves]
        return [self.chain(leaf.init.hi, constant, offsets.get(leaf.hi_symbol), k, True)
                for leaf, (constant, offsets) in zip(self.leaves, self.upper)]

    def lo_at(self, k: Figure) -> list[Figure]:
        """Lower ends after ``k`` iterations (``k`` the fewest the loop may run)."""
        if is_zero(k):
            return [leaf.init.lo for leaf in self.leaves]
        if type(k) is int and k > 0:
            found = self.iterated(k, False)
            if found is not None:
                return found
        out = []
        for leaf, terms in zip(self.leaves, self.lower):
            if terms is None:
                bound = self.eliminate(substitute(leaf.next.lo, {s: 0 for s in self.los}), False)
                bound = bound if not depends(bound, self.los) else 0
                holds_at_zero = False
            else:
                constant, offsets = terms
                step = offsets.get(leaf.lo_symbol)
                bound = self.chain(leaf.init.lo, constant, step, k, False)
                # max(x0 + k*c, b + (k-1)*c) is x0 at k = 0 too when b - c <= x0
                holds_at_zero = constant is None or (
                    step is not None and not depends(constant, self.frame.symbols)
                    and not depends(step, self.frame.symbols) and ge(leaf.init.lo, sub(constant, step)))
            out.append(bound if ge(k, 1) or holds_at_zero else smin(leaf.init.lo, bound))
        return out

    def upper_subs(self, k: Figure) -> dict:
        return dict(zip(self.his, self.hi_at(k)))

    def lower_subs(self, k: Figure) -> dict:
        return dict(zip(self.los, self.lo_at(k)))

    def first_subs(self) -> dict:
        return {leaf.lo_symbol: leaf.init.lo for leaf in self.leaves}


def _no_inf(mapping: dict) -> bool:
    return all(v is not INF for v in mapping.values())


def _safe_subs(x: Figure, mapping: dict) -> Figure:
    """Substitute, reading any use of an unbounded value as unbounded."""
    if not mapping or type(x) is int:
        return x
    if not _no_inf(mapping) and depends(x, [k for k, v in mapping.items() if v is INF]):
        return INF
    return substitute(x, {k: v for k, v in mapping.items() if v is not INF})


class LoopRules:
    """Iteration constructs for the flow-loss interpreter (mixed into `Interpreter`)."""

    # -- index symbols ----------------------------------------------------------------------------------
    def corners(self, frame: LoopFrame, which: str = "hi") -> list[dict]:
        """Substitutions of the first and last value of every index of ``frame``."""
        choices = []
        for k, symbol in enumerate(frame.symbols):
            last = frame.last(k, which)
            ends = [frame.lows[k]] if last is INF else [frame.lows[k], last]
            choices.append([(symbol, e) for e in ends])
        return [dict(combo) for combo in itertools.product(*choices)]

    def over_index(self, x: Figure, frame: LoopFrame, upper: bool) -> Figure:
        """The largest (``upper``) or smallest value of ``x`` over the indices (x is monotone in each)."""
        if frame is None or not depends(x, frame.symbols):
            return x
        if upper and any(frame.counts[k].hi is INF for k, s in enumerate(frame.symbols) if depends(x, [s])):
            return INF
        if not upper and any(frame.counts[k].hi is INF for k, s in enumerate(frame.symbols) if depends(x, [s])):
            return 0
        values = [_safe_subs(x, c) for c in self.corners(frame)]
        return smax(*values) if upper else smin(*values)

    def range_over_index(self, r: Range, frame: LoopFrame) -> Range:
        return Range(self.over_index(r.lo, frame, False), self.over_index(r.hi, frame, True))

    def total_work(self, work: Range, frame: LoopFrame, trips: Range) -> Range:
        """The work of every iteration together."""
        if not depends(work.lo, frame.symbols) and not depends(work.hi, frame.symbols):
            return Range(mul(trips.lo, work.lo), mul(trips.hi, work.hi))
        return Range(self._sum(work.lo, frame, "lo"), self._sum(work.hi, frame, "hi"))

    def _sum(self, w: Figure, frame: LoopFrame, which: str) -> Figure:
        if w is INF:
            return INF
        limits = []
        for k, symbol in enumerate(frame.symbols):
            last = frame.last(k, which)
            if last is INF:
                return INF if which == "hi" else 0
            limits.append((symbol, frame.lows[k], last))
        total = sp.summation(w, *limits)
        if total.has(sp.Sum):  # no closed form: every iteration at the bound of the index range
            count = 1
            for k in range(len(frame.symbols)):
                count = mul(count, frame.counts[k].hi if which == "hi" else frame.counts[k].lo)
            return mul(count, self.over_index(w, frame, which == "hi"))
        return norm(sp.expand(total))

    # -- running a region once per iteration -------------------------------------------------------------
    def run_body(self, st: State, region_id: int, frame: LoopFrame, fixed: list, templates: list,
                 flow: dict, trips: Range, carried_first: bool) -> tuple[list[State], list[Access]]:
        """One run of the region with symbolic indices and carried times; what it recorded."""
        s = st.fork()
        s.work, s.top = ZERO, ZERO
        for site, (leaf, entry) in flow.items():
            s.heap[site] = Entry(Range(leaf.lo_symbol, leaf.hi_symbol), entry.dims, entry.content)
        accesses: list[Access] = []
        self.recording.append(accesses)
        self.loops.append(frame)
        self.multipliers.append(mul(self.multipliers[-1], trips.hi))
        try:
            args = list(templates) + list(fixed) if carried_first else list(fixed) + list(templates)
            outcomes = self.region(region_id, s, args)
        finally:
            self.multipliers.pop()
            self.loops.pop()
            self.recording.pop()
        return outcomes, list(dict.fromkeys(accesses))

    def iterate(self, st: State, node: Node, region_id: int, frame: LoopFrame, trips: Range, fixed: list,
                carried: list, parallel: bool, results: Any,
                carried_first: bool = False) -> list[tuple[State, Range, Any, list, bool]]:
        """Run an iteration construct: per outcome state, the element times and structure its region yields
        (``results(outcome)`` gives the element value and the next carried values), the final carried values,
        and whether iterations are independent.  The region's params are the fixed ones (indices, element)
        then the carried ones, or the carried ones first (a reduction's accumulator)."""
        state = Carried(self, carried)
        flow: dict = {}
        for _ in range(3):
            outcomes, accesses = self.run_body(st, region_id, frame, fixed, state.templates, flow, trips,
                                               carried_first)
            if not outcomes:
                return []
            modified = self.modified_sites(st, outcomes)
            yielded = [results(o)[1] for o in outcomes]
            changed = False
            for values in yielded:
                changed |= state.widen_sites(values)
            needed = set(self.flow_sites(modified, accesses, frame)) | (modified & state.sites())
            fresh = needed - set(flow)
            for site in fresh:
                entry = st.heap.get(site)
                if entry is None:  # allocated by the region itself: nothing before the first iteration
                    entry = join_states(outcomes).heap[site]
                    init = ZERO
                else:
                    init = entry.elem
                leaf = Leaf(self.fresh("u", nonnegative=True), self.fresh("w", nonnegative=True), init)
                flow[site] = (leaf, entry)
            if not fresh and not changed:
                break
        else:
            self.note(node, "the arrays this loop carries between iterations did not settle")
            self.widen(st)
            return [(st, Range(0, INF), None, [to_unknown(v, st.heap) for v in carried], False)]
        if parallel and not flow:
            return self.combine_outcomes(st, node, outcomes, frame, trips, results)
        covered = self.covered_sites(st, node, region_id, frame, trips, accesses, flow)
        return [self.sequential(st, node, outcomes, frame, trips, state, flow, results, covered)]

    def covered_sites(self, st: State, node: Node, region_id: int, frame: LoopFrame, trips: Range,
                      accesses: list[Access], flow: dict) -> dict:
        """Arrays the loop writes whole: each iteration stores, unconditionally, at its own index, and the
        indices run from 0 over exactly the array's length.  After the loop no element keeps its old time:
        site -> the writes' times."""
        body = set(self.graph.region(region_id).body)
        found: dict = {}
        if len(frame.symbols) != 1 or not trips.exact or frame.lows[0] != 0:
            return found
        for site in {a.site for a in accesses if a.write and a.site is not None and a.site not in flow}:
            entry = st.heap.get(site)
            writes = [a for a in accesses if a.site == site and a.write]
            if entry is None or len(entry.dims) != 1 or not entry.dims[0].exact or any(
                    a.frames[-1] != frame or a.when is None for a in writes):
                continue
            covering = any(a.node in body and a.indices == (frame.symbols[0],) for a in writes)
            if covering and sub(entry.dims[0].lo, trips.lo) == 0:
                found[site] = [a.when for a in writes]
        return found

    def modified_sites(self, st: State, outcomes: list[State]) -> set:
        found = set()
        for o in outcomes:
            for site, entry in o.heap.items():
                if st.heap.get(site) is not entry:
                    found.add(site)
        return found

    # -- independent iterations -------------------------------------------------------------------------------
    def combine_outcomes(self, st: State, node: Node, outcomes: list[State], frame: LoopFrame, trips: Range,
                         results: Any) -> list[tuple[State, Range, Any, list, bool]]:
        """Independent iterations, each taking one of the region's outcomes.

        With a few outcomes and a known trip count N, every non-empty set A of
        outcomes the iterations may take is one state: work from
        ``sum(w_a) + (N - |A|) * min(w_a)`` to ``sum(w_a) + (N - |A|) * max(w_a)``,
        span the largest of A's: both ends are attained by some input.
        """
        index_free = all(not depends(x, frame.symbols) for o in outcomes for x in (o.work.lo, o.work.hi))
        if len(outcomes) == 1 or len(outcomes) > self.MAX_SUBSET_OUTCOMES or not trips.exact or not index_free:
            joined = join_states(outcomes)
            element, _ = results(joined)
            return [self.finish_parallel(st, [joined], self.total_work(joined.work, frame, trips), frame, trips,
                                         element)]
        n = trips.lo
        found = []
        for size in range(1, len(outcomes) + 1):
            if type(n) is int and size > n:
                break
            for subset in itertools.combinations(outcomes, size):
                rest = sub(n, size)
                lo = add(*(o.work.lo for o in subset), mul(rest, smin(*(o.work.lo for o in subset))))
                hi = add(*(o.work.hi for o in subset), mul(rest, smax(*(o.work.hi for o in subset))))
                joined = join_states(list(subset))
                element = None
                for o in subset:
                    element = join(element, results(o)[0], joined.heap)
                base = st if len(outcomes) == 1 else st.fork()
                found.append(self.finish_parallel(base, list(subset), Range(lo, hi), frame, trips, element,
                                                  every=True))
        return found

    def finish_parallel(self, st: State, outcomes: list[State], work: Range, frame: LoopFrame, trips: Range,
                        element: Any, every: bool = False) -> tuple[State, Range, Any, list, bool]:
        """Fold the iterations' outcomes into ``st``: work, span (``every``: each outcome happens), heap."""
        tops_hi = [self.over_index(o.top.hi, frame, True) for o in outcomes]
        if ge(trips.lo, 1):
            tops_lo = [smax(*(_safe_subs(o.top.lo, c) for c in self.corners(frame, "lo"))) for o in outcomes]
            top_lo = smax(*tops_lo) if every else smin(*tops_lo)
        else:
            top_lo = 0
        st.work = r_add(st.work, work)
        st.top = r_max(st.top, Range(top_lo, smax(*tops_hi)))
        heap = join_states(outcomes).heap if len(outcomes) > 1 else outcomes[0].heap
        st.heap = self.settle_heap(st.heap, heap, frame, {}, {})
        times = self.range_over_index(ready(element), frame)
        return st, times, element, [], True

    def settle_heap(self, before: dict, after: dict, frame: LoopFrame, upper: dict, lower: dict,
                    flow: dict | None = None, finals: dict | None = None, covered: dict | None = None) -> dict:
        """The heap after every iteration: entries the region changed hold what any iteration wrote (and
        what they held before, unless the loop wrote them whole)."""
        out = dict(before)
        for site, entry in after.items():
            if before.get(site) is entry:
                continue
            if flow and site in flow:
                out[site] = Entry(finals[site], self._dims(entry.dims, frame), entry.content)
                continue
            if covered and site in covered:
                written = r_hull(*covered[site])
                lo = self.over_index(_safe_subs(written.lo, lower), frame, False)
                hi = self.over_index(_safe_subs(written.hi, upper), frame, True)
                out[site] = Entry(Range(lo, hi), self._dims(entry.dims, frame), entry.content)
                continue
            lo = self.over_index(_safe_subs(entry.elem.lo, lower), frame, False)
            hi = self.over_index(_safe_subs(entry.elem.hi, upper), frame, True)
            settled = Entry(Range(lo, hi), self._dims(entry.dims, frame), entry.content)
            old = before.get(site)
            out[site] = Entry(r_hull(old.elem, settled.elem), settled.dims, settled.content) if old else settled
        return out

    def _dims(self, dims: tuple, frame: LoopFrame) -> tuple:
        return tuple(self.range_over_index(d, frame) for d in dims)

    # -- carried iterations ---------------------------------------------------------------------------------
    def sequential(self, st: State, node: Node, outcomes: list[State], frame: LoopFrame, trips: Range,
                   state: Carried, flow: dict, results: Any,
                   covered: dict | None = None) -> tuple[State, Range, Any, list, bool]:
        body = join_states(outcomes)
        element, yielded = results(body)
        leaf_list: list[Leaf] = []
        position = 0
        for template, value in zip(state.templates, yielded):
            count = _leafcount_of(template)
            aligned = _align(template, value)
            nexts = aligned if aligned is not None else [leaves(value)] * count
            for leaf, nxt in zip(state.leaves[position:position + count], nexts):
                leaf_list.append(attrs.evolve(leaf, next=nxt))
            position += count
        flow_leaves = {}
        for site, (leaf, _) in flow.items():
            entry = body.heap.get(site)
            nxt = entry.elem if entry is not None else Range(leaf.lo_symbol, leaf.hi_symbol)
            flow_leaves[site] = attrs.evolve(leaf, next=nxt)
        all_leaves = leaf_list + list(flow_leaves.values())
        form = ClosedForm(all_leaves, self, frame)
        if not form.bounded:
            self.note(node, "a time carried by this loop is not a max-plus function of the one before")
        k_hi, k_lo = trips.hi, trips.lo
        # the state before the last iteration; with no iteration at all the loop adds nothing to the span,
        # so k_hi - 1 need not be clamped at 0 (an upper bound for a loop that did not run is harmless)
        last_hi = form.upper_subs(INF if k_hi is INF else sub(k_hi, 1))
        first_lo = form.first_subs()
        finals_hi, finals_lo = form.hi_at(k_hi), form.lo_at(k_lo)
        # work and span of every iteration together
        st.work = r_add(st.work, self.total_work(body.work, frame, trips))
        top_hi = self.over_index(_safe_subs(body.top.hi, last_hi), frame, True)
        if k_hi is INF and depends(body.top.hi, form.his) and form.grows:
            top_hi = INF
        # every time a loop leaves is a finish or earlier, so its carried values' times are below the span
        candidates = [x for x in finals_lo if not depends(x, form.los)]
        if ge(k_lo, 1):  # the first iteration runs
            candidates += [_safe_subs(body.top.lo, {**first_lo, **c}) for c in self.corners(frame, "lo")[:1]]
        if ge(k_lo, 2):
            last_lo = form.lower_subs(sub(k_lo, 1))
            candidates += [_safe_subs(body.top.lo, {**last_lo, **c}) for c in self.corners(frame, "lo")[-1:]]
        top_lo = self.over_index(smax(*candidates), frame, False) if candidates else 0
        st.top = r_max(st.top, Range(top_lo, top_hi))
        finals = {}
        for k, site in enumerate(flow_leaves, start=len(leaf_list)):
            finals[site] = Range(finals_lo[k], finals_hi[k])
        st.heap = self.settle_heap(st.heap, body.heap, frame, last_hi, first_lo, flow_leaves, finals, covered)
        # what the iterations yield
        element_times = Range(self.over_index(_safe_subs(ready(element).lo, first_lo), frame, False),
                              self.over_index(_safe_subs(ready(element).hi, last_hi), frame, True)) \
            if element is not None else ZERO
        final_values = []
        position = 0
        for template, value in zip(state.templates, yielded):
            count = _leafcount_of(template)
            times = [Range(finals_lo[position + k], finals_hi[position + k]) for k in range(count)]
            final_values.append(_rebuild(template, times, value, st.heap))
            position += count
        independent = not form.grows and not flow
        return st, element_times, element, final_values, independent

    # -- dependences through array elements -------------------------------------------------------------------
    def flow_sites(self, modified: set, accesses: list[Access], frame: LoopFrame) -> list:
        """The modified sites some iteration writes and a later iteration reads."""
        if any(a.write and a.site is None for a in accesses):
            return sorted(modified, key=repr)
        found = []
        for site in modified:
            writes = [a for a in accesses if a.site == site and a.write]
            reads = [a for a in accesses if a.site == site and not a.write]
            if any(self.may_depend(w, r, frame) for w in writes for r in reads):
                found.append(site)
        return found

    def may_depend(self, write: Access, read: Access, frame: LoopFrame) -> bool:
        """Whether iteration i may write an element that an iteration i' > i reads (z3 decides; unknown: yes)."""
        if any(x is None for x in write.indices + read.indices) or len(write.indices) != len(read.indices):
            return True
        if frame not in write.frames or frame not in read.frames:
            return True
        solver = z3.Solver()
        solver.set("timeout", Z3_TIMEOUT_MS)
        try:
            first = _Z3Side("a", write, frame)
            second = _Z3Side("b", read, frame)
            for side in (first, second):
                for constraint in side.constraints():
                    solver.add(constraint)
            solver.add(_lex_less([first.var(s) for s in frame.symbols], [second.var(s) for s in frame.symbols]))
            for x, y in zip(write.indices, read.indices):
                solver.add(first.term(x) == second.term(y))
        except _NotAffine:
            return True
        return solver.check() != z3.unsat

    # -- the constructs ---------------------------------------------------------------------------------------
    def k_parallel_for(self, nid, node, st):
        extents = [self.val(st, o) for o in node.operands]
        counts = tuple(count_of(e) for e in extents)
        when = r_max(st.ctl, *(ready(e) for e in extents))
        symbols = tuple(self.fresh("i", integer=True, nonnegative=True) for _ in counts)
        frame = LoopFrame(nid, symbols, (0,) * len(counts), counts)
        params = [Scalar(when, s, Range(0, _last(c))) for s, c in zip(symbols, counts)]
        trips = Range(mul_all(c.lo for c in counts), mul_all(c.hi for c in counts))
        container = node.attr("container")
        if is_zero(trips.hi):
            st.env[nid] = self.container(st, nid, container, Range(0, 0), None, counts, when, empty=True)
            return [st]
        region_id = node.regions[0]

        def results(o: State):
            return self.results(region_id, o), []

        out = []
        for s, times, element, _, independent in self.iterate(st, node, region_id, frame, trips, params, [], True,
                                                             results):
            structure = _structure_of(element)
            s.env[nid] = self.container(s, nid, container, times, structure, counts, when, trips=trips)
            out.append(s)
        self.point(nid, node, trips)
        return out

    def container(self, st: State, nid: int, container: str, times: Range, structure: Any, counts: tuple,
                  when: Range, empty: bool = False, trips: Range | None = None) -> Any:
        """The array or list a ``parallel_for`` (or stencil) makes of its elements' times."""
        if container == "list":
            if empty:
                return ListV(when, point(0), None)
            nonempty = trips is not None and ge(trips.lo, 1)
            return ListV(Range(smax(when.lo, times.lo) if nonempty else when.lo, smax(when.hi, times.hi)),
                         Range(trips.lo, trips.hi), structure)
        return self.allocate(st, self.site(nid), Entry(times, counts, structure))

    def point(self, nid: int, node: Node, trips: Range) -> None:
        """Record a serialization point: ``trips - 1`` independent iterations sequenced, per run of the region."""
        count = trips.hi
        for frame in self.loops:  # a count that depends on an enclosing index: its largest
            count = self.over_index(count, frame, True)
        ops = None if count is INF else mul(self.multipliers[-1], smax(sub(count, 1), 0))
        if ops is INF:
            ops = None
        key = (nid, tuple(c for _, c in self.stack), tuple(f.node for f in self.loops))
        origin = node.attr("origin") or node.kind
        previous = self.points.get(key)
        if previous is None or (ops is not None and previous.ops is not None and ge(ops, previous.ops)):
            self.points[key] = Point(nid, origin, ops)

    def k_stencil(self, nid, node, st):
        size_value, source = (self.val(st, o) for o in node.operands)
        size = count_of(size_value)
        n = self.length(st, source)
        windows = Range(0 if size.hi is INF else smax(add(sub(n.lo, size.hi), 1), 0),
                        INF if n.hi is INF else smax(add(sub(n.hi, size.lo), 1), 0))
        when = r_max(ready(size_value), st.ctl)
        symbol = self.fresh("i", integer=True, nonnegative=True)
        frame = LoopFrame(nid, (symbol,), (0,), (windows,))
        region = self.graph.region(node.regions[0])
        yields_windows = tuple(region.results) == tuple(region.params[1:])
        window_site = self.site(nid, "window")
        st.heap[window_site] = Entry(self.element_times(st, source), (size,), self.content(st, source))
        window = ArrayV(st.ctl, frozenset({window_site}))
        params = [Scalar(when, symbol, Range(0, _last(windows))), window]
        if is_zero(windows.hi):
            st.env[nid] = self.allocate(st, self.site(nid), Entry(ZERO, (point(0),)))
            return [st]

        def results(o: State):
            return self.results(node.regions[0], o), []

        out = []
        for s, times, element, _, _ in self.iterate(st, node, node.regions[0], frame, windows, params, [], True,
                                                    results):
            if yields_windows:
                times, structure = s.ctl, window
            else:
                structure = _structure_of(element)
            s.env[nid] = self.allocate(s, self.site(nid), Entry(times, (windows,), structure))
            out.append(s)
        self.point(nid, node, windows)
        return out

    def k_for(self, nid, node, st):
        lo, hi = self.val(st, node.operands[0]), self.val(st, node.operands[1])
        inits = [self.val(st, o) for o in node.operands[2:]]
        index_time = r_max(ready(lo), ready(hi), st.ctl)
        first, last = _bounds(lo), _bounds(hi)
        trips = _tripcount_of(first, last)
        exact_first = first is not None and first.exact
        nonnegative = {"nonnegative": True} if first is not None and ge(first.lo, 0) else {}
        symbol = self.fresh("i", integer=True, **nonnegative)
        frame = LoopFrame(nid, (symbol,), (first.lo if exact_first else 0,),
                          (trips if exact_first else Range(trips.lo, INF),))
        index = Scalar(index_time, symbol if exact_first else None,
                       Range(first.lo, last.hi) if first is not None and last is not None else None)
        return self.carried_loop(nid, node, st, frame, trips, [index], inits)

    def k_foreach(self, nid, node, st):
        source = self.val(st, node.operands[0])
        inits = [self.val(st, o) for o in node.operands[1:]]
        trips = self.length(st, source)
        element = retime(self.content(st, source), r_max(self.element_times(st, source), st.ctl))
        symbol = self.fresh("i", integer=True, nonnegative=True)
        frame = LoopFrame(nid, (symbol,), (0,), (trips,))
        return self.carried_loop(nid, node, st, frame, trips, [element], inits)

    def carried_loop(self, nid, node, st, frame, trips, fixed, inits):
        """A ``for``/``foreach``: the region yields the next carried values; the node's value is the final ones."""
        region_id = node.regions[0]
        if is_zero(trips.hi):
            st.env[nid] = Parts(tuple(inits)) if inits else Scalar(st.ctl)
            return [st]

        def results(o: State):
            region = self.graph.region(region_id)
            return None, [self.val(o, r) for r in region.results]

        out = []
        for s, _, _, finals, independent in self.iterate(st, node, region_id, frame, trips, fixed, inits, False,
                                                         results):
            s.env[nid] = Parts(tuple(finals)) if inits else Scalar(s.ctl)
            out.append(s)
            if independent:
                self.point(nid, node, trips)
        return out

    def k_reduce(self, nid, node, st):
        source = self.val(st, node.operands[0])
        init = self.val(st, node.operands[1]) if len(node.operands) > 1 else None
        n = self.length(st, source)
        times = self.element_times(st, source)
        associative = bool(node.attr("associative"))
        if node.attr("origin") in self.SUMS and init is not None:
            return [self.summed(nid, st, n, times)]
        if init is None:
            if is_zero(n.hi):
                return []  # reducing an empty array fails at run time
            n = Range(smax(n.lo, 1), n.hi)
            acc, trips = Scalar(times), Range(sub(n.lo, 1), minus_one(n.hi))
        else:
            acc, trips = init, n
        if associative:
            self.reductions += 1
        element = retime(self.content(st, source), times)
        symbol = self.fresh("i", integer=True, nonnegative=True)
        frame = LoopFrame(nid, (symbol,), (0,), (trips,))
        region_id = node.regions[0]
        if is_zero(trips.hi):
            st.env[nid] = acc
            return [st]
        saved_top = st.top

        def results(o: State):
            return None, [self.results(region_id, o)]

        out = []
        for s, _, _, finals, _ in self.iterate(st, node, region_id, frame, trips, [element], [acc], False,
                                               results, carried_first=True):
            value = finals[0]
            if associative and self.reassociate:
                leaves_count = Range(add(trips.lo, 1), add(trips.hi, 1))
                finish = self.tree(ready(acc), times, leaves_count, s.ctl)
                s.top = r_max(saved_top, finish)
                value = retime(_structure_of(value), finish) if not isinstance(value, Scalar) else Scalar(finish)
            s.env[nid] = value
            out.append(s)
        return out

    def tree(self, first: Range, others: Range, leaves_count: Range, ctl: Range) -> Range:
        """`profiling.tree_ready`: ceil(log2 k) levels of one operation over k leaves."""
        levels_lo, levels_hi = ceil_log2(leaves_count.lo), ceil_log2(leaves_count.hi)
        # leaves 0 and 1 meet at the first level and their node stays first: both climb every level
        second = others.lo if ge(leaves_count.lo, 2) else 0
        lo = add(smax(first.lo, second, ctl.lo), levels_lo)
        hi = add(smax(first.hi, others.hi, ctl.hi), levels_hi)
        return Range(lo, hi)

    def summed(self, nid: int, st: State, n: Range, times: Range) -> State:
        """A sum is timed as ``Array.sum``: n - 1 additions from the first element (or a tree of them)."""
        self.reductions += 1
        adds = Range(smax(sub(n.lo, 1), 0), minus_one(n.hi))
        if is_zero(n.hi):
            st.env[nid] = Scalar(st.ctl)
            return st
        st.work = r_add(st.work, adds)
        if self.reassociate:
            finish = self.tree(times, times, n, st.ctl)
        else:
            finish = Range(add(smax(times.lo, st.ctl.lo), adds.lo), add(smax(times.hi, st.ctl.hi), adds.hi))
        if not ge(n.lo, 1):
            finish = Range(st.ctl.lo, finish.hi)
        st.top = r_max(st.top, finish)
        st.env[nid] = Scalar(finish)
        return st

    def k_loop(self, nid, node, st):
        """A ``while``: unrolled when the values given decide its condition at every iteration (exact);
        otherwise its trip count depends on the data, and its high ends are unbounded."""
        inits = [self.val(st, o) for o in node.operands]
        unrolled = self.unroll_while(nid, node, st, inits)
        if unrolled is not None:
            return unrolled
        cond_region, body_region = node.regions
        probe = st.fork()
        outcomes = self.region(cond_region, probe, inits)
        flags = [truth(self.results(cond_region, o)) for o in outcomes]
        if outcomes and all(f is False for f in flags):
            joined = join_states(outcomes)
            ctl = r_max(st.ctl, ready(self.results(cond_region, joined)))
            joined.env[nid] = Parts(tuple(after_branch(v, ctl) for v in inits)) if inits else Scalar(ctl)
            joined.ctl = st.ctl
            return [joined]
        self.note(node, "a while loop: its trip count depends on the data")
        cond_work = join_states(outcomes).work.lo if outcomes else st.work.lo
        cond_top = join_states(outcomes).top.lo if outcomes else st.top.lo
        body = st.fork()
        loose = [to_unknown(v, st.heap) for v in inits]
        for o in self.region(body_region, body, [Unknown(Range(0, INF), Range(0, INF)) for _ in loose]):
            for site, entry in o.heap.items():
                if st.heap.get(site) is not entry:
                    old = st.heap.get(site)
                    lo = smin(entry.elem.lo, old.elem.lo) if old is not None else entry.elem.lo
                    st.heap[site] = Entry(Range(lo, INF), entry.dims, entry.content)
        st.work = Range(cond_work, INF)
        st.top = Range(cond_top, INF)
        finals = tuple(Unknown(Range(v.time.lo, INF), Range(v.inner.lo, INF)) for v in loose)
        st.env[nid] = Parts(finals) if inits else Scalar(Range(st.ctl.lo, INF))
        return [st]

    def unroll_while(self, nid: int, node: Node, st: State, inits: list) -> list[State] | None:
        """Run a ``while`` iteration by iteration, as the profiler does: each condition raises the control
        time for the rest of the loop.  None when a condition is not decided or the loop runs too long."""
        cond_region, body_region = node.regions
        saved = list(self.reasons), dict(self.points), self.reductions
        running = [(st.fork(), list(inits))]
        finished: list[tuple[State, list]] = []
        for _ in range(UNROLLED_WHILE + 1):
            following = []
            for s, carried in running:
                for o in self.region(cond_region, s, carried):
                    flag = self.results(cond_region, o)
                    o.ctl = r_max(o.ctl, ready(flag))
                    decided = truth(flag)
                    if decided is None:
                        self.reasons, self.points, self.reductions = saved
                        return None
                    if not decided:
                        finished.append((o, carried))
                        continue
                    region = self.graph.region(body_region)
                    for b in self.region(body_region, o, carried):
                        following.append((b, [self.val(b, r) for r in region.results]))
            if len(following) > self.MAX_STATES_KEPT:
                self.reasons, self.points, self.reductions = saved
                return None
            running = following
            if not running:
                break
        else:
            self.reasons, self.points, self.reductions = saved
            return None
        out = []
        for o, carried in finished:
            o.env[nid] = Parts(tuple(after_branch(v, o.ctl) for v in carried)) if inits else Scalar(o.ctl)
            o.ctl = st.ctl
            out.append(o)
        return out

    # -- recursion ---------------------------------------------------------------------------------------------
    def is_recursive(self, name: str) -> bool:
        return name in self.recursive_names

    def recursive_call(self, st: State, name: str, decl: Node, args: list, nid: int, node: Node):
        """The outermost call of a self-recursive function: unrolled when the values given decide its depth
        (exact), else its body once with the deeper calls as symbols, summed over a depth a size bounds."""
        unrolled = self.unroll(st, name, decl, args, nid)
        if unrolled is not None:
            return unrolled
        frame = RecursionFrame(self, name, decl, args, st)
        self.recursion[name] = frame
        caller_env = st.env
        summary = State({}, ZERO, ZERO, ZERO, dict(st.heap))
        self.stack.append((name, nid))
        try:
            outcomes = self.region(decl.regions[0], summary, frame.params)
        finally:
            self.stack.pop()
            del self.recursion[name]
        st.env = caller_env
        for o in outcomes:  # arrays the recursion writes: written at any time
            for site, entry in o.heap.items():
                if st.heap.get(site) is not entry:
                    old = st.heap.get(site)
                    lo = smin(old.elem.lo, entry.elem.lo) if old is not None else 0
                    st.heap[site] = Entry(Range(lo, INF), entry.dims, entry.content)
        bound = frame.bound(outcomes)
        if bound is None:
            return [(st, self.unknown_call(st, args, node, f"the recursive call of '{name}' has no bound on its "
                                                           f"depth: {frame.problem}"))]
        work, duration, result_inner = bound
        if self.regions is not None:  # a deeper call in a region of the body does at most the outermost's
            upper = {frame.work_symbol: work, frame.time_symbol: duration}
            if frame.measure is not None:
                upper[frame.measure[2]] = frame.measure[3]
            self.regions.settle(upper, {frame.work_symbol: 0, frame.time_symbol: 0})
        start = r_max(st.ctl, *(ready(a) for a in args)) if args else st.ctl
        lo_work = smin(*(o.work.lo for o in outcomes)) if outcomes else 0
        lo_work = substitute(lo_work, {frame.work_symbol: 0, frame.time_symbol: 0})
        st.work = Range(add(st.work.lo, lo_work if not depends(lo_work, frame.symbols) else 0),
                        add(st.work.hi, work))
        st.top = Range(st.top.lo, smax(st.top.hi, add(start.hi, duration)))
        return [(st, Unknown(Range(0, add(start.hi, duration)), result_inner))]


    def unroll(self, st: State, name: str, decl: Node, args: list, nid: int):
        """The recursion inlined call by call; None when its depth is not decided within the budget."""
        from nanopass.passes.flowloss_interp import UNROLL_CALLS, Unrolled

        if not all(self.concrete(st, a) for a in args):
            return None  # symbolic sizes: the recursion's depth is a formula, not a count
        reasons, points, counter = list(self.reasons), dict(self.points), self.reductions
        trial = st.fork()
        caller_env = trial.env
        trial.env = {}
        self.unrolling[name] = [UNROLL_CALLS]
        self.stack.append((name, nid))
        try:
            outcomes = self.region(decl.regions[0], trial, args)
        except Unrolled:
            self.reasons, self.points, self.reductions = reasons, points, counter
            return None
        finally:
            self.stack.pop()
            del self.unrolling[name]
        return self.returning(outcomes, decl.regions[0], caller_env)


    def concrete(self, st: State, v: Any) -> bool:
        """Whether the sizes and integers in a value are numbers (so a recursion on them unrolls)."""
        if isinstance(v, Parts):
            return all(self.concrete(st, p) for p in v.parts)
        if isinstance(v, Scalar):
            return (v.value is None or type(v.value) in (int, bool, float)) and (
                v.vrange is None or (type(v.vrange.lo) is int and type(v.vrange.hi) is int))
        if isinstance(v, ListV):
            return type(v.length.lo) is int and type(v.length.hi) is int
        if isinstance(v, ArrayV):
            return all(type(d.lo) is int and type(d.hi) is int for d in self.dims(st, v))
        return True


class RecursionFrame:
    """The summary of a self-recursive function being bounded: its measure, its deeper calls as symbols.

    The body runs once with its parameters ready at time 0 (the start of the
    call: at any depth the arguments are ready by then) and the measure
    parameter symbolic.  A deeper call returns ``time_symbol`` after its
    arguments are ready and does ``work_symbol`` work.  Its depth is bounded
    when every deeper call's measure argument is smaller: a list's tail
    (depth at most the list's length), or an integer counted down by at least
    one while the path's branch conditions keep it at least some bound B
    (depth at most ``n - B + 1``).
    """

    def __init__(self, interp: Any, name: str, decl: Node, args: list, st: State):
        self.interp = interp
        self.name = name
        self.time_symbol = interp.fresh("x", nonnegative=True)
        self.work_symbol = interp.fresh("y", nonnegative=True)
        self.symbols = (self.time_symbol, self.work_symbol)
        self.problem = "no argument shrinks structurally"
        self.measure: tuple | None = None  # (position, kind, symbol, outer size)
        self.params = []
        for position, arg in enumerate(args):
            if self.measure is None and isinstance(arg, ListV) and arg.length.bounded:
                symbol = interp.fresh("len", integer=True, nonnegative=True)
                self.measure = (position, "list", symbol, arg.length.hi)
                self.params.append(ListV(ZERO, point(symbol), arg.elem))
                continue
            value = int_value(arg)
            bound_hi = value if value is not None else (arg.vrange.hi if isinstance(arg, Scalar) and arg.vrange
                                                        else None)
            if self.measure is None and bound_hi is not None and bound_hi is not INF and isinstance(arg, Scalar) \
                    and not isinstance(truth(arg), bool):
                symbol = interp.fresh("m", integer=True)
                self.measure = (position, "int", symbol, bound_hi)
                self.params.append(Scalar(ZERO, symbol))
                continue
            self.params.append(retime(_structure_of(arg) if not isinstance(arg, Scalar) else None, ZERO)
                               if not isinstance(arg, ArrayV) else attrs.evolve(arg, time=ZERO))
        self.floors: list[Figure] = []  # for an int measure: the bound B on each path with a deeper call
        self.calls = 0

    def placeholder(self, interp: Any, st: State, args: list, node: Node) -> Any:
        """A deeper call: check that the measure shrinks, return its result as symbols."""
        self.calls += 1
        if self.measure is None:
            self.problem = "no argument shrinks structurally"
        else:
            position, kind, symbol, _ = self.measure
            arg = args[position] if position < len(args) else None
            if kind == "list":
                if not (isinstance(arg, ListV) and ge(sub(symbol, 1), arg.length.hi)):
                    self.measure, self.problem = None, "the list argument does not shrink at every call"
            else:
                value = int_value(arg)
                floor = _floor_from(st.facts, symbol)
                if value is None or not ge(sub(symbol, 1), value) or floor is None:
                    self.measure = None
                    self.problem = "the integer argument is not counted down toward a bound at every call"
                else:
                    self.floors.append(floor)
        start = r_max(st.ctl, *(ready(a) for a in args)) if args else st.ctl
        st.work = Range(st.work.lo, add(st.work.hi, self.work_symbol))
        finish = Range(start.lo, add(start.hi, self.time_symbol))
        st.top = r_max(st.top, finish)
        return Unknown(finish, Range(0, INF))

    def bound(self, outcomes: list[State]) -> tuple[Figure, Figure, Range] | None:
        """(work, duration, inner times) of the outermost call, or None when the depth is not bounded."""
        if not outcomes:
            return None
        if self.measure is None and self.calls:
            return None
        depth: Figure = 0
        if self.measure is not None and self.calls:
            _, kind, _, outer = self.measure
            if kind == "list":
                depth = outer
            else:
                depth = smax(add(sub(outer, smin(*self.floors)), 1), 0)
        steps, base, counts = [], [], []
        for o in outcomes:
            hi = o.work.hi
            if hi is INF:
                return None
            count = norm(sp.expand(hi).coeff(self.work_symbol)) if depends(hi, [self.work_symbol]) else 0
            counts.append(count)
            base.append(substitute(hi, {self.work_symbol: 0}))
            terms = maxplus_terms(o.top.hi, [self.time_symbol])
            if terms is None:
                return None
            constant, offsets = terms
            base_time = constant if constant is not None else 0
            steps.append((base_time, offsets.get(self.time_symbol)))
        calls = smax(*counts)
        w0 = smax(*base)
        if depends(w0, self.symbols) or depends(calls, self.symbols) or type(calls) is not int:
            return None
        if calls == 0 or is_zero(depth):
            work = w0
        elif calls == 1:
            work = mul(add(depth, 1), w0)
        else:
            work = mul(w0, norm(sp.expand((sp.Integer(calls) ** (sp.sympify(depth) + 1) - 1) / (calls - 1))))
        a = smax(*(b for b, _ in steps))
        offsets = [c for _, c in steps if c is not None]
        duration = a if not offsets or is_zero(depth) else chain_bound(a, a, smax(*offsets), depth)
        return work, duration, Range(0, INF)


def _floor_from(facts: tuple, symbol: sp.Symbol) -> Figure | None:
    """The least value ``symbol`` can take where ``facts`` hold (z3 minimises it), when there is one."""
    relevant = [f for f in facts if isinstance(f, sp.Basic) and symbol in f.free_symbols]
    if not relevant:
        return None
    optimizer = z3.Optimize()
    optimizer.set("timeout", Z3_TIMEOUT_MS)
    names: dict = {}

    def var(s: sp.Symbol) -> Any:
        if s not in names:
            names[s] = z3.Int(str(s))
        return names[s]

    try:
        for fact in relevant:
            optimizer.add(_z3_bool(fact, var))
    except _NotAffine:
        return None
    handle = optimizer.minimize(var(symbol))
    if optimizer.check() != z3.sat:
        return None
    lower = optimizer.lower(handle)
    if not z3.is_int_value(lower):
        return None
    return lower.as_long()


# -- z3 ---------------------------------------------------------------------------------------------------------

class _NotAffine(Exception):
    pass


def _lex_less(xs: list, ys: list) -> Any:
    if not xs:
        return z3.BoolVal(False)
    head = xs[0] < ys[0]
    if len(xs) == 1:
        return head
    return z3.Or(head, z3.And(xs[0] == ys[0], _lex_less(xs[1:], ys[1:])))


class _Z3Side:
    """One of the two iterations a dependence question compares: its copies of the loop's and inner indices."""

    def __init__(self, tag: str, access: Access, frame: LoopFrame):
        self.tag = tag
        depth = access.frames.index(frame)
        self.outer = access.frames[:depth]
        self.own = access.frames[depth:]
        self.renamed = {s for f in self.own for s in f.symbols}
        self.vars: dict = {}

    def var(self, symbol: sp.Symbol) -> Any:
        key = str(symbol) + ("_" + self.tag if symbol in self.renamed else "")
        if key not in self.vars:
            self.vars[key] = z3.Int(key)
        return self.vars[key]

    def term(self, x: Figure) -> Any:
        return _z3_term(x, self.var)

    def constraints(self) -> list:
        found = []
        for frame in self.outer + self.own:
            for k, symbol in enumerate(frame.symbols):
                v = self.var(symbol)
                found.append(v >= self.term(frame.lows[k]))
                count = frame.counts[k].hi
                if count is not INF:
                    found.append(v <= self.term(add(frame.lows[k], sub(count, 1))))
        for symbol in list(self._free()):
            assumptions = symbol.assumptions0
            if assumptions.get("positive"):
                found.append(self.var(symbol) >= 1)
            elif assumptions.get("nonnegative"):
                found.append(self.var(symbol) >= 0)
        return found

    def _free(self) -> set:
        found: set = set()
        for frame in self.outer + self.own:
            for k in range(len(frame.symbols)):
                for x in (frame.lows[k], frame.counts[k].hi):
                    if type(x) is not int and x is not INF:
                        found |= x.free_symbols
        return found


def _z3_term(x: Figure, var: Any) -> Any:
    if type(x) is int:
        return z3.IntVal(x)
    if x is INF:
        raise _NotAffine
    if isinstance(x, sp.Integer):
        return z3.IntVal(int(x))
    if isinstance(x, sp.Symbol):
        return var(x)
    if isinstance(x, sp.Add):
        terms = [_z3_term(a, var) for a in x.args]
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total
    if isinstance(x, sp.Mul):
        terms = [_z3_term(a, var) for a in x.args]
        total = terms[0]
        for t in terms[1:]:
            total = total * t
        return total
    if isinstance(x, sp.floor) and isinstance(x.args[0], sp.Mul):
        numerator, denominator = x.args[0].as_numer_denom()
        if denominator.is_Integer and denominator > 0:
            return _z3_term(numerator, var) / int(denominator)
    if isinstance(x, sp.Mod) and x.args[1].is_Integer and x.args[1] > 0:
        return _z3_term(x.args[0], var) % int(x.args[1])
    if isinstance(x, (sp.Max, sp.Min)):
        terms = [_z3_term(a, var) for a in x.args]
        best = terms[0]
        for t in terms[1:]:
            best = z3.If(t > best, t, best) if isinstance(x, sp.Max) else z3.If(t < best, t, best)
        return best
    raise _NotAffine


def _z3_bool(fact: Any, var: Any) -> Any:
    if isinstance(fact, sp.Not):
        return z3.Not(_z3_bool(fact.args[0], var))
    if isinstance(fact, sp.And):
        return z3.And(*(_z3_bool(a, var) for a in fact.args))
    if isinstance(fact, sp.Or):
        return z3.Or(*(_z3_bool(a, var) for a in fact.args))
    operators = {sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
                 sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
                 sp.Eq: lambda a, b: a == b, sp.Ne: lambda a, b: a != b}
    for kind, make in operators.items():
        if isinstance(fact, kind):
            return make(_z3_term(fact.args[0], var), _z3_term(fact.args[1], var))
    raise _NotAffine


# -- small helpers -------------------------------------------------------------------------------------------------

def mul_all(xs) -> Figure:
    total: Figure = 1
    for x in xs:
        total = mul(total, x)
    return total


def _last(count: Range) -> Figure:
    return INF if count.hi is INF else smax(sub(count.hi, 1), 0)


def _bounds(v: Any) -> Range | None:
    """The values an integer may have: known, bounded, or None for anything."""
    value = int_value(v)
    if value is not None:
        return point(value)
    if isinstance(v, Scalar) and v.vrange is not None:
        return v.vrange
    return None


def _tripcount_of(first: Range | None, last: Range | None) -> Range:
    """How many times ``for i in first .. last`` runs."""
    if first is None or last is None:
        return Range(0, INF)
    if first.exact and last.exact:
        return point(smax(add(sub(last.lo, first.lo), 1), 0))
    lo = 0 if first.hi is INF else smax(add(sub(last.lo, first.hi), 1), 0)
    return Range(lo, smax(add(sub(last.hi, first.lo), 1), 0))


def _structure_of(v: Any) -> Any:
    return None if v is None or isinstance(v, Scalar) else v


"""The dynamic work/span oracle: a run of the reference interpreter that measures W, S and P.

It counts by FLOW_LOSS.md's cost model:

* **work** sums the cost of every operation run: arithmetic, comparison,
  logic, bitwise and conversion operations (``prim``, math and conversion
  intrinsics) cost 1; a keyed ``Map`` access 1; a call of an ``extern`` its
  ``cost`` (``[<Cost(n)>]``, 1 when not given); a call of a user function
  the work of its body; constants, parameters, variables, building and
  taking apart tuples, records and unions, branches themselves, loop-index
  bookkeeping, array loads and stores and data movement cost 0, and so does
  index arithmetic (a ``prim`` whose operands are all constants, ``for``
  indices, lengths or index arithmetic).
* **span** is the longest chain of dependent operations, weighted the same
  way: each value carries the time it is ready; an operation finishes at the
  latest ready time of its operands (and, inside a branch, of the branch's
  condition) plus its cost.  Dependences are true ones only: through values,
  ``mutable`` cells (a time per cell) and array elements (a time per
  element); ``for`` indices are free; a ``while`` iteration waits for the
  condition before it; the elements of a map, ``init`` or
  ``Array.Parallel.map`` are independent; a reduction is a chain as written.
* **span_reassociated** is the span with every reduction whose operator is
  associative (``Array.reduce``, ``Array.sum``, a ``fold`` of one ``+ *
  &&& ||| ^^^ min max``) timed as a balanced tree of ceil(log2 n) levels.
  When the program has such a reduction it is run a second time for this
  reading; the externs are not called again, their logged results are
  replayed in order.
* **per_function**: for each user function (tag = its name), the work and
  span of its calls inclusive of their callees.  Only the outermost of
  recursive calls counts; the span of a call is measured from the time its
  last argument is ready, and the tag keeps its longest call.

How the times ride beside the values is in `nanopass.interp.profiling`.
`Profile.to_csv` prints the Cilkscale shape: ``tag,work,span,parallelism``,
one row per function, then the whole run on a row with an empty tag.

`profile_regions` measures the regions of the entry's own body that a user
points at (`REGION_OWNERS`: an index space's, a reduction's or a loop's
body, each arm of an ``if``), each run of each *on its own*: work is what
the run does, span its longest chain with every value it reads from outside
taken ready when it starts.  A run cannot be cut out of the program, so the
entry runs again with a barrier before the measured constructs: at a
barrier the control time is raised past every time the run has made so far
(any ready time is at most the work done so far), so nothing inside waits
on anything outside, and the span is the latest finish less the barrier.
Barriers at one nesting depth do not disturb one another; each depth is a
run of its own, the externs' logged results replayed.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import attrs

from nanopass.externs import load_externs
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph, Node
from nanopass.interpreter import Interpreter
from nanopass.interp.profiling import ProfileState


@attrs.frozen
class Figures:
    """Work, span and their ratio for one tag."""

    work: int
    span: int

    @property
    def parallelism(self) -> float:
        return parallelism(self.work, self.span)


def parallelism(work: int, span: int) -> float:
    """W / S; a run that did no costed work has nothing to parallelise (1.0)."""
    return work / span if span else 1.0


@attrs.frozen
class Profile:
    value: Any
    work: int
    span: int
    span_reassociated: int
    per_function: dict[str, Figures]

    @property
    def parallelism(self) -> float:
        return parallelism(self.work, self.span)

    @property
    def parallelism_reassociated(self) -> float:
        return parallelism(self.work, self.span_reassociated)

    def to_csv(self) -> str:
        rows = ["tag,work,span,parallelism"]
        for tag, figures in self.per_function.items():
            rows.append(f"{tag},{figures.work},{figures.span},{_ratio(figures.parallelism)}")
        rows.append(f",{self.work},{self.span},{_ratio(self.parallelism)}")
        return "\n".join(rows) + "\n"


def _ratio(value: float) -> str:
    return f"{value:.6g}"


def _profiled_run(graph: Graph, bindings: dict, entry: str, args: tuple, state: ProfileState) -> Any:
    interpreter = Interpreter(graph, bindings, profiler=state)
    return interpreter.run_here(entry, args)


def profile_graph(graph: Graph, entry: str, *args: Any,
                  externs: Mapping[str, Callable] | str | None = None) -> Profile:
    """Run ``entry`` on ``args`` under the profiler; the result and its figures."""
    bindings = load_externs(externs)
    written = ProfileState()
    value = run_with_big_stack(_profiled_run, graph, bindings, entry, args, written)
    span_reassociated = written.top
    if written.reductions:
        tree = ProfileState(reassociate=True, replay=written.extern_log)
        run_with_big_stack(_profiled_run, graph, bindings, entry, args, tree)
        span_reassociated = tree.top
    per_function = {name: Figures(w, s) for name, (w, s) in written.per_function.items()}
    return Profile(value, written.work, written.top, span_reassociated, per_function)


# -- regions ----------------------------------------------------------------------------------------
# The constructs whose regions hold work a user points at.  A run of an ``if`` is a run of the arm
# taken, keyed by that arm's region; a ``loop`` (while) is keyed by its body, its conditions counted in.
REGION_OWNERS = frozenset({"parallel_for", "stencil", "reduce", "for", "foreach", "loop", "if"})


def measured_region(node: Node, arm: int = 0) -> int:
    """The region a run of ``node`` (an owner of `REGION_OWNERS`) is keyed by; ``arm`` picks an if's."""
    if node.kind == "if":
        return node.regions[arm]
    return node.regions[-1]


def owner_depths(graph: Graph, decl_id: int) -> dict[int, int]:
    """Each owner of `REGION_OWNERS` in a declaration's region tree, with how many owners enclose it."""
    found: dict[int, int] = {}
    stack = [(r, 0) for r in graph.node(decl_id).regions]
    while stack:
        region_id, depth = stack.pop()
        for node_id in graph.region(region_id).body:
            node = graph.node(node_id)
            inner = depth
            if node.kind in REGION_OWNERS:
                found[node_id] = depth
                inner = depth + 1
            stack.extend((r, inner) for r in node.regions)
    return found


class RegionProfileState(ProfileState):
    """A profiled run with a barrier before each of ``targets`` in the outermost call of ``entry``."""

    def __init__(self, entry: str, targets: Iterable[int], replay: list | None = None):
        super().__init__(replay=replay)
        self.entry = entry
        self.targets = frozenset(targets)
        self.runs: dict[int, list[Figures]] = {}

    def evaluators(self, plain: dict) -> dict:
        table = super().evaluators(plain)
        return {kind: self._barrier(factory) if kind in REGION_OWNERS else factory
                for kind, factory in table.items()}

    def _barrier(self, factory: Callable) -> Callable:
        def build(m: Any, nid: int, node: Node) -> Callable[[dict], None]:
            step = factory(m, nid, node)
            if nid not in self.targets:
                return step

            def measured(env: dict) -> None:
                if self.active.get(self.entry) != 1:
                    step(env)
                    return
                region = measured_region(node, 0 if node.kind != "if" or env[node.operands[0]] else 1)
                saved_ctl, saved_top, work_before = self.ctl, self.top, self.work
                start = max(self.work, self.top, self.ctl)
                self.ctl = self.top = start
                try:
                    step(env)
                finally:
                    self.ctl = saved_ctl
                finish = self.top
                self.top = max(saved_top, finish)
                self.runs.setdefault(region, []).append(Figures(self.work - work_before, finish - start))
            return measured
        return build


def profile_regions(graph: Graph, entry: str, *args: Any,
                    externs: Mapping[str, Callable] | str | None = None) -> dict[int, list[Figures]]:
    """Region id -> the figures of each run of it on its own (see the module docstring), for the regions
    of ``entry``'s own body (a closure made there included) in its outermost call."""
    bindings = load_externs(externs)
    depths = owner_depths(graph, graph.symbol(entry))
    found: dict[int, list[Figures]] = {}
    replay = None
    for depth in sorted(set(depths.values())):
        state = RegionProfileState(entry, [n for n, d in depths.items() if d == depth], replay)
        run_with_big_stack(_profiled_run, graph, bindings, entry, args, state)
        replay = state.extern_log if replay is None else replay
        for region, runs in state.runs.items():
            found.setdefault(region, []).extend(runs)
    return found

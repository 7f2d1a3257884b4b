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
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs

from nanopass.externs import load_externs
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph
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

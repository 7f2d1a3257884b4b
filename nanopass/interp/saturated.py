"""Step factories for the kinds `Saturated` adds (see `nanopass.languages`), for the reference interpreter.

Importing this module registers them with `nanopass.interp.machine.register_evaluator`.
Each runs its construct sequentially, in index order, so that results (float
rounding, the order of effects) are those of the intrinsic it came from:

* ``parallel_for`` runs its region for each index (row-major for two
  extents) and gathers the elements into an array, 2-D array or list;
* ``reduce`` is a left fold (from init, else from the first element; an empty
  source without init is an error, as ``Array.reduce`` says); ``associative``
  and ``reassociate`` are facts for backends and do not change the order here;
* ``stencil`` runs its region on each window (a copy of ``size`` elements);
* ``scan``, ``scatter``, ``concat``, ``extent``, ``tag_test``, ``case_field``
  and ``match_failure`` are single operations.

Containers follow `nanopass.interp.values` and the intrinsics: arrays are
numpy arrays whose dtype comes from the ``types`` table when it knows the
element type, else from the first element, else float; lists are `Cons` cells.

Under the work/span profiler (`nanopass.interp.profiling`) each kind times
its construct as the profiler times the intrinsic it came from, so that a
program profiles the same before and after baker:

* ``parallel_for``: the iterations are independent, their indices ready with
  the extents; element i of the result is ready when iteration i's value is;
* ``reduce``: a chain as written; with the profiler's reassociated reading an
  ``associative`` one is a balanced tree; a sum (``origin`` ``Array.sum`` or
  ``Seq.sum``) is timed as ``Array.sum`` is: n - 1 additions from the first
  element (the value is still the fold from its init);
* ``stencil``: as ``windowed`` then a map over the windows;
* ``scan`` and ``scatter`` are data movement (cost 0): a kept element is ready
  when it and its flag are, as ``filter`` counts it; ``concat``, ``extent``,
  ``tag_test`` and ``case_field`` cost 0 and are ready with what they read.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np

from nanopass.diagnostics import Diagnostic, DiagnosticError
from nanopass.graph import Node
from nanopass.interp.evaluators import elements
from nanopass.interp.machine import PROFILE_EVALUATORS, Machine, Step, register_evaluator
from nanopass.interp.profiling import ready, tree_ready
from nanopass.interp.values import (
    DTYPE_NAME, NIL, TYPE_OF_CLASS, Cons, Fault, Union, array_from, dtype_for, list_of, negative_count,
    object_array)


def gather(values: list, container: str, element_type: str | None) -> Any:
    """The container of ``values``: an array (typed by ``element_type``, else the first value, else
    float as the intrinsics default) or a list."""
    if container == "list":
        return list_of(values)
    return array_from(values, element_type or (None if values else "float"))


def grid(rows: list[list], columns: int, element_type: str | None) -> np.ndarray:
    """A 2-D array of ``rows`` (each ``columns`` long)."""
    if element_type is None:
        element_type = TYPE_OF_CLASS.get(type(rows[0][0])) if rows and columns else "float"
    out = np.empty((len(rows), columns), dtype=dtype_for(element_type))
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            out[i, j] = value
    return out


@register_evaluator("parallel_for")
def parallel_for(m: Machine, nid: int, node: Node) -> Step:
    extents, plan = node.operands, m.plan(node.regions[0])
    container, element = node.attr("container"), m.element_type(nid)

    def element_at(env: dict, indices: tuple) -> Any:
        plan.run(env, indices)
        return plan.value(env)

    def count(env: dict, extent: int) -> int:
        n = env[extent]
        if n < 0:
            raise m.fault(node, Fault(negative_count(node.attr("origin"), n)))
        return n

    if len(extents) == 2:
        rows_id, columns_id = extents

        def step2(env: dict) -> None:
            rows, columns = count(env, rows_id), count(env, columns_id)
            env[nid] = grid([[element_at(env, (i, j)) for j in range(columns)] for i in range(rows)], columns,
                            element)
        return step2
    (extent,) = extents

    def step(env: dict) -> None:
        env[nid] = gather([element_at(env, (i,)) for i in range(count(env, extent))], container, element)
    return step


@register_evaluator("reduce")
def reduce(m: Machine, nid: int, node: Node) -> Step:
    source, init = node.operands[0], node.operands[1] if len(node.operands) > 1 else None
    plan, origin = m.plan(node.regions[0]), node.attr("origin")

    def step(env: dict) -> None:
        try:
            items = elements(env[source])
        except Fault as error:
            raise m.fault(node, error) from None
        if init is None:
            if not items:
                raise m.fault(node, Fault(f"'{origin}' of an empty array; expected at least one element"))
            acc, items = items[0], items[1:]
        else:
            acc = env[init]
        for x in items:
            plan.run(env, (acc, x))
            acc = plan.value(env)
        env[nid] = acc
    return step


@register_evaluator("stencil")
def stencil(m: Machine, nid: int, node: Node) -> Step:
    (size_id, source), plan = node.operands, m.plan(node.regions[0])
    origin, element = node.attr("origin"), m.element_type(nid)
    # The windows themselves (no consumer fused in) form an array of arrays, as ``windowed`` makes.
    yields_windows = plan.result_ids == plan.params[1:]

    def step(env: dict) -> None:
        size, xs = env[size_id], env[source]
        if not isinstance(xs, np.ndarray) or xs.ndim != 1:
            raise m.fault(node, Fault(f"'{origin}' expects a 1-D array, got {type(xs).__name__}"))
        if size < 1:
            raise m.fault(node, Fault(f"'{origin}' with a window of {size}; expected a size of 1 or more"))
        out = []
        for i in range(max(0, len(xs) - size + 1)):
            plan.run(env, (i, xs[i:i + size].copy()))
            out.append(plan.value(env))
        env[nid] = object_array(out) if yields_windows else gather(out, node.attr("container"), element)
    return step


@register_evaluator("scan")
def scan(m: Machine, nid: int, node: Node) -> Step:
    if node.attr("op") != "+":
        raise DiagnosticError(Diagnostic(node.span, f"the interpreter scans with '+' only, not '{node.attr('op')}'"))
    (source,), exclusive = node.operands, node.attr("exclusive")

    def step(env: dict) -> None:
        total, out = 0, []
        for x in elements(env[source]):
            if exclusive:
                out.append(total)
            total += int(x)  # bools count 0 / 1
            if not exclusive:
                out.append(total)
        env[nid] = array_from(out, "int")
    return step


@register_evaluator("scatter")
def scatter(m: Machine, nid: int, node: Node) -> Step:
    (values_id, flags_id, positions_id), container = node.operands, node.attr("container")
    element = m.element_type(nid)

    def step(env: dict) -> None:
        values = env[values_id]
        flags, positions = elements(env[flags_id]), elements(env[positions_id])
        out: list = [None] * sum(1 for f in flags if f)
        for value, flag, position in zip(elements(values), flags, positions):
            if flag:
                out[position] = value
        typed = element or (DTYPE_NAME.get(values.dtype) if isinstance(values, np.ndarray) else None)
        env[nid] = gather(out, container, typed)
    return step


@register_evaluator("concat")
def concat(m: Machine, nid: int, node: Node) -> Step:
    (parts,), container, element = node.operands, node.attr("container"), m.element_type(nid)

    def step(env: dict) -> None:
        try:
            items = [x for part in elements(env[parts]) for x in elements(part)]
        except Fault as error:
            raise m.fault(node, error) from None
        env[nid] = gather(items, container, element)
    return step


@register_evaluator("extent")
def extent(m: Machine, nid: int, node: Node) -> Step:
    (source,), dim = node.operands, node.attr("dim")

    def step(env: dict) -> None:
        xs = env[source]
        if isinstance(xs, np.ndarray) and dim < xs.ndim:
            env[nid] = xs.shape[dim]
        elif isinstance(xs, Cons) and dim == 0:
            env[nid] = xs.length
        else:
            raise m.fault(node, Fault(f"the extent {dim} of a {type(xs).__name__} value; expected an array or a list"))
    return step


@register_evaluator("tag_test")
def tag_test(m: Machine, nid: int, node: Node) -> Step:
    (value,), case = node.operands, node.attr("case")
    if case == "nil":
        def is_nil(env: dict) -> None:
            env[nid] = env[value] is NIL
        return is_nil
    if case == "cons":
        def is_cons(env: dict) -> None:
            v = env[value]
            env[nid] = isinstance(v, Cons) and v is not NIL
        return is_cons

    def is_case(env: dict) -> None:
        v = env[value]
        env[nid] = isinstance(v, Union) and v.case == case
    return is_case


@register_evaluator("case_field")
def case_field(m: Machine, nid: int, node: Node) -> Step:
    (value,), case, index = node.operands, node.attr("case"), node.attr("index")
    if case == "cons":
        def cons_part(env: dict) -> None:
            cell = env[value]
            env[nid] = cell.head if index == 0 else cell.tail
        return cons_part

    def payload(env: dict) -> None:
        env[nid] = env[value].payload[index]
    return payload


@register_evaluator("match_failure")
def match_failure(m: Machine, nid: int, node: Node) -> Step:
    def step(env: dict) -> None:
        raise DiagnosticError(Diagnostic(node.span, "no arm of this match accepts the value"))
    return step


# -- under the work/span profiler ------------------------------------------------------------------
SUMS = frozenset({"Array.sum", "Seq.sum"})


def element_times(m: Machine, xs: Any, shadow: Any) -> list[int]:
    """The ready time of each element: an array keeps one per element, a list shares its own."""
    if isinstance(xs, np.ndarray):
        return m.profiler.readies(xs).ravel().tolist()
    return [ready(shadow)] * len(xs)


def profiles(kind: str):
    def register(factory):
        PROFILE_EVALUATORS[kind] = factory
        return factory
    return register


@profiles("parallel_for")
def parallel_for_profiled(m: Machine, nid: int, node: Node) -> Step:
    extents, plan, P = node.operands, m.plan(node.regions[0]), m.profiler
    container, element = node.attr("container"), m.element_type(nid)

    def step(env: dict) -> None:
        counts = [env[e] for e in extents]
        for n in counts:
            if n < 0:
                raise m.fault(node, Fault(negative_count(node.attr("origin"), n)))
        when = max([P.ctl] + [ready(env[~e]) for e in extents])
        values, times = [], []
        for indices in product(*(range(n) for n in counts)):
            plan.run_p(env, indices, (when,) * len(indices))
            values.append(plan.value(env))
            times.append(ready(plan.shadow(env)))
        if container == "list":
            env[nid], env[~nid] = list_of(values), max([when] + times)
            return
        if len(counts) == 2:
            rows, columns = counts
            out = grid([values[r * columns:(r + 1) * columns] for r in range(rows)], columns, element)
        else:
            out = gather(values, container, element)
        P.register(out, times)
        env[nid], env[~nid] = out, P.ctl
    return step


@profiles("reduce")
def reduce_profiled(m: Machine, nid: int, node: Node) -> Step:
    source, init = node.operands[0], node.operands[1] if len(node.operands) > 1 else None
    plan, origin, P = m.plan(node.regions[0]), node.attr("origin"), m.profiler
    associative = bool(node.attr("associative"))

    def fold(env: dict, acc: Any, acc_shadow: Any, items: list, times: list) -> tuple[Any, Any, int]:
        """The left fold with its times; also the deepest single application."""
        depth = 0
        for x, when in zip(items, times):
            before = max(ready(acc_shadow), when, P.ctl)
            plan.run_p(env, (acc, x), (acc_shadow, when))
            acc, acc_shadow = plan.value(env), plan.shadow(env)
            depth = max(depth, ready(acc_shadow) - before)
        return acc, acc_shadow, depth

    def summed(env: dict, items: list, times: list) -> None:
        """``Array.sum``'s timing: n - 1 additions from the first element."""
        saved_work, saved_top = P.work, P.top
        value, _, _ = fold(env, env[init], env[~init], items, times)
        P.work, P.top = saved_work, saved_top
        env[nid] = value
        if not times:
            env[~nid] = P.ctl
            return
        P.reductions += 1
        if P.reassociate:
            P.work += len(times) - 1
            finish = tree_ready(times, 1, P.ctl) if len(times) > 1 else max(times[0], P.ctl)
            P.top = max(P.top, finish)
            env[~nid] = finish
            return
        acc = max(times[0], P.ctl)
        for when in times[1:]:
            acc = P.finish(max(acc, when), 1)
        env[~nid] = acc

    def step(env: dict) -> None:
        xs = env[source]
        try:
            items = elements(xs)
        except Fault as error:
            raise m.fault(node, error) from None
        times = element_times(m, xs, env[~source])
        if origin in SUMS and init is not None:
            summed(env, items, times)
            return
        if init is None:
            if not items:
                raise m.fault(node, Fault(f"'{origin}' of an empty array; expected at least one element"))
            acc, acc_shadow, items, times = items[0], times[0], items[1:], times[1:]
        else:
            acc, acc_shadow = env[init], env[~init]
        if associative:
            P.reductions += 1
        saved_top, leaves = P.top, [ready(acc_shadow)] + times
        acc, acc_shadow, depth = fold(env, acc, acc_shadow, items, times)
        env[nid] = acc
        if associative and P.reassociate:
            finish = tree_ready(leaves, depth, P.ctl)
            P.top = max(saved_top, finish)
            env[~nid] = finish
        else:
            env[~nid] = acc_shadow
    return step


@profiles("stencil")
def stencil_profiled(m: Machine, nid: int, node: Node) -> Step:
    (size_id, source), plan, P = node.operands, m.plan(node.regions[0]), m.profiler
    origin, element = node.attr("origin"), m.element_type(nid)
    yields_windows = plan.result_ids == plan.params[1:]

    def step(env: dict) -> None:
        size, xs = env[size_id], env[source]
        if not isinstance(xs, np.ndarray) or xs.ndim != 1:
            raise m.fault(node, Fault(f"'{origin}' expects a 1-D array, got {type(xs).__name__}"))
        if size < 1:
            raise m.fault(node, Fault(f"'{origin}' with a window of {size}; expected a size of 1 or more"))
        xs_times = P.readies(xs)
        when = max(ready(env[~size_id]), P.ctl)
        out, times = [], []
        for i in range(max(0, len(xs) - size + 1)):
            window = xs[i:i + size].copy()
            P.register(window, xs_times[i:i + size].copy())
            plan.run_p(env, (i, window), (when, P.ctl))
            out.append(plan.value(env))
            times.append(P.ctl if yields_windows else ready(plan.shadow(env)))
        result = object_array(out) if yields_windows else gather(out, node.attr("container"), element)
        P.register(result, times)
        env[nid], env[~nid] = result, P.ctl
    return step


@profiles("scan")
def scan_profiled(m: Machine, nid: int, node: Node) -> Step:
    compute, P = scan(m, nid, node), m.profiler

    def step(env: dict) -> None:
        compute(env)
        P.register(env[nid], [P.ctl] * len(env[nid]))  # positions are bookkeeping, as loop indices are
        env[~nid] = P.ctl
    return step


@profiles("scatter")
def scatter_profiled(m: Machine, nid: int, node: Node) -> Step:
    compute, P = scatter(m, nid, node), m.profiler
    values_id, flags_id, _ = node.operands

    def step(env: dict) -> None:
        compute(env)
        values, flags = env[values_id], env[flags_id]
        value_times = element_times(m, values, env[~values_id])
        flag_times = element_times(m, flags, env[~flags_id])
        if node.attr("container") == "list":
            env[~nid] = max([P.ctl] + value_times + flag_times)
            return
        kept = [max(v, f) for v, f, flag in zip(value_times, flag_times, elements(flags)) if flag]
        P.register(env[nid], kept)
        env[~nid] = P.ctl
    return step


@profiles("concat")
def concat_profiled(m: Machine, nid: int, node: Node) -> Step:
    compute, P, (parts_id,) = concat(m, nid, node), m.profiler, node.operands

    def step(env: dict) -> None:
        compute(env)
        parts = env[parts_id]
        part_times = element_times(m, parts, env[~parts_id])
        if node.attr("container") == "list":
            env[~nid] = max([P.ctl] + part_times)
            return
        times = [t for part, t in zip(elements(parts), part_times) for _ in elements(part)]
        P.register(env[nid], times)
        env[~nid] = P.ctl
    return step


def _ready_with_operand(plain_factory):
    """A cost-0 kind whose value is ready when its one operand is (and the control time)."""
    def build(m: Machine, nid: int, node: Node) -> Step:
        compute, P, (a,) = plain_factory(m, nid, node), m.profiler, node.operands

        def step(env: dict) -> None:
            compute(env)
            env[~nid] = max(ready(env[~a]), P.ctl)
        return step
    return build


PROFILE_EVALUATORS["extent"] = _ready_with_operand(extent)


@profiles("tag_test")
def tag_test_profiled(m: Machine, nid: int, node: Node) -> Step:
    compute, P, (a,) = tag_test(m, nid, node), m.profiler, node.operands

    def step(env: dict) -> None:
        compute(env)
        shadow = env[~a]
        # A union built here carries one time per field; its case is known when it is built.
        env[~nid] = P.ctl if isinstance(shadow, tuple) else max(ready(shadow), P.ctl)
    return step


@profiles("case_field")
def case_field_profiled(m: Machine, nid: int, node: Node) -> Step:
    compute, (a,), index = case_field(m, nid, node), node.operands, node.attr("index")
    cons = node.attr("case") == "cons"

    def step(env: dict) -> None:
        compute(env)
        shadow = env[~a]
        if not cons and isinstance(shadow, tuple) and index < len(shadow):
            env[~nid] = shadow[index]
        else:  # a list has one ready time: head and tail share it
            env[~nid] = ready(shadow)
    return step

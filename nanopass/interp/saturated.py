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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanopass.diagnostics import Diagnostic, DiagnosticError
from nanopass.graph import Node
from nanopass.interp.evaluators import elements
from nanopass.interp.machine import Machine, Step, register_evaluator
from nanopass.interp.values import (
    DTYPE_NAME, NIL, TYPE_OF_CLASS, Cons, Fault, Union, array_from, dtype_for, list_of, object_array)


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
            raise m.fault(node, Fault(f"'{node.attr('origin')}' of a negative count {n}; expected 0 or more"))
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

"""Profile steps of the `Clef` and `Elaborated` branches and loops.

Branches (``if``, ``match``) run their arms with the control time raised to
the condition's ready time (for a match, of the parts its patterns test), and
their value is ready no earlier.  A ``while``/``loop`` iteration runs under
the ready time of the condition before it; a ``for`` index is ready when its
bounds are; the elements of ``foreach`` and ``query`` keep their own times.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanopass.graph import Node
from nanopass.interp import evaluators as plain
from nanopass.interp.machine import Machine, Step
from nanopass.interp.profiled_kinds import part, profiles
from nanopass.interp.profiling import after_branch, ready
from nanopass.interp.values import Fault, array_from, list_of

# -- branches ---------------------------------------------------------------------------------------------------
_CLOSED = frozenset({"lambda", "async", "actor"})


def assigned_cells(m: Machine, regions: tuple[int, ...]) -> tuple[int, ...]:
    """The Clef cells a branch's or loop's regions assign (not counting closures in them)."""
    found: set[int] = set()
    stack = list(regions)
    while stack:
        for node_id in m.graph.region(stack.pop()).body:
            node = m.graph.node(node_id)
            if node.kind == "assign":
                found.add(node.operands[0])
            elif node.kind not in _CLOSED:
                stack.extend(node.regions)
    return tuple(sorted(found))


def settle(env: dict, cells: tuple[int, ...], ctl: int) -> None:
    """After a branch or loop, a cell it may assign holds a value chosen by its conditions: ready no earlier.

    This is what the Elaborated form says with the values the branch yields for its cells, so that
    both levels measure the same.
    """
    for cell_id in cells:
        cell = env.get(cell_id)
        if cell is not None:
            cell.ready = after_branch(cell.ready, ctl)


@profiles("if")
def if_(m: Machine, nid: int, node: Node) -> Step:
    (cond,), (then, other), P = node.operands, (m.plan(r) for r in node.regions), m.profiler
    cells = assigned_cells(m, node.regions)

    def step(env: dict) -> None:
        plan = then if env[cond] else other
        saved = P.ctl
        P.ctl = max(saved, ready(env[~cond]))
        try:
            for s in plan.steps:
                s(env)
        finally:
            ctl, P.ctl = P.ctl, saved
        env[nid] = plan.value(env)
        env[~nid] = after_branch(plan.shadow(env), ctl)
        if cells:
            settle(env, cells, ctl)
    return step


def pattern_times(pattern: tuple, value: Any, shadow: Any, bound: list, tested: list) -> None:
    """The shadows of the values a (matching) pattern binds, and the ready times of the parts it tests."""
    tag = pattern[0]
    if tag == "bind":
        bound.append(shadow)
    elif tag == "lit":
        tested.append(ready(shadow))
    elif tag == "tuple":
        for i, p in enumerate(pattern[1:]):
            pattern_times(p, value[i], part(shadow, i), bound, tested)
    elif tag == "case":
        tested.append(ready(shadow) if not isinstance(shadow, tuple) else 0)
        for i, p in enumerate(pattern[2:]):
            pattern_times(p, value.payload[i], part(shadow, i), bound, tested)
    elif tag in ("nil", "cons"):
        tested.append(ready(shadow))
        if tag == "cons":  # a list has one ready time: head and tail share it
            pattern_times(pattern[1], value.head, ready(shadow), bound, tested)
            pattern_times(pattern[2], value.tail, ready(shadow), bound, tested)


@profiles("match")
def match(m: Machine, nid: int, node: Node) -> Step:
    (scrutinee,), arms, P = node.operands, plain.match_arms(m, node), m.profiler
    patterns, cells = node.attr("patterns"), assigned_cells(m, node.regions)

    def step(env: dict) -> None:
        value, shadow = env[scrutinee], env[~scrutinee]
        saved = P.ctl
        for pattern, (matcher, guard, body) in zip(patterns, arms):
            bound: list = []
            if not matcher(value, bound):
                continue
            shadows: list = []
            tested: list = [saved]
            pattern_times(pattern, value, shadow, shadows, tested)
            P.ctl = max(tested)
            try:
                if guard is not None:
                    guard.run_p(env, tuple(bound), tuple(shadows))
                    if not guard.value(env):
                        continue
                    P.ctl = max(P.ctl, ready(guard.shadow(env)))
                body.run_p(env, tuple(bound), tuple(shadows))
                ctl = P.ctl
            finally:
                P.ctl = saved
            env[nid] = body.value(env)
            env[~nid] = after_branch(body.shadow(env), ctl)
            if cells:
                settle(env, cells, ctl)
            return
        raise m.fault(node, Fault(f"no arm of this match accepts the value {value!r}"))
    return step


# -- loops -----------------------------------------------------------------------------------------------------
@profiles("while", "loop")
def loop(m: Machine, nid: int, node: Node) -> Step:
    inits, (cond, body), P = node.operands, (m.plan(r) for r in node.regions), m.profiler
    (flag,), cells = cond.result_ids, assigned_cells(m, node.regions)

    def step(env: dict) -> None:
        carried = tuple([env[o] for o in inits])
        shadows = tuple([env[~o] for o in inits])
        saved = P.ctl
        try:
            while True:
                cond.run_p(env, carried, shadows)
                P.ctl = max(P.ctl, ready(env[~flag]))
                if not env[flag]:
                    break
                body.run_p(env, carried, shadows)
                carried, shadows = body.results(env), tuple(env[~r] for r in body.result_ids)
            ctl = P.ctl
        finally:
            P.ctl = saved
        env[nid] = carried if inits else None
        env[~nid] = after_branch(shadows, ctl) if inits else ctl
        if cells:
            settle(env, cells, ctl)
    return step


@profiles("for")
def for_(m: Machine, nid: int, node: Node) -> Step:
    lo, hi, inits, P = node.operands[0], node.operands[1], node.operands[2:], m.profiler
    body = m.plan(node.regions[0])

    def step(env: dict) -> None:
        carried = tuple([env[o] for o in inits])
        shadows = tuple([env[~o] for o in inits])
        first, last = env[lo], env[hi]
        make = type(first)
        index_time = max(ready(env[~lo]), ready(env[~hi]), P.ctl)
        for i in range(first, last + 1):
            body.run_p(env, (i if make is int else make(i),) + carried, (index_time,) + shadows)
            if inits:
                carried, shadows = body.results(env), tuple(env[~r] for r in body.result_ids)
        env[nid] = carried if inits else None
        env[~nid] = shadows if inits else P.ctl
    return step


@profiles("foreach")
def foreach(m: Machine, nid: int, node: Node) -> Step:
    source, inits, P = node.operands[0], node.operands[1:], m.profiler
    body = m.plan(node.regions[0])

    def step(env: dict) -> None:
        xs = env[source]
        try:
            items = plain.elements(xs)
        except Fault as error:
            raise m.fault(node, error) from None
        times = P.readies(xs).ravel().tolist() if isinstance(xs, np.ndarray) else [ready(env[~source])] * len(items)
        carried = tuple([env[o] for o in inits])
        shadows = tuple([env[~o] for o in inits])
        for item, when in zip(items, times):
            body.run_p(env, (item,) + carried, (max(when, P.ctl),) + shadows)
            if inits:
                carried, shadows = body.results(env), tuple(env[~r] for r in body.result_ids)
        env[nid] = carried if inits else None
        env[~nid] = shadows if inits else P.ctl
    return step


@profiles("query")
def query(m: Machine, nid: int, node: Node) -> Step:
    (source,), body, P = node.operands, m.plan(node.regions[0]), m.profiler
    element = m.element_type(nid)

    def step(env: dict) -> None:
        xs = env[source]
        try:
            items = plain.elements(xs)
        except Fault as error:
            raise m.fault(node, error) from None
        is_array = isinstance(xs, np.ndarray)
        times = P.readies(xs).ravel().tolist() if is_array else [ready(env[~source])] * len(items)
        out, out_times = [], []
        for item, when in zip(items, times):
            body.run_p(env, (item,), (max(when, P.ctl),))
            out.append(body.value(env))
            out_times.append(ready(body.shadow(env)))
        if is_array:
            env[nid] = array_from(out, element)
            P.register(env[nid], out_times)
            env[~nid] = P.ctl
        else:
            env[nid] = list_of(out)
            env[~nid] = max(out_times, default=P.ctl)
    return step


"""Profile steps of the `Clef` and `Elaborated` value, data and call kinds: each computes its value and shadow.

Shadows, the control time and the cost model are explained in
`nanopass.interp.profiling`.  Costs here: a ``prim`` costs 1 unless it is
index arithmetic (all its operands are constants, ``for`` indices, lengths
or index arithmetic: decided statically, `index_like`), calls cost what they
run, everything else costs 0.  Branches and loops are in
`nanopass.interp.profiled_control`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nanopass.graph import Node
from nanopass.interp import evaluators as plain
from nanopass.interp.machine import PROFILE_EVALUATORS, Closure, Function, Intrinsic, Machine, Step
from nanopass.interp.operators import operator
from nanopass.interp.profiled_intrinsics import intrinsic_p
from nanopass.interp.profiling import apply_p, call_function, partial_p, ready
from nanopass.interp.values import Cell, Fault, array_from

LENGTH_INTRINSICS = frozenset({"Array.length", "Array2D.length1", "Array2D.length2", "List.length"})


def profiles(*kinds: str):
    def register(factory: Callable[[Machine, int, Node], Step]):
        for kind in kinds:
            PROFILE_EVALUATORS[kind] = factory
        return factory
    return register


def index_like(m: Machine, node_id: int) -> bool:
    """Whether a value is a constant, a ``for`` index, a length, or arithmetic on those only."""
    cache = m.__dict__.setdefault("_index_like", {})
    found = cache.get(node_id)
    if found is None:
        cache[node_id] = False  # cycles cannot occur in SSA; this guards malformed graphs
        node = m.graph.node(node_id)
        if node.kind == "const":
            found = True
        elif node.kind == "param":
            found = node_id in _for_indices(m)
        elif node.kind == "native":
            found = node.attr("op") in LENGTH_INTRINSICS
        elif node.kind == "extent":  # Saturated's length of a container
            found = True
        elif node.kind == "apply":
            callee = m.graph.node(node.operands[0])
            found = callee.kind == "ref" and callee.attr("name") in LENGTH_INTRINSICS and len(node.operands) == 2
        elif node.kind == "prim":
            found = all(index_like(m, o) for o in node.operands)
        else:
            found = False
        cache[node_id] = found
    return found


def _for_indices(m: Machine) -> frozenset[int]:
    found = m.__dict__.get("_for_indices")
    if found is None:
        found = frozenset(m.graph.region(n.regions[0]).params[0] for _, n in m.graph.live_nodes()
                          if n.kind == "for" and m.graph.region(n.regions[0]).params)
        m.__dict__["_for_indices"] = found
    return found


# -- values -----------------------------------------------------------------------------------------
@profiles("const")
def const(m: Machine, nid: int, node: Node) -> Step:
    value = plain.const_value(node.attr("value"), node.attr("type"))

    def step(env: dict) -> None:
        env[nid] = value
        env[~nid] = 0
    return step


@profiles("ref")
def ref(m: Machine, nid: int, node: Node) -> Step:
    name, span, symbols = node.attr("name"), node.span, m.symbols

    def step(env: dict) -> None:
        value = symbols.get(name, step)
        env[nid] = m.symbol(name, span) if value is step else value
        env[~nid] = 0
    return step


@profiles("prim")
def prim(m: Machine, nid: int, node: Node) -> Step:
    fn, P = operator(node.attr("op"), plain.operand_type(m, node)), m.profiler
    cost = 0 if index_like(m, nid) else 1
    if len(node.operands) == 1:
        (a,) = node.operands

        def unary(env: dict) -> None:
            try:
                env[nid] = fn(env[a])
            except Fault as error:
                raise m.fault(node, error) from None
            env[~nid] = P.finish(ready(env[~a]), cost)
        return unary
    a, b = node.operands

    def binary(env: dict) -> None:
        try:
            env[nid] = fn(env[a], env[b])
        except Fault as error:
            raise m.fault(node, error) from None
        sa, sb = env[~a], env[~b]
        if sa.__class__ is not int:
            sa = ready(sa)
        if sb.__class__ is not int:
            sb = ready(sb)
        start = sa if sa > sb else sb
        if start < P.ctl:
            start = P.ctl
        end = start + cost
        P.work += cost
        if end > P.top:
            P.top = end
        env[~nid] = end
    return binary


@profiles("lambda")
def lambda_(m: Machine, nid: int, node: Node) -> Step:
    plan, free, name = m.plan(node.regions[0]), m.free_values(node.regions[0]), node.attr("name")

    def step(env: dict) -> None:
        env[nid] = Closure(plan, {i: env[i] for i in free}, name)
        env[~nid] = 0
    return step


def _parts(factory, shadow_of: Callable[[dict, tuple], Any]):
    """A builder whose shadow is made from its operands' shadows."""
    def build(m: Machine, nid: int, node: Node) -> Step:
        compute, ops = factory(m, nid, node), node.operands

        def step(env: dict) -> None:
            compute(env)
            env[~nid] = shadow_of(env, ops)
        return step
    return build


def _all_parts(env: dict, ops: tuple) -> tuple:
    return tuple([env[~o] for o in ops])


PROFILE_EVALUATORS["tuple"] = _parts(plain.tuple_, _all_parts)
PROFILE_EVALUATORS["record"] = _parts(plain.record, _all_parts)
PROFILE_EVALUATORS["union"] = _parts(plain.union, _all_parts)
PROFILE_EVALUATORS["list"] = _parts(plain.list_, lambda env, ops: max((ready(env[~o]) for o in ops), default=0))
PROFILE_EVALUATORS["cons"] = _parts(plain.cons, lambda env, ops: max(ready(env[~ops[0]]), ready(env[~ops[1]])))


def part(shadow: Any, index: int) -> Any:
    return shadow[index] if isinstance(shadow, tuple) and index < len(shadow) else ready(shadow)


@profiles("proj")
def proj(m: Machine, nid: int, node: Node) -> Step:
    (a,), index = node.operands, node.attr("index")

    def step(env: dict) -> None:
        env[nid] = env[a][index]
        env[~nid] = part(env[~a], index)
    return step


@profiles("field")
def field(m: Machine, nid: int, node: Node) -> Step:
    (a,), name = node.operands, node.attr("name")

    def step(env: dict) -> None:
        record = env[a]
        position = record.names.index(name)
        env[nid] = record.values[position]
        env[~nid] = part(env[~a], position)
    return step


@profiles("with")
def with_(m: Machine, nid: int, node: Node) -> Step:
    compute, source, ops, names = plain.with_(m, nid, node), node.operands[0], node.operands[1:], node.attr("fields")

    def step(env: dict) -> None:
        compute(env)
        old, old_shadow = env[source], env[~source]
        shadows = [part(old_shadow, i) for i in range(len(old.names))]
        for name, o in zip(names, ops):
            shadows[old.names.index(name)] = env[~o]
        env[~nid] = tuple(shadows)
    return step


@profiles("array")
def array(m: Machine, nid: int, node: Node) -> Step:
    ops, element, P = node.operands, m.element_type(nid), m.profiler

    def step(env: dict) -> None:
        out = array_from([env[o] for o in ops], element)
        P.register(out, [max(ready(env[~o]), P.ctl) for o in ops])
        env[nid] = out
        env[~nid] = P.ctl
    return step


# -- arrays ----------------------------------------------------------------------------------------------
@profiles("index")
def index(m: Machine, nid: int, node: Node) -> Step:
    a, indices, P = node.operands[0], node.operands[1:], m.profiler

    def step(env: dict) -> None:
        xs, at = env[a], tuple([env[o] for o in indices])
        try:
            value = plain.read(xs, at)
        except Fault as error:
            raise m.fault(node, error) from None
        start = max(ready(env[~a]), *(ready(env[~o]) for o in indices), P.ctl)
        if isinstance(xs, np.ndarray):
            start = max(start, P.readies(xs).item(*at))
        env[nid] = value
        env[~nid] = start
    return step


@profiles("store")
def store(m: Machine, nid: int, node: Node) -> Step:
    compute, P = plain.store(m, nid, node), m.profiler
    a, indices, v = node.operands[0], node.operands[1:-1], node.operands[-1]

    def step(env: dict) -> None:
        compute(env)
        at = tuple([env[o] for o in indices])
        when = max(ready(env[~v]), *(ready(env[~o]) for o in indices), P.ctl)
        P.readies(env[a])[at] = when
        env[~nid] = P.ctl
    return step


# -- calls ------------------------------------------------------------------------------------------------
@profiles("apply", "call")
def apply(m: Machine, nid: int, node: Node) -> Step:
    callee, args, result_type = node.operands[0], node.operands[1:], m.type_of(nid)
    count = len(args)

    def step(env: dict) -> None:
        fn = env[callee]
        values, shadows = tuple([env[o] for o in args]), tuple([env[~o] for o in args])
        try:
            cls = fn.__class__
            if cls is Function and fn.arity == count:
                env[nid], env[~nid] = call_function(m, fn, values, shadows)
            elif cls is Intrinsic and fn.arity == count:
                env[nid], env[~nid] = intrinsic_p(m, fn.name, values, shadows, result_type)
            else:
                env[nid], env[~nid] = apply_p(m, fn, env[~callee], values, shadows)
        except Fault as error:
            raise m.fault(node, error) from None
    return step


@profiles("pap")
def pap(m: Machine, nid: int, node: Node) -> Step:
    callee, args = node.operands[0], node.operands[1:]

    def step(env: dict) -> None:
        env[nid], env[~nid] = partial_p(env[callee], env[~callee], tuple([env[o] for o in args]),
                                        tuple([env[~o] for o in args]))
    return step


@profiles("native")
def native(m: Machine, nid: int, node: Node) -> Step:
    plain.native(m, nid, node)  # an unknown intrinsic is reported as the plain step does
    name, ops, result_type = node.attr("op"), node.operands, m.type_of(nid)

    def step(env: dict) -> None:
        try:
            env[nid], env[~nid] = intrinsic_p(m, name, tuple([env[o] for o in ops]),
                                              tuple([env[~o] for o in ops]), result_type)
        except Fault as error:
            raise m.fault(node, error) from None
    return step


# -- cells (Clef) -------------------------------------------------------------------------------------------
@profiles("var")
def var(m: Machine, nid: int, node: Node) -> Step:
    (init,), P = node.operands, m.profiler

    def step(env: dict) -> None:
        env[nid] = Cell(env[init], max(ready(env[~init]), P.ctl))
        env[~nid] = 0
    return step


@profiles("load")
def load(m: Machine, nid: int, node: Node) -> Step:
    (cell,) = node.operands

    def step(env: dict) -> None:
        c = env[cell]
        env[nid] = c.value
        env[~nid] = c.ready
    return step


@profiles("assign")
def assign(m: Machine, nid: int, node: Node) -> Step:
    (cell, value), P = node.operands, m.profiler

    def step(env: dict) -> None:
        c = env[cell]
        c.value = env[value]
        shadow = env[~value]
        c.ready = shadow if P.ctl == 0 else max(ready(shadow), P.ctl)
        env[nid] = None
        env[~nid] = P.ctl
    return step

"""Step factories for the kinds of `Clef` and `Elaborated` (see `nanopass.languages`).

Each factory reads its node once and returns a closure over the operand ids
(`nanopass.interp.machine` explains steps and plans).  Where both levels have
a kind (``if``, ``for``, ``foreach``, ``match``) one factory serves both:
a region yielding several values (Elaborated's carried values) makes the
node's value their tuple, and a loop's value is the tuple of its final
carried values, or unit when it carries none (the Clef loop's value).

Effect tokens add no work here: a region's body order is a schedule that
respects every token edge, so the steps run in body order and tokens are
never read.  Control flow of ``async`` regions (``bind``/``await``) lives in
`nanopass.interp.asyncs`, actors in `nanopass.interp.actors`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nanopass.graph import Node
from nanopass.interp.machine import (
    Closure, Function, Intrinsic, Machine, Partial, Step, register_evaluator, scalar_name)
from nanopass.interp.operators import operator
from nanopass.interp.values import (
    MAKE_SCALAR, NIL, READ_ELEMENT, Cell, Cons, Fault, Record, Union, array_from, list_of)


def const_value(value: Any, type_name: str) -> Any:
    if type_name in ("unit", None) or value is None:
        return None
    make = MAKE_SCALAR.get(type_name)
    return make(value) if make is not None else value


def operand_type(m: Machine, node: Node) -> str | None:
    """The ``type`` a ``prim`` computes on: its attribute, else the types table's type of operand 0."""
    declared = node.attr("type")
    if declared is not None:
        return declared
    t = m.type_of(node.operands[0])
    if t is None:
        return None
    return scalar_name(t) or "structural"


# -- values -----------------------------------------------------------------------------------
@register_evaluator("const")
def const(m: Machine, nid: int, node: Node) -> Step:
    value = const_value(node.attr("value"), node.attr("type"))

    def step(env: dict) -> None:
        env[nid] = value
    return step


@register_evaluator("ref")
def ref(m: Machine, nid: int, node: Node) -> Step:
    name, span, symbols = node.attr("name"), node.span, m.symbols

    def step(env: dict) -> None:
        value = symbols.get(name, step)
        env[nid] = m.symbol(name, span) if value is step else value
    return step


@register_evaluator("prim")
def prim(m: Machine, nid: int, node: Node) -> Step:
    fn = operator(node.attr("op"), operand_type(m, node))
    if len(node.operands) == 1:
        (a,) = node.operands

        def unary(env: dict) -> None:
            try:
                env[nid] = fn(env[a])
            except Fault as error:
                raise m.fault(node, error) from None
        return unary
    a, b = node.operands

    def binary(env: dict) -> None:
        try:
            env[nid] = fn(env[a], env[b])
        except Fault as error:
            raise m.fault(node, error) from None
    return binary


@register_evaluator("lambda")
def lambda_(m: Machine, nid: int, node: Node) -> Step:
    plan, free, name = m.plan(node.regions[0]), m.free_values(node.regions[0]), node.attr("name")

    def step(env: dict) -> None:
        env[nid] = Closure(plan, {i: env[i] for i in free}, name)
    return step


@register_evaluator("tuple")
def tuple_(m: Machine, nid: int, node: Node) -> Step:
    ops = node.operands

    def step(env: dict) -> None:
        env[nid] = tuple([env[o] for o in ops])
    return step


@register_evaluator("proj")
def proj(m: Machine, nid: int, node: Node) -> Step:
    (a,), index = node.operands, node.attr("index")

    def step(env: dict) -> None:
        env[nid] = env[a][index]
    return step


@register_evaluator("record")
def record(m: Machine, nid: int, node: Node) -> Step:
    ops, type_name, names = node.operands, node.attr("type"), tuple(node.attr("fields"))

    def step(env: dict) -> None:
        env[nid] = Record(type_name, names, tuple([env[o] for o in ops]))
    return step


@register_evaluator("field")
def field(m: Machine, nid: int, node: Node) -> Step:
    (a,), name = node.operands, node.attr("name")

    def step(env: dict) -> None:
        env[nid] = env[a].get_field(name)
    return step


@register_evaluator("with")
def with_(m: Machine, nid: int, node: Node) -> Step:
    source, ops, names = node.operands[0], node.operands[1:], tuple(node.attr("fields"))

    def step(env: dict) -> None:
        old = env[source]
        values = list(old.values)
        for name, o in zip(names, ops):
            values[old.names.index(name)] = env[o]
        env[nid] = Record(old.type, old.names, tuple(values))
    return step


@register_evaluator("union")
def union(m: Machine, nid: int, node: Node) -> Step:
    ops, type_name, case = node.operands, node.attr("type"), node.attr("case")

    def step(env: dict) -> None:
        env[nid] = Union(type_name, case, tuple([env[o] for o in ops]))
    return step


@register_evaluator("array")
def array(m: Machine, nid: int, node: Node) -> Step:
    ops, element = node.operands, m.element_type(nid)

    def step(env: dict) -> None:
        env[nid] = array_from([env[o] for o in ops], element)
    return step


@register_evaluator("list")
def list_(m: Machine, nid: int, node: Node) -> Step:
    ops = node.operands

    def step(env: dict) -> None:
        env[nid] = list_of([env[o] for o in ops])
    return step


@register_evaluator("cons")
def cons(m: Machine, nid: int, node: Node) -> Step:
    head, tail = node.operands

    def step(env: dict) -> None:
        env[nid] = Cons(env[head], env[tail])
    return step


# -- arrays -------------------------------------------------------------------------------------
def check_index(array: np.ndarray, indices: tuple) -> None:
    shape = array.shape
    if len(indices) != len(shape):
        raise Fault(f"an array of rank {len(shape)} is indexed with {len(indices)} index(es)")
    for i, n in zip(indices, shape):
        if not 0 <= i < n:
            raise Fault(f"index {i} is out of range for an array of shape {'x'.join(map(str, shape))}")


def read(container: Any, indices: tuple) -> Any:
    if isinstance(container, np.ndarray):
        check_index(container, indices)
        value = container.item(*indices)
        reader = READ_ELEMENT[container.dtype]
        return value if reader is None else reader(value)
    if isinstance(container, Cons) and len(indices) == 1:
        (i,) = indices
        if not 0 <= i < container.length:
            raise Fault(f"index {i} is out of range for a list of length {container.length}")
        for _ in range(i):
            container = container.tail
        return container.head
    raise Fault(f"a {type(container).__name__} value is indexed; expected an array")


@register_evaluator("index")
def index(m: Machine, nid: int, node: Node) -> Step:
    ops = node.operands
    if len(ops) == 2:
        a, i = ops

        def step1(env: dict) -> None:
            xs, at = env[a], env[i]
            if xs.__class__ is np.ndarray and xs.ndim == 1 and 0 <= at < xs.shape[0]:
                value = xs.item(at)
                reader = READ_ELEMENT[xs.dtype]
                env[nid] = value if reader is None else reader(value)
                return
            try:
                env[nid] = read(xs, (at,))
            except Fault as error:
                raise m.fault(node, error) from None
        return step1
    a, rest = ops[0], ops[1:]

    def step(env: dict) -> None:
        try:
            env[nid] = read(env[a], tuple([env[o] for o in rest]))
        except Fault as error:
            raise m.fault(node, error) from None
    return step


@register_evaluator("store")
def store(m: Machine, nid: int, node: Node) -> Step:
    a, indices, v = node.operands[0], node.operands[1:-1], node.operands[-1]

    def step(env: dict) -> None:
        xs, at = env[a], tuple([env[o] for o in indices])
        try:
            if not isinstance(xs, np.ndarray):
                raise Fault(f"a {type(xs).__name__} value is stored into; expected an array")
            check_index(xs, at)
        except Fault as error:
            raise m.fault(node, error) from None
        xs[at] = env[v]
        env[nid] = None
    return step


# -- calls ----------------------------------------------------------------------------------------
def call_step(m: Machine, nid: int, node: Node, call: Callable[[Any, tuple], Any]) -> Step:
    callee, args = node.operands[0], node.operands[1:]
    count = len(args)

    def step(env: dict) -> None:
        fn, values = env[callee], tuple([env[o] for o in args])
        try:
            # The common case first: a top-level function called with exactly its arity.
            if fn.__class__ is Function and fn.arity == count:
                env[nid] = fn.call(m, values)
            else:
                env[nid] = call(fn, values)
        except Fault as error:
            raise m.fault(node, error) from None
    return step


@register_evaluator("apply")
def apply(m: Machine, nid: int, node: Node) -> Step:
    # A saturated intrinsic learns its result type (an empty array's dtype) from the types table.
    result_type, count = m.type_of(nid), len(node.operands) - 1

    def typed(fn: Any, args: tuple) -> Any:
        if fn.__class__ is Intrinsic and fn.arity == count:
            return fn.impl(m, args, result_type)
        return m.apply(fn, args)
    return call_step(m, nid, node, typed)


@register_evaluator("call")
def call(m: Machine, nid: int, node: Node) -> Step:
    return call_step(m, nid, node, m.apply)


@register_evaluator("pap")
def pap(m: Machine, nid: int, node: Node) -> Step:
    callee, args = node.operands[0], node.operands[1:]

    def step(env: dict) -> None:
        env[nid] = Partial(env[callee], tuple([env[o] for o in args]))
    return step


@register_evaluator("native")
def native(m: Machine, nid: int, node: Node) -> Step:
    from nanopass.interp.intrinsics import INTRINSICS

    name = node.attr("op")
    entry = INTRINSICS.get(name)
    if entry is None:
        raise m.error(node.span, f"unknown intrinsic '{name}'")
    impl, ops, result_type = entry.impl, node.operands, m.type_of(nid)

    def step(env: dict) -> None:
        try:
            env[nid] = impl(m, tuple([env[o] for o in ops]), result_type)
        except Fault as error:
            raise m.fault(node, error) from None
    return step


# -- mutable cells (Clef) -------------------------------------------------------------------------
@register_evaluator("var")
def var(m: Machine, nid: int, node: Node) -> Step:
    (init,) = node.operands

    def step(env: dict) -> None:
        env[nid] = Cell(env[init])
    return step


@register_evaluator("load")
def load(m: Machine, nid: int, node: Node) -> Step:
    (cell,) = node.operands

    def step(env: dict) -> None:
        env[nid] = env[cell].value
    return step


@register_evaluator("assign")
def assign(m: Machine, nid: int, node: Node) -> Step:
    cell, value = node.operands

    def step(env: dict) -> None:
        env[cell].value = env[value]
        env[nid] = None
    return step


# -- branches -------------------------------------------------------------------------------------
@register_evaluator("if")
def if_(m: Machine, nid: int, node: Node) -> Step:
    (cond,), (then, other) = node.operands, (m.plan(r) for r in node.regions)

    def step(env: dict) -> None:
        plan = then if env[cond] else other
        for s in plan.steps:
            s(env)
        env[nid] = plan.value(env)
    return step


def match_pattern(pattern: tuple) -> Callable[[Any, list], bool]:
    """A matcher ``(value, bound) -> bool`` appending the bound values left to right."""
    tag = pattern[0]
    if tag == "wild":
        return lambda v, bound: True
    if tag == "bind":
        return lambda v, bound: bound.append(v) or True
    if tag == "lit":
        literal = const_value(pattern[1], pattern[2])
        return lambda v, bound: v == literal
    if tag == "tuple":
        parts = [match_pattern(p) for p in pattern[1:]]
        return lambda v, bound: isinstance(v, tuple) and all(p(x, bound) for p, x in zip(parts, v))
    if tag == "case":
        case, parts = pattern[1], [match_pattern(p) for p in pattern[2:]]
        return lambda v, bound: (isinstance(v, Union) and v.case == case
                                 and all(p(x, bound) for p, x in zip(parts, v.payload)))
    if tag == "nil":
        return lambda v, bound: v is NIL
    if tag == "cons":
        head, tail = match_pattern(pattern[1]), match_pattern(pattern[2])
        return lambda v, bound: v is not NIL and isinstance(v, Cons) and head(v.head, bound) and tail(v.tail, bound)
    raise ValueError(f"unknown pattern {pattern!r}")


def match_arms(m: Machine, node: Node) -> list[tuple[Callable, Any, Any]]:
    """(matcher, guard plan or None, body plan) per arm, in order."""
    regions = iter(node.regions)
    arms = []
    for pattern, guarded in zip(node.attr("patterns"), node.attr("guards")):
        guard = m.plan(next(regions)) if guarded else None
        arms.append((match_pattern(pattern), guard, m.plan(next(regions))))
    return arms


@register_evaluator("match")
def match(m: Machine, nid: int, node: Node) -> Step:
    (scrutinee,), arms = node.operands, match_arms(m, node)

    def step(env: dict) -> None:
        value = env[scrutinee]
        for matcher, guard, body in arms:
            bound: list = []
            if not matcher(value, bound):
                continue
            if guard is not None:
                guard.run(env, bound)
                if not guard.value(env):
                    continue
            body.run(env, bound)
            env[nid] = body.value(env)
            return
        raise m.error(node.span, f"no arm of this match accepts the value {value!r}")
    return step


# -- loops ----------------------------------------------------------------------------------------
def loop_step(m: Machine, nid: int, node: Node) -> Step:
    """``while`` (Clef) and ``loop`` (Elaborated): condition and body over the carried values."""
    inits = node.operands
    cond, body = (m.plan(r) for r in node.regions)
    (flag,) = cond.result_ids

    def step(env: dict) -> None:
        carried = tuple([env[o] for o in inits])
        while True:
            cond.run(env, carried)
            if not env[flag]:
                break
            body.run(env, carried)
            carried = body.results(env)
        env[nid] = carried if inits else None
    return step


register_evaluator("while", loop_step)
register_evaluator("loop", loop_step)


@register_evaluator("for")
def for_(m: Machine, nid: int, node: Node) -> Step:
    lo, hi, inits = node.operands[0], node.operands[1], node.operands[2:]
    body = m.plan(node.regions[0])
    index_param, steps = body.params[0], body.steps

    if not inits:
        def plain(env: dict) -> None:
            first, last = env[lo], env[hi]
            make = type(first)
            for i in range(first, last + 1):
                env[index_param] = i if make is int else make(i)
                for s in steps:
                    s(env)
            env[nid] = None
        return plain

    def carrying(env: dict) -> None:
        carried = tuple([env[o] for o in inits])
        first, last = env[lo], env[hi]
        make = type(first)
        for i in range(first, last + 1):
            body.run(env, (i if make is int else make(i),) + carried)
            carried = body.results(env)
        env[nid] = carried
    return carrying


def elements(xs: Any) -> list:
    """The elements of an array (row-major for 2-D) or a list, as Clef values."""
    if isinstance(xs, np.ndarray):
        values = xs.ravel().tolist() if xs.dtype != object else list(xs.ravel())
        reader = READ_ELEMENT[xs.dtype]
        return values if reader is None else [reader(v) for v in values]
    if isinstance(xs, Cons):
        return list(xs)
    raise Fault(f"a {type(xs).__name__} value is iterated; expected an array or a list")


@register_evaluator("foreach")
def foreach(m: Machine, nid: int, node: Node) -> Step:
    source, inits = node.operands[0], node.operands[1:]
    body = m.plan(node.regions[0])

    def step(env: dict) -> None:
        try:
            items = elements(env[source])
        except Fault as error:
            raise m.fault(node, error) from None
        carried = tuple([env[o] for o in inits])
        for item in items:
            body.run(env, (item,) + carried)
            carried = body.results(env)
        env[nid] = carried if inits else None
    return step


@register_evaluator("query")
def query(m: Machine, nid: int, node: Node) -> Step:
    (source,), body = node.operands, m.plan(node.regions[0])
    element = m.element_type(nid)

    def step(env: dict) -> None:
        xs = env[source]
        try:
            items = elements(xs)
        except Fault as error:
            raise m.fault(node, error) from None
        out = []
        for item in items:
            body.run(env, (item,))
            out.append(body.value(env))
        env[nid] = array_from(out, element) if isinstance(xs, np.ndarray) else list_of(out)
    return step

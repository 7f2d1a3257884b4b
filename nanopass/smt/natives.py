"""The intrinsics (``native`` nodes, and saturated ``apply``s of intrinsics in Clef) as z3 terms.

Each follows `nanopass.interp.intrinsics`: maps and ``init`` are array
lambdas (`Machine.tabulate`), folds, reductions, filters and list operations
walk the elements in order (`Machine.walk`, bounded by ``array_bound``), lists
are arrays.  ``Array.sum`` / ``Seq.sum`` are the left fold of ``+`` from zero
that the interpreter's docstring and F# define.  ``Map`` operations are not
encoded yet (`UNSUPPORTED_NATIVES`).
"""

from __future__ import annotations

from typing import Any, Callable

import z3

from nanopass.smt import scalars
from nanopass.smt.encoder import Machine, _element_type
from nanopass.smt.layouts import scalar_name
from nanopass.smt.values import (
    INDEX_BITS, Arr, Scalar, Tup, Unsupported, constant_template, describe, lift, merge, select)

UNSUPPORTED_NATIVES = {
    "Map.empty": "maps are not encoded",
    "Map.add": "maps are not encoded",
    "Map.find": "maps are not encoded",
    "Map.tryFind": "maps are not encoded",
    "Map.merge": "maps are not encoded",
}

Native = Callable[[Machine, list, Any], Any]
NATIVES: dict[str, Native] = {}


def native(m: Machine, name: str, args: list[Any], node_id: int | None) -> Any:
    """The intrinsic ``name`` applied to all its arguments (``node_id`` gives the result's type)."""
    if name in UNSUPPORTED_NATIVES:
        raise Unsupported(f"{name}: {UNSUPPORTED_NATIVES[name]}", kind="native")
    impl = NATIVES.get(name)
    if impl is None:
        raise Unsupported(f"the intrinsic {name} has no encoding", kind="native")
    result_type = m.program.type_of(node_id) if node_id is not None else None
    return impl(m, args, result_type)


def _register(*names: str) -> Callable[[Native], Native]:
    def register(fn: Native) -> Native:
        for name in names:
            NATIVES[name] = fn
        return fn
    return register


def _array(value: Any, name: str, rank: int = 1) -> Arr:
    if not isinstance(value, Arr) or value.container == "list" or value.rank != rank:
        raise Unsupported(f"{name} of a {describe(value)} value", kind="native")
    return value


def _list(value: Any, name: str) -> Arr:
    if not isinstance(value, Arr) or value.container != "list":
        raise Unsupported(f"{name} of a {describe(value)} value", kind="native")
    return value


def _int(value: Any, name: str) -> z3.ExprRef:
    if isinstance(value, Scalar) and value.type == "int":
        return value.term
    raise Unsupported(f"{name} of a {describe(value)} count", kind="native")


def _at(xs: Arr, index: z3.ExprRef) -> Any:
    return select(xs.elem, [index])


# -- arrays ---------------------------------------------------------------------------------------------------

@_register("Array.map", "Array.Parallel.map", "Seq.map")
def _map(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    xs = _array(xs, "Array.map")
    return m.tabulate("array", [xs.lengths[0]], lambda idx: m.apply(f, [_at(xs, idx[0].term)]))


@_register("List.map")
def _list_map(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    xs = _list(xs, "List.map")
    return m.tabulate("list", [xs.lengths[0]], lambda idx: m.apply(f, [_at(xs, idx[0].term)]))


@_register("Array.mapi")
def _mapi(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    xs = _array(xs, "Array.mapi")
    return m.tabulate("array", [xs.lengths[0]], lambda idx: m.apply(f, [idx[0], _at(xs, idx[0].term)]))


@_register("Array.map2")
def _map2(m: Machine, args: list, t: Any) -> Any:
    f, xs, ys = args
    xs, ys = _array(xs, "Array.map2"), _array(ys, "Array.map2")
    m.fault(xs.lengths[0] != ys.lengths[0], "Array.map2 of arrays of different lengths")
    return m.tabulate("array", [xs.lengths[0]],
                      lambda idx: m.apply(f, [_at(xs, idx[0].term), _at(ys, idx[0].term)]))


@_register("Array.init")
def _init(m: Machine, args: list, t: Any) -> Any:
    n, f = args
    return m.tabulate("array", [_int(n, "Array.init")], lambda idx: m.apply(f, idx))


@_register("Array2D.init")
def _init2d(m: Machine, args: list, t: Any) -> Any:
    rows, columns, f = args
    return m.tabulate("array2d", [_int(rows, "Array2D.init"), _int(columns, "Array2D.init")],
                      lambda idx: m.apply(f, idx))


def _zeros(m: Machine, t: Any, lengths: list[z3.ExprRef], container: str) -> Arr:
    for n in lengths:
        m.fault(n < 0, "a negative count")
    element = scalar_name(_element_type(t) if t is not None else None) or "float"
    if element not in scalars.BITS and element not in scalars.FLOAT_TYPES and element != "bool":
        raise Unsupported(f"zeroCreate of {element} elements", kind="native")
    zero = scalars.constant(False if element == "bool" else 0, element)
    return Arr(container, tuple(lengths), constant_template(zero, len(lengths)))


@_register("Array.zeroCreate")
def _zero_create(m: Machine, args: list, t: Any) -> Any:
    return _zeros(m, t, [_int(args[0], "Array.zeroCreate")], "array")


@_register("Array2D.zeroCreate")
def _zero_create2d(m: Machine, args: list, t: Any) -> Any:
    return _zeros(m, t, [_int(a, "Array2D.zeroCreate") for a in args], "array2d")


@_register("Array.length")
def _length(m: Machine, args: list, t: Any) -> Any:
    return Scalar("int", _array(args[0], "Array.length").lengths[0])


@_register("Array2D.length1")
def _length1(m: Machine, args: list, t: Any) -> Any:
    return Scalar("int", _array(args[0], "Array2D.length1", rank=2).lengths[0])


@_register("Array2D.length2")
def _length2(m: Machine, args: list, t: Any) -> Any:
    return Scalar("int", _array(args[0], "Array2D.length2", rank=2).lengths[1])


@_register("Array.copy")
def _copy(m: Machine, args: list, t: Any) -> Any:
    return _array(args[0], "Array.copy")


@_register("Array.windowed", "Seq.windowed")
def _windowed(m: Machine, args: list, t: Any) -> Any:
    size, xs = args
    return m.windows(size, _array(xs, "Array.windowed"), lambda i, window: window)


@_register("Array.zip")
def _zip(m: Machine, args: list, t: Any) -> Any:
    xs, ys = (_array(a, "Array.zip") for a in args)
    m.fault(xs.lengths[0] != ys.lengths[0], "Array.zip of arrays of different lengths")
    return Arr("array", xs.lengths, Tup((xs.elem, ys.elem)))


def _filter(m: Machine, f: Any, xs: Arr, container: str) -> Arr:
    """The elements whose predicate holds, in order (the predicates first, all of them, as the interpreter
    runs them): flags, their exclusive scan, a scatter, the shape baker gives it."""
    flags = m.tabulate("array", [xs.lengths[0]], lambda idx: m.apply(f, [_at(xs, idx[0].term)]))
    return m.compact(xs, flags, container)


@_register("Array.filter")
def _array_filter(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    return _filter(m, f, _array(xs, "Array.filter"), "array")


@_register("List.filter")
def _list_filter(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    return _filter(m, f, _list(xs, "List.filter"), "list")


@_register("Array.reduce")
def _reduce(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    return m.reduce_from_first(_array(xs, "Array.reduce"), lambda x, j, s: [m.apply(f, [s[0], x])])


@_register("Array.fold")
def _fold(m: Machine, args: list, t: Any) -> Any:
    f, init, xs = args
    return m.walk(_array(xs, "Array.fold"), [init], lambda x, j, s: [m.apply(f, [s[0], x])])[0]


@_register("List.fold")
def _list_fold(m: Machine, args: list, t: Any) -> Any:
    f, init, xs = args
    return m.walk(_list(xs, "List.fold"), [init], lambda x, j, s: [m.apply(f, [s[0], x])])[0]


@_register("Array.sum", "Seq.sum")
def _sum(m: Machine, args: list, t: Any) -> Any:
    xs = _array(args[0], "Array.sum")
    shape = _at(xs, z3.BitVecVal(0, INDEX_BITS))
    if not isinstance(shape, Scalar) or (shape.type not in scalars.BITS and shape.type not in scalars.FLOAT_TYPES):
        raise Unsupported(f"the sum of {describe(shape)} values", kind="native")
    zero = scalars.constant(0, shape.type)
    return m.walk(xs, [zero], lambda x, j, s: [scalars.arithmetic("+", shape.type, s[0], x, m.fault)])[0]


# -- lists -------------------------------------------------------------------------------------------------------

@_register("List.collect")
def _collect(m: Machine, args: list, t: Any) -> Any:
    f, xs = args
    xs = _list(xs, "List.collect")
    parts = m.tabulate("array", [xs.lengths[0]], lambda idx: m.apply(f, [_at(xs, idx[0].term)]))
    return m.concat(parts, "list")


@_register("List.distinct")
def _distinct(m: Machine, args: list, t: Any) -> Any:
    """First occurrences: element i equals no element before it (baker's flags), then compacted."""
    xs = _list(args[0], "List.distinct")

    def is_first(idx: list) -> Any:
        i = idx[0].term
        element = _at(xs, i)
        earlier = m.tabulate("array", [i], lambda inner: Scalar(
            "bool", scalars.compare("=", _at(xs, inner[0].term), element, m.lists_equal)))
        seen = m.walk(earlier, [Scalar("bool", z3.BoolVal(False))],
                      lambda x, j, s: [NATIVES["max"](m, [s[0], x], None)])[0]
        return Scalar("bool", z3.Not(seen.term))

    flags = m.tabulate("array", [xs.lengths[0]], is_first)
    return m.compact(xs, flags, "list")


@_register("List.isEmpty")
def _is_empty(m: Machine, args: list, t: Any) -> Any:
    return Scalar("bool", _list(args[0], "List.isEmpty").lengths[0] == 0)


@_register("List.length")
def _list_length(m: Machine, args: list, t: Any) -> Any:
    return Scalar("int", _list(args[0], "List.length").lengths[0])


@_register("List.rev")
def _rev(m: Machine, args: list, t: Any) -> Any:
    xs = _list(args[0], "List.rev")
    (n,) = xs.lengths
    j = z3.BitVec("__rev", INDEX_BITS)
    return Arr("list", (n,), lift(_at(xs, n - 1 - j), [j]))


@_register("fst")
def _fst(m: Machine, args: list, t: Any) -> Any:
    return _pair(args[0])[0]


@_register("snd")
def _snd(m: Machine, args: list, t: Any) -> Any:
    return _pair(args[0])[1]


def _pair(value: Any) -> tuple:
    if not isinstance(value, Tup) or len(value.items) != 2:
        raise Unsupported(f"fst / snd of a {describe(value)} value", kind="native")
    return value.items


# -- math and conversions -----------------------------------------------------------------------------------------

@_register("sqrt")
def _sqrt(m: Machine, args: list, t: Any) -> Any:
    return scalars.square_root(args[0])


@_register("floor")
def _floor(m: Machine, args: list, t: Any) -> Any:
    return scalars.floor(args[0])


@_register("abs")
def _abs(m: Machine, args: list, t: Any) -> Any:
    return scalars.absolute(args[0], m.fault)


def _uninterpreted(name: str) -> Native:
    def impl(m: Machine, args: list, t: Any) -> Any:
        (x,) = args
        if not isinstance(x, Scalar) or x.type not in scalars.FLOAT_TYPES:
            raise Unsupported(f"{name} of a {describe(x)} value", kind="native")
        return Scalar(x.type, m.shared.function(name, [x.term.sort()], x.term.sort())(x.term))
    return impl


for _name in ("exp", "log", "sin", "cos"):
    NATIVES[_name] = _uninterpreted(_name)


def _extremum(smaller_first: bool) -> Native:
    def impl(m: Machine, args: list, t: Any) -> Any:
        a, b = args
        first_wins = scalars.compare("<" if smaller_first else ">", a, b, m.lists_equal)
        return merge(z3.Or(first_wins, scalars.is_nan(a)), a, b)
    return impl


NATIVES["min"] = _extremum(True)
NATIVES["max"] = _extremum(False)


def _conversion(target: str) -> Native:
    def impl(m: Machine, args: list, t: Any) -> Any:
        (x,) = args
        if not isinstance(x, Scalar):
            raise Unsupported(f"{target} of a {describe(x)} value", kind="native")
        return scalars.convert(target, x)
    return impl


for _name in ("float", "float32", "int", "int64", "uint8"):
    NATIVES[_name] = _conversion(_name)

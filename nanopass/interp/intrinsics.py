"""The intrinsics of Clef (`nanopass.frontend.intrinsics.INTRINSIC_NAMES`), run on runtime values.

Each is ``impl(m, args, result_type)``: the machine (to call function
arguments), the argument tuple, and the static type of the result when the
graph's ``types`` table knows it (it fixes the dtype of an array that may be
empty; otherwise the first element's class does, and float64 when there is
none).  Choices where F# leaves room or the subset departs from it:

* ``Array.sum``/``Seq.sum`` are a left fold from zero, so float sums round
  as the sequential loop does; integer sums wrap.
* ``Array.reduce`` of an empty array, ``Array.init``/``zeroCreate`` of a
  negative count, ``Array.map2``/``zip`` of unequal lengths, ``Map.find`` of
  a missing key and ``Array.windowed`` of a size below 1 raise `Fault`.
* ``Map.merge pairs m`` adds the pairs to ``m``: the pairs win over keys
  already in ``m``, and a later pair over an earlier one.
* ``List.distinct`` keeps first occurrences in order.
* ``min``/``max`` propagate NaN (F#'s float specialisation); ``abs`` of the
  minimum int traps (as .NET's ``Math.Abs`` does).
* Converting a float that is NaN or out of range to ``int``/``int64`` gives
  the minimum value (the x86 "integer indefinite"); to ``uint8`` it goes
  through int and keeps the low 8 bits, as ``conv.u1`` does on x86.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import attrs
import numpy as np
from pyrsistent import pmap

from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS as SCHEMES
from nanopass.interp.evaluators import elements
from nanopass.interp.machine import Intrinsic, Machine, element_of, scalar_name
from nanopass.interp.operators import operator
from nanopass.interp.values import (
    DTYPE_NAME, INT64_MIN, INT64_MAX, INT_MIN, INT_MAX, MAKE_SCALAR, NIL, READ_ELEMENT, TYPE_OF_CLASS, Cons, Fault,
    Float32, Int64, NONE, array_from, dtype_for, list_of, negative_count, object_array, round_float32, some,
    wrap_int, wrap_int64, wrap_uint8, zero_of)

Impl = Callable[[Machine, tuple, Any], Any]


@attrs.frozen
class IntrinsicEntry:
    name: str
    arity: int
    impl: Impl


def _arity(name: str) -> int:
    count, t = 0, SCHEMES[name].body
    while isinstance(t, T.TFun):
        count, t = count + 1, t.result
    return count


INTRINSICS: dict[str, IntrinsicEntry] = {}


def intrinsic(name: str):
    def register(impl: Impl) -> Impl:
        INTRINSICS[name] = IntrinsicEntry(name, _arity(name), impl)
        return impl
    return register


def intrinsic_value(m: Machine, name: str) -> Any:
    """The value a ``ref`` to an intrinsic stands for (None: not an intrinsic)."""
    entry = INTRINSICS.get(name)
    if entry is None:
        return None
    if entry.arity == 0:
        return entry.impl(m, (), None)
    return Intrinsic(name, entry.arity, entry.impl)


def _element(result_type: Any) -> str | None:
    return scalar_name(element_of(result_type))


def _array(values: list, result_type: Any) -> np.ndarray:
    return array_from(values, _element(result_type) or (None if values else "float"))


def _array1(xs: Any, name: str) -> np.ndarray:
    if not isinstance(xs, np.ndarray) or xs.ndim != 1:
        raise Fault(f"'{name}' expects a 1-D array, got {type(xs).__name__}")
    return xs


def _list(xs: Any, name: str) -> Cons:
    if not isinstance(xs, Cons):
        raise Fault(f"'{name}' expects a list, got {type(xs).__name__}")
    return xs


def _count(n: int, name: str) -> int:
    if n < 0:
        raise Fault(negative_count(name, n))
    return n


# -- arrays ------------------------------------------------------------------------------------
def _map(name: str):
    def impl(m: Machine, args: tuple, result_type: Any) -> Any:
        f, xs = args
        call = m.invoke
        return _array([call(f, (x,)) for x in elements(_array1(xs, name))], result_type)
    return impl


for _name in ("Array.map", "Array.Parallel.map", "Seq.map"):
    intrinsic(_name)(_map(_name))


@intrinsic("Array.mapi")
def array_mapi(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs = args
    return _array([m.invoke(f, (i, x)) for i, x in enumerate(elements(_array1(xs, "Array.mapi")))], result_type)


@intrinsic("Array.map2")
def array_map2(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs, ys = args
    a, b = elements(_array1(xs, "Array.map2")), elements(_array1(ys, "Array.map2"))
    if len(a) != len(b):
        raise Fault(f"'Array.map2' of arrays of lengths {len(a)} and {len(b)}; expected equal lengths")
    return _array([m.invoke(f, (x, y)) for x, y in zip(a, b)], result_type)


@intrinsic("Array.filter")
def array_filter(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs = args
    xs = _array1(xs, "Array.filter")
    keep = np.array([bool(m.invoke(f, (x,))) for x in elements(xs)], dtype=bool)
    return xs[keep] if len(xs) else xs.copy()


@intrinsic("Array.reduce")
def array_reduce(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs = args
    items = elements(_array1(xs, "Array.reduce"))
    if not items:
        raise Fault("'Array.reduce' of an empty array; expected at least one element")
    acc = items[0]
    for x in items[1:]:
        acc = m.invoke(f, (acc, x))
    return acc


@intrinsic("Array.fold")
def array_fold(m: Machine, args: tuple, result_type: Any) -> Any:
    f, acc, xs = args
    for x in elements(_array1(xs, "Array.fold")):
        acc = m.invoke(f, (acc, x))
    return acc


def sum_of(xs: Any, result_type: Any) -> Any:
    """A left fold of ``+`` from zero (wrapping integers, sequential rounding for floats)."""
    if xs.dtype != object:
        if len(xs) == 0:
            return zero_of(DTYPE_NAME[xs.dtype])
        with np.errstate(over="ignore"):
            total = np.add.accumulate(xs.ravel(), dtype=xs.dtype)[-1].item()
        if total == 0 and xs.dtype.kind == "f":
            # From zero, +0.0 + -0.0 is +0.0: a float sum is never -0.0 (from the first element it
            # would be, when every element is -0.0).
            total = 0.0
        reader = READ_ELEMENT[xs.dtype]
        return total if reader is None else reader(total)
    items = list(xs.ravel())
    if not items:
        return zero_of(scalar_name(result_type)) if scalar_name(result_type) else 0.0
    plus = operator("+", None)
    acc = items[0]
    for x in items[1:]:
        acc = plus(acc, x)
    return acc


for _name in ("Array.sum", "Seq.sum"):
    intrinsic(_name)(lambda m, args, t, _n=_name: sum_of(_array1(args[0], _n), t))


@intrinsic("Array.init")
def array_init(m: Machine, args: tuple, result_type: Any) -> Any:
    n, f = args
    return _array([m.invoke(f, (i,)) for i in range(_count(n, "Array.init"))], result_type)


@intrinsic("Array.zeroCreate")
def array_zero_create(m: Machine, args: tuple, result_type: Any) -> Any:
    element = _element(result_type) or "float"
    return _zeros((_count(args[0], "Array.zeroCreate"),), element)


def _zeros(shape: tuple, element: str) -> np.ndarray:
    dtype = dtype_for(element)
    if dtype is object:
        out = np.empty(shape, dtype=object)
        out.fill(zero_of(element))
        return out
    return np.zeros(shape, dtype=dtype)


@intrinsic("Array.length")
def array_length(m: Machine, args: tuple, result_type: Any) -> Any:
    return len(_array1(args[0], "Array.length"))


@intrinsic("Array.copy")
def array_copy(m: Machine, args: tuple, result_type: Any) -> Any:
    return _array1(args[0], "Array.copy").copy()


def _windowed(name: str):
    def impl(m: Machine, args: tuple, result_type: Any) -> Any:
        size, xs = args
        xs = _array1(xs, name)
        if size < 1:
            raise Fault(f"'{name}' with a window of {size}; expected a size of 1 or more")
        return object_array(xs[i:i + size].copy() for i in range(max(0, len(xs) - size + 1)))
    return impl


for _name in ("Array.windowed", "Seq.windowed"):
    intrinsic(_name)(_windowed(_name))


@intrinsic("Array.zip")
def array_zip(m: Machine, args: tuple, result_type: Any) -> Any:
    a, b = (elements(_array1(x, "Array.zip")) for x in args)
    if len(a) != len(b):
        raise Fault(f"'Array.zip' of arrays of lengths {len(a)} and {len(b)}; expected equal lengths")
    return object_array(zip(a, b))


@intrinsic("Array2D.init")
def array2d_init(m: Machine, args: tuple, result_type: Any) -> Any:
    rows, cols, f = args
    rows, cols = _count(rows, "Array2D.init"), _count(cols, "Array2D.init")
    values = [[m.invoke(f, (i, j)) for j in range(cols)] for i in range(rows)]
    element = _element(result_type) or (TYPE_OF_CLASS.get(type(values[0][0])) if rows and cols else "float")
    out = np.empty((rows, cols), dtype=dtype_for(element))
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            out[i, j] = v
    return out


@intrinsic("Array2D.zeroCreate")
def array2d_zero_create(m: Machine, args: tuple, result_type: Any) -> Any:
    rows, cols = (_count(n, "Array2D.zeroCreate") for n in args)
    return _zeros((rows, cols), _element(result_type) or "float")


def _matrix(xs: Any, name: str) -> np.ndarray:
    if not isinstance(xs, np.ndarray) or xs.ndim != 2:
        raise Fault(f"'{name}' expects a 2-D array, got {type(xs).__name__}")
    return xs


intrinsic("Array2D.length1")(lambda m, args, t: _matrix(args[0], "Array2D.length1").shape[0])
intrinsic("Array2D.length2")(lambda m, args, t: _matrix(args[0], "Array2D.length2").shape[1])


# -- lists ---------------------------------------------------------------------------------------
@intrinsic("List.map")
def list_map(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs = args
    return list_of([m.invoke(f, (x,)) for x in _list(xs, "List.map")])


@intrinsic("List.filter")
def list_filter(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs = args
    return list_of([x for x in _list(xs, "List.filter") if m.invoke(f, (x,))])


@intrinsic("List.fold")
def list_fold(m: Machine, args: tuple, result_type: Any) -> Any:
    f, acc, xs = args
    for x in _list(xs, "List.fold"):
        acc = m.invoke(f, (acc, x))
    return acc


@intrinsic("List.collect")
def list_collect(m: Machine, args: tuple, result_type: Any) -> Any:
    f, xs = args
    out: list = []
    for x in _list(xs, "List.collect"):
        out.extend(_list(m.invoke(f, (x,)), "List.collect"))
    return list_of(out)


@intrinsic("List.distinct")
def list_distinct(m: Machine, args: tuple, result_type: Any) -> Any:
    seen: set = set()
    out = []
    for x in _list(args[0], "List.distinct"):
        if x not in seen:
            seen.add(x)
            out.append(x)
    return list_of(out)


intrinsic("List.isEmpty")(lambda m, args, t: _list(args[0], "List.isEmpty") is NIL)
intrinsic("List.length")(lambda m, args, t: _list(args[0], "List.length").length)
intrinsic("List.rev")(lambda m, args, t: list_of(reversed(list(_list(args[0], "List.rev")))))
intrinsic("fst")(lambda m, args, t: args[0][0])
intrinsic("snd")(lambda m, args, t: args[0][1])


# -- maps ----------------------------------------------------------------------------------------
intrinsic("Map.empty")(lambda m, args, t: pmap())
intrinsic("Map.add")(lambda m, args, t: args[2].set(args[0], args[1]))


@intrinsic("Map.find")
def map_find(m: Machine, args: tuple, result_type: Any) -> Any:
    key, table = args
    if key not in table:
        raise Fault(f"'Map.find': the key {key!r} is not in the map")
    return table[key]


intrinsic("Map.tryFind")(lambda m, args, t: some(args[1][args[0]]) if args[0] in args[1] else NONE)


@intrinsic("Map.merge")
def map_merge(m: Machine, args: tuple, result_type: Any) -> Any:
    pairs, table = args
    evolver = table.evolver()
    for key, value in _list(pairs, "Map.merge"):
        evolver[key] = value
    return evolver.persistent()


# -- math -----------------------------------------------------------------------------------------
def _floating(fn: Callable[[float], float]) -> Impl:
    def impl(m: Machine, args: tuple, result_type: Any) -> Any:
        (x,) = args
        result = fn(x)
        return round_float32(result) if isinstance(x, Float32) else result
    return impl


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else (x if x != x else math.nan)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _trig(fn: Callable[[float], float]) -> Callable[[float], float]:
    return lambda x: fn(x) if math.isfinite(x) else math.nan


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


for _name, _fn in (("sqrt", _sqrt), ("exp", _exp), ("log", _log), ("sin", _trig(math.sin)),
                   ("cos", _trig(math.cos)), ("floor", _floor)):
    intrinsic(_name)(_floating(_fn))


@intrinsic("abs")
def abs_(m: Machine, args: tuple, result_type: Any) -> Any:
    (x,) = args
    cls = type(x)
    if cls is int or cls is Int64:
        if x == (INT_MIN if cls is int else INT64_MIN):
            raise Fault("arithmetic overflow: 'abs' of the minimum value")
        return cls(abs(x))
    return cls(abs(x))


intrinsic("min")(lambda m, args, t: args[0] if args[0] < args[1] or args[0] != args[0] else args[1])
intrinsic("max")(lambda m, args, t: args[0] if args[0] > args[1] or args[0] != args[0] else args[1])


def _to_integer(x: Any, low: int, high: int) -> int:
    if isinstance(x, float):
        if not math.isfinite(x) or not low <= math.trunc(x) <= high:
            return low
        return math.trunc(x)
    return int(x)


def _convert(target: str) -> Impl:
    make = MAKE_SCALAR[target]
    if target in ("float", "float32"):
        return lambda m, args, t: make(float(args[0]))
    if target == "int":
        return lambda m, args, t: wrap_int(_to_integer(args[0], INT_MIN, INT_MAX))
    if target == "int64":
        return lambda m, args, t: wrap_int64(_to_integer(args[0], INT64_MIN, INT64_MAX))
    return lambda m, args, t: wrap_uint8(_to_integer(args[0], INT_MIN, INT_MAX))


for _name in ("float", "float32", "int", "int64", "uint8"):
    intrinsic(_name)(_convert(_name))


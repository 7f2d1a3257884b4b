"""Intrinsics under the profiler: their values (as `nanopass.interp.intrinsics` computes them) and times.

* Element-wise intrinsics (``Array.map mapi map2 init``, ``Array.Parallel.map``,
  ``Seq.map``, ``Array2D.init``, ``List.map``) apply their function to each
  element independently: element i of the result is ready when the
  application to element i is; their indices are free.
* ``filter``: each predicate is independent; a kept element is ready when it
  and its predicate are.
* Reductions are chains as written: ``Array.reduce``, ``Array.fold``,
  ``List.fold`` apply their function to the accumulator and the next
  element; ``Array.sum``/``Seq.sum`` add n - 1 times (cost 1 each).  With
  ``reassociate`` (the profiler's second reading) a reduction whose operator
  is associative (``sum``, ``reduce``, and a ``fold`` whose function is one
  ``+ * &&& ||| ^^^`` or ``min``/``max`` of its two parameters) is timed as
  a balanced tree: ceil(log2 n) levels, each as deep as one application.
  Work is the same in both readings.
* Data movement (``copy windowed zip zeroCreate fst snd List.rev
  List.distinct``) costs 0 and keeps each element's time; lengths are ready
  with their container.
* ``Map.merge`` costs one keyed access (1) per pair it adds.
* Every other intrinsic costs `profiling.INTRINSIC_COSTS` (0 when absent)
  and is ready when all its arguments (every element of an array) are.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nanopass.interp import intrinsics as plain
from nanopass.interp.evaluators import elements
from nanopass.interp.machine import Closure, Intrinsic, Machine
from nanopass.interp.profiling import INTRINSIC_COSTS, SHAPE_READS, ready, call_p, tree_ready
from nanopass.interp.values import Fault, list_of

ProfiledImpl = Callable[[Machine, tuple, tuple, Any, str], tuple[Any, Any]]
PROFILED: dict[str, ProfiledImpl] = {}
ASSOCIATIVE_OPS = frozenset({"+", "*", "&&&", "|||", "^^^"})


def profiled(*names: str):
    """Register one implementation, ``impl(m, args, shadows, result_type, name)``, for the intrinsics named."""
    def register(impl: ProfiledImpl) -> ProfiledImpl:
        for name in names:
            PROFILED[name] = impl
        return impl
    return register


def intrinsic_p(m: Machine, name: str, args: tuple, shadows: tuple, result_type: Any) -> tuple[Any, Any]:
    impl = PROFILED.get(name)
    if impl is not None:
        return impl(m, args, shadows, result_type, name)
    P = m.profiler
    value = plain.INTRINSICS[name].impl(m, args, result_type)
    cost = INTRINSIC_COSTS.get(name)
    if cost is not None and len(shadows) == 1 and shadows[0].__class__ is int:  # a scalar operation
        return value, P.finish(shadows[0], cost)
    if name in SHAPE_READS:
        return value, max([P.ctl] + [ready(s) for s in shadows])
    start = max((P.consumed(a, s) for a, s in zip(args, shadows)), default=0)
    return value, P.finish(start, cost or 0)


def _times(m: Machine, xs: Any, shadow: Any) -> list[int]:
    P = m.profiler
    if isinstance(xs, np.ndarray):
        return P.readies(xs).ravel().tolist()
    return [ready(shadow)] * len(xs)


def _array_result(m: Machine, values: list, times: list, result_type: Any) -> tuple[Any, Any]:
    P = m.profiler
    out = plain._array(values, result_type)
    P.register(out, times)
    return out, P.ctl


# -- element-wise ---------------------------------------------------------------------------------
@profiled("Array.map", "Array.Parallel.map", "Seq.map")
def map_(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, xs), (fs, xs_shadow) = args, shadows
    items = elements(plain._array1(xs, name))
    values, times = [], []
    for x, when in zip(items, _times(m, xs, xs_shadow)):
        v, s = call_p(m, f, fs, (x,), (when,))
        values.append(v)
        times.append(ready(s))
    return _array_result(m, values, times, result_type)


@profiled("Array.mapi")
def mapi(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, xs), (fs, xs_shadow), ctl = args, shadows, m.profiler.ctl
    values, times = [], []
    for i, (x, when) in enumerate(zip(elements(plain._array1(xs, "Array.mapi")), _times(m, xs, xs_shadow))):
        v, s = call_p(m, f, fs, (i, x), (ctl, when))
        values.append(v)
        times.append(ready(s))
    return _array_result(m, values, times, result_type)


@profiled("Array.map2")
def map2(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, xs, ys), (fs, xs_shadow, ys_shadow) = args, shadows
    a, b = elements(plain._array1(xs, "Array.map2")), elements(plain._array1(ys, "Array.map2"))
    if len(a) != len(b):
        raise Fault(f"'Array.map2' of arrays of lengths {len(a)} and {len(b)}; expected equal lengths")
    values, times = [], []
    for x, y, tx, ty in zip(a, b, _times(m, xs, xs_shadow), _times(m, ys, ys_shadow)):
        v, s = call_p(m, f, fs, (x, y), (tx, ty))
        values.append(v)
        times.append(ready(s))
    return _array_result(m, values, times, result_type)


@profiled("Array.init")
def init(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (n, f), (n_shadow, fs) = args, shadows
    index_time = max(ready(n_shadow), m.profiler.ctl)
    values, times = [], []
    for i in range(plain._count(n, "Array.init")):
        v, s = call_p(m, f, fs, (i,), (index_time,))
        values.append(v)
        times.append(ready(s))
    return _array_result(m, values, times, result_type)


@profiled("Array2D.init")
def init2d(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (rows, cols, f), (rs, cs, fs) = args, shadows
    rows, cols = plain._count(rows, "Array2D.init"), plain._count(cols, "Array2D.init")
    index_time = max(ready(rs), ready(cs), m.profiler.ctl)
    values, times = [], []
    for i in range(rows):
        for j in range(cols):
            v, s = call_p(m, f, fs, (i, j), (index_time, index_time))
            values.append(v)
            times.append(ready(s))
    out = np.empty((rows, cols), dtype=plain.dtype_for(plain._element(result_type) or (
        plain.TYPE_OF_CLASS.get(type(values[0])) if values else "float")))
    for k, v in enumerate(values):
        out[divmod(k, cols)] = v
    m.profiler.register(out, times)
    return out, m.profiler.ctl


@profiled("Array.filter")
def filter_(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, xs), (fs, xs_shadow) = args, shadows
    xs = plain._array1(xs, "Array.filter")
    keep, times = [], []
    for x, when in zip(elements(xs), _times(m, xs, xs_shadow)):
        flag, s = call_p(m, f, fs, (x,), (when,))
        keep.append(bool(flag))
        if flag:
            times.append(max(when, ready(s)))
    out = xs[np.array(keep, dtype=bool)] if len(xs) else xs.copy()
    m.profiler.register(out, times)
    return out, m.profiler.ctl


@profiled("List.map", "List.filter", "List.collect")
def list_elementwise(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, xs), (fs, xs_shadow) = args, shadows
    when = max(ready(xs_shadow), m.profiler.ctl)
    out, latest = [], when
    for x in plain._list(xs, name):
        v, s = call_p(m, f, fs, (x,), (when,))
        latest = max(latest, ready(s))
        if name == "List.map":
            out.append(v)
        elif name == "List.filter":
            if v:
                out.append(x)
        else:
            out.extend(plain._list(v, name))
    return list_of(out), latest


# -- reductions ------------------------------------------------------------------------------------
def _chain(m: Machine, f: Any, fs: Any, acc: Any, acc_shadow: Any, items: list, times: list,
           reassociable: bool) -> tuple[Any, Any]:
    """The left fold; under ``reassociate`` an associative one is timed as a balanced tree."""
    P = m.profiler
    tree = reassociable and P.reassociate
    if reassociable:
        P.reductions += 1
    saved_top, depth, leaves = P.top, 0, [ready(acc_shadow)]
    for x, when in zip(items, times):
        before = max(ready(acc_shadow), when, P.ctl)
        acc, acc_shadow = call_p(m, f, fs, (acc, x), (acc_shadow, when))
        depth = max(depth, ready(acc_shadow) - before)
        leaves.append(when)
    if not tree:
        return acc, acc_shadow
    finish = tree_ready(leaves, depth, P.ctl)
    P.top = max(saved_top, finish)
    return acc, finish


@profiled("Array.reduce")
def reduce_(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, xs), (fs, xs_shadow) = args, shadows
    items = elements(plain._array1(xs, "Array.reduce"))
    if not items:
        raise Fault("'Array.reduce' of an empty array; expected at least one element")
    times = _times(m, xs, xs_shadow)
    return _chain(m, f, fs, items[0], times[0], items[1:], times[1:], True)


@profiled("Array.fold", "List.fold")
def fold(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (f, acc, xs), (fs, acc_shadow, xs_shadow) = args, shadows
    source = plain._array1(xs, name) if name == "Array.fold" else plain._list(xs, name)
    items = elements(source)
    return _chain(m, f, fs, acc, acc_shadow, items, _times(m, xs, xs_shadow), _associative_fn(m, f))


def _associative_fn(m: Machine, fn: Any) -> bool:
    if isinstance(fn, Intrinsic):
        return fn.name in ("min", "max")
    if not isinstance(fn, Closure) or len(fn.plan.params) != 2:
        return False
    region = m.graph.region(fn.plan.region_id)
    if len(region.body) != 1 or region.results != region.body:
        return False
    node = m.graph.node(region.body[0])
    return node.kind == "prim" and node.attr("op") in ASSOCIATIVE_OPS and set(node.operands) == set(region.params)


@profiled("Array.sum", "Seq.sum")
def sum_(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    (xs,), (xs_shadow,) = args, shadows
    P = m.profiler
    value = plain.sum_of(plain._array1(xs, name), result_type)
    times = _times(m, xs, xs_shadow)
    if not times:
        return value, P.ctl
    P.reductions += 1
    if P.reassociate:
        P.work += len(times) - 1
        finish = tree_ready(times, 1, P.ctl) if len(times) > 1 else max(times[0], P.ctl)
        P.top = max(P.top, finish)
        return value, finish
    acc = max(times[0], P.ctl)
    for when in times[1:]:
        acc = P.finish(max(acc, when), 1)
    return value, acc


# -- data movement --------------------------------------------------------------------------------------
@profiled("Array.copy")
def copy(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    out = plain._array1(args[0], "Array.copy").copy()
    m.profiler.register(out, m.profiler.readies(args[0]).copy())
    return out, m.profiler.ctl


@profiled("Array.windowed", "Seq.windowed")
def windowed(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    P = m.profiler
    (size, xs) = args
    out = plain._windowed(name)(m, args, result_type)
    times = P.readies(xs)
    for i, window in enumerate(out):
        P.register(window, times[i:i + size].copy())
    P.register(out, [P.ctl] * len(out))
    return out, P.ctl


@profiled("Array.zip")
def zip_(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    out = plain.array_zip(m, args, result_type)
    ta, tb = (_times(m, x, s) for x, s in zip(args, shadows))
    m.profiler.register(out, [max(a, b) for a, b in zip(ta, tb)])
    return out, m.profiler.ctl


@profiled("fst", "snd")
def pair_part(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    index = 0 if name == "fst" else 1
    shadow = shadows[0]
    return args[0][index], shadow[index] if isinstance(shadow, tuple) and len(shadow) == 2 else ready(shadow)


@profiled("Map.merge")
def merge(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    """One keyed access per pair added."""
    P = m.profiler
    value = plain.map_merge(m, args, result_type)
    return value, P.finish(max(ready(s) for s in shadows), len(args[0]))


@profiled("Array.zeroCreate", "Array2D.zeroCreate", "List.rev", "List.distinct")
def moved(m: Machine, args: tuple, shadows: tuple, result_type: Any, name: str) -> tuple[Any, Any]:
    P = m.profiler
    value = plain.INTRINSICS[name].impl(m, args, result_type)
    if isinstance(value, np.ndarray):
        P.register(value, np.full(value.shape, P.ctl))
        return value, P.ctl
    return value, max([P.ctl] + [ready(s) for s in shadows])


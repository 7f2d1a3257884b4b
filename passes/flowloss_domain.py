"""Flow-loss domain: the abstract values and states the `flowloss` interpreter runs on.

Its one concern is what stands, at analysis time, for the profiler's shadows
(`nanopass.interp.profiling`): every value carries the interval of times it
can be ready at, and the parts of it a program can take apart keep their own.

* `Scalar`: a flat time; an integer or bool whose value is known (a size, a
  ``for`` index, a constant, arithmetic on those) keeps it, symbolically,
  and a value known only within bounds keeps the bounds (``vrange``);
* `Parts`: a tuple, record or union built here, one abstract value per part
  (the profiler keeps one time per part too); ``tag`` is a union's case;
* `ArrayV`: an array reference: its own time, and the *sites* it may have
  been allocated at.  Element times live in the heap, per site, as the
  profiler keeps them per element: an `Entry` holds the interval of every
  element's time, the extents, and the structure of the elements;
* `ListV`: a list has one time (as in the profiler), a length interval and
  the structure of its elements;
* `FnV`: a function value: the functions, externs, intrinsics or closures it
  may be, with arguments already bound;
* `Unknown`: a value of unknown shape: every time in it lies in ``time``,
  the elements of any array in it in ``inner``.

A `State` is one abstract run so far: the values by node id (``env``), the
work done, the latest finish (``top``, whose final value is the span), the
control time (``ctl``: the conditions of the branches it is inside), the
heap, and the branch conditions known to hold (``facts``).  An analysis
carries a short list of states, one per set of paths kept apart, so that a
figure's ends are the ends of real runs (`nanopass.passes.flowloss`).
"""

from __future__ import annotations

from typing import Any

import attrs
import sympy as sp

from nanopass.passes.flowloss_algebra import INF, ZERO, Range, point, r_hull, r_max, smax, sub

# -- abstract values ------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Scalar:
    time: Range
    value: Any = None  # a known int (or sympy expression) / bool (sympy boolean), else None
    vrange: Range | None = None  # bounds of an int value known only within them


@attrs.frozen(slots=True)
class Parts:
    parts: tuple
    tag: str | None = None
    names: tuple | None = None  # a record's field names, in order


@attrs.frozen(slots=True)
class ArrayV:
    time: Range
    sites: frozenset


@attrs.frozen(slots=True)
class ListV:
    time: Range
    length: Range
    elem: Any = None


@attrs.frozen(slots=True)
class FnOption:
    """One function a value may be: ``how`` is func, extern, intrinsic, operator or closure."""

    how: str
    name: str
    arity: int
    region: int = -1
    env: Any = attrs.field(default=None, eq=False, hash=False)
    bound: tuple = ()


@attrs.frozen(slots=True)
class FnV:
    options: tuple
    time: Range = ZERO


@attrs.frozen(slots=True)
class Unknown:
    time: Range
    inner: Range = ZERO


@attrs.frozen(slots=True)
class Entry:
    """The heap's knowledge of the arrays allocated at one site."""

    elem: Range
    dims: tuple  # one Range per dimension
    content: Any = None  # the structure of the elements (None: scalars)


AbsValue = Any  # Scalar | Parts | ArrayV | ListV | FnV | Unknown


class State:
    """One abstract run: values, work, latest finish, control time, heap, known conditions."""

    __slots__ = ("env", "work", "top", "ctl", "heap", "facts")

    def __init__(self, env: dict, work: Range, top: Range, ctl: Range, heap: dict, facts: tuple = ()):
        self.env = env
        self.work = work
        self.top = top
        self.ctl = ctl
        self.heap = heap
        self.facts = facts

    def fork(self) -> "State":
        return State(dict(self.env), self.work, self.top, self.ctl, dict(self.heap), self.facts)


# -- reading values -----------------------------------------------------------------------------------

def ready(v: AbsValue) -> Range:
    """When the whole value is ready (the profiler's ``ready``)."""
    if isinstance(v, Parts):
        return r_max(*(ready(p) for p in v.parts)) if v.parts else ZERO
    return v.time


def is_boolean(x: Any) -> bool:
    """Whether a known value is a truth value (Python's, sympy's, or a comparison not yet decided)."""
    return isinstance(x, (bool, sp.logic.boolalg.BooleanAtom, sp.core.relational.Relational,
                          sp.logic.boolalg.BooleanFunction))


def int_value(v: AbsValue) -> Any:
    """The integer a value is known to be (symbolically), else None."""
    if isinstance(v, Scalar) and v.value is not None and not is_boolean(v.value) and type(v.value) is not float:
        return v.value
    return None


def truth(v: AbsValue) -> bool | None:
    """A condition's value when it is known."""
    if isinstance(v, Scalar):
        value = v.value
        if isinstance(value, bool):
            return value
        if value is sp.true:
            return True
        if value is sp.false:
            return False
    return None


def count_of(v: AbsValue) -> Range:
    """How many iterations an extent or count stands for (negative counts fail at run time)."""
    value = int_value(v)
    if value is not None:
        return point(smax(value, 0))
    if isinstance(v, Scalar) and v.vrange is not None:
        return Range(smax(v.vrange.lo, 0), smax(v.vrange.hi, 0))
    return Range(0, INF)


def length_scalar(time: Range, length: Range) -> Scalar:
    """A length read at ``time``: its value when it is known, its bounds otherwise."""
    if length.exact:
        return Scalar(time, length.lo)
    return Scalar(time, None, length)


def minus_one(x: Any) -> Any:
    """``x - 1``, at least 0 (unbounded stays unbounded)."""
    return INF if x is INF else smax(sub(x, 1), 0)


def leaves(v: AbsValue) -> Range:
    """The interval every time in the value lies in."""
    if isinstance(v, Parts):
        return r_hull(*(leaves(p) for p in v.parts)) if v.parts else ZERO
    return v.time


def part(v: AbsValue, index: int, heap: dict) -> AbsValue:
    """Part ``index`` of a value: its own when the value was built here, else the whole value's time."""
    if isinstance(v, Parts) and index < len(v.parts):
        return v.parts[index]
    return Unknown(ready(v), inner_of(v, heap))


def after_branch(v: AbsValue, ctl: Range) -> AbsValue:
    """A value leaving a branch is ready no earlier than the condition that chose it."""
    if isinstance(v, Parts):
        return attrs.evolve(v, parts=tuple(after_branch(p, ctl) for p in v.parts))
    return attrs.evolve(v, time=r_max(v.time, ctl))


def retime(content: AbsValue | None, time: Range) -> AbsValue:
    """An element read out of a container: the container's structure, every time flat at ``time``."""
    if content is None or isinstance(content, Scalar):
        return Scalar(time)
    if isinstance(content, Parts):
        return attrs.evolve(content, parts=tuple(retime(p, time) for p in content.parts))
    return attrs.evolve(content, time=time)


def inner_of(v: AbsValue, heap: dict) -> Range:
    """The interval of the element times of every array reachable from ``v``."""
    found: list[Range] = []
    stack = [v]
    seen: set = set()
    while stack:
        item = stack.pop()
        if isinstance(item, Parts):
            stack.extend(item.parts)
        elif isinstance(item, ArrayV):
            for site in item.sites:
                if site in seen or site not in heap:
                    continue
                seen.add(site)
                entry = heap[site]
                found.append(entry.elem)
                if entry.content is not None:
                    stack.append(entry.content)
        elif isinstance(item, ListV) and item.elem is not None:
            stack.append(item.elem)
        elif isinstance(item, Unknown):
            found.append(item.inner)
    return r_hull(*found) if found else ZERO


def to_unknown(v: AbsValue, heap: dict) -> Unknown:
    return Unknown(leaves(v), inner_of(v, heap))


def join(a: AbsValue, b: AbsValue, heap: dict) -> AbsValue:
    """The least value (in this domain) above both."""
    if a is b:
        return a
    if a is None or b is None:
        return a if b is None else b
    if type(a) is not type(b):
        return _unknown_join(a, b, heap)
    if isinstance(a, Scalar):
        value = a.value if a.value is not None and b.value is not None and a.value == b.value else None
        vrange = None
        if value is None and a.vrange is not None and b.vrange is not None:
            vrange = r_hull(a.vrange, b.vrange)
        return Scalar(r_hull(a.time, b.time), value, vrange)
    if isinstance(a, Parts):
        if len(a.parts) != len(b.parts) or a.names != b.names:
            return _unknown_join(a, b, heap)
        return Parts(tuple(join(x, y, heap) for x, y in zip(a.parts, b.parts)), a.tag if a.tag == b.tag else None,
                     a.names)
    if isinstance(a, ArrayV):
        return ArrayV(r_hull(a.time, b.time), a.sites | b.sites)
    if isinstance(a, ListV):
        return ListV(r_hull(a.time, b.time), r_hull(a.length, b.length), join(a.elem, b.elem, heap))
    if isinstance(a, FnV):
        options = a.options + tuple(o for o in b.options if o not in a.options)
        return FnV(options, r_hull(a.time, b.time))
    return Unknown(r_hull(a.time, b.time), r_hull(a.inner, b.inner))


def _unknown_join(a: AbsValue, b: AbsValue, heap: dict) -> Unknown:
    ua, ub = to_unknown(a, heap), to_unknown(b, heap)
    return Unknown(r_hull(ua.time, ub.time), r_hull(ua.inner, ub.inner))


def join_entries(a: Entry, b: Entry, heap: dict) -> Entry:
    if a is b:
        return a
    dims = tuple(r_hull(x, y) for x, y in zip(a.dims, b.dims)) if len(a.dims) == len(b.dims) else a.dims
    return Entry(r_hull(a.elem, b.elem), dims, join(a.content, b.content, heap))


def join_states(states: list[State]) -> State:
    """One state above all of ``states`` (values present in all of them, heaps joined site by site)."""
    first = states[0]
    if len(states) == 1:
        return first
    heap = dict(first.heap)
    for other in states[1:]:
        for site, entry in other.heap.items():
            heap[site] = join_entries(heap[site], entry, heap) if site in heap else entry
    env = {}
    for key, value in first.env.items():
        joined = value
        for other in states[1:]:
            if key not in other.env:
                joined = None
                break
            joined = join(joined, other.env[key], heap)
        if joined is not None:
            env[key] = joined
    facts = tuple(f for f in first.facts if all(f in s.facts for s in states[1:]))
    return State(env, r_hull(*(s.work for s in states)), r_hull(*(s.top for s in states)),
                 r_hull(*(s.ctl for s in states)), heap, facts)


def consumed(v: AbsValue, heap: dict) -> Range:
    """When an opaque consumer (an extern, a generic intrinsic) can read all of ``v``: arrays wait for
    their elements (the lower end only when the array is known to be non-empty)."""
    own = ready(v)
    if isinstance(v, ArrayV):
        entries = [heap[s] for s in v.sites if s in heap]
        if not entries:
            return own
        elems = r_hull(*(e.elem for e in entries))
        nonempty = all(all(_positive(d.lo) for d in e.dims) for e in entries)
        return Range(smax(own.lo, elems.lo) if nonempty else own.lo, smax(own.hi, elems.hi))
    if isinstance(v, Unknown):
        return Range(own.lo, smax(own.hi, v.inner.hi))
    return own


def _positive(x: Any) -> bool:
    from nanopass.passes.flowloss_algebra import ge

    return ge(x, 1)

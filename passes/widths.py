"""Widths (Saturated -> Saturated): the range of every integer value and the bits it needs.

Its one concern is value ranges: an abstract interpretation of the saturated
graph over intervals, kept beside it in annotation tables (nodes are never
touched).  Every ``int``, ``int64``, ``uint8`` and ``bool`` value gets an
`Interval` (a bool is ``[0, 1]``, or a constant when it is decided) and the
number of bits that holds it: unsigned when the low end is not negative,
two's complement otherwise, and at least one bit.

The abstract values follow the program's data: intervals for integers and
bools, tuples, records (per field), union values (per case, with their
payloads), containers (one abstract element: arrays, lists), and *unknown*
(anything of the value's type).  What the rules say:

* **Arithmetic** is computed on the mathematical values, then put back into
  the type: a result interval that fits the type's range is kept, one that
  may overflow becomes the type's whole range (F# integers wrap, and a
  wrapped value may land anywhere).  ``/`` and ``%`` leave divisors of zero
  out (they fault; a divisor that is always zero leaves no value), ``%``
  keeps the dividend's sign and is smaller than the divisor.
* **Bitwise**: ``x &&& m`` with ``m`` not negative is within ``[0, m]``;
  ``|||`` and ``^^^`` stay within the bit length of their operands; shift
  counts are masked as F# masks them (31, 63, 7) and shifts are computed at
  the corners.  **Conversions** (``int``, ``int64``, ``uint8``) keep a value
  that fits and give the target's whole range otherwise (and from floats).
* **Comparisons** give bools, decided when the intervals do not overlap.
* **Branches** are refined by their condition where it is simple: in the
  then-region of ``if x < c`` reads of ``x`` see ``x <= c - 1`` (every
  comparison of two integers, ``not``, ``&&`` and ``||`` as baker and
  elaboration leave them), a decided condition leaves the other region
  unvisited, and a ``tag_test`` keeps only (or drops) its case of a union
  value, which is how matches read.
* **Loops** (``loop``, ``for``, ``foreach``, ``parallel_for``, ``reduce``,
  ``stencil`` and an actor's state) iterate their carried values to a fixed
  point: joins first, then widening (a bound that keeps moving goes to
  infinity), then a few narrowing steps, each kept only when it is still a
  fixed point, so a counter bounded by its loop condition gets its bound
  back.  A ``for`` index lies between its bounds; a ``parallel_for`` index
  in ``[0, extent - 1]``.  A loop's exit values are refined by its
  condition being false.
* **Functions**: when the whole program is known, a function every use of
  which is a direct call gets, for each parameter, the join of the
  arguments of its calls (a fixed point with widening over the call graph);
  entry points, functions used as values and every function of a library
  (a program without ``[<EntryPoint>]`` and without ``entries``) get
  unknown parameters, as do closures.  ``entries`` names the entry points
  the way `reachability` does (``widths{entries=main+helper}``); a
  ``[<HardwareModule>]`` or ``[<Kernel>]`` function is always one.  Calls
  get their callee's result; externs return unknown values, and an array
  handed to an effectful extern may come back changed.  Elements written by
  ``store`` are joined into every array element read.

Tables written (node ids stable within a pipeline):

* ``ranges``: node id -> `Interval` (finite bounds, inside the value's type);
* ``widths``: node id -> bits;
* ``hardware``: the node id of each ``[<HardwareModule>]`` function -> a
  tuple of `FieldWidth` (role, field, bits, range, source) for its state and
  output record fields.

**Hardware fields.**  A Mealy machine ``State x Inputs -> State x Outputs``
(the result a pair whose first item has the first parameter's type: state
then outputs; otherwise the whole result is outputs) lowers each state
field to a register and each output field to a port, which need fixed
widths.  A field's width is settled by inference (a range narrower than its
type's), by its type when the type was chosen for its width (``uint8`` is 8
bits even when wrap-around reaches every value, a ``bool`` 1), or by an
annotation: ``[<HardwareModule; Width("Total", 12)>]`` gives every state or
output field named ``Total`` 12 bits.  Otherwise (a float or string, or an
``int`` / ``int64`` field whose range is the whole type: F#'s default
integers, no evidence of a width) the field gets an error diagnostic at the
source asking for the annotation, and no width: never a silent default.  An
annotation narrower than a range the analysis proved is an error too, and
so is one that names no such field.

Statistics: analysis rounds, values with a range, hardware fields.

Validation obligation: an analysis never edits nodes (`Analysis.validate`
checks the node and region tables are the input's); the ranges are sound,
which the tests check exhaustively at 8 bits for every operator and
differentially against the reference interpreter on generated programs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Callable, Mapping

import attrs

from nanopass.diagnostics import Diagnostic, Span
from nanopass.frontend import types as T
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph, Node
from nanopass.languages import Saturated
from nanopass.pass_ import Analysis, PassContext, register
from nanopass.entries import check_entry_names, entry_names, entry_points

INF = math.inf

# The values of each integer type, and of bool read as 0 / 1.
TYPE_RANGES: dict[str, tuple[int, int]] = {
    "int": (-(1 << 31), (1 << 31) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint8": (0, 255),
    "bool": (0, 1),
}
INTEGER_TYPES = ("int", "int64", "uint8")
# Shift counts are masked to the width, as FSharp.Core does.
SHIFT_MASKS = {"int": 31, "int64": 63, "uint8": 7}
COMPARISONS = frozenset({"=", "<>", "<", "<=", ">", ">="})
# Types whose width is the programmer's choice: their whole range is evidence enough.
SIZED_TYPES = frozenset({"uint8", "bool"})
WIDTH_ATTRIBUTE = "Width"

# Fixed-point limits: joins before widening, narrowing steps, and the rounds over the call graph.
_WIDEN_AFTER = 2
_NARROWING_STEPS = 2
_LOOP_LIMIT = 12
_ROUND_LIMIT = 40


# -- intervals ----------------------------------------------------------------------------------

@attrs.frozen(slots=True)
class Interval:
    """The integers ``lo .. hi`` (both included).  Inside the analysis a bound may be infinite;
    the ``ranges`` table holds finite ones."""

    lo: int | float
    hi: int | float

    def __attrs_post_init__(self) -> None:
        if self.lo > self.hi:
            raise ValueError(f"empty interval [{self.lo}, {self.hi}]")

    @property
    def bits(self) -> int:
        return bits_needed(self.lo, self.hi)

    @property
    def finite(self) -> bool:
        return self.lo != -INF and self.hi != INF

    @property
    def constant(self) -> int | None:
        return self.lo if self.lo == self.hi else None

    def __contains__(self, value: object) -> bool:
        return self.lo <= value <= self.hi  # type: ignore[operator]

    def join(self, other: "Interval") -> "Interval":
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    def meet(self, other: "Interval") -> "Interval | None":
        """The common part, or None when there is none."""
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        return Interval(lo, hi) if lo <= hi else None

    def within(self, other: "Interval") -> bool:
        return other.lo <= self.lo and self.hi <= other.hi

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi}]"


def bits_needed(lo: int | float, hi: int | float) -> int:
    """Bits holding every integer of ``[lo, hi]``: unsigned when ``lo >= 0``, else two's complement."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"an unbounded interval [{lo}, {hi}] has no width")
    lo, hi = int(lo), int(hi)
    if lo >= 0:
        return max(1, hi.bit_length())
    return max((-lo - 1).bit_length(), hi.bit_length() if hi > 0 else 0) + 1


def type_range(type_name: str | None) -> Interval | None:
    bounds = TYPE_RANGES.get(type_name) if type_name is not None else None
    return None if bounds is None else Interval(*bounds)


def wrap(value: int, type_name: str) -> int:
    """``value`` wrapped into the integer type (or a bool's 0 / 1)."""
    lo, hi = TYPE_RANGES[type_name]
    if type_name == "bool":
        return int(bool(value))
    return (value - lo) % (hi - lo + 1) + lo


def _fit(result: Interval, full: Interval) -> Interval:
    """A mathematical result back in its type: kept when it fits, the whole range when it may wrap."""
    return result if result.within(full) else full


def _corners(fn: Callable[[int, int], int], a: Interval, b: Interval) -> Interval:
    values = [fn(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return Interval(min(values), max(values))


def _nonzero_parts(b: Interval) -> list[Interval]:
    """``b`` without zero, as intervals of one sign."""
    parts = []
    if b.lo <= -1:
        parts.append(Interval(b.lo, min(b.hi, -1)))
    if b.hi >= 1:
        parts.append(Interval(max(b.lo, 1), b.hi))
    return parts


def _truncating_div(x: int, y: int) -> int:
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y > 0) else -q


def _divide(a: Interval, b: Interval, full: Interval) -> "Interval | _Bottom":
    parts = _nonzero_parts(b)
    if not parts:
        return BOTTOM  # always a division by zero: no value comes out
    hull = None
    for part in parts:
        found = _corners(_truncating_div, a, part)
        hull = found if hull is None else hull.join(found)
    # Only MinValue / -1 leaves the range, and it faults rather than wrap: the quotients that exist fit.
    return hull.meet(full) or BOTTOM


def _remainder(a: Interval, b: Interval) -> "Interval | _Bottom":
    parts = _nonzero_parts(b)
    if not parts:
        return BOTTOM
    largest = max(max(abs(p.lo), abs(p.hi)) for p in parts)
    smallest = min(min(abs(p.lo), abs(p.hi)) for p in parts)
    if 0 <= a.lo and a.hi < smallest or 0 >= a.hi and a.lo > -smallest:
        return a  # smaller than every divisor: the remainder is the dividend
    lo = 0 if a.lo >= 0 else max(a.lo, -(largest - 1))
    hi = 0 if a.hi <= 0 else min(a.hi, largest - 1)
    return Interval(lo, hi)


def _signed_bits(a: Interval) -> int:
    return bits_needed(min(a.lo, -1), max(a.hi, 0))


def _bitwise(op: str, a: Interval, b: Interval) -> Interval:
    if a.lo >= 0 and b.lo >= 0:
        top = (1 << max(int(a.hi).bit_length(), int(b.hi).bit_length())) - 1
        if op == "&&&":
            return Interval(0, min(a.hi, b.hi))
        if op == "|||":
            return Interval(max(a.lo, b.lo), top)
        return Interval(0, top)
    if op == "&&&" and (a.lo >= 0 or b.lo >= 0):
        return Interval(0, a.hi if a.lo >= 0 else b.hi)  # a non-negative mask keeps the result within it
    # Two's complement of k bits is closed under and, or, xor.
    half = 1 << (max(_signed_bits(a), _signed_bits(b)) - 1)
    return Interval(-half, half - 1)


def _shift_counts(b: Interval, type_name: str) -> Interval:
    mask = SHIFT_MASKS[type_name]
    return b if 0 <= b.lo and b.hi <= mask else Interval(0, mask)


def _shift(op: str, a: Interval, b: Interval, type_name: str, full: Interval) -> Interval:
    counts = _shift_counts(b, type_name)
    if op == ">>>":
        return _corners(lambda x, n: x >> n, a, counts)
    return _fit(_corners(lambda x, n: x << n, a, counts), full)


def _compare(op: str, a: Any, b: Any) -> Interval:
    """A comparison's bool: decided when the operands' intervals say so."""
    undecided = Interval(0, 1)
    if not (isinstance(a, Interval) and isinstance(b, Interval)):
        return undecided
    if op in (">", ">="):
        op, a, b = {">": "<", ">=": "<="}[op], b, a
    if op == "<":
        outcome = True if a.hi < b.lo else False if a.lo >= b.hi else None
    elif op == "<=":
        outcome = True if a.hi <= b.lo else False if a.lo > b.hi else None
    else:
        equal = True if a.constant is not None and a == b else False if a.meet(b) is None else None
        outcome = equal if op == "=" or equal is None else not equal
    return undecided if outcome is None else Interval(int(outcome), int(outcome))


def binary_range(op: str, type_name: str | None, a: Any, b: Any) -> Any:
    """The abstract result of ``prim op`` on operands of ``type_name`` whose abstract values are a, b.

    An operand that is not an `Interval` is any value of the type.  The
    result is an `Interval`, ``None`` (not an integer, or nothing known) or
    `BOTTOM` (no value: the operation always faults).
    """
    if a is BOTTOM or b is BOTTOM:
        return BOTTOM
    if op in COMPARISONS:
        full = type_range(type_name)
        return _compare(op, _in_type(a, full), _in_type(b, full)) if full is not None else _compare(op, a, b)
    full = type_range(type_name)
    if full is None or type_name == "bool":
        return None
    # A shift's count is an int whatever the shifted type is.
    a, b = _in_type(a, full), _in_type(b, type_range("int") if op in ("<<<", ">>>") else full)
    if a is None or b is None:  # an operand outside its type: an ill-typed graph
        return full
    if op == "+":
        return _fit(Interval(a.lo + b.lo, a.hi + b.hi), full)
    if op == "-":
        return _fit(Interval(a.lo - b.hi, a.hi - b.lo), full)
    if op == "*":
        return _fit(_corners(lambda x, y: x * y, a, b), full)
    if op == "/":
        return _divide(a, b, full)
    if op == "%":
        return _remainder(a, b)
    if op in ("&&&", "|||", "^^^"):
        return _fit(_bitwise(op, a, b), full)
    if op in ("<<<", ">>>"):
        return _shift(op, a, b, type_name, full)
    return full


def unary_range(op: str, type_name: str | None, a: Any) -> Any:
    """The abstract result of a unary ``prim`` (``neg``, ``not``)."""
    if a is BOTTOM:
        return BOTTOM
    if op == "not":
        a = a if isinstance(a, Interval) and a.within(Interval(0, 1)) else Interval(0, 1)
        return Interval(1 - a.hi, 1 - a.lo)
    full = type_range(type_name)
    if full is None or type_name in ("bool", "uint8"):  # uint8 has no negation
        return None
    a = _in_type(a, full)
    return full if a is None else _fit(Interval(-a.hi, -a.lo), full)


def _in_type(value: Any, full: Interval | None) -> Interval | None:
    """An operand as an interval of its type: unknown is the whole range; None when it lies outside."""
    if full is None:
        return value if isinstance(value, Interval) else None
    if not isinstance(value, Interval):
        return full
    return value.meet(full)


def convert_range(target: str, value: Any, source_type: str | None) -> Any:
    """``int`` / ``int64`` / ``uint8`` of a value: kept when it fits, else the target's whole range."""
    full = type_range(target)
    if full is None:
        return None
    if source_type in INTEGER_TYPES and isinstance(value, Interval):
        inside = value.meet(type_range(source_type)) or value
        return _fit(inside, full)
    return full


# -- abstract values ------------------------------------------------------------------------------

class _Bottom:
    """No value: the code is unreachable, or the operation always fails."""

    _instance = None

    def __new__(cls) -> "_Bottom":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "BOTTOM"


BOTTOM = _Bottom()


@attrs.frozen(slots=True)
class Tup:
    items: tuple


@attrs.frozen(slots=True)
class Rec:
    type: str
    fields: tuple  # ((name, value), ...) in construction order

    def get(self, name: str) -> Any:
        """The field's value; None (unknown) for a field the record does not have."""
        for key, value in self.fields:
            if key == name:
                return value
        return None


@attrs.frozen(slots=True)
class Uni:
    cases: tuple  # ((case, payload tuple), ...) sorted by case


@attrs.frozen(slots=True)
class Box:
    """A container (array, list) whose every element is ``element``."""

    element: Any


def join(a: Any, b: Any) -> Any:
    """The least abstract value holding both (``None`` is unknown, `BOTTOM` nothing)."""
    if a is BOTTOM:
        return b
    if b is BOTTOM or a == b:
        return a
    if a is None or b is None or type(a) is not type(b):
        return None
    if isinstance(a, Interval):
        return a.join(b)
    if isinstance(a, Tup):
        return Tup(tuple(join(x, y) for x, y in zip(a.items, b.items))) if len(a.items) == len(b.items) else None
    if isinstance(a, Rec):
        if a.type != b.type:
            return None
        names = [n for n, _ in a.fields]
        names += [n for n, _ in b.fields if n not in names]
        return Rec(a.type, tuple((n, join(a.get(n), b.get(n))) for n in names))
    if isinstance(a, Uni):
        merged = dict(a.cases)
        for case, payload in b.cases:
            if case in merged:
                old = merged[case]
                same_shape = old is not None and payload is not None and len(old) == len(payload)
                merged[case] = tuple(join(x, y) for x, y in zip(old, payload)) if same_shape else None
            else:
                merged[case] = payload
        return Uni(tuple(sorted(merged.items())))
    return Box(join(a.element, b.element))


def leq(a: Any, b: Any) -> bool:
    """Whether ``a`` is included in ``b``."""
    return join(a, b) == b


def widen(old: Any, new: Any, depth: int = 0) -> Any:
    """``old`` grown to hold ``new``, with every moving interval bound sent to infinity."""
    if old is BOTTOM:
        return new
    if new is BOTTOM or old == new:
        return old
    if old is None or new is None or type(old) is not type(new) or depth > 8:
        return None
    if isinstance(old, Interval):
        return Interval(old.lo if new.lo >= old.lo else -INF, old.hi if new.hi <= old.hi else INF)
    if isinstance(old, Tup):
        if len(old.items) != len(new.items):
            return None
        return Tup(tuple(widen(x, y, depth + 1) for x, y in zip(old.items, new.items)))
    if isinstance(old, Rec):
        grown = join(old, new)
        if not isinstance(grown, Rec):
            return None
        return Rec(old.type, tuple((n, widen(old.get(n), v, depth + 1)) for n, v in grown.fields))
    if isinstance(old, Uni):
        grown = join(old, new)
        before = dict(old.cases)
        return Uni(tuple(
            (case, payload if case not in before or payload is None or before[case] is None
             or len(payload) != len(before[case])
             else tuple(widen(x, y, depth + 1) for x, y in zip(before[case], payload)))
            for case, payload in grown.cases))
    return Box(widen(old.element, new.element, depth + 1))


def element(value: Any) -> Any:
    if value is BOTTOM:
        return BOTTOM
    return value.element if isinstance(value, Box) else None


def _holds_container(value: Any) -> bool:
    if value is None or isinstance(value, Box):
        return True
    if isinstance(value, Tup):
        return any(_holds_container(v) for v in value.items)
    if isinstance(value, Rec):
        return any(_holds_container(v) for _, v in value.fields)
    if isinstance(value, Uni):
        return any(p is None or any(_holds_container(v) for v in p) for _, p in value.cases)
    return False


# -- static types ----------------------------------------------------------------------------------

def scalar_type(t: Any) -> str | None:
    return t.base if isinstance(t, T.TPrim) and isinstance(t.base, str) else None


def _curried(t: Any, arity: int) -> tuple[list, Any]:
    params = []
    for _ in range(arity):
        if not isinstance(t, T.TFun):
            return params + [None] * (arity - len(params)), None
        params.append(t.arg)
        t = t.result
    return params, t


def record_field_types(graph: Graph, types: Mapping[int, Any]) -> dict[str, dict[str, Any]]:
    """Each declared record's field types: the ``typedefs`` table's when the front end wrote one, else
    read off the typed record and field nodes."""
    found: dict[str, dict[str, Any]] = {node.attr("name"): {} for _, node in graph.top_level()
                                        if node.kind == "typedef" and node.attr("form") == "record"}
    for definition in graph.annotation("typedefs").values():
        if isinstance(definition, T.RecordDef) and definition.name in found:
            found[definition.name].update(definition.fields)
    for node_id, node in graph.live_nodes():
        if node.kind == "record" and node.attr("type") in found:
            for name, operand in zip(node.attr("fields") or (), node.operands):
                if types.get(operand) is not None:
                    found[node.attr("type")].setdefault(name, types[operand])
        elif node.kind == "field" and types.get(node_id) is not None and node.operands:
            owner = types.get(node.operands[0])
            if isinstance(owner, T.TCon) and owner.name in found:
                found[owner.name].setdefault(node.attr("name"), types[node_id])
    return found


# -- the abstract interpreter ---------------------------------------------------------------------------

def closed_functions(graph: Graph, entries: set[str]) -> set[str]:
    """Functions every use of which is a direct call, and that no entry point is: their callers are known."""
    funcs = {node.attr("name") for _, node in graph.top_level() if node.kind == "func"}
    refs = {node_id: node.attr("name") for node_id, node in graph.live_nodes()
            if node.kind == "ref" and node.attr("name") in funcs}
    direct_uses: dict[int, int] = defaultdict(int)
    all_uses: dict[int, int] = defaultdict(int)
    called: set[str] = set()
    for _, node in graph.live_nodes():
        for position, operand in enumerate(node.operands):
            if operand in refs:
                all_uses[operand] += 1
                if position == 0 and node.kind == "call" and node.attr("callee") == refs[operand]:
                    direct_uses[operand] += 1
                    called.add(refs[operand])
    for region in graph.regions:
        if region is not None:
            for value in region.results:
                if value in refs:
                    all_uses[value] += 1
    escaping = {name for ref, name in refs.items() if all_uses[ref] != direct_uses[ref]}
    return {name for name in called if name not in entries and name not in escaping}


class _Analyzer:
    """One run of the abstract interpreter over a graph (see the module docstring)."""

    def __init__(self, graph: Graph, entries: set[str]):
        self.graph = graph
        self.types = graph.annotation("types")
        self.values: dict[int, Any] = {}
        self.overlays: list[dict[int, Any]] = []  # refinements of outer values inside branches
        self.decls = {node.attr("name"): (node_id, node) for node_id, node in graph.top_level()
                      if node.attr("name") is not None}
        self.closed = closed_functions(graph, entries)
        # Summaries over the call graph: they only grow, round after round.
        self.params: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self.globals: dict[str, Any] = {}
        self.stored: Any = BOTTOM
        self.rounds = 0

    # -- the rounds ---------------------------------------------------------------------------------
    def run(self) -> None:
        for round_number in range(_ROUND_LIMIT):
            self.rounds = round_number + 1
            before = self._summaries()
            self.values = {}
            for node_id, node in self.graph.top_level():
                self.declaration(node_id, node)
            after = self._summaries()
            if after == before:
                return
            if round_number >= _WIDEN_AFTER:
                self._widen_summaries(before)
        # No fixed point within the limit: give up on every summary, which is a fixed point.
        self.params = {name: None for name in self.params}
        self.results = {name: None for name in self.results}
        self.globals = {name: None for name in self.globals}
        self.stored = None
        self.values = {}
        for node_id, node in self.graph.top_level():
            self.declaration(node_id, node)

    def _summaries(self) -> tuple:
        return (dict(self.params), dict(self.results), dict(self.globals), self.stored)

    def _widen_summaries(self, before: tuple) -> None:
        params, results, globals_, stored = before
        for table, old in ((self.params, params), (self.results, results), (self.globals, globals_)):
            for name, value in table.items():
                table[name] = widen(old.get(name, BOTTOM), value)
        self.stored = widen(stored, self.stored)

    def declaration(self, node_id: int, node: Node) -> None:
        name = node.attr("name")
        if node.kind == "func":
            region = self.graph.region(node.regions[0])
            if name in self.closed:
                args = self.params.get(name, BOTTOM)
                if not isinstance(args, Tup):  # never called yet, or calls of differing shapes
                    args = (BOTTOM if args is BOTTOM else None,) * len(region.params)
                else:
                    args = args.items
            else:
                args = (None,) * len(region.params)
            if any(a is BOTTOM for a in args):
                return  # never called yet: nothing to learn from its body this round
            self.results[name] = join(self.results.get(name, BOTTOM), self.region(node.regions[0], args))
        elif node.kind == "global":
            self.globals[name] = join(self.globals.get(name, BOTTOM), self.region(node.regions[0], ()))
        elif node.kind not in ("extern", "typedef"):
            self.values[node_id] = self.node(node_id, node)

    # -- regions and nodes ------------------------------------------------------------------------
    def region(self, region_id: int, args: tuple, overlay: dict[int, Any] | None = None) -> Any:
        """Evaluate a region on abstract ``args``; its value (one result), a `Tup` of several, or unit."""
        region = self.graph.region(region_id)
        for param, arg in zip(region.params, args):
            self.values[param] = arg
        if overlay:
            self.overlays.append(overlay)
        try:
            for node_id in region.body:
                self.values[node_id] = self.node(node_id, self.graph.node(node_id))
            results = tuple(self.read(r) for r in region.results)
        finally:
            if overlay:
                self.overlays.pop()
        if len(results) == 1:
            return results[0]
        return Tup(results) if results else None

    def results_of(self, region_id: int, args: tuple, overlay: dict[int, Any] | None = None) -> tuple:
        value = self.region(region_id, args, overlay)
        count = len(self.graph.region(region_id).results)
        if count == 1:
            return (value,)
        if value is BOTTOM:
            return (BOTTOM,) * count
        return value.items if isinstance(value, Tup) else ()

    def read(self, node_id: int) -> Any:
        for overlay in reversed(self.overlays):
            if node_id in overlay:
                return overlay[node_id]
        value = self.values.get(node_id)
        if value is None:  # unknown: any value of its type, which for an integer is an interval
            return type_range(self.static(node_id))
        return value

    def static(self, node_id: int) -> str | None:
        return scalar_type(self.types.get(node_id))

    def node(self, node_id: int, node: Node) -> Any:
        handler = getattr(self, "kind_" + node.kind, None)
        if handler is not None:
            return handler(node_id, node)
        for region_id in node.regions:  # a kind of another level: its regions still get values
            self.region(region_id, (None,) * len(self.graph.region(region_id).params))
        return None

    # -- scalars ------------------------------------------------------------------------------------
    def kind_const(self, node_id: int, node: Node) -> Any:
        value, type_name = node.attr("value"), node.attr("type")
        if type_name in TYPE_RANGES and isinstance(value, (bool, int)):
            constant = wrap(int(value), type_name)
            return Interval(constant, constant)
        return None

    def kind_prim(self, node_id: int, node: Node) -> Any:
        op = node.attr("op")
        type_name = node.attr("type") or self.static(node.operands[0])
        operands = [self.read(o) for o in node.operands]
        if len(operands) == 1:
            return unary_range(op, type_name, operands[0])
        if len(operands) != 2:
            return None
        return binary_range(op, type_name, *operands)

    def kind_native(self, node_id: int, node: Node) -> Any:
        op = node.attr("op")
        args = [self.read(o) for o in node.operands]
        if any(a is BOTTOM for a in args):
            return BOTTOM
        if op in INTEGER_TYPES and len(args) == 1:
            return convert_range(op, args[0], self.static(node.operands[0]))
        if op in ("Array.length", "List.length", "Array2D.length1", "Array2D.length2"):
            return Interval(0, INF)
        if op == "List.isEmpty":
            return Interval(0, 1)
        if op in ("fst", "snd") and args and isinstance(args[0], Tup) and len(args[0].items) == 2:
            return args[0].items[0 if op == "fst" else 1]
        if (op, len(args)) in (("abs", 1), ("min", 2), ("max", 2)):
            return self._math(op, node_id, node, args)
        if op in ("Array.copy", "List.rev") and args:
            return Box(self.element(args[0])) if isinstance(args[0], Box) else None
        if op in ("Array.zeroCreate", "Array2D.zeroCreate"):
            t = self.types.get(node_id)
            zero = Interval(0, 0) if isinstance(t, T.TArray) and scalar_type(t.elem) in TYPE_RANGES else None
            return Box(zero)
        if op == "Array.zip" and len(args) == 2:
            return Box(Tup((self.element(args[0]), self.element(args[1]))))
        return None

    def _math(self, op: str, node_id: int, node: Node, args: list) -> Any:
        type_name = self.static(node_id) or self.static(node.operands[0])
        full = type_range(type_name)
        if full is None or type_name == "bool":
            return None
        values = [_in_type(a, full) for a in args]
        if any(v is None for v in values):
            return full
        if op == "abs":
            (a,) = values
            low = 0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi))
            # abs of MinValue faults; every other magnitude fits.
            high = min(max(abs(a.lo), abs(a.hi)), full.hi)
            return Interval(low, high) if low <= high else BOTTOM
        a, b = values
        pick = min if op == "min" else max
        return Interval(pick(a.lo, b.lo), pick(a.hi, b.hi))

    def kind_extent(self, node_id: int, node: Node) -> Any:
        return Interval(0, INF)

    def kind_tag_test(self, node_id: int, node: Node) -> Any:
        value, case = self.read(node.operands[0]), node.attr("case")
        if value is BOTTOM:
            return BOTTOM
        if isinstance(value, Uni):
            cases = dict(value.cases)
            if case not in cases:
                return Interval(0, 0)
            if len(cases) == 1:
                return Interval(1, 1)
        return Interval(0, 1)

    # -- structures ---------------------------------------------------------------------------------
    def kind_tuple(self, node_id: int, node: Node) -> Any:
        return Tup(tuple(self.read(o) for o in node.operands))

    def kind_proj(self, node_id: int, node: Node) -> Any:
        value, index = self.read(node.operands[0]), node.attr("index")
        if value is BOTTOM:
            return BOTTOM
        if isinstance(value, Tup) and isinstance(index, int) and 0 <= index < len(value.items):
            return value.items[index]
        return None

    def kind_record(self, node_id: int, node: Node) -> Any:
        names = tuple(node.attr("fields") or ())
        return Rec(str(node.attr("type")), tuple(zip(names, (self.read(o) for o in node.operands))))

    def kind_field(self, node_id: int, node: Node) -> Any:
        value = self.read(node.operands[0])
        if value is BOTTOM:
            return BOTTOM
        return value.get(node.attr("name")) if isinstance(value, Rec) else None

    def kind_with(self, node_id: int, node: Node) -> Any:
        source = self.read(node.operands[0])
        if source is BOTTOM:
            return BOTTOM
        if not isinstance(source, Rec):  # an unknown record: what the copy changes is still known
            t = self.types.get(node_id)
            source = Rec(t.name if isinstance(t, T.TCon) else "", ())
        changed = dict(zip(node.attr("fields") or (), (self.read(o) for o in node.operands[1:])))
        names = [n for n, _ in source.fields]
        names += [n for n in changed if n not in names]
        return Rec(source.type, tuple((n, changed[n] if n in changed else source.get(n)) for n in names))

    def kind_union(self, node_id: int, node: Node) -> Any:
        return Uni(((str(node.attr("case")), tuple(self.read(o) for o in node.operands)),))

    def kind_case_field(self, node_id: int, node: Node) -> Any:
        value, case, index = self.read(node.operands[0]), node.attr("case"), node.attr("index")
        if value is BOTTOM:
            return BOTTOM
        if case == "cons":
            return self.element(value) if index == 0 else value if isinstance(value, Box) else None
        if isinstance(value, Uni):
            payload = dict(value.cases).get(case)
            if payload is not None and isinstance(index, int) and 0 <= index < len(payload):
                return payload[index]
        return None

    def kind_array(self, node_id: int, node: Node) -> Any:
        found: Any = BOTTOM
        for operand in node.operands:
            found = join(found, self.read(operand))
        return Box(found)

    kind_list = kind_array

    def kind_cons(self, node_id: int, node: Node) -> Any:
        head, tail = (self.read(o) for o in node.operands)
        return Box(join(head, element(tail) if tail is not None else None))

    def element(self, container: Any) -> Any:
        """An element read from a container: what it was built with, and whatever ``store`` wrote."""
        found = element(container)
        return found if found is BOTTOM or self.stored is BOTTOM else join(found, self.stored)

    def kind_index(self, node_id: int, node: Node) -> Any:
        return self.element(self.read(node.operands[0]))

    def kind_store(self, node_id: int, node: Node) -> Any:
        self.stored = join(self.stored, self.read(node.operands[-1]))
        return None

    # -- calls --------------------------------------------------------------------------------------
    def kind_call(self, node_id: int, node: Node) -> Any:
        args = tuple(self.read(o) for o in node.operands[1:])
        name = node.attr("callee")
        target = self.decls.get(name) if name is not None else None
        if target is not None and target[1].kind == "func":
            if any(a is BOTTOM for a in args):
                return BOTTOM
            if name in self.closed:
                self.params[name] = join(self.params.get(name, BOTTOM), Tup(args))
            return self.results.get(name, BOTTOM)
        effectful = target is None or target[1].kind != "extern" or not target[1].attr("pure", False)
        if effectful and any(self._may_hold_array(o, a) for o, a in zip(node.operands[1:], args)):
            self.stored = None  # unknown code may write into the arrays it is handed
        return None

    def _may_hold_array(self, node_id: int, value: Any) -> bool:
        t = self.types.get(node_id)
        if t is not None:
            # A declared record or union may hold an array in a field.
            return any(isinstance(part, (T.TArray, T.TVar)) or (isinstance(part, T.TCon)
                       and part.name not in T.BUILTIN_CONSTRUCTORS) for part in T.walk(t))
        return _holds_container(value)

    def kind_ref(self, node_id: int, node: Node) -> Any:
        target = self.decls.get(node.attr("name"))
        if target is not None and target[1].kind == "global":
            return self.globals.get(node.attr("name"), BOTTOM)
        return None

    def kind_lambda(self, node_id: int, node: Node) -> Any:
        for region_id in node.regions:  # called from anywhere with anything
            self.region(region_id, (None,) * len(self.graph.region(region_id).params))
        return None

    kind_async = kind_lambda
    kind_pap = kind_lambda

    def kind_match_failure(self, node_id: int, node: Node) -> Any:
        return BOTTOM

    # -- branches -----------------------------------------------------------------------------------
    def kind_if(self, node_id: int, node: Node) -> Any:
        cond = self.read(node.operands[0])
        then, other = node.regions
        found: Any = BOTTOM
        for region_id, truth in ((then, 1), (other, 0)):
            if cond is BOTTOM or (isinstance(cond, Interval) and truth not in cond):
                continue
            overlay = self.refine(node.operands[0], bool(truth))
            if overlay is None:
                continue
            found = join(found, self.region(region_id, (), overlay))
        return found

    def refine(self, cond: int, truth: bool) -> dict[int, Any] | None:
        """What holds of other values when ``cond`` is ``truth``; None when it cannot be."""
        facts: dict[int, Any] = {cond: Interval(int(truth), int(truth))}
        if not self._refine(cond, truth, facts, 0):
            return None
        return facts

    def _refine(self, cond: int, truth: bool, facts: dict[int, Any], depth: int) -> bool:
        """Add what ``cond == truth`` says to ``facts``; False when it is impossible."""
        node = self.graph.nodes[cond] if 0 <= cond < len(self.graph.nodes) else None
        if node is None or depth > 16:
            return True
        if node.kind == "prim" and node.attr("op") == "not" and len(node.operands) == 1:
            return self._refine(node.operands[0], not truth, facts, depth + 1)
        if node.kind == "prim" and node.attr("op") in COMPARISONS and len(node.operands) == 2:
            return self._refine_comparison(node, truth, facts)
        if node.kind == "tag_test":
            return self._refine_case(node, truth, facts)
        if node.kind == "if" and len(node.regions) == 2:
            # ``a && b`` is ``if a then b else false``; ``a || b`` is ``if a then true else b``.
            then_result, else_result = (self._single_result(r) for r in node.regions)
            if truth and self._is_const(else_result, False):
                return (self._refine(node.operands[0], True, facts, depth + 1)
                        and self._refine(then_result, True, facts, depth + 1))
            if not truth and self._is_const(then_result, True):
                return (self._refine(node.operands[0], False, facts, depth + 1)
                        and self._refine(else_result, False, facts, depth + 1))
        return True

    def _single_result(self, region_id: int) -> int:
        results = self.graph.region(region_id).results
        return results[0] if len(results) == 1 else -1

    def _is_const(self, node_id: int, value: bool) -> bool:
        node = self.graph.nodes[node_id] if 0 <= node_id < len(self.graph.nodes) else None
        return node is not None and node.kind == "const" and node.attr("type") == "bool" and node.attr("value") is value

    def _current(self, node_id: int, facts: dict[int, Any]) -> Any:
        return facts[node_id] if node_id in facts else self.read(node_id)

    def _refine_comparison(self, node: Node, truth: bool, facts: dict[int, Any]) -> bool:
        full = type_range(node.attr("type") or self.static(node.operands[0]))
        if full is None:
            return True
        left, right = node.operands
        a, b = (_in_type(self._current(o, facts), full) for o in (left, right))
        if a is None or b is None:
            return True
        op = node.attr("op")
        if not truth:
            op = {"=": "<>", "<>": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}[op]
        if op in (">", ">="):
            op, a, b, left, right = {">": "<", ">=": "<="}[op], b, a, right, left
        if op == "=":
            new_a = new_b = a.meet(b)
        elif op == "<>":
            new_a, new_b = _exclude(a, b.constant), _exclude(b, a.constant)
        else:
            strict = 1 if op == "<" else 0
            new_a = a.meet(Interval(-INF, b.hi - strict))
            new_b = b.meet(Interval(a.lo + strict, INF))
        if new_a is None or new_b is None:
            return False
        facts[left], facts[right] = new_a, new_b
        return True

    def _refine_case(self, node: Node, truth: bool, facts: dict[int, Any]) -> bool:
        (value_id,), case = node.operands, node.attr("case")
        value = self._current(value_id, facts)
        if not isinstance(value, Uni):
            return True
        kept = tuple((c, p) for c, p in value.cases if (c == case) == truth)
        if not kept:
            return False
        facts[value_id] = Uni(kept)
        return True

    # -- loops --------------------------------------------------------------------------------------
    def solve(self, init: Tup, step: Callable[[Tup], Tup]) -> Tup:
        """A post-fixed point of ``x = init | step(x)``, with the last ``step`` run on it.

        Joins, then widening, then narrowing steps each kept only when still
        a post-fixed point (so the node values recorded are sound).
        """
        size = len(init.items)

        def next_of(x: Tup) -> Tup:
            found = join(init, step(x))
            # A body yielding another number of values (an ill-formed graph) knows nothing.
            return found if isinstance(found, Tup) and len(found.items) == size else Tup((None,) * size)

        x, count = init, 0
        while True:
            y = next_of(x)
            if leq(y, x):
                break
            count += 1
            if count > _LOOP_LIMIT:
                x = Tup(tuple(None for _ in init.items))
            else:
                x = widen(x, y) if count > _WIDEN_AFTER else join(x, y)
        for _ in range(_NARROWING_STEPS):
            if y == x:
                break
            z = next_of(y)
            if not leq(z, y):
                step(x)  # record the nodes again from the proven fixed point
                break
            x, y = y, z
        return x

    def kind_loop(self, node_id: int, node: Node) -> Any:
        cond_id, body_id = node.regions
        cond_region = self.graph.region(cond_id)
        init = Tup(tuple(self.read(o) for o in node.operands))
        if any(v is BOTTOM for v in init.items):
            return BOTTOM
        (flag,) = cond_region.results[:1] or (-1,)

        def step(carried: Tup) -> Tup:
            cond = self.region(cond_id, carried.items)
            if cond is BOTTOM or (isinstance(cond, Interval) and cond.lo == 0 == cond.hi):
                return Tup((BOTTOM,) * len(carried.items))
            facts = self.refine(flag, True) if flag >= 0 else {}
            if facts is None:
                return Tup((BOTTOM,) * len(carried.items))
            args = tuple(facts.get(p, v) for p, v in zip(cond_region.params, carried.items))
            outer = {k: v for k, v in facts.items() if k not in cond_region.params}
            return Tup(tuple(self.results_of(body_id, args, outer)))

        carried = self.solve(init, step)
        exit_values = self._loop_exit(cond_id, cond_region, flag, carried)
        return BOTTOM if exit_values is None else Tup(exit_values)

    def _loop_exit(self, cond_id: int, cond_region: Any, flag: int, carried: Tup) -> tuple | None:
        cond = self.region(cond_id, carried.items)
        if cond is BOTTOM or (isinstance(cond, Interval) and cond.lo == 1):
            return None  # the condition never turns false: the loop does not end
        facts = (self.refine(flag, False) if flag >= 0 else {})
        if facts is None:
            return None
        return tuple(facts.get(p, v) for p, v in zip(cond_region.params, carried.items))

    def _counted(self, node: Node, first: Any, skip: int) -> Any:
        """``for`` / ``foreach``: the body over ``first`` (the index or element) and the carried values."""
        (body_id,) = node.regions
        init = Tup(tuple(self.read(o) for o in node.operands[skip:]))
        if any(v is BOTTOM for v in init.items):
            return BOTTOM
        if first is BOTTOM:
            return init  # the body never runs: the initial values
        carried = self.solve(init, lambda x: Tup(self.results_of(body_id, (first,) + x.items)))
        return carried

    def kind_for(self, node_id: int, node: Node) -> Any:
        lo, hi = (self.read(o) for o in node.operands[:2])
        if lo is BOTTOM or hi is BOTTOM:
            return BOTTOM
        index: Any = None
        if isinstance(lo, Interval) and isinstance(hi, Interval):
            index = BOTTOM if lo.lo > hi.hi else Interval(lo.lo, hi.hi)
        return self._counted(node, index, 2)

    def kind_foreach(self, node_id: int, node: Node) -> Any:
        return self._counted(node, self.element(self.read(node.operands[0])), 1)

    def kind_parallel_for(self, node_id: int, node: Node) -> Any:
        extents = [self.read(o) for o in node.operands]
        if any(e is BOTTOM for e in extents):
            return BOTTOM
        indices = []
        for extent in extents:
            if isinstance(extent, Interval) and extent.hi <= 0:
                return Box(BOTTOM)  # no index: no element
            indices.append(Interval(0, extent.hi - 1 if isinstance(extent, Interval) else INF))
        return Box(self.region(node.regions[0], tuple(indices)))

    def kind_reduce(self, node_id: int, node: Node) -> Any:
        source = self.read(node.operands[0])
        item = self.element(source)
        init = self.read(node.operands[1]) if len(node.operands) > 1 else item
        if init is BOTTOM:
            return BOTTOM
        if item is BOTTOM:
            return init  # an empty source: the fold is its initial value
        acc = self.solve(Tup((init,)), lambda x: Tup((self.region(node.regions[0], (x.items[0], item)),)))
        return acc.items[0]

    def kind_stencil(self, node_id: int, node: Node) -> Any:
        source = self.read(node.operands[1])
        if source is BOTTOM:
            return BOTTOM
        window = Box(self.element(source))
        return Box(self.region(node.regions[0], (Interval(0, INF), window)))

    def kind_scan(self, node_id: int, node: Node) -> Any:
        return Box(None)

    def kind_scatter(self, node_id: int, node: Node) -> Any:
        return Box(self.element(self.read(node.operands[0])))

    def kind_concat(self, node_id: int, node: Node) -> Any:
        return Box(self.element(self.element(self.read(node.operands[0]))))

    def kind_actor(self, node_id: int, node: Node) -> Any:
        init = self.read(node.operands[0])
        if init is BOTTOM:
            return BOTTOM
        (handler,) = node.regions
        # Any message may arrive; the state is the fixed point of the handler's first result.
        self.solve(Tup((init,)), lambda s: Tup(self.results_of(handler, (s.items[0], None))[:1] or (None,)))
        return None


def _exclude(a: Interval, value: int | None) -> Interval | None:
    """``a`` without ``value`` where that leaves an interval (an end point)."""
    if value is None or value not in a:
        return a
    if a.lo == a.hi:
        return None
    if a.lo == value:
        return Interval(a.lo + 1, a.hi)
    if a.hi == value:
        return Interval(a.lo, a.hi - 1)
    return a


# -- hardware fields ------------------------------------------------------------------------------------

@attrs.frozen(slots=True)
class FieldWidth:
    """The width of one state (register) or output (port) field of a ``[<HardwareModule>]`` function."""

    role: str  # state | output
    field: str
    bits: int
    range: Interval | None  # None for an annotated field whose values the analysis cannot bound
    source: str  # inferred | type | annotation


def _is_hardware_module(node: Node) -> bool:
    return any(pair[0] == "HardwareModule" for pair in node.attr("attributes", ()) or ())


class _Hardware:
    """The state and output field widths of one hardware module, and the diagnostics it needs."""

    def __init__(self, graph: Graph, types: Mapping[int, Any], record_types: dict[str, dict[str, Any]],
                 func_id: int, func: Node, result: Any):
        self.graph = graph
        self.types = types
        self.records = record_types
        self.func_id, self.func, self.name = func_id, func, func.attr("name")
        self.result = result
        self.diagnostics: list[Diagnostic] = []
        self.annotations = self._annotations()

    def _annotations(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for pair in self.func.attr("attributes", ()) or ():
            if pair[0] != WIDTH_ATTRIBUTE:
                continue
            args = pair[1] if len(pair) > 1 else ()
            if (len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], int)
                    or isinstance(args[1], bool) or args[1] < 1):
                self.error(self.func.span, f"'{WIDTH_ATTRIBUTE}' on {self.name} takes a field name and a width "
                                           f"of 1 or more bits, e.g. {WIDTH_ATTRIBUTE}(\"Total\", 12); got {args!r}")
                continue
            found[args[0]] = args[1]
        return found

    def error(self, span: Span, message: str) -> None:
        self.diagnostics.append(Diagnostic(span, message))

    def fields(self) -> tuple[FieldWidth, ...]:
        params, result_type = _curried(self.types.get(self.func_id), len(self.func.attr("params") or ()))
        parts: list[tuple[str, Any, Any]] = []  # (role, static type, abstract value)
        if (isinstance(result_type, T.TTuple) and len(result_type.items) == 2 and params
                and result_type.items[0] == params[0]):
            items = self.result.items if isinstance(self.result, Tup) and len(self.result.items) == 2 else (None, None)
            parts = [("state", result_type.items[0], items[0]), ("output", result_type.items[1], items[1])]
        elif result_type is not None:
            parts = [("output", result_type, self.result)]
        widths: list[FieldWidth] = []
        named: set[str] = set()
        for role, static, value in parts:
            for field, field_type, field_value in self._flatten(static, value):
                named.add(field)
                found = self.field(role, field, field_type, field_value)
                if found is not None:
                    widths.append(found)
        for field in sorted(set(self.annotations) - named):
            self.error(self.func.span, f"'{WIDTH_ATTRIBUTE}(\"{field}\", {self.annotations[field]})' on {self.name} "
                                       f"names no state or output field; its fields are "
                                       f"{', '.join(sorted(named)) or '(none)'}")
        return tuple(widths)

    def _flatten(self, static: Any, value: Any) -> list[tuple[str, Any, Any]]:
        """The (field, type, abstract value) of a record, or the value itself as one field ``result``."""
        if isinstance(static, T.TCon) and static.name in self.records:
            names = next((n.attr("fields") for _, n in self.graph.top_level()
                          if n.kind == "typedef" and n.attr("name") == static.name), ()) or ()
            field_types = self.records[static.name]
            return [(name, field_types.get(name), value.get(name) if isinstance(value, Rec) else
                     BOTTOM if value is BOTTOM else None) for name in names]
        return [("result", static, value)]

    def field(self, role: str, field: str, static: Any, value: Any) -> FieldWidth | None:
        if isinstance(static, T.TCon) and static.name not in self.records:
            # A union (or option) has no single scalar width: its layout is the tag plus each
            # payload's own width, which the backend reads from the payload values' ranges.
            return None
        type_name = scalar_type(static)
        full = type_range(type_name)
        inferred = None
        if full is not None:
            inferred = full if value is None else value.meet(full) if isinstance(value, Interval) else None
        annotated = self.annotations.get(field)
        span = self._span(role, field)
        if annotated is not None:
            if inferred is not None and inferred != full and inferred.bits > annotated:
                self.error(span, f"the width {annotated} annotated for {role} field '{field}' of {self.name} is "
                                 f"narrower than the {inferred.bits} bits its range {inferred} needs")
                return None
            return FieldWidth(role, field, annotated, inferred, "annotation")
        if inferred is not None and inferred != full:
            return FieldWidth(role, field, inferred.bits, inferred, "inferred")
        if full is not None and type_name in SIZED_TYPES:
            return FieldWidth(role, field, full.bits, full, "type")
        if full is not None:
            why = f"its {type_name} values may take the whole {type_name} range"
        elif static is not None:
            why = f"a {T.show(static)} value has no bit width"
        else:
            why = "its type is not known, so it has no bit width"
        self.error(span, f"cannot infer a range for {role} field '{field}' of {self.name}: {why}; annotate its "
                         f"width, e.g. [<HardwareModule; {WIDTH_ATTRIBUTE}(\"{field}\", 16)>]")
        return None

    def _span(self, role: str, field: str) -> Span:
        """Where the field's value is computed: its operand in a record the module builds, else the module."""
        for region_id in self.func.regions:
            for node_id in self.graph.walk_region(region_id):
                node = self.graph.node(node_id)
                if node.kind == "record" and field in (node.attr("fields") or ()):
                    operand = node.operands[tuple(node.attr("fields")).index(field)]
                    return self.graph.node(operand).span
        return self.func.span


# -- the pass ---------------------------------------------------------------------------------------------

@register
@attrs.frozen
class Widths(Analysis):
    """Range and bit-width inference: intervals through arithmetic, branches, loops and calls."""

    name = "widths"
    input_language = Saturated
    output_language = Saturated

    entries: str = ""

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        return run_with_big_stack(self._analyze, graph, ctx)

    def _analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        names = entry_names(self.entries)
        check_entry_names(graph, names, self.name)
        analyzer = _Analyzer(graph, entry_points(graph, names))
        analyzer.run()
        ranges, widths = self._tables(graph, analyzer)
        hardware = self._hardware(graph, analyzer, ctx)
        ctx.stat("analysis rounds", analyzer.rounds)
        ctx.stat("values with a range", len(ranges))
        ctx.stat("hardware fields", sum(len(fields) for fields in hardware.values()))
        return {"ranges": ranges, "widths": widths, "hardware": hardware}

    @staticmethod
    def _tables(graph: Graph, analyzer: _Analyzer) -> tuple[dict[int, Interval], dict[int, int]]:
        ranges: dict[int, Interval] = {}
        for node_id, node in graph.live_nodes():
            if node_id not in analyzer.values:
                continue  # unreachable, or a declaration
            value = analyzer.values[node_id]
            if value is BOTTOM:
                continue
            full = type_range(analyzer.static(node_id) or _kind_type(node))
            if full is not None:
                found = value.meet(full) if isinstance(value, Interval) else full
                ranges[node_id] = found or full
            elif isinstance(value, Interval) and value.finite:
                ranges[node_id] = value
        return ranges, {node_id: interval.bits for node_id, interval in ranges.items()}

    @staticmethod
    def _hardware(graph: Graph, analyzer: _Analyzer, ctx: PassContext) -> dict[int, tuple[FieldWidth, ...]]:
        records = record_field_types(graph, analyzer.types)
        found = {}
        for node_id, node in graph.top_level():
            if node.kind != "func" or not _is_hardware_module(node):
                continue
            module = _Hardware(graph, analyzer.types, records, node_id, node,
                               analyzer.results.get(node.attr("name"), BOTTOM))
            found[node_id] = module.fields()
            for diagnostic in module.diagnostics:
                ctx.error(diagnostic)
        return found


def _kind_type(node: Node) -> str | None:
    """The scalar type a node's kind fixes when the types table does not say."""
    if node.kind == "const":
        return node.attr("type")
    if node.kind == "prim":
        if node.attr("op") in COMPARISONS or node.attr("op") == "not":
            return "bool"
        return node.attr("type")
    if node.kind == "tag_test":
        return "bool"
    if node.kind == "extent":
        return "int"
    return None

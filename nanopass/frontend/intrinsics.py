"""The intrinsics and operators of Clef, with their type schemes.

`INTRINSIC_NAMES` is the list the elaboration pass and the interpreter share;
`INTRINSICS` maps each to its `Scheme`, `OPERATORS` does the same for the
infix and prefix operators, and `ACTOR_START` is the scheme of
``Actor.start``.  Signatures are written in F# syntax; ``^a`` is a
statically resolved primitive (F#'s ``^T``) limited to the primitives its
`Constraint` lists, so ``Array.sum : ^a<'u>[] -> ^a<'u>`` sums any numeric
array and keeps its unit.  Departures from FSharp.Core, chosen for the subset:

* there is no ``seq<'T>``: ``Seq.windowed``, ``Seq.map`` and ``Seq.sum`` take
  and return arrays;
* ``Map.merge`` (not in FSharp.Core) adds a list of pairs to a map;
* ``sqrt`` keeps units, ``float<'u^2> -> float<'u>``; ``exp log sin cos`` need
  dimensionless arguments; conversions (``float``, ``int``...) drop the unit;
* ``float`` and the other conversions accept numeric arguments only.
"""

from __future__ import annotations

from nanopass.frontend.types import (
    ADDABLE, FLOATING, INTEGRAL, NUMERIC, SIGNED, Constraint, Scheme, parse_scheme)


def _scheme(signature: str, allowed: tuple[str, ...] = (), origin: str = "") -> Scheme:
    return parse_scheme(signature, {"^a": Constraint(allowed, origin)} if allowed else None)


def _numeric(name: str, signature: str, allowed: tuple[str, ...] = NUMERIC) -> tuple[str, Scheme]:
    return name, _scheme(signature, allowed, f"'{name}'")


INTRINSICS: dict[str, Scheme] = dict([
    ("Array.map", _scheme("('a -> 'b) -> 'a[] -> 'b[]")),
    ("Array.mapi", _scheme("(int -> 'a -> 'b) -> 'a[] -> 'b[]")),
    ("Array.map2", _scheme("('a -> 'b -> 'c) -> 'a[] -> 'b[] -> 'c[]")),
    ("Array.filter", _scheme("('a -> bool) -> 'a[] -> 'a[]")),
    ("Array.reduce", _scheme("('a -> 'a -> 'a) -> 'a[] -> 'a")),
    ("Array.fold", _scheme("('s -> 'a -> 's) -> 's -> 'a[] -> 's")),
    _numeric("Array.sum", "^a<'u>[] -> ^a<'u>"),
    ("Array.init", _scheme("int -> (int -> 'a) -> 'a[]")),
    ("Array.zeroCreate", _scheme("int -> 'a[]")),
    ("Array.length", _scheme("'a[] -> int")),
    ("Array.copy", _scheme("'a[] -> 'a[]")),
    ("Array.windowed", _scheme("int -> 'a[] -> 'a[][]")),
    ("Array.zip", _scheme("'a[] -> 'b[] -> ('a * 'b)[]")),
    ("Array.Parallel.map", _scheme("('a -> 'b) -> 'a[] -> 'b[]")),
    ("Array2D.init", _scheme("int -> int -> (int -> int -> 'a) -> 'a[,]")),
    ("Array2D.zeroCreate", _scheme("int -> int -> 'a[,]")),
    ("Array2D.length1", _scheme("'a[,] -> int")),
    ("Array2D.length2", _scheme("'a[,] -> int")),
    ("List.map", _scheme("('a -> 'b) -> 'a list -> 'b list")),
    ("List.filter", _scheme("('a -> bool) -> 'a list -> 'a list")),
    ("List.fold", _scheme("('s -> 'a -> 's) -> 's -> 'a list -> 's")),
    ("List.collect", _scheme("('a -> 'b list) -> 'a list -> 'b list")),
    ("List.distinct", _scheme("'a list -> 'a list")),
    ("List.isEmpty", _scheme("'a list -> bool")),
    ("List.length", _scheme("'a list -> int")),
    ("List.rev", _scheme("'a list -> 'a list")),
    ("fst", _scheme("'a * 'b -> 'a")),
    ("snd", _scheme("'a * 'b -> 'b")),
    ("Map.empty", _scheme("Map<'k,'v>")),
    ("Map.add", _scheme("'k -> 'v -> Map<'k,'v> -> Map<'k,'v>")),
    ("Map.find", _scheme("'k -> Map<'k,'v> -> 'v")),
    ("Map.tryFind", _scheme("'k -> Map<'k,'v> -> 'v option")),
    ("Map.merge", _scheme("('k * 'v) list -> Map<'k,'v> -> Map<'k,'v>")),
    ("Seq.windowed", _scheme("int -> 'a[] -> 'a[][]")),
    ("Seq.map", _scheme("('a -> 'b) -> 'a[] -> 'b[]")),
    _numeric("Seq.sum", "^a<'u>[] -> ^a<'u>"),
    _numeric("sqrt", "^a<'u^2> -> ^a<'u>", FLOATING),
    _numeric("exp", "^a -> ^a", FLOATING),
    _numeric("log", "^a -> ^a", FLOATING),
    _numeric("sin", "^a -> ^a", FLOATING),
    _numeric("cos", "^a -> ^a", FLOATING),
    _numeric("floor", "^a<'u> -> ^a<'u>", FLOATING),
    _numeric("abs", "^a<'u> -> ^a<'u>", SIGNED),
    ("min", _scheme("'a -> 'a -> 'a")),
    ("max", _scheme("'a -> 'a -> 'a")),
    _numeric("float", "^a<'u> -> float"),
    _numeric("float32", "^a<'u> -> float32"),
    _numeric("int", "^a<'u> -> int"),
    _numeric("int64", "^a<'u> -> int64"),
    _numeric("uint8", "^a<'u> -> uint8"),
])

INTRINSIC_NAMES: tuple[str, ...] = tuple(INTRINSICS)

# ``Actor.start init handler`` is not an intrinsic (it becomes an ``actor``
# node), but it is applied like one; the handler maps (state, message) to
# (new state, reply).
ACTOR_START = parse_scheme("'s -> ('s -> 'm -> 's * 'r) -> Actor<'m,'r>")


def _operator(op: str, signature: str, allowed: tuple[str, ...] = ()) -> tuple[str, Scheme]:
    return op, _scheme(signature, allowed, f"the operator '{op}'")


# Binary operators, plus the prefix ``neg`` (unary minus) and ``not``.  ``&&``
# and ``||`` short-circuit but type as functions on bool.  Comparisons accept any
# type on both sides; F#'s equality and comparison constraints are not checked.
OPERATORS: dict[str, Scheme] = dict([
    _operator("+", "^a<'u> -> ^a<'u> -> ^a<'u>", ADDABLE),
    _operator("-", "^a<'u> -> ^a<'u> -> ^a<'u>", NUMERIC),
    _operator("*", "^a<'u> -> ^a<'v> -> ^a<'u 'v>", NUMERIC),
    _operator("/", "^a<'u> -> ^a<'v> -> ^a<'u/'v>", NUMERIC),
    _operator("%", "^a<'u> -> ^a<'u> -> ^a<'u>", NUMERIC),
    _operator("&&&", "^a -> ^a -> ^a", INTEGRAL),
    _operator("|||", "^a -> ^a -> ^a", INTEGRAL),
    _operator("^^^", "^a -> ^a -> ^a", INTEGRAL),
    _operator("<<<", "^a -> int -> ^a", INTEGRAL),
    _operator(">>>", "^a -> int -> ^a", INTEGRAL),
    *(_operator(op, "'a -> 'a -> bool") for op in ("=", "<>", "<", "<=", ">", ">=")),
    _operator("&&", "bool -> bool -> bool"),
    _operator("||", "bool -> bool -> bool"),
    _operator("|>", "'a -> ('a -> 'b) -> 'b"),
    _operator(">>", "('a -> 'b) -> ('b -> 'c) -> 'a -> 'c"),
    _operator("neg", "^a<'u> -> ^a<'u>", SIGNED),
    _operator("not", "bool -> bool"),
])

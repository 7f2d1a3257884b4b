"""Symbolic values: trees of z3 terms shaped like the reference interpreter's runtime values.

A value is a tree whose leaves are z3 terms:

=============  =====================================================================
`Scalar`       int / int64 / uint8 as bit-vectors of 32 / 64 / 8 bits, float and
               float32 in z3's floating-point theory (binary64 / binary32), bool,
               string (z3's strings), and `opaque` values of a type variable (an
               uninterpreted sort per variable)
`UNIT`         unit: no term
`Tup`          a tuple: one value per item (a product)
`Rec`          a record: its type, field names and one value per field
`Uni`          a union value: a tag (a z3 enumeration of the union's cases) and, per
               case that the tag may hold, the payload values (a tagged sum)
`Arr`          an array (rank 1 or 2) or a list: its lengths and one element
               *template* whose leaves are z3 arrays from indices to the leaf's sort,
               so an array of tuples is a tuple of z3 arrays sharing the length
`BOTTOM`       no value: the path that would produce one has failed
=============  =====================================================================

Function values (closures, top-level functions, externs, intrinsics, partial
applications) are Python objects the encoder applies by inlining
(`nanopass.smt.encoder`); they are values here too, but have no terms.

`lift` turns an element computed at a symbolic index into an array of such
elements (each leaf becomes a z3 ``Lambda`` over the index), `select` reads one
back; `merge` is the if-then-else of two values of the same shape; `differs`
says, as one existential formula, that a target value does not refine a
source value: Alive2's rule for floats, where any NaN refines any NaN and
``0.0`` differs from ``-0.0`` (z3's structural ``=`` on floating-point terms,
not ``fpEQ``).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator

import attrs
import z3

INDEX_BITS = 32
INDEX = z3.BitVecSort(INDEX_BITS)  # indices and lengths are ints

BITS = {"int": 32, "int64": 64, "uint8": 8}
FLOAT_SORTS = {"float": z3.Float64(), "float32": z3.Float32()}
RNE = z3.RNE()


class Unsupported(Exception):
    """A construct the semantics cannot encode (yet); the verdict is ``unknown`` with this reason."""

    def __init__(self, reason: str, kind: str | None = None):
        super().__init__(reason)
        self.kind = kind


# -- the value classes -------------------------------------------------------------------------

@attrs.frozen(slots=True, eq=False)
class Scalar:
    type: str
    term: z3.ExprRef


class _Unit:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNIT"


class _Bottom:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BOTTOM"


UNIT = _Unit()
BOTTOM = _Bottom()


@attrs.frozen(slots=True, eq=False)
class Tup:
    items: tuple


@attrs.frozen(slots=True, eq=False)
class Rec:
    type: str
    names: tuple[str, ...]
    values: tuple

    def get(self, name: str) -> Any:
        try:
            return self.values[self.names.index(name)]
        except ValueError:
            raise Unsupported(f"record {self.type} has no field {name}") from None


@attrs.frozen(slots=True, eq=False)
class Uni:
    """``cases`` holds ``(case, payload)`` for every case the tag may be, in case order."""

    type: str
    tag: z3.ExprRef
    cases: tuple[tuple[str, tuple], ...]

    def payload(self, case: str) -> tuple | None:
        for name, payload in self.cases:
            if name == case:
                return payload
        return None


@attrs.frozen(slots=True, eq=False)
class Arr:
    """``container``: array | array2d | list; ``lengths`` one term per dimension."""

    container: str
    lengths: tuple
    elem: Any

    @property
    def rank(self) -> int:
        return len(self.lengths)


# -- sorts of enumerations and opaque types ---------------------------------------------------------

_ENUMS: dict[tuple[str, tuple[str, ...]], tuple[z3.SortRef, dict[str, z3.ExprRef]]] = {}
_OPAQUE: dict[str, z3.SortRef] = {}


def tag_sort(union: str, cases: tuple[str, ...]) -> tuple[z3.SortRef, dict[str, z3.ExprRef]]:
    """The z3 enumeration of a union's cases (one per union and case list, made once)."""
    key = (union, tuple(cases))
    found = _ENUMS.get(key)
    if found is None:
        # z3 sort names are global: a second declaration of a union with other cases gets its own name.
        name = f"{union}#{len(_ENUMS)}"
        sort, constants = z3.EnumSort(name, list(cases))
        found = _ENUMS[key] = (sort, dict(zip(cases, constants)))
    return found


def opaque_sort(name: str) -> z3.SortRef:
    sort = _OPAQUE.get(name)
    if sort is None:
        sort = _OPAQUE[name] = z3.DeclareSort(f"opaque_{name}")
    return sort


def scalar_sort(type_name: str) -> z3.SortRef:
    if type_name in BITS:
        return z3.BitVecSort(BITS[type_name])
    if type_name in FLOAT_SORTS:
        return FLOAT_SORTS[type_name]
    if type_name == "bool":
        return z3.BoolSort()
    if type_name == "string":
        return z3.StringSort()
    if type_name.startswith("opaque:"):
        return opaque_sort(type_name[len("opaque:"):])
    raise Unsupported(f"no sort for the scalar type {type_name}")


def default_term(sort: z3.SortRef) -> z3.ExprRef:
    """A fixed term of ``sort``: the contents of array slots nothing defines."""
    if isinstance(sort, z3.BitVecSortRef):
        return z3.BitVecVal(0, sort.size())
    if isinstance(sort, z3.FPSortRef):
        return z3.FPVal(0.0, sort)
    if sort == z3.BoolSort():
        return z3.BoolVal(False)
    if sort == z3.StringSort():
        return z3.StringVal("")
    if isinstance(sort, z3.ArraySortRef):
        arity = z3.Z3_get_array_arity(sort.ctx_ref(), sort.ast)
        bound = [z3.Const(f"__default{k}", sort.domain_n(k)) for k in range(arity)]
        return z3.Lambda(bound, default_term(sort.range()))
    if isinstance(sort, z3.DatatypeSortRef):
        return sort.constructor(0)()
    return z3.Const(f"default_{sort}", sort)


# -- structure ------------------------------------------------------------------------------------------

def is_function(value: Any) -> bool:
    return not isinstance(value, (Scalar, _Unit, _Bottom, Tup, Rec, Uni, Arr))


def leaves(value: Any) -> Iterator[z3.ExprRef]:
    """Every term of a value, in a fixed order (the order `rebuild` reads them back)."""
    if isinstance(value, Scalar):
        yield value.term
    elif isinstance(value, Tup):
        for item in value.items:
            yield from leaves(item)
    elif isinstance(value, Rec):
        for item in value.values:
            yield from leaves(item)
    elif isinstance(value, Uni):
        yield value.tag
        for _, payload in value.cases:
            for item in payload:
                yield from leaves(item)
    elif isinstance(value, Arr):
        yield from value.lengths
        yield from leaves(value.elem)
    elif value is UNIT:
        return
    else:
        raise Unsupported(f"a {type(value).__name__} value has no terms (a function value cannot be stored "
                          "in a container or compared)")


def map_leaves(value: Any, fn: Callable[[z3.ExprRef], z3.ExprRef]) -> Any:
    if isinstance(value, Scalar):
        return Scalar(value.type, fn(value.term))
    if isinstance(value, Tup):
        return Tup(tuple(map_leaves(v, fn) for v in value.items))
    if isinstance(value, Rec):
        return Rec(value.type, value.names, tuple(map_leaves(v, fn) for v in value.values))
    if isinstance(value, Uni):
        return Uni(value.type, fn(value.tag),
                   tuple((case, tuple(map_leaves(v, fn) for v in payload)) for case, payload in value.cases))
    if isinstance(value, Arr):
        return Arr(value.container, tuple(fn(n) for n in value.lengths), map_leaves(value.elem, fn))
    if value is UNIT or value is BOTTOM:
        return value
    raise Unsupported(f"a {type(value).__name__} value cannot be stored in a container")


def lift(value: Any, indices: list[z3.ExprRef]) -> Any:
    """The array template of elements ``value`` computed at the symbolic ``indices``."""
    return map_leaves(value, lambda t: z3.Lambda(indices, t))


def select(template: Any, indices: list[z3.ExprRef]) -> Any:
    """The element of an array template at ``indices``."""
    return map_leaves(template, lambda t: z3.Select(t, *indices))


def store(template: Any, indices: list[z3.ExprRef], element: Any) -> Any:
    """The array template with ``element`` written at ``indices`` (same shape required)."""
    new = iter(list(leaves(element)))
    return map_leaves(template, lambda t: z3.Store(t, *indices, next(new)))


def constant_template(element: Any, rank: int) -> Any:
    """An array template holding ``element`` everywhere."""
    bound = [z3.BitVec(f"__everywhere{k}", INDEX_BITS) for k in range(rank)]
    return map_leaves(element, lambda t: z3.Lambda(bound, t))


def default_like(value: Any) -> Any:
    """A value of the same shape with fixed contents."""
    return map_leaves(value, lambda t: default_term(t.sort()))


def ite(cond: z3.BoolRef, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    if a.eq(b):
        return a
    if z3.is_true(cond):
        return a
    if z3.is_false(cond):
        return b
    if a.sort() != b.sort():
        raise Unsupported(f"two branches yield values of different sorts ({a.sort()} and {b.sort()})")
    return z3.If(cond, a, b)


def merge(cond: z3.BoolRef, a: Any, b: Any) -> Any:
    """``if cond then a else b`` of two values of the same shape."""
    if a is b or b is BOTTOM:
        return a
    if a is BOTTOM:
        return b
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return Scalar(a.type, ite(cond, a.term, b.term))
    if isinstance(a, Tup) and isinstance(b, Tup) and len(a.items) == len(b.items):
        return Tup(tuple(merge(cond, x, y) for x, y in zip(a.items, b.items)))
    if isinstance(a, Rec) and isinstance(b, Rec) and a.names == b.names:
        return Rec(a.type, a.names, tuple(merge(cond, x, y) for x, y in zip(a.values, b.values)))
    if isinstance(a, Uni) and isinstance(b, Uni) and a.type == b.type:
        cases = []
        names = [c for c, _ in a.cases] + [c for c, _ in b.cases if a.payload(c) is None]
        for case in names:
            pa, pb = a.payload(case), b.payload(case)
            if pa is None or pb is None:
                cases.append((case, pa if pb is None else pb))
            else:
                cases.append((case, tuple(merge(cond, x, y) for x, y in zip(pa, pb))))
        return Uni(a.type, ite(cond, a.tag, b.tag), tuple(cases))
    if isinstance(a, Arr) and isinstance(b, Arr) and a.container == b.container and a.rank == b.rank:
        return Arr(a.container, tuple(ite(cond, x, y) for x, y in zip(a.lengths, b.lengths)),
                   merge(cond, a.elem, b.elem))
    if a is UNIT and b is UNIT:
        return UNIT
    raise Unsupported(f"two branches yield values of different shapes ({describe(a)} and {describe(b)})")


def describe(value: Any) -> str:
    if isinstance(value, Scalar):
        return value.type
    if isinstance(value, Tup):
        return "(" + " * ".join(describe(v) for v in value.items) + ")"
    if isinstance(value, Rec):
        return value.type
    if isinstance(value, Uni):
        return value.type
    if isinstance(value, Arr):
        return f"{describe(value.elem)} {value.container}"
    if value is UNIT:
        return "unit"
    return type(value).__name__


# -- refinement of outputs -------------------------------------------------------------------------------

_fresh_index = itertools.count()


def differs(source: Any, target: Any) -> z3.BoolRef:
    """A formula true exactly when ``target`` does not refine ``source``.

    Arrays differ in a length or at some index below it: the index is a fresh
    constant, so the formula is existential and quantifier-free, meant to be
    asserted (never negated).  Floats compare structurally, so NaN refines
    NaN and the zeros' signs count.  A union's payload matters for its case
    only.  Values of different shapes always differ.
    """
    if source is BOTTOM or target is BOTTOM:
        return z3.BoolVal(source is not target)
    if isinstance(source, Scalar) and isinstance(target, Scalar):
        if source.term.sort() != target.term.sort():
            return z3.BoolVal(True)
        return z3.Not(source.term == target.term)
    if source is UNIT and target is UNIT:
        return z3.BoolVal(False)
    if isinstance(source, Tup) and isinstance(target, Tup) and len(source.items) == len(target.items):
        return z3.Or([differs(a, b) for a, b in zip(source.items, target.items)] or [z3.BoolVal(False)])
    if isinstance(source, Rec) and isinstance(target, Rec):
        if (source.type, sorted(source.names)) != (target.type, sorted(target.names)):
            return z3.BoolVal(True)
        return z3.Or([differs(source.get(n), target.get(n)) for n in source.names] or [z3.BoolVal(False)])
    if isinstance(source, Uni) and isinstance(target, Uni) and source.type == target.type:
        parts = [z3.Not(source.tag == target.tag)]
        for case, payload in source.cases:
            other = target.payload(case)
            if other is None:
                continue
            _, constants = tag_sort_of(source)
            fields = [differs(a, b) for a, b in zip(payload, other)]
            if fields:
                parts.append(z3.And(source.tag == constants[case], z3.Or(fields)))
        return z3.Or(parts)
    if isinstance(source, Arr) and isinstance(target, Arr) and (source.container, source.rank) == (
            target.container, target.rank):
        parts = [z3.Not(a == b) for a, b in zip(source.lengths, target.lengths)]
        indices = [z3.BitVec(f"__diff{next(_fresh_index)}", INDEX_BITS) for _ in source.lengths]
        inside = z3.And([z3.And(i >= 0, i < n) for i, n in zip(indices, source.lengths)])
        parts.append(z3.And(inside, differs(select(source.elem, indices), select(target.elem, indices))))
        return z3.Or(parts)
    if is_function(source) or is_function(target):
        raise Unsupported("the function returns a function value; comparing functions is not encoded")
    return z3.BoolVal(True)


def tag_sort_of(value: Uni) -> tuple[z3.SortRef, dict[str, z3.ExprRef]]:
    sort = value.tag.sort()
    constants = {sort.constructor(k).name(): sort.constructor(k)() for k in range(sort.num_constructors())}
    return sort, constants


def constant_of(value: Any) -> Any:
    """The Python constant a scalar's term simplifies to, or None."""
    if not isinstance(value, Scalar):
        return None
    term = z3.simplify(value.term)
    if z3.is_true(term):
        return True
    if z3.is_false(term):
        return False
    if z3.is_bv_value(term):
        return term.as_signed_long() if value.type != "uint8" else term.as_long()
    return None

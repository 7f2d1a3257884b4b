"""Clef type terms, their F# printing and parsing, and Hindley-Milner unification.

Terms are frozen attrs values:

* `TPrim` a primitive (``int int64 uint8 float float32 bool unit string``)
  with a unit of measure (`Measure`, dimensionless for non-numeric types).
  Its ``base`` may be a `BaseVar`: an unknown primitive restricted to a set
  of names (F#'s statically resolved ``^T`` of ``+``, ``*``, ``sqrt``...),
  which keeps the unit separate so that ``x * y`` can combine units before
  the numeric type is known.
* `TVar` a type variable, `TArray` (rank 1 or 2), `TTuple`, `TFun`, and
  `TCon` for every named constructor: ``list``, ``option``, ``Map``,
  ``Async``, ``Actor`` and declared records and unions (`RecordDef`,
  `UnionDef` hold their field and case types).

`Unifier` holds the substitution (types, measures, bases) with a level per
variable for let-generalisation, an occurs check, and an undo trail so that a
failed unification leaves no partial bindings behind.  `Scheme` is a type
quantified over type, measure and base variables; `Unifier.instantiate`
renames them fresh.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Mapping

import attrs

from nanopass.frontend.units import ONE, Measure, MeasureSyntaxError, fresh_id, parse_measure, solve_one

NUMERIC_TYPES = ("int", "int64", "uint8", "float", "float32")
PRIMITIVE_TYPES = NUMERIC_TYPES + ("bool", "unit", "string")

# Sets of primitives a `BaseVar` may stand for; the first listed is the default
# an unresolved one takes (F# defaults ``+`` and friends to int).
NUMERIC = ("int", "int64", "uint8", "float", "float32")
SIGNED = ("int", "int64", "float", "float32")
INTEGRAL = ("int", "int64", "uint8")
FLOATING = ("float", "float32")
ADDABLE = NUMERIC + ("string",)


@attrs.frozen(slots=True)
class TVar:
    id: int


@attrs.frozen(slots=True)
class BaseVar:
    """An unknown primitive type name, solved by unification or defaulted."""

    id: int


@attrs.frozen(slots=True)
class TPrim:
    base: str | BaseVar
    measure: Measure = ONE


@attrs.frozen(slots=True)
class TArray:
    elem: "Type"
    rank: int = 1


@attrs.frozen(slots=True)
class TTuple:
    items: tuple["Type", ...]


@attrs.frozen(slots=True)
class TFun:
    arg: "Type"
    result: "Type"


@attrs.frozen(slots=True)
class TCon:
    """A named constructor: list, option, Map, Async, Actor, or a declared record/union."""

    name: str
    args: tuple["Type", ...] = ()


Type = TVar | TPrim | TArray | TTuple | TFun | TCon

INT, INT64, UINT8 = TPrim("int"), TPrim("int64"), TPrim("uint8")
FLOAT, FLOAT32 = TPrim("float"), TPrim("float32")
BOOL, UNIT, STRING = TPrim("bool"), TPrim("unit"), TPrim("string")

# Constructors written postfix in F# (``int list``); the others take <args>.
POSTFIX_CONSTRUCTORS = ("list", "option")
BUILTIN_CONSTRUCTORS = {"list": 1, "option": 1, "Map": 2, "Async": 1, "Actor": 2}


def list_of(elem: Type) -> TCon:
    return TCon("list", (elem,))


def option_of(elem: Type) -> TCon:
    return TCon("option", (elem,))


def map_of(key: Type, value: Type) -> TCon:
    return TCon("Map", (key, value))


def async_of(result: Type) -> TCon:
    return TCon("Async", (result,))


def actor_of(message: Type, reply: Type) -> TCon:
    return TCon("Actor", (message, reply))


def function(*types: Type) -> Type:
    """The curried function type ``t1 -> t2 -> ... -> tn``."""
    result = types[-1]
    for arg in reversed(types[:-1]):
        result = TFun(arg, result)
    return result


@attrs.frozen(slots=True)
class RecordDef:
    """A declared record; ``params`` are the ids of its type parameters' variables."""

    name: str
    fields: tuple[tuple[str, Type], ...]
    params: tuple[int, ...] = ()

    def field_type(self, name: str) -> Type | None:
        return dict(self.fields).get(name)


@attrs.frozen(slots=True)
class UnionDef:
    """A declared union (``option`` is one too); a case's fields are its ``of`` types."""

    name: str
    cases: tuple[tuple[str, tuple[Type, ...]], ...]
    params: tuple[int, ...] = ()

    def case_fields(self, name: str) -> tuple[Type, ...] | None:
        return dict(self.cases).get(name)


@attrs.frozen(slots=True)
class Constraint:
    """What a `BaseVar` may become, and what asked for it (for the message)."""

    allowed: tuple[str, ...]
    origin: str

    @property
    def default(self) -> str:
        return self.allowed[0]


@attrs.frozen(slots=True)
class Scheme:
    """``forall type_vars measure_vars base_vars. body``; base variables carry their constraint."""

    type_vars: tuple[int, ...]
    measure_vars: tuple[int, ...]
    base_vars: tuple[tuple[int, Constraint], ...]
    body: Type

    @staticmethod
    def mono(body: Type) -> "Scheme":
        return Scheme((), (), (), body)

    def __str__(self) -> str:
        return show(self.body)


# -- traversal ---------------------------------------------------------------------

def children(t: Type) -> tuple[Type, ...]:
    if isinstance(t, TArray):
        return (t.elem,)
    if isinstance(t, TTuple):
        return t.items
    if isinstance(t, TFun):
        return (t.arg, t.result)
    if isinstance(t, TCon):
        return t.args
    return ()


def walk(t: Type) -> Iterator[Type]:
    """Every subterm of ``t``, outermost first (iterative: types can be deep)."""
    stack = [t]
    while stack:
        term = stack.pop()
        yield term
        stack.extend(reversed(children(term)))


def map_type(t: Type, leaf: Callable[[Type], Type]) -> Type:
    """Rebuild ``t`` bottom-up, replacing each TVar and TPrim by ``leaf`` of it."""
    if isinstance(t, (TVar, TPrim)):
        return leaf(t)
    if isinstance(t, TArray):
        return TArray(map_type(t.elem, leaf), t.rank)
    if isinstance(t, TTuple):
        return TTuple(tuple(map_type(i, leaf) for i in t.items))
    if isinstance(t, TFun):
        return TFun(map_type(t.arg, leaf), map_type(t.result, leaf))
    return TCon(t.name, tuple(map_type(a, leaf) for a in t.args))


def substitute(t: Type, types: Mapping[int, Type]) -> Type:
    """``t`` with the type variables named in ``types`` replaced (one level, no chasing)."""
    return map_type(t, lambda term: types.get(term.id, term) if isinstance(term, TVar) else term)


# -- printing ----------------------------------------------------------------------

class Naming:
    """Names variables in order of appearance: 'a 'b ... for types, 'u 'v 'w ... for
    measures, ^a ^b ... for numeric bases; one Naming shared by the types of one
    message keeps the names consistent."""

    def __init__(self) -> None:
        self._types: dict[int, str] = {}
        self._measures: dict[int, str] = {}
        self._bases: dict[int, str] = {}

    @staticmethod
    def _letter(index: int, letters: str) -> str:
        letter = letters[index % len(letters)]
        return letter if index < len(letters) else f"{letter}{index // len(letters)}"

    def type_var(self, var_id: int) -> str:
        if var_id not in self._types:
            self._types[var_id] = "'" + self._letter(len(self._types), "abcdefghijklmnopqrst")
        return self._types[var_id]

    def measure_var(self, var_id: int) -> str:
        if var_id not in self._measures:
            self._measures[var_id] = "'" + self._letter(len(self._measures), "uvwxyz")
        return self._measures[var_id]

    def base_var(self, var_id: int) -> str:
        if var_id not in self._bases:
            self._bases[var_id] = "^" + self._letter(len(self._bases), "abcdefgh")
        return self._bases[var_id]


_ARROW, _TUPLE, _POSTFIX = 0, 1, 2


def show(t: Type, naming: Naming | None = None) -> str:
    """``t`` in F# syntax: ``float<m/s^2>``, ``int -> int``, ``(string * string list) list``."""
    return _show(t, naming or Naming(), _ARROW)


def _show(t: Type, naming: Naming, context: int) -> str:
    if isinstance(t, TVar):
        return naming.type_var(t.id)
    if isinstance(t, TPrim):
        base = t.base if isinstance(t.base, str) else naming.base_var(t.base.id)
        return base if t.measure.is_one else f"{base}<{t.measure.show(naming.measure_var)}>"
    if isinstance(t, TFun):
        text = f"{_show(t.arg, naming, _TUPLE)} -> {_show(t.result, naming, _ARROW)}"
        return f"({text})" if context > _ARROW else text
    if isinstance(t, TTuple):
        text = " * ".join(_show(i, naming, _POSTFIX) for i in t.items)
        return f"({text})" if context > _TUPLE else text
    if isinstance(t, TArray):
        return _show(t.elem, naming, _POSTFIX) + "[" + "," * (t.rank - 1) + "]"
    if t.name in POSTFIX_CONSTRUCTORS:
        return f"{_show(t.args[0], naming, _POSTFIX)} {t.name}"
    if not t.args:
        return t.name
    return t.name + "<" + ",".join(_show(a, naming, _ARROW) for a in t.args) + ">"


# -- parsing F# type syntax ----------------------------------------------------------

class TypeSyntaxError(ValueError):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


_TYPE_TOKEN = re.compile(
    r"\s*(?:(?P<arrow>->)|(?P<var>'[A-Za-z_]\w*)|(?P<basevar>\^[A-Za-z_]\w*)"
    r"|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[()<>,*\[\]]))")


def parse_type(
    text: str,
    type_var: Callable[[str], Type] | None = None,
    base_var: Callable[[str], BaseVar] | None = None,
    measure_var: Callable[[str], Measure] | None = None,
    base_unit: Callable[[str, int], Measure] = lambda name, offset: Measure.base(name),
    named: Callable[[str, tuple[Type, ...], int], Type] | None = None,
) -> Type:
    """Read an F# type.  Variables are resolved by the callbacks (by default each
    name maps to one fresh variable); ``named`` resolves a name that is not a
    primitive or builtin constructor (a record or union), by default to TCon.
    A numeric variable ``^a`` needs its constraint, so only `parse_scheme`
    (which passes ``base_var``) accepts one.

    Grammar, loosest first: ``a -> b``, ``a * b``, postfix ``t list`` ``t option``
    ``t[]`` ``t[,]``, atoms ``'a`` ``^n<u>`` ``float<u>`` ``Map<k,v>`` ``(t)``.
    """
    scope: dict[str, object] = {}
    type_var = type_var or (lambda name: scope.setdefault(name, TVar(fresh_id())))
    measure_var = measure_var or (lambda name: scope.setdefault(name, Measure.var(fresh_id())))
    named = named or (lambda name, args, offset: TCon(name, args))

    position = 0  # tokens are read lazily: a unit of measure inside <...> has its own syntax
    lookahead: tuple[str, str, int] | None = None

    def peek() -> tuple[str, str, int]:
        nonlocal lookahead
        if lookahead is None:
            if not text[position:].strip():
                lookahead = ("end", "", len(text))
            else:
                match = _TYPE_TOKEN.match(text, position)
                if match is None:
                    offset = len(text) - len(text[position:].lstrip())
                    raise TypeSyntaxError(f"unexpected character {text[offset]!r} in a type", offset)
                lookahead = (match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup))
        return lookahead

    def take(expected: str | None = None) -> tuple[str, str, int]:
        nonlocal position, lookahead
        token = peek()
        if expected is not None and token[1] != expected:
            raise TypeSyntaxError(f"expected '{expected}' in a type, found {token[1] or 'the end'!r}", token[2])
        position = token[2] + len(token[1])
        lookahead = None
        return token

    def arrow() -> Type:
        lhs = tuple_type()
        if peek()[0] == "arrow":
            take()
            return TFun(lhs, arrow())
        return lhs

    def tuple_type() -> Type:
        items = [postfix()]
        while peek()[1] == "*":
            take()
            items.append(postfix())
        return items[0] if len(items) == 1 else TTuple(tuple(items))

    def postfix() -> Type:
        t = atom()
        while True:
            kind, value, _ = peek()
            if kind == "name" and value in POSTFIX_CONSTRUCTORS:
                take()
                t = TCon(value, (t,))
            elif value == "[":
                take()
                rank = 1
                while peek()[1] == ",":
                    take()
                    rank += 1
                take("]")
                t = TArray(t, rank)
            else:
                return t

    def measure_after() -> Measure:
        # The measure runs from '<' to the matching '>' and is read by the measure parser.
        nonlocal position, lookahead
        start = take("<")[2] + 1
        end = text.find(">", start)
        if end < 0:
            raise TypeSyntaxError("expected '>' to close a unit of measure", len(text))
        try:
            measure = parse_measure(
                text[start:end],
                base=lambda name, offset: base_unit(name, start + offset),
                var=lambda name, offset: measure_var(name))
        except MeasureSyntaxError as error:
            raise TypeSyntaxError(str(error), start + error.offset) from None
        position, lookahead = end + 1, None
        return measure

    def atom() -> Type:
        kind, value, offset = take()
        if kind == "var":
            return type_var(value)
        if kind == "basevar":
            if base_var is None:
                raise TypeSyntaxError(f"the numeric variable {value} needs a constraint; use parse_scheme", offset)
            base = base_var(value)
            return TPrim(base, measure_after() if peek()[1] == "<" else ONE)
        if value == "(":
            inner = arrow()
            take(")")
            return inner
        if kind != "name":
            raise TypeSyntaxError(f"expected a type, found {value or 'the end'!r}", offset)
        if value in PRIMITIVE_TYPES:
            if peek()[1] == "<":
                if value not in NUMERIC_TYPES:
                    raise TypeSyntaxError(f"the type '{value}' does not take a unit of measure", offset)
                return TPrim(value, measure_after())
            return TPrim(value)
        args: tuple[Type, ...] = ()
        if peek()[1] == "<":
            take()
            items = [arrow()]
            while peek()[1] == ",":
                take()
                items.append(arrow())
            take(">")
            args = tuple(items)
        arity = BUILTIN_CONSTRUCTORS.get(value)
        if arity is not None:
            if len(args) != arity:
                raise TypeSyntaxError(f"the type '{value}' expects {arity} type argument(s), given {len(args)}", offset)
            return TCon(value, args)
        return named(value, args, offset)

    result = arrow()
    kind, value, offset = peek()
    if kind != "end":
        raise TypeSyntaxError(f"unexpected {value!r} in a type", offset)
    return result


def parse_scheme(text: str, constraints: Mapping[str, Constraint] | None = None) -> Scheme:
    """A scheme quantified over every variable in ``text``; ``^n`` base variables
    take their `Constraint` from ``constraints`` by name."""
    constraints = constraints or {}
    type_vars: dict[str, TVar] = {}
    measure_vars: dict[str, int] = {}
    base_vars: dict[str, BaseVar] = {}

    def base_var(name: str) -> BaseVar:
        if name not in constraints:
            raise TypeSyntaxError(f"the numeric variable {name} needs a constraint", 0)
        return base_vars.setdefault(name, BaseVar(fresh_id()))

    body = parse_type(
        text,
        type_var=lambda name: type_vars.setdefault(name, TVar(fresh_id())),
        base_var=base_var,
        measure_var=lambda name: Measure.var(measure_vars.setdefault(name, fresh_id())),
    )
    return Scheme(
        tuple(v.id for v in type_vars.values()),
        tuple(measure_vars.values()),
        tuple((b.id, constraints[name]) for name, b in base_vars.items()),
        body,
    )


# -- unification -------------------------------------------------------------------

class UnifyError(Exception):
    """Why two types do not unify.  ``reason`` is one of ``mismatch`` (different
    constructors), ``measure`` (same numeric type, different units; ``left`` and
    ``right`` are then the two measures), ``occurs`` (an infinite type) and
    ``constraint`` (a primitive a numeric variable may not become)."""

    def __init__(self, reason: str, left: object, right: object, constraint: Constraint | None = None):
        super().__init__(reason)
        self.reason = reason
        self.left = left
        self.right = right
        self.constraint = constraint


class Unifier:
    """The substitution of one inference run, with levels for generalisation.

    A variable's level is the let-depth at which it was created; a variable
    whose level is deeper than the binding being generalised is not reachable
    from the enclosing environment and may be quantified (Rémy's levels).
    """

    def __init__(self) -> None:
        self.types: dict[int, Type] = {}
        self.measures: dict[int, Measure] = {}
        self.bases: dict[int, str | BaseVar] = {}
        self.constraints: dict[int, Constraint] = {}
        self.levels: dict[int, int] = {}
        # Primitives over a base variable, and measure variables, made since the last
        # `default_numeric`.
        self.numeric: list[TPrim] = []
        self.new_measures: list[int] = []
        self._trail: list[tuple[dict, int, object]] | None = None

    # -- variables
    def new_var(self, level: int) -> TVar:
        var = TVar(fresh_id())
        self.levels[var.id] = level
        return var

    def new_measure(self, level: int) -> Measure:
        var_id = fresh_id()
        self.levels[var_id] = level
        self.new_measures.append(var_id)
        return Measure.var(var_id)

    def new_base(self, constraint: Constraint) -> BaseVar:
        var = BaseVar(fresh_id())
        self.constraints[var.id] = constraint
        return var

    def new_numeric(self, constraint: Constraint, measure: Measure = ONE) -> TPrim:
        """A primitive restricted by ``constraint``, defaulted by `default_numeric` if unsolved."""
        prim = TPrim(self.new_base(constraint), measure)
        self.numeric.append(prim)
        return prim

    def _set(self, table: dict, key: int, value: object) -> None:
        if self._trail is not None:
            self._trail.append((table, key, table.get(key, _ABSENT)))
        table[key] = value

    # -- resolution
    def resolve(self, t: Type) -> Type:
        """Follow variable bindings at the top of ``t`` (one constructor deep).

        Chains of variables are compressed (through `_set`, so an undone
        unification undoes the compression too): a chain of a thousand ``+``
        must not cost a thousand steps at each look-up.
        """
        if isinstance(t, TVar) and t.id in self.types:
            path = []
            while isinstance(t, TVar) and t.id in self.types:
                path.append(t.id)
                t = self.types[t.id]
            for var_id in path[:-1]:
                self._set(self.types, var_id, t)
        if isinstance(t, TPrim):
            base = self.resolve_base(t.base)
            measure = self.resolve_measure(t.measure)
            if base is not t.base or measure is not t.measure:
                return TPrim(base, measure)
        return t

    def resolve_base(self, base: str | BaseVar) -> str | BaseVar:
        path = []
        while isinstance(base, BaseVar) and base.id in self.bases:
            path.append(base.id)
            base = self.bases[base.id]
        for var_id in path[:-1]:
            self._set(self.bases, var_id, base)
        return base

    def resolve_measure(self, m: Measure) -> Measure:
        """``m`` with its solved variables replaced; ``m`` itself when none is solved."""
        if not m.vars or not any(v in self.measures for v, _ in m.vars):
            return m
        return m.substitute({v: self._solved_measure(v) for v, _ in m.vars if v in self.measures})

    def _solved_measure(self, var_id: int) -> Measure:
        """The fully resolved measure of a solved variable, stored back (compressed)."""
        stored = self.measures[var_id]
        resolved = self.resolve_measure(stored)
        if resolved is not stored:
            self._set(self.measures, var_id, resolved)
        return resolved

    def zonk(self, t: Type) -> Type:
        """``t`` with every solved variable replaced, all the way down; ``t`` itself
        (not a copy) where nothing in it is solved."""
        t = self.resolve(t)
        if isinstance(t, (TVar, TPrim)):
            return t
        if isinstance(t, TFun):
            arg, result = self.zonk(t.arg), self.zonk(t.result)
            return t if arg is t.arg and result is t.result else TFun(arg, result)
        if isinstance(t, TArray):
            elem = self.zonk(t.elem)
            return t if elem is t.elem else TArray(elem, t.rank)
        items = tuple(self.zonk(i) for i in children(t))
        if all(new is old for new, old in zip(items, children(t))):
            return t
        return TTuple(items) if isinstance(t, TTuple) else TCon(t.name, items)

    # -- unification
    def unify(self, expected: Type, actual: Type) -> None:
        """Make the two types equal or raise `UnifyError`, leaving no partial bindings."""
        outer = self._trail
        self._trail = []
        try:
            self._unify(expected, actual)
        except UnifyError:
            for table, key, old in reversed(self._trail):
                if old is _ABSENT:
                    del table[key]
                else:
                    table[key] = old
            raise
        finally:
            if outer is not None:
                outer.extend(self._trail)
            self._trail = outer

    def _unify(self, a: Type, b: Type) -> None:
        pending = [(a, b)]
        while pending:
            left, right = pending.pop()
            left, right = self.resolve(left), self.resolve(right)
            if left == right:
                continue
            if isinstance(left, TVar):
                self._bind(left, right)
            elif isinstance(right, TVar):
                self._bind(right, left)
            elif isinstance(left, TPrim) and isinstance(right, TPrim):
                self._unify_base(left, right)
                self.unify_measures(left.measure, right.measure)
            elif isinstance(left, TFun) and isinstance(right, TFun):
                pending.append((left.result, right.result))
                pending.append((left.arg, right.arg))
            elif isinstance(left, TTuple) and isinstance(right, TTuple) and len(left.items) == len(right.items):
                pending.extend(reversed(list(zip(left.items, right.items))))
            elif isinstance(left, TArray) and isinstance(right, TArray) and left.rank == right.rank:
                pending.append((left.elem, right.elem))
            elif (isinstance(left, TCon) and isinstance(right, TCon) and left.name == right.name
                  and len(left.args) == len(right.args)):
                pending.extend(reversed(list(zip(left.args, right.args))))
            else:
                raise UnifyError("mismatch", left, right)

    def _bind(self, var: TVar, t: Type) -> None:
        level = self.levels.get(var.id, 0)
        for term in walk(self.zonk(t)):
            if term == var:
                raise UnifyError("occurs", var, t)
            self._lower(term, level)
        self._set(self.types, var.id, t)

    def _lower(self, term: Type, level: int) -> None:
        ids: tuple[int, ...] = ()
        if isinstance(term, TVar):
            ids = (term.id,)
        elif isinstance(term, TPrim):
            ids = term.measure.var_ids()
        for var_id in ids:
            if self.levels.get(var_id, 0) > level:
                self._set(self.levels, var_id, level)

    def _unify_base(self, left: TPrim, right: TPrim) -> None:
        a, b = left.base, right.base
        if a == b:
            return
        if isinstance(a, BaseVar) and isinstance(b, BaseVar):
            ca, cb = self.constraints[a.id], self.constraints[b.id]
            allowed = tuple(n for n in ca.allowed if n in cb.allowed)
            if not allowed:
                raise UnifyError("mismatch", left, right)
            self._set(self.constraints, b.id, Constraint(allowed, cb.origin))
            self._set(self.bases, a.id, b)
        elif isinstance(a, BaseVar):
            self._bind_base(a, b, right)
        elif isinstance(b, BaseVar):
            self._bind_base(b, a, left)
        else:
            raise UnifyError("mismatch", left, right)

    def _bind_base(self, var: BaseVar, name: str, concrete: TPrim) -> None:
        constraint = self.constraints[var.id]
        if name not in constraint.allowed:
            raise UnifyError("constraint", concrete, var, constraint)
        self._set(self.bases, var.id, name)

    def unify_measures(self, a: Measure, b: Measure) -> None:
        a, b = self.resolve_measure(a), self.resolve_measure(b)
        if a == b:
            return
        levels = [self.levels.get(v, 0) for v in (a / b).var_ids()]
        floor = min(levels) if levels else 0

        def fresh() -> int:
            var_id = fresh_id()
            self._set(self.levels, var_id, floor)
            self.new_measures.append(var_id)
            return var_id

        solution = solve_one(a / b, fresh)
        if solution is None:
            raise UnifyError("measure", a, b)
        for var_id, measure in solution.items():
            level = self.levels.get(var_id, 0)
            for other in measure.var_ids():
                if self.levels.get(other, 0) > level:
                    self._set(self.levels, other, level)
            self._set(self.measures, var_id, measure)

    # -- schemes
    def instantiate(self, scheme: Scheme, level: int) -> Type:
        if not (scheme.type_vars or scheme.measure_vars or scheme.base_vars):
            return scheme.body
        types = {v: self.new_var(level) for v in scheme.type_vars}
        measures = {v: self.new_measure(level) for v in scheme.measure_vars}
        bases = {v: self.new_base(c) for v, c in scheme.base_vars}

        def leaf(term: Type) -> Type:
            if isinstance(term, TVar):
                return types.get(term.id, term)
            if isinstance(term.base, BaseVar) and term.base.id in bases:
                prim = TPrim(bases[term.base.id], term.measure.substitute(measures))
                self.numeric.append(prim)
                return prim
            return TPrim(term.base, term.measure.substitute(measures))
        return map_type(scheme.body, leaf)

    def generalize(self, t: Type, level: int) -> Scheme:
        """Quantify the variables of ``t`` created deeper than ``level``.

        Base variables are never quantified (F# does not generalise a statically
        resolved type in a non-inline binding); the measure variables of a
        primitive whose base is still unknown stay with it, to be defaulted.
        """
        body = self.zonk(t)
        type_vars: list[int] = []
        measure_vars: list[int] = []
        for term in walk(body):
            if isinstance(term, TVar) and self.levels.get(term.id, 0) > level and term.id not in type_vars:
                type_vars.append(term.id)
            elif isinstance(term, TPrim) and isinstance(term.base, str):
                for var_id in term.measure.var_ids():
                    if self.levels.get(var_id, 0) > level and var_id not in measure_vars:
                        measure_vars.append(var_id)
        return Scheme(tuple(type_vars), tuple(measure_vars), (), body)

    def default_numeric(self) -> None:
        """Resolve what F# resolves at the end of a declaration: each numeric base made
        since the last call and still unknown takes its default primitive, and each
        unit variable made since then and still unknown becomes dimensionless, so
        ``let f x = x + x`` is ``int -> int`` and ``let g x = x * 2.5`` is
        ``float -> float`` (units are generic only where an annotation says so)."""
        for prim in self.numeric:
            base = self.resolve_base(prim.base)
            if isinstance(base, BaseVar):
                self._set(self.bases, base.id, self.constraints[base.id].default)
        for var_id in self.new_measures:
            if var_id not in self.measures:
                self._set(self.measures, var_id, ONE)
        self.numeric, self.new_measures = [], []

    def unresolved(self, t: Type) -> bool:
        return any(isinstance(term, TVar) or (isinstance(term, TPrim) and isinstance(term.base, BaseVar))
                   for term in walk(self.zonk(t)))


_ABSENT = object()

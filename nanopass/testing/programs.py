"""Random well-typed Clef source programs with their inputs, for differential tests.

`programs(...)` is a hypothesis strategy of `GeneratedProgram`s;
`generated_program(seed, ...)` makes the same kind of program from a seed
without hypothesis (corpus runs of 10^3..10^5 programs), and
`generated_module(seed, count, ...)` many of them in one module (for sizes
no single program reaches).  `arguments(program)` / `random_arguments`
draw further inputs for a program, and `same_value` compares results.  It
is the source-level complement of `nanopass.testing.strategies` (graphs
that conform to a language but need not be well typed).

One generator serves all of them.  It draws its choices from a source
(`SpanChoices`): the test's data stream under hypothesis, where each
statement, declaration and expression is one nested draw, so that a failure
shrinks by deleting or simplifying whole ones (toward fewer functions and
statements, literals and shallow nesting); a seeded `random.Random`
otherwise.  It builds a small syntax tree and renders it to text at the end.

What a generated program guarantees, on its ``args`` and on any other
arguments of its parameter types whose arrays are not empty:

* it parses and type-checks;
* it runs on the interpreter without a runtime error (unless ``unguarded``), by construction:
  integer divisors are ``((b % 7) + 7) % 7 + 1`` (1..7); array indices are
  ``((i % n) + n) % n`` of a non-empty array's length ``n``;
  ``Array.reduce`` and indexing see only arrays known to be non-empty and
  ``Array.map2`` only arrays of one length; a float converted to an integer
  type is guarded to that type's range (NaN gives 0); ``abs`` of an integer
  is taken of ``x % 1000``; every ``match`` is complete;
* it terminates quickly: ``for`` loops run to a literal bound, an array's
  length or a masked value, ``while`` loops are bounded by a counter, calls go to functions
  declared earlier, recursion (the ``recursion`` feature) decreases an int
  that call sites guard to 0..4, and an estimate of the work done (trip
  counts times body sizes) caps how deeply loops, maps and calls nest;
* integer arithmetic may wrap and floats may become infinities or NaN:
  compare results with `same_value`.

``features`` restricts what appears (`FEATURES` lists them):

* scalar types ``int int64 uint8 float float32 bool``: the types of data
  (parameters, locals, results, array elements, fields, payloads) and their
  arithmetic; loop counters, array indices and lengths are ints, and
  conditions bools, whatever this says (and a ``while`` loop's bound is a
  comparison, recursion's base case an ``if`` on one);
* ``comparisons`` (``= <> < <= > >=``, ``&&``, ``||``, ``not``), ``math``
  (``sqrt exp log sin cos floor abs min max``), ``conversions``
  (``float int``...);
* ``if`` (``if/elif/else``), ``match`` (on ints, bools, options, tuples and
  unions, with ``when`` guards), ``let`` (local bindings),
  ``for`` (``let mutable`` with ``for`` loops, with and without carried
  dependences), ``stores`` (with ``for``, ``let`` and ``arrays``: a fresh
  array and a loop storing each of its elements),
  ``while`` (counted loops),
  ``calls`` (between top-level functions), ``recursion`` (``let rec`` on a
  bounded int; off by default);
* ``arrays`` (literals, ``Array.map mapi init sum reduce fold filter map2``,
  ``Array.length``, indexing), ``array2d`` (``Array2D.init``, 2-D indexing),
  ``tuples``, ``records`` and ``unions`` (declared types), ``options``,
  ``externs`` (``[<Pure; Cost(n)>]`` declarations, with deterministic pure
  Python implementations in `GeneratedProgram.externs`).

Features outside `FEATURES` (`EXTRA_FEATURES`), off unless named, make
programs for translation validation (`VALIDATION` turns on all of them with
`FEATURES` but ``stores``, which the z3 semantics cannot encode;
`VALIDATION_PROFILE` adds helper functions): what the passes rewrite, in
every shape a validator must see through:

* ``lists`` (``T list`` data: literals, ``::``, ``List.map filter distinct
  rev fold length isEmpty``, matches on ``[]`` and ``h :: rest``);
* ``effects`` (externs without ``Pure``, called anywhere: in lambdas,
  conditions, loops, and for the effect alone, ``let _ = emit0 x``, which
  only the token chain keeps; with ``duplicates``, one call twice and one
  effectful closure mapped twice);
* ``unguarded``: divisors, indices, shift counts, float-to-integer
  conversions, ``abs``, ``Array.reduce`` and ``Array.map2`` take their
  operands as they come, so a program may fail at run time (a zero divisor,
  an index out of range): refinement allows a source that fails to become
  anything, and a validator must find where a target fails that its source
  did not;
* ``masked``: trip counts, ``Array.init`` lengths and shift counts from data,
  masked small (``e &&& 7``, ``e &&& 3``), so that a bounded unrolling
  covers every run; and what an interval analysis claims of masked values:
  comparisons with bounds they reach, narrowing conversions of a range
  that crosses the target's end (``uint8 ((e &&& 255) + 64)``), divisions
  of a range below zero (``((e &&& 7) - 8) / d``, where truncating and
  flooring part);
* ``digest``: every local a block binds (and a recursive call's result)
  flows into the block's result through an int digest of all of it (every
  element, field and case), so that no statement is dead code that
  reachability would remove before the passes after it see it; and both
  parameters of ``Array.map2``'s function flow into its body, unequally;
* ``duplicates``: one expression twice and once with its operands swapped,
  or ``a * 0.0`` beside ``a * -0.0`` and the sign of the latter (what CSE
  merges, and must not);
* ``reductions``: folds and reduces whose lambda is a bare operator
  (``fun acc x -> acc - x``, ``max``), from its identity or another value
  (what baker names as a reduction, with its associativity).

The entry point is ``main``.  Its parameters are scalars, ``float[]`` /
``int[]`` (1..``max_size`` elements) and square ``float[,]`` / ``int[,]``
(side 1..``max(max_size // 4, 1)``); ``sizes`` gives each array
parameter's length (a 2-D array's side).
"""

from __future__ import annotations

import math
import struct
from typing import Callable, Protocol, Sequence

import attrs
from hypothesis import strategies as st

from nanopass.testing.strategies import Choices, RandomChoices

SCALARS = ("int", "int64", "uint8", "float", "float32", "bool")
NUMERIC = ("int", "int64", "uint8", "float", "float32")
INTEGRAL = ("int", "int64", "uint8")
SIGNED = ("int", "int64", "float", "float32")
FLOATING = ("float", "float32")
BITS = {"int": 32, "int64": 64, "uint8": 8}

FEATURES = frozenset(SCALARS + (
    "comparisons", "math", "conversions", "if", "match", "let", "for", "stores", "while", "calls", "recursion",
    "arrays", "array2d", "tuples", "records", "unions", "options", "externs"))
DEFAULT_FEATURES = FEATURES - {"recursion"}
# Not in FEATURES, so that the programs of every feature set named before them stay as they were.
EXTRA_FEATURES = frozenset({"lists", "effects", "unguarded", "masked", "digest", "duplicates", "reductions"})
# Stores left out: arrays are values to the z3 semantics, and a function with one is only tested.
VALIDATION = (FEATURES - {"stores"}) | EXTRA_FEATURES
# The options of the translation-validation corpus (``generated_program(seed, **VALIDATION_PROFILE)``): more
# helper functions than the default, each validated on its own.
VALIDATION_PROFILE = {"features": VALIDATION, "max_functions": 5}

ENTRY = "main"
# A bound on the estimated work of one function: evaluated nodes, with loop
# trips, element counts and callees' work multiplied in.  It keeps a run to
# milliseconds on the interpreter.
WORK_LIMIT = 6000
RECURSION_BOUND = 4  # call sites pass the decreasing int as ((e % 5) + 5) % 5
INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# Float-to-integer conversions are taken only inside these bounds (NaN fails them).
CONVERSION_BOUNDS = {"int": (-2.0e9, 2.0e9), "int64": (-9.0e18, 9.0e18), "uint8": (0.0, 255.0)}


@attrs.frozen(eq=False)
class GeneratedProgram:
    """A program, its entry, arguments for it, and the host functions of its externs."""

    source: str
    entry: str
    args: tuple
    param_types: tuple[str, ...]  # F# type text, one per parameter of the entry
    sizes: dict[str, int]  # array parameter -> its length (a 2-D array's side)
    externs: dict[str, Callable]
    param_names: tuple[str, ...] = ()
    result_type: str = ""


# -- the syntax tree ----------------------------------------------------------------------------
# Expressions render on one line; statements and block-valued lets use layout.
@attrs.frozen
class Atom:
    """A literal, a name, or anything else that needs no parentheses as an operand."""

    text: str


@attrs.frozen
class Apply:
    fn: str
    args: tuple


@attrs.frozen
class Binary:
    op: str
    left: object
    right: object


@attrs.frozen
class Negate:
    operand: object


@attrs.frozen
class Lambda:
    params: tuple  # (name, type text or None)
    body: object


@attrs.frozen
class IfExpr:
    branches: tuple  # (condition, value)
    otherwise: object


@attrs.frozen
class MatchExpr:
    scrutinee: object
    arms: tuple  # (pattern text, guard or None, value)


@attrs.frozen
class TupleExpr:
    items: tuple


@attrs.frozen
class RecordExpr:
    fields: tuple  # (name, value)


@attrs.frozen
class WithExpr:
    record: str
    fields: tuple


@attrs.frozen
class Field:
    record: str
    name: str


@attrs.frozen
class Index:
    array: str
    indices: tuple


@attrs.frozen
class ArrayLiteral:
    items: tuple


@attrs.frozen
class ListLiteral:
    items: tuple


@attrs.frozen
class Block:
    statements: tuple
    result: object  # an expression, `BlockIf` or `BlockMatch`


@attrs.frozen
class BlockIf:
    branches: tuple  # (condition, Block)
    otherwise: Block


@attrs.frozen
class BlockMatch:
    scrutinee: object
    arms: tuple  # (pattern text, guard or None, Block)


@attrs.frozen
class Let:
    pattern: str
    type: str | None
    value: object


@attrs.frozen
class LetMutable:
    name: str
    value: object


@attrs.frozen
class Assign:
    target: object  # a name (Atom) or an Index
    value: object


@attrs.frozen
class For:
    index: str
    low: object
    high: object
    body: tuple


@attrs.frozen
class ForEach:
    element: str
    source: str
    body: tuple


@attrs.frozen
class While:
    condition: object
    body: tuple


@attrs.frozen
class IfStatement:
    condition: object
    then: tuple
    otherwise: tuple | None


@attrs.frozen
class Function:
    name: str
    params: tuple  # (name, type text)
    result: str | None  # the annotation, None to leave it to inference
    body: Block
    recursive: bool = False


@attrs.frozen
class RecordDecl:
    name: str
    fields: tuple  # (name, type)


@attrs.frozen
class UnionDecl:
    name: str
    cases: tuple  # (name, payload types)


@attrs.frozen
class ExternDecl:
    name: str
    params: tuple
    result: str
    cost: int
    pure: bool = True


_ATOMIC = (Atom, TupleExpr, RecordExpr, WithExpr, ArrayLiteral, ListLiteral)


def _operand(e) -> str:
    text = render_expression(e)
    return text if isinstance(e, _ATOMIC) else f"({text})"


def render_expression(e) -> str:
    """One line of F# for an expression of the tree."""
    if isinstance(e, Atom):
        return e.text
    if isinstance(e, Apply):
        return " ".join([e.fn, *(_operand(a) for a in e.args)])
    if isinstance(e, Binary):
        return f"{_operand(e.left)} {e.op} {_operand(e.right)}"
    if isinstance(e, Negate):
        return f"-{_operand(e.operand)}"
    if isinstance(e, Lambda):
        params = " ".join(name if t is None else f"({name}: {t})" for name, t in e.params)
        return f"fun {params} -> {render_expression(e.body)}"
    if isinstance(e, IfExpr):
        (condition, value), *rest = e.branches
        parts = [f"if {_operand(condition)} then {_operand(value)}"]
        parts += [f"elif {_operand(c)} then {_operand(v)}" for c, v in rest]
        return " ".join(parts + [f"else {_operand(e.otherwise)}"])
    if isinstance(e, MatchExpr):
        arms = " ".join(f"| {pattern}{_guard(guard)} -> {_operand(value)}" for pattern, guard, value in e.arms)
        return f"match {_operand(e.scrutinee)} with {arms}"
    # Inside brackets an operand is parenthesized too: an inline if or match would run on past a comma.
    if isinstance(e, TupleExpr):
        return "(" + ", ".join(_operand(i) for i in e.items) + ")"
    if isinstance(e, RecordExpr):
        return "{ " + "; ".join(f"{n} = {_operand(v)}" for n, v in e.fields) + " }"
    if isinstance(e, WithExpr):
        return "{ " + e.record + " with " + "; ".join(f"{n} = {_operand(v)}" for n, v in e.fields) + " }"
    if isinstance(e, Field):
        return f"{e.record}.{e.name}"
    if isinstance(e, Index):
        return f"{e.array}.[" + ", ".join(_operand(i) for i in e.indices) + "]"
    if isinstance(e, ArrayLiteral):
        return "[| " + "; ".join(_operand(i) for i in e.items) + " |]"
    if isinstance(e, ListLiteral):
        return "[" + "; ".join(_operand(i) for i in e.items) + "]"
    raise TypeError(f"not an expression: {e!r}")


def _guard(guard) -> str:
    return "" if guard is None else f" when {_operand(guard)}"


def _render_value(value, indent: str, lines: list[str], head: str) -> None:
    """``head`` followed by ``value``: on the same line, or, for a block, on the lines below."""
    if isinstance(value, BlockIf):
        lines.append(head.rstrip())
        inner = indent + "    "
        for i, (condition, block) in enumerate(value.branches):
            lines.append(f"{inner}{'if' if i == 0 else 'elif'} {_operand(condition)} then")
            _render_block(block, inner + "    ", lines)
        lines.append(f"{inner}else")
        _render_block(value.otherwise, inner + "    ", lines)
    elif isinstance(value, BlockMatch):
        lines.append(head.rstrip())
        inner = indent + "    "
        lines.append(f"{inner}match {_operand(value.scrutinee)} with")
        for pattern, guard, block in value.arms:
            lines.append(f"{inner}| {pattern}{_guard(guard)} ->")
            _render_block(block, inner + "    ", lines)
    else:
        lines.append(head + render_expression(value))


def _render_block(block: Block, indent: str, lines: list[str]) -> None:
    for statement in block.statements:
        _render_statement(statement, indent, lines)
    if isinstance(block.result, (BlockIf, BlockMatch)):
        # A block-valued result: render it as the value of an empty head, one level out.
        before = len(lines)
        _render_value(block.result, indent[:-4], lines, "")
        del lines[before]  # the empty head line
    else:
        lines.append(indent + render_expression(block.result))


def _render_statements(statements: tuple, indent: str, lines: list[str]) -> None:
    for statement in statements:
        _render_statement(statement, indent, lines)


def _render_statement(s, indent: str, lines: list[str]) -> None:
    if isinstance(s, Let):
        annotation = f" : {s.type}" if s.type else ""
        _render_value(s.value, indent, lines, f"{indent}let {s.pattern}{annotation} = ")
    elif isinstance(s, LetMutable):
        lines.append(f"{indent}let mutable {s.name} = {render_expression(s.value)}")
    elif isinstance(s, Assign):
        lines.append(f"{indent}{render_expression(s.target)} <- {render_expression(s.value)}")
    elif isinstance(s, For):
        lines.append(f"{indent}for {s.index} in {render_expression(s.low)} .. {render_expression(s.high)} do")
        _render_statements(s.body, indent + "    ", lines)
    elif isinstance(s, ForEach):
        lines.append(f"{indent}for {s.element} in {s.source} do")
        _render_statements(s.body, indent + "    ", lines)
    elif isinstance(s, While):
        lines.append(f"{indent}while {_operand(s.condition)} do")
        _render_statements(s.body, indent + "    ", lines)
    elif isinstance(s, IfStatement):
        lines.append(f"{indent}if {_operand(s.condition)} then")
        _render_statements(s.then, indent + "    ", lines)
        if s.otherwise is not None:
            lines.append(f"{indent}else")
            _render_statements(s.otherwise, indent + "    ", lines)
    else:
        raise TypeError(f"not a statement: {s!r}")


def render_program(declarations: Sequence) -> str:
    """The source text of a list of top-level declarations."""
    lines: list[str] = []
    for d in declarations:
        if isinstance(d, RecordDecl):
            lines.append(f"type {d.name} = {{ " + "; ".join(f"{n}: {t}" for n, t in d.fields) + " }")
        elif isinstance(d, UnionDecl):
            lines.append(f"type {d.name} =")
            for case, payload in d.cases:
                lines.append(f"    | {case}" + (f" of {' * '.join(payload)}" if payload else ""))
        elif isinstance(d, ExternDecl):
            lines.append(f"[<Pure; Cost({d.cost})>]" if d.pure else f"[<Cost({d.cost})>]")
            lines.append(f"extern {d.name} : {' -> '.join(d.params + (d.result,))}")
        else:
            params = " ".join(f"({n}: {t})" for n, t in d.params)
            result = f" : {d.result}" if d.result else ""
            lines.append(f"let {'rec ' if d.recursive else ''}{d.name} {params}{result} =")
            _render_block(d.body, "    ", lines)
        lines.append("")
    return "\n".join(lines)


# -- literals and host values -------------------------------------------------------------------
def _float_text(x: float) -> str:
    text = repr(float(x))
    return text if any(c in text for c in ".e") else text + ".0"


def literal_text(value, type_name: str) -> str:
    """F# literal text of ``value`` (negative numbers in parentheses, so they can be operands)."""
    if type_name == "bool":
        return "true" if value else "false"
    if type_name in FLOATING:
        text = _float_text(abs(value)) + ("f" if type_name == "float32" else "")
        return f"(-{text})" if math.copysign(1.0, value) < 0 else text
    suffix = {"int": "", "int64": "L", "uint8": "uy"}[type_name]
    return f"(-{-value}{suffix})" if value < 0 else f"{value}{suffix}"


_SMALL_FLOATS = (0.0, 0.5, 1.0, 2.5, 0.125, 3.0, 10.0, 100.0)
_LARGE_FLOATS = {"float": (1e10, 1e-05, 1.0e300, 3.0e38, 6.0e-08),
                 "float32": (1e10, 1e-05, 3.0e38, 6.0e-08)}


class SpanChoices(Choices, Protocol):
    """`Choices` that also group draws: ``group(make)`` is ``make()`` with its draws as one unit."""

    def group(self, make: Callable[[], object]) -> object: ...


class DrawnChoices:
    """Choices from a composite strategy's ``draw``; a group is a nested draw, so its draws form one span
    that the shrinker can delete or simplify as a whole.  Integers shrink toward ``lo``, flips to False."""

    def __init__(self, draw: Callable):
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi)) if hi > lo else lo

    def flip(self, percent: int) -> bool:
        return self._draw(st.integers(0, 99)) >= 100 - percent

    def group(self, make: Callable[[], object]) -> object:
        return self._draw(st.builds(make))


class SeededChoices(RandomChoices):
    """Choices from a seeded `random.Random` (`RandomChoices`); a group is just ``make()``."""

    def group(self, make: Callable[[], object]) -> object:
        return make()


_STOP = object()  # what a group of `ProgramGenerator.repeat` returns when its flip says no more


def _pick(choices: Choices, items: Sequence):
    return items[choices.integer(0, len(items) - 1)]


def draw_scalar(choices: Choices, type_name: str, literal: bool = False):
    """A value of a scalar type; an argument (``literal`` False) may be any value of the type."""
    if type_name == "bool":
        return choices.flip(50)
    if type_name == "uint8":
        return choices.integer(0, 255)
    if type_name in ("int", "int64"):
        if choices.flip(15):  # the ends of the range
            low, high = (INT_MIN, INT_MAX) if type_name == "int" else (INT64_MIN, INT64_MAX)
            if literal:
                low += 1  # -MinValue is not a literal: keep it writable as (-n)
            return _pick(choices, (high, low, high - 1, low + 1, 65536, -65537))
        if not literal and choices.flip(15):
            return choices.integer(INT_MIN, INT_MAX)
        value = choices.integer(0, 100)
        return -value if choices.flip(25) else value
    if choices.flip(15):
        value = _pick(choices, _LARGE_FLOATS[type_name])
        if type_name == "float32":
            value = _float32(value)
    elif choices.flip(50):
        value = _pick(choices, _SMALL_FLOATS)
    else:
        value = choices.integer(-400, 400) / 8  # exact in float32 too
    return -value if choices.flip(25) else value


def _float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _wrap(x: int, bits: int) -> int:
    """``x`` wrapped into the signed integers of ``bits`` bits."""
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >= 1 << (bits - 1) else x


@attrs.frozen
class ExternFunction:
    """A deterministic pure host function: a weighted sum of its arguments, converted to its result type."""

    name: str
    param_types: tuple[str, ...]
    result_type: str
    weights: tuple[int, ...]  # one per parameter, then the constant term

    def __call__(self, *args):
        total: float | int = self.weights[-1]
        for value, type_name, weight in zip(args, self.param_types, self.weights):
            if type_name == "bool":
                value = 1 if value else 0
            elif type_name in FLOATING:
                value = float(value) if math.isfinite(value) else 0.0
            total = total + weight * value
        result = self.result_type
        if result in FLOATING:
            return float(total)
        if result == "bool":
            return total > 0
        if isinstance(total, float):
            total = math.trunc(total) if math.isfinite(total) and abs(total) < 1e30 else 0
        if result == "uint8":
            return total & 0xFF
        return _wrap(total, BITS[result])


# -- the generator ------------------------------------------------------------------------------
@attrs.frozen
class Var:
    """A name in scope, its type, and what is known of an array's length."""

    name: str
    type: str
    mutable: bool = False
    length: object = None  # arrays: an int, or a symbol shared by arrays of one length
    nonempty: bool = False


@attrs.frozen
class Context:
    env: tuple
    depth: int
    work: int = 1  # how many times the code being generated runs, estimated
    in_lambda: bool = False

    def with_vars(self, *vs: Var) -> "Context":
        return attrs.evolve(self, env=self.env + vs)

    def deeper(self, times: int = 1) -> "Context":
        return attrs.evolve(self, depth=self.depth + 1, work=self.work * max(times, 1))

    def visible(self, type_name: str | None = None) -> list[Var]:
        return [v for v in self.env if (type_name is None or v.type == type_name)
                and not (self.in_lambda and v.mutable)]


@attrs.frozen
class Signature:
    name: str
    params: tuple  # (name, type)
    result: str
    work: int
    result_nonempty: bool = False
    recursive: bool = False


@attrs.frozen
class ArrayValue:
    """An array expression, its element type, and what is known of its length."""

    expr: object
    element: str
    length: object  # an int, or a symbol shared by arrays of one length
    nonempty: bool


def _element(type_name: str) -> str:
    return type_name.rsplit("[", 1)[0]


def _sum(parts: list):
    total = parts[0]
    for part in parts[1:]:
        total = Binary("+", total, part)
    return total


def _case_pattern(case: str, names: list[str]) -> str:
    if not names:
        return case
    return f"{case} {names[0]}" if len(names) == 1 else f"{case} (" + ", ".join(names) + ")"


def _case_value(case: str, items: list):
    if not items:
        return Atom(case)
    return Apply(case, (items[0],)) if len(items) == 1 else Apply(case, (TupleExpr(tuple(items)),))


class ProgramGenerator:
    """Builds one program; see the module docstring for what it guarantees."""

    def __init__(self, choices: SpanChoices, features: frozenset[str], max_depth: int, max_functions: int,
                 max_size: int, max_statements: int, suffix: str = ""):
        unknown = set(features) - FEATURES - EXTRA_FEATURES
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; expected some of "
                             f"{sorted(FEATURES | EXTRA_FEATURES)}")
        self.scalars = tuple(t for t in SCALARS if t in features)
        if not any(t in features for t in NUMERIC):
            raise ValueError("the features name no numeric type; expected one of " + ", ".join(NUMERIC))
        if max_functions < 1 or max_depth < 1 or max_size < 1 or max_statements < 0:
            raise ValueError("max_functions, max_depth and max_size must be at least 1, max_statements at least 0")
        self.c = choices
        self.features = frozenset(features)
        self.max_depth = max_depth
        self.max_functions = max_functions
        self.max_size = max_size
        self.max_statements = max_statements
        self.suffix = suffix  # on every top-level name, so that programs can share a module
        self.numeric = tuple(t for t in self.scalars if t in NUMERIC)
        self.records: dict[str, tuple] = {}
        self.unions: dict[str, tuple] = {}
        self.externs: list[Signature] = []
        self.effects: list[Signature] = []  # externs without Pure
        self.host: dict[str, ExternFunction] = {}
        self.functions: list[Signature] = []
        self.counter = 0
        self.work = 0  # the estimated work of the function being generated
        self.symbols = 0

    def has(self, feature: str) -> bool:
        return feature in self.features

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def repeat(self, low: int, high: int, percent: int, make: Callable[[], object]) -> list:
        """``low`` to ``high`` results of ``make``, each past ``low`` after a flip (as `st.lists` does).  An
        item's flip and draws are one span, which the shrinker deletes whole, leaving a valid program."""
        made: list = []
        while len(made) < high:
            required = len(made) < low
            item = self.c.group(lambda: make() if required or self.c.flip(percent) else _STOP)
            if item is _STOP:
                break
            made.append(item)
        return made

    def symbol(self) -> str:
        self.symbols += 1
        return f"#{self.symbols}"

    # -- program ---------------------------------------------------------------------------------
    def program(self) -> GeneratedProgram:
        declarations: list = []
        if self.has("records"):
            declarations += self.repeat(0, 2, 50, lambda: self.record_decl(f"R{len(self.records)}{self.suffix}"))
        if self.has("unions"):
            declarations += self.repeat(0, 2, 50, lambda: self.union_decl(f"U{len(self.unions)}{self.suffix}"))
        if self.has("externs"):
            declarations += self.repeat(0, 2, 50, lambda: self.extern_decl(f"ext{len(self.externs)}{self.suffix}"))
        if self.has("effects"):
            declarations += self.repeat(1, 2, 50, lambda: self.extern_decl(f"emit{len(self.effects)}{self.suffix}",
                                                                          pure=False))
        helpers = self.has("calls") or self.has("recursion")
        declarations += self.repeat(0, self.max_functions - 1 if helpers else 0, 60, self.function)
        entry, args, sizes = self.entry()
        declarations.append(entry)
        return GeneratedProgram(
            source=render_program(declarations), entry=entry.name, args=args,
            param_types=tuple(t for _, t in entry.params), sizes=sizes, externs=dict(self.host),
            param_names=tuple(n for n, _ in entry.params), result_type=self.functions[-1].result)

    def record_decl(self, name: str) -> RecordDecl:
        fields = tuple((f"{label}{name[1:]}", self.scalar()) for label in ("X", "Y", "Z")[: self.c.integer(1, 3)])
        self.records[name] = fields
        return RecordDecl(name, fields)

    def union_decl(self, name: str) -> UnionDecl:
        cases = []
        for label in ("A", "B", "C")[: self.c.integer(1, 3)]:
            payload = tuple(self.scalar() for _ in range(self.c.integer(0, 2 if self.has("tuples") else 1)))
            cases.append((f"{name}{label}", payload))
        self.unions[name] = tuple(cases)
        return UnionDecl(name, tuple(cases))

    def extern_decl(self, name: str, pure: bool = True) -> ExternDecl:
        params = tuple(self.scalar() for _ in range(self.c.integer(1, 2)))
        result = self.scalar(numeric=True)
        (self.externs if pure else self.effects).append(
            Signature(name, tuple((f"a{i}", t) for i, t in enumerate(params)), result, 1))
        weights = tuple(self.c.integer(-3, 3) for _ in range(len(params) + 1))
        self.host[name] = ExternFunction(name, params, result, weights)
        return ExternDecl(name, params, result, self.c.integer(1, 50), pure)

    def function(self) -> Function:
        name = f"f{len(self.functions)}{self.suffix}"
        if self.has("recursion") and (self.c.flip(30) or not self.has("calls")):
            return self.recursive_function(name)
        return self.helper(name)

    def helper(self, name: str) -> Function:
        params = tuple(self.repeat(1, 3, 40, lambda: (self.fresh("p"), self.value_type())))
        result = self.value_type()
        ctx = Context(tuple(self.param_var(n, t) for n, t in params), depth=0)
        self.work = 0
        body, nonempty = self.body(ctx, result)
        annotation = result if self.c.flip(75) or " option" in result else None
        self.functions.append(Signature(name, params, result, max(self.work, 1), nonempty))
        return Function(name, params, annotation, body)

    def recursive_function(self, name: str) -> Function:
        """``let rec f (n: int) ... = if n <= 0 then base else let rest = f (n - 1) ... in step``."""
        n = self.fresh("n")
        params = ((n, "int"),) + tuple(self.repeat(0, 2, 40, lambda: (self.fresh("p"), self.value_type())))
        result = self.value_type(arrays=False)
        ctx = Context(tuple(self.param_var(p, t) for p, t in params), depth=1)
        self.work = 0
        itself = Signature(name, params, result, 0, recursive=True)
        base = self.block(ctx, result, statements=1)
        call = Apply(name, (Binary("-", Atom(n), Atom("1")),)
                     + tuple(self.argument(t, ctx) for _, t in params[1:]))
        if self.has("let"):
            rest = Var(self.fresh("v"), result)
            step = self.block(ctx.with_vars(rest), result, statements=1, observe=(rest,))
            otherwise = Block((Let(rest.name, None, call),) + step.statements, step.result)
        elif result in NUMERIC:
            otherwise = Block((), self.combine(result, call, self.expr(result, ctx)))
        else:
            otherwise = Block((), call)
        body = Block((), BlockIf(((Binary("<=", Atom(n), Atom("0")), base),), otherwise))
        self.functions.append(attrs.evolve(itself, work=max(self.work, 1) * (RECURSION_BOUND + 1)))
        return Function(name, params, result, body, recursive=True)

    def entry(self) -> tuple[Function, tuple, dict[str, int]]:
        def parameter() -> tuple:
            name, type_name = self.fresh("p"), self.entry_param_type()
            return name, type_name, *draw_argument(self.c, type_name, self.max_size)

        drawn = self.repeat(1, 4, 50, parameter)
        params = [(name, type_name) for name, type_name, _, _ in drawn]
        args = [value for _, _, value, _ in drawn]
        sizes = {name: size for name, _, _, size in drawn if size is not None}
        result = self.value_type()
        ctx = Context(tuple(self.param_var(n, t) for n, t in params), depth=0)
        self.work = 0
        body, _ = self.body(ctx, result)
        name = ENTRY + self.suffix
        self.functions.append(Signature(name, tuple(params), result, max(self.work, 1)))
        return Function(name, tuple(params), result, body), tuple(args), sizes

    def param_var(self, name: str, type_name: str) -> Var:
        if type_name.endswith("]"):  # array parameters are non-empty, each of its own length
            return Var(name, type_name, length=f"len {name}", nonempty=True)
        return Var(name, type_name)

    def entry_param_type(self) -> str:
        options = list(self.scalars)
        data = [t for t in ("float", "int") if self.has(t)]
        if self.has("arrays"):
            options += [t + "[]" for t in data]
        if self.has("array2d"):
            options += [t + "[,]" for t in data]
        return _pick(self.c, options)

    def body(self, ctx: Context, result: str) -> tuple[Block, bool]:
        """A function body, and whether it returns a non-empty array."""
        return self.typed_block(ctx, result, statements=self.max_statements)

    # -- types -----------------------------------------------------------------------------------
    def scalar(self, numeric: bool = False) -> str:
        return _pick(self.c, self.numeric if numeric else self.scalars)

    def value_type(self, arrays: bool = True) -> str:
        """A type for a local, a parameter or a result; scalars first (where shrinking goes)."""
        kinds = ["scalar"]
        if arrays and self.has("arrays"):
            kinds.append("array")
        if arrays and self.has("array2d"):
            kinds.append("array2d")
        if self.has("tuples"):
            kinds.append("tuple")
        if self.records:
            kinds.append("record")
        if self.unions:
            kinds.append("union")
        if self.has("options"):
            kinds.append("option")
        if self.has("lists"):
            kinds.append("list")
        if "array" in kinds:
            kinds.append("array")  # twice: the intrinsics over arrays are much of what there is to test
        kind = "scalar" if not self.c.flip(50) else _pick(self.c, kinds)
        if kind == "scalar":
            return self.scalar()
        if kind == "array":
            return self.scalar() + "[]"
        if kind == "array2d":
            return self.scalar(numeric=True) + "[,]"
        if kind == "tuple":
            return f"{self.scalar()} * {self.scalar()}"
        if kind == "list":
            return self.scalar() + " list"
        if kind == "record":
            return _pick(self.c, sorted(self.records))
        if kind == "union":
            return _pick(self.c, sorted(self.unions))
        return self.scalar() + " option"

    def kind(self, type_name: str) -> str:
        if type_name.endswith("[,]"):
            return "array2d"
        if type_name.endswith("[]"):
            return "array"
        if " * " in type_name:
            return "tuple"
        if type_name.endswith(" option"):
            return "option"
        if type_name.endswith(" list"):
            return "list"
        if type_name in self.records:
            return "record"
        if type_name in self.unions:
            return "union"
        return "scalar"

    # -- blocks and statements -------------------------------------------------------------------
    def block(self, ctx: Context, result: str, statements: int, observe: tuple = ()) -> Block:
        return self.typed_block(ctx, result, statements, observe)[0]

    def typed_block(self, ctx: Context, result: str, statements: int, observe: tuple = ()) -> tuple[Block, bool]:
        """Up to ``statements`` statements, then an expression of type ``result``; and whether that is a
        non-empty array.  With ``digest``, what the statements bind (and ``observe``) flows into the result."""
        out: list = []
        scope = [ctx]

        def one() -> None:
            scope[0] = self.statement(scope[0], out)
        self.repeat(0, statements, 75 if ctx.depth == 0 else 50, one)
        after = scope[0]
        if self.kind(result) == "array":
            array = self.array(_element(result), after)
            value, nonempty = array.expr, array.nonempty
        else:
            value, nonempty = self.expr(result, after), False
            combinable = result in NUMERIC or (result == "bool" and self.has("comparisons"))
            locals_ = after.visible(result) if combinable else []
            if locals_ and self.c.flip(60):  # let the result depend on what the block computed
                for _ in range(self.c.integer(1, 3)):
                    value = self.combine(result, Atom(_pick(self.c, locals_).name), value)
        bound = observe + after.env[len(ctx.env):]
        if self.has("digest") and bound:
            digest = self.fresh("d")
            out.append(Let(digest, None, _sum([self.observe(Atom(v.name), v.type) for v in bound])))
            value = self.mix(result, value, Atom(digest), out)
        return Block(tuple(out), value), nonempty

    # -- digest: an int that depends on all of a value, and results that depend on it ----------------
    def observe(self, e, type_name: str):
        """An int expression that depends on every part of ``e`` (a name, or a projection of one)."""
        kind = self.kind(type_name)
        if type_name == "int":
            return e
        if type_name in INTEGRAL:
            return Apply("int", (e,))
        if type_name in FLOATING:
            scaled = Apply("int", (Binary("*", e, Atom(literal_text(16.0, type_name))),))
            if self.has("unguarded"):
                return scaled
            low, high = (Atom(literal_text(b, type_name)) for b in (-1.0e8, 1.0e8))
            return IfExpr(((Binary("&&", Binary(">", e, low), Binary("<", e, high)), scaled),), Atom("7"))
        if type_name == "bool":
            return IfExpr(((e, Atom("1")),), Atom("2"))
        if kind in ("array", "list"):
            acc, x = self.fresh("a"), self.fresh("x")
            element = _element(type_name) if kind == "array" else type_name[: -len(" list")]
            step = Binary("+", Binary("*", Atom(acc), Atom("31")), self.observe(Atom(x), element))
            fold = "Array.fold" if kind == "array" else "List.fold"
            return Apply(fold, (Lambda(((acc, None), (x, None)), step), Atom("7"), e))
        if kind == "array2d":
            return Binary("+", Binary("*", Apply("Array2D.length1", (e,)), Atom("7")), Apply("Array2D.length2", (e,)))
        if kind == "tuple":
            first, second = type_name.split(" * ")
            return Binary("+", self.observe(Apply("fst", (e,)), first), self.observe(Apply("snd", (e,)), second))
        if kind == "record":
            return _sum([self.observe(Field(e.text, f), t) for f, t in self.records[type_name]])
        if kind == "option":
            x = self.fresh("x")
            return MatchExpr(e, ((f"Some {x}", None, self.observe(Atom(x), type_name[: -len(" option")])),
                                 ("None", None, Atom("3"))))
        arms = []
        for k, (case, payload) in enumerate(self.unions[type_name]):
            names = [self.fresh("x") for _ in payload]
            value = _sum([Atom(str(11 * (k + 1)))] + [self.observe(Atom(n), t) for n, t in zip(names, payload)])
            arms.append((_case_pattern(case, names), None, value))
        return MatchExpr(e, tuple(arms))

    def from_digest(self, type_name: str, d):
        """A scalar of ``type_name`` made from the int ``d``."""
        if type_name == "int":
            return d
        if type_name == "bool":
            return Binary("=", Binary("%", d, Atom("2")), Atom("0"))
        return Apply(type_name, (d,))

    def mix_scalar(self, type_name: str, value, d):
        if type_name == "bool":
            return Binary("<>", value, self.from_digest("bool", d))
        return Binary("+", value, self.from_digest(type_name, d))

    def mix(self, type_name: str, value, d, out: list):
        """``value`` changed by the int ``d`` (a name), so that it depends on it; lets go to ``out``."""
        kind = self.kind(type_name)
        if kind == "scalar":
            return self.mix_scalar(type_name, value, d)
        if kind == "array":
            x = self.fresh("x")
            return Apply("Array.map", (Lambda(((x, None),), self.mix_scalar(_element(type_name), Atom(x), d)), value))
        if kind == "list":
            return Binary("::", self.from_digest(type_name[: -len(" list")], d), value)
        name = self.fresh("r")  # what follows reads the value more than once
        out.append(Let(name, type_name, value))
        r = Atom(name)
        if kind == "array2d":
            i, j = self.fresh("j"), self.fresh("j")
            element = self.mix_scalar(_element(type_name), Index(name, (Atom(i), Atom(j))), d)
            return Apply("Array2D.init", (Apply("Array2D.length1", (r,)), Apply("Array2D.length2", (r,)),
                                          Lambda(((i, None), (j, None)), element)))
        if kind == "tuple":
            first, second = type_name.split(" * ")
            return TupleExpr((self.mix_scalar(first, Apply("fst", (r,)), d), Apply("snd", (r,))))
        if kind == "record":
            field, field_type = self.records[type_name][0]
            return WithExpr(name, ((field, self.mix_scalar(field_type, Field(name, field), d)),))
        if kind == "option":
            element, x = type_name[: -len(" option")], self.fresh("x")
            return MatchExpr(r, ((f"Some {x}", None, Apply("Some", (self.mix_scalar(element, Atom(x), d),))),
                                 ("None", None, Apply("Some", (self.from_digest(element, d),)))))
        cases = self.unions[type_name]
        arms = []
        for k, (case, payload) in enumerate(cases):
            names = [self.fresh("x") for _ in payload]
            if payload:
                items = [self.mix_scalar(payload[0], Atom(names[0]), d)] + [Atom(n) for n in names[1:]]
                arms.append((_case_pattern(case, names), None, _case_value(case, items)))
            else:  # a case without payload: the digest picks it or the next case
                other, other_payload = cases[(k + 1) % len(cases)]
                alternative = _case_value(other, [self.from_digest(t, d) for t in other_payload])
                arms.append((case, None, IfExpr(((self.from_digest("bool", d), Atom(case)),), alternative)))
        return MatchExpr(r, tuple(arms))

    def statement(self, ctx: Context, out: list) -> Context:
        """Append one statement (or a group: a mutable and its loop) to ``out``; the context after it."""
        forms = []
        if self.has("let"):
            forms.append(self.let_statement)
            if ctx.depth < self.max_depth and (self.has("if") or self.has("match")):
                forms.append(self.let_block)
            if self.has("tuples"):
                forms.append(self.let_tuple)
        if self.has("for") and ctx.depth < self.max_depth:
            forms.append(self.for_group)
            if self.has("stores") and self.has("arrays") and self.has("let"):
                forms.append(self.store_group)
        if self.has("while") and ctx.depth < self.max_depth:
            forms.append(self.while_group)
        if self.has("duplicates") and self.has("let"):
            forms.append(self.duplicate_group)
        if self.effects and self.has("let"):
            forms.append(self.effect_statement)
        if not forms:
            return ctx
        return _pick(self.c, forms)(ctx, out)

    def bind(self, name: str, type_name: str, value, ctx: Context) -> tuple[object, Var]:
        """The right-hand side of a let of type ``type_name``, and the variable it binds."""
        if self.kind(type_name) == "array":
            array = self.array(_element(type_name), ctx)
            return array.expr, Var(name, type_name, length=array.length, nonempty=array.nonempty)
        return value if value is not None else self.expr(type_name, ctx), Var(name, type_name)

    def let_statement(self, ctx: Context, out: list) -> Context:
        name = self.fresh("v")
        callees = self.callees(None, ctx)
        # A call whatever its type (results rarely match a type drawn at random).  The flip comes first,
        # drawn whether or not there are callees, so that deleting a function leaves later draws in step.
        if self.c.flip(30) and callees:
            callee = _pick(self.c, callees)
            type_name, value = callee.result, self.call(callee, ctx)
            length = self.symbol() if self.kind(type_name) == "array" else None
            out.append(Let(name, None, value))
            return ctx.with_vars(Var(name, type_name, length=length, nonempty=callee.result_nonempty))
        type_name = self.value_type()
        value, var = self.bind(name, type_name, None, ctx)
        annotate = self.c.flip(30) or self.kind(type_name) == "option"
        out.append(Let(name, type_name if annotate else None, value))
        return ctx.with_vars(var)

    def let_block(self, ctx: Context, out: list) -> Context:
        """``let v =`` an if or a match whose branches are blocks."""
        type_name, name = self.value_type(arrays=False), self.fresh("v")
        inner = ctx.deeper()
        if self.has("if") and (not self.has("match") or self.c.flip(50)):
            branches = tuple(self.repeat(1, 2, 40, lambda: (self.condition(inner), self.block(inner, type_name, 2))))
            value = BlockIf(branches, self.block(inner, type_name, 2))
        else:
            scrutinee, arms = self.match_arms(inner)
            value = BlockMatch(scrutinee, tuple(
                (pattern, guard, self.block(inner.with_vars(*bound), type_name, 2))
                for pattern, guard, bound in arms))
        out.append(Let(name, type_name if self.kind(type_name) == "option" else None, value))
        return ctx.with_vars(Var(name, type_name))

    def let_tuple(self, ctx: Context, out: list) -> Context:
        type_name = f"{self.scalar()} * {self.scalar()}"
        names = (self.fresh("v"), self.fresh("v"))
        out.append(Let(f"({names[0]}, {names[1]})", None, self.expr(type_name, ctx)))
        return ctx.with_vars(*(Var(n, t) for n, t in zip(names, type_name.split(" * "))))

    def trips(self, ctx: Context) -> tuple[object, object, int] | None:
        """Bounds of a ``for`` loop and its trip count (estimated), or None when the work would be too much."""
        if self.has("masked") and self.c.flip(40):
            low, high, count = Atom(str(self.c.integer(-2, 2))), Binary("&&&", self.index_source(ctx), Atom("7")), 10
            return (low, high, count) if ctx.work * count * 8 <= WORK_LIMIT else None
        arrays = [v for v in ctx.visible() if self.kind(v.type) == "array"]
        if arrays and self.c.flip(40):
            array = _pick(self.c, arrays)
            low, count = Atom("0"), self.max_size
            high = Binary("-", Apply("Array.length", (Atom(array.name),)), Atom("1"))
        else:
            low_value = self.c.integer(0, 2)
            count = self.c.integer(0, min(8, self.max_size))
            low, high = Atom(str(low_value)), Atom(str(low_value + count - 1))
        return (low, high, count) if ctx.work * max(count, 1) * 8 <= WORK_LIMIT else None

    def loop_body(self, ctx: Context, assignable: list[Var], first: tuple = ()) -> tuple:
        """Local lets, then at least one unit statement: an assignment, a conditional one, a nested loop.  With
        ``digest``, the lets flow into the first variable assigned."""
        out: list = list(first)
        scope = [ctx]

        def let() -> None:
            scope[0] = self.let_statement(scope[0], out)
        self.repeat(0, 1 if self.has("let") else 0, 40, let)
        self.repeat(1, 2, 40, lambda: self.unit_statement(scope[0], assignable, out))
        bound = scope[0].env[len(ctx.env):]
        if self.has("digest") and bound:
            target = assignable[0]
            digest = _sum([self.observe(Atom(v.name), v.type) for v in bound])
            out.append(Assign(Atom(target.name), self.mix_scalar(target.type, Atom(target.name), digest)))
        return tuple(out)

    def unit_statement(self, ctx: Context, assignable: list[Var], out: list) -> None:
        forms = ["assign"]
        if self.has("if"):
            forms.append("if")
        if ctx.depth < self.max_depth and self.has("for"):
            forms.append("loop")
        form = _pick(self.c, forms)
        target = _pick(self.c, assignable)
        if form == "if":
            then = (self.assignment(target, ctx),)
            otherwise = (self.assignment(_pick(self.c, assignable), ctx),) if self.c.flip(40) else None
            out.append(IfStatement(self.condition(ctx), then, otherwise))
        elif form == "loop" and (bounds := self.trips(ctx)) is not None:
            low, high, count = bounds
            index = self.fresh("i")
            inner = ctx.deeper(count).with_vars(Var(index, "int"))
            out.append(For(index, low, high, (self.assignment(target, inner),)))
        else:
            out.append(self.assignment(target, ctx))

    def assignment(self, target: Var, ctx: Context) -> Assign:
        value = self.expr(target.type, ctx)
        # A carried dependence: the new value reads the old one (always with ``digest``: no dead store).
        if self.has("digest") or self.c.flip(50):
            value = self.combine(target.type, Atom(target.name), value)
        return Assign(Atom(target.name), value)

    def combine(self, type_name: str, left, right):
        if type_name == "bool":
            return Binary(_pick(self.c, ("&&", "||")), left, right) if self.has("comparisons") else right
        op = _pick(self.c, ("+", "-", "*") if type_name not in INTEGRAL else ("+", "-", "*", "^^^"))
        return Binary(op, left, right)

    def for_group(self, ctx: Context, out: list) -> Context:
        """``let mutable m = e`` and a ``for`` (or ``for x in xs``) loop that assigns it."""
        name, type_name = self.fresh("m"), self.scalar()
        out.append(LetMutable(name, self.expr(type_name, ctx)))
        target = Var(name, type_name, mutable=True)
        ctx = ctx.with_vars(target)
        arrays = [v for v in ctx.visible() if self.kind(v.type) == "array"]
        if arrays and self.c.flip(30):
            source = _pick(self.c, arrays)
            if ctx.work * self.max_size * 8 > WORK_LIMIT:
                return ctx
            element = self.fresh("x")
            inner = ctx.deeper(self.max_size).with_vars(Var(element, _element(source.type)))
            out.append(ForEach(element, source.name, self.loop_body(inner, [target])))
            return ctx
        bounds = self.trips(ctx)
        if bounds is None:
            return ctx
        low, high, count = bounds
        index = self.fresh("i")
        inner = ctx.deeper(count).with_vars(Var(index, "int"))
        out.append(For(index, low, high, self.loop_body(inner, [target])))
        return ctx

    def store_group(self, ctx: Context, out: list) -> Context:
        """``let a : T[] = Array.zeroCreate n`` and a loop storing each element (from the one before, or not)."""
        element = self.scalar()
        length, count_expr, nonempty = self.array_count(ctx)
        if ctx.work * self.max_size * 8 > WORK_LIMIT:
            return ctx
        name, index = self.fresh("a"), self.fresh("i")
        out.append(Let(name, f"{element}[]", Apply("Array.zeroCreate", (count_expr,))))
        inner = ctx.deeper(self.max_size).with_vars(Var(index, "int"))
        value = self.expr(element, inner)
        if element in NUMERIC and self.c.flip(50):  # carried through memory: read the element before
            previous = Index(name, (self.wrap_index(Binary("-", Atom(index), Atom("1")),
                                                    Apply("Array.length", (Atom(name),))),))
            value = self.combine(element, previous, value)
        body = (Assign(Index(name, (Atom(index),)), value),)
        out.append(For(index, Atom("0"), Binary("-", Apply("Array.length", (Atom(name),)), Atom("1")), body))
        return ctx.with_vars(Var(name, f"{element}[]", length=length, nonempty=nonempty))

    def while_group(self, ctx: Context, out: list) -> Context:
        """``let mutable c = 0`` (and perhaps an accumulator) and ``while c < k do c <- c + 1 ...``."""
        limit = self.c.integer(0, 6)
        if ctx.work * (limit + 1) * 8 > WORK_LIMIT:
            return ctx
        counter = self.fresh("c")
        out.append(LetMutable(counter, Atom(str(self.c.integer(-2, 1)))))
        counter_var = Var(counter, "int", mutable=True)
        assignable = [counter_var]
        ctx = ctx.with_vars(counter_var)
        if self.c.flip(70):
            name, type_name = self.fresh("m"), self.scalar()
            out.append(LetMutable(name, self.expr(type_name, ctx)))
            target = Var(name, type_name, mutable=True)
            ctx = ctx.with_vars(target)
            assignable = [target]
        bound = Atom(str(limit))
        if self.has("masked") and limit >= 3 and self.c.flip(50):
            bound = Binary("&&&", self.index_source(ctx), Atom("3"))
        condition = Binary("<", Atom(counter), bound)
        if self.has("comparisons") and self.c.flip(30):
            condition = Binary("&&", condition, self.condition(ctx))
        step = Assign(Atom(counter), Binary("+", Atom(counter), Atom("1")))
        inner = ctx.deeper(limit + 1)
        if assignable == [counter_var]:
            out.append(While(condition, (step,)))
        else:
            out.append(While(condition, self.loop_body(inner, assignable, first=(step,))))
        return ctx

    # -- expressions -----------------------------------------------------------------------------
    def leaf(self, ctx: Context) -> bool:
        """Whether to stop nesting here: always at the depth limit; shrinks toward True."""
        return ctx.depth >= self.max_depth or not self.c.flip(max(70 - 25 * ctx.depth, 10))

    def expr(self, type_name: str, ctx: Context):
        """An expression of type ``type_name``, its draws one span (so a shrink can simplify it whole)."""
        return self.c.group(lambda: self.expression(type_name, ctx))

    def expression(self, type_name: str, ctx: Context):
        self.work += ctx.work
        kind = self.kind(type_name)
        if kind == "array":
            return self.array(_element(type_name), ctx).expr
        variables = ctx.visible(type_name)
        if self.leaf(ctx):
            if variables and self.c.flip(75):
                return Atom(_pick(self.c, variables).name)
            return self.constant(type_name, ctx)
        forms: list[Callable] = []
        inner = ctx.deeper()
        if kind == "scalar":
            forms += self.scalar_forms(type_name, inner)
        elif kind == "tuple":
            forms.append(lambda: TupleExpr(tuple(self.expr(t, inner) for t in type_name.split(" * "))))
        elif kind == "record":
            forms.append(lambda: self.record_value(type_name, inner, leaf=False))
            if variables:
                forms.append(lambda: self.record_with(type_name, variables, inner))
        elif kind == "union":
            forms.append(lambda: self.union_value(type_name, inner, leaf=False))
        elif kind == "option":
            forms.append(lambda: Apply("Some", (self.expr(type_name[: -len(" option")], inner),)))
        elif kind == "array2d":
            forms.append(lambda: self.array2d_init(_element(type_name), inner))
        elif kind == "list":
            forms += self.list_forms(type_name[: -len(" list")], inner)
        if kind != "array2d":
            if self.has("if"):
                forms.append(lambda: self.if_expr(type_name, inner))
            if self.has("match"):
                forms.append(lambda: self.match_expr(type_name, inner))
        callees = self.callees(type_name, ctx)
        call_now = self.c.flip(20)  # drawn whether or not there are callees (see `let_statement`)
        if callees:
            forms.append(lambda: self.call(_pick(self.c, callees), ctx))
            if call_now:
                return forms[-1]()
        if not forms:
            return self.constant(type_name, ctx)
        return _pick(self.c, forms)()

    def constant(self, type_name: str, ctx: Context):
        kind = self.kind(type_name)
        if kind == "scalar":
            return Atom(literal_text(draw_scalar(self.c, type_name, literal=True), type_name))
        if kind == "tuple":
            return TupleExpr(tuple(self.constant(t, ctx) for t in type_name.split(" * ")))
        if kind == "record":
            return self.record_value(type_name, ctx, leaf=True)
        if kind == "union":
            return self.union_value(type_name, ctx, leaf=True)
        if kind == "option":
            return Atom("None") if self.c.flip(50) else Apply("Some", (self.constant(type_name[:-7], ctx),))
        if kind == "list":
            element = type_name[: -len(" list")]
            return ListLiteral(tuple(self.constant(element, ctx) for _ in range(self.c.integer(0, 3))))
        return self.array2d_init(_element(type_name), ctx.deeper())  # 1-D arrays are made by `array`

    def record_value(self, type_name: str, ctx: Context, leaf: bool) -> RecordExpr:
        make = self.constant if leaf else self.expr
        return RecordExpr(tuple((field, make(t, ctx)) for field, t in self.records[type_name]))

    def record_with(self, type_name: str, variables: list[Var], ctx: Context) -> WithExpr:
        fields = self.records[type_name]
        chosen = fields[: self.c.integer(1, len(fields))]
        return WithExpr(_pick(self.c, variables).name, tuple((f, self.expr(t, ctx)) for f, t in chosen))

    def union_value(self, type_name: str, ctx: Context, leaf: bool):
        case, payload = _pick(self.c, self.unions[type_name])
        make = self.constant if leaf else self.expr
        if not payload:
            return Atom(case)
        if len(payload) == 1:
            return Apply(case, (make(payload[0], ctx),))
        return Apply(case, (TupleExpr(tuple(make(t, ctx) for t in payload)),))

    def scalar_forms(self, type_name: str, ctx: Context) -> list[Callable]:
        forms: list[Callable] = []
        if type_name in NUMERIC:
            forms.append(lambda: self.arithmetic(type_name, ctx))
            if self.has("math"):
                forms.append(lambda: self.math(type_name, ctx))
            if self.has("conversions") and self.conversion_sources(type_name):
                forms.append(lambda: self.conversion(type_name, ctx))
        else:
            forms.append(lambda: self.logic(ctx))
        readers = self.array_readers(type_name, ctx)
        if self.has("lists"):
            readers += self.list_readers(type_name, ctx)
        if readers:
            forms.append(lambda: _pick(self.c, readers)())
        projections = self.projections(type_name, ctx)
        if projections:
            forms.append(lambda: _pick(self.c, projections))
        return forms

    def arithmetic(self, type_name: str, ctx: Context):
        ops = ["+", "-", "*", "/", "%"]
        if type_name in INTEGRAL:
            ops += ["&&&", "|||", "^^^", "<<<", ">>>"]
        if type_name in SIGNED:
            ops.append("neg")
        op = _pick(self.c, ops)
        if op == "neg":
            return Negate(self.expr(type_name, ctx))
        left = self.expr(type_name, ctx)
        if op in ("<<<", ">>>"):
            return Binary(op, left, self.shift_count(type_name, ctx))
        if op in ("/", "%") and type_name in SIGNED and type_name in INTEGRAL and self.has("masked") and self.c.flip(40):
            # A dividend in a known range below zero, where truncation and flooring part.
            seven, eight = (Atom(literal_text(v, type_name)) for v in (7, 8))
            left = Binary("-", Binary("&&&", left, seven), eight)
        right = self.expr(type_name, ctx)
        if op in ("/", "%") and type_name in INTEGRAL and not self.has("unguarded"):
            right = self.divisor(right, type_name)
        return Binary(op, left, right)

    def shift_count(self, type_name: str, ctx: Context):
        """A literal count below the width; with ``unguarded`` any int (F# masks it), with ``masked`` a masked
        one."""
        if self.has("unguarded") and self.c.flip(50):
            return self.index_source(ctx)
        if self.has("masked") and self.c.flip(50):
            return Binary("&&&", self.index_source(ctx), Atom(str(BITS[type_name] - 1)))
        return Atom(str(self.c.integer(0, BITS[type_name] - 1)))

    def divisor(self, e, type_name: str):
        """``e`` made a divisor in 1..7, for any value of ``e``."""
        seven, one = Atom(literal_text(7, type_name)), Atom(literal_text(1, type_name))
        if type_name == "uint8":
            return Binary("+", Binary("%", e, seven), one)
        return Binary("+", Binary("%", Binary("+", Binary("%", e, seven), seven), seven), one)

    def math(self, type_name: str, ctx: Context):
        names = ["min", "max"]
        if type_name in FLOATING:
            names += ["sqrt", "exp", "log", "sin", "cos", "floor", "abs"]
        elif type_name in SIGNED:
            names.append("abs")
        name = _pick(self.c, names)
        if name in ("min", "max"):
            return Apply(name, (self.expr(type_name, ctx), self.expr(type_name, ctx)))
        operand = self.expr(type_name, ctx)
        if name == "abs" and type_name in INTEGRAL and not self.has("unguarded"):  # abs of the minimum traps
            operand = Binary("%", operand, Atom(literal_text(1000, type_name)))
        return Apply(name, (operand,))

    def conversion_sources(self, type_name: str) -> list[str]:
        guarded = (self.has("if") and self.has("comparisons")) or self.has("unguarded")
        return [t for t in self.numeric if t != type_name
                and (guarded or t not in FLOATING or type_name in FLOATING)]

    def conversion(self, type_name: str, ctx: Context):
        wider = [t for t in self.numeric if t in BITS and type_name in BITS and BITS[t] > BITS[type_name]]
        if self.has("masked") and wider and self.c.flip(30):
            # A value of a wider type in a known range that crosses the target's end: the conversion wraps.
            source, bits = _pick(self.c, wider), BITS[type_name]
            mask, offset = (Atom(literal_text(v, source)) for v in ((1 << bits) - 1, 1 << (bits - 2)))
            return Apply(type_name, (Binary("+", Binary("&&&", self.expr(source, ctx), mask), offset),))
        source = _pick(self.c, self.conversion_sources(type_name))
        if source in FLOATING and type_name in INTEGRAL and not self.has("unguarded"):
            # Out of range (or NaN) the conversion is the platform's business: keep to the range.  The
            # operand is a name or a literal, so that the guard and the conversion read one value.
            variables = ctx.visible(source)
            operand = (Atom(_pick(self.c, variables).name) if variables and self.c.flip(80)
                       else self.constant(source, ctx))
            low, high = (Atom(literal_text(b, source)) for b in CONVERSION_BOUNDS[type_name])
            guard = Binary("&&", Binary(">=", operand, low), Binary("<=", operand, high))
            return IfExpr(((guard, Apply(type_name, (operand,))),), Atom(literal_text(0, type_name)))
        return Apply(type_name, (self.expr(source, ctx),))

    def logic(self, ctx: Context):
        forms: list[Callable] = []
        if self.has("comparisons"):
            forms.append(lambda: self.comparison(ctx))
            forms.append(lambda: Apply("not", (self.expr("bool", ctx),)))
            forms.append(lambda: Binary(_pick(self.c, ("&&", "||")), self.expr("bool", ctx), self.expr("bool", ctx)))
        if not forms:
            return Atom(literal_text(self.c.flip(50), "bool"))
        return _pick(self.c, forms)()

    def comparison(self, ctx: Context):
        if self.has("masked") and self.c.flip(25):  # a masked value against a bound it may reach
            op = _pick(self.c, ("=", "<>", "<", "<=", ">", ">="))
            return Binary(op, Binary("&&&", self.index_source(ctx), Atom("7")), Atom(str(self.c.integer(0, 8))))
        type_name = self.scalar()
        op = _pick(self.c, ("=", "<>", "<", "<=", ">", ">="))
        return Binary(op, self.expr(type_name, ctx), self.expr(type_name, ctx))

    def condition(self, ctx: Context):
        """A bool for an ``if``, a guard or a ``while``: from bool data when there is some, else a comparison."""
        if self.has("bool"):
            return self.expr("bool", ctx)
        if self.has("comparisons"):
            self.work += ctx.work
            return self.comparison(ctx.deeper())
        return Atom(literal_text(self.c.flip(50), "bool"))

    def projections(self, type_name: str, ctx: Context) -> list:
        found = []
        for v in ctx.visible():
            kind = self.kind(v.type)
            if kind == "tuple":
                first, second = v.type.split(" * ")
                if first == type_name:
                    found.append(Apply("fst", (Atom(v.name),)))
                if second == type_name:
                    found.append(Apply("snd", (Atom(v.name),)))
            elif kind == "record":
                found += [Field(v.name, f) for f, t in self.records[v.type] if t == type_name]
        return found

    def if_expr(self, type_name: str, ctx: Context) -> IfExpr:
        branches = tuple(self.repeat(1, 2, 40, lambda: (self.condition(ctx), self.expr(type_name, ctx))))
        return IfExpr(branches, self.expr(type_name, ctx))

    def match_expr(self, type_name: str, ctx: Context):
        scrutinee, arms = self.match_arms(ctx)
        return MatchExpr(scrutinee, tuple((pattern, guard, self.expr(type_name, ctx.with_vars(*bound)))
                                          for pattern, guard, bound in arms))

    # -- match -----------------------------------------------------------------------------------
    def match_arms(self, ctx: Context) -> tuple[object, list[tuple[str, object, tuple]]]:
        """A scrutinee and complete arms: (pattern text, guard or None, the variables it binds)."""
        forms = []
        if self.has("int"):
            forms.append(self.match_int)
        if self.has("bool"):
            forms.append(self.match_bool)
        if self.has("options"):
            forms.append(self.match_option)
        if self.has("tuples"):
            forms.append(self.match_tuple)
        if self.unions:
            forms.append(self.match_union)
        if self.has("lists"):
            forms.append(self.match_list)
        if not forms:
            forms.append(self.match_int)
        return _pick(self.c, forms)(ctx)

    def guard(self, ctx: Context):
        return self.condition(ctx) if self.c.flip(30) else None

    def match_int(self, ctx: Context):
        scrutinee = self.expr("int", ctx) if self.has("int") else self.index_source(ctx)
        arms = []
        for value in sorted(set(self.repeat(1, 3, 50, lambda: self.c.integer(0, 5)))):
            arms.append((str(value), None, ()))
        if self.c.flip(40):
            name = self.fresh("k")
            bound = (Var(name, "int"),)
            arms.append((name, self.condition(ctx.with_vars(*bound)), bound))
        if self.c.flip(50):
            name = self.fresh("k")
            arms.append((name, None, (Var(name, "int"),)))
        else:
            arms.append(("_", None, ()))
        return scrutinee, arms

    def match_bool(self, ctx: Context):
        scrutinee = self.expr("bool", ctx)
        first = _pick(self.c, ("true", "false"))
        if self.c.flip(50):
            return scrutinee, [(first, None, ()), ("_", None, ())]
        return scrutinee, [(first, None, ()), ("false" if first == "true" else "true", None, ())]

    def match_option(self, ctx: Context):
        element = self.scalar()
        scrutinee = self.expr(f"{element} option", ctx)
        arms = []
        name = self.fresh("s")
        bound = (Var(name, element),)
        if element in ("int", "bool") and self.c.flip(30):
            value = self.c.integer(0, 5) if element == "int" else self.c.flip(50)
            arms.append((f"Some {literal_text(value, element)}", None, ()))
        guard = self.guard(ctx.with_vars(*bound))
        arms.append((f"Some {name}", guard, bound))
        if guard is not None:
            arms.append(("Some _", None, ()))
        none_arm = ("None", None, ())
        arms.insert(self.c.integer(0, len(arms)) if self.c.flip(30) else len(arms), none_arm)
        return scrutinee, arms

    def sub_pattern(self, type_name: str, allow_literal: bool) -> tuple[str, tuple, bool]:
        """A pattern for one field: (text, bound vars, refutable)."""
        choice = self.c.integer(0, 2 if allow_literal and type_name in ("int", "bool") else 1)
        if choice == 0:
            return "_", (), False
        if choice == 1:
            name = self.fresh("b")
            return name, (Var(name, type_name),), False
        value = self.c.integer(0, 3) if type_name == "int" else self.c.flip(50)
        return literal_text(value, type_name), (), True

    def match_tuple(self, ctx: Context):
        type_name = f"{self.scalar()} * {self.scalar()}"
        items = type_name.split(" * ")
        scrutinee = self.expr(type_name, ctx)
        arms = []
        def arm() -> None:
            parts = [self.sub_pattern(t, allow_literal=True) for t in items]
            bound = tuple(v for _, vs, _ in parts for v in vs)
            arms.append(("(" + ", ".join(p for p, _, _ in parts) + ")", self.guard(ctx.with_vars(*bound)), bound))
        self.repeat(1, 2, 40, arm)
        arms.append(("_", None, ()))
        return scrutinee, arms

    def match_union(self, ctx: Context):
        type_name = _pick(self.c, sorted(self.unions))
        scrutinee = self.expr(type_name, ctx)
        arms, complete = [], True
        for case, payload in self.unions[type_name]:
            if not self.c.flip(85):  # leave this case to a wildcard
                complete = False
                continue
            parts = [self.sub_pattern(t, allow_literal=True) for t in payload]
            bound = tuple(v for _, vs, _ in parts for v in vs)
            guard = self.guard(ctx.with_vars(*bound))
            if not parts:
                text = case
            elif len(parts) == 1:
                text = f"{case} {parts[0][0]}"
            else:
                text = f"{case} (" + ", ".join(p for p, _, _ in parts) + ")"
            arms.append((text, guard, bound))
            if guard is not None or any(refutable for _, _, refutable in parts):
                complete = False
        if not complete:
            arms.append(("_", None, ()))
        return scrutinee, arms

    # -- calls -----------------------------------------------------------------------------------
    def callees(self, type_name: str | None, ctx: Context) -> list[Signature]:
        """Functions and externs returning ``type_name`` (any type: None) that this context can afford."""
        found = [f for f in self.functions if type_name in (None, f.result) and ctx.work * f.work <= WORK_LIMIT
                 and self.has("recursion" if f.recursive else "calls")]
        if self.has("externs"):
            found += [e for e in self.externs if type_name in (None, e.result)]
        if self.has("effects"):
            found += [e for e in self.effects if type_name in (None, e.result)]
        return found

    def call(self, callee: Signature, ctx: Context):
        self.work += ctx.work * callee.work
        inner = ctx.deeper()
        args = [self.argument(t, inner) for _, t in callee.params]
        if callee.recursive:  # the decreasing int: 0..RECURSION_BOUND whatever the value
            bound = Atom(str(RECURSION_BOUND + 1))
            args[0] = Binary("%", Binary("+", Binary("%", args[0], bound), bound), bound)
        return Apply(callee.name, tuple(args))

    def argument(self, type_name: str, ctx: Context):
        if self.kind(type_name) == "array":  # a callee's array parameters are non-empty
            return self.array(_element(type_name), ctx, nonempty=True).expr
        return self.expr(type_name, ctx)

    # -- arrays ----------------------------------------------------------------------------------
    def array_count(self, ctx: Context, nonempty: bool = False) -> tuple[object, object, bool]:
        """A length for a new array: (length key, expression, non-empty)."""
        if self.has("masked") and not nonempty and self.c.flip(30):
            return self.symbol(), Binary("&&&", self.index_source(ctx), Atom("7")), False
        arrays = [v for v in ctx.visible() if self.kind(v.type) == "array" and (v.nonempty or not nonempty)]
        if arrays and self.c.flip(40):
            v = _pick(self.c, arrays)
            return v.length, Apply("Array.length", (Atom(v.name),)), v.nonempty
        count = self.c.integer(1, self.max_size)
        return count, Atom(str(count)), True

    def array(self, element: str, ctx: Context, nonempty: bool = False) -> ArrayValue:
        """A 1-D array of ``element``, non-empty when asked."""
        self.work += ctx.work
        variables = [v for v in ctx.visible(element + "[]") if v.nonempty or not nonempty]
        affordable = ctx.work * self.max_size <= WORK_LIMIT
        if self.has("arrays") and affordable and not self.leaf(ctx):
            return _pick(self.c, self.array_forms(element, ctx.deeper(), nonempty))()
        if variables and self.c.flip(75):
            return self.array_variable(variables)
        return self.array_literal(element, ctx)

    def array_variable(self, variables: list[Var]) -> ArrayValue:
        v = _pick(self.c, variables)
        return ArrayValue(Atom(v.name), _element(v.type), v.length, v.nonempty)

    def array_literal(self, element: str, ctx: Context) -> ArrayValue:
        count = self.c.integer(1, 4)
        return ArrayValue(ArrayLiteral(tuple(self.constant(element, ctx) for _ in range(count))), element, count,
                          True)

    def array_forms(self, element: str, ctx: Context, nonempty: bool) -> list[Callable]:
        forms: list[Callable] = [lambda: self.array_map(element, ctx, nonempty, indexed=False),
                                 lambda: self.array_map(element, ctx, nonempty, indexed=True),
                                 lambda: self.array_init(element, ctx, nonempty),
                                 lambda: self.array_map2(element, ctx, nonempty)]
        if not nonempty:
            forms.append(lambda: self.array_filter(element, ctx))
        callees = [f for f in self.callees(element + "[]", ctx) if f.result_nonempty or not nonempty]
        if callees:  # a call's result has a length of its own
            forms.append(lambda: ArrayValue(self.call(_pick(self.c, callees), ctx), element, self.symbol(),
                                            nonempty))
        return forms

    def lambda_context(self, ctx: Context, params: list[Var], times: int | None = None) -> Context:
        """The body of a lambda run ``times`` times (an array's worth): no mutable locals in sight."""
        return attrs.evolve(ctx.deeper(times or self.max_size), in_lambda=True).with_vars(*params)

    def lambda_of(self, params: list[Var], body) -> Lambda:
        return Lambda(tuple((v.name, v.type if self.c.flip(50) else None) for v in params), body)

    def array_map(self, element: str, ctx: Context, nonempty: bool, indexed: bool) -> ArrayValue:
        source = self.array(self.scalar(), ctx, nonempty)
        params = [Var(self.fresh("x"), source.element)]
        if indexed:
            params.insert(0, Var(self.fresh("j"), "int"))
        body = self.expr(element, self.lambda_context(ctx, params))
        fn = "Array.mapi" if indexed else "Array.map"
        return ArrayValue(Apply(fn, (self.lambda_of(params, body), source.expr)), element, source.length,
                          source.nonempty)

    def array_init(self, element: str, ctx: Context, nonempty: bool) -> ArrayValue:
        length, count, known_nonempty = self.array_count(ctx, nonempty)
        index = Var(self.fresh("j"), "int")
        body = self.expr(element, self.lambda_context(ctx, [index]))
        return ArrayValue(Apply("Array.init", (count, self.lambda_of([index], body))), element, length,
                          known_nonempty)

    def array_filter(self, element: str, ctx: Context) -> ArrayValue:
        source = self.array(element, ctx)
        x = Var(self.fresh("x"), element)
        keep = self.condition(self.lambda_context(ctx, [x]))
        return ArrayValue(Apply("Array.filter", (self.lambda_of([x], keep), source.expr)), element,
                          self.symbol(), False)

    def array_map2(self, element: str, ctx: Context, nonempty: bool) -> ArrayValue:
        first = self.array(self.scalar(), ctx, nonempty)
        second_element = self.scalar()
        same_length = [v for v in ctx.visible(second_element + "[]")
                       if v.length == first.length or self.has("unguarded")]
        if same_length and self.c.flip(60):
            second = Atom(_pick(self.c, same_length).name)
        else:  # a map of the first array has its length
            y = Var(self.fresh("x"), first.element)
            body = self.expr(second_element, self.lambda_context(ctx, [y]))
            second = Apply("Array.map", (self.lambda_of([y], body), first.expr))
        a, b = Var(self.fresh("x"), first.element), Var(self.fresh("x"), second_element)
        body = self.expr(element, self.lambda_context(ctx, [a, b]))
        if self.has("digest"):  # both parameters flow into the body, unequally (a swap shows)
            both = Binary("-", self.observe(Atom(a.name), a.type), Binary("*", self.observe(Atom(b.name), b.type),
                                                                           Atom("2")))
            body = self.mix_scalar(element, body, both)
        return ArrayValue(Apply("Array.map2", (self.lambda_of([a, b], body), first.expr, second)), element,
                          first.length, first.nonempty)

    def array2d_init(self, element: str, ctx: Context):
        side = max(self.max_size // 4, 1)
        rows, columns = self.c.integer(1, side), self.c.integer(1, side)
        i, j = Var(self.fresh("j"), "int"), Var(self.fresh("j"), "int")
        body = self.expr(element, self.lambda_context(ctx, [i, j], rows * columns))
        return Apply("Array2D.init", (Atom(str(rows)), Atom(str(columns)), self.lambda_of([i, j], body)))

    def wrap_index(self, i, n):
        """``i`` made an index of an array of length ``n`` > 0, for any value of ``i`` (``unguarded``: ``i``)."""
        if self.has("unguarded"):
            return i
        return Binary("%", Binary("+", Binary("%", i, n), n), n)

    def index_source(self, ctx: Context):
        """An int for an index: any int expression, or (without int data) a loop index or a literal."""
        if self.has("int"):
            return self.expr("int", ctx)
        ints = ctx.visible("int")
        if ints and self.c.flip(70):
            return Atom(_pick(self.c, ints).name)
        return Atom(str(self.c.integer(0, 9)))

    def array_readers(self, type_name: str, ctx: Context) -> list[Callable]:
        """Ways to get a ``type_name`` out of an array in scope or a new one."""
        readers: list[Callable] = []
        vectors = [v for v in ctx.visible() if self.kind(v.type) == "array"]
        indexable = [v for v in vectors if v.type == type_name + "[]" and (v.nonempty or self.has("unguarded"))]
        if indexable:
            def index() -> Index:
                v = _pick(self.c, indexable)
                n = Apply("Array.length", (Atom(v.name),))
                return Index(v.name, (self.wrap_index(self.index_source(ctx), n),))
            readers.append(index)
        matrices = [v for v in ctx.visible() if self.kind(v.type) == "array2d"]
        of_type = [v for v in matrices if v.type == type_name + "[,]"]
        if of_type:
            def index2() -> Index:
                m = _pick(self.c, of_type).name
                return Index(m, tuple(self.wrap_index(self.index_source(ctx), Apply(f"Array2D.length{d}", (Atom(m),)))
                                      for d in (1, 2)))
            readers.append(index2)
        if type_name == "int" and matrices:
            readers.append(lambda: Apply(f"Array2D.length{self.c.integer(1, 2)}",
                                         (Atom(_pick(self.c, matrices).name),)))
        if not self.has("arrays") or ctx.work * self.max_size > WORK_LIMIT:
            return readers
        if type_name in NUMERIC:
            readers.append(lambda: Apply("Array.sum", (self.array(type_name, ctx).expr,)))
        readers.append(lambda: self.array_fold(type_name, ctx))
        readers.append(lambda: self.array_reduce(type_name, ctx))
        if type_name == "int" and vectors:
            readers.append(lambda: Apply("Array.length", (Atom(_pick(self.c, vectors).name),)))
        return readers

    def array_fold(self, type_name: str, ctx: Context):
        if self.has("reductions") and self.c.flip(50):
            source = self.array(type_name, ctx)
            return Apply("Array.fold", (self.operator_lambda(type_name), self.reduction_init(type_name),
                                        source.expr))
        source = self.array(self.scalar(), ctx)
        acc, x = Var(self.fresh("acc"), type_name), Var(self.fresh("x"), source.element)
        body = self.expr(type_name, self.lambda_context(ctx, [acc, x]))
        if self.c.flip(50):
            body = self.combine(type_name, Atom(acc.name), body)
        return Apply("Array.fold", (self.lambda_of([acc, x], body), self.expr(type_name, ctx), source.expr))

    def array_reduce(self, type_name: str, ctx: Context):
        source = self.array(type_name, ctx, nonempty=not self.has("unguarded"))
        if self.has("reductions") and self.c.flip(50):
            return Apply("Array.reduce", (self.operator_lambda(type_name), source.expr))
        a, b = Var(self.fresh("x"), type_name), Var(self.fresh("x"), type_name)
        body = self.expr(type_name, self.lambda_context(ctx, [a, b]))
        if self.c.flip(60):
            body = self.combine(type_name, Atom(a.name), body)
        return Apply("Array.reduce", (self.lambda_of([a, b], body), source.expr))

    # -- reductions by an operator ---------------------------------------------------------------
    def operator_lambda(self, type_name: str) -> Lambda:
        """``fun a b -> a op b`` (or ``min a b``, ``max a b``): a reduction baker can name."""
        if type_name == "bool":
            ops: tuple = ("&&", "||")
        else:
            ops = ("+", "*", "-", "min", "max") + (("&&&", "|||", "^^^") if type_name in INTEGRAL else ())
        op = _pick(self.c, ops)
        a, b = Var(self.fresh("acc"), type_name), Var(self.fresh("x"), type_name)
        body = Apply(op, (Atom(a.name), Atom(b.name))) if op in ("min", "max") else Binary(op, Atom(a.name),
                                                                                          Atom(b.name))
        return self.lambda_of([a, b], body)

    def reduction_init(self, type_name: str) -> Atom:
        """The first accumulator of a fold: the identity of some operator, or not."""
        if type_name == "bool":
            return Atom(literal_text(self.c.flip(50), "bool"))
        values = (0, 1, -1, 3) if type_name in SIGNED else (0, 1, 255)
        return Atom(literal_text(float(_pick(self.c, values)) if type_name in FLOATING else _pick(self.c, values),
                                 type_name))

    # -- lists -----------------------------------------------------------------------------------
    def list_forms(self, element: str, ctx: Context) -> list[Callable]:
        of = element + " list"
        forms: list[Callable] = [
            lambda: ListLiteral(tuple(self.expr(element, ctx) for _ in range(self.c.integer(0, 3)))),
            lambda: Binary("::", self.expr(element, ctx), self.expr(of, ctx))]
        if ctx.work * self.max_size <= WORK_LIMIT:
            forms += [lambda: self.list_map(element, ctx), lambda: self.list_filter(element, ctx),
                      lambda: Apply(_pick(self.c, ("List.rev", "List.distinct")), (self.expr(of, ctx),))]
        return forms

    def list_map(self, element: str, ctx: Context) -> Apply:
        source = self.scalar()
        x = Var(self.fresh("x"), source)
        body = self.expr(element, self.lambda_context(ctx, [x]))
        return Apply("List.map", (self.lambda_of([x], body), self.expr(source + " list", ctx)))

    def list_filter(self, element: str, ctx: Context) -> Apply:
        x = Var(self.fresh("x"), element)
        keep = self.condition(self.lambda_context(ctx, [x]))
        return Apply("List.filter", (self.lambda_of([x], keep), self.expr(element + " list", ctx)))

    def list_readers(self, type_name: str, ctx: Context) -> list[Callable]:
        """Ways to get a ``type_name`` out of a list."""
        if ctx.work * self.max_size > WORK_LIMIT:
            return []
        readers: list[Callable] = [lambda: self.list_fold(type_name, ctx)]
        if type_name == "int":
            readers.append(lambda: Apply("List.length", (self.expr(self.scalar() + " list", ctx),)))
        if type_name == "bool":
            readers.append(lambda: Apply("List.isEmpty", (self.expr(self.scalar() + " list", ctx),)))
        return readers

    def list_fold(self, type_name: str, ctx: Context) -> Apply:
        if self.has("reductions") and self.c.flip(50):
            return Apply("List.fold", (self.operator_lambda(type_name), self.reduction_init(type_name),
                                       self.expr(type_name + " list", ctx)))
        element = self.scalar()
        acc, x = Var(self.fresh("acc"), type_name), Var(self.fresh("x"), element)
        body = self.combine(type_name, Atom(acc.name), self.expr(type_name, self.lambda_context(ctx, [acc, x])))
        return Apply("List.fold", (self.lambda_of([acc, x], body), self.expr(type_name, ctx),
                                   self.expr(element + " list", ctx)))

    def match_list(self, ctx: Context):
        element = self.scalar()
        scrutinee = self.expr(element + " list", ctx)
        head, rest = Var(self.fresh("h"), element), Var(self.fresh("t"), element + " list")
        cons = (f"{head.name} :: {rest.name}", self.guard(ctx.with_vars(head, rest)), (head, rest))
        arms = [("[]", None, ()), cons] if self.c.flip(50) else [cons, ("[]", None, ())]
        if cons[1] is not None:
            arms.append(("_", None, ()))
        return scrutinee, arms

    # -- duplicates ------------------------------------------------------------------------------
    def duplicate_group(self, ctx: Context, out: list) -> Context:
        """``let x = a op b``, ``let y = b op a``, ``let z = a op b``: CSE may merge x and z, never y; with
        ``effects``, one effectful call twice, or one effectful closure mapped twice: never merged."""
        if self.effects and self.c.flip(40):
            return self.repeated_effect(ctx, out)
        type_name = self.scalar(numeric=True)
        a, b = self.expr(type_name, ctx), self.expr(type_name, ctx)
        if type_name in FLOATING and self.c.flip(30):
            # 0.0 and -0.0: equal, yet not the same constant; the sign of the second product is observed
            # (1 / -0.0 is -infinity), since the digest of a float cannot tell the zeros apart.
            zero, negative, one = (Atom(literal_text(z, type_name)) for z in (0.0, -0.0, 1.0))
            names = [self.fresh("v") for _ in range(3)]
            out += [Let(names[0], None, Binary("*", a, zero)), Let(names[1], None, Binary("*", a, negative)),
                    Let(names[2], None, Binary("<", Binary("/", one, Atom(names[1])), zero))]
            return ctx.with_vars(Var(names[0], type_name), Var(names[1], type_name), Var(names[2], "bool"))
        ops = ["-", "/"] + (["%"] if type_name in INTEGRAL else [])
        if type_name in INTEGRAL and self.has("unguarded"):
            ops.append("<<<")
        op = _pick(self.c, ops)
        if op == "<<<":
            first, second = Binary(op, a, Apply("int", (b,))), Binary(op, b, Apply("int", (a,)))
        elif op in ("/", "%") and type_name in INTEGRAL and not self.has("unguarded"):
            first, second = Binary(op, a, self.divisor(b, type_name)), Binary(op, b, self.divisor(a, type_name))
        else:
            first, second = Binary(op, a, b), Binary(op, b, a)
        names = [self.fresh("v") for _ in range(3)]
        out += [Let(names[0], None, first), Let(names[1], None, second), Let(names[2], None, first)]
        return ctx.with_vars(*(Var(n, type_name) for n in names))

    def effect_statement(self, ctx: Context, out: list) -> Context:
        """``let _ = emit ...``: a call kept for its effect alone (only the token chain reaches it)."""
        out.append(Let("_", None, self.call(_pick(self.c, self.effects), ctx)))
        return ctx

    def repeated_effect(self, ctx: Context, out: list) -> Context:
        callee = _pick(self.c, self.effects)
        first, second = self.fresh("v"), self.fresh("v")
        over = [kind for kind, feature in (("list", "lists"), ("array", "arrays")) if self.has(feature)]
        if over and ctx.work * self.max_size <= WORK_LIMIT and self.c.flip(60):
            element, x, closure = callee.params[0][1], self.fresh("x"), self.fresh("g")
            inner = self.lambda_context(ctx, [Var(x, element)])
            call = Apply(callee.name, (Atom(x),) + tuple(self.expr(t, inner) for _, t in callee.params[1:]))
            out.append(Let(closure, None, Lambda(((x, element),), call)))
            if _pick(self.c, over) == "list":
                # Over one list value (a name, or constants), so that the two maps are the same node but for
                # their effects.
                lists = ctx.visible(element + " list")
                source = Atom(_pick(self.c, lists).name) if lists else self.constant(element + " list", ctx)
                value = Apply("List.length", (Apply("List.map", (Atom(closure), source)),))
            else:
                source = self.array(element, ctx).expr
                value = Apply("Array.length", (Apply("Array.map", (Atom(closure), source)),))
            out += [Let(first, None, value), Let(second, None, value)]
            return ctx.with_vars(Var(first, "int"), Var(second, "int"))
        value = self.call(callee, ctx)
        out += [Let(first, None, value), Let(second, None, value)]
        return ctx.with_vars(Var(first, callee.result), Var(second, callee.result))


# -- arguments ----------------------------------------------------------------------------------
def draw_argument(choices: Choices, type_name: str, max_size: int) -> tuple[object, int | None]:
    """A host value of an entry parameter's type, and its size when it is an array."""
    if type_name.endswith("[,]"):
        side = choices.integer(1, max(max_size // 4, 1))
        element = type_name[:-3]
        return [[draw_scalar(choices, element) for _ in range(side)] for _ in range(side)], side
    if type_name.endswith("[]"):
        length = choices.integer(1, max_size)
        return [draw_scalar(choices, type_name[:-2]) for _ in range(length)], length
    return draw_scalar(choices, type_name), None


@st.composite
def programs(draw, features: frozenset[str] = DEFAULT_FEATURES, max_depth: int = 3, max_functions: int = 3,
             max_size: int = 16, max_statements: int = 6) -> GeneratedProgram:
    """Well-typed programs with arguments that run without error: see the module docstring.

    ``max_depth`` bounds the nesting of expressions and blocks, ``max_functions`` the top-level
    functions (the entry included), ``max_size`` the arrays' lengths and literal trip counts, and
    ``max_statements`` the statements of a function body before its result.
    """
    generator = ProgramGenerator(DrawnChoices(draw), frozenset(features), max_depth, max_functions, max_size,
                                 max_statements)
    return generator.program()


def generated_program(seed: int, features: frozenset[str] = DEFAULT_FEATURES, max_depth: int = 3,
                      max_functions: int = 3, max_size: int = 16, max_statements: int = 6) -> GeneratedProgram:
    """The program of ``seed`` (the same for the same seed and options), without hypothesis."""
    generator = ProgramGenerator(SeededChoices(seed), frozenset(features), max_depth, max_functions, max_size,
                                 max_statements)
    return generator.program()


def generated_module(seed: int, count: int, features: frozenset[str] = DEFAULT_FEATURES, max_depth: int = 3,
                     max_functions: int = 3, max_size: int = 16,
                     max_statements: int = 6) -> tuple[str, list[GeneratedProgram]]:
    """One module of ``count`` programs (seeds ``seed`` on), for sizes no single program reaches: the
    top-level names of the k-th carry the suffix ``_k`` (its entry is ``main_k``).  The module's text, and
    the programs (each runs on its own ``args`` in the module)."""
    made = [ProgramGenerator(SeededChoices(seed + k), frozenset(features), max_depth, max_functions, max_size,
                             max_statements, suffix=f"_{k}").program() for k in range(count)]
    return "\n".join(p.source for p in made), made


def arguments(program: GeneratedProgram, max_size: int = 16) -> st.SearchStrategy[tuple]:
    """Further argument tuples for ``program``'s entry (arrays of any length in 1..``max_size``)."""

    @st.composite
    def draw_arguments(draw) -> tuple:
        choices = DrawnChoices(draw)
        return tuple(draw_argument(choices, t, max_size)[0] for t in program.param_types)

    return draw_arguments()


def random_arguments(program: GeneratedProgram, seed: int, max_size: int = 16) -> tuple:
    """`arguments` from a seed, without hypothesis."""
    choices = SeededChoices(seed)
    return tuple(draw_argument(choices, t, max_size)[0] for t in program.param_types)


def same_value(a, b) -> bool:
    """Whether two results (as `nanopass.interp.values.to_python` gives them) are the same: NaN equals NaN,
    and 0.0 differs from -0.0."""
    if isinstance(a, float) and isinstance(b, float):
        if a != a or b != b:
            return a != a and b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b

"""The Clef surface AST: what the parser builds and type inference reads.

Every node is a frozen, slotted attrs class with a keyword-only `span`.  Nodes
compare and hash by identity (`eq=False`): two occurrences of `x` are different
nodes, and a node can key a side table (types, resolved names) in O(1) without
hashing its whole subtree.  Child sequences are tuples.

Representation choices, fixed here so later passes can rely on them:

* Application is n-ary and flat per juxtaposition: `f x y` is
  `App(Var f, (x, y))`.  High-precedence application `f(a, b)` is one argument,
  the tuple: `App(Var f, (Tuple(a, b),))`.  `f x (g y)` nests only through the
  parenthesised argument.
* `recv.Name(args)` (no space before the parenthesis) on a value is a
  `MethodCall` whose `args` are the parenthesised items: `a.Tell(m)` has
  `args == (m,)`, `a.M()` has `args == ()`.
* Qualified names are one `Var` with a dotted name: `Array.Parallel.map` is
  `Var("Array.Parallel.map")`.  A dotted chain is qualified while its segments
  are capitalised (module convention) and ends at the first lower-case segment;
  after that, and on any lower-case head (`p.X`), each `.Name` is a
  `FieldAccess`.
* Pipes and composition stay operators: `x |> f` is `BinOp("|>", x, f)`, as are
  `<|`, `>>`, `<<`; the chain `a |> f |> g` is left-nested.
* `not e` (a one-argument application of `not`) is `UnOp("not", e)`; a bare
  `not` is `Var("not")`.  `-e` is `UnOp("-", e)`, but a minus glued to a number
  is part of the literal (`-1` is `Literal(INT, -1)`; as in F#, `f -1` passes
  minus one and `a - 1` subtracts).  An operator in parentheses
  such as `(+)` is `Var("+")`.  Union-case construction is ordinary
  application of a `Var` (`Commit b` is `App(Var "Commit", (b,))`).
* `if a then b elif c then d else e` is `If(a, b, If(c, d, e))`.
* Layout sequencing is `Sequence((e1, e2, ...))`; a `let` in a sequence scopes
  over the rest of it: `Let(bindings, rec, body=rest)`.
* Patterns: a bare capitalised identifier is a nullary `UnionCasePattern`
  (`None`, `Stop`); a lower-case one is a `NamePattern`.  `Case (a, b)` has
  `args == (a, b)`: the parenthesised tuple is split into the case's fields.
* Computation expressions are `CompExpr(builder, body)` whose body uses the
  ordinary nodes plus `LetBang`, `DoBang`, `Return` and (in `query`)
  `Select`; `for m in xs do select e` is `ForEach(m, xs, Select(e))`.
"""

from __future__ import annotations

import enum

import attrs

from nanopass.diagnostics import Span

node = attrs.frozen(slots=True, eq=False)


@node
class Node:
    span: Span = attrs.field(kw_only=True, repr=False)


# --------------------------------------------------------------------- units


@node
class UnitExpr(Node):
    """A unit-of-measure expression, as written inside `float<...>`."""


@node
class UnitName(UnitExpr):
    name: str


@node
class UnitOne(UnitExpr):
    """The dimensionless unit `1`, as in `float<1/s>`."""


@node
class UnitProduct(UnitExpr):
    left: UnitExpr
    right: UnitExpr


@node
class UnitQuotient(UnitExpr):
    numerator: UnitExpr
    denominator: UnitExpr


@node
class UnitPower(UnitExpr):
    base: UnitExpr
    exponent: int


# --------------------------------------------------------------------- types


@node
class TypeExpr(Node):
    pass


@node
class TypeName(TypeExpr):
    """`int`, `Counter`, `Map<'K,'V>` (args), and postfix `'T list` / `'T option`."""

    name: str
    args: tuple[TypeExpr, ...] = ()


@node
class TypeVar(TypeExpr):
    name: str  # without the leading quote: `'T` is TypeVar("T")


@node
class ArrayType(TypeExpr):
    element: TypeExpr
    rank: int  # `'T[]` is 1, `'T[,]` is 2


@node
class TupleType(TypeExpr):
    elements: tuple[TypeExpr, ...]


@node
class FunctionType(TypeExpr):
    parameter: TypeExpr
    result: TypeExpr


@node
class MeasuredType(TypeExpr):
    """A numeric type with a unit: `float<volt>`, `float<m/s^2>`."""

    base: str
    unit: UnitExpr


# ------------------------------------------------------------------ literals


class LiteralKind(enum.Enum):
    INT = "int"
    INT64 = "int64"
    UINT8 = "uint8"
    FLOAT = "float"
    FLOAT32 = "float32"
    BOOL = "bool"
    UNIT = "unit"
    STRING = "string"


# ------------------------------------------------------------------ patterns


@node
class Pattern(Node):
    pass


@node
class WildcardPattern(Pattern):
    pass


@node
class NamePattern(Pattern):
    name: str


@node
class LiteralPattern(Pattern):
    literal: Literal


@node
class TuplePattern(Pattern):
    elements: tuple[Pattern, ...]


@node
class UnionCasePattern(Pattern):
    name: str  # possibly qualified: `Msg.Commit`
    args: tuple[Pattern, ...] = ()


@node
class ConsPattern(Pattern):
    head: Pattern
    tail: Pattern


@node
class ListPattern(Pattern):
    elements: tuple[Pattern, ...]  # `[]` has none


@node
class TypedPattern(Pattern):
    pattern: Pattern
    type: TypeExpr


@node
class OrPattern(Pattern):
    left: Pattern
    right: Pattern


# --------------------------------------------------------------- expressions


@node
class Expr(Node):
    pass


@node
class Literal(Expr):
    kind: LiteralKind
    # int for INT/INT64/UINT8, float for FLOAT/FLOAT32 (FLOAT32 already rounded
    # to single precision), bool, str, None for unit.
    value: int | float | bool | str | None
    unit: UnitExpr | None = None  # `2.5<volt>`


@node
class Var(Expr):
    name: str


@node
class App(Expr):
    function: Expr
    args: tuple[Expr, ...]  # at least one


@node
class MethodCall(Expr):
    receiver: Expr
    method: str
    args: tuple[Expr, ...]


@node
class Lambda(Expr):
    params: tuple[Pattern, ...]
    body: Expr


@node
class Binding(Node):
    """One `name params : ret = body` of a `let` (or of a `let rec ... and` group)."""

    # A NamePattern for functions and simple values; `let (a, b) = e` and
    # `let _ = e` bind a pattern and then have no params.
    pattern: Pattern
    params: tuple[Pattern, ...]
    return_type: TypeExpr | None
    body: Expr
    mutable: bool

    @property
    def name(self) -> str | None:
        """The bound name when the binding binds exactly one name."""
        target = self.pattern
        if isinstance(target, TypedPattern):
            target = target.pattern
        return target.name if isinstance(target, NamePattern) else None


@node
class Let(Expr):
    bindings: tuple[Binding, ...]  # more than one only for `let rec ... and`
    rec: bool
    body: Expr


@node
class Assign(Expr):
    target: Expr  # Var, Index or FieldAccess
    value: Expr


@node
class If(Expr):
    condition: Expr
    then_branch: Expr
    else_branch: Expr | None


@node
class MatchArm(Node):
    pattern: Pattern
    guard: Expr | None
    body: Expr


@node
class Match(Expr):
    scrutinee: Expr
    arms: tuple[MatchArm, ...]


@node
class BinOp(Expr):
    op: str  # the operator as written: "+", "&&&", "|>", "::", ...
    left: Expr
    right: Expr


@node
class UnOp(Expr):
    op: str  # "-" or "not"
    operand: Expr


@node
class Tuple(Expr):
    elements: tuple[Expr, ...]


@node
class FieldInit(Node):
    name: str
    value: Expr


@node
class RecordExpr(Expr):
    fields: tuple[FieldInit, ...]


@node
class RecordUpdate(Expr):
    """`{ source with F = e; ... }`."""

    source: Expr
    fields: tuple[FieldInit, ...]


@node
class FieldAccess(Expr):
    target: Expr
    field: str


@node
class Index(Expr):
    target: Expr
    indices: tuple[Expr, ...]  # `m.[i, j]` has two


@node
class ArrayLit(Expr):
    elements: tuple[Expr, ...]


@node
class ListLit(Expr):
    elements: tuple[Expr, ...]


@node
class While(Expr):
    condition: Expr
    body: Expr


@node
class ForRange(Expr):
    """`for i in start .. stop do body`; `stop` is inclusive."""

    variable: str
    start: Expr
    stop: Expr
    body: Expr


@node
class ForEach(Expr):
    pattern: Pattern
    source: Expr
    body: Expr


@node
class Sequence(Expr):
    exprs: tuple[Expr, ...]  # at least two; all but the last are run for effect


@node
class CompExpr(Expr):
    builder: str  # "async", "query" or "seq"
    body: Expr


@node
class LetBang(Expr):
    pattern: Pattern
    value: Expr
    body: Expr


@node
class DoBang(Expr):
    expr: Expr


@node
class Return(Expr):
    expr: Expr


@node
class Select(Expr):
    expr: Expr


# -------------------------------------------------------------- declarations


@node
class Attribute(Node):
    name: str
    args: tuple[Literal, ...] = ()


@node
class Decl(Node):
    pass


@node
class MeasureDecl(Decl):
    name: str
    attributes: tuple[Attribute, ...]


@node
class RecordField(Node):
    name: str
    type: TypeExpr
    mutable: bool = False


@node
class RecordDecl(Decl):
    name: str
    type_params: tuple[str, ...]  # without quotes
    fields: tuple[RecordField, ...]
    attributes: tuple[Attribute, ...]


@node
class UnionCase(Node):
    name: str
    fields: tuple[TypeExpr, ...]  # `of int * string` has two; no `of` has none


@node
class UnionDecl(Decl):
    name: str
    type_params: tuple[str, ...]
    cases: tuple[UnionCase, ...]
    attributes: tuple[Attribute, ...]


@node
class ExternDecl(Decl):
    name: str
    type: TypeExpr
    attributes: tuple[Attribute, ...]


@node
class LetDecl(Decl):
    bindings: tuple[Binding, ...]  # more than one only for `let rec ... and`
    rec: bool
    attributes: tuple[Attribute, ...]


@node
class Program(Node):
    decls: tuple[Decl, ...]

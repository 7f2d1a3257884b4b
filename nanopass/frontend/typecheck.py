"""Type inference for Clef: Hindley-Milner with annotations, units of measure,
records, unions, computation expressions and actors, over the surface AST.

`check_program(program, source)` returns a `Typing` (or raises
`DiagnosticError` with every error it found).  The lowering to the PSG reads
the `Typing`: the zonked type of every expression, pattern, binding and
declaration (`type_of`), the scheme of each top-level name (`scheme_of`), what
each name refers to (`resolve`, a `Binding`) and which record a field access
or record expression is about (`record_of`).

Inference is bidirectional in F#'s manner: every expression is checked
against an expected type, left to right, and an application unifies its
callee's result with the expected type before checking the arguments, so
``xs |> List.map (fun m -> m.Id)`` knows ``m`` before it reaches ``m.Id``.

Choices where F# leaves room, fixed here:

* A non-unit value discarded in a sequence or loop body is a warning, as in F#
  (FS0020); the value is computed and dropped.
* ``+ - * / %`` and friends are statically resolved (`types.BaseVar`); a
  binding's unresolved ones default to int when its top-level declaration is
  finished, as F# does: ``let f x = x + x`` is ``int -> int``.  They are
  never generalised.  Unit variables still unknown then become dimensionless
  (``let g x = x * 2.5`` is ``float -> float``): annotations cannot name unit
  variables in the subset, so, as in F# without them, no user function is
  generic in its units.
* Value restriction: only bindings with parameters, lambdas, names and
  literals are generalised; a top-level value whose type is still not fully
  known at the end of the program is an error.
* A record expression takes its type from the expected type when that is a
  record, else from the latest declared record with all its fields; a field
  access from its target's type when known, else from the latest declared
  record with that field.
* ``for x in xs`` and ``query`` sources are lists or arrays; an unknown one
  is taken to be a list.  ``seq { }`` is not in the subset.
* Match exhaustiveness is not checked.

Recursion follows the AST's nesting; `check_program` runs on a big-stack
thread (`stack.run_with_big_stack`), which supports nesting tens of thousands
deep.
"""

from __future__ import annotations

import difflib
from typing import Callable, Iterable

import attrs

from nanopass.diagnostics import Diagnostic, DiagnosticError
from nanopass.frontend import ast
from nanopass.frontend.intrinsics import ACTOR_START, INTRINSICS, OPERATORS
from nanopass.frontend.stack import run_with_big_stack
from nanopass.frontend.types import (
    BOOL, INT, INTEGRAL, NUMERIC_TYPES, PRIMITIVE_TYPES, UNIT, BUILTIN_CONSTRUCTORS, Constraint,
    Naming, RecordDef, Scheme, TArray, TCon, TFun, TPrim, TTuple, TVar, Type, Unifier, UnifyError,
    UnionDef, actor_of, async_of, function, list_of, show, substitute)
from nanopass.frontend.units import ONE, Measure


@attrs.frozen(slots=True)
class Binding:
    """What a name refers to.

    ``kind`` is one of

    * ``local``: ``node`` is the `ast.NamePattern` that introduces it (a let,
      a parameter, a lambda parameter, a match or for-each pattern) or the
      `ast.ForRange` of a loop index; ``binding`` is the enclosing
      `ast.Binding` for let-bound names; ``mutable`` for ``let mutable``;
    * ``global``: a top-level let; ``node`` is its `ast.Binding`, ``decl`` the
      `ast.LetDecl`;
    * ``extern``: ``node`` and ``decl`` are the `ast.ExternDecl`;
    * ``intrinsic``: ``name`` is the qualified name (``Array.map``);
    * ``case``: a union case constructor; ``union`` names its union
      (``option`` for ``Some`` / ``None``), ``node`` is the `ast.UnionCase`
      (None for option's), ``decl`` the `ast.UnionDecl`;
    * ``actor``: ``Actor.start``;
    * ``operator``: an operator used as a value, ``(+)``; ``name`` is it.
    """

    kind: str
    name: str
    node: object = None
    decl: object = None
    binding: ast.Binding | None = None
    union: str | None = None
    mutable: bool = False


@attrs.frozen(slots=True)
class _Entry:
    binding: Binding
    scheme: Scheme


class Typing:
    """The result of type inference over one program."""

    def __init__(self, program: ast.Program, types: dict[int, Type], schemes: dict[str, Scheme],
                 resolutions: dict[int, Binding], records: dict[int, str], record_defs: dict[str, RecordDef],
                 union_defs: dict[str, UnionDef], measures: frozenset[str], diagnostics: list[Diagnostic]):
        self.program = program  # keeps every node alive, so the id() keys stay valid
        self._types = types
        self._schemes = schemes
        self._resolutions = resolutions
        self._records = records
        self.record_defs = record_defs
        self.union_defs = union_defs
        self.measures = measures
        self.diagnostics = diagnostics

    def type_of(self, node: ast.Node) -> Type:
        """The type of an expression, pattern, `ast.Binding` or declaration (for a
        `let rec ... and ...` group, ask each `ast.Binding`)."""
        try:
            return self._types[id(node)]
        except KeyError:
            raise KeyError(f"no type was inferred for {type(node).__name__} at {node.span}") from None

    def scheme_of(self, name: str) -> Scheme:
        """The scheme of a top-level let or extern (the last one declared by that name)."""
        return self._schemes[name]

    def signature(self, name: str) -> str:
        """A top-level name's type in F# syntax, e.g. ``float<volt>[] -> float[]``."""
        return show(self._schemes[name].body)

    def resolve(self, var: ast.Var) -> Binding:
        """What a `ast.Var` (or an `ast.Assign`'s target `ast.Var`) refers to."""
        try:
            return self._resolutions[id(var)]
        except KeyError:
            raise KeyError(f"no resolution for {var.name!r} at {var.span}") from None

    def record_of(self, node: ast.FieldAccess | ast.RecordExpr | ast.RecordUpdate) -> str:
        """The record type a field access, record expression or copy-and-update is about."""
        return self._records[id(node)]


def check_program(program: ast.Program, source: str | None = None) -> Typing:
    """Infer the types of ``program``; raise `DiagnosticError` with every error found."""
    return run_with_big_stack(_check_program, program, source)


def _check_program(program: ast.Program, source: str | None) -> Typing:
    checker = _Checker(source)
    checker.program(program)
    if checker.errors:
        raise DiagnosticError(sorted(checker.errors, key=lambda d: (d.span.line, d.span.col)))
    schemes = {name: attrs.evolve(scheme, body=checker.unifier.zonk(scheme.body))
               for name, scheme in checker.schemes.items()}
    return Typing(program, checker.zonked_types(), schemes, checker.resolutions, checker.records,
                  checker.record_defs, checker.union_defs, frozenset(checker.measures), checker.warnings)


_OPTION_PARAM = TVar(0)  # option's type parameter; instantiated fresh at each use
_OPTION = UnionDef("option", (("None", ()), ("Some", (_OPTION_PARAM,))), (_OPTION_PARAM.id,))
_INTRINSIC_MODULES = ("Array", "Array.Parallel", "Array2D", "List", "Map", "Seq", "Actor")
_GENERALISABLE = (ast.Lambda, ast.Var, ast.Literal)
# Attributes whose one argument the subset fixes: [<Cost(38)>], [<Resource("registry")>].
_ATTRIBUTE_ARGUMENTS = {"Cost": "int", "Resource": "string"}
# F#'s other names for the primitives of the subset.
_TYPE_ALIASES = {"double": "float", "single": "float32", "byte": "uint8", "int32": "int"}


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.7)
    return f"; did you mean '{close[0]}'?" if close else ""


def _attribute(attributes: Iterable[ast.Attribute], name: str) -> ast.Attribute | None:
    return next((a for a in attributes if a.name == name), None)


class _Checker:
    def __init__(self, source: str | None):
        self.source = source
        self.unifier = Unifier()
        self.level = 0
        self.types: dict[int, Type] = {}
        self.schemes: dict[str, Scheme] = {}
        self.resolutions: dict[int, Binding] = {}
        self.records: dict[int, str] = {}
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.record_defs: dict[str, RecordDef] = {}
        self.union_defs: dict[str, UnionDef] = {"option": _OPTION}
        self.measures: set[str] = set()
        self.field_owners: dict[str, list[str]] = {}  # field name -> records, in declaration order
        self.case_owners: dict[str, list[str]] = {"None": ["option"], "Some": ["option"]}
        self.case_nodes: dict[tuple[str, str], tuple[ast.UnionCase, ast.UnionDecl]] = {}
        self.mutable_fields: set[tuple[str, str]] = set()  # (record, field)
        self.scope: dict[str, list[_Entry]] = {}
        self.type_vars: dict[str, TVar] = {}  # annotation variables of the current declaration
        self.async_result: Type | None = None  # the `return` type inside async { }
        self.in_query = False
        self.pending_values: list[tuple[ast.Binding, Type]] = []  # top-level values not generalised

    # -- diagnostics ----------------------------------------------------------------
    def error(self, node: ast.Node, message: str) -> None:
        self.errors.append(Diagnostic(node.span, message, source=self.source))

    def warn(self, node: ast.Node, message: str) -> None:
        self.warnings.append(Diagnostic(node.span, message, severity="warning", source=self.source))

    def describe(self, failure: UnifyError, expected: Type, actual: Type) -> str:
        naming = Naming()
        if failure.reason == "measure":
            expected_unit = failure.left.show(naming.measure_var)
            actual_unit = failure.right.show(naming.measure_var)
            if failure.left.vars and not failure.right.vars:  # e.g. sqrt's 'u^2 against m
                return f"expected a unit of the form '{expected_unit}' but here has the unit '{actual_unit}'"
            return f"the unit '{expected_unit}' does not match the unit '{actual_unit}'"
        if failure.reason == "constraint":
            return f"the type '{show(self.unifier.zonk(failure.left), naming)}' does not support {failure.constraint.origin}"
        zonk = self.unifier.zonk
        if failure.reason == "occurs":
            return (f"this expression would have an infinite type: '{show(zonk(failure.left), naming)}' "
                    f"occurs in '{show(zonk(failure.right), naming)}'")
        return (f"this expression was expected to have type '{show(zonk(expected), naming)}' "
                f"but here has type '{show(zonk(actual), naming)}'")

    def expect(self, node: ast.Node, expected: Type, actual: Type,
               message: Callable[[UnifyError], str] | None = None) -> bool:
        """Unify, reporting a failure at ``node``; True when they unified."""
        try:
            self.unifier.unify(expected, actual)
            return True
        except UnifyError as failure:
            self.error(node, message(failure) if message else self.describe(failure, expected, actual))
            return False

    def fresh(self) -> TVar:
        return self.unifier.new_var(self.level)

    def record(self, node: ast.Node, t: Type) -> Type:
        self.types[id(node)] = t
        return t

    def zonked_types(self) -> dict[int, Type]:
        return {key: self.unifier.zonk(t) for key, t in self.types.items()}

    # -- scopes ----------------------------------------------------------------------
    def push(self, name: str, entry: _Entry) -> None:
        self.scope.setdefault(name, []).append(entry)

    def pop(self, name: str) -> None:
        self.scope[name].pop()

    def lookup(self, name: str) -> _Entry | None:
        entries = self.scope.get(name)
        return entries[-1] if entries else None

    def names_in_scope(self) -> list[str]:
        return [name for name, entries in self.scope.items() if entries]

    # -- type annotations -------------------------------------------------------------
    def annotation(self, expr: ast.TypeExpr) -> Type:
        """The type an annotation denotes; errors are reported and give a fresh variable."""
        if isinstance(expr, ast.TypeVar):
            if expr.name not in self.type_vars:
                self.type_vars[expr.name] = self.unifier.new_var(max(self.level, 1))
            return self.type_vars[expr.name]
        if isinstance(expr, ast.ArrayType):
            return TArray(self.annotation(expr.element), expr.rank)
        if isinstance(expr, ast.TupleType):
            return TTuple(tuple(self.annotation(e) for e in expr.elements))
        if isinstance(expr, ast.FunctionType):
            return TFun(self.annotation(expr.parameter), self.annotation(expr.result))
        if isinstance(expr, ast.MeasuredType):
            base = _TYPE_ALIASES.get(expr.base, expr.base)
            if base not in NUMERIC_TYPES:
                self.error(expr, f"the type '{expr.base}' does not take a unit of measure")
                return TPrim(base) if base in PRIMITIVE_TYPES else self.fresh()
            return TPrim(base, self.measure(expr.unit))
        return self.named_type(expr)

    def named_type(self, expr: ast.TypeName) -> Type:
        name, args = _TYPE_ALIASES.get(expr.name, expr.name), tuple(self.annotation(a) for a in expr.args)
        if name in PRIMITIVE_TYPES:
            if args:
                self.error(expr, f"the type '{name}' takes no type arguments")
            return TPrim(name)
        if name in BUILTIN_CONSTRUCTORS:
            arity = BUILTIN_CONSTRUCTORS[name]
        elif name in self.record_defs:
            arity = len(self.record_defs[name].params)
        elif name in self.union_defs:
            arity = len(self.union_defs[name].params)
        else:
            known = list(PRIMITIVE_TYPES) + list(BUILTIN_CONSTRUCTORS) + list(self.record_defs) + list(self.union_defs)
            self.error(expr, f"the type '{name}' is not defined{_did_you_mean(name, known)}")
            return self.fresh()
        if len(args) != arity:
            self.error(expr, f"the type '{name}' expects {arity} type argument{'s' * (arity != 1)} "
                             f"but is given {len(args)}")
            return self.fresh()
        return TCon(name, args)

    def measure(self, expr: ast.UnitExpr) -> Measure:
        if isinstance(expr, ast.UnitName):
            if expr.name not in self.measures:
                self.error(expr, f"the unit of measure '{expr.name}' is not defined"
                                 f"{_did_you_mean(expr.name, self.measures)}")
            return Measure.base(expr.name)
        if isinstance(expr, ast.UnitOne):
            return ONE
        if isinstance(expr, ast.UnitProduct):
            return self.measure(expr.left) * self.measure(expr.right)
        if isinstance(expr, ast.UnitQuotient):
            return self.measure(expr.numerator) / self.measure(expr.denominator)
        return self.measure(expr.base) ** expr.exponent

    # -- declarations -------------------------------------------------------------------
    def program(self, program: ast.Program) -> None:
        for decl in program.decls:
            self.type_vars = {}
            self.attributes(getattr(decl, "attributes", ()))
            if isinstance(decl, ast.MeasureDecl):
                self.measure_decl(decl)
            elif isinstance(decl, ast.RecordDecl):
                self.record_decl(decl)
            elif isinstance(decl, ast.UnionDecl):
                self.union_decl(decl)
            elif isinstance(decl, ast.ExternDecl):
                self.extern_decl(decl)
            else:
                self.let_decl(decl)
        for binding, t in self.pending_values:
            t = self.unifier.zonk(t)
            if self.unifier.unresolved(t):
                what = f"'{binding.name}'" if binding.name is not None else "this pattern"
                self.error(binding.pattern, f"the type of {what} is not fully known, "
                                            f"'{show(t)}'; add a type annotation")

    def attributes(self, attributes: tuple[ast.Attribute, ...]) -> None:
        """Type attribute arguments; those whose meaning the subset fixes must have their type."""
        for attribute in attributes:
            for arg in attribute.args:
                self.record(arg, self.literal_type(arg))
            wanted = _ATTRIBUTE_ARGUMENTS.get(attribute.name)
            if wanted is not None and (len(attribute.args) != 1 or attribute.args[0].kind.value != wanted):
                self.error(attribute, f"[<{attribute.name}(...)>] takes one {wanted} argument")

    def declare_type_name(self, decl: ast.RecordDecl | ast.UnionDecl) -> bool:
        if decl.name in self.record_defs or decl.name in self.union_defs or decl.name in BUILTIN_CONSTRUCTORS \
                or decl.name in PRIMITIVE_TYPES:
            self.error(decl, f"the type '{decl.name}' is already defined")
            return False
        return True

    def type_params(self, decl: ast.RecordDecl | ast.UnionDecl) -> tuple[int, ...]:
        self.type_vars = {name: self.unifier.new_var(1) for name in decl.type_params}
        return tuple(v.id for v in self.type_vars.values())

    def measure_decl(self, decl: ast.MeasureDecl) -> None:
        if decl.name in self.measures:
            self.error(decl, f"the unit of measure '{decl.name}' is already defined")
        self.measures.add(decl.name)

    def record_decl(self, decl: ast.RecordDecl) -> None:
        if not self.declare_type_name(decl):
            return
        params = self.type_params(decl)
        # Registered before its fields are read, so that a record may refer to itself.
        self.record_defs[decl.name] = RecordDef(decl.name, (), params)
        fields: list[tuple[str, Type]] = []
        for field in decl.fields:
            if any(name == field.name for name, _ in fields):
                self.error(field, f"the field '{field.name}' is declared twice in record '{decl.name}'")
                continue
            fields.append((field.name, self.annotation(field.type)))
            self.field_owners.setdefault(field.name, []).append(decl.name)
        self.record_defs[decl.name] = RecordDef(decl.name, tuple(fields), params)
        self.record(decl, TCon(decl.name, tuple(TVar(p) for p in params)))
        self.mutable_fields.update((decl.name, f.name) for f in decl.fields if f.mutable)

    def union_decl(self, decl: ast.UnionDecl) -> None:
        if not self.declare_type_name(decl):
            return
        params = self.type_params(decl)
        self.union_defs[decl.name] = UnionDef(decl.name, (), params)
        cases: list[tuple[str, tuple[Type, ...]]] = []
        for case in decl.cases:
            if any(name == case.name for name, _ in cases):
                self.error(case, f"the case '{case.name}' is declared twice in union '{decl.name}'")
                continue
            cases.append((case.name, tuple(self.annotation(f) for f in case.fields)))
            self.case_owners.setdefault(case.name, []).append(decl.name)
            self.case_nodes[(decl.name, case.name)] = (case, decl)
        self.union_defs[decl.name] = UnionDef(decl.name, tuple(cases), params)
        self.record(decl, TCon(decl.name, tuple(TVar(p) for p in params)))

    def extern_decl(self, decl: ast.ExternDecl) -> None:
        self.level = 1
        t = self.annotation(decl.type)
        self.level = 0
        scheme = self.unifier.generalize(t, 0)
        self.record(decl, t)
        self.schemes[decl.name] = scheme
        self.push(decl.name, _Entry(Binding("extern", decl.name, decl, decl), scheme))

    def let_decl(self, decl: ast.LetDecl) -> None:
        hardware = _attribute(decl.attributes, "HardwareModule") or _attribute(decl.attributes, "Kernel")
        if hardware is not None:
            for binding in decl.bindings:
                self.require_annotations(binding, hardware.name)
        errors_before = len(self.errors)
        entries, _ = self.let_bindings(decl.bindings, decl.rec, top=decl)
        # F# resolves the leftover operator types of a declaration once it is finished.
        self.unifier.default_numeric()
        for binding, (name, entry, generalise) in zip(decl.bindings, entries):
            t = self.types[id(binding)]
            scheme = self.unifier.generalize(t, 0) if generalise else Scheme.mono(t)
            if not generalise and len(self.errors) == errors_before:  # else the type is moot
                self.pending_values.append((binding, t))
            if name is not None:
                self.schemes[name] = scheme
                self.retype(name, entry, scheme)
        if len(decl.bindings) == 1:
            self.record(decl, self.types[id(decl.bindings[0])])

    def retype(self, name: str, entry: _Entry, scheme: Scheme) -> None:
        entries = self.scope[name]
        entries[entries.index(entry)] = _Entry(entry.binding, scheme)

    def require_annotations(self, binding: ast.Binding, attribute: str) -> None:
        what = f"a [<{attribute}>] function"
        if not binding.params:
            self.error(binding.pattern, f"{what} must take parameters")
        for param in binding.params:
            if not self.annotated(param):
                self.error(param, f"{what} needs a type annotation on every parameter")
        if binding.return_type is None:
            self.error(binding.pattern, f"{what} needs a return type annotation")

    def annotated(self, pattern: ast.Pattern) -> bool:
        if isinstance(pattern, ast.TypedPattern):
            return True
        if isinstance(pattern, ast.TuplePattern):
            return all(self.annotated(p) for p in pattern.elements)
        return isinstance(pattern, ast.LiteralPattern)

    # -- let bindings ---------------------------------------------------------------------
    def let_bindings(self, bindings: tuple[ast.Binding, ...], rec: bool, top: ast.LetDecl | None
                     ) -> tuple[list[tuple[str | None, _Entry | None, bool]], list[str]]:
        """Check a let group and bring its names into scope (generalised where allowed).

        Returns, per binding, its name, its scope entry and whether it was
        generalised (None, None, False for a pattern binding), and the names
        the pattern bindings brought into scope; the caller pops them all when
        their scope ends.
        """
        outer_level = self.level
        self.level = outer_level + 1
        generalise = all(not b.mutable and (b.params or isinstance(b.body, _GENERALISABLE)) for b in bindings)
        pushed: list[tuple[str | None, _Entry | None]] = []
        if rec:
            for binding in bindings:
                if binding.name is None:
                    self.error(binding.pattern, "'let rec' binds names, not patterns")
                    self.record(binding, self.fresh())
                    pushed.append((None, None))
                    continue
                t = self.record(binding, self.fresh())
                entry = self.name_entry(binding, binding.name, t, top)
                self.record(self.name_pattern(binding), t)
                self.push(binding.name, entry)
                pushed.append((binding.name, entry))
            for binding in bindings:
                self.binding_value(binding, self.types[id(binding)])
        else:
            for binding in bindings:
                self.binding_value(binding, self.record(binding, self.fresh()))
        self.level = outer_level
        results = []
        pattern_names: list[str] = []
        for index, binding in enumerate(bindings):
            t = self.types[id(binding)]
            scheme = self.unifier.generalize(t, outer_level) if generalise and top is None else Scheme.mono(t)
            if rec and pushed[index][0] is not None:
                name, entry = pushed[index]
                new_entry = _Entry(entry.binding, scheme)
                self.retype(name, entry, scheme)
                results.append((name, new_entry, generalise))
            elif binding.name is not None:
                entry = _Entry(self.name_entry(binding, binding.name, t, top).binding, scheme)
                self.record(binding.pattern, t)
                self.record(self.name_pattern(binding), t)
                self.push(binding.name, entry)
                results.append((binding.name, entry, generalise))
            else:
                # `let (a, b) = e` / `let _ = e`: a monomorphic pattern over the value.
                names: dict[str, tuple[ast.NamePattern, Type]] = {}
                self.pattern(binding.pattern, t, names)
                for name, (pattern, pattern_type) in names.items():
                    kind = "global" if top is not None else "local"
                    node = binding if top is not None else pattern
                    self.push(name, _Entry(Binding(kind, name, node, top, binding), Scheme.mono(pattern_type)))
                    pattern_names.append(name)
                results.append((None, None, False))
                if top is not None:
                    for name, (_, pattern_type) in names.items():
                        self.schemes[name] = Scheme.mono(pattern_type)
        return results, pattern_names

    def name_pattern(self, binding: ast.Binding) -> ast.NamePattern:
        target = binding.pattern
        return target.pattern if isinstance(target, ast.TypedPattern) else target

    def name_entry(self, binding: ast.Binding, name: str, t: Type, top: ast.LetDecl | None) -> _Entry:
        if top is not None:
            return _Entry(Binding("global", name, binding, top, binding), Scheme.mono(t))
        return _Entry(Binding("local", name, self.name_pattern(binding), None, binding, mutable=binding.mutable),
                      Scheme.mono(t))

    def binding_value(self, binding: ast.Binding, t: Type) -> None:
        """Check ``name params : ret = body`` against ``t``."""
        names: dict[str, tuple[ast.NamePattern, Type]] = {}
        param_types = [self.fresh() for _ in binding.params]
        result = self.fresh()
        if isinstance(binding.pattern, ast.TypedPattern) and binding.name is not None:
            self.expect(binding.pattern.type, t, self.annotation(binding.pattern.type))
        if binding.return_type is not None:
            self.unifier.unify(result, self.annotation(binding.return_type))
        self.expect(binding.pattern, t, function(*param_types, result))
        for param, param_type in zip(binding.params, param_types):
            self.pattern(param, param_type, names)
        saved = self.async_result, self.in_query
        if binding.params:
            self.async_result, self.in_query = None, False
        self.bind_names(names)
        self.check(binding.body, result)
        self.unbind_names(names)
        self.async_result, self.in_query = saved

    def bind_names(self, names: dict[str, tuple[ast.NamePattern, Type]]) -> None:
        for name, (pattern, t) in names.items():
            self.push(name, _Entry(Binding("local", name, pattern), Scheme.mono(t)))

    def unbind_names(self, names: Iterable[str]) -> None:
        for name in names:
            self.pop(name)

    # -- patterns -------------------------------------------------------------------------
    def pattern(self, pattern: ast.Pattern, expected: Type, names: dict[str, tuple[ast.NamePattern, Type]]) -> None:
        """Check ``pattern`` against ``expected``, collecting the names it binds."""
        self.record(pattern, expected)
        if isinstance(pattern, ast.WildcardPattern):
            return
        if isinstance(pattern, ast.NamePattern):
            if pattern.name in names:
                self.error(pattern, f"'{pattern.name}' is bound twice in this pattern")
            names[pattern.name] = (pattern, expected)
        elif isinstance(pattern, ast.LiteralPattern):
            self.expect(pattern, expected, self.literal_type(pattern.literal))
        elif isinstance(pattern, ast.TypedPattern):
            self.expect(pattern.type, expected, self.annotation(pattern.type))
            self.pattern(pattern.pattern, expected, names)
        elif isinstance(pattern, ast.TuplePattern):
            for element, item in zip(pattern.elements, self.tuple_items(pattern, expected, len(pattern.elements))):
                self.pattern(element, item, names)
        elif isinstance(pattern, ast.ConsPattern):
            element = self.element_of_list(pattern, expected)
            self.pattern(pattern.head, element, names)
            self.pattern(pattern.tail, list_of(element), names)
        elif isinstance(pattern, ast.ListPattern):
            element = self.element_of_list(pattern, expected)
            for item in pattern.elements:
                self.pattern(item, element, names)
        elif isinstance(pattern, ast.UnionCasePattern):
            self.case_pattern(pattern, expected, names)
        elif isinstance(pattern, ast.OrPattern):
            left: dict[str, tuple[ast.NamePattern, Type]] = {}
            right: dict[str, tuple[ast.NamePattern, Type]] = {}
            self.pattern(pattern.left, expected, left)
            self.pattern(pattern.right, expected, right)
            if set(left) != set(right):
                def listed(bound: dict) -> str:
                    return ", ".join(f"'{name}'" for name in sorted(bound)) or "no names"
                self.error(pattern, "the two sides of an 'or' pattern must bind the same names, "
                                    f"not {listed(left)} and {listed(right)}")
            for name, (node, t) in left.items():
                if name in right:
                    self.expect(right[name][0], t, right[name][1])
                if name in names:
                    self.error(node, f"'{name}' is bound twice in this pattern")
                names[name] = (node, t)

    def tuple_items(self, node: ast.Node, expected: Type, count: int) -> tuple[Type, ...]:
        """The item types of ``expected`` as a ``count``-tuple; after a mismatch, fresh ones
        (so the names inside are still bound and no error cascades from them)."""
        resolved = self.unifier.resolve(expected)
        if isinstance(resolved, TTuple) and len(resolved.items) == count:
            return resolved.items
        items = tuple(self.fresh() for _ in range(count))
        self.expect(node, expected, TTuple(items))
        return items

    def is_tuple_of(self, t: Type, count: int) -> bool:
        resolved = self.unifier.resolve(t)
        return isinstance(resolved, TVar) or (isinstance(resolved, TTuple) and len(resolved.items) == count)

    def element_of_list(self, node: ast.Node, expected: Type) -> Type:
        element = self.fresh()
        if not self.expect(node, expected, list_of(element)):
            return self.fresh()
        return element

    def case_pattern(self, pattern: ast.UnionCasePattern, expected: Type,
                     names: dict[str, tuple[ast.NamePattern, Type]]) -> None:
        found = self.find_case(pattern.name, pattern)
        field_types: tuple[Type, ...] = ()
        if found is not None:
            union, case_name, field_types, union_type = found
            self.expect(pattern, expected, union_type)
        args = pattern.args
        if found is None:
            field_types = tuple(self.fresh() for _ in args)
        elif len(args) == 1 and len(field_types) > 1 and isinstance(args[0], ast.WildcardPattern):
            field_types = (TTuple(field_types),)  # `Case _` ignores every field
        elif len(field_types) == 1 and len(args) > 1 and self.is_tuple_of(field_types[0], len(args)):
            # `Case (a, b)` of a case whose one field is a pair
            field_types = self.tuple_items(pattern, field_types[0], len(args))
        elif len(args) != len(field_types):
            self.error(pattern, f"the union case '{case_name}' takes {len(field_types)} "
                                f"argument{'s' * (len(field_types) != 1)} but is given {len(args)}")
            field_types = tuple(self.fresh() for _ in args)
        for arg, field_type in zip(args, field_types):
            self.pattern(arg, field_type, names)

    def find_case(self, name: str, node: ast.Node) -> tuple[str, str, tuple[Type, ...], Type] | None:
        """The union, case name, instantiated field types and union type of a case name."""
        union_name = None
        case_name = name
        if "." in name:
            union_name, case_name = name.rsplit(".", 1)
            if union_name not in self.union_defs or self.union_defs[union_name].case_fields(case_name) is None:
                self.error(node, f"'{name}' is not a union case")
                return None
        elif name in self.case_owners:
            union_name = self.case_owners[name][-1]
        else:
            cases = list(self.case_owners)
            self.error(node, f"the union case '{name}' is not defined{_did_you_mean(name, cases)}")
            return None
        union = self.union_defs[union_name]
        fresh = {p: self.fresh() for p in union.params}
        fields = tuple(substitute(t, fresh) for t in union.case_fields(case_name))
        return union_name, case_name, fields, TCon(union_name, tuple(fresh[p] for p in union.params))

    # -- expressions ----------------------------------------------------------------------
    def check(self, expr: ast.Expr, expected: Type) -> None:
        """Check ``expr`` against ``expected`` and record its type."""
        self.record(expr, expected)
        method = getattr(self, "check_" + type(expr).__name__)
        method(expr, expected)

    def statement(self, expr: ast.Expr) -> None:
        """Check an expression run for effect; a discarded value is a warning (F#'s FS0020)."""
        t = self.fresh()
        self.check(expr, t)
        resolved = self.unifier.resolve(t)
        if isinstance(resolved, TVar):
            self.unifier.unify(resolved, UNIT)
        elif resolved != UNIT:
            self.warn(expr, f"the result of this expression has type '{show(self.unifier.zonk(resolved))}' "
                            "and is implicitly ignored; bind it with 'let _ = ...' to discard it")

    def literal_type(self, literal: ast.Literal) -> Type:
        kind = literal.kind.value
        if literal.unit is None:
            return TPrim(kind)
        if kind not in NUMERIC_TYPES:
            self.error(literal, f"a {kind} literal cannot have a unit of measure")
            return TPrim(kind)
        return TPrim(kind, self.measure(literal.unit))

    def check_Literal(self, expr: ast.Literal, expected: Type) -> None:
        self.expect(expr, expected, self.literal_type(expr))

    def check_Var(self, expr: ast.Var, expected: Type) -> None:
        found = self.resolve_name(expr)
        if found is None:
            return
        binding, scheme = found
        self.resolutions[id(expr)] = binding
        self.expect(expr, expected, self.unifier.instantiate(scheme, self.level))

    def resolve_name(self, expr: ast.Var) -> tuple[Binding, Scheme] | None:
        name = expr.name
        entry = self.lookup(name)
        if entry is not None:
            return entry.binding, entry.scheme
        if name in self.case_owners or ("." in name and name.rsplit(".", 1)[0] in self.union_defs):
            found = self.find_case(name, expr)
            if found is None:
                return None
            union, case_name, fields, union_type = found
            case_node, decl = self.case_nodes.get((union, case_name), (None, None))
            if not fields:
                t = union_type
            else:
                t = TFun(fields[0] if len(fields) == 1 else TTuple(fields), union_type)
            return Binding("case", case_name, case_node, decl, union=union), Scheme.mono(t)
        if name in INTRINSICS:
            return Binding("intrinsic", name), INTRINSICS[name]
        if name == "Actor.start":
            return Binding("actor", name), ACTOR_START
        if name in OPERATORS and name != "neg":
            return Binding("operator", name), OPERATORS[name]
        module = name.rsplit(".", 1)[0] if "." in name else None
        if module in _INTRINSIC_MODULES:
            siblings = [n for n in INTRINSICS if n.rsplit(".", 1)[0] == module]
            self.error(expr, f"unknown intrinsic '{name}'{_did_you_mean(name, siblings)}")
            return None
        candidates = self.names_in_scope() + list(self.case_owners) + list(INTRINSICS)
        self.error(expr, f"'{name}' is not defined{_did_you_mean(name, candidates)}")
        return None

    def check_App(self, expr: ast.App, expected: Type) -> None:
        callee = self.fresh()
        self.check(expr.function, callee)
        params: list[Type] = []
        current: Type = callee
        for _ in expr.args:
            resolved = self.unifier.resolve(current)
            if isinstance(resolved, TFun):
                params.append(resolved.arg)
                current = resolved.result
            elif isinstance(resolved, TVar):
                param, result = self.fresh(), self.fresh()
                self.unifier.unify(resolved, TFun(param, result))
                params.append(param)
                current = result
            else:
                self.arity_error(expr, len(params))
                for arg in expr.args:
                    self.check(arg, self.fresh())
                return
        # Propagate the expected result into the arguments first (F#'s left-to-right
        # inference); if that fails, the mismatch is reported after the arguments.
        try:
            self.unifier.unify(expected, current)
            unified = True
        except UnifyError:
            unified = False
        for arg, param in zip(expr.args, params):
            self.check(arg, param)
        if not unified:
            self.expect(expr, expected, current)

    def arity_error(self, expr: ast.App, taken: int) -> None:
        given = len(expr.args)
        if taken == 0:
            self.error(expr.function, "this value is not a function and cannot be applied")
        else:
            self.error(expr.function, f"this function takes {taken} argument{'s' * (taken != 1)} "
                                      f"but is given {given}")

    def check_MethodCall(self, expr: ast.MethodCall, expected: Type) -> None:
        receiver = self.fresh()
        self.check(expr.receiver, receiver)
        if expr.method not in ("PostAndReply", "Tell"):
            self.error(expr, f"the method '{expr.method}' is not defined; actors have PostAndReply and Tell")
            for arg in expr.args:
                self.check(arg, self.fresh())
            return
        message, reply = self.fresh(), self.fresh()
        if not self.expect(expr.receiver, actor_of(message, reply), receiver,
                           lambda failure: f"'{expr.method}' needs an actor, but this value has type "
                                           f"'{show(self.unifier.zonk(receiver))}'"):
            return
        if len(expr.args) == 1:
            self.check(expr.args[0], message)
        else:
            items = tuple(self.fresh() for _ in expr.args)
            for arg, item in zip(expr.args, items):
                self.check(arg, item)
            self.expect(expr, message, TTuple(items))
        self.expect(expr, expected, reply if expr.method == "PostAndReply" else UNIT)

    def check_Lambda(self, expr: ast.Lambda, expected: Type) -> None:
        param_types = [self.fresh() for _ in expr.params]
        result = self.fresh()
        self.expect(expr, expected, function(*param_types, result))
        names: dict[str, tuple[ast.NamePattern, Type]] = {}
        for param, param_type in zip(expr.params, param_types):
            self.pattern(param, param_type, names)
        saved = self.async_result, self.in_query
        self.async_result, self.in_query = None, False
        self.bind_names(names)
        self.check(expr.body, result)
        self.unbind_names(names)
        self.async_result, self.in_query = saved

    def check_Let(self, expr: ast.Let, expected: Type) -> None:
        results, pattern_names = self.let_bindings(expr.bindings, expr.rec, top=None)
        self.check(expr.body, expected)
        self.unbind_names([name for name, _, _ in results if name is not None] + pattern_names)

    def check_Assign(self, expr: ast.Assign, expected: Type) -> None:
        target = expr.target
        slot = self.fresh()
        if isinstance(target, ast.Var):
            found = self.resolve_name(target)
            if found is not None:
                binding, scheme = found
                self.resolutions[id(target)] = binding
                self.record(target, scheme.body)
                if not binding.mutable:
                    self.error(target, f"'{target.name}' is not mutable; declare it with 'let mutable'")
                else:
                    self.unifier.unify(slot, scheme.body)
        elif isinstance(target, (ast.Index, ast.FieldAccess)):
            self.check(target, slot)
            if isinstance(target, ast.FieldAccess) and id(target) in self.records:
                owner = self.records[id(target)]
                if (owner, target.field) not in self.mutable_fields:
                    self.error(target, f"the field '{target.field}' of record '{owner}' is not mutable")
        else:
            self.error(target, "only a mutable name, an array element or a mutable field can be assigned")
        self.check(expr.value, slot)
        self.expect(expr, expected, UNIT)

    def check_If(self, expr: ast.If, expected: Type) -> None:
        self.check(expr.condition, BOOL)
        if expr.else_branch is not None:
            self.check(expr.then_branch, expected)
            self.check(expr.else_branch, expected)
            return
        then_type = self.fresh()
        self.check(expr.then_branch, then_type)
        self.expect(expr.then_branch, UNIT, then_type,
                    lambda failure: "this 'if' has no 'else' branch, so its 'then' branch must have type "
                                    f"'unit' but here has type '{show(self.unifier.zonk(then_type))}'")
        self.expect(expr, expected, UNIT)

    def check_Match(self, expr: ast.Match, expected: Type) -> None:
        scrutinee = self.fresh()
        self.check(expr.scrutinee, scrutinee)
        for arm in expr.arms:
            names: dict[str, tuple[ast.NamePattern, Type]] = {}
            self.pattern(arm.pattern, scrutinee, names)
            self.bind_names(names)
            if arm.guard is not None:
                self.check(arm.guard, BOOL)
            self.check(arm.body, expected)
            self.unbind_names(names)

    def check_BinOp(self, expr: ast.BinOp, expected: Type) -> None:
        op = expr.op
        if op == "|>":
            argument = self.fresh()
            self.check(expr.left, argument)
            self.check(expr.right, TFun(argument, expected))
        elif op == "<|":
            argument = self.fresh()
            self.check(expr.left, TFun(argument, expected))
            self.check(expr.right, argument)
        elif op in (">>", "<<"):
            a, b, c = self.fresh(), self.fresh(), self.fresh()
            first, second = (expr.left, expr.right) if op == ">>" else (expr.right, expr.left)
            self.check(first, TFun(a, b))
            self.check(second, TFun(b, c))
            self.expect(expr, expected, TFun(a, c))
        elif op == "::":
            element = self.fresh()
            self.check(expr.left, element)
            self.check(expr.right, list_of(element))
            self.expect(expr, expected, list_of(element))
        elif op in OPERATORS:
            operator = self.unifier.instantiate(OPERATORS[op], self.level)
            errors_before = len(self.errors)
            self.check(expr.left, operator.arg)
            if len(self.errors) > errors_before:
                # the left operand already failed: the right one would only repeat it
                self.check(expr.right, self.fresh())
                return
            self.check(expr.right, operator.result.arg)
            self.expect(expr, expected, operator.result.result)
        else:
            self.error(expr, f"the operator '{op}' is not defined")

    def check_UnOp(self, expr: ast.UnOp, expected: Type) -> None:
        operator = self.unifier.instantiate(OPERATORS["neg" if expr.op == "-" else expr.op], self.level)
        self.check(expr.operand, operator.arg)
        self.expect(expr, expected, operator.result)

    def check_Tuple(self, expr: ast.Tuple, expected: Type) -> None:
        resolved = self.unifier.resolve(expected)
        if isinstance(resolved, TTuple) and len(resolved.items) == len(expr.elements):
            for element, item in zip(expr.elements, resolved.items):
                self.check(element, item)
            return
        items = tuple(self.fresh() for _ in expr.elements)
        for element, item in zip(expr.elements, items):
            self.check(element, item)
        self.expect(expr, expected, TTuple(items))

    # -- records ---------------------------------------------------------------------------
    def record_type(self, name: str) -> tuple[RecordDef, TCon, dict[int, Type]]:
        definition = self.record_defs[name]
        fresh = {p: self.fresh() for p in definition.params}
        return definition, TCon(name, tuple(fresh[p] for p in definition.params)), fresh

    def expected_record(self, expected: Type) -> str | None:
        resolved = self.unifier.resolve(expected)
        if isinstance(resolved, TCon) and resolved.name in self.record_defs:
            return resolved.name
        return None

    def record_by_fields(self, node: ast.Node, names: list[str]) -> str | None:
        """The latest declared record with all these fields, else with the first known one."""
        owners = [self.field_owners.get(name, []) for name in names]
        for candidate in reversed(owners[0] if owners else []):
            if all(candidate in o for o in owners):
                return candidate
        known = [found for found in owners if found]
        if known:
            return known[0][-1]
        self.error(node, f"'{names[0]}' is not a field of any record{_did_you_mean(names[0], self.field_owners)}")
        return None

    def check_RecordExpr(self, expr: ast.RecordExpr, expected: Type) -> None:
        names = [f.name for f in expr.fields]
        name = self.expected_record(expected) or self.record_by_fields(expr, names)
        if name is None:
            for field in expr.fields:
                self.check(field.value, self.fresh())
            return
        self.records[id(expr)] = name
        definition, record_type, fresh = self.record_type(name)
        self.expect(expr, expected, record_type)
        known = self.record_fields(expr.fields, definition, fresh)
        missing = [f for f, _ in definition.fields if f not in names]
        if missing and known:  # an unknown field is most likely a misspelt missing one
            self.error(expr, f"the field{'s' * (len(missing) > 1)} {', '.join(repr(f) for f in missing)} "
                             f"of record '{name}' {'are' if len(missing) > 1 else 'is'} not given a value")

    def record_fields(self, fields: tuple[ast.FieldInit, ...], definition: RecordDef,
                      fresh: dict[int, Type]) -> bool:
        """Check field initialisers; False when one names no field of the record."""
        seen: set[str] = set()
        known = True
        for field in fields:
            field_type = definition.field_type(field.name)
            if field.name in seen:
                self.error(field, f"the field '{field.name}' is given twice")
            seen.add(field.name)
            if field_type is None:
                self.error(field, f"the record '{definition.name}' has no field '{field.name}'"
                                  f"{_did_you_mean(field.name, dict(definition.fields))}")
                self.check(field.value, self.fresh())
                known = False
                continue
            self.record(field, substitute(field_type, fresh))
            self.check(field.value, substitute(field_type, fresh))
        return known

    def check_RecordUpdate(self, expr: ast.RecordUpdate, expected: Type) -> None:
        source = self.fresh()
        self.check(expr.source, source)
        name = self.expected_record(source) or self.expected_record(expected) \
            or self.record_by_fields(expr, [f.name for f in expr.fields])
        if name is None:
            for field in expr.fields:
                self.check(field.value, self.fresh())
            return
        self.records[id(expr)] = name
        definition, record_type, fresh = self.record_type(name)
        if self.expect(expr.source, record_type, source):
            self.record_fields(expr.fields, definition, fresh)
        self.expect(expr, expected, record_type)

    def check_FieldAccess(self, expr: ast.FieldAccess, expected: Type) -> None:
        target = self.fresh()
        self.check(expr.target, target)
        resolved = self.unifier.resolve(target)
        if isinstance(resolved, TVar):
            name = self.record_by_fields(expr, [expr.field])
            if name is None:
                return
        elif isinstance(resolved, TCon) and resolved.name in self.record_defs:
            name = resolved.name
        else:
            self.error(expr, f"the type '{show(self.unifier.zonk(resolved))}' has no field '{expr.field}'")
            return
        definition, record_type, fresh = self.record_type(name)
        field_type = definition.field_type(expr.field)
        if field_type is None:
            self.error(expr, f"the record '{name}' has no field '{expr.field}'"
                             f"{_did_you_mean(expr.field, dict(definition.fields))}")
            return
        self.records[id(expr)] = name
        if self.expect(expr.target, record_type, target):
            self.expect(expr, expected, substitute(field_type, fresh))

    # -- arrays and lists ------------------------------------------------------------------
    def check_Index(self, expr: ast.Index, expected: Type) -> None:
        target = self.fresh()
        self.check(expr.target, target)
        rank = len(expr.indices)
        for index in expr.indices:
            self.check(index, INT)
        element = self.fresh()
        resolved = self.unifier.resolve(target)
        if isinstance(resolved, TArray) and resolved.rank != rank:
            self.error(expr, f"this array has {resolved.rank} dimension{'s' * (resolved.rank != 1)} "
                             f"but is indexed with {rank}")
            return
        if not self.expect(expr.target, TArray(element, rank), target,
                           lambda failure: f"this value of type '{show(self.unifier.zonk(target))}' "
                                           "cannot be indexed; only arrays can"):
            return
        self.expect(expr, expected, element)

    def check_ArrayLit(self, expr: ast.ArrayLit, expected: Type) -> None:
        element = self.fresh()
        resolved = self.unifier.resolve(expected)
        if isinstance(resolved, TArray) and resolved.rank == 1:
            element = resolved.elem
        for item in expr.elements:
            self.check(item, element)
        self.expect(expr, expected, TArray(element))

    def check_ListLit(self, expr: ast.ListLit, expected: Type) -> None:
        element = self.fresh()
        resolved = self.unifier.resolve(expected)
        if isinstance(resolved, TCon) and resolved.name == "list":
            element = resolved.args[0]
        for item in expr.elements:
            self.check(item, element)
        self.expect(expr, expected, list_of(element))

    # -- loops and sequences ---------------------------------------------------------------
    def check_While(self, expr: ast.While, expected: Type) -> None:
        self.check(expr.condition, BOOL)
        self.statement(expr.body)
        self.expect(expr, expected, UNIT)

    def check_ForRange(self, expr: ast.ForRange, expected: Type) -> None:
        index = self.unifier.new_numeric(Constraint(INTEGRAL, "a 'for' range"))
        self.check(expr.start, index)
        self.check(expr.stop, index)
        self.record(expr, index)
        self.push(expr.variable, _Entry(Binding("local", expr.variable, expr), Scheme.mono(index)))
        self.statement(expr.body)
        self.pop(expr.variable)
        self.expect(expr, expected, UNIT)

    def element_type(self, source: ast.Expr) -> tuple[Type, str] | None:
        """The element type and container kind (``list`` or ``array``) of a loop or query source."""
        t = self.fresh()
        self.check(source, t)
        resolved = self.unifier.resolve(t)
        if isinstance(resolved, TArray) and resolved.rank == 1:
            return resolved.elem, "array"
        if isinstance(resolved, TCon) and resolved.name == "list":
            return resolved.args[0], "list"
        if isinstance(resolved, TVar):
            element = self.fresh()
            self.unifier.unify(resolved, list_of(element))
            return element, "list"
        self.error(source, f"expected a list or an array here but this has type '{show(self.unifier.zonk(t))}'")
        return None

    def check_ForEach(self, expr: ast.ForEach, expected: Type) -> None:
        found = self.element_type(expr.source)
        element = found[0] if found else self.fresh()
        names: dict[str, tuple[ast.NamePattern, Type]] = {}
        self.pattern(expr.pattern, element, names)
        self.bind_names(names)
        if self.in_query and isinstance(expr.body, ast.Select):
            selected = self.fresh()
            self.record(expr.body, selected)
            self.check(expr.body.expr, selected)
            container = TArray(selected) if found and found[1] == "array" else list_of(selected)
            self.expect(expr, expected, container)
        else:
            self.statement(expr.body)
            self.expect(expr, expected, UNIT)
        self.unbind_names(names)

    def check_Sequence(self, expr: ast.Sequence, expected: Type) -> None:
        for item in expr.exprs[:-1]:
            self.statement(item)
        self.check(expr.exprs[-1], expected)

    # -- computation expressions ----------------------------------------------------------
    def check_CompExpr(self, expr: ast.CompExpr, expected: Type) -> None:
        saved = self.async_result, self.in_query
        if expr.builder == "async":
            result = self.fresh()
            self.async_result, self.in_query = result, False
            self.check(expr.body, result)
            self.expect(expr, expected, async_of(result))
        elif expr.builder == "query":
            self.async_result, self.in_query = None, True
            if not (isinstance(expr.body, ast.ForEach) and isinstance(expr.body.body, ast.Select)):
                self.error(expr, "a query is 'query { for x in xs do select e }'")
            else:
                self.check(expr.body, expected)
        else:
            self.error(expr, f"'{expr.builder} {{ }}' is not in the Clef subset; use 'async' or 'query'")
        self.async_result, self.in_query = saved

    def in_async(self, expr: ast.Expr, what: str) -> bool:
        if self.async_result is None:
            self.error(expr, f"'{what}' may only be used inside 'async {{ }}'")
            return False
        return True

    def check_LetBang(self, expr: ast.LetBang, expected: Type) -> None:
        value = self.fresh()
        self.check(expr.value, async_of(value) if self.in_async(expr, "let!") else self.fresh())
        names: dict[str, tuple[ast.NamePattern, Type]] = {}
        self.pattern(expr.pattern, value, names)
        self.bind_names(names)
        self.check(expr.body, expected)
        self.unbind_names(names)

    def check_DoBang(self, expr: ast.DoBang, expected: Type) -> None:
        self.check(expr.expr, async_of(UNIT) if self.in_async(expr, "do!") else self.fresh())
        self.expect(expr, expected, UNIT)

    def check_Return(self, expr: ast.Return, expected: Type) -> None:
        if self.in_async(expr, "return"):
            self.check(expr.expr, self.async_result)
            self.expect(expr, expected, self.async_result)
        else:
            self.check(expr.expr, self.fresh())

    def check_Select(self, expr: ast.Select, expected: Type) -> None:
        self.error(expr, "'select' may only end a 'query { for x in xs do select e }'")
        self.check(expr.expr, self.fresh())

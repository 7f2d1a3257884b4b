"""Lowering the typed Clef AST to the PSG in the `Clef` language.

`lower_program` walks the AST once, in source order, and builds the graph with
`nanopass.Builder`: a node for each operation, a ``span`` on every node (from
the AST node that produced it), and the ``types`` annotation table (node id ->
`nanopass.frontend.types.Type`) filled for every value node and every
declaration (a ``var`` has the type of its contents, a record or union
``typedef`` the type it names; a measure has none), and the ``typedefs`` table
(record or union ``typedef`` id -> its `RecordDef` / `UnionDef`: the field and
case types, which no node carries).  The value conventions are those of
`nanopass.languages`.

Desugarings done here, each to the plainest form the languages state:

* ``x |> f`` and ``f <| x`` are ``apply f x``; an application whose callee is
  itself an application is flattened (``xs |> Array.map g`` is
  ``apply Array.map g xs``), so a saturated call is one ``apply``.  The left
  of ``|>`` is computed before the callee, as F# does.
* ``f >> g`` (and ``g << f``) is ``lambda x -> apply g (apply f x)``; an
  operator used as a value (``(+)``, ``not``) is a lambda over its ``prim``; a
  union case used as a value is a lambda over its ``union``.
* ``a && b`` is ``if a then b else false``; ``a || b`` is
  ``if a then true else b``; ``elif`` is a nested ``if``; a missing ``else``
  yields unit.
* ``a.PostAndReply(m)`` is ``post``, ``a.Tell(m)`` is ``tell``;
  ``Actor.start init handler`` is ``actor`` whose region is the handler's body
  over ``(state, msg)``, yielding the new state and the reply as two values.
* A union case applied to its fields is ``union`` (a tuple argument is spread
  over the case's fields); ``Some x`` / ``None`` are ``union`` of type
  ``option``; record expressions are ``record``, ``{ r with ... }`` is ``with``.
* A local ``let`` adds no node: the name stands for its value's id; a local
  function ``let f x = e`` is a ``lambda`` named ``f``.  A pattern
  in a ``let``, a lambda parameter, a ``for`` or a ``let!`` is taken apart with
  ``proj`` (tuples); ``let mutable`` is ``var``, reading it is ``load``,
  ``x <- e`` is ``assign`` and ``a.[i] <- e`` is ``store``.
* Sequencing is body order: ``e1; e2`` lowers ``e1`` and then ``e2``, whose
  value is the block's.
* ``match`` arms bind their pattern variables as region params, left to
  right; an or-pattern is expanded into one arm per alternative (each lowers
  the arm's guard and body again).
* ``async { ... }`` is ``async`` with ``let!``/``do!`` as ``bind`` and
  ``return e`` as the region's value; ``query { for m in xs do select e }`` is
  ``query``.

Top level: a ``func`` for each ``let`` with parameters (one region param per
curried parameter), a ``global`` for a ``let`` without, an ``extern`` (arity
from its type; ``pure``, ``cost`` and ``resource`` from its attributes), and a
``typedef`` per record, union or measure.

Refutable patterns outside ``match`` (``let (Some x) = e``), a top-level
``let`` of a pattern, local ``let rec``, assignment to record fields and
``seq { }`` are reported as located diagnostics rather than lowered.
"""

from __future__ import annotations

from typing import Callable, Iterable

import attrs
from pyrsistent import pmap

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import ast
from nanopass.frontend import types as T
from nanopass.frontend.typecheck import Typing
from nanopass.graph import Builder, Graph

_PRIM_BINARY = frozenset({"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "&&&", "|||", "^^^", "<<<", ">>>"})
_PRIM_UNARY = {"-": "neg", "not": "not"}
_METHODS = {"PostAndReply": "post", "Tell": "tell"}


class _Local:
    """What a local name stands for: the id of its value, or of its cell when mutable."""

    __slots__ = ("node", "mutable")

    def __init__(self, node: int, mutable: bool = False):
        self.node = node
        self.mutable = mutable


class _Abandon(Exception):
    """Stops lowering the current declaration once a diagnostic is recorded."""


class _Lowering:
    def __init__(self, typing: Typing, filename: str, source: str | None):
        self.typing = typing
        self.source = source
        self.b = Builder(filename)
        self.types: dict[int, T.Type] = {}
        self.typedefs: dict[int, T.RecordDef | T.UnionDef] = {}
        self.param_spans: dict[int, Span] = {}  # params located by their own pattern
        self.diagnostics: list[Diagnostic] = []
        # Locals are keyed by the AST node that introduces them (a NamePattern, or the
        # ForRange of a loop index), which is what the type checker resolves each use to.
        self.locals: dict[int, _Local] = {}
        self._expr: dict[type, Callable[[ast.Expr], int]] = {
            ast.Literal: self.literal, ast.Var: self.var, ast.App: self.app, ast.MethodCall: self.method_call,
            ast.Lambda: self.lambda_, ast.Let: self.let, ast.Assign: self.assign, ast.If: self.if_,
            ast.Match: self.match, ast.BinOp: self.binop, ast.UnOp: self.unop, ast.Tuple: self.tuple_,
            ast.RecordExpr: self.record, ast.RecordUpdate: self.record_update, ast.FieldAccess: self.field,
            ast.Index: self.index, ast.ArrayLit: self.array, ast.ListLit: self.list_, ast.While: self.while_,
            ast.ForRange: self.for_range, ast.ForEach: self.for_each, ast.Sequence: self.sequence,
            ast.CompExpr: self.comp_expr, ast.LetBang: self.let_bang, ast.DoBang: self.do_bang,
            ast.Return: self.return_, ast.Select: self.select,
        }

    # -- building -------------------------------------------------------------------------
    def fail(self, span: Span, message: str) -> _Abandon:
        self.diagnostics.append(Diagnostic(span, message, source=self.source))
        return _Abandon(message)

    def type_of(self, node: ast.Node) -> T.Type | None:
        try:
            return self.typing.type_of(node)
        except KeyError:
            return None

    def set_type(self, node_id: int, type_: T.Type | None) -> None:
        if type_ is not None:
            self.types[node_id] = type_

    def set_typedef(self, node_id: int, definition: T.RecordDef | T.UnionDef | None) -> None:
        if definition is not None:
            self.typedefs[node_id] = definition

    def op(self, kind: str, *operands: int, at: ast.Node, type_: T.Type | None = None,
           regions: Iterable[int] = (), **attributes) -> int:
        """A node with ``at``'s span, typed ``type_`` or else as the type checker typed ``at``."""
        node_id = self.b.op(kind, *operands, regions=regions, span=at.span, **attributes)
        self.set_type(node_id, type_ if type_ is not None else self.type_of(at))
        return node_id

    def const(self, at: ast.Node, value, type_: T.TPrim) -> int:
        return self.op("const", at=at, type_=type_, value=value, type=type_.base)

    def region(self, params: Iterable[tuple[str, T.Type | None] | ast.Pattern], span: Span):
        """Open a region (a context manager, as `Builder.region`) over params given as
        patterns (named, typed and located by them) or as (name, type) pairs."""
        params = list(params)
        handle = self.b.region(params=[self.param_name(p, i) if isinstance(p, ast.Pattern) else p[0]
                                       for i, p in enumerate(params)], span=span)
        for param, spec in zip(handle.params, params):
            if isinstance(spec, ast.Pattern):
                self.set_type(param, self.type_of(spec))
                self.param_spans[param] = spec.span
            else:
                self.set_type(param, spec[1])
        return handle

    # -- declarations -------------------------------------------------------------------------
    def program(self, program: ast.Program) -> Graph:
        for decl in program.decls:
            try:
                self.declaration(decl)
            except _Abandon:
                continue
        if self.diagnostics:
            raise DiagnosticError(self.diagnostics)
        graph = self.b.build()
        nodes = graph.nodes.evolver()
        for param, span in self.param_spans.items():
            nodes[param] = attrs.evolve(nodes[param], span=span)
        graph = attrs.evolve(graph, nodes=nodes.persistent())
        # One pmap built from the dict: much faster than merging into an empty table.
        return graph.with_annotations(graph.annotations.set("types", pmap(self.types))
                                      .set("typedefs", pmap(self.typedefs)))

    def declaration(self, decl: ast.Decl) -> None:
        if isinstance(decl, ast.MeasureDecl):
            self.b.op("typedef", span=decl.span, name=decl.name, form="measure")
        elif isinstance(decl, ast.RecordDecl):
            node = self.b.op("typedef", span=decl.span, name=decl.name, form="record",
                             fields=tuple(f.name for f in decl.fields))
            self.set_type(node, self.named_type(decl.name, self.typing.record_defs.get(decl.name)))
            self.set_typedef(node, self.typing.record_defs.get(decl.name))
        elif isinstance(decl, ast.UnionDecl):
            node = self.b.op("typedef", span=decl.span, name=decl.name, form="union",
                             cases=tuple(c.name for c in decl.cases))
            self.set_type(node, self.named_type(decl.name, self.typing.union_defs.get(decl.name)))
            self.set_typedef(node, self.typing.union_defs.get(decl.name))
        elif isinstance(decl, ast.ExternDecl):
            self.extern(decl)
        elif isinstance(decl, ast.LetDecl):
            group = ",".join(b.name or "_" for b in decl.bindings) if decl.rec else None
            for binding in decl.bindings:
                self.top_binding(binding, decl.attributes, group)
        else:
            raise self.fail(decl.span, f"unexpected declaration {type(decl).__name__}")

    @staticmethod
    def named_type(name: str, definition) -> T.TCon:
        params = definition.params if definition is not None else ()
        return T.TCon(name, tuple(T.TVar(p) for p in params))

    def extern(self, decl: ast.ExternDecl) -> None:
        extern_type = self.type_of(decl)
        arity, t = 0, extern_type
        while isinstance(t, T.TFun):
            arity, t = arity + 1, t.result
        extras: dict = {"pure": False}
        others = []
        for attribute in decl.attributes:
            args = tuple(a.value for a in attribute.args)
            if attribute.name == "Pure":
                extras["pure"] = True
            elif attribute.name == "Cost" and len(args) == 1:
                extras["cost"] = args[0]
            elif attribute.name == "Resource" and len(args) == 1:
                extras["resource"] = args[0]
            else:
                others.append((attribute.name, args))
        if others:
            extras["attributes"] = tuple(others)
        node = self.b.op("extern", span=decl.span, name=decl.name, arity=arity, **extras)
        self.set_type(node, extern_type)

    def top_binding(self, binding: ast.Binding, attributes: tuple[ast.Attribute, ...], group: str | None) -> None:
        name = binding.name
        if name is None:
            raise self.fail(binding.pattern.span, "a top-level 'let' binds one name here; expected "
                                                  "'let name = ...' (take the value apart inside a function)")
        extras: dict = {}
        if attributes:
            extras["attributes"] = tuple((a.name, tuple(x.value for x in a.args)) for a in attributes)
        if binding.params:
            names = tuple(self.param_name(p, i) for i, p in enumerate(binding.params))
            with self.region(binding.params, binding.span) as body:
                self.bind_all(binding.params, body.params)
                body.yields(self.expr(binding.body))
            if group is not None:
                extras["rec_group"] = group
            node = self.b.op("func", regions=[body.id], span=binding.span, name=name, params=names, **extras)
        else:
            with self.region((), binding.span) as body:
                body.yields(self.expr(binding.body))
            node = self.b.op("global", regions=[body.id], span=binding.span, name=name, **extras)
        self.set_type(node, self.type_of(binding))

    # -- binding patterns (parameters, let, for, let!) ----------------------------------------
    @staticmethod
    def param_name(pattern: ast.Pattern, index: int) -> str:
        while isinstance(pattern, ast.TypedPattern):
            pattern = pattern.pattern
        if isinstance(pattern, ast.NamePattern):
            return pattern.name
        if isinstance(pattern, ast.LiteralPattern) and pattern.literal.kind is ast.LiteralKind.UNIT:
            return "()"
        return f"arg{index}"

    def bind_all(self, patterns: Iterable[ast.Pattern], values: Iterable[int]) -> None:
        for pattern, value in zip(patterns, values):
            self.bind(pattern, value)

    def bind(self, pattern: ast.Pattern, value: int) -> None:
        """Bind the names of an irrefutable pattern to ``value`` and its parts."""
        if isinstance(pattern, ast.TypedPattern):
            self.bind(pattern.pattern, value)
        elif isinstance(pattern, ast.NamePattern):
            self.locals[id(pattern)] = _Local(value)
        elif isinstance(pattern, ast.TuplePattern):
            for index, element in enumerate(pattern.elements):
                if not self.binds_nothing(element):
                    self.bind(element, self.op("proj", value, at=element, index=index))
        elif not self.binds_nothing(pattern):
            raise self.fail(pattern.span, "this pattern can fail to match; expected a name, '_', '()' or a tuple "
                                          "of them here (use 'match' for the others)")

    @staticmethod
    def binds_nothing(pattern: ast.Pattern) -> bool:
        while isinstance(pattern, ast.TypedPattern):
            pattern = pattern.pattern
        return isinstance(pattern, ast.WildcardPattern) or (
            isinstance(pattern, ast.LiteralPattern) and pattern.literal.kind is ast.LiteralKind.UNIT)

    # -- names ------------------------------------------------------------------------------------
    def expr(self, e: ast.Expr) -> int:
        return self._expr[type(e)](e)

    def literal(self, e: ast.Literal) -> int:
        return self.op("const", at=e, value=e.value, type=e.kind.value)

    def var(self, e: ast.Var) -> int:
        binding = self.typing.resolve(e)
        if binding.kind == "local":
            local = self.local(e, binding)
            return self.op("load", local.node, at=e) if local.mutable else local.node
        if binding.kind == "case":
            return self.case_value(e, binding)
        if binding.kind == "operator":
            return self.operator_value(e)
        if binding.kind == "actor":
            raise self.fail(e.span, "'Actor.start' is applied to an initial state and a handler lambda here")
        return self.op("ref", at=e, name=binding.name)

    def local(self, e: ast.Var, binding) -> _Local:
        local = self.locals.get(id(binding.node))
        if local is None:
            raise self.fail(e.span, f"'{e.name}' is used before its value exists (a local 'let rec'?); "
                                    "expected it bound earlier")
        return local

    def case_arity(self, union: str, case: str) -> int:
        return len(self.typing.union_defs[union].case_fields(case) or ())

    def case_value(self, e: ast.Var, binding) -> int:
        """A union case named on its own: the value, or a lambda building it when it has fields."""
        arity = self.case_arity(binding.union, binding.name)
        if arity == 0:
            return self.op("union", at=e, type=binding.union, case=binding.name)
        t = self.type_of(e)
        (arg_type,) = self.arg_types(t, 1)
        with self.region([("x", arg_type)], e.span) as body:
            payload = self.spread(body.params[0], arity, e, arg_type)
            body.yields(self.op("union", *payload, at=e, type_=self.result_type(t, 1), type=binding.union,
                                case=binding.name))
        return self.op("lambda", at=e, regions=[body.id])

    def operator_value(self, e: ast.Var) -> int:
        """An operator used as a function (``(+)``, ``not``, ``(::)``): a lambda over it."""
        t = self.type_of(e)
        arity = 1 if e.name == "not" else 2
        arg_types = self.arg_types(t, arity)
        with self.region([(f"x{i}", a) for i, a in enumerate(arg_types)], e.span) as body:
            body.yields(self.operation(e.name, list(body.params), e, self.result_type(t, arity)))
        return self.op("lambda", at=e, regions=[body.id])

    def operation(self, op: str, operands: list[int], at: ast.Node, type_: T.Type | None = None) -> int:
        """An operator over values already computed (``&&`` / ``||`` as ``if``)."""
        if op == "::":
            return self.op("cons", *operands, at=at, type_=type_)
        if op in ("&&", "||"):
            return self.short_circuit(op, operands[0], lambda: operands[1], at)
        if len(operands) == 1:
            return self.op("prim", *operands, at=at, type_=type_, op=_PRIM_UNARY[op])
        return self.op("prim", *operands, at=at, type_=type_, op=op)

    @staticmethod
    def arg_types(t: T.Type | None, count: int) -> list[T.Type | None]:
        found: list[T.Type | None] = []
        for _ in range(count):
            found.append(t.arg if isinstance(t, T.TFun) else None)
            t = t.result if isinstance(t, T.TFun) else None
        return found

    @staticmethod
    def result_type(t: T.Type | None, count: int) -> T.Type | None:
        for _ in range(count):
            if not isinstance(t, T.TFun):
                return None
            t = t.result
        return t

    def spread(self, value: int, arity: int, at: ast.Node, value_type: T.Type | None) -> list[int]:
        """A case's fields from its one argument: the argument, or the items of a tuple."""
        if arity == 1:
            return [value]
        items = value_type.items if isinstance(value_type, T.TTuple) else (None,) * arity
        return [self.op("proj", value, at=at, type_=items[i], index=i) for i in range(arity)]

    # -- application ------------------------------------------------------------------------------
    def app(self, e: ast.App) -> int:
        return self.apply(e.function, list(e.args), e)

    def apply(self, function: ast.Expr, args: list[ast.Expr], at: ast.Expr, piped: int | None = None) -> int:
        """``function args...``: nested applications flattened, special callees resolved.

        ``piped`` is the value of ``x`` in ``x |> function args``: already
        computed, since F# evaluates the left of a pipe first; it is the last argument.
        """
        while isinstance(function, ast.App):
            args = list(function.args) + args
            function = function.function
        if piped is not None:
            callee = self.expr(function)
            return self.op("apply", callee, *(self.expr(a) for a in args), piped, at=at)
        if isinstance(function, ast.Var):
            binding = self.typing.resolve(function)
            if binding.kind == "actor":
                return self.actor(args, at)
            if binding.kind == "case" and len(args) == 1:
                return self.construct(binding, args[0], at)
            if binding.kind == "operator" and len(args) == (1 if binding.name == "not" else 2):
                if binding.name in ("&&", "||"):
                    left = self.expr(args[0])
                    return self.short_circuit(binding.name, left, lambda: self.expr(args[1]), at)
                return self.operation(binding.name, [self.expr(a) for a in args], at)
        callee = self.expr(function)
        return self.op("apply", callee, *(self.expr(a) for a in args), at=at)

    def construct(self, binding, arg: ast.Expr, at: ast.Expr) -> int:
        arity = self.case_arity(binding.union, binding.name)
        if arity > 1 and isinstance(arg, ast.Tuple) and len(arg.elements) == arity:
            payload = [self.expr(x) for x in arg.elements]
        else:
            payload = self.spread(self.expr(arg), arity, arg, self.type_of(arg))
        return self.op("union", *payload, at=at, type=binding.union, case=binding.name)

    def actor(self, args: list[ast.Expr], at: ast.Expr) -> int:
        handler = args[1] if len(args) == 2 else None
        if not (isinstance(handler, ast.Lambda) and len(handler.params) == 2):
            raise self.fail(at.span, "expected 'Actor.start init (fun state msg -> ...)': the handler written "
                                     "as a lambda of two parameters")
        init = self.expr(args[0])
        with self.region(handler.params, handler.span) as body:
            self.bind_all(handler.params, body.params)
            result = self.expr(handler.body)
            result_type = self.type_of(handler.body)
            items = result_type.items if isinstance(result_type, T.TTuple) else (None, None)
            body.yields(*(self.op("proj", result, at=handler.body, type_=items[i], index=i) for i in range(2)))
        return self.op("actor", init, at=at, regions=[body.id])

    def method_call(self, e: ast.MethodCall) -> int:
        if e.method not in _METHODS:
            raise self.fail(e.span, f"unknown method '{e.method}'; expected 'PostAndReply' or 'Tell' on an actor")
        actor = self.expr(e.receiver)
        if len(e.args) == 1:
            message = self.expr(e.args[0])
        else:
            items = [self.expr(a) for a in e.args]
            message = self.op("tuple", *items, at=e, type_=T.TTuple(tuple(map(self.type_of, e.args))))
        return self.op(_METHODS[e.method], actor, message, at=e)

    def lambda_(self, e: ast.Lambda) -> int:
        return self.closure(e.params, e.body, e, self.type_of(e))

    def closure(self, params: tuple[ast.Pattern, ...], body_expr: ast.Expr, at: ast.Node, type_: T.Type | None,
                name: str | None = None) -> int:
        with self.region(params, at.span) as body:
            self.bind_all(params, body.params)
            body.yields(self.expr(body_expr))
        extras = {} if name is None else {"name": name}
        return self.op("lambda", at=at, type_=type_, regions=[body.id], **extras)

    # -- let, assignment, sequencing ----------------------------------------------------------------
    def let(self, e: ast.Let) -> int:
        if e.rec:
            raise self.fail(e.span, "a local 'let rec' is not supported; expected it at the top level")
        for binding in e.bindings:
            self.local_binding(binding)
        return self.expr(e.body)

    def local_binding(self, binding: ast.Binding) -> None:
        if binding.params:
            value = self.closure(binding.params, binding.body, binding, self.type_of(binding), name=binding.name)
            self.bind(binding.pattern, value)
            return
        value = self.expr(binding.body)
        if binding.mutable:
            pattern = binding.pattern.pattern if isinstance(binding.pattern, ast.TypedPattern) else binding.pattern
            if not isinstance(pattern, ast.NamePattern):
                raise self.fail(binding.pattern.span, "'let mutable' binds one name; expected 'let mutable x = ...'")
            cell = self.op("var", value, at=binding, name=pattern.name)
            self.locals[id(pattern)] = _Local(cell, mutable=True)
            return
        self.bind(binding.pattern, value)

    def assign(self, e: ast.Assign) -> int:
        target = e.target
        if isinstance(target, ast.Var):
            binding = self.typing.resolve(target)
            local = self.local(target, binding) if binding.kind == "local" else None
            if local is None or not local.mutable:
                raise self.fail(target.span, f"'{target.name}' is not a mutable local")
            return self.op("assign", local.node, self.expr(e.value), at=e, type_=T.UNIT)
        if isinstance(target, ast.Index):
            array = self.expr(target.target)
            indices = [self.expr(i) for i in target.indices]
            return self.op("store", array, *indices, self.expr(e.value), at=e, type_=T.UNIT)
        raise self.fail(target.span, "only mutable locals and array elements can be assigned in the PSG; "
                                     "expected 'x <- e' or 'a.[i] <- e'")

    def sequence(self, e: ast.Sequence) -> int:
        for item in e.exprs[:-1]:
            self.expr(item)
        return self.expr(e.exprs[-1])

    # -- branches -------------------------------------------------------------------------------------
    def if_(self, e: ast.If) -> int:
        cond = self.expr(e.condition)
        with self.region((), e.then_branch.span) as then:
            then.yields(self.expr(e.then_branch))
        with self.region((), (e.else_branch or e).span) as other:
            other.yields(self.expr(e.else_branch) if e.else_branch is not None else self.const(e, None, T.UNIT))
        return self.op("if", cond, at=e, regions=[then.id, other.id])

    def short_circuit(self, op: str, left: int, right: Callable[[], int], at: ast.Node) -> int:
        """``a && b`` is ``if a then b else false``; ``a || b`` is ``if a then true else b``."""
        with self.region((), at.span) as then:
            then.yields(right() if op == "&&" else self.const(at, True, T.BOOL))
        with self.region((), at.span) as other:
            other.yields(self.const(at, False, T.BOOL) if op == "&&" else right())
        return self.op("if", left, at=at, type_=T.BOOL, regions=[then.id, other.id])

    def match(self, e: ast.Match) -> int:
        scrutinee = self.expr(e.scrutinee)
        regions, patterns, guards = [], [], []
        for arm in e.arms:
            canonical = self.canonical_names(arm.pattern)
            for alternative in self.alternatives(arm.pattern):
                tree, bound = self.pattern_tree(alternative)
                if arm.guard is not None:
                    with self.region(bound, arm.guard.span) as guard:
                        self.bind_arm(bound, guard.params, canonical)
                        guard.yields(self.expr(arm.guard))
                    regions.append(guard.id)
                with self.region(bound, arm.body.span) as body:
                    self.bind_arm(bound, body.params, canonical)
                    body.yields(self.expr(arm.body))
                regions.append(body.id)
                patterns.append(tree)
                guards.append(arm.guard is not None)
        return self.op("match", scrutinee, at=e, regions=regions, patterns=tuple(patterns), guards=tuple(guards))

    def bind_arm(self, bound: list[ast.NamePattern], params: Iterable[int], canonical: dict[str, ast.NamePattern]):
        # Uses resolve to the left alternative's name pattern, as the type checker binds or-patterns.
        for pattern, param in zip(bound, params):
            self.locals[id(pattern)] = self.locals[id(canonical[pattern.name])] = _Local(param)

    def canonical_names(self, pattern: ast.Pattern) -> dict[str, ast.NamePattern]:
        found: dict[str, ast.NamePattern] = {}
        stack = [pattern]
        while stack:
            p = stack.pop()
            if isinstance(p, ast.NamePattern):
                found.setdefault(p.name, p)
            elif isinstance(p, ast.OrPattern):
                stack.append(p.left)
            else:
                stack.extend(reversed(self.sub_patterns(p)))
        return found

    @staticmethod
    def sub_patterns(p: ast.Pattern) -> list[ast.Pattern]:
        if isinstance(p, ast.TypedPattern):
            return [p.pattern]
        if isinstance(p, ast.TuplePattern):
            return list(p.elements)
        if isinstance(p, ast.UnionCasePattern):
            return list(p.args)
        if isinstance(p, ast.ConsPattern):
            return [p.head, p.tail]
        if isinstance(p, ast.ListPattern):
            return list(p.elements)
        return []

    def alternatives(self, pattern: ast.Pattern) -> list[ast.Pattern]:
        """An or-pattern as its alternatives (nested ones multiply out)."""
        if isinstance(pattern, ast.OrPattern):
            return self.alternatives(pattern.left) + self.alternatives(pattern.right)
        if isinstance(pattern, ast.TypedPattern):
            return [ast.TypedPattern(p, pattern.type, span=pattern.span) for p in self.alternatives(pattern.pattern)]
        if isinstance(pattern, ast.TuplePattern):
            return [ast.TuplePattern(tuple(ps), span=pattern.span) for ps in self.product(pattern.elements)]
        if isinstance(pattern, ast.UnionCasePattern):
            return [ast.UnionCasePattern(pattern.name, tuple(ps), span=pattern.span)
                    for ps in self.product(pattern.args)]
        if isinstance(pattern, ast.ConsPattern):
            return [ast.ConsPattern(h, t, span=pattern.span) for h, t in self.product((pattern.head, pattern.tail))]
        if isinstance(pattern, ast.ListPattern):
            return [ast.ListPattern(tuple(ps), span=pattern.span) for ps in self.product(pattern.elements)]
        return [pattern]

    def product(self, patterns: Iterable[ast.Pattern]) -> list[list[ast.Pattern]]:
        combos: list[list[ast.Pattern]] = [[]]
        for pattern in patterns:
            combos = [c + [alt] for c in combos for alt in self.alternatives(pattern)]
        return combos

    def pattern_tree(self, pattern: ast.Pattern) -> tuple[tuple, list[ast.NamePattern]]:
        """The pattern tree of `nanopass.languages` and the name patterns it binds, left to right."""
        bound: list[ast.NamePattern] = []

        def tree(p: ast.Pattern, expected: T.Type | None) -> tuple:
            if isinstance(p, ast.TypedPattern):
                return tree(p.pattern, expected)
            if isinstance(p, ast.WildcardPattern):
                return ("wild",)
            if isinstance(p, ast.NamePattern):
                bound.append(p)
                return ("bind", p.name)
            if isinstance(p, ast.LiteralPattern):
                return ("lit", p.literal.value, p.literal.kind.value)
            if isinstance(p, ast.TuplePattern):
                return ("tuple", *(tree(x, None) for x in p.elements))
            if isinstance(p, ast.UnionCasePattern):
                return ("case", p.name.rsplit(".", 1)[-1], *(tree(x, None) for x in self.case_args(p, expected)))
            if isinstance(p, ast.ConsPattern):
                return ("cons", tree(p.head, None), tree(p.tail, None))
            if isinstance(p, ast.ListPattern):
                result: tuple = ("nil",)
                for element in reversed([tree(x, None) for x in p.elements]):
                    result = ("cons", element, result)
                return result
            raise self.fail(p.span, f"unexpected pattern {type(p).__name__}")

        return tree(pattern, self.type_of(pattern)), bound

    def case_args(self, p: ast.UnionCasePattern, expected: T.Type | None) -> tuple[ast.Pattern, ...]:
        """A case pattern's arguments, one per field, normalised as the type checker reads them."""
        union_type = self.type_of(p) or expected
        case = p.name.rsplit(".", 1)[-1]
        arity = self.case_arity(union_type.name, case) if isinstance(union_type, T.TCon) else len(p.args)
        args = p.args
        if arity == 1 and len(args) > 1:
            return (ast.TuplePattern(args, span=p.span),)
        if arity > 1 and len(args) == 1 and isinstance(args[0], ast.WildcardPattern):
            return args * arity
        return args

    # -- operators ------------------------------------------------------------------------------------
    def binop(self, e: ast.BinOp) -> int:
        op = e.op
        if op == "|>":
            return self.apply(e.right, [], e, piped=self.expr(e.left))
        if op == "<|":
            return self.apply(e.left, [e.right], e)
        if op in (">>", "<<"):
            first, second = (e.left, e.right) if op == ">>" else (e.right, e.left)
            return self.compose(first, second, e)
        if op in ("&&", "||"):
            left = self.expr(e.left)
            return self.short_circuit(op, left, lambda: self.expr(e.right), e)
        if op == "::" or op in _PRIM_BINARY:
            return self.operation(op, [self.expr(e.left), self.expr(e.right)], e)
        raise self.fail(e.span, f"unknown operator '{op}'")

    def compose(self, first: ast.Expr, second: ast.Expr, at: ast.BinOp) -> int:
        """``first >> second`` is ``fun x -> second (first x)``."""
        f, g = self.expr(first), self.expr(second)
        t = self.type_of(at)
        with self.region([("x", self.arg_types(t, 1)[0])], at.span) as body:
            middle = self.op("apply", f, body.params[0], at=first, type_=self.result_type(self.type_of(first), 1))
            body.yields(self.op("apply", g, middle, at=second, type_=self.result_type(t, 1)))
        return self.op("lambda", at=at, regions=[body.id])

    def unop(self, e: ast.UnOp) -> int:
        return self.op("prim", self.expr(e.operand), at=e, op=_PRIM_UNARY[e.op])

    # -- data -------------------------------------------------------------------------------------------
    def tuple_(self, e: ast.Tuple) -> int:
        return self.op("tuple", *(self.expr(x) for x in e.elements), at=e)

    def record(self, e: ast.RecordExpr) -> int:
        values = [self.expr(f.value) for f in e.fields]
        return self.op("record", *values, at=e, type=self.typing.record_of(e), fields=tuple(f.name for f in e.fields))

    def record_update(self, e: ast.RecordUpdate) -> int:
        source = self.expr(e.source)
        values = [self.expr(f.value) for f in e.fields]
        return self.op("with", source, *values, at=e, fields=tuple(f.name for f in e.fields))

    def field(self, e: ast.FieldAccess) -> int:
        return self.op("field", self.expr(e.target), at=e, name=e.field)

    def index(self, e: ast.Index) -> int:
        return self.op("index", self.expr(e.target), *(self.expr(i) for i in e.indices), at=e)

    def array(self, e: ast.ArrayLit) -> int:
        return self.op("array", *(self.expr(x) for x in e.elements), at=e)

    def list_(self, e: ast.ListLit) -> int:
        return self.op("list", *(self.expr(x) for x in e.elements), at=e)

    # -- loops --------------------------------------------------------------------------------------------
    def while_(self, e: ast.While) -> int:
        with self.region((), e.condition.span) as cond:
            cond.yields(self.expr(e.condition))
        with self.region((), e.body.span) as body:
            self.expr(e.body)
        return self.op("while", at=e, type_=T.UNIT, regions=[cond.id, body.id])

    def for_range(self, e: ast.ForRange) -> int:
        lo, hi = self.expr(e.start), self.expr(e.stop)
        # The type checker types a ForRange node as its index.
        with self.region([(e.variable, self.type_of(e))], e.body.span) as body:
            self.locals[id(e)] = _Local(body.params[0])
            self.expr(e.body)
        return self.op("for", lo, hi, at=e, type_=T.UNIT, regions=[body.id])

    def for_each(self, e: ast.ForEach) -> int:
        xs = self.expr(e.source)
        with self.region([e.pattern], e.body.span) as body:
            self.bind(e.pattern, body.params[0])
            self.expr(e.body)
        return self.op("foreach", xs, at=e, type_=T.UNIT, regions=[body.id])

    # -- computation expressions --------------------------------------------------------------------------
    def comp_expr(self, e: ast.CompExpr) -> int:
        if e.builder == "async":
            with self.region((), e.body.span) as body:
                body.yields(self.expr(e.body))
            return self.op("async", at=e, regions=[body.id])
        if e.builder == "query" and isinstance(e.body, ast.ForEach) and isinstance(e.body.body, ast.Select):
            loop = e.body
            source = self.expr(loop.source)
            with self.region([loop.pattern], loop.span) as body:
                self.bind(loop.pattern, body.params[0])
                body.yields(self.expr(loop.body.expr))
            return self.op("query", source, at=e, regions=[body.id])
        raise self.fail(e.span, f"'{e.builder} {{ }}' is not in the Clef subset; expected 'async {{ }}' or "
                                "'query { for x in xs do select e }'")

    def let_bang(self, e: ast.LetBang) -> int:
        value = self.op("bind", self.expr(e.value), at=e, type_=self.type_of(e.pattern))
        self.bind(e.pattern, value)
        return self.expr(e.body)

    def do_bang(self, e: ast.DoBang) -> int:
        return self.op("bind", self.expr(e.expr), at=e, type_=T.UNIT)

    def return_(self, e: ast.Return) -> int:
        return self.expr(e.expr)

    def select(self, e: ast.Select) -> int:
        raise self.fail(e.span, "'select' ends a 'query { for x in xs do select e }' only")


def lower_program(program: ast.Program, typing: Typing, filename: str = "<input>", source: str | None = None) -> Graph:
    """The `Clef` graph of a checked program; `DiagnosticError` for what the PSG cannot express."""
    return _Lowering(typing, filename, source).program(program)

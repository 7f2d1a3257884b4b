"""Elaboration (Clef -> Elaborated): make the implicit explicit.

Its one concern is to spell out what the source leaves implicit, without
changing what the program computes:

* **Intrinsics become native operations.**  A saturated ``apply`` of a
  ``ref`` to an intrinsic (``Array.map``, ``sqrt``, ``float``, ...) becomes
  ``native {op = name}`` over the arguments; a ``ref`` to an intrinsic that
  takes no argument (``Map.empty``) becomes a ``native`` with no operands.  A
  name that is neither a declaration nor an intrinsic is a located diagnostic.
* **Calls are resolved.**  A saturated ``apply`` of a top-level ``func`` or
  ``extern`` becomes ``call`` (operand 0 the callee ``ref``, ``callee`` its
  name), fewer arguments make a ``pap``, more are split into the saturated
  call and a ``call`` of its result with the rest.  Any other callee is a
  closure value: ``call`` applies it to its arguments one after another.
* **Effects are token chains.**  Which top-level functions may have effects
  is the least fixed point over the call graph (a call of an effectful
  extern or function, ``store``, ``post``, ``tell``, ``bind``, a native op
  handed an effectful closure, a structured node with an effectful region).
  Calling a closure value is effectful when the program makes any effectful
  closure at all (a sound, whole-program approximation).  Every effectful
  node consumes the current token of its region and is the next one; a
  region with effects gets an entry ``token`` node and ``effect_out``;
  ``if``/``match``/loops with an effectful region are chained in their parent
  like any other effectful node.  Building a lambda, an ``async`` or an actor
  is pure: their effects happen when they run.
* **Mutable locals become SSA values** (``var``/``load``/``assign`` vanish).
  Straight-line assignments rebind the cell to the new value.  An ``if`` or
  ``match`` whose regions assign cells declared outside it yields, after its
  own value, the final value of each such cell (ordered by the cell's id); the
  node's value is then the tuple of its results and ``proj`` nodes take it
  apart (``proj 0`` is the original value).  ``while`` becomes ``loop`` with
  the assigned cells as loop-carried values: the initial values are its
  operands, the condition and body regions take the current values as
  params, the body yields the next ones, and ``proj`` extracts the finals
  from the node's value (always the tuple of final values).  ``for`` and
  ``foreach`` get the carried values as extra operands and params the same
  way.  A cell read or written inside a closure, ``async`` or actor handler
  declared outside it is a diagnostic (F# forbids capturing mutable locals),
  and so is an assignment in a ``while`` condition or a ``when`` guard.
* **``query`` becomes a map**: ``native Array.map`` or ``List.map`` (by the
  source's type) over a ``lambda`` owning the query's region.
* **``async`` keeps its node**, its region always has an entry token, and
  ``bind`` (``let!``/``do!``) becomes ``await``: the suspension point.
* **Operator types are explicit**: every ``prim`` gets its operand ``type``
  (int, float, uint8, ...) from the ``types`` annotation table when present.

Node and region ids are kept (a rewritten node keeps its id; new nodes are
appended), so annotation tables keyed by id stay meaningful; the ``types``
table is updated for the nodes whose value changed.

Validation obligation: the output refines the input, that is, every entry
point returns the same result on every input and performs the same effects in
the same order.  Until the z3 semantics exist, the reference interpreter checks
this differentially (tests/test_elaborate.py runs every shared example and
hand-made graphs before and after).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable

import attrs

from nanopass.diagnostics import UNKNOWN_SPAN, Diagnostic, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph, Node, Region, make_attributes
from nanopass.languages import Clef, Elaborated
from nanopass.pass_ import PassContext, Rewriter, RewritePass, register

# Regions run apart from the code around them: mutable locals declared outside
# cannot be used inside, and their effects belong to whoever runs them.
_CLOSED_OWNERS = frozenset({"func", "global", "lambda", "async", "actor", "query"})
_ALWAYS_EFFECTFUL = frozenset({"store", "post", "tell", "bind"})
_STRUCTURED = frozenset({"if", "match", "while", "for", "foreach"})


def intrinsic_parameters(name: str) -> tuple[T.Type, ...] | None:
    """The curried parameter types of the intrinsic ``name`` (None: not an intrinsic)."""
    scheme = INTRINSICS.get(name)
    if scheme is None:
        return None
    params, t = [], scheme.body
    while isinstance(t, T.TFun):
        params.append(t.arg)
        t = t.result
    return tuple(params)


def operand_type_name(t: T.Type) -> str:
    """The ``type`` attribute of a ``prim``: the primitive's name without its unit, else the F# type."""
    if isinstance(t, T.TPrim) and isinstance(t.base, str):
        return t.base
    return T.show(t)


def tuple_type(items: Iterable[T.Type | None]) -> T.TTuple | None:
    items = tuple(items)
    return None if any(i is None for i in items) else T.TTuple(items)


def container_kind(t: T.Type | None) -> str | None:
    if isinstance(t, T.TArray):
        return "array"
    if isinstance(t, T.TCon) and t.name == "list":
        return "list"
    return None


def result_after(t: T.Type | None, count: int) -> T.Type | None:
    """The type left after applying a function of type ``t`` to ``count`` arguments."""
    for _ in range(count):
        if not isinstance(t, T.TFun):
            return None
        t = t.result
    return t


@attrs.frozen(slots=True)
class _Target:
    """What an ``apply`` calls when its callee is a ``ref``."""

    kind: str  # func | extern | intrinsic
    name: str
    arity: int
    # For an intrinsic: which arguments are functions it calls (their effects are its effects).
    function_args: tuple[int, ...] = ()

    def called_back(self, args: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(args[i] for i in self.function_args if i < len(args))


class _Effects:
    """Which nodes of a Clef graph may have effects: a least fixed point.

    The unknowns are the set of effectful top-level functions and whether the
    program makes any effectful closure; both only grow, so iterating the
    rules from (nothing, False) reaches the least solution.
    """

    def __init__(self, graph: Graph, targets: Callable[[int], _Target | None], uses: Counter):
        self.graph = graph
        self.target_of = targets
        self.uses = uses
        self.functions: set[str] = set()
        self.closures = False
        self._memo: dict[int, bool] = {}
        self._impure_externs = {n.attr("name") for _, n in graph.top_level()
                                if n.kind == "extern" and not n.attr("pure", False)}
        funcs = [(n.attr("name"), n.regions[0]) for _, n in graph.top_level() if n.kind == "func"]
        lambda_regions = [n.regions[0] for _, n in graph.live_nodes() if n.kind == "lambda"]
        escaping = self._escaping_refs()
        while True:
            self._memo = {}
            functions = {name for name, region in funcs if self.region(region)}
            closures = any(self.region(r) for r in lambda_regions) or any(
                self.callable(self.target_of(ref)) for ref in escaping)
            if functions == self.functions and closures == self.closures:
                break
            self.functions, self.closures = functions, closures

    def _escaping_refs(self) -> list[int]:
        """Refs to functions or externs used as values rather than called."""
        called: set[int] = set()
        refs = []
        for node_id, node in self.graph.live_nodes():
            if node.kind == "ref":
                refs.append(node_id)
            elif node.kind == "apply":
                target = self.target_of(node.operands[0])
                if target is not None and len(node.operands) - 1 >= target.arity:
                    called.add(node.operands[0])
        # A ref that is called saturated once and used nowhere else does not escape.
        return [r for r in refs if not (r in called and self.uses[r] == 1)]

    def callable(self, target: _Target | None) -> bool:
        """Whether a saturated call of this top-level function or extern may have effects."""
        if target is None or target.kind == "intrinsic":
            return False
        if target.kind == "extern":
            return target.name in self._impure_externs
        return target.name in self.functions

    def region(self, region_id: int) -> bool:
        if region_id not in self._memo:
            self._memo[region_id] = any(self.node(n) for n in self.graph.region(region_id).body)
        return self._memo[region_id]

    def node(self, node_id: int) -> bool:
        node = self.graph.node(node_id)
        if node.kind in _ALWAYS_EFFECTFUL:
            return True
        if node.kind == "apply":
            return self.apply(node)
        if node.kind in _STRUCTURED or node.kind == "query":
            return any(self.region(r) for r in node.regions)
        return False

    def apply(self, node: Node) -> bool:
        """Whether running this application may have effects."""
        callee, args = node.operands[0], node.operands[1:]
        target = self.target_of(callee)
        if target is None:
            return self.closure(callee)
        if len(args) < target.arity:
            return False
        if target.kind == "intrinsic":
            effectful = any(self.closure(a) for a in target.called_back(args))
        else:
            effectful = self.callable(target)
        return effectful or (len(args) > target.arity and self.closures)

    def closure(self, value: int) -> bool:
        """Whether calling ``value`` (a function value) may have effects."""
        node = self.graph.node(value)
        if node.kind == "lambda":
            return self.region(node.regions[0])
        if node.kind == "ref":
            target = self.target_of(value)
            if target is not None:
                return self.callable(target) or self._callbacks(target, ())
        if node.kind == "apply":
            target = self.target_of(node.operands[0])
            args = node.operands[1:]
            if target is not None and len(args) < target.arity:
                return self.callable(target) or self._callbacks(target, args)
        return self.closures

    def _callbacks(self, target: _Target, args: tuple[int, ...]) -> bool:
        """Whether an intrinsic given ``args`` so far may call an effectful function later."""
        supplied = any(self.closure(a) for a in target.called_back(args))
        return supplied or (any(i >= len(args) for i in target.function_args) and self.closures)


class _Pending:
    """A carried value nothing has read yet: its ``proj`` is made at the first read."""

    __slots__ = ("owner", "index", "scope", "span", "type", "made")

    def __init__(self, owner: int, index: int, scope: "_Scope", span: Span, type_: T.Type | None):
        self.owner, self.index, self.scope, self.span, self.type = owner, index, scope, span, type_
        self.made: int | None = None


class _Scope:
    """One region being elaborated: its new body, its token and its mutable cells."""

    def __init__(self, cells: dict[int, "int | _Pending"], span: Span):
        self.body: list[int] = []
        self.cells = cells  # cell (var id) -> its current SSA value
        self.span = span
        self.entry: int | None = None
        self.token: int | None = None


class Elaboration:
    """The state of one run: the rewriter, the scopes, the renaming of values."""

    def __init__(self, graph: Graph, ctx: PassContext, handlers: dict[str, Callable[..., int | None]]):
        self.graph = graph
        self.ctx = ctx
        self.rw = Rewriter(graph)
        self.handlers = handlers
        self.types = graph.annotation("types")
        self.type_updates: dict[int, T.Type | None] = {}
        self.renamed: dict[int, int] = {}  # input value id -> the output value that stands for it
        self.placed: set[int] = set()
        self.scopes: list[_Scope] = []
        self.diagnostics: list[Diagnostic] = []
        self.declarations = {n.attr("name"): n for _, n in graph.top_level() if n.attr("name") is not None}
        self.var_nodes = {i: n for i, n in graph.live_nodes() if n.kind == "var"}
        self._targets: dict[int, _Target | None] = {}
        self.uses: Counter = Counter()
        for _, node in graph.live_nodes():
            self.uses.update(node.operands)
        for region in graph.regions:
            if region is not None:
                self.uses.update(region.results)
        self.used = set(self.uses)
        self._assigned: dict[int, frozenset[int]] = {}
        self.effects = _Effects(graph, self.target, self.uses)
        self.native_callees = self._native_callees()
        self._check_cells_are_not_values()

    # -- diagnostics ------------------------------------------------------------
    def error(self, span: Span, message: str) -> None:
        self.diagnostics.append(Diagnostic(span, message))

    def _check_cells_are_not_values(self) -> None:
        for _, node in self.graph.live_nodes():
            for position, operand in enumerate(node.operands):
                if operand in self.var_nodes and not (node.kind in ("load", "assign") and position == 0):
                    name = self.var_nodes[operand].attr("name")
                    self.error(node.span, f"the mutable local '{name}' is used as a value by a '{node.kind}' node; "
                                          "expected a 'load' of it")
        for _, node in self.graph.live_nodes():
            for region_id in node.regions:
                for cell in (r for r in self.graph.region(region_id).results if r in self.var_nodes):
                    var = self.var_nodes[cell]
                    self.error(var.span, f"the mutable local '{var.attr('name')}' is the value of a region; "
                                         "expected a 'load' of it")

    def _native_callees(self) -> set[int]:
        """Refs whose one use is as the callee of an intrinsic that becomes a native op: they go."""
        found = set()
        for _, node in self.graph.live_nodes():
            if node.kind == "apply":
                target = self.target(node.operands[0])
                if (target is not None and target.kind == "intrinsic" and 0 < target.arity <= len(node.operands) - 1
                        and self.uses[node.operands[0]] == 1):
                    found.add(node.operands[0])
        return found

    # -- what a ref names ---------------------------------------------------------
    def target(self, value: int) -> _Target | None:
        if value not in self._targets:
            self._targets[value] = self._resolve_target(value)
        return self._targets[value]

    def _resolve_target(self, value: int) -> _Target | None:
        node = self.graph.node(value)
        if node.kind != "ref":
            return None
        name = node.attr("name")
        declaration = self.declarations.get(name)
        if declaration is not None:
            if declaration.kind == "func":
                return _Target("func", name, len(declaration.attr("params")))
            if declaration.kind == "extern":
                return _Target("extern", name, declaration.attr("arity"))
            return None
        params = intrinsic_parameters(name)
        if params is None:
            return None
        return _Target("intrinsic", name, len(params), tuple(i for i, p in enumerate(params) if isinstance(p, T.TFun)))

    # -- values -----------------------------------------------------------------
    def value(self, node_id: int) -> int:
        return self.renamed.get(node_id, node_id)

    def values(self, node_ids: Iterable[int]) -> tuple[int, ...]:
        return tuple(self.value(i) for i in node_ids)

    def with_renamed_operands(self, node: Node) -> Node:
        operands = self.values(node.operands)
        return node if operands == node.operands else attrs.evolve(node, operands=operands)

    @property
    def scope(self) -> _Scope:
        return self.scopes[-1]

    # -- emitting ---------------------------------------------------------------
    def emit(self, node: Node, at: int | None = None) -> int:
        """Append ``node`` to the current region, at id ``at`` (the node it rewrites) or a new id."""
        if at is None:
            node_id = self.rw.add(node)
        else:
            self.rw.replace(at, node)
            self.placed.add(at)
            node_id = at
        self.scope.body.append(node_id)
        return node_id

    def emit_effect(self, node: Node, at: int | None = None) -> int:
        """Append an effectful node: it consumes the current token and becomes the next one."""
        node = attrs.evolve(node, effect=self.token(node.span))
        node_id = self.emit(node, at)
        self.scope.token = node_id
        self.ctx.stat("effectful nodes threaded")
        return node_id

    def emit_maybe_effect(self, node: Node, effectful: bool, at: int | None = None) -> int:
        return self.emit_effect(node, at) if effectful else self.emit(node, at)

    def token(self, span: Span) -> int:
        scope = self.scope
        if scope.token is None:
            where = scope.span if scope.span != UNKNOWN_SPAN else span
            scope.entry = scope.token = self.rw.add(Node("token", span=where))
            self.ctx.stat("regions given an entry token")
        return scope.token

    def unit(self, span: Span, at: int | None = None) -> int:
        node_id = self.emit(Node("const", attributes=make_attributes({"value": None, "type": "unit"}), span=span), at)
        self.set_type(node_id, T.UNIT)
        return node_id

    def cell_value(self, cell: int) -> int:
        """The current value of a visible cell, making its ``proj`` if it is still pending."""
        value = self.scope.cells[cell]
        if not isinstance(value, _Pending):
            return value
        if value.made is None:
            # Right after the node whose result it takes apart, in the region that holds it.
            value.made = self.rw.add(Node("proj", (value.owner,), make_attributes({"index": value.index}),
                                          span=value.span))
            body = value.scope.body
            body.insert(body.index(value.owner) + 1, value.made)
            self.set_type(value.made, value.type)
        return value.made

    def proj(self, tuple_id: int, index: int, span: Span) -> int:
        return self.emit(Node("proj", (tuple_id,), make_attributes({"index": index}), span=span))

    def new_params(self, cells: Iterable[int], first_index: int, span: Span) -> tuple[int, ...]:
        params = []
        for offset, cell in enumerate(cells):
            name = self.var_nodes[cell].attr("name")
            param = self.rw.add(Node("param", attributes=make_attributes({"index": first_index + offset, "name": name}),
                                     span=span))
            self.copy_type(param, cell)
            params.append(param)
        return tuple(params)

    # -- types --------------------------------------------------------------------
    def set_type(self, node_id: int, type_: T.Type | None) -> None:
        """Record the type of a new or changed value (None: unknown, dropped from the table)."""
        self.type_updates[node_id] = type_

    def copy_type(self, node_id: int, from_id: int) -> None:
        self.set_type(node_id, self.types.get(from_id))

    # -- walking ------------------------------------------------------------------
    def visit(self, node_id: int) -> None:
        node = self.graph.node(node_id)
        handler = self.handlers.get(node.kind)
        value = self.emit(self.with_renamed_operands(node), at=node_id) if handler is None else handler(
            self, node_id, node)
        if value is not None and value != node_id:
            self.renamed[node_id] = value
        if node_id not in self.placed:
            self.rw.delete(node_id)

    def region(self, region_id: int, *, cells: dict[int, int], span: Span, extra_params: tuple[int, ...] = (),
               yields: str = "value", carried: tuple[int, ...] = (), token: bool = False) -> _Scope:
        """Elaborate one region in a new scope.

        ``yields`` is ``value`` (keep the region's results), ``carried`` (only
        the final values of the ``carried`` cells: loop bodies) or ``value``
        followed by them when ``carried`` is not empty.
        """
        region = self.graph.region(region_id)
        scope = _Scope(cells, span)
        self.scopes.append(scope)
        if token:
            self.token(span)
        for node_id in region.body:
            self.visit(node_id)
        finals = tuple(self.cell_value(c) for c in carried)
        results = finals if yields == "carried" else self.values(region.results) + finals
        self.scopes.pop()
        effect_out = scope.token if scope.entry is not None else None
        self.rw.set_region(region_id, Region(region.params + extra_params, tuple(scope.body), results,
                                             scope.entry, effect_out))
        return scope

    def open_cells(self) -> dict[int, int]:
        """The cells a nested (not closed) region starts from: a copy of the current ones."""
        return dict(self.scope.cells)

    def assigned(self, region_id: int) -> frozenset[int]:
        """Cells assigned anywhere in a region, not counting closed regions nested in it."""
        if region_id not in self._assigned:
            found: set[int] = set()
            for node_id in self.graph.region(region_id).body:
                node = self.graph.node(node_id)
                if node.kind == "assign":
                    found.add(node.operands[0])
                elif node.kind not in _CLOSED_OWNERS:
                    for nested in node.regions:
                        found |= self.assigned(nested)
            self._assigned[region_id] = frozenset(found)
        return self._assigned[region_id]

    def carried(self, regions: Iterable[int]) -> tuple[int, ...]:
        """The visible cells some region assigns, in id order."""
        assigned: set[int] = set()
        for region_id in regions:
            assigned |= self.assigned(region_id)
        return tuple(sorted(c for c in assigned if c in self.scope.cells))

    def bind_carried(self, node_id: int, carried: tuple[int, ...], first_index: int, span: Span) -> None:
        """After a node whose value is a tuple holding carried values: each cell is now a pending proj of it."""
        for offset, cell in enumerate(carried):
            self.scope.cells[cell] = _Pending(node_id, first_index + offset, self.scope, span, self.types.get(cell))

    def finish(self) -> Graph:
        if self.diagnostics:
            raise DiagnosticError(sorted(self.diagnostics, key=lambda d: d.span))
        graph = self.rw.finish()
        if "types" in graph.annotations:
            table = graph.annotation("types").update(self.type_updates)
            for node_id in [i for i, t in table.items() if t is None or graph.nodes[i] is None]:
                table = table.discard(node_id)
            graph = graph.with_annotations(graph.annotations.set("types", table))
        return graph



@register
@attrs.frozen
class Elaborate(RewritePass):
    """Make the implicit explicit: native intrinsics, resolved calls, effect tokens, SSA locals, maps, awaits."""

    name = "elaborate"
    input_language = Clef
    output_language = Elaborated
    strict = True

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        """A structured walk rather than the generated one.

        SSA renaming and token threading need the enclosing region's state, so
        each region is elaborated when its owner is reached, in body order.
        Handlers ``rewrite_<kind>(elab, node_id, node)`` receive the input node
        and return the id of the output value that stands for it (usually
        ``node_id`` itself, re-emitted), or None when it leaves no value.
        """
        # The walk recurses once per level of region nesting: deep programs need the big stack.
        return run_with_big_stack(self._elaborate, graph, ctx)

    def _elaborate(self, graph: Graph, ctx: PassContext) -> Graph:
        handlers = {kind: getattr(self, method) for kind, method in self._handlers.items()}
        elab = Elaboration(graph, ctx, handlers)
        ctx.stat("effectful functions", len(elab.effects.functions))
        elab.region(graph.root, cells={}, span=UNKNOWN_SPAN)
        return elab.finish()

    # -- closed regions: declarations, closures, async, actors -----------------------
    @staticmethod
    def _closed(elab: Elaboration, node_id: int, node: Node, token: bool = False) -> int:
        for region in node.regions:
            elab.region(region, cells={}, span=node.span, token=token)
        return elab.emit(elab.with_renamed_operands(node), at=node_id)

    def rewrite_func(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return self._closed(elab, node_id, node)

    def rewrite_global(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return self._closed(elab, node_id, node)

    def rewrite_lambda(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return self._closed(elab, node_id, node)

    def rewrite_actor(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return self._closed(elab, node_id, node)

    def rewrite_async(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return self._closed(elab, node_id, node, token=True)

    # -- names, operators, applications ----------------------------------------------
    def rewrite_ref(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        if node_id in elab.native_callees:
            return None
        name = node.attr("name")
        target = elab.target(node_id)
        if name not in elab.declarations and target is None:
            elab.error(node.span, f"unknown name '{name}': expected a top-level declaration or an intrinsic")
        elif target is not None and target.kind == "intrinsic" and target.arity == 0:
            elab.ctx.stat("intrinsics made native")
            return elab.emit(Node("native", attributes=make_attributes({"op": name}), span=node.span), at=node_id)
        return elab.emit(node, at=node_id)

    def rewrite_prim(self, elab: Elaboration, node_id: int, node: Node) -> int:
        new = elab.with_renamed_operands(node)
        operand_type = elab.types.get(node.operands[0])
        if operand_type is not None:
            new = new.with_attrs(type=operand_type_name(operand_type))
            elab.ctx.stat("operator types made explicit")
        return elab.emit(new, at=node_id)

    def rewrite_apply(self, elab: Elaboration, node_id: int, node: Node) -> int:
        callee, args = node.operands[0], node.operands[1:]
        callee_value, arg_values = elab.value(callee), elab.values(args)
        target = elab.target(callee)
        span = node.span
        if target is None or (target.kind == "intrinsic" and target.arity == 0):
            elab.ctx.stat("closure calls")
            effectful = elab.effects.closure(callee) if target is None else elab.effects.closures
            return elab.emit_maybe_effect(Node("call", (callee_value, *arg_values), span=span), effectful, at=node_id)
        if len(args) < target.arity:
            elab.ctx.stat("partial applications")
            return elab.emit(Node("pap", (callee_value, *arg_values), span=span), at=node_id)
        saturated, rest = arg_values[:target.arity], arg_values[target.arity:]
        if target.kind == "intrinsic":
            elab.ctx.stat("intrinsics made native")
            call = Node("native", saturated, make_attributes({"op": target.name}), span=span)
            effectful = any(elab.effects.closure(a) for a in target.called_back(args))
        else:
            elab.ctx.stat("calls resolved")
            call = Node("call", (callee_value, *saturated), make_attributes({"callee": target.name}), span=span)
            effectful = elab.effects.callable(target)
        if not rest:
            return elab.emit_maybe_effect(call, effectful, at=node_id)
        elab.ctx.stat("over-applications split")
        result = elab.emit_maybe_effect(call, effectful)
        elab.set_type(result, result_after(elab.types.get(callee), target.arity))
        return elab.emit_maybe_effect(Node("call", (result, *rest), span=span), elab.effects.closures, at=node_id)

    # -- mutable locals -----------------------------------------------------------------
    def rewrite_var(self, elab: Elaboration, node_id: int, node: Node) -> None:
        elab.scope.cells[node_id] = elab.value(node.operands[0])
        elab.ctx.stat("mutable locals made SSA")
        return None

    def _cell(self, elab: Elaboration, cell: int, node: Node) -> bool:
        if cell in elab.scope.cells:
            return True
        if cell not in elab.var_nodes:
            elab.error(node.span, f"'{node.kind}' expects a mutable local (a 'var' node) as its first operand, "
                                  f"got a '{elab.graph.node(cell).kind}' node")
            return False
        name = elab.var_nodes[cell].attr("name")
        elab.error(node.span, f"the mutable local '{name}' is captured by a closure, async block or actor "
                              "(F# forbids it); expected it to be declared inside")
        return False

    def rewrite_load(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        cell = node.operands[0]
        return elab.cell_value(cell) if self._cell(elab, cell, node) else None

    def rewrite_assign(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        cell, value = node.operands
        if self._cell(elab, cell, node):
            elab.scope.cells[cell] = elab.value(value)
        # The assignment's own value is unit; make one only where something reads it.
        return elab.unit(node.span, at=node_id) if node_id in elab.used else None

    # -- branches -------------------------------------------------------------------------
    def rewrite_if(self, elab: Elaboration, node_id: int, node: Node) -> int:
        carried = elab.carried(node.regions)
        scopes = [elab.region(r, cells=elab.open_cells(), span=node.span, carried=carried) for r in node.regions]
        new = Node("if", elab.values(node.operands), node.attributes, node.regions, span=node.span)
        return self._branching(elab, node_id, node, new, carried, scopes)

    def rewrite_match(self, elab: Elaboration, node_id: int, node: Node) -> int:
        regions = iter(node.regions)
        arms = [(next(regions) if guarded else None, next(regions)) for guarded in node.attr("guards")]
        for guard, _ in arms:
            if guard is not None and elab.carried([guard]):
                elab.error(node.span, "a 'when' guard assigns a mutable local; expected the guard to only read")
        carried = elab.carried(body for _, body in arms)
        scopes = []
        for guard, body in arms:
            if guard is not None:
                scopes.append(elab.region(guard, cells=elab.open_cells(), span=node.span))
            scopes.append(elab.region(body, cells=elab.open_cells(), span=node.span, carried=carried))
        new = Node("match", elab.values(node.operands), node.attributes, node.regions, span=node.span)
        return self._branching(elab, node_id, node, new, carried, scopes)

    @staticmethod
    def _branching(elab: Elaboration, node_id: int, node: Node, new: Node, carried: tuple[int, ...],
                   scopes: list[_Scope]) -> int:
        elab.emit_maybe_effect(new, any(s.entry is not None for s in scopes), at=node_id)
        if not carried:
            return node_id
        elab.ctx.stat("branches yielding carried values")
        original_type = elab.types.get(node_id)
        elab.set_type(node_id, tuple_type([original_type, *(elab.types.get(c) for c in carried)]))
        elab.bind_carried(node_id, carried, 1, node.span)
        if node_id not in elab.used:
            return node_id
        value = elab.proj(node_id, 0, node.span)
        elab.set_type(value, original_type)
        return value

    # -- loops ------------------------------------------------------------------------------
    def rewrite_while(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        cond_region, body_region = node.regions
        if elab.carried([cond_region]):
            elab.error(node.span, "a 'while' condition assigns a mutable local; expected the condition to only read")
        carried = elab.carried([body_region])
        inits = tuple(elab.cell_value(c) for c in carried)
        cond_params = elab.new_params(carried, 0, node.span)
        body_params = elab.new_params(carried, 0, node.span)
        cond = elab.region(cond_region, cells={**elab.open_cells(), **dict(zip(carried, cond_params))},
                           span=node.span, extra_params=cond_params)
        body = elab.region(body_region, cells={**elab.open_cells(), **dict(zip(carried, body_params))},
                           span=node.span, extra_params=body_params, yields="carried", carried=carried)
        loop = Node("loop", inits, regions=node.regions, span=node.span)
        return self._loop(elab, node_id, node, loop, carried, [cond, body])

    def rewrite_for(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        return self._counted(elab, node_id, node)

    def rewrite_foreach(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        return self._counted(elab, node_id, node)

    def _counted(self, elab: Elaboration, node_id: int, node: Node) -> int | None:
        """``for`` and ``foreach``: one body region whose first params are the index or element."""
        (body_region,) = node.regions
        carried = elab.carried([body_region])
        inits = tuple(elab.cell_value(c) for c in carried)
        params = elab.new_params(carried, len(elab.graph.region(body_region).params), node.span)
        body = elab.region(body_region, cells={**elab.open_cells(), **dict(zip(carried, params))},
                           span=node.span, extra_params=params, yields="carried", carried=carried)
        new = Node(node.kind, elab.values(node.operands) + inits, node.attributes, node.regions, span=node.span)
        return self._loop(elab, node_id, node, new, carried, [body])

    @staticmethod
    def _loop(elab: Elaboration, node_id: int, node: Node, loop: Node, carried: tuple[int, ...],
              scopes: list[_Scope]) -> int | None:
        elab.emit_maybe_effect(loop, any(s.entry is not None for s in scopes), at=node_id)
        if carried:
            elab.ctx.stat("loops with carried values")
        elab.set_type(node_id, tuple_type([elab.types.get(c) for c in carried]))
        elab.bind_carried(node_id, carried, 0, node.span)
        # The loop's value is the tuple of final values; the source's unit is made only where read.
        if node_id not in elab.used:
            return None
        return elab.unit(node.span)

    # -- query, async, effects ----------------------------------------------------------------
    def rewrite_query(self, elab: Elaboration, node_id: int, node: Node) -> int:
        (region,) = node.regions
        scope = elab.region(region, cells={}, span=node.span)
        selector = elab.emit(Node("lambda", regions=(region,), span=node.span))
        (param,), (selected,) = elab.graph.region(region).params, elab.graph.region(region).results
        element, result = elab.types.get(param), elab.types.get(selected)
        elab.set_type(selector, None if element is None or result is None else T.TFun(element, result))
        op = self._map_for(elab, node)
        elab.ctx.stat("queries made maps")
        mapped = Node("native", (selector, elab.value(node.operands[0])), make_attributes({"op": op}), span=node.span)
        return elab.emit_maybe_effect(mapped, scope.entry is not None, at=node_id)

    @staticmethod
    def _map_for(elab: Elaboration, node: Node) -> str:
        """``Array.map`` or ``List.map``, by the query source's type (or literal kind)."""
        source = node.operands[0]
        container = container_kind(elab.types.get(source)) or {"array": "array", "list": "list"}.get(
            elab.graph.node(source).kind)
        if container is None:
            elab.error(node.span, "cannot tell whether the query's source is an array or a list; "
                                  "expected a typed source (a 'types' table) or a literal")
            return "Array.map"
        return "Array.map" if container == "array" else "List.map"

    def rewrite_bind(self, elab: Elaboration, node_id: int, node: Node) -> int:
        elab.ctx.stat("awaits")
        return elab.emit_effect(Node("await", elab.values(node.operands), span=node.span), at=node_id)

    def rewrite_store(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return elab.emit_effect(elab.with_renamed_operands(node), at=node_id)

    def rewrite_post(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return elab.emit_effect(elab.with_renamed_operands(node), at=node_id)

    def rewrite_tell(self, elab: Elaboration, node_id: int, node: Node) -> int:
        return elab.emit_effect(elab.with_renamed_operands(node), at=node_id)

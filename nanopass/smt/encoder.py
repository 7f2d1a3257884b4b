"""The symbolic machine: one function of a PSG, at any language level, as z3 terms.

`Machine` runs a graph the way the reference interpreter does (region bodies in
order, nested regions sharing their owner's environment, closures capturing
values), but on `nanopass.smt.values` trees of z3 terms.  What a run collects:

* ``faults``: conditions under which the run fails (a zero divisor, an index
  out of range, ``Array.reduce`` of nothing, no match arm); each is the
  path condition and the local cause.  A failing source run is undefined
  behaviour in the Alive2 sense: the target may do anything there.
* ``exceeded``: conditions under which the run goes beyond a bound: a loop
  (``loop``, ``for``, ``while``) past ``loop_bound`` iterations whose count is
  not a constant, an array walked (``reduce``, ``foreach``, folds, filters,
  scans, a map whose body may fail) past ``array_bound`` elements, recursion
  past ``recursion_bound`` nested calls of one function on symbolic
  arguments (calls on constants are unrolled exactly, up to ``max_unroll``
  deep).  Those runs are left out of the query and the verdict names the
  bound (`bounds`).
* ``world``: effects as a threaded state.  The state is a term of an
  uninterpreted sort; an effectful extern is a pair of uninterpreted
  functions of (state, arguments), its result and the next state; a pure
  extern is an uninterpreted function of its arguments.  Effects happen in
  body order, as the interpreter runs them (tokens give that order at the
  Elaborated level; they are checked separately, see `nanopass.smt.effects`).

Mappings (``parallel_for``, maps, ``init``, windows) are z3 array lambdas over
a symbolic index, so they hold for every length; when the body may fail, its
failure is expanded over the first ``array_bound`` indices.  A body with
effects is unrolled in index order.  Calls of top-level functions and
closures are inlined; branches merge with if-then-else (`values.merge`).
Constant loop counts are unrolled exactly (up to ``max_unroll``).

A machine may ``watch`` node ids: each value one of them takes is kept in
``observations`` with its path condition (the range check of
`nanopass.smt.facts` reads them).
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any, Callable

import attrs
import z3

from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS as INTRINSIC_SCHEMES
from nanopass.graph import Graph, Node
from nanopass.smt import scalars
from nanopass.smt.layouts import Layouts, canonical, fresh, scalar_name
from nanopass.smt.values import (
    BOTTOM, INDEX_BITS, UNIT, Arr, Rec, Scalar, Tup, Uni, Unsupported, constant_template, default_like, describe,
    is_function, leaves, lift, merge, select, store, tag_sort)

# Kinds with no encoding yet, and why (the verdict is ``unknown``).
UNSUPPORTED_KINDS: dict[str, str] = {
    "async": "asynchronous computations (continuations on the host runtime) are not encoded",
    "bind": "waiting for an Async is not encoded",
    "await": "waiting for an Async is not encoded",
    "actor": "actors (mailboxes, a scheduler) are not encoded",
    "post": "messages to actors are not encoded",
    "tell": "messages to actors are not encoded",
    "store": "arrays are values here; writing into one (aliasing, a heap) is not encoded",
}


@attrs.frozen
class Options:
    """Bounds and limits of the encoding and of the solver."""

    timeout_ms: int = 10_000
    loop_bound: int = 8
    array_bound: int = 4
    recursion_bound: int = 4
    max_unroll: int = 1024
    max_steps: int = 200_000
    test_inputs: int = 50
    test_seconds: float = 5.0

    @classmethod
    def from_environment(cls) -> "Options":
        """The defaults, with z3's timeout from ``NANOPASS_Z3_TIMEOUT`` (seconds) when it is set."""
        seconds = os.environ.get("NANOPASS_Z3_TIMEOUT")
        if not seconds:
            return cls()
        try:
            return cls(timeout_ms=max(1, int(float(seconds) * 1000)))
        except ValueError:
            raise ValueError(f"NANOPASS_Z3_TIMEOUT must be a number of seconds, got {seconds!r}") from None


# -- function values ----------------------------------------------------------------------------

@attrs.frozen(eq=False)
class Closure:
    program: "Program"
    region: int
    captured: dict
    arity: int


@attrs.frozen(eq=False)
class TopFunction:
    program: "Program"
    name: str
    node_id: int
    region: int
    arity: int


@attrs.frozen(eq=False)
class ExternFunction:
    program: "Program"
    name: str
    node_id: int
    arity: int
    pure: bool


@attrs.frozen(eq=False)
class IntrinsicFunction:
    name: str
    arity: int


@attrs.frozen(eq=False)
class Partial:
    fn: Any
    args: tuple
    arity: int


@attrs.frozen(eq=False)
class CellRef:
    key: int


def intrinsic_arity(name: str) -> int:
    count, t = 0, INTRINSIC_SCHEMES[name].body
    while isinstance(t, T.TFun):
        count, t = count + 1, t.result
    return count


def curried(t: Any, arity: int) -> tuple[list, Any]:
    params = []
    for _ in range(arity):
        params.append(t.arg if isinstance(t, T.TFun) else None)
        t = t.result if isinstance(t, T.TFun) else None
    return params, t


class Program:
    """One graph as the machine reads it: its declarations and types."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.types = graph.annotation("types")
        self.declarations: dict[str, tuple[int, Node]] = {
            n.attr("name"): (i, n) for i, n in graph.top_level() if n.attr("name") is not None}

    def type_of(self, node_id: int) -> Any:
        return self.types.get(node_id)

    def function_type(self, name: str) -> tuple[list, Any]:
        """Parameter types and result type of a top-level function or extern."""
        node_id, node = self.declarations[name]
        arity = node.attr("arity") if node.kind == "extern" else len(node.attr("params") or ())
        declared = self.types.get(node_id)
        params, result = curried(declared, arity)
        if node.kind == "func":
            region = self.graph.region(node.regions[0])
            params = [p if p is not None else self.types.get(q) for p, q in zip(params, region.params)]
            if result is None and len(region.results) == 1:
                result = self.types.get(region.results[0])
        return params, result


class Shared:
    """What the two sides of one query share: the world, uninterpreted functions, layouts."""

    def __init__(self, layouts: Layouts):
        self.layouts = layouts
        self.world_sort = z3.DeclareSort("World")
        self.world0 = z3.Const("world0", self.world_sort)
        self._functions: dict[tuple, z3.FuncDeclRef] = {}

    def function(self, name: str, domain: list[z3.SortRef], range_: z3.SortRef) -> z3.FuncDeclRef:
        key = (name, tuple(s.sexpr() for s in domain), range_.sexpr())
        decl = self._functions.get(key)
        if decl is None:
            decl = self._functions[key] = z3.Function(name, *domain, range_)
        return decl

    def cut_value(self, t: Any, number: int) -> Any:
        """An arbitrary value of type ``t``: what the ``number``-th run cut off by a bound yields.

        Numbered per run, so that the two sides of a query cut at the same
        places get the same values (and equal terms stay equal).
        """
        if t is None:
            raise Unsupported("a run cut off by a bound needs its result type, which is unknown")
        return fresh(t, f"__cut{number}", z3.Const, self.layouts)


_activations = itertools.count()


class Machine:
    """A symbolic run of one program; see the module docstring."""

    def __init__(self, program: Program, shared: Shared, options: Options, watch: frozenset[int] = frozenset()):
        self.program = program
        self.graph = program.graph
        self.shared = shared
        self.options = options
        self.watch = watch
        self.observations: list[tuple[int, Any, z3.BoolRef]] = []
        self.path: z3.BoolRef = z3.BoolVal(True)
        self.world: z3.ExprRef = shared.world0
        self.cells: dict[int, Any] = {}
        self.faults: list[z3.BoolRef] = []
        self.exceeded: list[z3.BoolRef] = []
        self.bounds: set[str] = set()
        self.steps = 0
        self.cuts = 0
        self.calls: list[tuple[str, bool]] = []  # (function, called on symbolic arguments)
        self.index_depth = 0
        self._globals: dict[str, Any] = {}
        self._globals_running: set[str] = set()
        self._kinds = {name[len("kind_"):]: getattr(self, name) for name in dir(self) if name.startswith("kind_")}

    # -- conditions --------------------------------------------------------------------------------
    def fault(self, cond: z3.BoolRef, reason: str = "") -> None:
        if z3.is_false(cond):
            return
        self.faults.append(z3.And(self.path, cond))

    def exceed(self, cond: z3.BoolRef, label: str) -> None:
        if z3.is_false(cond):
            return
        self.exceeded.append(z3.And(self.path, cond))
        self.bounds.add(label)

    @property
    def loop_label(self) -> str:
        return f"loops unrolled to {self.options.loop_bound}"

    @property
    def array_label(self) -> str:
        return f"arrays up to {self.options.array_bound} elements"

    # -- entry ----------------------------------------------------------------------------------------
    def call_declaration(self, name: str, args: list[Any]) -> Any:
        """The value of the top-level ``name`` applied to ``args`` (a global's value when it has none)."""
        node_id, node = self.program.declarations[name]
        if node.kind == "global":
            return self.global_value(name)
        if node.kind != "func":
            raise Unsupported(f"'{name}' is a {node.kind}, not a function")
        fn = TopFunction(self.program, name, node_id, node.regions[0], len(node.attr("params") or ()))
        return self.apply(fn, list(args)) if args else fn

    # -- regions --------------------------------------------------------------------------------------
    def run_region(self, region_id: int, env: dict, args: list[Any]) -> list[Any]:
        region = self.graph.region(region_id)
        for param, arg in zip(region.params, args):
            env[param] = arg
        if region.token is not None:
            env[region.token] = UNIT
        for node_id in region.body:
            self.steps += 1
            if self.steps > self.options.max_steps:
                raise Unsupported(f"the function is too large to encode (more than {self.options.max_steps} steps)")
            node = self.graph.node(node_id)
            operands = node.operands
            if any(env.get(o) is BOTTOM for o in operands):
                value = BOTTOM  # an operand's run failed: so does this path
            else:
                handler = self._kinds.get(node.kind)
                if handler is None:
                    reason = UNSUPPORTED_KINDS.get(node.kind, f"the kind '{node.kind}' has no encoding")
                    raise Unsupported(reason, kind=node.kind)
                value = handler(env, node_id, node)
            env[node_id] = value
            if node_id in self.watch:
                self.observations.append((node_id, value, self.path))
        return [env[r] for r in region.results]

    def region_value(self, region_id: int, env: dict, args: list[Any]) -> Any:
        results = self.run_region(region_id, env, args)
        if len(results) == 1:
            return results[0]
        return Tup(tuple(results)) if results else UNIT

    # -- control ---------------------------------------------------------------------------------------
    def branch(self, cond: z3.BoolRef, then: Callable[[], Any], other: Callable[[], Any]) -> Any:
        """Run ``then`` where ``cond`` holds and ``other`` where it does not; merge their outcomes."""
        cond = z3.simplify(cond)
        if z3.is_true(cond):
            return then()
        if z3.is_false(cond):
            return other()
        outer, world, cells = self.path, self.world, dict(self.cells)
        self.path = z3.And(outer, cond)
        a = then()
        world_a, cells_a = self.world, self.cells
        self.path, self.world, self.cells = z3.And(outer, z3.Not(cond)), world, dict(cells)
        b = other()
        world_b, cells_b = self.world, self.cells
        self.path = outer
        self.world = _ite(cond, world_a, world_b)
        self.cells = {k: merge(cond, cells_a[k], cells_b[k]) for k in cells_a if k in cells_b}
        return merge(cond, a, b)

    def unroll(self, label: str, bound: int, state: Any, condition: Callable[[int, Any], z3.BoolRef],
               body: Callable[[int, Any], Any]) -> Any:
        """``while condition(j, state): state = body(j, state)``, unrolled.

        Iterations whose condition is a constant do not count toward ``bound``
        (up to ``max_unroll``); past the bound the run is cut off (`exceed`).
        ``state`` is a list of values; the result merges every exit.
        """
        outer = self.path
        exits: list[tuple[z3.BoolRef, list, z3.ExprRef, dict]] = []
        reach = z3.BoolVal(True)
        symbolic = 0
        j = 0
        while True:
            self.path = z3.And(outer, reach) if not z3.is_true(reach) else outer
            flag = z3.simplify(condition(j, state))
            if z3.is_false(flag):
                exits.append((reach, state, self.world, dict(self.cells)))
                break
            constant = z3.is_true(flag)
            if (not constant and symbolic == bound) or j >= self.options.max_unroll:
                self.exceed(flag, label)
                if not exits:
                    exits.append((reach, state, self.world, dict(self.cells)))
                break
            if not constant:
                symbolic += 1
                exits.append((z3.And(reach, z3.Not(flag)), state, self.world, dict(self.cells)))
                reach = z3.And(reach, flag)
            self.path = z3.And(outer, reach) if not z3.is_true(reach) else outer
            state = body(j, state)
            j += 1
        self.path = outer
        _, state, world, cells = exits[-1]
        for cond, other_state, other_world, other_cells in reversed(exits[:-1]):
            state = [merge(cond, a, b) for a, b in zip(other_state, state)]
            world = _ite(cond, other_world, world)
            cells = {k: merge(cond, other_cells[k], cells[k]) for k in cells if k in other_cells}
        self.world, self.cells = world, cells
        return state

    def tabulate(self, container: str, lengths: list[z3.ExprRef], element_at: Callable[[list[Any]], Any]) -> Arr:
        """The array of ``element_at(indices)`` over ``lengths`` (one or two dimensions)."""
        for n in lengths:
            self.fault(n < 0, "a negative count")
        depth = self.index_depth
        indices = [z3.BitVec(f"__i{depth}_{d}", INDEX_BITS) for d in range(len(lengths))]
        inside = z3.And([z3.And(i >= 0, i < n) for i, n in zip(indices, lengths)])
        faults, exceeded, world, cells = len(self.faults), len(self.exceeded), self.world, self.cells
        observed = len(self.observations)
        outer = self.path
        self.path, self.index_depth = z3.And(outer, inside), depth + 1
        try:
            element = element_at([Scalar("int", i) for i in indices])
        finally:
            self.path, self.index_depth = outer, depth
        if _holds_function(element):
            raise Unsupported("an array of function values")
        if self.world is not world:  # effects: the symbolic run assumed none, so it is thrown away
            del self.faults[faults:], self.exceeded[exceeded:], self.observations[observed:]
            self.world, self.cells = world, cells
            return self._tabulate_in_order(container, lengths, element_at, default_like(element))
        inner_faults, inner_exceeded = self.faults[faults:], self.exceeded[exceeded:]
        del self.faults[faults:], self.exceeded[exceeded:]
        if inner_faults or inner_exceeded:
            # Expanded over every index of a constant extent, else over the first array_bound ones (a bound).
            extents = [z3.simplify(n) for n in lengths]
            exact = all(z3.is_bv_value(n) for n in extents) and math.prod(
                max(0, n.as_signed_long()) for n in extents) <= self.options.max_unroll
            counts = [max(0, n.as_signed_long()) for n in extents] if exact else [self.options.array_bound] * len(
                lengths)
            points = list(itertools.product(*(range(c) for c in counts)))

            def expand(conds: list[z3.BoolRef]) -> z3.BoolRef:
                return z3.Or([z3.substitute(c, *[(i, z3.BitVecVal(k, INDEX_BITS)) for i, k in zip(indices, point)])
                              for c in conds for point in points])

            if inner_faults:
                self.faults.append(expand(inner_faults))
            if inner_exceeded:
                self.exceeded.append(expand(inner_exceeded))
            if not exact:
                self.exceed(z3.Or([n > self.options.array_bound for n in lengths]), self.array_label)
        return Arr(container, tuple(lengths), lift(element, indices))

    def _tabulate_in_order(self, container: str, lengths: list[z3.ExprRef],
                           element_at: Callable[[list[Any]], Any], shape: Any) -> Arr:
        """A mapping whose body has effects: its iterations run in index order, unrolled."""
        if len(lengths) != 1:
            raise Unsupported("a two-dimensional index space whose body has effects")
        (n,) = lengths

        def body(j: int, state: list) -> list:
            index = z3.BitVecVal(j, INDEX_BITS)
            return [store(state[0], [index], element_at([Scalar("int", index)]))]

        (template,) = self.unroll(self.array_label, self.options.array_bound, [constant_template(shape, 1)],
                                  lambda j, s: z3.BitVecVal(j, INDEX_BITS) < n, body)
        return Arr(container, (n,), template)

    def walk(self, xs: Arr, state: list, step: Callable[[Any, z3.ExprRef, list], list], start: int = 0) -> list:
        """Fold ``step(element, index, state)`` over the elements of ``xs`` from ``start``, in order."""
        if xs.rank == 2:
            rows, columns = xs.lengths
            total = z3.SignExt(32, rows) * z3.SignExt(32, columns)

            def condition(j: int, s: list) -> z3.BoolRef:
                return z3.BitVecVal(start + j, 64) < total

            def body(j: int, s: list) -> list:
                k = z3.BitVecVal(start + j, 64)
                i, jj = z3.Extract(31, 0, z3.UDiv(k, z3.SignExt(32, columns))), z3.Extract(
                    31, 0, z3.URem(k, z3.SignExt(32, columns)))
                return step(select(xs.elem, [i, jj]), z3.BitVecVal(start + j, INDEX_BITS), s)
        else:
            (n,) = xs.lengths

            def condition(j: int, s: list) -> z3.BoolRef:
                return z3.BitVecVal(start + j, INDEX_BITS) < n

            def body(j: int, s: list) -> list:
                index = z3.BitVecVal(start + j, INDEX_BITS)
                return step(select(xs.elem, [index]), index, s)
        return self.unroll(self.array_label, self.options.array_bound, state, condition, body)

    # -- calls ---------------------------------------------------------------------------------------------
    def apply(self, fn: Any, args: list[Any]) -> Any:
        """Curried application: fewer arguments than the arity make a partial application."""
        while True:
            arity = getattr(fn, "arity", None)
            if arity is None:
                raise Unsupported(f"applying a {describe(fn)} value as a function")
            if len(args) < arity:
                return Partial(fn, tuple(args), arity - len(args))
            result = self.call_exactly(fn, args[:arity])
            args = args[arity:]
            if not args or result is BOTTOM:
                return result
            fn = result

    def call_exactly(self, fn: Any, args: list[Any]) -> Any:
        if isinstance(fn, Partial):
            return self.call_exactly(fn.fn, list(fn.args) + list(args))
        if isinstance(fn, Closure):
            return self.region_value(fn.region, dict(fn.captured), args)
        if isinstance(fn, TopFunction):
            return self._call_function(fn, args)
        if isinstance(fn, ExternFunction):
            return self.call_extern(fn.program, fn.name, args)
        if isinstance(fn, IntrinsicFunction):
            from nanopass.smt.natives import native

            return native(self, fn.name, args, None)
        raise Unsupported(f"applying a {describe(fn)} value as a function")

    def _call_function(self, fn: TopFunction, args: list[Any]) -> Any:
        # A call on constants is unrolled exactly (up to max_unroll deep); symbolic ones count toward the bound.
        concrete = all(_is_value(t) for a in args if not is_function(a) for t in leaves(a))
        symbolic_depth = sum(1 for name, symbolic in self.calls if name == fn.name and symbolic)
        too_deep = len(self.calls) >= self.options.max_unroll
        if too_deep or (not concrete and symbolic_depth >= self.options.recursion_bound):
            self.exceed(z3.BoolVal(True), f"recursion to depth {self.options.recursion_bound}")
            self.cuts += 1
            return self.shared.cut_value(self.program.function_type(fn.name)[1], self.cuts)
        self.calls.append((fn.name, not concrete))
        try:
            return self.region_value(fn.region, {}, args)
        finally:
            self.calls.pop()

    def call_extern(self, program: Program, name: str, args: list[Any]) -> Any:
        node_id, node = program.declarations[name]
        params, result = program.function_type(name)
        if isinstance(result, T.TCon) and result.name == "Async":
            raise Unsupported(f"the extern '{name}' returns an Async", kind="async")
        if None in params or result is None:
            raise Unsupported(f"the extern '{name}' has no type")
        pure = bool(node.attr("pure"))
        # Equal arguments must give equal results: nothing past an array's length may tell them apart.
        args = [canonical(a, p, self.shared.layouts) for a, p in zip(args, params)]
        value, world = extern_result(self.shared, name, pure, args, result, None if pure else self.world)
        if not pure:
            self.world = world
        return value

    def global_value(self, name: str) -> Any:
        if name in self._globals:
            return self._globals[name]
        if name in self._globals_running:
            raise Unsupported(f"the value '{name}' is used while it is being computed")
        node_id, node = self.program.declarations[name]
        if self.graph.region(node.regions[0]).token is not None:
            raise Unsupported(f"the global '{name}' has effects when the module starts")
        outer, world = self.path, self.world
        self._globals_running.add(name)
        self.path = z3.BoolVal(True)  # a global is computed once, whatever the path that first reads it
        try:
            value = self.region_value(node.regions[0], {}, [])
        finally:
            self.path, self.world = outer, world
            self._globals_running.discard(name)
        self._globals[name] = value
        return value

    # -- kinds: values -----------------------------------------------------------------------------------------
    def kind_const(self, env: dict, nid: int, node: Node) -> Any:
        return scalars.constant(node.attr("value"), node.attr("type"))

    def kind_ref(self, env: dict, nid: int, node: Node) -> Any:
        name = node.attr("name")
        found = self.program.declarations.get(name)
        if found is not None:
            decl_id, decl = found
            if decl.kind == "func":
                return TopFunction(self.program, name, decl_id, decl.regions[0], len(decl.attr("params") or ()))
            if decl.kind == "extern":
                if decl.attr("arity") == 0:
                    return self.call_extern(self.program, name, [])
                return ExternFunction(self.program, name, decl_id, decl.attr("arity"), bool(decl.attr("pure")))
            if decl.kind == "global":
                return self.global_value(name)
            raise Unsupported(f"a reference to the {decl.kind} '{name}'")
        if name in INTRINSIC_SCHEMES:
            arity = intrinsic_arity(name)
            if arity == 0:
                from nanopass.smt.natives import native

                return native(self, name, [], nid)
            return IntrinsicFunction(name, arity)
        raise Unsupported(f"the unknown name '{name}'")

    def kind_prim(self, env: dict, nid: int, node: Node) -> Any:
        op = node.attr("op")
        args = [env[o] for o in node.operands]
        if op in scalars.COMPARISONS:
            a, b = args
            return Scalar("bool", scalars.compare(op, a, b, self.lists_equal))
        declared = node.attr("type") or scalar_name(self.program.type_of(node.operands[0]))
        first = args[0]
        if not isinstance(first, Scalar):
            raise Unsupported(f"the operator '{op}' on a {describe(first)} value", kind="prim")
        if declared is not None and declared != first.type:
            raise Unsupported(f"the operator '{op}' of type {declared} on a {first.type} value", kind="prim")
        if len(args) == 1:
            return scalars.unary(op, first.type, first)
        second = args[1]
        shift = op in ("<<<", ">>>") and isinstance(second, Scalar) and second.type == "int"
        if not (isinstance(second, Scalar) and (second.type == first.type or shift)):
            raise Unsupported(f"the operator '{op}' on a {first.type} and a {describe(second)}", kind="prim")
        return scalars.arithmetic(op, first.type, first, second, self.fault)

    def kind_lambda(self, env: dict, nid: int, node: Node) -> Any:
        region = node.regions[0]
        return Closure(self.program, region, dict(env), len(self.graph.region(region).params))

    def kind_tuple(self, env: dict, nid: int, node: Node) -> Any:
        return Tup(tuple(env[o] for o in node.operands))

    def kind_proj(self, env: dict, nid: int, node: Node) -> Any:
        value = env[node.operands[0]]
        if not isinstance(value, Tup) or node.attr("index") >= len(value.items):
            raise Unsupported(f"projecting item {node.attr('index')} of a {describe(value)} value", kind="proj")
        return value.items[node.attr("index")]

    def kind_record(self, env: dict, nid: int, node: Node) -> Any:
        return Rec(node.attr("type"), tuple(node.attr("fields")), tuple(env[o] for o in node.operands))

    def kind_field(self, env: dict, nid: int, node: Node) -> Any:
        value = env[node.operands[0]]
        if not isinstance(value, Rec):
            raise Unsupported(f"a field of a {describe(value)} value", kind="field")
        return value.get(node.attr("name"))

    def kind_with(self, env: dict, nid: int, node: Node) -> Any:
        record = env[node.operands[0]]
        if not isinstance(record, Rec):
            raise Unsupported(f"copying a {describe(record)} value with new fields", kind="with")
        values = list(record.values)
        for name, operand in zip(node.attr("fields"), node.operands[1:]):
            values[record.names.index(name)] = env[operand]
        return Rec(record.type, record.names, tuple(values))

    def union_value(self, type_name: str, case: str, payload: tuple) -> Uni:
        cases = self.shared.layouts.unions.get(type_name)
        if cases is None or case not in cases:
            raise Unsupported(f"the union case {type_name}.{case} is not declared")
        _, constants = tag_sort(type_name, cases)
        return Uni(type_name, constants[case], ((case, payload),))

    def kind_union(self, env: dict, nid: int, node: Node) -> Any:
        return self.union_value(node.attr("type"), node.attr("case"), tuple(env[o] for o in node.operands))

    def literal_array(self, container: str, nid: int, values: list[Any]) -> Arr:
        if values:
            template = constant_template(default_like(values[0]), 1)
        else:
            element = _element_type(self.program.type_of(nid))
            if element is None:
                raise Unsupported("the element type of an empty literal is unknown")
            template = constant_template(fresh(element, "", lambda _, s: _default(s), self.shared.layouts), 1)
        for k, value in enumerate(values):
            template = store(template, [z3.BitVecVal(k, INDEX_BITS)], value)
        return Arr(container, (z3.BitVecVal(len(values), INDEX_BITS),), template)

    def kind_array(self, env: dict, nid: int, node: Node) -> Any:
        return self.literal_array("array", nid, [env[o] for o in node.operands])

    def kind_list(self, env: dict, nid: int, node: Node) -> Any:
        return self.literal_array("list", nid, [env[o] for o in node.operands])

    def kind_cons(self, env: dict, nid: int, node: Node) -> Any:
        head, tail = (env[o] for o in node.operands)
        if not isinstance(tail, Arr) or tail.container != "list":
            raise Unsupported(f"cons onto a {describe(tail)} value", kind="cons")
        return cons(head, tail)

    def kind_index(self, env: dict, nid: int, node: Node) -> Any:
        xs = env[node.operands[0]]
        indices = [env[o] for o in node.operands[1:]]
        return self.read(xs, indices)

    def read(self, xs: Any, indices: list[Any]) -> Any:
        if not isinstance(xs, Arr) or len(indices) != xs.rank:
            raise Unsupported(f"indexing a {describe(xs)} value with {len(indices)} index(es)", kind="index")
        terms = [i.term for i in indices]
        self.fault(z3.Or([z3.Or(i < 0, i >= n) for i, n in zip(terms, xs.lengths)]), "index out of range")
        return select(xs.elem, terms)

    # -- kinds: calls --------------------------------------------------------------------------------------------
    def kind_apply(self, env: dict, nid: int, node: Node) -> Any:
        fn, args = env[node.operands[0]], [env[o] for o in node.operands[1:]]
        if isinstance(fn, IntrinsicFunction) and len(args) == fn.arity:
            from nanopass.smt.natives import native

            return native(self, fn.name, args, nid)
        return self.apply(fn, args)

    def kind_call(self, env: dict, nid: int, node: Node) -> Any:
        return self.kind_apply(env, nid, node)

    def kind_pap(self, env: dict, nid: int, node: Node) -> Any:
        fn = env[node.operands[0]]
        args = tuple(env[o] for o in node.operands[1:])
        arity = getattr(fn, "arity", None)
        if arity is None or len(args) >= arity:
            raise Unsupported("a partial application that is not partial", kind="pap")
        return Partial(fn, args, arity - len(args))

    def kind_native(self, env: dict, nid: int, node: Node) -> Any:
        from nanopass.smt.natives import native

        return native(self, node.attr("op"), [env[o] for o in node.operands], nid)

    # -- kinds: branches ---------------------------------------------------------------------------------------------
    def kind_if(self, env: dict, nid: int, node: Node) -> Any:
        cond = env[node.operands[0]]
        then, other = node.regions
        return self.branch(_bool(cond), lambda: self.region_value(then, env, []),
                           lambda: self.region_value(other, env, []))

    def kind_match(self, env: dict, nid: int, node: Node) -> Any:
        scrutinee = env[node.operands[0]]
        regions = iter(node.regions)
        arms = []
        for pattern, guarded in zip(node.attr("patterns"), node.attr("guards")):
            guard = next(regions) if guarded else None
            arms.append((pattern, guard, next(regions)))

        def arm(k: int) -> Any:
            if k == len(arms):
                self.fault(z3.BoolVal(True), "no arm of the match accepts the value")
                return BOTTOM
            pattern, guard, body = arms[k]
            cond, bound = self.match_pattern(scrutinee, pattern)

            def taken() -> Any:
                if guard is None:
                    return self.region_value(body, env, bound)
                holds = self.region_value(guard, env, bound)
                return self.branch(_bool(holds), lambda: self.region_value(body, env, bound), lambda: arm(k + 1))

            return self.branch(cond, taken, lambda: arm(k + 1))

        return arm(0)

    def match_pattern(self, value: Any, pattern: tuple) -> tuple[z3.BoolRef, list[Any]]:
        """When ``value`` matches ``pattern``, and the values it binds (left to right)."""
        head = pattern[0]
        if head == "wild":
            return z3.BoolVal(True), []
        if head == "bind":
            return z3.BoolVal(True), [value]
        if head == "lit":
            literal = scalars.constant(pattern[1], pattern[2])
            if literal is UNIT:
                return z3.BoolVal(True), []
            return scalars.compare("=", value, literal, self.lists_equal), []
        if head == "tuple":
            if not isinstance(value, Tup) or len(value.items) != len(pattern) - 1:
                return z3.BoolVal(False), [BOTTOM] * _binds(pattern)
            conds, bound = [], []
            for item, sub in zip(value.items, pattern[1:]):
                c, b = self.match_pattern(item, sub)
                conds.append(c)
                bound += b
            return z3.And(conds), bound
        if head == "case":
            if not isinstance(value, Uni):
                raise Unsupported(f"a case pattern on a {describe(value)} value", kind="match")
            payload = value.payload(pattern[1])
            if payload is None:
                return z3.BoolVal(False), [BOTTOM] * _binds(pattern)
            _, constants = tag_sort(value.type, self.shared.layouts.unions[value.type])
            conds, bound = [value.tag == constants[pattern[1]]], []
            for item, sub in zip(payload, pattern[2:]):
                c, b = self.match_pattern(item, sub)
                conds.append(c)
                bound += b
            return z3.And(conds), bound
        if head in ("nil", "cons"):
            if not isinstance(value, Arr) or value.container != "list":
                raise Unsupported(f"a list pattern on a {describe(value)} value", kind="match")
            (n,) = value.lengths
            if head == "nil":
                return n == 0, []
            head_cond, head_bound = self.match_pattern(select(value.elem, [z3.BitVecVal(0, INDEX_BITS)]), pattern[1])
            tail_cond, tail_bound = self.match_pattern(tail_of(value), pattern[2])
            return z3.And(n > 0, head_cond, tail_cond), head_bound + tail_bound
        raise Unsupported(f"the pattern {pattern!r}", kind="match")

    # -- kinds: mutable cells (Clef) ------------------------------------------------------------------------------------
    def kind_var(self, env: dict, nid: int, node: Node) -> Any:
        cell = CellRef(next(_activations))
        self.cells[cell.key] = env[node.operands[0]]
        return cell

    def kind_load(self, env: dict, nid: int, node: Node) -> Any:
        cell = env[node.operands[0]]
        if not isinstance(cell, CellRef) or cell.key not in self.cells:
            raise Unsupported("a load of something that is not a mutable local in scope", kind="load")
        return self.cells[cell.key]

    def kind_assign(self, env: dict, nid: int, node: Node) -> Any:
        cell = env[node.operands[0]]
        if not isinstance(cell, CellRef) or cell.key not in self.cells:
            raise Unsupported("an assignment to something that is not a mutable local in scope", kind="assign")
        self.cells[cell.key] = env[node.operands[1]]
        return UNIT

    # -- kinds: loops ------------------------------------------------------------------------------------------------------
    def kind_loop(self, env: dict, nid: int, node: Node) -> Any:
        inits = [env[o] for o in node.operands]
        cond_region, body_region = node.regions

        def condition(j: int, state: list) -> z3.BoolRef:
            return _bool(self.region_value(cond_region, env, state))

        def body(j: int, state: list) -> list:
            return self.run_region(body_region, env, state)

        finals = self.unroll(self.loop_label, self.options.loop_bound, inits, condition, body)
        return Tup(tuple(finals)) if inits else UNIT

    kind_while = kind_loop

    def kind_for(self, env: dict, nid: int, node: Node) -> Any:
        lo, hi = env[node.operands[0]], env[node.operands[1]]
        inits = [env[o] for o in node.operands[2:]]
        (body_region,) = node.regions
        if not (isinstance(lo, Scalar) and isinstance(hi, Scalar) and lo.type == hi.type and lo.type in scalars.BITS):
            raise Unsupported("a for loop over non-integer bounds", kind="for")
        bits = lo.term.size()
        wide_lo, wide_hi = z3.SignExt(1, lo.term), z3.SignExt(1, hi.term)

        def condition(j: int, state: list) -> z3.BoolRef:
            return wide_lo + z3.BitVecVal(j, bits + 1) <= wide_hi

        def body(j: int, state: list) -> list:
            index = Scalar(lo.type, lo.term + z3.BitVecVal(j, bits))
            return self.run_region(body_region, env, [index] + state)

        finals = self.unroll(self.loop_label, self.options.loop_bound, inits, condition, body)
        return Tup(tuple(finals)) if inits else UNIT

    def kind_foreach(self, env: dict, nid: int, node: Node) -> Any:
        xs = env[node.operands[0]]
        inits = [env[o] for o in node.operands[1:]]
        (body_region,) = node.regions
        if not isinstance(xs, Arr):
            raise Unsupported(f"iterating a {describe(xs)} value", kind="foreach")
        finals = self.walk(xs, inits, lambda x, j, state: self.run_region(body_region, env, [x] + state))
        return Tup(tuple(finals)) if inits else UNIT

    def kind_query(self, env: dict, nid: int, node: Node) -> Any:
        xs = env[node.operands[0]]
        (region,) = node.regions
        if not isinstance(xs, Arr) or xs.rank != 1:
            raise Unsupported(f"a query over a {describe(xs)} value", kind="query")
        return self.tabulate(xs.container, [xs.lengths[0]],
                             lambda idx: self.region_value(region, env, [select(xs.elem, [idx[0].term])]))

    # -- kinds: Saturated ---------------------------------------------------------------------------------------------------
    def kind_parallel_for(self, env: dict, nid: int, node: Node) -> Any:
        extents = [env[o] for o in node.operands]
        (region,) = node.regions
        lengths = [_int(e) for e in extents]
        container = node.attr("container")
        if container == "array" and len(lengths) == 2:
            container = "array2d"
        return self.tabulate(container, lengths, lambda idx: self.region_value(region, env, idx))

    def kind_reduce(self, env: dict, nid: int, node: Node) -> Any:
        xs = env[node.operands[0]]
        (region,) = node.regions
        if not isinstance(xs, Arr):
            raise Unsupported(f"reducing a {describe(xs)} value", kind="reduce")
        def step(x: Any, j: z3.ExprRef, state: list) -> list:
            return [self.region_value(region, env, [state[0], x])]

        if len(node.operands) > 1:
            return self.walk(xs, [env[node.operands[1]]], step)[0]
        return self.reduce_from_first(xs, step)

    def reduce_from_first(self, xs: Arr, step: Callable[[Any, z3.ExprRef, list], list]) -> Any:
        count = xs.lengths[0] if xs.rank == 1 else z3.SignExt(32, xs.lengths[0]) * z3.SignExt(32, xs.lengths[1])
        self.fault(count == 0, "reduce of an empty array")
        first = select(xs.elem, [z3.BitVecVal(0, INDEX_BITS)] * xs.rank)
        return self.walk(xs, [first], step, start=1)[0]

    def windows(self, size: Any, xs: Any, consume: Callable[[Scalar, Arr], Any]) -> Arr:
        if not isinstance(xs, Arr) or xs.rank != 1 or xs.container != "array":
            raise Unsupported(f"windows of a {describe(xs)} value", kind="stencil")
        width = _int(size)
        self.fault(width < 1, "a window size below 1")
        (n,) = xs.lengths
        count = z3.If(n - width + 1 > 0, n - width + 1, z3.BitVecVal(0, INDEX_BITS))

        def window_at(idx: list[Any]) -> Any:
            i = idx[0].term
            j = z3.BitVec(f"__w{self.index_depth}", INDEX_BITS)
            window = Arr("array", (width,), lift(select(xs.elem, [i + j]), [j]))
            return consume(idx[0], window)

        return self.tabulate("array", [count], window_at)

    def kind_stencil(self, env: dict, nid: int, node: Node) -> Any:
        size, xs = (env[o] for o in node.operands)
        (region,) = node.regions
        return self.windows(size, xs, lambda i, window: self.region_value(region, env, [i, window]))

    def kind_scan(self, env: dict, nid: int, node: Node) -> Any:
        xs = env[node.operands[0]]
        if node.attr("op") != "+" or not isinstance(xs, Arr) or xs.rank != 1:
            raise Unsupported(f"a scan with '{node.attr('op')}' of a {describe(xs)} value", kind="scan")
        return self.prefix_counts(xs, bool(node.attr("exclusive")))

    def prefix_counts(self, xs: Arr, exclusive: bool) -> Arr:
        """The running sums of ``xs`` (ints, or bools counting 0 / 1), from the first element or before it."""
        zero = Scalar("int", z3.BitVecVal(0, 32))

        def step(x: Any, j: z3.ExprRef, state: list) -> list:
            total, template = state
            after = Scalar("int", total.term + _count_of(x))
            return [after, store(template, [j], total if exclusive else after)]

        _, template = self.walk(xs, [zero, constant_template(zero, 1)], step)
        return Arr("array", xs.lengths, template)

    def kind_scatter(self, env: dict, nid: int, node: Node) -> Any:
        values, flags, positions = (env[o] for o in node.operands)
        return self.scatter(values, flags, positions, node.attr("container"))

    def scatter(self, values: Any, flags: Any, positions: Any, container: str) -> Arr:
        """The values whose flag is set, each at its position."""
        if not all(isinstance(v, Arr) and v.rank == 1 for v in (values, flags, positions)):
            raise Unsupported("a scatter of values that are not one-dimensional arrays", kind="scatter")
        template = constant_template(default_like(select(values.elem, [z3.BitVecVal(0, INDEX_BITS)])), 1)

        def step(flag: Any, j: z3.ExprRef, state: list) -> list:
            count, out = state
            self.fault(z3.Or(j >= values.lengths[0], j >= positions.lengths[0]), "scatter past its values")
            where = select(positions.elem, [j]).term
            kept = _bool(flag)
            out = merge(kept, store(out, [where], select(values.elem, [j])), out)
            return [Scalar("int", z3.If(kept, count.term + 1, count.term)), out]

        count, out = self.walk(flags, [Scalar("int", z3.BitVecVal(0, INDEX_BITS)), template], step)
        return Arr(container, (count.term,), out)

    def compact(self, xs: Arr, flags: Arr, container: str) -> Arr:
        """The elements of ``xs`` whose flag is set, in order: as baker spells it, a scan then a scatter."""
        return self.scatter(xs, flags, self.prefix_counts(flags, exclusive=True), container)

    def kind_concat(self, env: dict, nid: int, node: Node) -> Any:
        return self.concat(env[node.operands[0]], node.attr("container"))

    def concat(self, parts: Any, container: str) -> Arr:
        if not isinstance(parts, Arr) or parts.rank != 1 or not isinstance(parts.elem, Arr):
            raise Unsupported(f"concatenating a {describe(parts)} value", kind="concat")
        zero = z3.BitVecVal(0, INDEX_BITS)
        template = constant_template(default_like(select(select(parts.elem, [zero]).elem, [zero])), 1)

        def step(part: Any, j: z3.ExprRef, state: list) -> list:
            offset, out = state
            (out,) = self.walk(part, [out], lambda x, e, s: [store(s[0], [offset.term + e], x)])
            return [Scalar("int", offset.term + part.lengths[0]), out]

        total, out = self.walk(parts, [Scalar("int", z3.BitVecVal(0, INDEX_BITS)), template], step)
        return Arr(container, (total.term,), out)

    def kind_extent(self, env: dict, nid: int, node: Node) -> Any:
        xs = env[node.operands[0]]
        dim = node.attr("dim")
        if not isinstance(xs, Arr) or dim >= xs.rank:
            raise Unsupported(f"the extent {dim} of a {describe(xs)} value", kind="extent")
        return Scalar("int", xs.lengths[dim])

    def kind_tag_test(self, env: dict, nid: int, node: Node) -> Any:
        value, case = env[node.operands[0]], node.attr("case")
        if isinstance(value, Arr) and value.container == "list" and case in ("nil", "cons"):
            n = value.lengths[0]
            return Scalar("bool", n == 0 if case == "nil" else n > 0)
        if isinstance(value, Uni):
            cases = self.shared.layouts.unions.get(value.type, ())
            if case not in cases or value.payload(case) is None:
                return Scalar("bool", z3.BoolVal(False))
            _, constants = tag_sort(value.type, cases)
            return Scalar("bool", value.tag == constants[case])
        raise Unsupported(f"a tag test of a {describe(value)} value", kind="tag_test")

    def kind_case_field(self, env: dict, nid: int, node: Node) -> Any:
        value, case, index = env[node.operands[0]], node.attr("case"), node.attr("index")
        if isinstance(value, Arr) and value.container == "list" and case == "cons":
            return select(value.elem, [z3.BitVecVal(0, INDEX_BITS)]) if index == 0 else tail_of(value)
        if isinstance(value, Uni):
            payload = value.payload(case)
            if payload is None:
                return BOTTOM
            return payload[index]
        raise Unsupported(f"a case field of a {describe(value)} value", kind="case_field")

    def kind_match_failure(self, env: dict, nid: int, node: Node) -> Any:
        self.fault(z3.BoolVal(True), "no arm of the match accepts the value")
        return BOTTOM

    # -- list equality (bounded) ---------------------------------------------------------------------------------------------
    def lists_equal(self, a: Arr, b: Arr) -> z3.BoolRef:
        (n,), (m,) = a.lengths, b.lengths
        parts = [n == m]
        bound = self.options.array_bound
        for k in range(bound):
            index = z3.BitVecVal(k, INDEX_BITS)
            same = scalars.compare("=", select(a.elem, [index]), select(b.elem, [index]), self.lists_equal)
            parts.append(z3.Or(index >= n, same))
        self.exceed(z3.And(n == m, n > bound), self.array_label)
        return z3.And(parts)


def _count_of(x: Any) -> z3.BitVecRef:
    """What a scan adds for an element: ints as they are, bools as 0 / 1."""
    if isinstance(x, Scalar) and x.type == "bool":
        return z3.If(x.term, z3.BitVecVal(1, 32), z3.BitVecVal(0, 32))
    if isinstance(x, Scalar) and x.type == "int":
        return x.term
    raise Unsupported(f"a scan of {describe(x)} values", kind="scan")


def cons(head: Any, tail: Arr) -> Arr:
    (n,) = tail.lengths
    j = z3.BitVec("__cons", INDEX_BITS)
    shifted = select(tail.elem, [j - 1])
    element = merge(j == 0, head, shifted)
    return Arr("list", (n + 1,), lift(element, [j]))


def tail_of(xs: Arr) -> Arr:
    (n,) = xs.lengths
    j = z3.BitVec("__tail", INDEX_BITS)
    return Arr("list", (n - 1,), lift(select(xs.elem, [j + 1]), [j]))


def extern_result(shared: Shared, name: str, pure: bool, args: list[Any], result_type: Any,
                  world: z3.ExprRef | None) -> tuple[Any, z3.ExprRef | None]:
    """An extern's result (and next state) as uninterpreted functions of the state and the arguments."""
    arg_terms = [t for a in args for t in leaves(a)]
    domain = ([shared.world_sort] if world is not None else []) + [t.sort() for t in arg_terms]
    inputs = ([world] if world is not None else []) + arg_terms

    def make(path: str, sort: z3.SortRef) -> z3.ExprRef:
        return shared.function(f"{name}{path}", domain, sort)(*inputs)

    value = fresh(result_type, "", make, shared.layouts)
    next_world = None if world is None else shared.function(f"{name}.world", domain, shared.world_sort)(*inputs)
    return value, next_world


def _binds(pattern: tuple) -> int:
    if pattern[0] == "bind":
        return 1
    return sum(_binds(p) for p in pattern[1:] if isinstance(p, tuple))


def _bool(value: Any) -> z3.BoolRef:
    if isinstance(value, Scalar) and value.type == "bool":
        return value.term
    raise Unsupported(f"a condition that is a {describe(value)} value")


def _int(value: Any) -> z3.ExprRef:
    if isinstance(value, Scalar) and value.type == "int":
        return value.term
    raise Unsupported(f"a count that is a {describe(value)} value")


def _is_value(term: z3.ExprRef) -> bool:
    term = z3.simplify(term)
    return (z3.is_bv_value(term) or z3.is_fp_value(term) or z3.is_true(term) or z3.is_false(term)
            or z3.is_string_value(term))


def _ite(cond: z3.BoolRef, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    return a if a.eq(b) else z3.If(cond, a, b)


def _holds_function(value: Any) -> bool:
    if is_function(value):
        return True
    if isinstance(value, Tup):
        return any(_holds_function(v) for v in value.items)
    if isinstance(value, Rec):
        return any(_holds_function(v) for v in value.values)
    if isinstance(value, Uni):
        return any(_holds_function(v) for _, p in value.cases for v in p)
    return False


def _element_type(t: Any) -> Any:
    if isinstance(t, T.TArray):
        return t.elem
    if isinstance(t, T.TCon) and t.name == "list" and t.args:
        return t.args[0]
    return None


def _default(sort: z3.SortRef) -> z3.ExprRef:
    from nanopass.smt.values import default_term

    return default_term(sort)

"""The machine: region plans compiled from a table of per-kind evaluators, and calls.

A region runs as a `Plan`: its parameter ids, a tuple of *steps* and its
result ids.  A step is a Python closure ``step(env)`` that computes one node
and stores its value in ``env`` (a dict from node id to value).  Steps are
built once per node by the evaluator registered for the node's kind, so the
hot loop is ``for step in steps: step(env)`` with no dispatch on kinds.

Environments: a function call, a closure call, a global's initialiser, an
``async`` body and an actor handler get a fresh ``env``; the regions nested in
them (branches, loop bodies, match arms) share it, as the graph lets nested
regions read outer values by id.  A closure captures, when it is made, the
outer values its region tree reads (`Machine.free_values`).

**Extending the machine** (a new language level adds its kinds this way)::

    from nanopass.interp.machine import register_evaluator

    @register_evaluator("clamp")            # a kind of a new level: clamp {lo, hi} (x)
    def clamp(m: Machine, node_id: int, node: Node) -> Step:
        (x,), lo, hi = node.operands, node.attr("lo"), node.attr("hi")
        def step(env):
            env[node_id] = min(max(env[x], lo), hi)
        return step

A factory receives the machine, the node id and the node, and returns the
step.  It may read ``m.plan(region_id)`` for the plans of the node's regions
(``plan.run(env, args)`` binds the params and runs the body in ``env``;
``plan.value(env)`` / ``plan.results(env)`` read what it yields), ``m.apply``
/ ``m.invoke`` to call function values, ``m.element_type(node_id)`` for the
static element type of a container value, and ``m.fault(node, error)`` to turn
a `Fault` into a located diagnostic.  ``register_evaluator(kind, factory,
profile=...)`` also takes the step factory the work/span profiler uses for the
kind (see `nanopass.interp.profiling`); without one the profiler applies its
generic rule.  Registering a kind again replaces its evaluator.
"""

from __future__ import annotations

from typing import Any, Callable

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.graph import Graph, Node
from nanopass.interp.values import Fault

Step = Callable[[dict], None]
Factory = Callable[["Machine", int, Node], Step]

EVALUATORS: dict[str, Factory] = {}
PROFILE_EVALUATORS: dict[str, Factory] = {}


def register_evaluator(kind: str, factory: Factory | None = None, *, profile: Factory | None = None):
    """Register the step factory of ``kind`` (usable as a decorator)."""
    def register(fn: Factory) -> Factory:
        EVALUATORS[kind] = fn
        if profile is not None:
            PROFILE_EVALUATORS[kind] = profile
        return fn

    return register(factory) if factory is not None else register


class Plan:
    """A compiled region: bind ``params``, run ``steps``, read ``result_ids``."""

    __slots__ = ("region_id", "params", "steps", "result_ids", "token", "single")

    def __init__(self, region_id: int, params: tuple[int, ...], steps: tuple[Step, ...],
                 result_ids: tuple[int, ...], token: int | None):
        self.region_id = region_id
        self.params = params
        self.steps = steps
        self.result_ids = result_ids
        self.token = token
        self.single = result_ids[0] if len(result_ids) == 1 else None  # the common case, read directly

    def run(self, env: dict, args: tuple = ()) -> None:
        for param, arg in zip(self.params, args):
            env[param] = arg
        for step in self.steps:
            step(env)

    def value(self, env: dict) -> Any:
        """The region's value: its one result, the tuple of several, unit for none."""
        ids = self.result_ids
        if len(ids) == 1:
            return env[ids[0]]
        return tuple(env[i] for i in ids) if ids else None

    def results(self, env: dict) -> tuple:
        return tuple(env[i] for i in self.result_ids)


# -- function values ------------------------------------------------------------------------
class FunctionValue:
    """A value that can be called with exactly ``arity`` arguments (`Machine.apply` curries)."""

    __slots__ = ()
    arity: int

    def call(self, m: "Machine", args: tuple) -> Any:
        raise NotImplementedError


class Function(FunctionValue):
    """A top-level ``func``."""

    __slots__ = ("name", "node_id", "region_id", "arity", "_plan")

    def __init__(self, name: str, node_id: int, region_id: int, arity: int):
        self.name = name
        self.node_id = node_id
        self.region_id = region_id
        self.arity = arity
        self._plan: Plan | None = None

    def plan(self, m: "Machine") -> Plan:
        if self._plan is None:
            self._plan = m.plan(self.region_id)
        return self._plan

    def call(self, m: "Machine", args: tuple) -> Any:
        plan = self._plan or self.plan(m)
        env: dict = {}
        plan.run(env, args)
        single = plan.single
        return env[single] if single is not None else plan.value(env)

    def __repr__(self) -> str:
        return f"<func {self.name}>"


class Closure(FunctionValue):
    """A ``lambda``: its plan and the outer values it captured."""

    __slots__ = ("plan", "captured", "arity", "name")

    def __init__(self, plan: Plan, captured: dict, name: str | None = None):
        self.plan = plan
        self.captured = captured
        self.arity = len(plan.params)
        self.name = name

    def call(self, m: "Machine", args: tuple) -> Any:
        plan = self.plan
        env = dict(self.captured)
        plan.run(env, args)
        return plan.value(env)

    def __repr__(self) -> str:
        return f"<closure {self.name or ''}#{self.plan.region_id}>"


class Partial(FunctionValue):
    """A function applied to fewer arguments than it takes."""

    __slots__ = ("fn", "args", "arity")

    def __init__(self, fn: FunctionValue, args: tuple):
        self.fn = fn
        self.args = args
        self.arity = fn.arity - len(args)

    def call(self, m: "Machine", args: tuple) -> Any:
        return self.fn.call(m, self.args + args)

    def __repr__(self) -> str:
        return f"<partial {self.fn!r} {self.args!r}>"


class Intrinsic(FunctionValue):
    """An intrinsic as a value: ``impl(m, args, result_type)``."""

    __slots__ = ("name", "arity", "impl")

    def __init__(self, name: str, arity: int, impl: Callable):
        self.name = name
        self.arity = arity
        self.impl = impl

    def call(self, m: "Machine", args: tuple) -> Any:
        return self.impl(m, args, None)

    def __repr__(self) -> str:
        return f"<intrinsic {self.name}>"


# -- the machine ------------------------------------------------------------------------------
class Machine:
    """Compiles and runs one graph; holds its globals, externs and actors."""

    def __init__(self, graph: Graph, bindings: dict[str, Callable], evaluators: dict[str, Factory] | None = None,
                 profiler: Any = None):
        from nanopass.interp.actors import Scheduler

        self.graph = graph
        self.types = graph.annotation("types")
        self.bindings = bindings
        self.evaluators = EVALUATORS if evaluators is None else evaluators
        self.declarations: dict[str, tuple[int, Node]] = {
            n.attr("name"): (i, n) for i, n in graph.top_level() if n.attr("name") is not None}
        self.symbols: dict[str, Any] = {}
        self._globals_running: set[str] = set()
        self._plans: dict[int, Plan] = {}
        self.async_plans: dict[int, tuple] = {}  # region id -> coroutine plan (`nanopass.interp.asyncs`)
        self._free: dict[int, tuple[int, ...]] = {}
        self._sources: dict[str, str | None] = {}
        self._records: dict[str, tuple[tuple[str, ...], dict[str, T.Type]]] | None = None
        self.scheduler = Scheduler(self)
        # Under the work/span profiler (`nanopass.interp.profiling`): its state, its steps, its plans.
        self.profiler = profiler
        self.plan_class = Plan if profiler is None else profiler.plan_class
        if profiler is not None:
            self.evaluators = profiler.evaluators(self.evaluators)

    # -- compiling --------------------------------------------------------------------------
    def plan(self, region_id: int) -> Plan:
        plan = self._plans.get(region_id)
        if plan is None:
            region = self.graph.region(region_id)
            plan = self._plans[region_id] = self.plan_class(region_id, region.params, (), region.results, region.token)
            plan.steps = tuple(self.step(node_id) for node_id in region.body)
        return plan

    def step(self, node_id: int) -> Step:
        node = self.graph.node(node_id)
        factory = self.evaluators.get(node.kind)
        if factory is None:
            raise self.error(node.span, f"the interpreter has no evaluator for '{node.kind}' nodes; "
                                                        "expected a kind of a language it knows")
        return factory(self, node_id, node)

    def free_values(self, region_id: int) -> tuple[int, ...]:
        """The outer node ids a region tree reads (what a closure over it captures)."""
        found = self._free.get(region_id)
        if found is None:
            inner = set(self.graph.walk_region(region_id))
            read: set[int] = set()
            for node_id in inner:
                node = self.graph.node(node_id)
                read.update(node.operands)
                for nested in node.regions:
                    read.update(self.graph.region(nested).results)
            read.update(self.graph.region(region_id).results)
            found = tuple(sorted(read - inner))
            if self.profiler is not None:  # the values' ready times are captured with them
                found += tuple(~i for i in found)
            self._free[region_id] = found
        return found

    def capture(self, env: dict, region_id: int) -> dict:
        return {i: env[i] for i in self.free_values(region_id)}

    # -- types ----------------------------------------------------------------------------------
    def type_of(self, node_id: int) -> T.Type | None:
        return self.types.get(node_id)

    def element_type(self, node_id: int) -> str | None:
        """The scalar element type name of the array a node yields, when the types table knows it."""
        return scalar_name(element_of(self.types.get(node_id)))

    def record_types(self) -> dict[str, tuple[tuple[str, ...], dict[str, T.Type]]]:
        """Declared records: field names, and field types read off the typed record and field nodes."""
        if self._records is None:
            records = {n.attr("name"): (tuple(n.attr("fields") or ()), {}) for _, n in self.graph.top_level()
                       if n.kind == "typedef" and n.attr("form") == "record"}
            for node_id, node in self.graph.live_nodes():
                if node.kind == "record" and node.attr("type") in records:
                    known = records[node.attr("type")][1]
                    for name, operand in zip(node.attr("fields"), node.operands):
                        if self.types.get(operand) is not None:
                            known.setdefault(name, self.types[operand])
                elif node.kind == "field" and node_id in self.types:
                    owner = self.types.get(node.operands[0])
                    if isinstance(owner, T.TCon) and owner.name in records:
                        records[owner.name][1].setdefault(node.attr("name"), self.types[node_id])
            self._records = records
        return self._records

    # -- errors -----------------------------------------------------------------------------------
    def fault(self, node: Node, error: Fault) -> DiagnosticError:
        return self.error(node.span, str(error))

    def error(self, span: Span, message: str) -> DiagnosticError:
        """A located runtime diagnostic, with the source line when the span's file can be read."""
        return DiagnosticError(Diagnostic(span, message, source=self._source(span.file)))

    def _source(self, file: str) -> str | None:
        if file not in self._sources:
            try:
                with open(file, encoding="utf-8") as handle:
                    self._sources[file] = handle.read()
            except (OSError, UnicodeDecodeError, ValueError):
                self._sources[file] = None
        return self._sources[file]

    # -- names ------------------------------------------------------------------------------------
    def symbol(self, name: str, span: Span) -> Any:
        """The value of a top-level declaration or an intrinsic named ``name``."""
        value = self.symbols.get(name)
        if value is not None or name in self.symbols:
            return value
        entry = self.declarations.get(name)
        if entry is None:
            from nanopass.interp.intrinsics import intrinsic_value

            value = intrinsic_value(self, name)
            if value is None:
                raise self.error(span, f"unknown name '{name}': expected a top-level declaration "
                                                       "or an intrinsic")
        else:
            node_id, node = entry
            value = self._declaration(name, node_id, node, span)
        self.symbols[name] = value
        return value

    def _declaration(self, name: str, node_id: int, node: Node, span: Span) -> Any:
        if node.kind == "func":
            return Function(name, node_id, node.regions[0], len(node.attr("params")))
        if node.kind == "extern":
            from nanopass.externs import extern_value

            return extern_value(self, node_id, node)
        if node.kind == "global":
            if name in self._globals_running:
                raise self.error(span, f"the value '{name}' is used while it is being computed; "
                                                       "expected it to be defined before its use")
            self._globals_running.add(name)
            try:
                plan = self.plan(node.regions[0])
                env: dict = {}
                plan.run(env)
                return plan.value(env)
            finally:
                self._globals_running.discard(name)
        raise self.error(span, f"'{name}' names a {node.kind}, not a value")

    # -- calls --------------------------------------------------------------------------------------
    def apply(self, fn: Any, args: tuple) -> Any:
        """Curried application: fewer arguments than the arity make a `Partial`, more chain on."""
        while True:
            arity = getattr(fn, "arity", None)
            if arity is None:
                raise Fault(f"a {type(fn).__name__} value is applied as a function")
            count = len(args)
            if count < arity:
                return Partial(fn, args)
            if count == arity:
                return fn.call(self, args)
            fn, args = fn.call(self, args[:arity]), args[arity:]

    def invoke(self, fn: FunctionValue, args: tuple) -> Any:
        """A call with exactly the arity's arguments (intrinsics calling their function arguments)."""
        if fn.arity == len(args):
            return fn.call(self, args)
        return self.apply(fn, args)


def element_of(t: T.Type | None) -> T.Type | None:
    if isinstance(t, T.TArray):
        return t.elem
    if isinstance(t, T.TCon) and t.name == "list" and t.args:
        return t.args[0]
    return None


def scalar_name(t: T.Type | None) -> str | None:
    if isinstance(t, T.TPrim) and isinstance(t.base, str):
        return t.base
    return None

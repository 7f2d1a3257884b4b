"""The braid: compiled width regions inside a control strand that the host interpreter runs.

Its one concern is running a program with the LLVM backend: what the `Plan`
made native runs as compiled code, the rest on the reference interpreter,
which is the continuation host (asyncio for ``async``, its scheduler for
actors).  `NativeProgram` holds one Saturated graph, its plan and its
interpreter:

* an entry that is a native function is called directly (arguments
  converted by their declared types, as the interpreter converts them);
* any other entry runs on the interpreter, built with evaluator overrides
  (the extension mechanism of `nanopass.interp.machine`): a ``call`` of a
  native function runs the compiled function, and a kernel (a native index
  space of host code) runs its compiled entry on the values it reads.  The
  crossing is that step: the control strand waits there for the width
  region to come back, as an ``await`` waits for its value.  A producer
  fused into a kernel is skipped by the host (the kernel computes it), and
  its extent is read off the producer's own extent.

The module is compiled on first use, once per program: one unit holding the
native functions and kernels the run needs, found in the process-wide cache
by its structural hash (`nanopass.backends.llvm.hashing`) when an equal
program was compiled before.
"""

from __future__ import annotations

import ctypes
from typing import Any, Mapping

import attrs

from nanopass.diagnostics import UNKNOWN_SPAN, Diagnostic, DiagnosticError
from nanopass.externs import from_host, to_host
from nanopass.frontend import types as T
from nanopass.graph import Graph
from nanopass.interp.machine import EVALUATORS
from nanopass.interpreter import Interpreter
from nanopass.languages import Clef, Elaborated, Saturated
from nanopass.pipeline import Pipeline
from nanopass.backends.llvm import runtime
from nanopass.backends.llvm.emit import ModuleEmitter
from nanopass.backends.llvm.engine import CompiledModule, compile_module, host_description
from nanopass.backends.llvm.fusion import TABLE as FUSED
from nanopass.backends.llvm.hashing import UnitNames, unit_names
from nanopass.backends.llvm.plan import Plan


@attrs.frozen
class Options:
    """``parallel``: split index spaces across cores; ``reassociate_floats``: baker's option (float
    reductions may be evaluated as trees, vectorized and split); ``workers`` and ``threshold`` tune the
    dispatch at run time (None: the core count, `runtime.DEFAULT_THRESHOLD`)."""

    parallel: bool = True
    reassociate_floats: bool = False
    workers: int | None = None
    threshold: int | None = None


def saturate(program: str | bytes | Graph, filename: str = "<input>", reassociate_floats: bool = False) -> Graph:
    """The program at the Saturated level with the tables the backend reads (types, colors, ``fused``)."""
    from nanopass.driver import as_graph

    graph = as_graph(program, filename)
    baker = "baker{reassociate_floats=true}" if reassociate_floats else "baker"
    if not Clef.check(graph):
        text = f"elaborate,reachability,{baker},coeffects,color,fuse"
    elif not Elaborated.check(graph):
        text = f"{baker},coeffects,color,fuse"
    elif not Saturated.check(graph):
        text = ",".join(t for t, table in (("coeffects", "coeffects"), ("color", "color"), ("fuse", FUSED))
                        if table not in graph.annotations) or "fuse"
    else:
        raise DiagnosticError(Diagnostic(UNKNOWN_SPAN, "the LLVM backend takes a Clef, Elaborated or Saturated "
                                                       "graph; this one conforms to none of them"))
    return Pipeline.parse(text).run(graph).graph


class NativeProgram:
    """One program, ready to run with the LLVM backend (module docstring)."""

    def __init__(self, program: str | bytes | Graph, externs: Mapping[str, Any] | str | None = None,
                 options: Options = Options(), filename: str = "<input>"):
        self.options = options
        self.graph = saturate(program, filename, options.reassociate_floats)
        self.plan = Plan(self.graph, cores=options.parallel)
        self.absorbed = {p: k for k in self.plan.kernels for p in self.plan.absorbed(k)}
        self.interpreter = Interpreter(self.graph, externs, evaluators=self._evaluators())
        self.machine = self.interpreter.machine
        self._units: dict[tuple, tuple[CompiledModule, UnitNames, Any]] = {}
        self._calls: dict[tuple, runtime.NativeCall] = {}

    # -- compiling ------------------------------------------------------------------------------------------
    def unit(self, functions: tuple[str, ...] | None = None, kernels: tuple[int, ...] | None = None,
             ) -> tuple[CompiledModule, UnitNames, Any]:
        """The compiled module of these functions (default: all native ones) and kernels (default: all)."""
        functions = tuple(self.plan.closure(self.plan.functions if functions is None else functions))
        kernels = tuple(sorted(self.plan.kernels if kernels is None else kernels))
        found = self._units.get((functions, kernels))
        if found is not None:
            return found
        called, externs, globals_ = self.plan.used(self.plan.unit_regions(functions, kernels))
        kinds = {name: runtime.binding_kind(self.machine.bindings.get(name)) for name in externs}
        values = {name: self.machine.symbol(name, UNKNOWN_SPAN) for name in globals_}
        extra = (sorted(kinds.items()), sorted((n, repr(v)) for n, v in values.items()), self.options.parallel,
                 host_description())
        names = unit_names(self.plan, functions, kernels, extra)

        def build():
            emitter = ModuleEmitter(self.plan, names.local, functions, kernels, functions, kinds, values,
                                    name=names.key)
            return emitter.module, {"externs": sorted(kinds)}

        compiled = compile_module(names.key, build)
        table, keep = self._extern_table(compiled.context["externs"])
        found = self._units[(functions, kernels)] = (compiled, names, (table, keep))
        return found

    def _extern_table(self, names: list[str]) -> tuple[ctypes.Array, list]:
        entries, keep = [], []
        for name in names:
            extern = self.plan.externs[name]
            declaration = self.graph.node(extern.node_id)
            binding = self.machine.bindings.get(name)

            def missing(name=name, declaration=declaration) -> DiagnosticError:
                return self.machine.error(declaration.span, f"the extern '{name}' has no binding; expected a Python "
                                                            f"callable named '{name}' in the externs given to the run")
            address, alive = runtime.extern_entry(name, binding, extern.params, extern.result, missing)
            entries.append(address)
            keep.append(alive)
        return (ctypes.c_void_p * max(1, len(entries)))(*entries), keep

    def ir(self, entry: str | None = None) -> str:
        """The optimized LLVM IR of the module an entry (or, without one, the whole program) runs."""
        if entry is not None and entry not in self.machine.declarations:
            names = ", ".join(sorted(self.plan.functions))
            raise DiagnosticError(Diagnostic(UNKNOWN_SPAN, f"the program has no top-level '{entry}'; expected one "
                                                           f"of: {names or '(none)'}"))
        if entry is not None and entry in self.plan.functions:
            compiled, _, _ = self.unit((entry,), ())
        else:
            compiled, _, _ = self.unit()
        return compiled.optimized_ir

    # -- calling -------------------------------------------------------------------------------------------------
    def native_call(self, symbol: str, params: tuple, result, unit: tuple) -> runtime.NativeCall:
        found = self._calls.get((symbol, unit))
        if found is None:
            compiled, names, (table, _) = self.unit(*unit)

            def locate(code: int, local: int, payload: tuple, message: str | None) -> DiagnosticError:
                return runtime.locate_fault(self.graph, names.nodes, self.machine.error, code, local, payload,
                                            message)

            found = runtime.NativeCall(compiled.address(symbol), compiled.address("np.release"), params, result,
                                       lambda: table, locate)
            if self.options.workers is not None:
                found.workers = self.options.workers
            if self.options.threshold is not None:
                found.threshold = self.options.threshold
            self._calls[(symbol, unit)] = found
        return found

    def function(self, name: str, whole: bool = False) -> runtime.NativeCall:
        """The compiled native function ``name`` (``whole``: from the module of the whole program)."""
        f = self.plan.functions[name]
        unit = (None, None) if whole else ((name,), ())
        return self.native_call(f"entry.{name}", f.params, f.result, unit)

    def kernel(self, node_id: int) -> runtime.NativeCall:
        kernel = self.plan.kernels[node_id]
        compiled, names, _ = self.unit()
        return self.native_call(f"kernel.{names.local[node_id]}", kernel.input_types, kernel.result, (None, None))

    def call(self, entry: str, args: tuple) -> Any:
        """``entry`` applied to host values; the result as plain Python, as `nanopass.run` returns it."""
        if entry not in self.plan.functions:
            return self.interpreter.run(entry, *args)
        m = self.machine
        node_id, _ = m.declarations[entry]
        declared = m.type_of(node_id)
        params, t = [], declared
        for _ in self.plan.functions[entry].params:
            params.append(t.arg if isinstance(t, T.TFun) else None)
            t = t.result if isinstance(t, T.TFun) else None
        if not args and len(params) == 1 and params[0] == T.UNIT:
            args = (None,)
        converted = tuple(from_host(m, a, p) for a, p in zip(args, params))
        return to_host(m, self.function(entry)(*converted), t)

    # -- the interpreter's overrides ---------------------------------------------------------------------------
    def _evaluators(self) -> dict:
        table = dict(EVALUATORS)
        plan, program = self.plan, self
        base_call, base_extent = table["call"], table["extent"]

        def call(m, nid, node):
            target = plan.facts.callee(node)
            if target is None or target[1].kind != "func" or target[0] not in plan.functions:
                return base_call(m, nid, node)
            name, args = target[0], node.operands[1:]

            def step(env: dict) -> None:
                env[nid] = program.function(name, whole=True)(*[env[a] for a in args])
            return step

        def index_space(base):
            def factory(m, nid, node):
                if nid in program.absorbed:
                    def skip(env: dict) -> None:
                        env[nid] = None  # computed inside the kernel it is fused into
                    return skip
                kernel = plan.kernels.get(nid)
                if kernel is None:
                    return base(m, nid, node)
                inputs = kernel.inputs

                def step(env: dict) -> None:
                    env[nid] = program.kernel(nid)(*[env[v] for v in inputs])
                return step
            return factory

        def extent(m, nid, node):
            producer = node.operands[0]
            if producer not in program.absorbed:
                return base_extent(m, nid, node)
            count = self.graph.node(producer).operands[0]

            def step(env: dict) -> None:
                env[nid] = env[count]
            return step

        table["call"] = call
        table["extent"] = extent
        for kind in ("parallel_for", "reduce", "stencil", "scan", "scatter"):  # the last two: a fused filter's
            table[kind] = index_space(table[kind])
        return table


class JitFunction:
    """A Python callable for one entry of a program compiled by the LLVM backend (`jit`)."""

    def __init__(self, program: NativeProgram, entry: str):
        if entry not in program.machine.declarations:
            names = ", ".join(sorted(program.plan.functions))
            raise DiagnosticError(Diagnostic(UNKNOWN_SPAN, f"the program has no top-level '{entry}'; expected one "
                                                           f"of: {names or '(none)'}"))
        self.program = program
        self.entry = entry
        self.native = entry in program.plan.functions
        if self.native:
            program.function(entry)  # compile now, not at the first call

    def __call__(self, *args: Any) -> Any:
        return self.program.call(self.entry, args)

    @property
    def ir(self) -> str:
        return self.program.ir(self.entry)

    def __repr__(self) -> str:
        how = "native" if self.native else "host with compiled kernels"
        return f"<jit {self.entry} ({how})>"

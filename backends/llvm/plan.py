"""The native plan: which functions and which width regions of a Saturated graph run as compiled code.

Its one concern is deciding what can be native and saying why the rest cannot.

* A top-level ``func`` is **native** when its parameters and result have
  native types (`nanopass.backends.llvm.types`), every node of its body is a
  kind the emitter lowers with native operand and result types, and every
  function it calls is native or a pure ``extern`` over scalars.  Functions
  are settled together (a call graph fixed point), so mutual recursion is
  native when all its members are.
* In the rest of the program (the control strand: ``async``, lists, maps,
  actors, strings), each outermost index space (``parallel_for``,
  ``reduce``, ``stencil``) whose region tree is native and whose operands and
  captured values have native types becomes a **kernel**: a compiled entry
  taking those values, which the host interpreter calls in place of running
  the node (`nanopass.backends.llvm.host`).  `Plan.explain` lists, for
  each crossing of the ``crossings`` table (the ``color`` pass: a control
  region waiting on width work), where each of its spawns runs.
* A ``parallel_for`` (and a reassociable ``reduce``, a ``stencil``) is
  **parallel** -- outlined over an index range and dispatched to the thread
  pool when its trip count times its per-iteration work passes the
  threshold -- when it consumes no effect token and its region is of a width
  color (``width-dense``, ``width-irregular``, ``streaming``) in the
  ``color`` table, or, without that table, when no region of its tree has an
  effect token.  Index spaces nested in a parallel one run inside its chunks.

Every rejection has a reason (`Plan.reasons`, `Plan.kernel_reasons`): the
node, its source line and what it needs that native code has not.
"""

from __future__ import annotations

from typing import Iterable

import attrs

from nanopass.frontend import types as T
from nanopass.graph import Graph, Node
from nanopass.backends.llvm import types as N
from nanopass.backends.llvm.analysis import CLOSED, CONVERSIONS, MATH, Facts
from nanopass.backends.llvm.fusion import fused_into

WIDTH_COLORS = frozenset({"width-dense", "width-irregular", "streaming"})
INDEX_SPACES = frozenset({"parallel_for", "reduce", "stencil"})
ARRAY_NATIVES = frozenset({"Array.length", "Array2D.length1", "Array2D.length2", "Array.zeroCreate",
                           "Array2D.zeroCreate", "Array.copy", "fst", "snd"})
NATIVE_OPS = ARRAY_NATIVES | MATH | CONVERSIONS
# Kinds with nothing to compute (tokens, parameters) or computed where they are used (refs).
_PASSIVE = frozenset({"param", "token", "ref"})
_SIMPLE = frozenset({"const", "prim", "tuple", "proj", "record", "field", "with", "index", "store", "extent",
                     "native", "call", "if", "for", "loop", "foreach", "parallel_for", "reduce", "stencil", "scan",
                     "scatter", "array", "match_failure", "lambda"})


@attrs.frozen(slots=True)
class NativeFunction:
    name: str
    node_id: int
    params: tuple  # NType per parameter
    result: N.NType
    callees: tuple  # the native functions and externs it calls, by name


@attrs.frozen(slots=True)
class NativeExtern:
    name: str
    node_id: int
    params: tuple  # Scalar per parameter
    result: N.NType  # a Scalar or Unit


@attrs.frozen(slots=True)
class Kernel:
    """A width region of host code compiled on its own: ``inputs`` are the values it reads."""

    node_id: int
    declaration: str
    inputs: tuple  # node ids: the node's operands and the outer values its region tree reads
    input_types: tuple
    result: N.NType


class Plan:
    """What runs natively in one graph (module docstring)."""

    def __init__(self, graph: Graph, facts: Facts | None = None, cores: bool = True):
        self.graph = graph
        self.cores = cores  # False: nothing is split across cores
        self.facts = facts or Facts(graph)
        self.fused = fused_into(graph)
        # Producer -> its region's param aliased to the consumer's index (a reduce consumer aliases to itself).
        self.aliases: dict[int, int] = {}
        self.color = graph.annotation("color")
        self.functions: dict[str, NativeFunction] = {}
        self.externs: dict[str, NativeExtern] = {}
        self.globals: dict[str, N.NType] = {}
        self.kernels: dict[int, Kernel] = {}
        self.reasons: dict[str, str] = {}
        self.kernel_reasons: dict[int, str] = {}
        self._alias_fused()
        self._settle_functions()
        self._find_kernels()

    # -- fusion aliases ---------------------------------------------------------------------------------
    def _alias_fused(self) -> None:
        """A fused producer's index is its reader's index, or the consuming reduce's own loop index."""
        for producer, consumer in self.fused.items():
            node = self.graph.node(producer)
            if node.kind != "parallel_for":
                continue
            param = self.graph.region(node.regions[0]).params[0]
            readers = [u for u in self.facts.uses[producer] if u >= 0 and self.graph.node(u).kind == "index"]
            self.aliases[param] = self.graph.node(readers[0]).operands[1] if readers else -1 - consumer

    def masked(self, reduce_id: int) -> tuple[int, int] | None:
        """(values, flags) when the reduce folds a fused filter: element i counts only where flag i holds."""
        node = self.graph.node(reduce_id)
        if node.kind != "reduce" or node.operands[0] not in self.fused:
            return None
        source = self.graph.node(node.operands[0])
        return (source.operands[0], source.operands[1]) if source.kind == "scatter" else None

    def alias(self, node_id: int) -> int:
        while node_id in self.aliases:
            node_id = self.aliases[node_id]
        return node_id

    # -- functions ----------------------------------------------------------------------------------------
    def _settle_functions(self) -> None:
        candidates: dict[str, tuple[int, Node, set[str]]] = {}
        for node_id, node in self.graph.top_level():
            name = node.attr("name")
            if node.kind == "extern":
                self._extern(name, node_id, node)
            elif node.kind == "global":
                results = self.graph.region(node.regions[0]).results
                ntype = self.facts.ntype(results[0]) if len(results) == 1 else "no single value"
                if isinstance(ntype, N.Scalar):
                    self.globals[name] = ntype
            elif node.kind == "func":
                reason, callees = self._function_reason(node_id, node)
                if reason is not None:
                    self.reasons[name] = reason
                else:
                    candidates[name] = (node_id, node, callees)
        changed = True
        while changed:  # drop functions that call a non-native one, until nothing changes
            changed = False
            for name, (_, node, callees) in list(candidates.items()):
                missing = next((c for c in sorted(callees) if c not in candidates and c not in self.externs), None)
                if missing is not None:
                    why = self.reasons.get(missing, "it is not a native function")
                    self.reasons[name] = f"it calls '{missing}', which runs on the host: {why}"
                    del candidates[name]
                    changed = True
        for name, (node_id, node, callees) in candidates.items():
            params, result = self._signature(node_id, node)
            self.functions[name] = NativeFunction(name, node_id, params, result, tuple(sorted(callees)))

    def _extern(self, name: str, node_id: int, node: Node) -> None:
        if not node.attr("pure"):
            self.reasons[name] = "the extern is not [<Pure>]: its effects stay ordered on the host"
            return
        t = self.facts.frontend_type(node_id)
        params = []
        for _ in range(node.attr("arity")):
            if not isinstance(t, T.TFun):
                self.reasons[name] = "its type is unknown"
                return
            params.append(N.native_type(t.arg, self.facts.records))
            t = t.result
        result = N.native_type(t, self.facts.records)
        bad = next((p for p in params + [result] if not isinstance(p, (N.Scalar, N.Unit))), None)
        if bad is not None or isinstance(result, N.Unit) and not params:
            why = bad if isinstance(bad, str) else f"a {bad} crosses it (externs take and return scalars)"
            self.reasons[name] = f"the extern's signature is not native: {why}"
            return
        self.externs[name] = NativeExtern(name, node_id, tuple(params), result)

    def _signature(self, node_id: int, node: Node) -> tuple[tuple, N.NType]:
        region = self.graph.region(node.regions[0])
        params = tuple(self.facts.ntype(p) for p in region.params)
        return params, self.facts.result_ntype(node.regions[0])

    def _function_reason(self, node_id: int, node: Node) -> tuple[str | None, set[str]]:
        region_id = node.regions[0]
        region = self.graph.region(region_id)
        if not region.params:
            return "it takes no parameters (a value is computed once, on the host)", set()
        for param in region.params:
            t = self.facts.ntype(param)
            if isinstance(t, str):
                return f"parameter '{self.graph.node(param).attr('name')}': {t}", set()
        result = self.facts.result_ntype(region_id)
        if isinstance(result, str):
            return f"its result: {result}", set()
        callees: set[str] = set()
        reason = self.tree_reason(region_id, callees)
        return reason, callees

    # -- node checks ----------------------------------------------------------------------------------------
    def tree_reason(self, region_id: int, callees: set[str]) -> str | None:
        """Why the region tree cannot be native (None: it can); the funcs it calls go into ``callees``."""
        for node_id in self.facts.tree(region_id):
            why = self.node_reason(node_id, callees)
            if why is not None:
                node = self.graph.node(node_id)
                line = f"line {node.span.line}: " if node.span.line else ""
                return f"{line}{node.kind}{_label(node)}: {why}"
        return None

    def node_reason(self, node_id: int, callees: set[str]) -> str | None:
        node = self.graph.node(node_id)
        kind = node.kind
        if kind in _PASSIVE:
            if kind == "ref":
                return self._ref_reason(node_id, node)
            return None
        if kind == "lambda":
            return None if not self.facts.uses.get(node_id) else "a closure value lives on the host"
        if kind not in _SIMPLE:
            return f"'{kind}' runs on the host (control strand)"
        if node_id in self.fused:
            produced = self.facts.ntype(node_id)
            return produced if isinstance(produced, str) else None
        t = self.facts.ntype(node_id)
        if isinstance(t, str) and kind not in ("store", "match_failure"):
            return t
        for operand in node.operands:
            if self.graph.node(operand).kind == "ref" and kind == "call" and operand == node.operands[0]:
                continue
            ot = self.facts.ntype(operand) if self.graph.node(operand).kind != "ref" else self._ref_type(operand)
            if isinstance(ot, str):
                return f"an operand: {ot}"
        check = getattr(self, f"_{kind}_reason", None)
        return check(node_id, node, t, callees) if check is not None else None

    def _ref_reason(self, node_id: int, node: Node) -> str | None:
        name = node.attr("name")
        declaration = self.facts.symbols.get(name)
        users = self.facts.uses.get(node_id, [])
        if declaration is not None and self.graph.node(declaration).kind == "global":
            return None if name in self.globals else f"the global '{name}' is not a scalar"
        for user in users:
            user_node = self.graph.node(user) if user >= 0 else None
            if user_node is None or user_node.kind != "call" or user_node.operands[0] != node_id:
                return f"'{name}' is used as a function value (closures live on the host)"
        return None

    def _ref_type(self, node_id: int) -> N.NType | str:
        name = self.graph.node(node_id).attr("name")
        return self.globals.get(name, f"'{name}' is not a native value")

    def _prim_reason(self, node_id, node, t, callees) -> str | None:
        type_name = self.facts.operand_type_name(node)
        if type_name not in N.SCALARS:
            return f"operator '{node.attr('op')}' on {type_name or 'a non-scalar'}"
        op = node.attr("op")
        if type_name == "bool" and op not in ("not", "=", "<>", "<", "<=", ">", ">=", "&&&", "|||", "^^^"):
            return f"operator '{op}' on bool"
        if type_name in N.FLOATS and op in ("&&&", "|||", "^^^", "<<<", ">>>", "not"):
            return f"operator '{op}' on {type_name}"
        if type_name == "uint8" and op == "neg":
            return "negation of a uint8"
        counted = node.operands[:1] if op in ("<<<", ">>>") else node.operands  # a shift count is an int
        return self._agree([self.facts.ntype(o) for o in counted], N.SCALARS[type_name], "its operands")

    def _native_reason(self, node_id, node, t, callees) -> str | None:
        op = node.attr("op")
        if op not in NATIVE_OPS:
            return f"the intrinsic '{op}' runs on the host"
        if op in MATH or op in CONVERSIONS:
            source = self.facts.ntype(node.operands[0])
            if not isinstance(source, N.Scalar) or (op in MATH - {"abs", "min", "max"} and source.name not in N.FLOATS):
                return f"'{op}' of a {source}"
        return None

    def _call_reason(self, node_id, node, t, callees) -> str | None:
        target = self.facts.callee(node)
        if target is None:
            return "the callee is a closure value (it lives on the host)"
        name, declaration = target
        if len(node.operands) - 1 != (len(declaration.attr("params")) if declaration.kind == "func"
                                      else declaration.attr("arity")):
            return f"'{name}' is applied partially"
        if declaration.kind == "extern":
            return None if name in self.externs else f"the extern '{name}': {self.reasons.get(name)}"
        callees.add(name)
        params = self.graph.region(declaration.regions[0]).params
        for param, arg in zip(params, node.operands[1:]):
            why = self._agree([self.facts.ntype(arg)], self.facts.ntype(param), f"the arguments of '{name}'")
            if why is not None:
                return why
        return None

    def _index_reason(self, node_id, node, t, callees) -> str | None:
        array = self.facts.ntype(node.operands[0])
        if not isinstance(array, N.Array) or array.rank != len(node.operands) - 1:
            return f"it indexes a {array}"
        return None

    def _store_reason(self, node_id, node, t, callees) -> str | None:
        array = self.facts.ntype(node.operands[0])
        if not isinstance(array, N.Array) or array.rank != len(node.operands) - 2:
            return f"it stores into a {array}"
        return self._agree([self.facts.ntype(node.operands[-1])], array.elem, "the stored value")

    def _extent_reason(self, node_id, node, t, callees) -> str | None:
        array = self.facts.ntype(node.operands[0])
        return None if isinstance(array, N.Array) and node.attr("dim") < array.rank else f"the extent of a {array}"

    def _reduce_reason(self, node_id, node, t, callees) -> str | None:
        source = self.facts.ntype(node.operands[0]) if node.operands[0] not in self.fused else N.Array(N.INT)
        if not isinstance(source, N.Array):
            return f"it reduces a {source}"
        acc, element = self.graph.region(node.regions[0]).params
        carried = [self.facts.result_ntype(node.regions[0]), self.facts.ntype(acc)]
        return self._agree(carried + [self.facts.ntype(o) for o in node.operands[1:]], t, "its accumulator")

    def _for_reason(self, node_id, node, t, callees) -> str | None:
        return self._carried(node, node.operands[2:], node.regions[0], 1)

    def _loop_reason(self, node_id, node, t, callees) -> str | None:
        return self._carried(node, node.operands, node.regions[1], 0)

    def _if_reason(self, node_id, node, t, callees) -> str | None:
        arms = [self.facts.result_ntype(r) for r in node.regions]
        return self._agree(arms[1:], arms[0], "its arms")

    def _carried(self, node: Node, inits: tuple, body_id: int, skip: int) -> str | None:
        """A loop's carried values: the same type going in, as body parameters and coming out."""
        body = self.graph.region(body_id)
        for init, param, result in zip(inits, body.params[skip:], body.results):
            why = self._agree([self.facts.ntype(param), self.facts.ntype(result)], self.facts.ntype(init),
                              "its carried values")
            if why is not None:
                return why
        return None

    @staticmethod
    def _agree(types: list, expected: N.NType | str, what: str) -> str | None:
        """Why ``types`` are not all ``expected`` (the types table disagrees with itself), or None."""
        if isinstance(expected, str):
            return expected
        for t in types:
            if isinstance(t, str):
                return t
            if t != expected:
                return f"the types of {what} disagree ({t} and {expected})"
        return None

    def _foreach_reason(self, node_id, node, t, callees) -> str | None:
        source = self.facts.ntype(node.operands[0])
        return None if isinstance(source, N.Array) else f"it walks a {source}"

    def _stencil_reason(self, node_id, node, t, callees) -> str | None:
        source = self.facts.ntype(node.operands[1])
        return None if isinstance(source, N.Array) and source.rank == 1 else f"windows of a {source}"

    def _scan_reason(self, node_id, node, t, callees) -> str | None:
        source = self.facts.ntype(node.operands[0])
        if node.attr("op") != "+" or not isinstance(source, N.Array) or not N.is_scalar(source.elem, "bool", "int"):
            return f"a scan '{node.attr('op')}' of a {source}"
        return None

    def _scatter_reason(self, node_id, node, t, callees) -> str | None:
        return None if node.attr("container") == "array" else "it scatters into a list"

    # -- kernels in host code --------------------------------------------------------------------------------
    def _find_kernels(self) -> None:
        native_ids = {f.node_id for f in self.functions.values()}
        for declaration_id, node in self.graph.top_level():
            if declaration_id in native_ids or not node.regions:
                continue
            for region_id in node.regions:
                self._kernels_in(region_id, node.attr("name") or "")

    def _kernels_in(self, region_id: int, declaration: str) -> None:
        for node_id in self.graph.region(region_id).node_ids():
            node = self.graph.node(node_id)
            if node.kind in INDEX_SPACES and node_id not in self.fused:
                reason = self._kernel_reason(node_id, node, declaration)
                if reason is None:
                    continue
                self.kernel_reasons[node_id] = reason
            for inner in node.regions:
                self._kernels_in(inner, declaration)

    def _kernel_reason(self, node_id: int, node: Node, declaration: str) -> str | None:
        callees: set[str] = set()
        why = self.node_reason(node_id, callees)
        regions = self.kernel_regions(node_id)
        for region_id in regions if why is None else ():
            why = self.tree_reason(region_id, callees)
            if why is not None:
                break
        if why is None:
            missing = next((c for c in sorted(callees) if c not in self.functions), None)
            if missing is not None:
                why = f"it calls '{missing}', which runs on the host: {self.reasons.get(missing)}"
        inputs = self.inputs(node_id)
        types = []
        if why is None:
            for value in inputs:
                t = self.facts.ntype(value)
                if isinstance(t, str):
                    why = f"it reads %{value} ({self.graph.node(value).kind}): {t}"
                    break
                types.append(t)
        if why is not None:
            return f"{node.kind} ({node.attr('origin') or ''}) at line {node.span.line}: {why}"
        self.kernels[node_id] = Kernel(node_id, declaration, tuple(inputs), tuple(types), self.facts.ntype(node_id))
        return None

    def kernel_regions(self, node_id: int) -> list[int]:
        """The regions a kernel runs: its own, and those of the producers fused into it as its source."""
        node = self.graph.node(node_id)
        return list(node.regions) + [self.graph.node(p).regions[0] for p in self.absorbed(node_id)
                                     if self.graph.node(p).kind == "parallel_for"]

    def absorbed(self, node_id: int) -> list[int]:
        """The fused producers a reduce computes itself, reading them whole: its source, or a filter's parts."""
        node = self.graph.node(node_id)
        if node.kind != "reduce" or node.operands[0] not in self.fused:
            return []
        masked = self.masked(node_id)
        if masked is None:
            return [node.operands[0]]
        scatter = self.graph.node(node.operands[0])
        return [p for p in (scatter.operands[0], scatter.operands[2], scatter.operands[1], node.operands[0])
                if p in self.fused]

    # -- what a region reads ---------------------------------------------------------------------------------
    def inputs(self, node_id: int) -> list[int]:
        """The values an index space reads from outside: its operands, then the free values of its tree.

        A producer fused into it as its source is read through its own operand (its extent) and tree.
        """
        node = self.graph.node(node_id)
        masked = self.masked(node_id)
        if masked is not None:
            values, flags = masked
            operands = [self.graph.node(flags).operands[0]] + ([] if values in self.fused else [values])
            operands += list(node.operands[1:])
        else:
            operands = [self.graph.node(o).operands[0] if o in self.fused else o for o in node.operands]
        seen = list(dict.fromkeys(operands))
        for value in self.free_values(self.kernel_regions(node_id)):
            if value not in seen:
                seen.append(value)
        return [v for v in seen if self.graph.node(v).kind != "ref"]

    def free_values(self, region_ids: Iterable[int]) -> list[int]:
        """Outer values a set of region trees reads, fused producers' regions included, in first-read order."""
        inner: set[int] = set()
        order: list[int] = []
        stack = list(region_ids)
        regions: list[int] = []
        while stack:
            region_id = stack.pop()
            regions.append(region_id)
            for node_id in self.facts.tree(region_id):
                inner.add(node_id)
                node = self.graph.node(node_id)
                if node.kind == "index" and node.operands[0] in self.fused:
                    stack.append(self.graph.node(node.operands[0]).regions[0])
        for region_id in regions:
            for node_id in self.facts.tree(region_id):
                node = self.graph.node(node_id)
                reads = list(node.operands)
                if node.kind == "index" and node.operands[0] in self.fused:
                    count = self.graph.node(node.operands[0]).operands[0]  # read by the producer's count check
                    reads = reads[1:] + ([count] if self.graph.node(count).kind != "extent" else [])
                if node.kind == "extent" and node.operands[0] in self.fused:
                    reads = [self.graph.node(node.operands[0]).operands[0]]
                if node.kind == "call" and self.graph.node(node.operands[0]).kind == "ref":
                    reads = reads[1:]
                for nested in node.regions if node.kind not in CLOSED else ():
                    reads.extend(self.graph.region(nested).results)
                for value in reads:
                    if value not in inner and value not in order:
                        order.append(value)
            order.extend(r for r in self.graph.region(region_id).results if r not in inner and r not in order)
        return order

    # -- parallel dispatch -----------------------------------------------------------------------------------
    def parallel(self, node_id: int) -> bool:
        """Whether an index space may be split across cores (module docstring)."""
        node = self.graph.node(node_id)
        if not self.cores or node.kind not in INDEX_SPACES or node.effect is not None:
            return False
        if node.kind == "reduce" and (not node.attr("reassociate") or (
                self.masked(node_id) is not None and len(node.operands) == 1)):
            return False  # in order; or a filter without init, whose chunks may keep nothing
        if node.kind == "parallel_for" and node.attr("container") not in ("array", "array2d"):
            return False
        region_id = node.regions[0]
        if self.color:
            return self.color.get(region_id) in WIDTH_COLORS
        return all(self.graph.region(r).token is None for r in self._regions(region_id))

    def _regions(self, region_id: int) -> list[int]:
        found, stack = [], [region_id]
        while stack:
            current = stack.pop()
            found.append(current)
            for node_id in self.graph.region(current).body:
                stack.extend(self.graph.node(node_id).regions)
        return found

    def closure(self, names: Iterable[str]) -> list[str]:
        """The native functions ``names`` call, directly or not, with ``names``."""
        found: list[str] = []
        stack = [n for n in names if n in self.functions]
        while stack:
            name = stack.pop()
            if name not in found:
                found.append(name)
                stack.extend(c for c in self.functions[name].callees if c in self.functions)
        return sorted(found)

    def unit_regions(self, functions: Iterable[str], kernels: Iterable[int]) -> list[int]:
        """The regions a module of these functions and kernels runs."""
        regions = [self.graph.node(self.functions[f].node_id).regions[0] for f in functions]
        for node_id in kernels:
            regions.extend(self.kernel_regions(node_id))
        return regions

    def used(self, regions: Iterable[int]) -> tuple[list[str], list[str], list[str]]:
        """The native functions, externs and scalar globals the region trees call or read."""
        functions: set[str] = set()
        externs: set[str] = set()
        globals_: set[str] = set()
        for region_id in regions:
            for node_id in self.facts.tree(region_id):
                node = self.graph.node(node_id)
                if node.kind == "call":
                    target = self.facts.callee(node)
                    if target is not None:
                        (functions if target[1].kind == "func" else externs).add(target[0])
                elif node.kind == "ref" and node.attr("name") in self.globals:
                    globals_.add(node.attr("name"))
        return sorted(functions), sorted(externs), sorted(globals_)

    def explain(self) -> str:
        """What runs where, and why: one line per function and per host index space."""
        lines = []
        for node_id, node in self.graph.top_level():
            name = node.attr("name")
            if node.kind == "func":
                lines.append(f"{name}: native" if name in self.functions else f"{name}: host ({self.reasons[name]})")
        for node_id, kernel in sorted(self.kernels.items()):
            lines.append(f"{kernel.declaration}: kernel %{node_id} ({self.graph.node(node_id).attr('origin')}) "
                         f"compiled")
        for node_id, reason in sorted(self.kernel_reasons.items()):
            lines.append(f"{self.facts.graph.node(self.facts.declaration_of(node_id)).attr('name')}: "
                         f"host index space: {reason}")
        for edge_id, edge in sorted(self.graph.annotation("crossings").items()):
            lines.append(f"crossing {edge_id} (region #{edge.attr('waiter')} waits at %{edge.nodes[0]}): "
                         + ", ".join(f"%{spawn} {self.spawn_place(spawn)}" for spawn in edge.nodes[1:]))
        if self.fused:
            lines.append("fused: " + ", ".join(f"%{p} into %{c}" for p, c in sorted(self.fused.items())))
        return "\n".join(lines)

    def spawn_place(self, spawn: int) -> str:
        """Where a spawn of a crossing (width work a control region waits on) runs."""
        node = self.graph.node(spawn)
        if spawn in self.kernels:
            return "compiled kernel"
        if node.kind == "call":
            target = self.facts.callee(node)
            if target is not None and target[0] in self.functions:
                return f"compiled call of '{target[0]}'"
        if spawn in self.kernel_reasons:
            return f"host ({self.kernel_reasons[spawn]})"
        target = self.facts.callee(node) if node.kind == "call" else None
        return f"host ({self.reasons.get(target[0], 'not native') if target else 'not an index space or a call'})"


def _label(node: Node) -> str:
    for key in ("op", "name", "origin", "callee"):
        value = node.attr(key)
        if value:
            return f" '{value}'"
    return ""


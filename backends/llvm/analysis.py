"""Facts about a Saturated graph that fusion, planning and emission share: uses, types, faults, costs.

`Facts` is built once per graph and answers, lazily and memoized:

* ``uses``: who reads each value (a node's operand, or a region's result);
* ``ntype``: a node's native type (`nanopass.backends.llvm.types`) from the
  ``types`` table, or, for the nodes baker adds without an entry, from the
  node's own attributes and operands; a string says why there is none;
* ``may_fault``: whether running a region can raise one of the runtime
  faults the interpreter raises (integer division by zero, an index out of
  range, a negative count, an empty reduce, ``abs`` of the minimum, no match
  arm), callees included; a pure extern raising is not counted (it is a
  host error, reported where it happens);
* ``cost``: the work of one run of a region in the flow-loss cost model
  (arithmetic 1, an extern its ``Cost``, a loop its trip count times its
  body when the count is a constant, `UNKNOWN_TRIPS` times otherwise): what
  the parallel dispatch weighs a ``parallel_for``'s trip count with.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from nanopass.frontend import types as T
from nanopass.graph import Graph, Node
from nanopass.backends.llvm import types as N

# Closures, declarations and async blocks run elsewhere; their regions are not part of a region tree's run.
CLOSED = frozenset({"lambda", "async", "actor", "func", "global"})
# A loop whose trip count is not a constant counts as this many iterations in a cost estimate.
UNKNOWN_TRIPS = 64
COMPARISONS = frozenset({"=", "<>", "<", "<=", ">", ">="})
CONVERSIONS = frozenset({"float", "float32", "int", "int64", "uint8"})
MATH = frozenset({"sqrt", "exp", "log", "sin", "cos", "floor", "abs", "min", "max"})
ALLOCATING = frozenset({"parallel_for", "stencil", "scan", "scatter", "array"})


class Facts:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.types = graph.annotation("types")
        self.symbols = {n.attr("name"): i for i, n in graph.top_level() if n.attr("name") is not None}
        self.owner: dict[int, int] = graph.owners()
        self.region_of: dict[int, int] = {}
        for region_id, region in enumerate(graph.regions):
            if region is not None:
                for node_id in region.node_ids():
                    self.region_of[node_id] = region_id
        self.uses: dict[int, list[int]] = defaultdict(list)  # value -> reading node ids (-1 - region for results)
        for node_id, node in graph.live_nodes():
            for operand in node.operands:
                self.uses[operand].append(node_id)
        for region_id, region in enumerate(graph.regions):
            if region is not None:
                for value in region.results:
                    self.uses[value].append(-1 - region_id)
        self.records = self._records()
        self._ntypes: dict[int, N.NType | str] = {}
        self._function_faults: dict[int, bool] | None = None
        self._region_faults: dict[int, bool] = {}
        self._costs: dict[int, int] = {}

    # -- structure ------------------------------------------------------------------------------------
    def node(self, node_id: int) -> Node:
        return self.graph.node(node_id)

    def tree(self, region_id: int, into_closed: bool = False) -> Iterator[int]:
        """The node ids of a region and of the regions nested in it (closures only when asked)."""
        stack = [region_id]
        while stack:
            region = self.graph.region(stack.pop())
            for node_id in region.node_ids():
                yield node_id
                node = self.graph.node(node_id)
                if node.regions and (into_closed or node.kind not in CLOSED):
                    stack.extend(node.regions)

    def declaration_of(self, node_id: int) -> int:
        """The top-level declaration whose body holds ``node_id``."""
        root = self.graph.root
        while True:
            region = self.region_of[node_id]
            owner = self.owner.get(region)
            if owner is None or self.region_of.get(owner) == root:
                return owner if owner is not None else node_id
            node_id = owner

    def callee(self, node: Node) -> tuple[str, Node] | None:
        """The top-level func or extern a ``call`` names directly (its name and declaration)."""
        target = self.node(node.operands[0])
        if target.kind != "ref":
            return None
        declaration = self.symbols.get(target.attr("name"))
        if declaration is None:
            return None
        found = self.node(declaration)
        return (target.attr("name"), found) if found.kind in ("func", "extern") else None

    # -- types ---------------------------------------------------------------------------------------------
    def _records(self) -> dict[str, tuple]:
        """Declared records with their field types, read off typed record and field nodes."""
        names = {n.attr("name"): tuple(n.attr("fields") or ()) for _, n in self.graph.top_level()
                 if n.kind == "typedef" and n.attr("form") == "record"}
        known: dict[str, dict[str, T.Type]] = {name: {} for name in names}
        for node_id, node in self.graph.live_nodes():
            if node.kind == "record" and node.attr("type") in names:
                for field, operand in zip(node.attr("fields"), node.operands):
                    if self.types.get(operand) is not None:
                        known[node.attr("type")].setdefault(field, self.types[operand])
            elif node.kind == "field" and node_id in self.types:
                owner = self.types.get(node.operands[0])
                if isinstance(owner, T.TCon) and owner.name in names:
                    known[owner.name].setdefault(node.attr("name"), self.types[node_id])
        return {name: tuple((f, known[name].get(f)) for f in fields) for name, fields in names.items()}

    def ntype(self, node_id: int) -> N.NType | str:
        found = self._ntypes.get(node_id)
        if found is None:
            self._ntypes[node_id] = "its type depends on itself"  # a cycle through carried values
            found = self._ntypes[node_id] = self._infer(node_id)
        return found

    def frontend_type(self, node_id: int) -> T.Type | None:
        return self.types.get(node_id)

    def _infer(self, node_id: int) -> N.NType | str:
        node = self.node(node_id)
        kind = node.kind
        if kind == "prim":
            op = node.attr("op")
            if op in COMPARISONS or (op == "not" and node.attr("type") in (None, "bool")):
                return N.BOOL
        if node_id in self.types:
            return N.native_type(self.types[node_id], self.records)
        if kind == "const":
            name = node.attr("type")
            return N.UNIT if name == "unit" else N.SCALARS.get(name, f"a {name} constant has no native form")
        if kind == "prim":
            name = node.attr("type")
            return N.SCALARS[name] if name in N.SCALARS else self.ntype(node.operands[0])
        if kind == "extent":
            return N.INT
        if kind == "index":
            source = self.ntype(node.operands[0])
            return source.elem if isinstance(source, N.Array) else "it indexes a value that is not a native array"
        if kind == "parallel_for" and node.attr("container") in ("array", "array2d"):
            elem = self.result_ntype(node.regions[0])
            if isinstance(elem, str):
                return elem
            return N.Array(elem, len(node.operands)) if N.is_flat(elem) else f"an array of {elem} has no native form"
        if kind == "stencil":
            elem = self.result_ntype(node.regions[0])
            if isinstance(elem, str):
                return elem
            return N.Array(elem, 1) if N.is_flat(elem) else f"an array of {elem} has no native form"
        if kind == "scan":
            return N.Array(N.INT)
        if kind == "scatter":
            return self.ntype(node.operands[0])
        if kind == "reduce":
            return self.ntype(node.operands[1]) if len(node.operands) > 1 else self._element(node.operands[0])
        if kind == "tuple":
            items = [self.ntype(o) for o in node.operands]
            bad = next((i for i in items if isinstance(i, str)), None)
            return bad or N.Struct(tuple((f"Item{k + 1}", i) for k, i in enumerate(items)))
        if kind == "proj":
            owner = self.ntype(node.operands[0])
            return owner.types[node.attr("index")] if isinstance(owner, N.Struct) else "it projects a non-tuple"
        if kind in ("for", "loop", "foreach"):
            skip = {"for": 2, "loop": 0, "foreach": 1}[kind]
            items = [self.ntype(o) for o in node.operands[skip:]]
            bad = next((i for i in items if isinstance(i, str)), None)
            return bad or N.Struct(tuple((f"Item{k + 1}", i) for k, i in enumerate(items)))
        if kind == "if":
            return self.result_ntype(node.regions[0])
        if kind == "param":
            return self._param(node_id, node)
        if kind == "native":
            op = node.attr("op")
            if op in CONVERSIONS:
                return N.SCALARS[op]
            if op in MATH:
                return self.ntype(node.operands[0])
            if op in ("Array.length", "Array2D.length1", "Array2D.length2"):
                return N.INT
        if kind == "call":
            target = self.callee(node)
            if target is not None:
                t = self.types.get(self.symbols[target[0]])
                for _ in node.operands[1:]:
                    t = t.result if isinstance(t, T.TFun) else None
                if t is not None:
                    return N.native_type(t, self.records)
        if kind == "store":
            return N.UNIT
        return f"the type of this {kind} is unknown"

    def _element(self, array_id: int) -> N.NType | str:
        source = self.ntype(array_id)
        return source.elem if isinstance(source, N.Array) else "it reads a value that is not a native array"

    def _param(self, node_id: int, node: Node) -> N.NType | str:
        region_id = self.region_of[node_id]
        owner_id = self.owner.get(region_id)
        if owner_id is None:
            return "the type of this parameter is unknown"
        owner = self.node(owner_id)
        region = self.graph.region(region_id)
        position = region.params.index(node_id)
        if owner.kind in ("parallel_for",) or (owner.kind == "stencil" and position == 0):
            return N.INT
        if owner.kind == "stencil":
            return self.ntype(owner.operands[1])
        if owner.kind == "reduce":
            return self.ntype(owner_id) if position == 0 else self._element(owner.operands[0])
        if owner.kind == "for":
            return self.ntype(owner.operands[0]) if position == 0 else self.ntype(owner.operands[1 + position])
        if owner.kind == "foreach":
            return self._element(owner.operands[0]) if position == 0 else self.ntype(owner.operands[position])
        if owner.kind == "loop":
            return self.ntype(owner.operands[position])
        return "the type of this parameter is unknown"

    def result_ntype(self, region_id: int) -> N.NType | str:
        results = self.graph.region(region_id).results
        items = [self.ntype(r) for r in results]
        bad = next((i for i in items if isinstance(i, str)), None)
        if bad is not None:
            return bad
        if len(items) == 1:
            return items[0]
        return N.Struct(tuple((f"Item{k + 1}", i) for k, i in enumerate(items)))

    def operand_type_name(self, node: Node) -> str | None:
        """The scalar type a ``prim`` computes on."""
        declared = node.attr("type")
        if declared is not None:
            return declared
        t = self.ntype(node.operands[0])
        return t.name if isinstance(t, N.Scalar) else None

    # -- faults ----------------------------------------------------------------------------------------------
    def may_fault(self, region_id: int) -> bool:
        found = self._region_faults.get(region_id)
        if found is None:
            found = self._region_faults[region_id] = any(self.node_may_fault(i) for i in self.tree(region_id))
        return found

    def function_may_fault(self, declaration_id: int) -> bool:
        if self._function_faults is None:
            self._function_faults = self._solve_function_faults()
        return self._function_faults.get(declaration_id, False)

    def _solve_function_faults(self) -> dict[int, bool]:
        """A least fixed point over the call graph: a function faults when its body or a callee may."""
        faults: dict[int, bool] = {}
        calls: dict[int, set[int]] = {}
        for declaration_id, node in self.graph.top_level():
            if node.kind != "func":
                continue
            own, callees = False, set()
            for node_id in self.tree(node.regions[0]):
                inner = self.node(node_id)
                if inner.kind == "call":
                    target = self.callee(inner)
                    if target is not None and target[1].kind == "func":
                        callees.add(self.symbols[target[0]])
                    continue
                own = own or self._own_fault(node_id, inner)
            faults[declaration_id], calls[declaration_id] = own, callees
        changed = True
        while changed:
            changed = False
            for declaration_id, callees in calls.items():
                if not faults[declaration_id] and any(faults.get(c, False) for c in callees):
                    faults[declaration_id] = changed = True
        return faults

    def node_may_fault(self, node_id: int) -> bool:
        node = self.node(node_id)
        if node.kind == "call":
            target = self.callee(node)
            return target is not None and target[1].kind == "func" and self.function_may_fault(self.symbols[target[0]])
        return self._own_fault(node_id, node)

    def _own_fault(self, node_id: int, node: Node) -> bool:
        kind = node.kind
        if kind == "prim":
            return node.attr("op") in ("/", "%") and self.operand_type_name(node) in N.INTEGERS
        if kind == "native":
            op = node.attr("op")
            if op == "abs":
                return self.operand_type_name(node) in ("int", "int64")
            return op in ("Array.zeroCreate", "Array2D.zeroCreate")
        if kind in ("index", "store"):
            return not self.in_range_by_construction(node_id, node)
        if kind == "reduce":
            return len(node.operands) == 1
        if kind in ("parallel_for",):
            return not all(self.node(e).kind == "extent" for e in node.operands)
        return kind in ("stencil", "scatter", "match_failure")

    def in_range_by_construction(self, node_id: int, node: Node) -> bool:
        """``xs.[i]`` where ``i`` is the index of a ``parallel_for`` over ``extent xs``: always in range."""
        if node.kind != "index" or len(node.operands) != 2:
            return False
        array, index = node.operands
        index_node = self.node(index)
        if index_node.kind != "param":
            return False
        region_id = self.region_of[index]
        owner_id = self.owner.get(region_id)
        if owner_id is None:
            return False
        owner = self.node(owner_id)
        if owner.kind != "parallel_for" or len(owner.operands) != 1 or self.graph.region(region_id).params[0] != index:
            return False
        extent = self.node(owner.operands[0])
        return extent.kind == "extent" and extent.operands[0] == array and extent.attr("dim") == 0

    # -- cost -------------------------------------------------------------------------------------------------
    def cost(self, region_id: int, depth: int = 0) -> int:
        """The work of one run of a region (module docstring); at least 1."""
        found = self._costs.get(region_id)
        if found is not None:
            return found
        total = 0
        for node_id in self.graph.region(region_id).body:
            total += self._node_cost(self.node(node_id), depth)
        total = max(1, total)
        self._costs[region_id] = total
        return total

    def _node_cost(self, node: Node, depth: int) -> int:
        kind = node.kind
        if kind == "prim" or (kind == "native" and (node.attr("op") in MATH or node.attr("op") in CONVERSIONS)):
            return 1
        if kind == "call":
            target = self.callee(node)
            if target is None:
                return 1
            name, declaration = target
            if declaration.kind == "extern":
                return int(declaration.attr("cost") or 1)
            return UNKNOWN_TRIPS if depth > 8 else self.cost(declaration.regions[0], depth + 1)
        if kind in CLOSED or not node.regions:
            return 0
        body = sum(self.cost(r, depth) for r in node.regions)
        if kind == "if":
            return max(self.cost(r, depth) for r in node.regions)
        if kind == "for":
            lo, hi = (self.node(o) for o in node.operands[:2])
            if lo.kind == "const" and hi.kind == "const":
                return max(0, hi.attr("value") - lo.attr("value") + 1) * body
        return UNKNOWN_TRIPS * body

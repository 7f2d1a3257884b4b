"""Coeffects (Saturated -> Saturated): what each node needs from its context.

Its one concern is the context a computation needs, read off the saturated
graph and kept beside it in annotation tables (the nodes are never touched).
A need is a `Requirement`: `Pure` (nothing), `MemoryAccess` (how a loop walks
an array), `ResourceAccess` (the named resources it reaches), `Temporal`
(how much history it holds), or a `Combined` join of several.  ``a | b``
joins two needs; every value is a frozen attrs class with a readable
``str`` (``resource(registry) + temporal(100)``).

* **MemoryAccess** is read off the index expressions of ``index`` and
  ``store`` against the innermost loop that encloses them (``parallel_for``,
  ``stencil``, ``for``, ``foreach``, ``reduce``, ``loop``; closures and
  declarations end the search).  Each index is an affine form over loop
  indices when it is one: ``a.[i]`` with ``i`` the loop's index is
  `Contiguous`, ``a.[2*i + 1]`` `Strided` 2, ``a.[i-1] a.[i] a.[i+1]`` in one
  loop together a `Stencil` with offsets (-1, 0, 1), an index computed from
  data inside the loop a `Gather`, one that does not move with the loop (or
  no loop at all) `Uniform`.  For ``a.[r, c]`` the loop's fastest index (the
  last index of a 2-D ``parallel_for``) decides: in the last dimension it
  walks a row (contiguous), in the first a column (``strided(row)``).  A
  stencil's window is a view of its source at the window's index, so
  ``window.[99]`` reads ``xs.[i + 99]``.  Whole-array walks are needs of
  their nodes: ``reduce``, ``scan``, ``foreach`` and ``concat`` read their
  source contiguously, ``stencil`` reads it as a stencil over its window,
  ``scatter`` writes its result at data-dependent positions (a gather
  write).  Induction variables of ``loop`` (while) are not recognized: a
  carried counter reads as data.
* **ResourceAccess**: an ``extern`` with a ``resource`` attribute reaches
  that resource; posting to or telling an actor reaches its mailbox
  (``actor:<global name>``, or every actor of the program when the actor is
  a value).  Resources and history depth travel through the call graph.
* **Temporal**: a ``stencil`` (baker's windowed kinds) holds the last
  ``window`` elements: a window of 100 is depth 100; a window whose size is
  known only at run time is ``temporal(window)``.

Memory patterns are local: they describe how a loop of *this* function walks
*its* values, so a call does not carry its callee's patterns to the caller.
What a call carries is the callee's *summary*: its resources and history
depth (``need.transferable()`` of its body).  Summaries are the least fixed
point of join equations over the call graph (networkx): since every
equation is a join, the solution is, per strongly connected component, the
join of its members' own needs and of the components it calls, found in one
pass over the condensation, callees first; recursion, mutual recursion
included, is one component, so it terminates.  A call of a closure value
needs what any closure of the program may need (every lambda body, every
declaration used as a value): a sound whole-program approximation, as
`elaborate` makes for effects.  A closure's own body (``lambda``,
``async``, ``actor``) is counted where it is built: it captures its context
there.

Tables written (ids are stable within a pipeline):

* ``coeffects``: node id -> what running that node needs, its regions
  included, its operands not (a declaration: what its body needs; an
  extern: its resource);
* ``coeffects.flat``: **region id** -> the union of what its nodes need
  (the flat reading);
* ``coeffects.structural``: node id -> what computing that value needs: the
  node itself, its operands' computations and its regions' results (the
  structural reading).  Index params are `Pure`, an element param needs what
  its source needs, and a carried value (``for``/``foreach``/``loop``
  carried values, a ``reduce`` accumulator, an actor's state) needs what
  its initial value and the body's next value need: a fixed point per
  function, since the body's next value reads the carried one.

Statistics: call-graph components, structural rounds, resources reached.

Validation obligation: an analysis never edits nodes; the framework's
`Analysis.validate` checks that the output's node and region tables are the
input's.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Mapping

import attrs
import networkx as nx

from nanopass.graph import Graph, Node
from nanopass.languages import Saturated
from nanopass.pass_ import Analysis, PassContext, register

# Owners whose region runs once per iteration; all but the while loop iterate over a known index space.
ITERATIONS = frozenset({"parallel_for", "stencil", "reduce", "for", "foreach", "loop"})
INDEX_SPACES = frozenset({"parallel_for", "stencil", "reduce", "for", "foreach"})
CLOSURES = frozenset({"lambda", "async", "actor"})
DECLARATIONS = frozenset({"func", "global"})
# Whole-array walks: the operand positions each reads front to back.
_SOURCE_WALKS = {"reduce": (0,), "scan": (0,), "foreach": (0,), "concat": (0,), "scatter": (0, 1, 2)}
_INT_CONVERSIONS = frozenset({"int", "int64", "int32", "uint8"})
# Index expressions deeper than this are not taken apart (they read as data or as invariant).
_AFFINE_DEPTH = 32
CLOSURE_CALLS = "<closures>"  # the call-graph node standing for "any closure of the program"


# -- access patterns --------------------------------------------------------------------------

Offset = Any  # int | tuple[int | None, ...] | None: the constant part of an index, per dimension


def _offset_key(offset: Offset) -> tuple:
    if offset is None:
        return (2, ())
    if isinstance(offset, tuple):
        return (1, tuple(_offset_key(part) for part in offset))
    return (0, offset)


def _show_offset(offset: Offset) -> str:
    if offset is None:
        return "?"
    if isinstance(offset, tuple):
        return "(" + ",".join(_show_offset(part) for part in offset) + ")"
    return str(offset)


def _show_offsets(offsets: tuple) -> str:
    """Offsets with runs of four or more consecutive integers written ``a..b``."""
    shown: list[str] = []
    k = 0
    while k < len(offsets):
        end = k
        while (isinstance(offsets[k], int) and end + 1 < len(offsets) and isinstance(offsets[end + 1], int)
               and offsets[end + 1] == offsets[end] + 1):
            end += 1
        if end - k >= 3:
            shown.append(f"{offsets[k]}..{offsets[end]}")
        else:
            shown.extend(_show_offset(o) for o in offsets[k:end + 1])
        k = end + 1
    return ",".join(shown)


def _no_shift(offset: Offset) -> bool:
    """No known shift: zero, or run-time parts only (in a 2-D index they pick the row, they do not shift)."""
    if isinstance(offset, tuple):
        return all(part in (0, None) for part in offset)
    return offset in (0, None)


class AccessPattern:
    """How one loop walks one array."""

    __slots__ = ()


@attrs.frozen(slots=True)
class Contiguous(AccessPattern):
    """Unit stride along the loop's fastest index, shifted by ``offset`` (None: a run-time shift)."""

    offset: Offset = 0

    def __str__(self) -> str:
        if _no_shift(self.offset):
            return "contiguous"
        return f"contiguous({_show_offset(self.offset)})"


@attrs.frozen(slots=True)
class Stencil(AccessPattern):
    """Unit stride at several offsets, sorted; None: a window whose size is known at run time."""

    offsets: tuple | None

    def __str__(self) -> str:
        return "stencil(window)" if self.offsets is None else f"stencil({_show_offsets(self.offsets)})"


@attrs.frozen(slots=True)
class Strided(AccessPattern):
    """A constant stride other than 1, ``"row"`` (the fastest index walks a column), or ``"run-time"``."""

    stride: int | str
    offsets: tuple = (0,)

    def __str__(self) -> str:
        if len(self.offsets) > 1:
            return f"strided({self.stride}; {_show_offsets(self.offsets)})"
        return f"strided({self.stride})"


@attrs.frozen(slots=True)
class Gather(AccessPattern):
    """The index is computed from data inside the loop."""

    def __str__(self) -> str:
        return "gather"


@attrs.frozen(slots=True)
class Uniform(AccessPattern):
    """The same element on every iteration of the loop (or no enclosing loop)."""

    def __str__(self) -> str:
        return "uniform"


# -- requirements -------------------------------------------------------------------------------

class Requirement:
    """What a computation needs from its context; ``|`` joins two needs."""

    __slots__ = ()

    @property
    def parts(self) -> tuple["Requirement", ...]:
        """The atoms: memory accesses, then resources, then history."""
        return (self,)

    def __or__(self, other: "Requirement") -> "Requirement":
        if other is PURE or other == self:
            return self
        if self is PURE:
            return other
        return join((self, other))

    @property
    def is_pure(self) -> bool:
        return not self.parts

    @property
    def memory(self) -> tuple["MemoryAccess", ...]:
        return tuple(p for p in self.parts if isinstance(p, MemoryAccess))

    @property
    def resources(self) -> frozenset[str]:
        return next((p.names for p in self.parts if isinstance(p, ResourceAccess)), frozenset())

    @property
    def temporal(self) -> "Temporal | None":
        return next((p for p in self.parts if isinstance(p, Temporal)), None)

    def transferable(self) -> "Requirement":
        """What a call carries to its caller: everything but memory patterns (see the module docstring)."""
        if not any(isinstance(p, MemoryAccess) for p in self.parts):
            return self
        return join(p for p in self.parts if not isinstance(p, MemoryAccess))


@attrs.frozen(slots=True)
class Pure(Requirement):
    """Needs nothing from its context."""

    @property
    def parts(self) -> tuple[Requirement, ...]:
        return ()

    def __str__(self) -> str:
        return "pure"


PURE = Pure()


@attrs.frozen(slots=True, cache_hash=True)
class MemoryAccess(Requirement):
    """``loop`` (the node whose iterations walk it; None outside loops) reads or writes ``array`` so."""

    array: int
    name: str
    loop: int | None
    pattern: AccessPattern
    write: bool = False

    def __str__(self) -> str:
        where = "" if self.loop is None else f" in %{self.loop}"
        return f"memory({self.name}: {self.pattern}{where}{', write' if self.write else ''})"


@attrs.frozen(slots=True)
class ResourceAccess(Requirement):
    """Reaches the named external resources."""

    names: frozenset[str]

    def __str__(self) -> str:
        return f"resource({', '.join(sorted(self.names))})"


@attrs.frozen(slots=True)
class Temporal(Requirement):
    """Holds the last ``depth`` elements of a stream (None: a window sized at run time)."""

    depth: int | None

    def __str__(self) -> str:
        return f"temporal({'window' if self.depth is None else self.depth})"


@attrs.frozen(slots=True, cache_hash=True)
class Combined(Requirement):
    """Several needs at once (built by `join`, never with fewer than two atoms)."""

    atoms: tuple[Requirement, ...]

    @property
    def parts(self) -> tuple[Requirement, ...]:
        return self.atoms

    def __str__(self) -> str:
        return " + ".join(str(p) for p in self.atoms)


def _pattern_family(pattern: AccessPattern) -> tuple:
    if isinstance(pattern, (Contiguous, Stencil)):
        return ("unit",)
    if isinstance(pattern, Strided):
        return ("strided", pattern.stride)
    return (type(pattern).__name__,)


_WINDOW = object()  # the offsets of a run-time window


def _pattern_offsets(pattern: AccessPattern) -> Iterable:
    if isinstance(pattern, Contiguous):
        return (pattern.offset,)
    if isinstance(pattern, Stencil):
        return (_WINDOW,) if pattern.offsets is None else pattern.offsets
    if isinstance(pattern, Strided):
        return pattern.offsets
    return ()


def _merged_pattern(family: tuple, offsets: set) -> AccessPattern:
    if family[0] == "unit":
        if _WINDOW in offsets:
            return Stencil(None)
        ordered = tuple(sorted(offsets, key=_offset_key))
        return Contiguous(ordered[0]) if len(ordered) == 1 else Stencil(ordered)
    if family[0] == "strided":
        return Strided(family[1], tuple(sorted(offsets, key=_offset_key)))
    return Gather() if family[0] == "Gather" else Uniform()


def _deeper(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def join(requirements: Iterable[Requirement]) -> Requirement:
    """The least need covering every one given: resources unite, history takes the deepest window,
    and accesses of one array by one loop merge (offsets of one stride unite into a stencil)."""
    first: Requirement | None = None
    others: list[Requirement] = []
    for requirement in requirements:  # the common cases first: nothing, or one need met again and again
        if requirement is PURE or requirement is first:
            continue
        if first is None:
            first = requirement
        elif requirement != first:
            others.append(requirement)
    if first is None:
        return PURE
    if not others:
        return first
    resources: set[str] = set()
    temporal: Temporal | None = None
    accesses: dict[tuple, set] = {}
    for requirement in (first, *others):
        for part in requirement.parts:
            if isinstance(part, ResourceAccess):
                resources |= part.names
            elif isinstance(part, Temporal):
                temporal = part if temporal is None else Temporal(_deeper(temporal.depth, part.depth))
            elif isinstance(part, MemoryAccess):
                key = (part.array, part.name, part.loop, part.write, _pattern_family(part.pattern))
                accesses.setdefault(key, set()).update(_pattern_offsets(part.pattern))
    atoms: list[Requirement] = sorted(
        (MemoryAccess(array, name, loop, _merged_pattern(family, offsets), write)
         for (array, name, loop, write, family), offsets in accesses.items()),
        key=lambda m: (m.array, -1 if m.loop is None else m.loop, m.write, str(m.pattern)))
    if resources:
        atoms.append(ResourceAccess(frozenset(resources)))
    if temporal is not None:
        atoms.append(temporal)
    if not atoms:
        return PURE
    return atoms[0] if len(atoms) == 1 else Combined(tuple(atoms))


# -- the region tree ------------------------------------------------------------------------------

class RegionTree:
    """Where every node and region sits: owners, homes, declarations, nesting, loops."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.owner: dict[int, int] = {}  # region -> the node owning it
        self.parent: dict[int, int | None] = {graph.root: None}  # region -> enclosing region
        self.home: dict[int, int] = {}  # node -> the region defining it
        self.declaration: dict[int, int | None] = {graph.root: None}  # region -> its top-level declaration
        self.order: list[int] = []  # regions, pre-order from the root
        self.regions_of: dict[int, list[int]] = {}  # declaration -> its regions, pre-order
        self._enter: dict[int, int] = {}
        self._last: dict[int, int] = {}  # the last pre-order number inside a region's subtree
        self._loop: dict[int, int | None] = {}
        stack: list[tuple[int, bool]] = [(graph.root, False)]
        while stack:
            region_id, leaving = stack.pop()
            if leaving:
                self._last[region_id] = len(self.order) - 1
                continue
            self._enter[region_id] = len(self.order)
            self.order.append(region_id)
            stack.append((region_id, True))
            declaration = self.declaration[region_id]
            if declaration is not None:
                self.regions_of.setdefault(declaration, []).append(region_id)
            children: list[int] = []
            for node_id in graph.region(region_id).node_ids():
                self.home[node_id] = region_id
                for inner in graph.node(node_id).regions:
                    self.owner[inner] = node_id
                    self.parent[inner] = region_id
                    self.declaration[inner] = node_id if region_id == graph.root else declaration
                    children.append(inner)
            stack.extend((inner, False) for inner in reversed(children))
        self.index_params: set[int] = set()
        self.window_views: dict[int, tuple[int, int]] = {}  # window param -> (source, window index)
        for region_id, owner_id in self.owner.items():
            owner, params = graph.node(owner_id), graph.region(region_id).params
            if owner.kind == "parallel_for":
                self.index_params.update(params)
            elif owner.kind in ("stencil", "for") and params:
                self.index_params.add(params[0])
            if owner.kind == "stencil" and len(params) >= 2 and len(owner.operands) >= 2:
                self.window_views[params[1]] = (owner.operands[1], params[0])

    def owner_node(self, region_id: int) -> Node | None:
        owner = self.owner.get(region_id)
        return None if owner is None else self.graph.node(owner)

    def within(self, region_id: int | None, ancestor: int) -> bool:
        """Whether ``region_id`` is ``ancestor`` or nested in it."""
        if region_id is None or region_id not in self._enter:
            return False
        return self._enter[ancestor] <= self._enter[region_id] <= self._last[ancestor]

    def defined_within(self, node_id: int, region_id: int) -> bool:
        return self.within(self.home.get(node_id), region_id)

    def loop_of(self, region_id: int) -> int | None:
        """The innermost region at or above ``region_id`` run once per iteration; closures end the search."""
        if region_id in self._loop:
            return self._loop[region_id]
        found, walk = None, region_id
        while walk is not None:
            owner = self.owner_node(walk)
            if owner is None or owner.kind in CLOSURES or owner.kind in DECLARATIONS:
                break
            if owner.kind in ITERATIONS:
                found = walk
                break
            walk = self.parent[walk]
        self._loop[region_id] = found
        return found

    def fastest_index(self, loop_region: int | None) -> int | None:
        """The index param that changes every iteration: the last of a ``parallel_for``'s, a ``for``'s or
        a ``stencil``'s first; None for loops without one."""
        if loop_region is None:
            return None
        owner, params = self.owner_node(loop_region), self.graph.region(loop_region).params
        if not params:
            return None
        if owner.kind == "parallel_for":
            return params[-1]
        return params[0] if owner.kind in ("stencil", "for") else None


def symbol_table(graph: Graph) -> dict[str, int]:
    return {node.attr("name"): node_id for node_id, node in graph.top_level() if node.attr("name") is not None}


def direct_callee(node: Node, symbols: Mapping[str, int]) -> int | None:
    """The declaration a ``call`` names in ``callee``, if it names one (else it calls a closure value)."""
    name = node.attr("callee")
    return symbols.get(name) if isinstance(name, str) else None


def window_size(graph: Graph, stencil: Node) -> int | None:
    """A stencil's window: its ``window`` attribute, else its size operand when constant; else None."""
    window = stencil.attr("window")
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window
    if stencil.operands:
        size = graph.node(stencil.operands[0])
        value = size.attr("value")
        if size.kind == "const" and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


# -- affine index forms ------------------------------------------------------------------------

@attrs.frozen(slots=True)
class Affine:
    """sum(coefficient * index param) + const (+ a loop-invariant term when ``symbolic``).

    A coefficient is an int, or None when it is a loop-invariant value known at run time.
    """

    coefficients: tuple[tuple[int, int | None], ...] = ()
    const: int = 0
    symbolic: bool = False

    @property
    def constant(self) -> bool:
        return not self.coefficients and not self.symbolic

    def coefficient(self, index: int) -> int | None:
        return next((c for i, c in self.coefficients if i == index), 0)

    def __add__(self, other: "Affine") -> "Affine":
        merged = dict(self.coefficients)
        for index, c in other.coefficients:
            mine = merged.get(index, 0)
            merged[index] = None if mine is None or c is None else mine + c
        return Affine(_normal(merged), self.const + other.const, self.symbolic or other.symbolic)

    def scaled(self, factor: int) -> "Affine":
        if factor == 0:
            return Affine()
        scaled = {i: None if c is None else c * factor for i, c in self.coefficients}
        return Affine(_normal(scaled), self.const * factor, self.symbolic)

    def times(self, other: "Affine") -> "Affine | None":
        if self.constant:
            return other.scaled(self.const)
        if other.constant:
            return self.scaled(other.const)
        if not self.coefficients or not other.coefficients:  # invariant * affine: run-time coefficients
            varying = self.coefficients or other.coefficients
            return Affine(tuple((i, None) for i, _ in varying), 0, True)
        return None


def _normal(coefficients: dict) -> tuple:
    return tuple(sorted((i, c) for i, c in coefficients.items() if c != 0))


INVARIANT = Affine((), 0, True)


def _int_constant(node: Node) -> int | None:
    value = node.attr("value")
    if node.kind == "const" and isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def classify(dims: list[Affine | None], fastest: int | None) -> AccessPattern:
    """The pattern of one access against its loop's fastest index (see the module docstring)."""
    if any(d is None for d in dims):
        return Gather()
    if fastest is None or not dims:
        return Uniform()
    moves = [d.coefficient(fastest) for d in dims]
    if all(c == 0 for c in moves):
        return Uniform()
    offsets = tuple(None if d.symbolic else d.const for d in dims)
    offset = offsets[0] if len(offsets) == 1 else offsets
    if any(c != 0 for c in moves[:-1]):
        return Strided("row", (offset,))
    step = moves[-1]
    if step == 1:
        return Contiguous(offset)
    return Strided("run-time" if step is None else step, (offset,))


# -- the solver ------------------------------------------------------------------------------------

class CoeffectSolver:
    """Computes the three tables; `solve` solves the call graph, then fills the tables."""

    def __init__(self, graph: Graph, tree: RegionTree | None = None):
        self.graph = graph
        self.tree = tree if tree is not None else RegionTree(graph)
        self.symbols = symbol_table(graph)
        self.summary: dict[Any, Requirement] = {}
        self.need: dict[int, Requirement] = {}
        self.flat: dict[int, Requirement] = {}
        self.structural: dict[int, Requirement] = {}
        self.structural_rounds = 0
        self._memory: dict[int, Requirement] = {}
        self._affine: dict[tuple[int, int | None], Affine | None] = {}
        self._actors = self._actor_names()
        self._own: dict[Any, Requirement] = {}
        self.call_graph = self._call_graph()

    # -- call graph -------------------------------------------------------------------------
    def _declaration_named(self, node_id: int) -> int | None:
        node = self.graph.node(node_id)
        if node.kind != "ref":
            return None
        return self.symbols.get(node.attr("name"))

    def _call_graph(self) -> nx.DiGraph:
        """Who may need whose summary: an edge X -> Y says X's summary includes Y's.

        The nodes are the top-level declarations, every ``lambda`` node (its body is counted where it
        is built, so its builder has an edge to it) and `CLOSURE_CALLS`, which has an edge to every
        lambda and every declaration used as a value; a call of a closure value has an edge to it.
        `_own` collects what each node needs by itself (history, mailboxes, an extern's resource).
        """
        graph = nx.DiGraph()
        graph.add_node(CLOSURE_CALLS)
        self._own[CLOSURE_CALLS] = PURE
        units: list[tuple[int, tuple[int, ...]]] = []
        for declaration_id, node in self.graph.top_level():
            graph.add_node(declaration_id)
            self._own[declaration_id] = self._extern_resource(node)
            if node.regions:
                units.append((declaration_id, node.regions))
        while units:
            unit, regions = units.pop()
            own: list[Requirement] = []
            stack = list(regions)
            while stack:
                region = self.graph.region(stack.pop())
                for value in region.results:
                    target = self._declaration_named(value)
                    if target is not None:
                        graph.add_edge(CLOSURE_CALLS, target)
                for node_id in region.node_ids():
                    node = self.graph.node(node_id)
                    if node.kind == "lambda":
                        graph.add_edge(unit, node_id)
                        graph.add_edge(CLOSURE_CALLS, node_id)
                        units.append((node_id, node.regions))
                        continue
                    stack.extend(node.regions)
                    own.append(self._own_need(node))
                    self._add_call_edges(graph, unit, node)
            self._own[unit] = join(own)
        return graph

    def _add_call_edges(self, graph: nx.DiGraph, unit: int, node: Node) -> None:
        callee = direct_callee(node, self.symbols) if node.kind == "call" else None
        if node.kind == "call":
            graph.add_edge(unit, CLOSURE_CALLS if callee is None else callee)
        for position, operand in enumerate(node.operands):
            target = self._declaration_named(operand)
            if target is None or (node.kind == "call" and position == 0 and callee is not None):
                continue
            graph.add_edge(CLOSURE_CALLS, target)  # a declaration used as a value may be called as one
            if node.kind in ("pap", "native"):
                graph.add_edge(unit, target)  # counted where it is bound or handed over (see `_local`)

    def _extern_resource(self, node: Node) -> Requirement:
        resource = node.attr("resource")
        return ResourceAccess(frozenset({resource})) if node.kind == "extern" and isinstance(resource, str) else PURE

    def _actor_names(self) -> dict[int, str]:
        """Every actor node, named by the global whose value it is (else by its id)."""
        names = {node_id: f"actor:%{node_id}" for node_id, node in self.graph.live_nodes()
                 if node.kind == "actor" and node_id in self.tree.home}
        for _, node in self.graph.top_level():
            if node.kind == "global" and node.regions:
                for value in self.graph.region(node.regions[0]).results:
                    if value in names:
                        names[value] = f"actor:{node.attr('name')}"
        return names

    # -- the fixed point ----------------------------------------------------------------------
    def solve(self) -> "CoeffectSolver":
        """Summaries, then the tables.

        The summary equations are joins, summary(X) = own(X) | summary(Y) for every edge X -> Y, so
        their least fixed point is, for each strongly connected component of the call graph, the join
        of its members' own needs and of the summaries of the components it reaches: one pass over the
        condensation, callees first.  Recursion, mutual recursion included, is one component.
        """
        condensed = nx.condensation(self.call_graph)
        by_component: dict[int, Requirement] = {}
        for component in reversed(list(nx.topological_sort(condensed))):
            members = condensed.nodes[component]["members"]
            summary = join([*(self._own[m] for m in members),
                            *(by_component[c] for c in condensed.successors(component))])
            by_component[component] = summary
            self.summary.update((m, summary) for m in members)
        for declaration_id, node in self.graph.top_level():
            for region_id in reversed(self.tree.regions_of.get(declaration_id, ())):  # inner regions first
                self.flat[region_id] = join(self._need(n) for n in self.graph.region(region_id).node_ids())
            self.need[declaration_id] = join([self._extern_resource(node), *(self.flat[r] for r in node.regions)])
        self.flat[self.graph.root] = join(self.need[n] for n in self.graph.root_region.node_ids())
        for declaration_id, node in self.graph.top_level():
            self.structural[declaration_id] = self.summary[declaration_id]
            if node.regions:
                self._structural_pass(declaration_id, node)
        return self

    def _need(self, node_id: int) -> Requirement:
        node = self.graph.node(node_id)
        need = join([self._local(node_id, node), *(self.flat[r] for r in node.regions)]) if node.regions \
            else self._local(node_id, node)
        self.need[node_id] = need
        return need

    def _own_need(self, node: Node) -> Requirement:
        """What the node needs by itself that a call carries: history and mailboxes."""
        if node.kind == "stencil":
            return Temporal(window_size(self.graph, node))
        if node.kind in ("post", "tell") and node.operands:
            return self._mailbox(node.operands[0])
        return PURE

    def _local(self, node_id: int, node: Node) -> Requirement:
        """What the node itself needs, its regions aside."""
        kind = node.kind
        if kind == "call":
            callee = direct_callee(node, self.symbols)
            return self.summary.get(CLOSURE_CALLS if callee is None else callee, PURE)
        if kind in ("pap", "native"):  # a function value bound or handed to an operation may be called
            return join(self.summary.get(target, PURE) for target in map(self._declaration_named, node.operands)
                        if target is not None)
        if kind in ("index", "store", "stencil") or kind in _SOURCE_WALKS:
            if node_id not in self._memory:
                self._memory[node_id] = self._memory_need(node_id, node)
            return self._memory[node_id]
        return self._own_need(node)

    def _mailbox(self, actor: int) -> Requirement:
        declaration = self._declaration_named(actor)
        if declaration is not None:
            global_ = self.graph.node(declaration)
            results = self.graph.region(global_.regions[0]).results if global_.regions else ()
            names = {self._actors[v] for v in results if v in self._actors}
        else:
            names = set(self._actors.values())
        return ResourceAccess(frozenset(names)) if names else PURE

    # -- memory -------------------------------------------------------------------------------------
    def _array_name(self, node_id: int) -> str:
        node = self.graph.node(node_id)
        name = node.attr("name")
        return name if node.kind in ("param", "ref") and isinstance(name, str) else f"%{node_id}"

    def _memory_need(self, node_id: int, node: Node) -> Requirement:
        if node.kind in ("index", "store"):
            return self._indexed(node_id, node)
        accesses: list[Requirement] = []
        if node.kind == "stencil" and len(node.operands) >= 2:
            depth = window_size(self.graph, node)
            source = node.operands[1]
            pattern = Stencil(None if depth is None else tuple(range(depth)))
            accesses += [MemoryAccess(source, self._array_name(source), node_id, pattern), Temporal(depth)]
        for position in _SOURCE_WALKS.get(node.kind, ()):
            if position < len(node.operands):
                source = node.operands[position]
                accesses.append(MemoryAccess(source, self._array_name(source), node_id, Contiguous(0)))
        if node.kind == "scatter":
            accesses.append(MemoryAccess(node_id, f"%{node_id}", node_id, Gather(), write=True))
        return join(accesses)

    def _indexed(self, node_id: int, node: Node) -> Requirement:
        if not node.operands:
            return PURE
        array = node.operands[0]
        positions = node.operands[1:-1] if node.kind == "store" else node.operands[1:]
        loop_region = self.tree.loop_of(self.tree.home[node_id])
        dims = [self._affine_of(d, loop_region) for d in positions]
        if array in self.tree.window_views and len(dims) == 1 and dims[0] is not None:
            array, window_index = self.tree.window_views[array]
            dims = [dims[0] + Affine(((window_index, 1),))]
        pattern = classify(dims, self.tree.fastest_index(loop_region))
        loop = None if loop_region is None else self.tree.owner[loop_region]
        return MemoryAccess(array, self._array_name(array), loop, pattern, write=node.kind == "store")

    def _affine_of(self, value: int, loop_region: int | None, depth: int = 0) -> Affine | None:
        key = (value, loop_region)
        if key in self._affine:
            return self._affine[key]
        result = self._affine_uncached(value, loop_region, depth)
        self._affine[key] = result
        return result

    def _affine_uncached(self, value: int, loop_region: int | None, depth: int) -> Affine | None:
        if value in self.tree.index_params:
            return Affine(((value, 1),))
        node = self.graph.node(value)
        constant = _int_constant(node)
        if constant is not None:
            return Affine((), constant)
        inside = loop_region is not None and self.tree.defined_within(value, loop_region)
        leaf = None if inside else INVARIANT
        op = node.attr("op")
        arithmetic = (node.kind == "prim" and (op in ("+", "-", "*") and len(node.operands) == 2
                                               or op == "neg" and len(node.operands) == 1)
                      or node.kind == "native" and op in _INT_CONVERSIONS and len(node.operands) == 1)
        if not arithmetic or depth >= _AFFINE_DEPTH:
            return leaf
        parts = [self._affine_of(o, loop_region, depth + 1) for o in node.operands]
        if None in parts:
            return leaf
        if len(parts) == 2:
            left, right = parts
            if op == "+":
                return left + right
            if op == "-":
                return left + right.scaled(-1)
            product = left.times(right)
            return leaf if product is None else product
        return parts[0].scaled(-1) if op == "neg" else parts[0]

    # -- the structural reading ----------------------------------------------------------------------
    def _param_sources(self, region_id: int) -> dict[int, tuple[int, ...]]:
        """Each param of the region -> the values whose computations it stands for."""
        owner_id = self.tree.owner.get(region_id)
        if owner_id is None:
            return {}
        owner = self.graph.node(owner_id)
        region = self.graph.region(region_id)
        params, operands = region.params, owner.operands
        body = region if owner.kind != "loop" or len(owner.regions) < 2 else self.graph.region(owner.regions[1])
        results = body.results

        def carried(first_param: int, first_operand: int) -> dict[int, tuple[int, ...]]:
            sources = {}
            for k, param in enumerate(params[first_param:]):
                position = first_operand + k
                sources[param] = tuple(v for v in (operands[position] if position < len(operands) else None,
                                                   results[k] if k < len(results) else None) if v is not None)
            return sources

        kind = owner.kind
        if kind == "stencil" and len(params) >= 2 and len(operands) >= 2:
            return {params[1]: (operands[1],)}
        if kind == "reduce" and len(params) >= 2 and operands:
            start = operands[1] if len(operands) > 1 else operands[0]
            return {params[0]: (start, *results[:1]), params[1]: (operands[0],)}
        if kind == "for":
            return carried(1, 2)
        if kind == "foreach" and params and operands:
            return {params[0]: (operands[0],), **carried(1, 1)}
        if kind == "loop":
            return carried(0, 0)
        if kind == "actor" and params and operands:
            return {params[0]: (operands[0], *results[:1])}
        return {}

    def _structural_pass(self, declaration_id: int, declaration: Node) -> None:
        """The structural reading of one declaration's nodes, in schedule order (a node after its
        operands, an owner after its regions), in rounds until the carried values settle."""
        regions = self.tree.regions_of.get(declaration_id, ())
        sources = {param: froms for r in regions for param, froms in self._param_sources(r).items()}
        # Only a carried value (a source computed inside its own region) can change in a later round.
        carried = any(self.tree.defined_within(v, self.tree.home[p]) for p, froms in sources.items() for v in froms)
        values = self.structural
        first = True
        while True:
            self.structural_rounds += 1
            changed, first = first, False  # the first round has not seen the body's results yet
            stack: list[tuple[str, int]] = [("region", r) for r in reversed(declaration.regions)]
            while stack:
                step, item = stack.pop()
                if step == "region":
                    region = self.graph.region(item)
                    if region.token is not None:
                        values[region.token] = PURE
                    for param in region.params:
                        new = join(values.get(v, PURE) for v in sources.get(param, ()))
                        changed |= new != values.get(param, PURE)
                        values[param] = new
                    stack.extend(("node", n) for n in reversed(region.body))
                elif step == "node" and self.graph.node(item).regions:
                    stack.append(("owner", item))
                    stack.extend(("region", r) for r in reversed(self.graph.node(item).regions))
                else:
                    values[item] = self._structural_value(item)
            if not (carried and changed):
                return

    def _structural_value(self, node_id: int) -> Requirement:
        node = self.graph.node(node_id)
        values = self.structural
        reads = [values.get(o, PURE) for o in node.operands]
        reads += [values.get(v, PURE) for r in node.regions for v in self.graph.region(r).results]
        named = self._declaration_named(node_id) if node.kind == "ref" else None
        if named is not None:
            reads.append(self.summary.get(named, PURE))
        return join([self.need.get(node_id, PURE), *reads])

    def tables(self) -> dict[str, dict[int, Requirement]]:
        return {"coeffects": self.need, "coeffects.flat": self.flat, "coeffects.structural": self.structural}


def solve(graph: Graph) -> CoeffectSolver:
    """Run the analysis without a pipeline: the solver holds the tables and the summaries."""
    return CoeffectSolver(graph).solve()


@register
@attrs.frozen
class Coeffects(Analysis):
    """What each node, region and value needs from its context (tables ``coeffects*``)."""

    name: ClassVar[str] = "coeffects"
    input_language: ClassVar = Saturated
    output_language: ClassVar = Saturated

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        solver = solve(graph)
        ctx.stat("call-graph components", nx.number_strongly_connected_components(solver.call_graph))
        ctx.stat("structural rounds", solver.structural_rounds)
        ctx.stat("resources reached", len(solver.flat[graph.root].resources))
        return solver.tables()

"""Escape (Saturated -> Saturated): where each allocation's value can go, and where to allocate it.

Its one concern is the lifetime of allocated values, kept beside the graph in
annotation tables (nodes are never touched).

**Allocations** are the nodes that make a new object: ``array``, ``list``
and ``cons`` cells, ``record`` and ``with``, ``tuple``, a ``union`` case with
a payload, closures (``lambda``, ``pap``, ``async``), the containers of
``parallel_for``, ``stencil``, ``scan``, ``scatter`` and ``concat``, and the
``native`` operations that build a container or an option
(``Array.zeroCreate``, ``Array.copy``, ``List.rev``, ``Map.add``, ...).

**Flows.**  An inclusion-based points-to analysis, field-insensitive:
every value has the set of objects it may be, every object the set of
objects it may hold (a record its fields, an array what was stored in it, a
closure what it captured).  Values flow through region params and results,
carried values, projections, element reads, calls (a direct call binds its
callee's params; a call of a closure value binds the params of every lambda
or function it may be), ``store`` (into the array's objects), ``post`` and
``tell`` (into the actor's handler), ``await`` (out of the async value).
Three kinds of *sink* stand for what outlives a frame (a function, closure,
``async`` or actor handler body, or a global's initialiser):

* **the caller** of a frame holds what the frame returns, what it was handed
  (its params, and the outer values a closure reads: storing into them puts
  a value in the caller's data);
* **an actor** holds its initial state, every state its handler returns,
  the messages posted or told to it and its replies; an actor known only at
  run time is *an unknown actor*;
* **the outside** holds what an effectful extern or an unknown function is
  handed, what an entry point returns, a global's value, and what a closure
  reachable from the outside returns (whose params then come from the
  outside).  A value read out of the outside stands for all of it: what the
  outside was handed is on the heap already and is not traced back in.  Entry points are those of `nanopass.passes.widths`: named by
  ``entries`` (``escape{entries=main}``), marked ``[<EntryPoint>]``, and
  every function of a library.

**Classes** (table ``escape``), for an allocation in frame F, by what holds
it (directly or inside other objects): ``escapes-to-actor`` when an actor
does; ``escapes-to-caller`` when F's caller does (returned, stored into the
caller's data, or held by something that is); ``escapes-globally`` when only
the outside does; ``stays`` otherwise.

**Decisions** (table ``allocation``, an `Allocation` with its reason):

* stays, of a fixed small size (a record, tuple, union case, cons cell or
  closure; an array or list of at most ``stack_limit`` elements known
  statically, also from the ``ranges`` table of `widths`), and not
  outliving one iteration of the loop it is made in -> ``stack``: it dies
  with the frame, and a frame slot is reused by every iteration;
* stays otherwise -> ``region-arena``: F's arena, freed when F returns;
* escapes to the caller, with every caller known and nothing outside
  holding it -> ``caller-arena``: the arena the callers pass in (regions
  passed down, as in region-based memory management);
* escapes to one known actor and nothing else -> ``actor-arena``: that
  actor's own arena, which lives as long as the actor (cache isolation
  follows from the structure);
* everything else (unknown callers, the outside, several actors, an actor
  and a caller) -> ``heap``.

Statistics: allocations, and one count per decision.

Validation obligation: an analysis never edits nodes (`Analysis.validate`
checks the node and region tables are the input's); the flows are an
over-approximation, so ``stays`` is sound: the tests run generated
programs on the reference interpreter and check that no object an
allocation classified ``stays`` made is reachable from the entry's result.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

import attrs

from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph, Node
from nanopass.languages import Saturated
from nanopass.pass_ import Analysis, PassContext, register
from nanopass.entries import check_entry_names, entry_names, entry_points
from nanopass.passes.widths import closed_functions

# Kinds whose node makes a new object; a union or tuple only with a payload.
ALLOCATING_KINDS = frozenset({"array", "list", "cons", "record", "with", "tuple", "union", "lambda", "pap",
                              "async", "parallel_for", "stencil", "scan", "scatter", "concat"})
ALLOCATING_NATIVES = frozenset({"Array.zeroCreate", "Array2D.zeroCreate", "Array.copy", "Array.zip",
                                "Array.windowed", "Seq.windowed", "List.rev", "List.distinct", "Map.empty",
                                "Map.add", "Map.merge", "Map.tryFind"})
# Objects of a fixed number of fields: always small enough for a stack slot.
FIXED_SIZE_KINDS = frozenset({"record", "with", "tuple", "union", "cons", "lambda", "pap"})
# Owners whose regions run once per iteration.
ITERATIONS = frozenset({"loop", "for", "foreach", "parallel_for", "reduce", "stencil"})
# Owners whose region is a frame of its own.
CLOSURES = frozenset({"lambda", "async", "actor"})

STAYS, TO_CALLER, TO_ACTOR, GLOBALLY = "stays", "escapes-to-caller", "escapes-to-actor", "escapes-globally"
PLACES = ("stack", "region-arena", "caller-arena", "actor-arena", "heap")

# The sinks (objects that stand for what outlives a frame).
OUTSIDE = ("outside",)
OUTSIDE_ONLY = frozenset({OUTSIDE})
UNKNOWN_ACTOR = ("actor", None)


def caller_sink(frame: int) -> tuple:
    return ("caller", frame)


def actor_sink(actor: int) -> tuple:
    return ("actor", actor)


def is_sink(obj: Any) -> bool:
    return isinstance(obj, tuple) and obj[0] in ("outside", "caller", "actor")


@attrs.frozen(slots=True)
class Allocation:
    """Where one allocation goes: ``place`` (one of `PLACES`), whose arena, and why."""

    place: str
    owner: str
    reason: str


@attrs.frozen(slots=True)
class Frame:
    """A region that runs as its own activation: what owns it, its name, and whose sink holds its results."""

    region: int
    owner: int  # the func, global, lambda, async or actor node
    kind: str
    name: str


def free_values(graph: Graph, region_id: int) -> set[int]:
    """The outer values a region tree reads (what a closure over it captures)."""
    inner = set(graph.walk_region(region_id))
    read: set[int] = set(graph.region(region_id).results)
    for node_id in inner:
        node = graph.node(node_id)
        read.update(node.operands)
        for nested in node.regions:
            read.update(graph.region(nested).results)
    return read - inner


class _Flows:
    """The points-to sets of one graph, solved to a fixed point (see the module docstring)."""

    def __init__(self, graph: Graph, entries: set[str]):
        self.graph = graph
        self.types = graph.annotation("types")
        self.decls = {node.attr("name"): (node_id, node) for node_id, node in graph.top_level()
                      if node.attr("name") is not None}
        self.entries = entries
        self.scalars = {node_id for node_id, t in self.types.items() if isinstance(t, T.TPrim)}
        self.closed = closed_functions(graph, entries)
        self.points: dict[Any, set] = defaultdict(set)  # value id -> objects it may be
        self.holds: dict[Any, set] = defaultdict(set)  # object -> objects it may hold
        self.frames: dict[int, Frame] = {}
        self.frame_of: dict[int, int] = {}  # node id -> its frame's region
        self.iterations_of: dict[int, tuple[int, ...]] = {}  # node id -> enclosing iteration regions, innermost first
        self.free: dict[int, set[int]] = {}
        self.actor_names = self._actor_names()
        self.outside_reach: set = set()
        self.changed = False
        self._place_nodes()

    # -- structure ------------------------------------------------------------------------------------
    def _actor_names(self) -> dict[int, str]:
        names = {}
        for _, node in self.graph.top_level():
            if node.kind == "global":
                for result in self.graph.region(node.regions[0]).results:
                    if self.graph.nodes[result] is not None and self.graph.node(result).kind == "actor":
                        names[result] = node.attr("name")
        return names

    def _place_nodes(self) -> None:
        """Frames, and for every node its frame and the iteration regions around it."""
        for decl_id, decl in self.graph.top_level():
            if decl.kind in ("func", "global"):
                for region_id in decl.regions:
                    self._frame(region_id, decl_id, decl.kind, decl.attr("name") or f"#{decl_id}")

    def _frame(self, region_id: int, owner: int, kind: str, name: str) -> None:
        self.frames[region_id] = Frame(region_id, owner, kind, name)
        if kind in CLOSURES:
            self.free[region_id] = free_values(self.graph, region_id)
        stack = [(region_id, ())]
        while stack:
            current, iterations = stack.pop()
            for node_id in self.graph.region(current).node_ids():
                self.frame_of[node_id] = region_id
                self.iterations_of[node_id] = iterations
                node = self.graph.node(node_id)
                for nested in node.regions:
                    if node.kind in CLOSURES:
                        self._frame(nested, node_id, node.kind, self._closure_name(node_id, node, name))
                    else:
                        inner = (nested,) + iterations if node.kind in ITERATIONS else iterations
                        stack.append((nested, inner))

    def _closure_name(self, node_id: int, node: Node, enclosing: str) -> str:
        if node.kind == "actor" and node_id in self.actor_names:
            return self.actor_names[node_id]
        where = f"@{node.span.line}:{node.span.col}" if node.span.line else f"#{node_id}"
        return f"{enclosing}/{node.kind}{where}"

    # -- the fixed point ----------------------------------------------------------------------------------
    def solve(self) -> None:
        nodes = [(node_id, node) for node_id, node in self.graph.live_nodes() if node_id in self.frame_of]
        while True:
            self.changed = False
            for node_id, node in nodes:
                rule = getattr(self, "flow_" + node.kind, None)
                if rule is not None:
                    rule(node_id, node)
            for frame in self.frames.values():
                self.frame_rules(frame)
            self.outside_reach = self.reach(OUTSIDE)
            self.outside_rules()
            if not self.changed:
                return

    def grow(self, target: set, items: Iterable) -> None:
        before = len(target)
        target.update(items)
        if len(target) != before:
            self.changed = True

    def into(self, value: int, items: Iterable) -> None:
        """``items`` join what ``value`` may be; a scalar (int, float, bool, string, unit) is never an object."""
        if value not in self.scalars:
            self.grow(self.points[value], items)

    def held(self, objects: Iterable) -> set:
        """What the objects may hold.  What is read out of the outside is the outside: the objects
        handed to it are not brought back one by one (they are on the heap already), which keeps the
        sets small."""
        found: set = set()
        for obj in list(objects):
            found |= (OUTSIDE_ONLY if obj == OUTSIDE else self.holds[obj])
        return found

    def reach(self, sink: Any) -> set:
        """Every object ``sink`` holds, directly or inside other objects; other sinks are not entered
        (what the outside holds is the outside's, even when a caller handed it over)."""
        seen: set = set()
        stack = list(self.holds[sink])
        while stack:
            obj = stack.pop()
            if obj in seen:
                continue
            seen.add(obj)
            if not is_sink(obj):
                stack.extend(self.holds[obj])
        return seen

    def results(self, region_id: int) -> set:
        found: set = set()
        for value in self.graph.region(region_id).results:
            found |= self.points[value]
        return found

    def params(self, region_id: int) -> tuple[int, ...]:
        return self.graph.region(region_id).params

    # -- frames and the outside ------------------------------------------------------------------------------
    def frame_rules(self, frame: Frame) -> None:
        region = self.graph.region(frame.region)
        returned = self.results(frame.region)
        handed = set().union(*(self.points[p] for p in region.params), *(self.points[v] for v in
                                                                          self.free.get(frame.region, ())))
        if frame.kind == "actor":
            actor = self.graph.node(frame.owner)
            sink = actor_sink(frame.owner)
            state, message = (region.params + (None, None))[:2]
            if state is not None:
                self.grow(self.points[state], self.points[actor.operands[0]])
                if region.results:
                    self.grow(self.points[state], self.points[region.results[0]])
            if message is not None:
                self.grow(self.points[message], (OUTSIDE,))  # the host may post to any actor it can name
            self.grow(self.holds[sink], returned | handed | self.points[actor.operands[0]])
            return
        if frame.kind == "global":
            self.grow(self.holds[OUTSIDE], returned)
            return
        self.grow(self.holds[caller_sink(frame.region)], returned | handed)
        if frame.kind == "func" and frame.name not in self.closed:
            for param in region.params:
                self.grow(self.points[param], (OUTSIDE,))
            self.grow(self.holds[OUTSIDE], returned)

    def outside_rules(self) -> None:
        """Closures and functions the outside can reach are called by it, with anything."""
        for obj in list(self.outside_reach):
            region = None
            if isinstance(obj, int) and self.graph.node(obj).kind == "lambda":
                region = self.graph.node(obj).regions[0]
            elif isinstance(obj, tuple) and obj[0] == "func" and obj[1] in self.decls:
                region = self.decls[obj[1]][1].regions[0]
            if region is not None:
                for param in self.params(region):
                    self.grow(self.points[param], (OUTSIDE,))
                self.grow(self.holds[OUTSIDE], self.results(region))

    def escape_to_outside(self, values: Iterable[int]) -> None:
        for value in values:
            self.grow(self.holds[OUTSIDE], self.points[value])

    # -- allocations -------------------------------------------------------------------------------------------
    def allocate(self, node_id: int, holds: Iterable) -> None:
        self.into(node_id, (node_id,))
        self.grow(self.holds[node_id], holds)

    def operand_objects(self, node: Node) -> set:
        return set().union(*(self.points[o] for o in node.operands)) if node.operands else set()

    def flow_array(self, node_id: int, node: Node) -> None:
        self.allocate(node_id, self.operand_objects(node))

    flow_list = flow_array
    flow_cons = flow_array
    flow_record = flow_array
    flow_tuple = flow_array
    flow_union = flow_array
    flow_pap = flow_array
    flow_scan = flow_array

    def flow_with(self, node_id: int, node: Node) -> None:
        source = self.points[node.operands[0]]
        self.allocate(node_id, self.held(source) | set().union(*(self.points[o] for o in node.operands[1:])))

    def flow_lambda(self, node_id: int, node: Node) -> None:
        (region,) = node.regions[:1] or (None,)
        captured = self.free.get(region, ()) if region is not None else ()
        self.allocate(node_id, set().union(*(self.points[v] for v in captured)) if captured else ())

    def flow_async(self, node_id: int, node: Node) -> None:
        self.flow_lambda(node_id, node)
        for region in node.regions:
            self.grow(self.holds[node_id], self.results(region))

    def flow_actor(self, node_id: int, node: Node) -> None:
        self.into(node_id, (node_id,))

    def flow_parallel_for(self, node_id: int, node: Node) -> None:
        self.allocate(node_id, self.results(node.regions[0]))

    def flow_stencil(self, node_id: int, node: Node) -> None:
        self.allocate(node_id, self.results(node.regions[0]))
        params = self.params(node.regions[0])
        if len(params) > 1:  # the window is a fresh copy of a run of the source's elements
            window = ("window", node_id)
            self.grow(self.points[params[1]], (window,))
            self.grow(self.holds[window], self.held(self.points[node.operands[1]]))

    def flow_scatter(self, node_id: int, node: Node) -> None:
        self.allocate(node_id, self.held(self.points[node.operands[0]]))

    def flow_concat(self, node_id: int, node: Node) -> None:
        self.allocate(node_id, self.held(self.held(self.points[node.operands[0]])))

    def flow_native(self, node_id: int, node: Node) -> None:
        op = node.attr("op")
        args = self.operand_objects(node)
        if op in ALLOCATING_NATIVES:
            self.allocate(node_id, args | self.held(args))
        elif op not in INTRINSICS:
            self.escape_to_outside(node.operands)  # an operation the analysis does not know
            self.into(node_id, (OUTSIDE,))
        elif not isinstance(self.types.get(node_id), T.TPrim):
            self.into(node_id, self.held(args) | (args if op in ("min", "max") else set()))
        # A function handed to an intrinsic (baker leaves none in Saturated; a graph built by hand may)
        # is called with the intrinsic's values and their elements, in any position.
        values = args | self.held(args)
        for obj in [o for o in args if self.function_region(o) is not None or self.is_partial(o)]:
            self.call_any(node_id, obj, values)

    def function_region(self, obj: Any) -> int | None:
        """The region of a lambda object or a function value, else None."""
        if isinstance(obj, int) and self.graph.node(obj).kind == "lambda":
            return self.graph.node(obj).regions[0]
        if isinstance(obj, tuple) and obj[0] == "func" and obj[1] in self.decls:
            return self.decls[obj[1]][1].regions[0]
        return None

    def is_partial(self, obj: Any) -> bool:
        return isinstance(obj, int) and self.graph.node(obj).kind == "pap"

    def call_any(self, node_id: int, obj: Any, values: set) -> None:
        """A call of ``obj`` whose arguments may be any of ``values`` in any position."""
        if self.is_partial(obj):
            pap = self.graph.node(obj)
            values = values | set().union(*(self.points[o] for o in pap.operands[1:]))
            for target in list(self.points[pap.operands[0]]):
                self.call_any(node_id, target, values)
            return
        if isinstance(obj, tuple) and obj[0] == "intrinsic":  # computes on its arguments, keeps none
            self.into(node_id, values | self.held(values))
            return
        region = self.function_region(obj)
        if region is None:  # a function from outside
            self.grow(self.holds[OUTSIDE], values)
            self.into(node_id, (OUTSIDE,))
            return
        for param in self.params(region):
            self.grow(self.points[param], values)
        self.into(node_id, self.results(region))

    # -- reading values ------------------------------------------------------------------------------------------
    def flow_proj(self, node_id: int, node: Node) -> None:
        source = node.operands[0]
        carried = self.carried(source, node.attr("index"))
        if carried is not None:
            self.into(node_id, carried)
        else:
            self.into(node_id, self.held(self.points[source]))

    def carried(self, source: int, index: Any) -> set | None:
        """The objects of value ``index`` of a node that yields several (a branch or loop), else None."""
        node = self.graph.nodes[source] if 0 <= source < len(self.graph.nodes) else None
        if node is None or not isinstance(index, int):
            return None
        if node.kind == "if":
            counts = {len(self.graph.region(r).results) for r in node.regions}
            if counts == {1}:
                return None
            return set().union(*(self.points[self.graph.region(r).results[index]] for r in node.regions
                                 if index < len(self.graph.region(r).results)))
        if node.kind in ("loop", "for", "foreach"):
            return set(self.loop_values(node, index))
        return None

    def loop_values(self, node: Node, index: int) -> set:
        if node.kind == "loop":
            params = self.params(node.regions[0])
            return self.points[params[index]] if index < len(params) else set()
        params = self.params(node.regions[0])[1:]
        return self.points[params[index]] if index < len(params) else set()

    def flow_field(self, node_id: int, node: Node) -> None:
        self.into(node_id, self.held(self.points[node.operands[0]]))

    flow_index = flow_field
    flow_case_field = flow_field

    def flow_await(self, node_id: int, node: Node) -> None:
        self.flow_field(node_id, node)

    def flow_ref(self, node_id: int, node: Node) -> None:
        name = node.attr("name")
        target = self.decls.get(name)
        if target is None:
            self.into(node_id, (("intrinsic", name),))
        elif target[1].kind == "global":
            self.into(node_id, self.results(target[1].regions[0]))
        elif target[1].kind == "func":
            self.into(node_id, (("func", name),))
        else:  # an extern as a value: calling it runs code outside the program
            self.into(node_id, (OUTSIDE,))

    def flow_store(self, node_id: int, node: Node) -> None:
        value = self.points[node.operands[-1]]
        for obj in list(self.points[node.operands[0]]):
            self.grow(self.holds[obj], value)

    # -- branches and loops -----------------------------------------------------------------------------------------
    def flow_if(self, node_id: int, node: Node) -> None:
        for region in node.regions:
            self.into(node_id, self.results(region))

    def carry(self, params: tuple[int, ...], inits: tuple[int, ...], body: int) -> None:
        """Carried params get the initial values and what the body yields next."""
        nexts = self.graph.region(body).results
        for k, param in enumerate(params):
            if k < len(inits):
                self.grow(self.points[param], self.points[inits[k]])
            if k < len(nexts):
                self.grow(self.points[param], self.points[nexts[k]])

    def flow_loop(self, node_id: int, node: Node) -> None:
        cond, body = node.regions
        self.carry(self.params(cond), node.operands, body)
        self.carry(self.params(body), node.operands, body)
        self.into(node_id, set().union(*(self.points[p] for p in self.params(cond))))

    def flow_for(self, node_id: int, node: Node) -> None:
        (body,) = node.regions
        skip = 2 if node.kind == "for" else 1
        params = self.params(body)
        if node.kind == "foreach" and params:
            self.grow(self.points[params[0]], self.held(self.points[node.operands[0]]))
        self.carry(params[1:], node.operands[skip:], body)
        self.into(node_id, set().union(*(self.points[p] for p in params[1:])))

    flow_foreach = flow_for

    def flow_reduce(self, node_id: int, node: Node) -> None:
        (region,) = node.regions
        params = self.params(region)
        items = self.held(self.points[node.operands[0]])
        if len(params) == 2:
            acc, item = params
            self.grow(self.points[item], items)
            self.grow(self.points[acc], self.points[node.operands[1]] if len(node.operands) > 1 else items)
            self.grow(self.points[acc], self.results(region))
            self.into(node_id, self.points[acc])
        self.into(node_id, self.results(region))

    # -- calls and messages ---------------------------------------------------------------------------------------------
    def bind(self, region: int, args: tuple[int, ...]) -> None:
        """Arguments into a function's params; arguments beyond them go to the function it returns."""
        params = self.params(region)
        for param, arg in zip(params, args):
            self.grow(self.points[param], self.points[arg])
        if len(args) > len(params):
            self.escape_to_outside(args[len(params):])

    def flow_call(self, node_id: int, node: Node) -> None:
        callee, args = node.operands[0], node.operands[1:]
        name = node.attr("callee")
        target = self.decls.get(name) if name is not None else None
        if target is not None and target[1].kind == "func":
            self.bind(target[1].regions[0], args)
            self.into(node_id, self.results(target[1].regions[0]))
            return
        if target is not None and target[1].kind == "extern":
            self.call_extern(node_id, target[1], args)
            return
        for obj in list(self.points[callee]):
            self.call_value(node_id, obj, args)

    def call_extern(self, node_id: int, extern: Node, args: tuple[int, ...]) -> None:
        handed = set().union(*(self.points[a] for a in args)) if args else set()
        if not extern.attr("pure", False):
            self.grow(self.holds[OUTSIDE], handed)
        # It may give back what it was handed, or something of its own.
        self.into(node_id, handed | self.held(handed) | {OUTSIDE})

    def call_value(self, node_id: int, obj: Any, args: tuple[int, ...]) -> None:
        region = self.function_region(obj)
        if region is not None:
            self.bind(region, args)
            self.into(node_id, self.results(region))
            if len(args) < len(self.params(region)):  # a partial application: it holds the function and args
                self.into(node_id, {obj}.union(*(self.points[a] for a in args)))
        elif self.is_partial(obj):
            self.call_partial(node_id, self.graph.node(obj), args)
        else:
            self.call_any(node_id, obj, set().union(*(self.points[a] for a in args)) if args else set())

    def call_partial(self, node_id: int, pap: Node, args: tuple[int, ...]) -> None:
        """A partial application called: its target gets the bound and the new arguments (params merged)."""
        handed = set().union(*(self.points[a] for a in pap.operands[1:] + args))
        for target in list(self.points[pap.operands[0]]):
            self.call_any(node_id, target, handed)

    def message(self, node_id: int, node: Node, replies: bool) -> None:
        target, message = node.operands
        sent = self.points[message]
        for obj in list(self.points[target]):
            actor = self.graph.nodes[obj] if isinstance(obj, int) else None
            if actor is None or actor.kind != "actor":
                self.grow(self.holds[UNKNOWN_ACTOR], sent)
                if replies:
                    self.into(node_id, (OUTSIDE,))
                continue
            handler = self.graph.region(actor.regions[0])
            self.grow(self.holds[actor_sink(obj)], sent)
            if len(handler.params) > 1:
                self.grow(self.points[handler.params[1]], sent)
            if replies and len(handler.results) > 1:
                self.into(node_id, self.points[handler.results[1]])

    def flow_post(self, node_id: int, node: Node) -> None:
        self.message(node_id, node, replies=True)

    def flow_tell(self, node_id: int, node: Node) -> None:
        self.message(node_id, node, replies=False)


def is_allocation(node: Node) -> bool:
    if node.kind in ("union", "tuple"):
        return bool(node.operands)
    if node.kind == "native":
        return node.attr("op") in ALLOCATING_NATIVES
    return node.kind in ALLOCATING_KINDS


class _Decider:
    """Classes and decisions for every allocation, from the solved flows."""

    def __init__(self, flows: _Flows, ranges: Mapping[int, Any], stack_limit: int):
        self.flows = flows
        self.graph = flows.graph
        self.ranges = ranges
        self.stack_limit = stack_limit
        sinks = {caller_sink(r) for r in flows.frames} | {OUTSIDE, UNKNOWN_ACTOR}
        sinks |= {actor_sink(a) for a, n in flows.graph.live_nodes() if n.kind == "actor"}
        self.reached = {sink: flows.reach(sink) for sink in sinks}
        self.held_somewhere = set().union(*(held for obj, held in flows.holds.items() if obj not in sinks))
        self.call_sites: dict[str, set[str]] = defaultdict(set)  # callee -> the frames that call it
        for node_id, node in flows.graph.live_nodes():
            if node.kind == "call" and node.attr("callee") is not None and node_id in flows.frame_of:
                self.call_sites[node.attr("callee")].add(flows.frames[flows.frame_of[node_id]].name)

    def decide(self, node_id: int, node: Node) -> tuple[str, Allocation]:
        frame = self.flows.frames[self.flows.frame_of[node_id]]
        outside = node_id in self.reached[OUTSIDE]
        actors = sorted((sink for sink, held in self.reached.items() if sink[0] == "actor" and node_id in held),
                        key=lambda s: (s[1] is None, s[1] or 0))
        to_caller = node_id in self.reached.get(caller_sink(frame.region), ())
        if actors:
            return TO_ACTOR, self._actor(frame, actors, outside, to_caller)
        if to_caller:
            return TO_CALLER, self._caller(frame, outside)
        if outside:
            return GLOBALLY, Allocation("heap", "", f"made in {frame.name} and reaches code outside the program "
                                                    "(an effectful extern, an unknown function or a global value)")
        return STAYS, self._stays(node_id, node, frame)

    def _actor(self, frame: Frame, actors: list, outside: bool, to_caller: bool) -> Allocation:
        names = [self.flows.actor_names.get(a[1], f"actor #{a[1]}") if a[1] is not None else "an unknown actor"
                 for a in actors]
        if len(actors) == 1 and actors[0][1] is not None and not outside and not to_caller:
            return Allocation("actor-arena", names[0], f"made in {frame.name} and sent into actor {names[0]} "
                                                       "(a message, its state or a reply): that actor's own arena")
        also = "; it also reaches code outside the program" if outside else ""
        also += f"; it is also returned by {frame.name}" if to_caller else ""
        return Allocation("heap", "", f"made in {frame.name} and sent into {', '.join(names)}{also}")

    def _caller(self, frame: Frame, outside: bool) -> Allocation:
        callers = self._callers(frame)
        if callers and not outside:
            return Allocation("caller-arena", ", ".join(callers),
                              f"returned by {frame.name} (or put in its caller's data); every caller is known: "
                              f"the arena {', '.join(callers)} pass(es) in")
        why = ("it also reaches code outside the program" if callers else
               f"the callers of {frame.name} are not known (an entry point, or a function used as a value)")
        return Allocation("heap", "", f"returned by {frame.name} (or put in its caller's data); {why}")

    def _callers(self, frame: Frame) -> list[str]:
        """The frames that call ``frame``, when all of them are known (else empty)."""
        if frame.kind == "func":
            if frame.name not in self.flows.closed:
                return []
            return sorted(self.call_sites.get(frame.name, ()))
        if frame.kind in ("lambda", "async"):
            if frame.owner in self.reached[OUTSIDE]:
                return []
            return [self.flows.frames[self.flows.frame_of[frame.owner]].name]
        return []

    def _stays(self, node_id: int, node: Node, frame: Frame) -> Allocation:
        size = self._fixed_size(node_id, node)
        if size is None:
            return Allocation("region-arena", frame.name,
                              f"stays in {frame.name}, but its size is known only at run time")
        if size > self.stack_limit:
            return Allocation("region-arena", frame.name,
                              f"stays in {frame.name}, but may hold up to {size} elements, more than the stack "
                              f"limit of {self.stack_limit}")
        if self.flows.iterations_of.get(node_id) and self._outlives_iteration(node_id):
            return Allocation("region-arena", frame.name,
                              f"stays in {frame.name}, but outlives the loop iteration it is made in")
        return Allocation("stack", frame.name, f"stays in {frame.name} and has a fixed size ({size} "
                                               f"{'field' if node.kind in FIXED_SIZE_KINDS else 'element'}"
                                               f"{'' if size == 1 else 's'})")

    def _outlives_iteration(self, node_id: int) -> bool:
        if node_id in self.held_somewhere:
            return True
        return any(node_id in self.flows.results(region) for region in self.flows.iterations_of[node_id])

    def _fixed_size(self, node_id: int, node: Node) -> int | None:
        if node.kind in FIXED_SIZE_KINDS:
            if node.kind == "lambda":
                return len(self.flows.free.get(node.regions[0], ()))
            return max(len(node.operands), 1)
        if node.kind in ("array", "list"):
            return len(node.operands)
        extents = ()
        if node.kind == "parallel_for":
            extents = node.operands
        elif node.kind == "native" and node.attr("op") in ("Array.zeroCreate", "Array2D.zeroCreate"):
            extents = node.operands
        if not extents:
            return None
        total = 1
        for extent in extents:
            bound = self._upper_bound(extent)
            if bound is None:
                return None
            total *= max(bound, 0)
        return total

    def _upper_bound(self, value: int) -> int | None:
        found = self.ranges.get(value)
        if found is not None and getattr(found, "finite", False):
            return int(found.hi)
        node = self.graph.nodes[value]
        if node is not None and node.kind == "const" and isinstance(node.attr("value"), int):
            return node.attr("value")
        return None


@register
@attrs.frozen
class Escape(Analysis):
    """Escape classification of every allocation, and the allocation it picks: stack, arena or heap."""

    name = "escape"
    input_language = Saturated
    output_language = Saturated

    entries: str = ""
    stack_limit: int = 16

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        return run_with_big_stack(self._analyze, graph, ctx)

    def _analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        names = entry_names(self.entries)
        check_entry_names(graph, names, self.name)
        flows = _Flows(graph, entry_points(graph, names))
        flows.solve()
        decider = _Decider(flows, graph.annotation("ranges"), self.stack_limit)
        classes: dict[int, str] = {}
        decisions: dict[int, Allocation] = {}
        for node_id, node in graph.live_nodes():
            if node_id in flows.frame_of and is_allocation(node):
                classes[node_id], decisions[node_id] = decider.decide(node_id, node)
                ctx.stat(decisions[node_id].place)
        ctx.stat("allocations", len(decisions))
        return {"escape": classes, "allocation": decisions}

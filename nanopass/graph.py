"""The Program Semantic Graph (PSG): immutable nodes, regions and annotation tables.

A graph is three pyrsistent vectors indexed by dense integer ids:

* ``nodes``: every operation.  A node's id is also the id of the single value it
  produces, so operands are plain node ids.
* ``regions``: ordered node lists with parameters and results (function bodies,
  branches, loop bodies, lambdas).  A node owns regions by id.
* ``annotations``: per-analysis tables keyed by node id, beside the graph.

Effects are explicit.  An effectful node names, in ``effect``, the token it
consumes: the region's entry token (a ``token`` node) or the previous
effectful node, which is itself the next token.  The control strand is the
chain of these edges; pure nodes have data edges only.

Deleted slots hold ``None`` so that ids stay stable inside a pipeline; the
``renumber`` pass compacts them.  Equality is structural over nodes, regions
and the root; annotations are derived facts and are compared separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping  # not typing's: its isinstance is several times slower
from typing import Any

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from nanopass.diagnostics import UNKNOWN_SPAN, Span

AttrValue = Any  # int | float | str | bool | None | tuple[AttrValue, ...]
Attributes = tuple  # tuple[tuple[str, AttrValue], ...], sorted by name


def make_attributes(values: Mapping[str, AttrValue] | Iterable[tuple[str, AttrValue]]) -> Attributes:
    """Canonical attribute tuple: sorted (name, value) pairs, hashable."""
    items = values.items() if isinstance(values, Mapping) else values
    return tuple(sorted((str(k), _freeze(v)) for k, v in items))


def _freeze(value: AttrValue) -> AttrValue:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


@attrs.frozen(slots=True)
class Node:
    """One operation: its kind, operand ids, static attributes, owned regions and span."""

    kind: str
    operands: tuple[int, ...] = ()
    attributes: Attributes = ()
    regions: tuple[int, ...] = ()
    effect: int | None = None
    span: Span = UNKNOWN_SPAN

    def attr(self, name: str, default: AttrValue = None) -> AttrValue:
        for key, value in self.attributes:
            if key == name:
                return value
        return default

    @property
    def attribute_map(self) -> dict[str, AttrValue]:
        return dict(self.attributes)

    def with_attrs(self, **changes: AttrValue) -> "Node":
        merged = dict(self.attributes)
        merged.update(changes)
        # The constructor, not attrs.evolve: this is the hot path of attribute rewrites.
        return Node(self.kind, self.operands, make_attributes(merged), self.regions, self.effect, self.span)

    def inputs(self) -> tuple[int, ...]:
        """Every node this one reads: operands, then its effect token."""
        if self.effect is None:
            return self.operands
        return self.operands + (self.effect,)


@attrs.frozen(slots=True)
class Region:
    """An ordered body of nodes with parameters and yielded results.

    ``params`` are ids of ``param`` nodes; ``body`` lists the other nodes in
    schedule order; ``results`` are the yielded value ids.  ``token`` is the
    id of the region's entry ``token`` node when the body has effects, and
    ``effect_out`` the token the region hands back to its owner.
    """

    params: tuple[int, ...] = ()
    body: tuple[int, ...] = ()
    results: tuple[int, ...] = ()
    token: int | None = None
    effect_out: int | None = None

    def node_ids(self) -> tuple[int, ...]:
        """Every node id the region defines directly: entry token, params, body."""
        head = () if self.token is None else (self.token,)
        return head + self.params + self.body


@attrs.frozen(slots=True)
class Hyperedge:
    """A joint constraint: one edge binding several nodes at once, not a clique of pairwise edges.

    ``kind`` names the constraint (``crossing``: a control region waiting on
    width work; co-location on a tile would be another); ``nodes`` are the
    ids it binds, in the order its kind defines; ``attributes`` are plain
    data, as a node's are.  Hyperedges are derived facts: they live in an
    annotation table (edge id -> Hyperedge) beside the graph.
    """

    kind: str
    nodes: tuple[int, ...]
    attributes: Attributes = ()

    def attr(self, name: str, default: AttrValue = None) -> AttrValue:
        for key, value in self.attributes:
            if key == name:
                return value
        return default


@attrs.frozen(slots=True)
class Graph:
    nodes: PVector = pvector()
    regions: PVector = pvector()
    root: int = 0
    annotations: PMap = attrs.field(default=pmap(), eq=False)

    # -- access -------------------------------------------------------------
    def node(self, node_id: int) -> Node:
        node = self.nodes[node_id]
        if node is None:
            raise KeyError(f"node {node_id} was deleted")
        return node

    def region(self, region_id: int) -> Region:
        region = self.regions[region_id]
        if region is None:
            raise KeyError(f"region {region_id} was deleted")
        return region

    def live_nodes(self) -> Iterator[tuple[int, Node]]:
        for node_id, node in enumerate(self.nodes):
            if node is not None:
                yield node_id, node

    def __len__(self) -> int:
        return sum(1 for n in self.nodes if n is not None)

    @property
    def root_region(self) -> Region:
        return self.region(self.root)

    def top_level(self) -> Iterator[tuple[int, Node]]:
        """The declarations of the module, in order."""
        for node_id in self.root_region.body:
            yield node_id, self.node(node_id)

    def symbol(self, name: str) -> int | None:
        """The id of the top-level declaration named ``name``."""
        for node_id, node in self.top_level():
            if node.attr("name") == name:
                return node_id
        return None

    def walk_region(self, region_id: int) -> Iterator[int]:
        """Node ids of a region and, depth first, of every region nested in it."""
        stack = [region_id]
        while stack:
            region = self.region(stack.pop())
            nested: list[int] = []
            for node_id in region.node_ids():
                yield node_id
                nested.extend(self.node(node_id).regions)
            stack.extend(reversed(nested))

    def owners(self) -> dict[int, int]:
        """Map each region id to the id of the node that owns it."""
        return {r: node_id for node_id, node in self.live_nodes() for r in node.regions}

    # -- annotations ----------------------------------------------------------
    def annotation(self, table: str) -> PMap:
        """The annotation table ``table`` (node id -> fact); empty when absent."""
        return self.annotations.get(table, pmap())

    def annotate(self, table: str, facts: Mapping[int, Any]) -> "Graph":
        """A graph with ``facts`` merged into ``table``; nodes are untouched."""
        merged = self.annotation(table).update(facts)
        return attrs.evolve(self, annotations=self.annotations.set(table, merged))

    def with_annotations(self, annotations: PMap) -> "Graph":
        return attrs.evolve(self, annotations=annotations)

    def same_annotations(self, other: "Graph") -> bool:
        return self.annotations == other.annotations


class RegionBuilder:
    """An open region inside a `Builder`; close it by leaving the ``with`` block."""

    def __init__(self, builder: "Builder", region_id: int, params: tuple[int, ...], token: int | None):
        self._builder = builder
        self.id = region_id
        self.params = params
        self.entry_token = token
        self.token = token  # the current effect token, advanced by effect ops
        self.body: list[int] = []
        self.results: tuple[int, ...] = ()

    def yields(self, *values: int) -> None:
        self.results = tuple(values)

    def __enter__(self) -> "RegionBuilder":
        return self

    def __exit__(self, *exc: object) -> None:
        self._builder._close(self)


class Builder:
    """Builds a graph from Python without the front end.

    >>> b = Builder()
    >>> with b.region(params=["x"]) as body:
    ...     one = b.op("const", value=1, type="int")
    ...     body.yields(b.op("prim", body.params[0], one, op="+"))
    >>> f = b.op("func", regions=[body.id], name="inc", params=("x",))
    >>> g = b.build()
    """

    def __init__(self, file: str = "<builder>"):
        self.file = file
        self._nodes = pvector().evolver()
        self._regions = pvector().evolver()
        self._stack: list[RegionBuilder] = []
        root_id = self._reserve_region()
        self._stack.append(RegionBuilder(self, root_id, (), None))

    # -- nodes ------------------------------------------------------------------
    def op(
        self,
        kind: str,
        *operands: int,
        regions: Iterable[int] = (),
        effect: int | None = None,
        span: Span | None = None,
        **attributes: AttrValue,
    ) -> int:
        """Append a node to the innermost open region and return its id."""
        node = Node(
            kind,
            tuple(operands),
            make_attributes(attributes),
            tuple(regions),
            effect,
            span if span is not None else self._default_span(),
        )
        node_id = self._add(node)
        self._stack[-1].body.append(node_id)
        return node_id

    def effect_op(self, kind: str, *operands: int, **kw: Any) -> int:
        """Append an effectful node that consumes the current token and becomes the next one."""
        current = self._stack[-1]
        if current.token is None:
            raise ValueError(f"effect op {kind!r} in a region opened without effect=True")
        node_id = self.op(kind, *operands, effect=current.token, **kw)
        current.token = node_id
        return node_id

    def region(self, params: Iterable[str] | int = (), effect: bool = False, span: Span | None = None) -> RegionBuilder:
        """Open a nested region with named (or counted) ``param`` nodes."""
        names = [f"p{i}" for i in range(params)] if isinstance(params, int) else list(params)
        region_id = self._reserve_region()
        sp = span if span is not None else self._default_span()
        param_ids = tuple(
            self._add(Node("param", (), make_attributes({"index": i, "name": n}), (), None, sp))
            for i, n in enumerate(names)
        )
        token = self._add(Node("token", (), (), (), None, sp)) if effect else None
        handle = RegionBuilder(self, region_id, param_ids, token)
        self._stack.append(handle)
        return handle

    def build(self) -> Graph:
        if len(self._stack) != 1:
            raise ValueError("build() with a region still open")
        root = self._stack.pop()
        self._close(root, pop=False)
        return Graph(self._nodes.persistent(), self._regions.persistent(), root.id)

    # -- internals --------------------------------------------------------------
    def _default_span(self) -> Span:
        return Span(self.file, 0, 0, 0, 0)

    def _add(self, node: Node) -> int:
        self._nodes.append(node)
        return len(self._nodes) - 1

    def _reserve_region(self) -> int:
        self._regions.append(None)
        return len(self._regions) - 1

    def _close(self, handle: RegionBuilder, pop: bool = True) -> None:
        if pop:
            if not self._stack or self._stack[-1] is not handle:
                raise ValueError("regions must be closed innermost first")
            self._stack.pop()
        self._regions[handle.id] = Region(
            handle.params, tuple(handle.body), handle.results, handle.entry_token, handle.token
        )

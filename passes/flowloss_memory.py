"""Flow-loss memory axis: the bytes a function reads and writes, its intermediates, and what stays resident.

Its one concern is FLOW_LOSS.md's memory axis of one function, read off the
heap of the flow-loss interpreter's final states: the bytes of the arrays
it is given (in) and returns (out), each array it makes on the way
(intermediate) with its bytes, whether that intermediate is
**materialized** (written out and read back) or **fused** into its consumer
(never made), and whether the working set (in, out and what is
materialized) stays resident in the cache.

Which intermediates are fused is the backend's decision where the graph
carries it: the LLVM backend's ``fuse`` analysis writes the table named
`FUSED_TABLE` (producer node id -> what it is fused into), and where that
table is present it is read as it stands: a producer in it is fused, any
other intermediate materialized.  Without it the axis reads fusion off the
uses (`fusable`): an intermediate read element by element by one index
space, or folded by one reduction, and by nothing else but its length.
The table's name lives here, below the backends, so that the backend names
the table this layer reads without this layer importing a backend.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import attrs

from nanopass.frontend import types as T
from nanopass.graph import Graph
from nanopass.passes.flowloss_algebra import INF, Figure, add, mul, number, show
from nanopass.passes.flowloss_domain import ArrayV

# The LLVM backend's table of fused producers (`nanopass.backends.llvm.fusion`).
FUSED_TABLE = "fused"
# Bytes per element of each scalar type.
ELEMENT_BYTES = {"float": 8, "float32": 4, "int": 4, "int64": 8, "uint8": 1, "bool": 1}
DEFAULT_ELEMENT_BYTES = 8
# What the arrays baker makes inside a compaction (filter, distinct) hold: the flags are an index space
# whose origin is the compaction, the positions a scan of them.
ROLES = {"parallel_for": "flags", "scan": "positions"}
COMPACTIONS = frozenset({"Array.filter", "List.filter", "List.distinct"})


@attrs.frozen
class ArrayTraffic:
    name: str
    bytes: Figure
    fused: bool
    node: int


@attrs.frozen
class MemoryAxis:
    """Bytes in and out, intermediates materialized or fused, and whether the working set stays resident.

    ``fusion`` says who decided what is fused: ``"uses"`` (read off the uses)
    or the name of the backend's table it was read from.
    """

    bytes_in: Figure
    bytes_out: Figure
    inputs: tuple[str, ...]
    intermediates: tuple[ArrayTraffic, ...]
    working_set: Figure
    cache_bytes: int
    fusion: str = "uses"

    @property
    def materialized(self) -> tuple[ArrayTraffic, ...]:
        return tuple(a for a in self.intermediates if not a.fused)

    @property
    def fused(self) -> tuple[ArrayTraffic, ...]:
        return tuple(a for a in self.intermediates if a.fused)

    @property
    def resident(self) -> bool | None:
        """Whether the working set fits the cache (None: it depends on symbolic sizes)."""
        if self.working_set is INF:
            return None
        value = number(self.working_set)
        return None if value is None else value <= self.cache_bytes

    def summary(self) -> str:
        if not self.inputs:
            if self.resident is True:
                return "no arrays in; no spill on this region"
            return f"no arrays in; working set {show(self.working_set)} bytes"
        names = ", ".join(self.inputs)
        verb = "stays" if len(self.inputs) == 1 else "stay"
        if self.resident is True:
            return f"{names} {verb} resident; no spill on this region"
        if self.resident is False:
            return (f"{names} spill{'s' if len(self.inputs) == 1 else ''}: working set {show(self.working_set)} "
                    f"bytes exceeds the {self.cache_bytes} byte cache")
        return (f"working set {show(self.working_set)} bytes; {names} {verb} resident while it fits the "
                f"{self.cache_bytes} byte cache")


def element_bytes(t: Any) -> int:
    """The bytes of one element of an array of type ``t`` (of its innermost elements when nested)."""
    while isinstance(t, T.TArray):
        t = t.elem
    if isinstance(t, T.TPrim) and isinstance(t.base, str):
        return ELEMENT_BYTES.get(t.base, DEFAULT_ELEMENT_BYTES)
    return DEFAULT_ELEMENT_BYTES


def memory_axis(graph: Graph, inputs: Iterable[tuple[str, Figure, Any]], returned: list[tuple[Any, Any]],
                label_of: Callable[[int], tuple[str, int]], named: frozenset, cache_bytes: int) -> MemoryAxis:
    """The memory axis of one function: ``inputs`` are its array parameters as (name, elements, element
    type), ``returned`` the analysis's final (state, value) pairs, ``label_of`` names a node as the report
    does and ``named`` holds the nodes the source names (the others a compaction made get their role)."""
    types = graph.annotation("types")
    names, bytes_in = [], 0
    for name, count, elem in inputs:
        bytes_in = add(bytes_in, mul(count, element_bytes(elem)))
        names.append(name)
    heap: dict = {}
    result_sites: set = set()
    for state, value in returned:
        for site, entry in state.heap.items():
            heap.setdefault(site, entry)
        if isinstance(value, ArrayV):
            result_sites |= value.sites
    table = graph.annotations.get(FUSED_TABLE)
    uses = None if table is not None else _uses(graph)
    bytes_out = 0
    intermediates = []
    own = {site for site in heap if isinstance(site, tuple) and len(site) == 3 and site[0] == (None,)
           and site[2] == ""}
    for site in sorted(own, key=lambda s: s[1]):
        node_id = site[1]
        count = 1
        for d in heap[site].dims:
            count = mul(count, d.hi)
        size = mul(count, element_bytes(types.get(node_id)))
        if site in result_sites:
            bytes_out = add(bytes_out, size)
            continue
        fused = node_id in table if table is not None else fusable(graph, node_id, uses)
        label, _ = label_of(node_id)
        node = graph.node(node_id)
        if node_id not in named and (node.kind == "scan" or (node.kind == "parallel_for" and
                                                           node.attr("origin") in COMPACTIONS)):
            label += f" ({ROLES[node.kind]})"  # a part of a filter or distinct
        intermediates.append(ArrayTraffic(label, size, fused, node_id))
    working = add(bytes_in, bytes_out, *(a.bytes for a in intermediates if not a.fused))
    return MemoryAxis(bytes_in, bytes_out, tuple(names), tuple(intermediates), working, cache_bytes,
                      FUSED_TABLE if table is not None else "uses")


def _uses(graph: Graph) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for node_id, node in graph.live_nodes():
        for operand in node.operands:
            found.setdefault(operand, []).append(node_id)
    for region in graph.regions:
        if region is not None:
            for value in region.results:
                found.setdefault(value, []).append(-1)
    return found


def fusable(graph: Graph, node_id: int, uses: Mapping[int, list[int]]) -> bool:
    """An intermediate is fused when one element-wise consumer reads it (element i at index i) or one
    reduction folds it, and nothing else but its length is read."""
    owners = graph.owners()
    consumers = set()
    for use in uses.get(node_id, []):
        if use < 0:
            return False
        node = graph.node(use)
        if node.kind == "extent":
            continue
        if node.kind == "reduce" and node.operands[0] == node_id:
            consumers.add(use)
            continue
        if node.kind != "index" or len(node.operands) != 2:
            return False
        index = graph.node(node.operands[1])
        if index.kind != "param":
            return False
        region = next((r for r, reg in enumerate(graph.regions) if reg is not None and node.operands[1] in reg.params),
                      None)
        owner = owners.get(region)
        if owner is None or graph.node(owner).kind not in ("parallel_for", "stencil"):
            return False
        consumers.add(owner)
    return len(consumers) == 1

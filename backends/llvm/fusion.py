"""Fusion (Saturated -> Saturated): which intermediate arrays the LLVM backend never materializes.

Its one concern is deciding, at the Saturated level and before any code is
emitted, which ``parallel_for`` producers run inside their consumer's loop,
so that a chain of maps (and a map into a reduction) becomes one loop with
no intermediate array.  A producer P fuses into a consumer C when

* P is a pure 1-D ``parallel_for`` building an array (no token anywhere in
  its region tree) whose elements are native scalars or tuples of them;
* every use of P is ``extent P`` (which becomes P's own extent) or one of:
  - exactly one ``index P i`` where ``i`` is the index of a 1-D
    ``parallel_for`` C in the same region as P, reached from C's region
    through ``if`` arms only (no loop would run it twice), and C's extent is
    P's extent (``extent P`` or P's extent operand itself);
  - C is a ``reduce`` over P in the same region as P (its source), and
    either C may be split across cores (``reassociate``) or P's element is
    cheap (at most `SEQUENTIAL_FUSION_COST` in the flow-loss cost model):
    an in-order reduce runs on one core, and fusing a costly map into it
    would take that map off the cores (Monte Carlo's scenarios);
* of C's own region and the regions fused into it (each with what is fused
  into it in turn), at most one may fault (`Facts.may_fault`): fusing
  interleaves them, and the interpreter's first fault must stay the first
  one; producers are taken in body order and one that would be a second
  faulting member stays materialized.  (A pure extern raising is a host
  error and does not count; fused, it may be reported at another element.)

The ``fused`` table maps each fused producer's node id to a tuple of
(name, value) pairs, plain data that the psg text and the flow-loss memory
axis read: ``into`` (the consumer's node id), ``consumer`` (its kind),
``origin`` (the producer's construct, e.g. ``Array.map``), ``element`` (the
element type) and ``bytes_per_element`` (what each element would have cost
to write and read back).  Chains fuse link by link: in three maps, the first
fuses into the second and the second into the third.

A filter feeding a reduction (``Array.filter |> Array.reduce``: baker's
flags, exclusive ``scan`` of them and ``scatter`` into a reduce) fuses the
same way: the reduce folds element i only where its flag holds, so the
flags, the positions and the compacted array are never made (the scatter
and the scan are recorded as fused into the reduce too), and the filtered
map producer fuses as well when the flags are its only reader.  Its count
is the flags' count, which baker made the values' extent.

Statistics: ``fused into parallel_for``, ``fused into reduce``.

Validation obligation: an analysis never edits nodes (`Analysis.validate`).
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from nanopass.graph import Graph, Node
from nanopass.languages import Saturated
from nanopass.pass_ import Analysis, PassContext, register
from nanopass.backends.llvm import types as N
from nanopass.backends.llvm.analysis import Facts
from nanopass.passes.flowloss_memory import FUSED_TABLE as TABLE  # the flow-loss memory axis reads it by this name
# The most work per element a producer may have and still fuse into a reduce that runs in order.
SEQUENTIAL_FUSION_COST = 32


def fused_into(graph: Graph) -> dict[int, int]:
    """Producer node id -> consumer node id, from the ``fused`` table."""
    return {producer: dict(fact)["into"] for producer, fact in graph.annotation(TABLE).items()}


@register
@attrs.frozen
class Fuse(Analysis):
    """Decide which map producers run inside their consumer's loop (the ``fused`` table)."""

    name = "fuse"
    input_language = Saturated
    output_language = Saturated

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        facts = Facts(graph)
        table: dict[int, tuple] = {}
        faults: dict[int, bool] = {}  # node -> whether it, or a producer fused into it, may fault
        for region in graph.regions:
            if region is None:
                continue
            # Body order: a producer's own producers are settled before it is.
            for node_id in region.body:
                node = graph.node(node_id)
                if node.kind != "parallel_for":
                    continue
                own = faults.get(node_id, False) or facts.may_fault(node.regions[0])
                consumer = consumer_of(facts, node_id, node)
                if consumer is None:
                    continue
                consumer_faults = faults.get(consumer, facts.may_fault(graph.node(consumer).regions[0]))
                if own and consumer_faults:
                    continue
                faults[consumer] = own or consumer_faults
                element = facts.ntype(node_id).elem
                kind = graph.node(consumer).kind
                table[node_id] = (("bytes_per_element", N.size_of(element)), ("consumer", kind),
                                  ("element", str(element)), ("into", consumer), ("origin", node.attr("origin")))
                ctx.stat(f"fused into {kind}")
            for node_id in region.body:
                node = graph.node(node_id)
                if node.kind == "reduce":
                    self._compaction(facts, node_id, node, table, faults, ctx)
        return {TABLE: table}

    def _compaction(self, facts: Facts, reduce_id: int, reduce: Node, table: dict, faults: dict,
                    ctx: PassContext) -> None:
        """A filter feeding a reduce: flags, positions and the compacted array run inside the reduce's loop."""
        shape = compaction(facts, reduce_id, reduce)
        if shape is None:
            return
        graph = facts.graph
        scatter_id, scan_id, flags_id, values_id = shape
        flags = graph.node(flags_id)
        own = faults.get(reduce_id, facts.may_fault(reduce.regions[0]))
        flag_faults = faults.get(flags_id, False) or facts.may_fault(flags.regions[0])
        if own and flag_faults:
            return
        in_order = not reduce.attr("reassociate")
        if in_order and facts.cost(flags.regions[0]) > SEQUENTIAL_FUSION_COST:
            return
        origin = flags.attr("origin")
        element = facts.ntype(scatter_id).elem
        for node_id, t in ((scatter_id, element), (scan_id, N.INT), (flags_id, N.BOOL)):
            table[node_id] = (("bytes_per_element", N.size_of(t)), ("consumer", "reduce"), ("element", str(t)),
                              ("into", reduce_id), ("origin", origin))
        ctx.stat("fused into reduce", 3)
        faults[reduce_id] = own or flag_faults
        values = graph.node(values_id)
        if (values_id in table or values.kind != "parallel_for" or len(values.operands) != 1
                or values.effect is not None or values.attr("container") != "array"):
            return
        if any(graph.region(r).token is not None for r in _regions(facts, values.regions[0])):
            return
        if in_order and facts.cost(values.regions[0]) > SEQUENTIAL_FUSION_COST:
            return
        value_faults = faults.get(values_id, False) or facts.may_fault(values.regions[0])
        if value_faults and faults[reduce_id]:
            return
        readers = [u for u in facts.uses[values_id] if u != scatter_id and not (
            u >= 0 and graph.node(u).kind == "extent")]
        if len(readers) != 1 or _indexing_consumer(facts, values_id, values, readers[0], facts.region_of[values_id]) \
                != flags_id:
            return
        table[values_id] = (("bytes_per_element", N.size_of(element)), ("consumer", "reduce"),
                            ("element", str(element)), ("into", reduce_id), ("origin", values.attr("origin")))
        faults[reduce_id] = faults[reduce_id] or value_faults
        ctx.stat("fused into reduce")


def compaction(facts: Facts, reduce_id: int, reduce: Node) -> tuple[int, int, int, int] | None:
    """(scatter, scan, flags, values) when ``reduce`` folds ``scatter values flags (scan flags)``, the
    ``filter`` baker builds, and nothing else reads the scatter, the scan or the flags; else None."""
    graph = facts.graph
    scatter_id = reduce.operands[0]
    scatter = graph.node(scatter_id)
    if scatter.kind != "scatter" or scatter.attr("container") != "array":
        return None
    values_id, flags_id, scan_id = scatter.operands
    scan, flags = graph.node(scan_id), graph.node(flags_id)
    home = facts.region_of[reduce_id]
    if (scan.kind != "scan" or scan.operands != (flags_id,) or not scan.attr("exclusive") or scan.attr("op") != "+"
            or flags.kind != "parallel_for" or len(flags.operands) != 1 or flags.effect is not None):
        return None
    if any(facts.region_of[n] != home for n in (scatter_id, scan_id, flags_id)):
        return None
    if (facts.uses[scatter_id] != [reduce_id] or facts.uses[scan_id] != [scatter_id]
            or sorted(facts.uses[flags_id]) != sorted([scan_id, scatter_id])):
        return None
    values_type = facts.ntype(values_id)
    if not isinstance(values_type, N.Array) or values_type.rank != 1:
        return None
    extent = graph.node(flags.operands[0])
    same_count = flags.operands[0] == (graph.node(values_id).operands[0] if graph.node(values_id).kind ==
                                       "parallel_for" else None) or (
        extent.kind == "extent" and extent.operands[0] == values_id and extent.attr("dim") == 0)
    if not same_count or any(graph.region(r).token is not None for r in _regions(facts, flags.regions[0])):
        return None
    return scatter_id, scan_id, flags_id, values_id


def consumer_of(facts: Facts, producer_id: int, producer: Node) -> int | None:
    """The node the producer may fuse into by its shape and uses (the fault rule is the caller's), or None."""
    graph = facts.graph
    if len(producer.operands) != 1 or producer.attr("container") != "array" or producer.effect is not None:
        return None
    region = producer.regions[0]
    if any(graph.region(r).token is not None for r in _regions(facts, region)):
        return None
    produced = facts.ntype(producer_id)
    if not isinstance(produced, N.Array) or not N.is_flat(produced.elem):
        return None
    indexes, reduces = [], []
    for user in facts.uses[producer_id]:
        if user < 0:
            return None  # a region result: the array leaves
        node = graph.node(user)
        if node.kind == "extent" and node.attr("dim") == 0:
            continue
        if node.kind == "index" and node.operands[0] == producer_id and len(node.operands) == 2:
            indexes.append(user)
        elif node.kind == "reduce" and node.operands[0] == producer_id and producer_id not in node.operands[1:]:
            reduces.append(user)
        else:
            return None
    home = facts.region_of[producer_id]
    if reduces and not indexes and len(reduces) == 1:
        consumer = reduces[0]
        if facts.region_of[consumer] != home:
            return None
        if not graph.node(consumer).attr("reassociate") and facts.cost(region) > SEQUENTIAL_FUSION_COST:
            return None
    elif len(indexes) == 1 and not reduces:
        consumer = _indexing_consumer(facts, producer_id, producer, indexes[0], home)
        if consumer is None:
            return None
    else:
        return None
    return consumer


def _indexing_consumer(facts: Facts, producer_id: int, producer: Node, read_id: int, home: int) -> int | None:
    graph = facts.graph
    index = graph.node(read_id).operands[1]
    if graph.node(index).kind != "param":
        return None
    loop_region = facts.region_of[index]
    consumer = facts.owner.get(loop_region)
    if consumer is None:
        return None
    node = graph.node(consumer)
    if (node.kind != "parallel_for" or len(node.operands) != 1 or graph.region(loop_region).params[0] != index
            or facts.region_of[consumer] != home):
        return None
    extent_id = node.operands[0]
    extent = graph.node(extent_id)
    same_extent = extent_id == producer.operands[0] or (
        extent.kind == "extent" and extent.operands[0] == producer_id and extent.attr("dim") == 0)
    if not same_extent:
        return None
    # From the read up to the consumer's region: through ``if`` arms only.
    region = facts.region_of[read_id]
    while region != loop_region:
        owner = facts.owner.get(region)
        if owner is None or graph.node(owner).kind != "if":
            return None
        region = facts.region_of[owner]
    return consumer


def _regions(facts: Facts, region_id: int) -> list[int]:
    found, stack = [], [region_id]
    while stack:
        current = stack.pop()
        found.append(current)
        for node_id in facts.graph.region(current).body:
            stack.extend(facts.graph.node(node_id).regions)
    return found

"""Bit layouts of hardware values, and the two width policies that choose them.

A scalar is a `Scalar`: ``width`` bits holding an integer, two's complement
when ``signed`` (a ``bool`` is one unsigned bit).  A union is a
`UnionLayout`: the tag (the case's index in declaration order) in the high
``tag_width`` bits, the fewest that number the cases, and below it the case's
payload fields packed from bit 0 up, each a `Scalar`; ``payload_width`` is
the widest case.  The first case with a zero payload is all zero bits, which
is what a register resets to.  Each layout's ``encode`` / ``decode`` turn
host values (ints, bools, `nanopass.interp.values.Union`) into those bits and
back: they are the contract for whoever drives the module's ports.

A width policy says which layout each value gets:

* `DeclaredWidths`: the declared type's width (``bool`` 1, ``uint8`` 8,
  ``int`` 32, ``int64`` 64) and signedness, for every value.
* `InferredWidths`: the ``widths`` pass's tables: a value's ``ranges``
  interval gives its bits (unsigned when the low end is not negative), a
  register's or output port's width is the ``hardware`` table's
  `FieldWidth`, and a union's payload fields hold the join of the values the
  module builds them from (plus the reset's zero, and any value of the type
  where the union arrives on an input port).  A value with no range (code
  the analysis found unreachable) keeps its declared width.  Input ports keep
  their declared widths under both policies: any value may arrive there.
  Then backwards, as Bitwise does: a value every use of which reads only its
  low k bits (``+ - * neg &&& ||| ^^^``, the shifted side of ``<<<``, a
  conversion, a branch joining it) is computed in k bits (`demanded_bits`);
  ``(s.Sum + p) &&& 0xFFFFF`` adds in 20 bits, not 32.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

import attrs

from nanopass.diagnostics import Diagnostic, DiagnosticError
from nanopass.graph import Graph
from nanopass.interp.values import Union
from nanopass.passes.widths import TYPE_RANGES, Interval, bits_needed

from nanopass.backends.circt.shape import Declarations, Field, Shape, scalar_name

DECLARED_BITS = {"bool": 1, "uint8": 8, "int": 32, "int64": 64}
SIGNED_TYPES = frozenset({"int", "int64"})


@attrs.frozen(slots=True)
class Scalar:
    """``width`` bits holding an integer; two's complement when ``signed``."""

    width: int
    signed: bool

    @classmethod
    def of_interval(cls, interval: Interval) -> "Scalar":
        return cls(bits_needed(interval.lo, interval.hi), interval.lo < 0)

    @classmethod
    def declared(cls, type_name: str) -> "Scalar":
        return cls(DECLARED_BITS[type_name], type_name in SIGNED_TYPES)

    @property
    def interval(self) -> Interval:
        if self.signed:
            return Interval(-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1)
        return Interval(0, (1 << self.width) - 1)

    def meet(self, other: "Scalar") -> "Scalar":
        """The narrowest layout holding every value both hold (each holds zero, so some value)."""
        return Scalar.of_interval(self.interval.meet(other.interval))

    def join(self, other: "Scalar") -> "Scalar":
        """The narrowest layout holding every value of both."""
        if self.signed == other.signed:
            return Scalar(max(self.width, other.width), self.signed)
        signed, unsigned = (self, other) if self.signed else (other, self)
        return Scalar(max(signed.width, unsigned.width + 1), True)

    def encode(self, value: int | bool) -> int:
        return int(value) & ((1 << self.width) - 1)

    def decode(self, bits: int) -> int:
        if self.signed and bits >> (self.width - 1) & 1:
            return bits - (1 << self.width)
        return bits


BIT = Scalar(1, False)


@attrs.frozen(slots=True)
class UnionLayout:
    """A union's bits: the tag above the payload of the case it names."""

    name: str
    cases: tuple[tuple[str, tuple[Scalar, ...]], ...]  # declaration order: the tag is the index

    @property
    def tag_width(self) -> int:
        return math.ceil(math.log2(len(self.cases))) if len(self.cases) > 1 else 0

    @property
    def payload_width(self) -> int:
        return max((sum(f.width for f in fields) for _, fields in self.cases), default=0)

    @property
    def width(self) -> int:
        """At least one bit: a union of one case without payload is still a wire."""
        return max(1, self.tag_width + self.payload_width)

    def tag(self, case: str) -> int:
        for index, (name, _) in enumerate(self.cases):
            if name == case:
                return index
        raise KeyError(f"{self.name} has no case {case}")

    def fields(self, case: str) -> tuple[Scalar, ...]:
        return self.cases[self.tag(case)][1]

    def offset(self, case: str, index: int) -> int:
        """The low bit of payload field ``index`` of ``case``."""
        return sum(f.width for f in self.fields(case)[:index])

    def encode(self, value: Union) -> int:
        bits = self.tag(value.case) << self.payload_width
        for index, (field, item) in enumerate(zip(self.fields(value.case), value.payload)):
            bits |= field.encode(item) << self.offset(value.case, index)
        return bits

    def decode(self, bits: int) -> tuple[str, tuple[int, ...]]:
        """The case and payload the bits hold (payload as ints: bools come back as 0 / 1)."""
        tag = bits >> self.payload_width if self.tag_width else 0
        if tag >= len(self.cases):
            raise ValueError(f"{bits:#x} holds tag {tag}, and {self.name} has {len(self.cases)} cases")
        case, fields = self.cases[tag]
        payload = tuple(f.decode(bits >> self.offset(case, i) & ((1 << f.width) - 1)) for i, f in enumerate(fields))
        return case, payload


Layout = Scalar | UnionLayout


# -- width policies ---------------------------------------------------------------------------------

class DeclaredWidths:
    """Every value at its declared type's width."""

    name = "declared"

    def __init__(self, decls: Declarations):
        self.decls = decls
        self._unions: dict[str, UnionLayout] = {}

    def value(self, node_id: int, type_name: str) -> Scalar:
        """The layout holding every value node ``node_id`` (of scalar type ``type_name``) takes."""
        return Scalar.declared(type_name)

    def demanded(self, node_id: int) -> int | None:
        """The low bits of node ``node_id`` its uses read, when fewer than all (None: all of them)."""
        return None

    def decided(self, node_id: int) -> bool | None:
        """Whether the condition ``node_id`` is known to be true or false (None: it is not known)."""
        return None

    def port(self, field: Field) -> Layout:
        return self.layout(field.type)

    def register(self, field: Field) -> Layout:
        return self.layout(field.type)

    def output(self, field: Field) -> Layout:
        return self.layout(field.type)

    def layout(self, t: Any) -> Layout:
        name = scalar_name(t)
        if name is not None:
            return Scalar.declared(name)
        return self.union(self.decls.union(t).name)

    def union(self, name: str) -> UnionLayout:
        if name not in self._unions:
            definition = self.decls.unions[name]
            self._unions[name] = UnionLayout(name, tuple(
                (case, tuple(Scalar.declared(scalar_name(t)) for t in payload)) for case, payload in definition.cases))
        return self._unions[name]


class InferredWidths(DeclaredWidths):
    """Widths from the ``widths`` pass's ``ranges`` and ``hardware`` tables (see the module docstring)."""

    name = "inferred"

    def __init__(self, decls: Declarations, graph: Graph, shape: Shape, functions: Iterable[int],
                 diagnostics: Iterable[Diagnostic] = ()):
        super().__init__(decls)
        self.graph = graph
        self.shape = shape
        self.ranges: Mapping[int, Interval] = graph.annotation("ranges")
        fields = graph.annotation("hardware").get(shape.func_id, ())
        self.fields = {(f.role, f.field): f for f in fields}
        self.functions = tuple(functions)
        self._demand: dict[int, int | None] | None = None
        errors = self._errors(diagnostics)
        if errors:
            raise DiagnosticError(errors)

    def _errors(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """The ``widths`` pass's errors inside this module (union fields get none: this policy lays them out)."""
        func = self.graph.node(self.shape.func_id).span
        return [d for d in diagnostics
                if d.severity == "error" and d.span.file == func.file and func.line <= d.span.line <= func.end_line]

    def value(self, node_id: int, type_name: str) -> Scalar:
        interval = self.ranges.get(node_id)
        return Scalar.of_interval(interval) if interval is not None else Scalar.declared(type_name)

    def decided(self, node_id: int) -> bool | None:
        interval = self.ranges.get(node_id)
        return None if interval is None or interval.constant is None else bool(interval.constant)

    def demanded(self, node_id: int) -> int | None:
        if self._demand is None:
            types = self.graph.annotation("types")

            def width(node: int) -> int | None:
                if node in self.ranges:
                    return self.ranges[node].bits
                name = scalar_name(types.get(node))
                return DECLARED_BITS.get(name) if name is not None else None

            self._demand = demanded_bits(self.graph, self.functions, width)
        return self._demand.get(node_id)

    def register(self, field: Field) -> Layout:
        return self._field("state", field)

    def output(self, field: Field) -> Layout:
        return self._field("output", field)

    def _field(self, role: str, field: Field) -> Layout:
        type_name = scalar_name(field.type)
        if type_name is None:
            return self.union(self.decls.union(field.type).name)
        found = self.fields.get((role, field.name))
        if found is None:  # the pass reports every field it leaves without a width: an inconsistency
            node = self.graph.node(self.shape.func_id)
            raise DiagnosticError(Diagnostic(node.span, f"the widths pass gave {role} field '{field.name}' of "
                                                        f"{self.shape.function} no width, and reported nothing"))
        signed = found.range.lo < 0 if found.range is not None else type_name in SIGNED_TYPES
        return Scalar(found.bits, signed)

    def union(self, name: str) -> UnionLayout:
        if name not in self._unions:
            self._unions[name] = self._infer_union(name)
        return self._unions[name]

    def _infer_union(self, name: str) -> UnionLayout:
        definition = self.decls.unions[name]
        arrives = any(self.decls.union(f.type) is definition for f in self.shape.inputs)
        found: dict[tuple[str, int], Interval] = {}
        for case, payload in definition.cases:
            for index, t in enumerate(payload):
                low, high = TYPE_RANGES[scalar_name(t)]
                # Any value of the type may arrive on a port; otherwise the reset's zero.
                found[case, index] = Interval(low, high) if arrives else Interval(0, 0)
        for node_id in self._union_nodes(name):
            node = self.graph.node(node_id)
            for index, operand in enumerate(node.operands):
                interval = self.ranges.get(operand)
                if interval is None:  # never computed: the analysis found the construction unreachable
                    continue
                key = (node.attr("case"), index)
                found[key] = found[key].join(interval) if key in found else interval
        return UnionLayout(name, tuple(
            (case, tuple(Scalar.of_interval(found[case, i]) for i in range(len(payload))))
            for case, payload in definition.cases))

    def _union_nodes(self, name: str) -> Iterable[int]:
        for func_id in self.functions:
            for region_id in self.graph.node(func_id).regions:
                for node_id in self.graph.walk_region(region_id):
                    node = self.graph.node(node_id)
                    if node.kind == "union" and node.attr("type") == name:
                        yield node_id


# -- demanded bits ------------------------------------------------------------------------------------

# Operators whose result's low k bits depend only on their operands' low k bits.
LOW_BIT_OPS = frozenset({"+", "-", "*", "&&&", "|||", "^^^", "neg"})
CONVERSIONS = frozenset({"int", "int64", "uint8"})


def demanded_bits(graph: Graph, functions: Iterable[int], width: Callable[[int], int | None]) -> dict[int, int]:
    """For each scalar node of ``functions`` whose every use reads only its low bits, how many.

    ``width(node)`` is the node's own width (None when it is not a scalar).  A use
    that computes modulo ``2^k`` (see `LOW_BIT_OPS`; conversions; the shifted side of
    ``<<<``; an ``if`` joining it into a k-bit result) reads the low k bits, where k
    is the user's own effective width; every other use (a comparison, a division,
    ``>>>``, a record, a call, a port) reads all of it.  Regions are walked from
    their results back, so every use is seen before the value it uses.
    """
    needs: dict[int, int | None] = {}  # None: some use reads every bit

    def need(node_id: int, bits: int | None) -> None:
        if node_id in needs and (needs[node_id] is None or bits is None):
            needs[node_id] = None
        else:
            needs[node_id] = bits if node_id not in needs else max(bits, needs[node_id])

    def effective(node_id: int) -> int | None:
        own = width(node_id)
        read = needs.get(node_id)
        return own if read is None or own is None else min(own, read)

    def region(region_id: int, result_bits: list[int | None]) -> None:
        found = graph.region(region_id)
        for result, bits in zip(found.results, result_bits):
            need(result, bits)
        for node_id in reversed(found.body):
            node = graph.node(node_id)
            bits = effective(node_id)
            if node.kind == "prim" and node.attr("op") in LOW_BIT_OPS:
                for operand in node.operands:
                    need(operand, bits)
            elif node.kind == "prim" and node.attr("op") == "<<<":
                need(node.operands[0], bits)
                need(node.operands[1], None)
            elif node.kind == "native" and node.attr("op") in CONVERSIONS and len(node.operands) == 1:
                need(node.operands[0], bits)
            else:
                for operand in node.operands:
                    need(operand, None)
            for owned in node.regions:
                results = graph.region(owned).results
                joined = node.kind == "if" and len(results) == 1 and width(node_id) is not None
                region(owned, [bits] if joined else [None] * len(results))

    for func_id in functions:
        for region_id in graph.node(func_id).regions:
            region(region_id, [None] * len(graph.region(region_id).results))
    return {node_id: bits for node_id, bits in needs.items() if bits is not None}


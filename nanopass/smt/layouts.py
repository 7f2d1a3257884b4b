"""Types as value shapes: the fields of records and the payloads of union cases, and fresh values of a type.

The front end keeps its record and union definitions in the ``typedefs``
table; a graph built otherwise has only their names (``typedef``'s
``fields`` / ``cases``) and the ``types`` table of every value, and `Layouts`
then reads field and payload types off typed nodes that build, read or match
them (``record``, ``field``, ``union``, ``case_field``, ``match`` arms binding
a case's fields).  `fresh` makes a value of a type whose leaves
come from a callback: z3 constants for inputs, uninterpreted functions for
what an extern returns, fixed terms for the shape of an empty array.
Lengths are never negative, and below 2^24: a length leaf is a 24-bit term
zero-extended (no length arithmetic can then wrap around).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import z3

from nanopass.frontend import types as T
from nanopass.graph import Graph
from nanopass.smt.values import (
    INDEX, INDEX_BITS, UNIT, Arr, Rec, Scalar, Tup, Uni, Unsupported, default_like, lift, merge, scalar_sort, select,
    tag_sort, tag_sort_of)

MakeLeaf = Callable[[str, z3.SortRef], z3.ExprRef]
# Lengths of inputs and extern results: below 2^24, so that no length arithmetic (a cons, a concatenation
# of a few parts) wraps around, as it cannot in memory.
LENGTH_BITS = 24
LENGTH_RAW = z3.BitVecSort(LENGTH_BITS)


def scalar_name(t: Any) -> str | None:
    if isinstance(t, T.TPrim) and isinstance(t.base, str):
        return t.base
    return None


class Layouts:
    """Record fields and union case payloads, as far as the graphs' typed nodes tell."""

    def __init__(self, graphs: Iterable[Graph]):
        self.records: dict[str, tuple[str, ...]] = {}
        self.field_types: dict[str, dict[str, Any]] = {}
        self.unions: dict[str, tuple[str, ...]] = {"option": ("None", "Some")}
        self.payloads: dict[str, dict[str, tuple]] = {"option": {"None": ()}}
        for graph in graphs:
            self._read(graph)

    def _read(self, graph: Graph) -> None:
        for definition in graph.annotation("typedefs").values():  # the front end's definitions, when kept
            if isinstance(definition, T.RecordDef) and not definition.params:
                self.records.setdefault(definition.name, tuple(n for n, _ in definition.fields))
                self.field_types.setdefault(definition.name, {}).update(dict(definition.fields))
            elif isinstance(definition, T.UnionDef) and not definition.params and definition.name != "option":
                self.unions.setdefault(definition.name, tuple(c for c, _ in definition.cases))
                self.payloads.setdefault(definition.name, {}).update(dict(definition.cases))
        types = graph.annotation("types")
        for _, node in graph.top_level():
            if node.kind == "typedef" and node.attr("form") == "record":
                self.records.setdefault(node.attr("name"), tuple(node.attr("fields") or ()))
                self.field_types.setdefault(node.attr("name"), {})
            elif node.kind == "typedef" and node.attr("form") == "union":
                self.unions.setdefault(node.attr("name"), tuple(node.attr("cases") or ()))
                self.payloads.setdefault(node.attr("name"), {})
        for node_id, node in graph.live_nodes():
            if node.kind == "record" and node.attr("type") in self.field_types:
                known = self.field_types[node.attr("type")]
                for name, operand in zip(node.attr("fields"), node.operands):
                    if types.get(operand) is not None:
                        known.setdefault(name, types[operand])
            elif node.kind == "field" and node_id in types:
                owner = types.get(node.operands[0])
                if isinstance(owner, T.TCon) and owner.name in self.field_types:
                    self.field_types[owner.name].setdefault(node.attr("name"), types[node_id])
            elif node.kind == "union" and node.attr("type") in self.payloads:
                operand_types = tuple(types.get(o) for o in node.operands)
                if None not in operand_types:
                    self.payloads[node.attr("type")].setdefault(node.attr("case"), operand_types)
            elif node.kind == "match":
                self._read_match(graph, types, node)

    def _read_match(self, graph: Graph, types: Any, node: Any) -> None:
        scrutinee = types.get(node.operands[0])
        regions = iter(node.regions)
        for pattern, guarded in zip(node.attr("patterns"), node.attr("guards")):
            if guarded:
                next(regions)
            params = graph.region(next(regions)).params
            self._read_pattern(pattern, scrutinee, [types.get(p) for p in params], [0])

    def _read_pattern(self, pattern: tuple, t: Any, bound: list, cursor: list[int]) -> None:
        """Walk a pattern with the type of the value it matches; ``cursor`` counts the bindings passed."""
        head = pattern[0]
        if head == "bind":
            cursor[0] += 1
        elif head == "tuple":
            items = t.items if isinstance(t, T.TTuple) and len(t.items) == len(pattern) - 1 else [None] * (
                len(pattern) - 1)
            for sub, item in zip(pattern[1:], items):
                self._read_pattern(sub, item, bound, cursor)
        elif head == "case":
            union = t.name if isinstance(t, T.TCon) else None
            fields = self.payload_types(t, pattern[1]) if union is not None else None
            direct: list = []
            for index, sub in enumerate(pattern[2:]):
                position = cursor[0]
                self._read_pattern(sub, fields[index] if fields and index < len(fields) else None, bound, cursor)
                direct.append(bound[position] if sub[0] == "bind" and position < len(bound) else None)
            if union in self.payloads and union != "option" and None not in direct:
                self.payloads[union].setdefault(pattern[1], tuple(direct))
        elif head == "cons":
            element = t.args[0] if isinstance(t, T.TCon) and t.name == "list" and t.args else None
            self._read_pattern(pattern[1], element, bound, cursor)
            self._read_pattern(pattern[2], t, bound, cursor)

    def payload_types(self, t: Any, case: str) -> tuple | None:
        if isinstance(t, T.TCon) and t.name == "option":
            return () if case == "None" else ((t.args[0],) if t.args else None)
        if isinstance(t, T.TCon):
            return self.payloads.get(t.name, {}).get(case)
        return None

    def record_fields(self, name: str) -> tuple[tuple[str, Any], ...]:
        names = self.records[name]
        known = self.field_types.get(name, {})
        missing = [n for n in names if n not in known]
        if missing:
            raise Unsupported(f"the types of record {name}'s field(s) {', '.join(missing)} are unknown")
        return tuple((n, known[n]) for n in names)

    def cases(self, t: T.TCon) -> tuple[tuple[str, tuple], ...]:
        names = self.unions[t.name]
        out = []
        for case in names:
            fields = self.payload_types(t, case)
            if fields is None:
                raise Unsupported(f"the payload types of {t.name}.{case} are unknown")
            out.append((case, fields))
        return tuple(out)


def _wrap(sort: z3.SortRef, nest: tuple[int, ...]) -> z3.SortRef:
    for rank in reversed(nest):
        sort = z3.ArraySort(*([INDEX] * rank), sort)
    return sort


def _non_negative(raw: z3.ExprRef, nest: tuple[int, ...], depth: int = 0) -> z3.ExprRef:
    """A raw (array of) length(s) as (an array of) non-negative ints below 2^LENGTH_BITS."""
    if not nest:
        return z3.ZeroExt(INDEX_BITS - LENGTH_BITS, raw)
    indices = [z3.BitVec(f"__len{depth}_{k}", INDEX_BITS) for k in range(nest[0])]
    return z3.Lambda(indices, _non_negative(z3.Select(raw, *indices), nest[1:], depth + 1))


def fresh(t: Any, name: str, make: MakeLeaf, layouts: Layouts, nest: tuple[int, ...] = (),
          building: tuple[str, ...] = ()) -> Any:
    """A value of type ``t`` whose leaves are ``make(path, sort)`` (inside arrays of ranks ``nest``)."""
    scalar = scalar_name(t)
    if scalar == "unit":
        return UNIT
    if scalar is not None:
        return Scalar(scalar, make(name, _wrap(scalar_sort(scalar), nest)))
    if isinstance(t, T.TVar):
        opaque = f"opaque:T{t.id}"
        return Scalar(opaque, make(name, _wrap(scalar_sort(opaque), nest)))
    if isinstance(t, T.TTuple):
        return Tup(tuple(fresh(item, f"{name}.{k}", make, layouts, nest, building) for k, item in enumerate(t.items)))
    if isinstance(t, T.TArray) or (isinstance(t, T.TCon) and t.name == "list" and len(t.args) == 1):
        rank = t.rank if isinstance(t, T.TArray) else 1
        element = t.elem if isinstance(t, T.TArray) else t.args[0]
        container = "list" if isinstance(t, T.TCon) else ("array" if rank == 1 else "array2d")
        lengths = tuple(_non_negative(make(f"{name}.len{k}", _wrap(LENGTH_RAW, nest)), nest) for k in range(rank))
        return Arr(container, lengths, fresh(element, f"{name}.elem", make, layouts, nest + (rank,), building))
    if isinstance(t, T.TCon) and (t.name == "option" or t.name in layouts.unions):
        if t.name in building:
            raise Unsupported(f"the recursive type {t.name}")
        cases = layouts.cases(t) if t.name != "option" else (("None", ()), ("Some", (t.args[0],)))
        sort, _ = tag_sort(t.name, tuple(c for c, _ in cases))
        payloads = tuple(
            (case, tuple(fresh(f, f"{name}.{case}.{k}", make, layouts, nest, building + (t.name,))
                         for k, f in enumerate(fields)))
            for case, fields in cases)
        return Uni(t.name, make(f"{name}.tag", _wrap(sort, nest)), payloads)
    if isinstance(t, T.TCon) and t.name in layouts.records and not t.args:
        if t.name in building:
            raise Unsupported(f"the recursive type {t.name}")
        fields = layouts.record_fields(t.name)
        return Rec(t.name, tuple(n for n, _ in fields),
                   tuple(fresh(ft, f"{name}.{n}", make, layouts, nest, building + (t.name,)) for n, ft in fields))
    shown = T.show(t) if t is not None else "an unknown type"
    raise Unsupported(f"a value of type {shown}")


def canonical(value: Any, t: Any, layouts: Layouts, depth: int = 0) -> Any:
    """``value`` with nothing left to chance: array slots past the length and payloads of cases the tag
    does not hold are fixed, and every union case is present, so equal values have equal terms."""
    if isinstance(value, Scalar) or value is UNIT:
        return value
    if isinstance(value, Tup):
        items = t.items if isinstance(t, T.TTuple) else [None] * len(value.items)
        return Tup(tuple(canonical(v, i, layouts, depth) for v, i in zip(value.items, items)))
    if isinstance(value, Rec):
        fields = dict(layouts.record_fields(value.type)) if value.type in layouts.records else {}
        return Rec(value.type, value.names, tuple(canonical(v, fields.get(n), layouts, depth)
                                                  for n, v in zip(value.names, value.values)))
    if isinstance(value, Uni):
        if t is None:
            raise Unsupported("a union argument of unknown type")
        cases = layouts.cases(t) if value.type != "option" else (("None", ()), ("Some", (t.args[0],)))
        _, constants = tag_sort_of(value)
        payloads = []
        for case, fields in cases:
            shape = tuple(fresh(f, "", lambda _, s: z3.Const("__shape", s), layouts) for f in fields)
            given = value.payload(case)
            defaults = tuple(default_like(s) for s in shape)
            if given is None:
                payloads.append((case, defaults))
                continue
            fixed = tuple(merge(value.tag == constants[case], canonical(g, f, layouts, depth), d)
                          for g, f, d in zip(given, fields, defaults))
            payloads.append((case, fixed))
        return Uni(value.type, value.tag, tuple(payloads))
    if isinstance(value, Arr):
        element_type = t.elem if isinstance(t, T.TArray) else (t.args[0] if isinstance(t, T.TCon) and t.args else None)
        indices = [z3.BitVec(f"__canon{depth}_{k}", INDEX_BITS) for k in range(value.rank)]
        inside = z3.And([z3.And(i >= 0, i < n) for i, n in zip(indices, value.lengths)])
        element = canonical(select(value.elem, indices), element_type, layouts, depth + 1)
        fixed = merge(inside, element, default_like(element))
        return Arr(value.container, value.lengths, lift(fixed, indices))
    raise Unsupported(f"a {type(value).__name__} argument to an extern")

"""Classification: which ``[<HardwareModule>]`` functions are Mealy machines, which are combinational.

A hardware module is a top-level ``func`` whose ``attributes`` hold
``("HardwareModule", ())``.  Its shape, read off its type (the ``types``
table) and the declarations (the ``typedefs`` table the front end writes):

* **Mealy machine**: ``State -> Inputs -> State * Outputs`` where State,
  Inputs and Outputs are records whose fields are hardware values
  (``bool``, ``uint8``, ``int``, ``int64``, or a union whose payloads are
  those scalars).  State fields become registers, Inputs fields input ports,
  Outputs fields output ports.
* **Combinational**: every parameter a scalar and the result a scalar or a
  record of hardware values, with no state.  Parameters become input ports
  (named as the parameters), the result output ports (a record's fields,
  or one port ``result``, the name the ``widths`` pass gives it).

Both must be pure: where effects are explicit (`Elaborated`, `Saturated`) a
node of the body that consumes an effect token is named.  Anything else is
rejected with a located diagnostic saying which part of the shape is
missing.  `classify` records every hardware module's shape (or why it has
none) in the ``hardware.class`` table as plain data (it prints with the
graph's MLIR text); the ``hardware`` table belongs to the ``widths`` pass.
"""

from __future__ import annotations

from typing import Any

import attrs

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.graph import Graph, Node

HARDWARE_ATTRIBUTE = "HardwareModule"
CLASS_TABLE = "hardware.class"
SCALAR_TYPES = ("bool", "uint8", "int", "int64")
MEALY = "mealy"
COMBINATIONAL = "combinational"
REJECTED = "rejected"
# The output port of a combinational function whose result is one scalar (the ``widths`` pass's name).
RESULT_PORT = "result"
CLOCK, RESET = "clk", "rst"


@attrs.frozen(slots=True)
class Field:
    """One port or register: its name and its type (a scalar `TPrim` or a union `TCon`)."""

    name: str
    type: Any


@attrs.frozen(slots=True)
class Shape:
    """What a hardware module is: its kind, and its registers, input ports and output ports in order."""

    kind: str  # mealy | combinational
    function: str
    func_id: int
    state: tuple[Field, ...]
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    # The record types State, Inputs and Outputs are read from ("" where the shape has none).
    state_type: str = ""
    inputs_type: str = ""
    outputs_type: str = ""

    def fact(self) -> tuple:
        """The plain-data record of the classification in the ``hardware.class`` table: (name, value) pairs."""
        return (("kind", self.kind),
                ("state", self.state_type), ("registers", tuple(f.name for f in self.state)),
                ("inputs", self.inputs_type), ("input_ports", tuple(f.name for f in self.inputs)),
                ("outputs", self.outputs_type), ("output_ports", tuple(f.name for f in self.outputs)))


def is_hardware_module(node: Node) -> bool:
    return node.kind == "func" and any(pair[0] == HARDWARE_ATTRIBUTE for pair in node.attr("attributes", ()) or ())


class Declarations:
    """The records and unions of a graph, from its ``typedefs`` table."""

    def __init__(self, graph: Graph):
        self.records: dict[str, T.RecordDef] = {}
        self.unions: dict[str, T.UnionDef] = {}
        for definition in graph.annotation("typedefs").values():
            if isinstance(definition, T.RecordDef):
                self.records[definition.name] = definition
            elif isinstance(definition, T.UnionDef):
                self.unions[definition.name] = definition

    def record(self, t: Any) -> T.RecordDef | None:
        return self.records.get(t.name) if isinstance(t, T.TCon) and not t.args else None

    def union(self, t: Any) -> T.UnionDef | None:
        return self.unions.get(t.name) if isinstance(t, T.TCon) and not t.args else None

    def hardware_value(self, t: Any) -> str | None:
        """None when ``t`` is a hardware value; otherwise what it is instead, for a message."""
        if scalar_name(t) in SCALAR_TYPES:
            return None
        union = self.union(t)
        if union is not None:
            for case, payload in union.cases:
                for item in payload:
                    if scalar_name(item) not in SCALAR_TYPES:
                        return f"union {union.name} whose case {case} carries a {T.show(item)}"
            return None
        return f"a {T.show(t)}" if t is not None else "a value of unknown type"


def scalar_name(t: Any) -> str | None:
    return t.base if isinstance(t, T.TPrim) and isinstance(t.base, str) else None


def _curried(t: Any, arity: int) -> tuple[list, Any]:
    params = []
    for _ in range(arity):
        params.append(t.arg if isinstance(t, T.TFun) else None)
        t = t.result if isinstance(t, T.TFun) else None
    return params, t


class _Rejection(Exception):
    """The shape a hardware module lacks, as a message."""


def shape_of(graph: Graph, func_id: int) -> Shape:
    """The shape of the hardware module ``func_id``, or a `DiagnosticError` naming what is missing."""
    node = graph.node(func_id)
    try:
        return _shape(graph, func_id, node, Declarations(graph))
    except _Rejection as rejection:
        raise DiagnosticError(Diagnostic(node.span, str(rejection))) from None


def _shape(graph: Graph, func_id: int, node: Node, decls: Declarations) -> Shape:
    name = node.attr("name")
    if not is_hardware_module(node):
        raise _Rejection(f"'{name}' is not marked [<{HARDWARE_ATTRIBUTE}>]; only hardware modules compile to "
                         f"hardware")
    if "types" not in graph.annotations or "typedefs" not in graph.annotations:
        raise _Rejection(f"hardware module '{name}' has no types: the graph lacks the 'types' and 'typedefs' "
                         f"tables the front end writes (compile it from Clef source)")
    names = tuple(node.attr("params") or ())
    params, result = _curried(graph.annotation("types").get(func_id), len(names))
    if not names:
        raise _Rejection(f"hardware module '{name}' takes no parameters; expected State -> Inputs -> State * "
                         f"Outputs (a Mealy machine) or scalar parameters (a combinational function)")
    if any(p is None for p in params) or result is None:
        raise _Rejection(f"hardware module '{name}' has no known type; annotate its parameters and result")
    _require_pure(graph, node, name)
    if decls.record(params[0]) is not None:
        return _mealy(func_id, name, names, params, result, decls)
    return _combinational(func_id, name, names, params, result, decls)


def _mealy(func_id: int, name: str, names: tuple, params: list, result: Any, decls: Declarations) -> Shape:
    state = decls.record(params[0])
    shown = f"State -> Inputs -> State * Outputs, with State = {state.name}"
    if len(params) != 2:
        raise _Rejection(f"hardware module '{name}' takes {len(params)} parameter(s); a Mealy machine takes two: "
                         f"{shown}")
    inputs = decls.record(params[1])
    if inputs is None:
        raise _Rejection(f"the Inputs of Mealy machine '{name}' (parameter '{names[1]}') must be a record of "
                         f"hardware values; got {T.show(params[1])}")
    if not (isinstance(result, T.TTuple) and len(result.items) == 2):
        raise _Rejection(f"the result of Mealy machine '{name}' must be a pair State * Outputs "
                         f"({state.name} * <a record>); got {T.show(result)}")
    if result.items[0] != params[0]:
        raise _Rejection(f"the first item of the result of Mealy machine '{name}' must be the State type "
                         f"{state.name} (the next state); got {T.show(result.items[0])}")
    outputs = decls.record(result.items[1])
    if outputs is None:
        raise _Rejection(f"the Outputs of Mealy machine '{name}' (the second item of its result) must be a record "
                         f"of hardware values; got {T.show(result.items[1])}")
    fields = {role: _fields(name, role, record, decls)
              for role, record in (("State", state), ("Inputs", inputs), ("Outputs", outputs))}
    _distinct_ports(name, fields["Inputs"], fields["Outputs"])
    return Shape(MEALY, name, func_id, fields["State"], fields["Inputs"], fields["Outputs"],
                 state.name, inputs.name, outputs.name)


def _combinational(func_id: int, name: str, names: tuple, params: list, result: Any,
                   decls: Declarations) -> Shape:
    inputs = []
    for param, t in zip(names, params):
        if scalar_name(t) not in SCALAR_TYPES:
            raise _Rejection(f"parameter '{param}' of hardware module '{name}' is {T.show(t)}: a combinational "
                             f"function takes scalars ({', '.join(SCALAR_TYPES)}), and a Mealy machine takes a "
                             f"State record first")
        inputs.append(Field(param, t))
    record = decls.record(result)
    if record is not None:
        outputs = _fields(name, "result", record, decls)
    elif scalar_name(result) in SCALAR_TYPES:
        outputs = (Field(RESULT_PORT, result),)
    else:
        raise _Rejection(f"the result of combinational hardware module '{name}' must be a scalar or a record of "
                         f"hardware values; got {T.show(result)}")
    _distinct_ports(name, tuple(inputs), outputs)
    return Shape(COMBINATIONAL, name, func_id, (), tuple(inputs), outputs,
                 outputs_type=record.name if record is not None else "")


def _fields(name: str, role: str, record: T.RecordDef, decls: Declarations) -> tuple[Field, ...]:
    found = []
    for field, t in record.fields:
        problem = decls.hardware_value(t)
        if problem is not None:
            raise _Rejection(f"field '{field}' of {record.name} (the {role} of hardware module '{name}') is "
                             f"{problem}; hardware values are {', '.join(SCALAR_TYPES)} and unions of them")
        found.append(Field(field, t))
    if not found:
        raise _Rejection(f"{record.name} (the {role} of hardware module '{name}') has no fields")
    return tuple(found)


def _distinct_ports(name: str, inputs: tuple[Field, ...], outputs: tuple[Field, ...]) -> None:
    seen = {CLOCK: "the clock", RESET: "the reset"}
    for role, fields in (("input", inputs), ("output", outputs)):
        for field in fields:
            if field.name in seen:
                raise _Rejection(f"{role} '{field.name}' of hardware module '{name}' has the name of {seen[field.name]}"
                                 f"; every port of the module needs its own name")
            seen[field.name] = f"{role} '{field.name}'"


def _require_pure(graph: Graph, node: Node, name: str) -> None:
    for region_id in node.regions:
        for node_id in graph.walk_region(region_id):
            inner = graph.node(node_id)
            if inner.effect is not None:
                raise _Rejection(f"hardware module '{name}' has an effect ({inner.kind} at {inner.span}); "
                                 f"hardware modules are pure")


# -- the table ------------------------------------------------------------------------------------

def classify(graph: Graph) -> Graph:
    """``graph`` with the ``hardware.class`` table: each hardware module's `Shape.fact`, or why it has none."""
    facts: dict[int, tuple] = {}
    for func_id, node in graph.top_level():
        if not is_hardware_module(node):
            continue
        try:
            facts[func_id] = shape_of(graph, func_id).fact()
        except DiagnosticError as error:
            facts[func_id] = (("kind", REJECTED), ("reason", error.diagnostics[0].message))
    return graph.annotate(CLASS_TABLE, facts)


def hardware_modules(graph: Graph) -> list[tuple[int, Node]]:
    """The top-level hardware modules, in declaration order."""
    return [(func_id, node) for func_id, node in graph.top_level() if is_hardware_module(node)]


def find_module(graph: Graph, name: str | None) -> list[int]:
    """The ids of the module ``name`` (every hardware module when None), or a diagnostic."""
    modules = hardware_modules(graph)
    if name is None:
        if not modules:
            raise DiagnosticError(Diagnostic(_file_span(graph), f"the program has no [<{HARDWARE_ATTRIBUTE}>] "
                                                                f"function to compile to hardware"))
        return [func_id for func_id, _ in modules]
    func_id = graph.symbol(name)
    if func_id is None or graph.node(func_id).kind != "func":
        known = ", ".join(n.attr("name") for _, n in modules) or "(none)"
        raise DiagnosticError(Diagnostic(_file_span(graph), f"the program has no function '{name}' "
                                                            f"(hardware modules: {known})"))
    return [func_id]


def _file_span(graph: Graph) -> Span:
    first = next(graph.top_level(), None)
    return Span(first[1].span.file, 1, 1, 1, 1) if first is not None else Span()

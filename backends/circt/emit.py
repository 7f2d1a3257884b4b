"""Emission: one hardware module of a `Saturated` graph as an ``hw.module`` built with xDSL's builders.

The function's region is walked with the zipper (`nanopass.zipper`): a
region's body is emitted in the order the graph fixed, and at a node that
owns regions (an ``if``) the walk goes down into them, left to right, and
comes back up to join their results with ``comb.mux``.  A call goes to the
callee's region (found from the top of the tree) and emits it inline with
the arguments bound; a reference to a ``global`` emits the global's region.

Values in flight are `Bits` (a scalar: an SSA value and its `Scalar`
layout), `UnionBits` (a union in its type's `UnionLayout`), `RecordValue`
and Python tuples (bundles of those: records and tuples are wires side by
side, never packed) and `UNIT`.  Every scalar result is computed at the width
the policy gives its node:

* ``+ - * neg &&& ||| ^^^ <<<`` and conversions are computed modulo
  ``2^k`` at the result's width k, the operands cut or extended (each by its
  own signedness) to k bits: the low k bits of these operations depend only
  on the low k bits of their operands, and a result that lies in its range
  is its low k bits read with the range's sign.  With the declared policy
  k is the type's width, which is exactly F#'s wrap-around.
* ``/ % >>>``, comparisons, ``min`` / ``max`` / ``abs`` need whole values:
  the operands are extended to a common layout (one more bit where a signed
  quotient may overflow it), the operation done there, and the result cut
  to its width.  Signed ``/`` and ``%`` divide the magnitudes (see
  `_ModuleEmitter._divide` for why).  Shift counts are masked as
  FSharp.Core masks them.

A Mealy machine gets ``clk`` (``!seq.clock``) and ``rst`` (``i1``, synchronous,
active high), an input port per Inputs field, an output port per Outputs
field, and a ``seq.compreg`` per State field named after it (with a suffix
``_state`` where that name is a port's), reset to zero bits: the field's zero,
or the first case of a union with a zero payload.  Outputs are the
combinational function of the registers and the inputs.  Ops carry the
Clef source location of the node they come from, so the exported Verilog
points back into the source.  A node that has no hardware meaning (a loop,
an array, a float, an effect, a closure) is a located diagnostic.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import attrs
from xdsl.builder import Builder as XBuilder
from xdsl.builder import InsertPoint
from xdsl.dialects import comb, hw, seq
from xdsl.dialects.builtin import (ArrayAttr, FileLineColLoc, IntAttr, IntegerAttr, IntegerType, ModuleOp,
                                   StringAttr, i1)
from xdsl.ir import Block, Operation, Region, SSAValue

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.graph import Graph, Node
from nanopass.passes.widths import SHIFT_MASKS
from nanopass.zipper import Zipper

from nanopass.backends.circt.layout import BIT, DeclaredWidths, Scalar, UnionLayout
from nanopass.backends.circt.shape import CLOCK, MEALY, RESET, Declarations, Shape, scalar_name

MODULAR = {"+": comb.AddOp, "*": comb.MulOp, "&&&": comb.AndOp, "|||": comb.OrOp, "^^^": comb.XorOp}
PREDICATES = {"=": ("eq", "eq"), "<>": ("ne", "ne"), "<": ("slt", "ult"), "<=": ("sle", "ule"),
              ">": ("sgt", "ugt"), ">=": ("sge", "uge")}
CONVERSIONS = ("int", "int64", "uint8")


@attrs.frozen(slots=True)
class Bits:
    """A scalar in hardware: an SSA value of ``layout.width`` bits."""

    value: SSAValue
    layout: Scalar


@attrs.frozen(slots=True)
class UnionBits:
    value: SSAValue
    layout: UnionLayout


@attrs.frozen(slots=True)
class RecordValue:
    type: str
    fields: tuple[tuple[str, Any], ...]

    def get(self, name: str) -> Any:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)


@attrs.frozen(slots=True)
class Callee:
    """A top-level function named as a call's callee: it has no wires of its own."""

    name: str


class _Unit:
    def __repr__(self) -> str:
        return "UNIT"


UNIT = _Unit()


@attrs.frozen(slots=True)
class Port:
    """A port of the emitted module: its name, direction and bit layout."""

    name: str
    direction: str  # in | out
    layout: Any  # Scalar | UnionLayout; the clock has None


@attrs.frozen(slots=True)
class Register:
    name: str  # the register's name in the module (the field's, unless a port has it)
    field: str
    layout: Any


@attrs.frozen
class Design:
    """One emitted module: the xDSL op, its ports and registers, and the policy that chose its widths."""

    shape: Shape
    op: hw.HWModuleOp
    ports: tuple[Port, ...]
    registers: tuple[Register, ...]
    policy: str


def emit_module(graph: Graph, shape: Shape, policy: DeclaredWidths, decls: Declarations) -> Design:
    return _ModuleEmitter(graph, shape, policy, decls).emit()


def wrap_modules(designs: Iterable[Design]) -> ModuleOp:
    """The ``builtin.module`` holding the designs' modules."""
    return ModuleOp([d.op for d in designs])


class _ModuleEmitter:
    def __init__(self, graph: Graph, shape: Shape, policy: DeclaredWidths, decls: Declarations):
        self.graph = graph
        self.shape = shape
        self.policy = policy
        self.decls = decls
        self.types = graph.annotation("types")
        self.block = Block()
        self.builder = XBuilder(InsertPoint.at_end(self.block))
        self.calls: list[str] = []  # the functions being inlined, innermost last
        self._zero: dict[int, SSAValue] = {}
        self._constants: dict[SSAValue, int] = {}  # each hw.constant's value, so a resize makes a new one

    # -- the module ------------------------------------------------------------------------------
    def emit(self) -> Design:
        shape = self.shape
        ports: list[Port] = []
        if shape.kind == MEALY:
            clock = self._input(CLOCK, seq.clock)
            reset = self._input(RESET, i1)
            ports += [Port(CLOCK, "in", None), Port(RESET, "in", BIT)]
        inputs = {}
        for field in shape.inputs:
            layout = self.policy.port(field)
            inputs[field.name] = self._wrap(self._input(field.name, IntegerType(layout.width)), layout)
            ports.append(Port(field.name, "in", layout))
        func = self.graph.node(shape.func_id)
        zipper = self._function_zipper(shape.func_id)
        registers: list[Register] = []
        if shape.kind == MEALY:
            regs, state = self._registers(clock, reset, {p.name for p in ports} | {f.name for f in shape.outputs})
            args = (RecordValue(shape.state_type, state), RecordValue(shape.inputs_type, tuple(inputs.items())))
            (result,) = self._call_region(zipper, func, args)
            next_state, outputs = result  # the classification checked the type State * Outputs
            for register, op in regs:
                value = self._fit(next_state.get(register.field), register.layout, func)
                op.operands[0] = value.value
                registers.append(register)
        else:
            (outputs,) = self._call_region(zipper, func, tuple(inputs[f.name] for f in shape.inputs))
        output_values = []
        for field in shape.outputs:
            layout = self.policy.output(field)
            value = outputs.get(field.name) if isinstance(outputs, RecordValue) else outputs
            output_values.append(self._fit(value, layout, func).value)
            ports.append(Port(field.name, "out", layout))
        self._add(hw.OutputOp(output_values), func)
        module_type = hw.ModuleType(ArrayAttr([
            hw.ModulePort(StringAttr(p.name), seq.clock if p.layout is None else IntegerType(p.layout.width),
                          hw.DirectionAttr(hw.Direction.INPUT if p.direction == "in" else hw.Direction.OUTPUT))
            for p in ports]))
        op = hw.HWModuleOp(StringAttr(shape.function), module_type, Region(self.block))
        op.location = _location(func.span)
        return Design(shape, op, tuple(ports), tuple(registers), self.policy.name)

    def _input(self, name: str, type_: Any) -> SSAValue:
        arg = self.block.insert_arg(type_, len(self.block.args))
        arg.name_hint = name
        return arg

    def _registers(self, clock: SSAValue, reset: SSAValue, taken: set[str]) -> tuple[list, tuple]:
        """A ``seq.compreg`` per State field (its input is set once the step is emitted) and the state they hold."""
        func = self.graph.node(self.shape.func_id)
        made, state = [], []
        for field in self.shape.state:
            layout = self.policy.register(field)
            name = field.name if field.name not in taken else f"{field.name}_state"
            zero = self._zero_bits(layout.width, func)
            op = self._add(seq.CompRegOp(zero, clock, (reset, zero)), func)
            op.attributes["name"] = StringAttr(name)
            op.data.name_hint = name
            made.append((Register(name, field.name, layout), op))
            state.append((field.name, self._wrap(op.data, layout)))
        return made, tuple(state)

    @staticmethod
    def _wrap(value: SSAValue, layout: Any) -> Bits | UnionBits:
        return Bits(value, layout) if isinstance(layout, Scalar) else UnionBits(value, layout)

    # -- the zipper walk -----------------------------------------------------------------------------
    def _function_zipper(self, decl_id: int) -> Zipper:
        """The zipper on the region of the top-level declaration ``decl_id``."""
        (region_id,) = self.graph.node(decl_id).regions
        here = Zipper.top(self.graph).down()
        while here is not None and here.focus != region_id:
            here = here.right()
        if here is None:
            raise AssertionError(f"region #{region_id} of declaration %{decl_id} is not in the module region")
        return here

    def _call_region(self, zipper: Zipper, decl: Node, args: tuple) -> tuple:
        name = decl.attr("name")
        if name in self.calls:
            chain = " -> ".join(self.calls + [name])
            raise DiagnosticError(Diagnostic(decl.span, f"'{name}' is recursive ({chain}); hardware has no call "
                                                        f"stack, so every call is inlined and recursion cannot be"))
        self.calls.append(name)
        try:
            return self._region(zipper, {}, args)
        finally:
            self.calls.pop()

    def _region(self, zipper: Zipper, env: dict[int, Any], args: tuple) -> tuple:
        """Emit the focus region's body with its params bound to ``args``; its results."""
        region = zipper.region
        for param, arg in zip(region.params, args):
            env[param] = arg
        child = zipper.down()
        for node_id in region.body:
            node = self.graph.node(node_id)
            owned = []
            for _ in node.regions:
                owned.append(child)
                child = child.right()
            env[node_id] = self._node(node_id, node, env, owned)
        return tuple(env[r] for r in region.results)

    def _node(self, node_id: int, node: Node, env: dict[int, Any], regions: list[Zipper]) -> Any:
        if node.effect is not None:
            raise self._refuse(node, "it has an effect; hardware modules are pure")
        handler: Callable | None = getattr(self, "kind_" + node.kind, None)
        if handler is None:
            raise self._refuse(node, _REFUSALS.get(node.kind, "it has no hardware form"))
        return handler(node_id, node, env, regions)

    def _refuse(self, node: Node, why: str) -> DiagnosticError:
        where = f" (inlined from {' -> '.join(self.calls)})" if len(self.calls) > 1 else ""
        return DiagnosticError(Diagnostic(node.span, f"a '{node.kind}' cannot become hardware{where}: {why}"))

    # -- building ops --------------------------------------------------------------------------------
    def _add(self, op: Operation, node: Node) -> Operation:
        op.location = _location(node.span)
        return self.builder.insert(op)

    def _constant(self, value: int, width: int, node: Node) -> SSAValue:
        result = self._add(hw.ConstantOp(_signless(value, width), width), node).result
        self._constants[result] = value
        return result

    def _zero_bits(self, width: int, node: Node) -> SSAValue:
        if width not in self._zero:
            self._zero[width] = self._constant(0, width, node)
        return self._zero[width]

    def _resize(self, bits: Bits, target: Scalar, node: Node) -> Bits:
        """``bits`` at ``target``'s width: cut to its low bits, or extended by its own signedness."""
        width, want = bits.layout.width, target.width
        value = bits.value
        if value in self._constants and want != width:
            return Bits(self._constant(bits.layout.decode(_signless(self._constants[value], width)), want, node),
                        target)
        if want < width:
            value = self._add(comb.ExtractOp(value, IntegerAttr(0, 32), IntegerType(want)), node).result
        elif want > width:
            if bits.layout.signed:
                top = self._add(comb.ExtractOp(value, IntegerAttr(width - 1, 32), IntegerType(1)), node).result
                fill = self._add(comb.ReplicateOp(top, IntegerType(want - width)), node).result
            else:
                fill = self._zero_bits(want - width, node)
            value = self._add(comb.ConcatOp([fill, value], IntegerType(want)), node).result
        return Bits(value, target)

    def _fit(self, value: Any, layout: Any, node: Node) -> Bits | UnionBits:
        """A value in a port's or register's layout."""
        if isinstance(layout, UnionLayout):
            if not isinstance(value, UnionBits) or value.layout != layout:
                raise AssertionError(f"a {layout.name} value in another layout: {value!r}")
            return value
        if not isinstance(value, Bits):
            raise self._refuse(node, f"its result is not a scalar where a {layout.width}-bit one is expected")
        return self._resize(value, layout, node)

    def _common(self, a: Bits, b: Bits, node: Node, spare: int = 0) -> tuple[Bits, Bits]:
        """Both at one layout that holds both values exactly (``spare`` bits more when signed)."""
        common = a.layout.join(b.layout)
        if common.signed and spare:
            common = Scalar(common.width + spare, True)
        return self._resize(a, common, node), self._resize(b, common, node)

    # -- what a node's value is declared as ------------------------------------------------------
    def _scalar_type(self, node_id: int, node: Node) -> str | None:
        name = scalar_name(self.types.get(node_id))
        if name is not None:
            return name
        if node.kind == "const":
            return node.attr("type")
        if node.kind == "tag_test" or node.kind == "prim" and node.attr("op") in (*PREDICATES, "not"):
            return "bool"
        return None

    def _result_layout(self, node_id: int, node: Node, exact: bool = False) -> Scalar:
        """The layout the node's value is computed in: its range's, cut to the low bits its uses read
        unless ``exact``."""
        type_name = self._scalar_type(node_id, node)
        if type_name not in ("bool", *CONVERSIONS):
            t = self.types.get(node_id)
            shown = f"a {T.show(t)}" if t is not None else "of unknown type"
            raise self._refuse(node, f"its value is {shown}; hardware computes bool, uint8, int and int64")
        layout = self.policy.value(node_id, type_name)
        return layout if exact else self._narrowed(node_id, layout)

    def _narrowed(self, node_id: int, layout: Scalar) -> Scalar:
        """``layout`` cut to the low bits every use of the node reads (they never extend it again)."""
        bits = self.policy.demanded(node_id)
        return layout if bits is None or bits >= layout.width else Scalar(bits, layout.signed)

    # -- values -----------------------------------------------------------------------------------------
    def kind_const(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        type_name, value = node.attr("type"), node.attr("value")
        if type_name == "unit":
            return UNIT
        layout = self._result_layout(node_id, node)
        return Bits(self._constant(int(value), layout.width, node), layout)

    def kind_prim(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        op = node.attr("op")
        operands = [env[o] for o in node.operands]
        if not all(isinstance(v, Bits) for v in operands):
            raise self._refuse(node, f"'{op}' of non-scalar values (unions, records) is not supported in hardware")
        if op in PREDICATES:
            a, b = self._common(*operands, node)
            signed, unsigned = PREDICATES[op]
            predicate = signed if a.layout.signed else unsigned
            return Bits(self._add(comb.ICmpOp(a.value, b.value, predicate), node).result, BIT)
        layout = self._result_layout(node_id, node)
        if op == "not":
            (a,) = operands
            return Bits(self._add(comb.XorOp([a.value, self._constant(1, 1, node)]), node).result, BIT)
        if op == "neg":
            (a,) = operands
            a = self._resize(a, Scalar(layout.width, a.layout.signed), node)
            zero = self._zero_bits(layout.width, node)
            return Bits(self._add(comb.SubOp(zero, a.value), node).result, layout)
        a, b = operands
        if op in MODULAR or op == "-":
            a = self._resize(a, Scalar(layout.width, a.layout.signed), node)
            b = self._resize(b, Scalar(layout.width, b.layout.signed), node)
            made = comb.SubOp(a.value, b.value) if op == "-" else MODULAR[op]([a.value, b.value])
            return Bits(self._add(made, node).result, layout)
        if op in ("/", "%"):
            return self._divide(op, a, b, layout, node)
        if op in ("<<<", ">>>"):
            return self._shift(op, a, b, layout, node_id, node)
        raise self._refuse(node, f"the operator '{op}' has no hardware form here")

    def _divide(self, op: str, a: Bits, b: Bits, layout: Scalar, node: Node) -> Bits:
        # A signed quotient may need one bit more than its operands (-2^(w-1) / -1).
        a, b = self._common(a, b, node, spare=1)
        unsigned = comb.DivUOp if op == "/" else comb.ModUOp
        if not a.layout.signed:
            return self._resize(Bits(self._add(unsigned(a.value, b.value), node).result, a.layout), layout, node)
        # Signed: the magnitudes divided unsigned, then the sign F# gives (the quotient's when the signs
        # differ, the remainder's the dividend's).  Not comb.divs / comb.mods: the circt 1.62 wheel's
        # ExportVerilog inlines them where an enclosing unsigned expression makes Verilog divide unsigned
        # (llvm/circt#6961, fixed after that release).
        zero = self._zero_bits(a.layout.width, node)
        negative_a = self._add(comb.ICmpOp(a.value, zero, "slt"), node).result
        negative_b = self._add(comb.ICmpOp(b.value, zero, "slt"), node).result
        magnitude_a = self._negate_if(negative_a, a.value, zero, node)
        magnitude_b = self._negate_if(negative_b, b.value, zero, node)
        found = self._add(unsigned(magnitude_a, magnitude_b), node).result
        negative = negative_a if op == "%" else self._add(comb.XorOp([negative_a, negative_b]), node).result
        return self._resize(Bits(self._negate_if(negative, found, zero, node), a.layout), layout, node)

    def _negate_if(self, flag: SSAValue, value: SSAValue, zero: SSAValue, node: Node) -> SSAValue:
        negated = self._add(comb.SubOp(zero, value), node).result
        return self._add(comb.MuxOp(flag, negated, value), node).result

    def _shift(self, op: str, a: Bits, count: Bits, layout: Scalar, node_id: int, node: Node) -> Bits:
        type_name = node.attr("type") or scalar_name(self.types.get(node.operands[0]))
        mask = SHIFT_MASKS[type_name]
        if count.value in self._constants:
            masked = self._constants[count.value] & mask
            count = Bits(self._constant(masked, mask.bit_length(), node), Scalar(mask.bit_length(), False))
        elif count.layout.interval.lo < 0 or count.layout.interval.hi > mask:  # else the mask changes nothing
            count = self._resize(count, Scalar(max(count.layout.width, mask.bit_length()), count.layout.signed),
                                 node)
            count = Bits(self._add(comb.AndOp([count.value, self._constant(mask, count.layout.width, node)]),
                                   node).result, Scalar(count.layout.width, False))
        if op == "<<<":
            # Modular: the low bits of the result, at a width that also holds every masked count.
            width = max(layout.width, count.layout.width)
            a = self._resize(a, Scalar(width, a.layout.signed), node)
            count = self._resize(count, Scalar(width, False), node)
            shifted = Bits(self._add(comb.ShlOp(a.value, count.value), node).result, Scalar(width, a.layout.signed))
            return self._resize(shifted, layout, node)
        # Whole values: arithmetic on a signed layout, logical on an unsigned one (floor division by 2^n).
        width = max(a.layout.width, count.layout.width)
        a = self._resize(a, Scalar(width, a.layout.signed), node)
        count = self._resize(count, Scalar(width, False), node)
        made = comb.ShrSOp(a.value, count.value) if a.layout.signed else comb.ShrUOp(a.value, count.value)
        return self._resize(Bits(self._add(made, node).result, a.layout), layout, node)

    def kind_native(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        op = node.attr("op")
        operands = [env[o] for o in node.operands]
        if op in ("fst", "snd") and len(operands) == 1 and isinstance(operands[0], tuple):
            return operands[0][0 if op == "fst" else 1]
        if not all(isinstance(v, Bits) for v in operands):
            raise self._refuse(node, f"'{op}' of non-scalar values has no hardware form")
        layout = self._result_layout(node_id, node)
        if op in CONVERSIONS and len(operands) == 1:
            return self._resize(operands[0], layout, node)  # a wrap to the target type: modular
        if op in ("min", "max") and len(operands) == 2:
            a, b = self._common(*operands, node)
            predicate = ("slt" if a.layout.signed else "ult") if op == "min" else ("sgt" if a.layout.signed else "ugt")
            first = self._add(comb.ICmpOp(a.value, b.value, predicate), node).result
            pick = self._add(comb.MuxOp(first, a.value, b.value), node).result
            return self._resize(Bits(pick, a.layout), layout, node)
        if op == "abs" and len(operands) == 1:
            (a,) = operands
            if not a.layout.signed:
                return self._resize(a, layout, node)
            wide = self._resize(a, Scalar(a.layout.width + 1, True), node)
            zero = self._zero_bits(wide.layout.width, node)
            negative = self._add(comb.ICmpOp(wide.value, zero, "slt"), node).result
            negated = self._add(comb.SubOp(zero, wide.value), node).result
            pick = self._add(comb.MuxOp(negative, negated, wide.value), node).result
            return self._resize(Bits(pick, wide.layout), layout, node)
        raise self._refuse(node, f"the intrinsic '{op}' has no hardware form (hardware takes the conversions "
                                 f"int, int64, uint8, and min, max, abs, fst, snd)")

    # -- structures --------------------------------------------------------------------------------------
    def kind_tuple(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        return tuple(env[o] for o in node.operands)

    def kind_proj(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        return self._read(env[node.operands[0]][node.attr("index")], node_id, node)

    def kind_record(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        return RecordValue(node.attr("type"), tuple(zip(node.attr("fields"), (env[o] for o in node.operands))))

    def kind_with(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        source = env[node.operands[0]]
        changed = dict(zip(node.attr("fields"), (env[o] for o in node.operands[1:])))
        return RecordValue(source.type, tuple((name, changed.get(name, value)) for name, value in source.fields))

    def kind_field(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        return self._read(env[node.operands[0]].get(node.attr("name")), node_id, node)

    def _read(self, value: Any, node_id: int, node: Node) -> Any:
        """A value read out of a register, port, record, tuple or payload, in the narrowest layout known.

        Both the layout it arrives in and its node's range hold it, so their meet does: a register
        narrower than the type (its field's inferred width) keeps the logic reading it narrow.
        """
        if isinstance(value, Bits) and self._scalar_type(node_id, node) is not None:
            known = value.layout.meet(self._result_layout(node_id, node, exact=True))
            return self._resize(value, self._narrowed(node_id, known), node)
        return value

    def kind_union(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        layout = self.policy.union(node.attr("type"))
        case = node.attr("case")
        parts: list[SSAValue] = []
        if layout.tag_width:
            parts.append(self._constant(layout.tag(case), layout.tag_width, node))
        fields = layout.fields(case)
        spare = layout.payload_width - sum(f.width for f in fields)
        if spare:
            parts.append(self._zero_bits(spare, node))
        for field, operand in reversed(tuple(zip(fields, node.operands))):
            parts.append(self._fit(env[operand], field, node).value)
        if not parts:
            parts.append(self._zero_bits(1, node))
        value = parts[0] if len(parts) == 1 else self._add(
            comb.ConcatOp(parts, IntegerType(layout.width)), node).result
        return UnionBits(value, layout)

    def kind_tag_test(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        value = env[node.operands[0]]
        if not isinstance(value, UnionBits):
            raise self._refuse(node, "a tag test of a value that is not a union (options and lists are not "
                                     "hardware values)")
        layout, case = value.layout, node.attr("case")
        if not layout.tag_width:
            return Bits(self._constant(1, 1, node), BIT)
        tag = self._add(comb.ExtractOp(value.value, IntegerAttr(layout.payload_width, 32),
                                       IntegerType(layout.tag_width)), node).result
        expected = self._constant(layout.tag(case), layout.tag_width, node)
        return Bits(self._add(comb.ICmpOp(tag, expected, "eq"), node).result, BIT)

    def kind_case_field(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        value = env[node.operands[0]]
        if not isinstance(value, UnionBits):
            raise self._refuse(node, "a payload read of a value that is not a union")
        layout, case, index = value.layout, node.attr("case"), node.attr("index")
        field = layout.fields(case)[index]
        bits = self._add(comb.ExtractOp(value.value, IntegerAttr(layout.offset(case, index), 32),
                                        IntegerType(field.width)), node).result
        return self._read(Bits(bits, field), node_id, node)

    def kind_match_failure(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        # No arm matched: the interpreter fails there, and hardware may compute anything; zeros it is.
        return self._zero_of(self.types.get(node_id), node)

    def _zero_of(self, t: Any, node: Node) -> Any:
        name = scalar_name(t)
        if name == "unit":
            return UNIT
        if name is not None:
            layout = Scalar.declared(name)
            return Bits(self._zero_bits(layout.width, node), layout)
        union = self.decls.union(t)
        if union is not None:
            layout = self.policy.union(union.name)
            return UnionBits(self._zero_bits(layout.width, node), layout)
        record = self.decls.record(t)
        if record is not None:
            return RecordValue(record.name, tuple((f, self._zero_of(ft, node)) for f, ft in record.fields))
        if isinstance(t, T.TTuple):
            return tuple(self._zero_of(item, node) for item in t.items)
        raise self._refuse(node, f"a failed match of type {T.show(t) if t is not None else 'unknown'}")

    # -- control -------------------------------------------------------------------------------------------
    def kind_if(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        cond = env[node.operands[0]]
        then_zipper, else_zipper = regions
        decided = self.policy.decided(node.operands[0])
        if decided is not None:  # the other arm never runs: emit only this one
            results = self._region(then_zipper if decided else else_zipper, env, ())
            return results[0] if len(results) == 1 else results
        then_results = self._region(then_zipper, env, ())
        else_results = self._region(else_zipper, env, ())
        layout = None
        if len(then_results) == 1 and self._scalar_type(node_id, node) is not None:
            layout = self._result_layout(node_id, node)
        joined = tuple(self._mux(cond, t, e, layout, node) for t, e in zip(then_results, else_results))
        return joined[0] if len(joined) == 1 else joined

    def _mux(self, cond: Bits, then: Any, other: Any, layout: Scalar | None, node: Node) -> Any:
        if then is UNIT and other is UNIT:
            return UNIT
        if isinstance(then, Bits) and isinstance(other, Bits):
            target = layout if layout is not None else then.layout.join(other.layout)
            then, other = self._resize(then, target, node), self._resize(other, target, node)
            return Bits(self._add(comb.MuxOp(cond.value, then.value, other.value), node).result, target)
        if isinstance(then, UnionBits) and isinstance(other, UnionBits) and then.layout == other.layout:
            return UnionBits(self._add(comb.MuxOp(cond.value, then.value, other.value), node).result, then.layout)
        if isinstance(then, RecordValue) and isinstance(other, RecordValue):
            return RecordValue(then.type, tuple((name, self._mux(cond, value, other.get(name), None, node))
                                                for name, value in then.fields))
        if isinstance(then, tuple) and isinstance(other, tuple) and len(then) == len(other):
            return tuple(self._mux(cond, t, e, None, node) for t, e in zip(then, other))
        raise self._refuse(node, "its arms yield values of different shapes")

    # -- calls and globals -----------------------------------------------------------------------------
    def kind_call(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        callee_id = self.graph.symbol(node.attr("callee")) if node.attr("callee") else None
        if callee_id is None or self.graph.node(callee_id).kind != "func":
            raise self._refuse(node, "its callee is not a top-level function (closures and externs have no "
                                     "hardware form)")
        callee = self.graph.node(callee_id)
        args = tuple(env[o] for o in node.operands[1:])
        (result,) = self._call_region(self._function_zipper(callee_id), callee, args)
        return result

    def kind_ref(self, node_id: int, node: Node, env: dict, regions: list) -> Any:
        target_id = self.graph.symbol(node.attr("name"))
        target = self.graph.node(target_id) if target_id is not None else None
        if target is not None and target.kind == "func":
            return Callee(node.attr("name"))  # a direct call's operand 0; no wire
        if target is None or target.kind != "global":
            raise self._refuse(node, f"'{node.attr('name')}' has no hardware form; hardware takes top-level "
                                     f"constants and direct calls of top-level functions")
        (value,) = self._call_region(self._function_zipper(target_id), target, ())
        return value


_REFUSALS = {
    "loop": "a loop's iterations are not known when the circuit is built; a hardware module computes one step "
            "per clock cycle (keep the loop's variables in the State instead)",
    "for": "a loop's iterations are not known when the circuit is built; keep its variables in the State",
    "foreach": "hardware has no collections to iterate",
    "parallel_for": "hardware modules take scalars, booleans and unions, not arrays",
    "reduce": "hardware modules take scalars, booleans and unions, not arrays",
    "stencil": "hardware modules take scalars, booleans and unions, not arrays",
    "array": "hardware modules take scalars, booleans and unions, not arrays",
    "list": "hardware modules take scalars, booleans and unions, not lists",
    "index": "hardware modules take scalars, booleans and unions, not arrays",
    "lambda": "closures have no hardware form; call top-level functions",
    "pap": "partial applications have no hardware form; call top-level functions with every argument",
    "actor": "actors run on the host",
    "async": "async computations run on the host",
}


def _signless(value: int, width: int) -> int:
    """``value`` as the two's complement bits of ``width``, read unsigned."""
    return value & ((1 << width) - 1)


def _location(span: Span) -> FileLineColLoc:
    return FileLineColLoc(StringAttr(span.file), IntAttr(span.line), IntAttr(span.col))

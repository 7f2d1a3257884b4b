"""The MLIR text form of a PSG: `to_mlir` prints it, `from_mlir` reads it back to an equal graph.

The text is MLIR generic form in the `psg` dialect (`nanopass.dialects.psg`)
inside a ``builtin.module``; xDSL builds and prints it, xDSL parses it, and
``mlir-opt --allow-unregistered-dialect`` reads it too::

    "builtin.module"() ({
      %n3 = "psg.func"() ({
      ^bb0(%n1: !psg.value loc("inc.clef":1:9)):
        %n2 = "psg.prim"(%n1, %n1) {op = "+"} : (!psg.value, !psg.value) -> !psg.value loc(fused["inc.clef":2:3, "inc.clef":2:8])
        "psg.yield"(%n2) <{region = 1 : i64, params = [{index = 0 : i64, name = "x"}]}> : (!psg.value) -> () loc(unknown)
      }) {name = "inc", params = ["x"]} : () -> !psg.value loc("inc.clef":1:1)
    }) {psg.root = 0 : i64, psg.node_slots = 4 : i64, psg.region_slots = 2 : i64} : () -> () loc(unknown)

* Node ``i`` is the SSA value ``%n<i>``; the ids come back from xDSL's name
  hints.  Region ids are the ``region`` property of each ``psg.yield``; the
  root region's id and the lengths of the node and region tables (deleted
  slots print nothing) are module attributes.
* A span is a location: ``loc(unknown)`` for the unknown span,
  ``loc("f":L:C)`` when it is a point, else ``loc(fused["f":L:C, "f":EL:EC])``
  (xDSL reads no ``to`` ranges, so the range is the fused pair).
* Attribute values: int -> ``i64`` (``iN`` past 64 bits), bool -> ``true`` /
  ``false``, float -> ``f64`` (NaN payloads and -0.0 kept), str -> string
  (UTF-8, printed raw; only ``"``, ``\\`` and control characters are escaped),
  None -> ``unit``, tuple -> array.
* Annotation tables become ``psg.annotations = {table = [[key, fact], ...]}``;
  facts that are attrs objects (types, intervals, coeffects, hyperedges) are
  written as tagged plain data by `nanopass.annotation_codec` and rebuilt on
  reading.

What has no text form, so `to_mlir` raises `DiagnosticError` naming the node:
a live node in no region reachable from the root (or in two), a region no
reachable node owns (or two do), a use of a value that is deleted or defined
in a region not enclosing the use (MLIR's scoping), a root region with
params, token or results, a ``param`` / ``token`` node (a block argument) with
operands, effect or regions, attribute values that are not plain data (lists,
numpy scalars, objects), an attribute with an empty name (MLIR refuses it),
an integer past Python's limit on integer text, a string with lone
surrogates, a negative span number.  An annotation table holding a value
with no plain-data form (not an attrs object, not a container of them) is
left out of the text, named in a ``//`` comment, unless
``annotations="strict"``, which raises.
Python's NaN is unequal to itself, so a graph holding a NaN compares equal
after the round trip only when it used the ``math.nan`` object.

Reading has two paths.  `from_mlir_with_xdsl` is the reference: xDSL's
parser (its region scopes undone name by name, where xDSL copies the table
of visible values at every region, which is quadratic), the dialect's
verifier, then the graph, with every error located in the text.  xDSL's
parser costs some 300 microseconds a node, so `from_mlir` first tries a
reader of exactly what `to_mlir` prints, about ten times faster, and hands
any other text to the reference; a property test holds the two to the same
graph or the same error.  Both are linear in the text, whose indentation
grows with nesting depth.
"""

from __future__ import annotations

import functools
import gc
import io
import math
import re
import struct
import sys
import threading
from typing import Any, Callable, Literal, Mapping

from pyrsistent import pmap, pvector
from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DictionaryAttr,
    FileLineColLoc,
    FloatAttr,
    FusedLoc,
    IntAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    NoneAttr,
    StringAttr,
    UnitAttr,
    UnknownLoc,
    f64,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region as MlirRegion, SSAValue
from xdsl.parser import Parser
from xdsl.parser.generic_parser import ParserState
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError, VerifyException
from xdsl.utils.lexer import Input
from xdsl.utils.mlir_lexer import MLIRLexer, MLIRTokenKind, StringLiteral

from nanopass.annotation_codec import NotEncodable, from_plain, to_plain
from nanopass.diagnostics import UNKNOWN_SPAN, Diagnostic, DiagnosticError, Span
from nanopass.dialects.psg import (
    OP_PREFIX,
    PARAM_KIND,
    TOKEN_KIND,
    YIELD_NAME,
    NodeOp,
    PsgContext,
    YieldOp,
    describe_node,
    kind_for_op_name,
    node_op,
    op_name_for_kind,
    read_description,
    result_type_for_kind,
)
from nanopass.graph import Graph, Node, Region

AnnotationMode = Literal["plain", "strict", "none"]

ROOT_ATTR = "psg.root"
NODE_SLOTS_ATTR = "psg.node_slots"
REGION_SLOTS_ATTR = "psg.region_slots"
ANNOTATIONS_ATTR = "psg.annotations"
_MODULE_ATTRS = (ROOT_ATTR, NODE_SLOTS_ATTR, REGION_SLOTS_ATTR, ANNOTATIONS_ATTR)

_UNIT = UnitAttr()
_TRUE = IntegerAttr(1, IntegerType(1))
_FALSE = IntegerAttr(0, IntegerType(1))
_UNKNOWN_LOC = UnknownLoc()
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_NAN_BITS = struct.pack("<d", math.nan)
_VALUE_NAME = re.compile(r"n(0|[1-9][0-9]*)")
# Characters a string literal must escape: the quote, the backslash, controls.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
# Python frames the xDSL printer and parser use per nested region, with room to spare.
_FRAMES_PER_LEVEL = 40


def _without_cyclic_gc(function: Callable) -> Callable:
    """Run ``function`` with the cyclic garbage collector paused (and restored after).

    Building or reading a big graph allocates millions of long-lived objects;
    the collector, triggered by the allocations, walks them again and again,
    which costs a third to a half of the time and collects nothing.
    """

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


# -- printing ------------------------------------------------------------------------
@_without_cyclic_gc
def to_mlir(graph: Graph, *, annotations: AnnotationMode = "plain") -> str:
    """The graph as MLIR generic-form text (see the module docstring).

    ``annotations``: "plain" prints the tables of plain data and names the
    others in a comment; "strict" raises on a table it cannot print; "none"
    prints no annotations.
    """
    writer = _Writer(graph, annotations)
    module = writer.module()
    stream = io.StringIO()
    for note in writer.left_out:
        stream.write("// " + " ".join(note.splitlines()) + "\n")
    printer = _TextPrinter(stream=stream, print_generic_format=True, print_debuginfo=True)
    _with_deep_stack(writer.depth, lambda: printer.print_op(module))
    stream.write("\n")
    return stream.getvalue()


@_without_cyclic_gc
def to_module(graph: Graph, *, annotations: AnnotationMode = "plain") -> ModuleOp:
    """The graph as an xDSL ``builtin.module`` of `psg` ops, for xDSL passes and printers."""
    return _Writer(graph, annotations).module()


class _TextPrinter(Printer):
    """xDSL's printer, writing non-ASCII characters of string literals as they are, and writing faster.

    xDSL escapes every non-ASCII byte, and its lexer then reads such a
    literal as bytes, which it refuses as an op name, attribute name or file
    name; raw UTF-8 is read as a string by xDSL and MLIR alike.  Text without
    a line break goes straight to the stream's ``write``, not through
    ``print``: a third of the printing time at some 35 pieces a node.
    """

    def print_string(self, text: str, *, indent: int | None = None) -> None:
        if "\n" in text:
            super().print_string(text, indent=indent)
        else:
            self._current_column += len(text)
            self.stream.write(text)

    def print_string_literal(self, string: str) -> None:
        if _NEEDS_ESCAPE.search(string) is None:
            self.print_string(f'"{string}"')
        else:
            self.print_string('"' + _NEEDS_ESCAPE.sub(lambda m: f"\\{ord(m.group()):02X}", string) + '"')


class _Unprintable(Exception):
    """A value with no attribute form (raised inside `_Writer.encode`)."""


class _Writer:
    """Builds the xDSL module for one graph; linear in its size."""

    def __init__(self, graph: Graph, annotations: AnnotationMode):
        if annotations not in ("plain", "strict", "none"):
            raise ValueError(f"annotations must be 'plain', 'strict' or 'none', not {annotations!r}")
        self.graph = graph
        self.annotations = annotations
        self.nodes: list[Node | None] = list(graph.nodes)
        self.regions: list[Region | None] = list(graph.regions)
        self.left_out: list[str] = []
        self.depth = 0
        self._strings: dict[str, StringAttr] = {}
        self._ints: dict[int, IntegerAttr] = {}
        self._locations: dict[Span, Attribute] = {UNKNOWN_SPAN: _UNKNOWN_LOC}

    # -- errors ------------------------------------------------------------------------
    def _fail(self, node_id: int | None, message: str) -> DiagnosticError:
        node = self.nodes[node_id] if node_id is not None else None
        if node is None:
            return DiagnosticError(Diagnostic(UNKNOWN_SPAN, f"no MLIR form: {message}"))
        return DiagnosticError(Diagnostic(node.span, f"no MLIR form: node %{node_id} ({node.kind}): {message}"))

    def _live(self, node_id: int) -> bool:
        return 0 <= node_id < len(self.nodes) and self.nodes[node_id] is not None

    # -- structure ---------------------------------------------------------------------
    def _structure(self) -> None:
        """Where each node is defined and which node owns each region; MLIR scoping as intervals.

        A region tree walk numbers each region on entry; ``enter[r] <=
        enter[s] < leave[r]`` says r encloses s (or is s).
        """
        root = self.graph.root
        if not (0 <= root < len(self.regions)) or self.regions[root] is None:
            raise self._fail(None, f"the root region #{root} does not exist")
        top = self.regions[root]
        if top.params or top.token is not None or top.results or top.effect_out is not None:
            raise self._fail(None, f"the root region #{root} has params, a token or results; "
                                   "a module body has no arguments and no terminator")
        self.home = home = [-1] * len(self.nodes)
        owner = [-1] * len(self.regions)
        self.enter = enter = [0] * len(self.regions)
        self.leave = leave = [0] * len(self.regions)
        clock = 0
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            region_id, depth = stack.pop()
            if region_id < 0:
                leave[~region_id] = clock
                continue
            self.depth = max(self.depth, depth)
            enter[region_id] = clock
            clock += 1
            stack.append((~region_id, depth))
            region = self.regions[region_id]
            block_args = region.params if region.token is None else region.params + (region.token,)
            for node_id in block_args:
                if self._live(node_id) and (self.nodes[node_id].inputs() or self.nodes[node_id].regions):
                    raise self._fail(node_id, f"it is a param or token of region #{region_id} (a block "
                                              "argument) but has operands, an effect or regions")
            for node_id in region.node_ids():
                if not self._live(node_id):
                    raise self._fail(None, f"region #{region_id} lists node %{node_id}, which does not exist")
                if home[node_id] >= 0:
                    raise self._fail(node_id, f"it is defined in both region #{home[node_id]} and #{region_id}")
                home[node_id] = region_id
            for node_id in region.body:
                for child in self.nodes[node_id].regions:
                    if not (0 <= child < len(self.regions)) or self.regions[child] is None:
                        raise self._fail(node_id, f"its region #{child} does not exist")
                    if child == root or owner[child] >= 0:
                        holder = "the root" if child == root else f"also owned by %{owner[child]}"
                        raise self._fail(node_id, f"its region #{child} is {holder}")
                    owner[child] = node_id
                    stack.append((child, depth + 1))
        for node_id, node in enumerate(self.nodes):
            if node is not None and home[node_id] < 0:
                raise self._fail(node_id, "it is in no region reachable from the root")
        for region_id, region in enumerate(self.regions):
            if region is not None and region_id != root and owner[region_id] < 0:
                raise self._fail(None, f"region #{region_id} is owned by no node reachable from the root")

    def _check_use(self, user: int | None, region_id: int, value_id: int, what: str) -> None:
        if not self._live(value_id):
            raise self._fail(user, f"{what} %{value_id} does not exist")
        home = self.home[value_id]
        if not (self.enter[home] <= self.enter[region_id] < self.leave[home]):
            where = f"node %{user}" if user is not None else f"region #{region_id}"
            raise self._fail(user, f"{what} %{value_id} is defined in region #{home}, which does not enclose "
                                   f"{where} (region #{region_id})")

    # -- the module ------------------------------------------------------------------------
    def module(self) -> ModuleOp:
        self._structure()
        nodes, regions = self.nodes, self.regions
        values: list[SSAValue | None] = [None] * len(nodes)
        late: list[tuple[Operation, tuple[int, ...]]] = []  # ops that read values defined after them
        root_block = Block()
        work: list[tuple[int, Block]] = [(self.graph.root, root_block)]
        # A region's body is built before any region nested in it, so only uses of
        # values later in the same region are forward references.
        while work:
            region_id, block = work.pop()
            region = regions[region_id]
            ops: list[Operation] = []
            for node_id in region.body:
                node = nodes[node_id]
                inputs = node.inputs()
                for value_id in inputs:
                    self._check_use(node_id, region_id, value_id, "operand" if value_id != node.effect else "token")
                operands = [values[i] for i in inputs]
                mlir_regions = []
                for child in node.regions:
                    child_block = self._block(regions[child], values)
                    work.append((child, child_block))
                    mlir_regions.append(MlirRegion(child_block))
                op = node_op(node.kind).create(
                    operands=() if None in operands else operands,
                    result_types=(result_type_for_kind(node.kind),),
                    properties={"effect": _UNIT} if node.effect is not None else {},
                    attributes=self._attributes(node_id, node),
                    location=self._location(node_id, node.span),
                    regions=mlir_regions,
                )
                if None in operands:
                    late.append((op, inputs))
                result = op.results[0]
                result.name_hint = f"n{node_id}"
                values[node_id] = result
                ops.append(op)
            if block is not root_block:
                ops.append(self._yield(region_id, region, values))
            block.add_ops(ops)
        for op, inputs in late:
            op.operands = [values[i] for i in inputs]
        module = ModuleOp(MlirRegion(root_block))
        module.attributes[ROOT_ATTR] = IntegerAttr(self.graph.root, i64)
        module.attributes[NODE_SLOTS_ATTR] = IntegerAttr(len(nodes), i64)
        module.attributes[REGION_SLOTS_ATTR] = IntegerAttr(len(regions), i64)
        tables = self._annotations()
        if tables:
            module.attributes[ANNOTATIONS_ATTR] = DictionaryAttr(tables)
        return module

    def _block(self, region: Region, values: list[SSAValue | None]) -> Block:
        """The entry block of a nested region: its params, then its token, as arguments."""
        arg_ids = region.params if region.token is None else region.params + (region.token,)
        block = Block(arg_types=[result_type_for_kind(self.nodes[i].kind) for i in arg_ids])
        for arg, node_id in zip(block.args, arg_ids):
            arg.name_hint = f"n{node_id}"
            arg.location = self._location(node_id, self.nodes[node_id].span)
            values[node_id] = arg
        return block

    def _yield(self, region_id: int, region: Region, values: list[SSAValue | None]) -> YieldOp:
        yielded = region.results if region.effect_out is None else region.results + (region.effect_out,)
        for value_id in yielded:
            self._check_use(None, region_id, value_id, "result" if value_id != region.effect_out else "effect_out")
        properties: dict[str, Attribute] = {"region": IntegerAttr(region_id, i64)}
        if region.params:
            properties["params"] = ArrayAttr(
                [self._description(i, PARAM_KIND) for i in region.params])
        if region.token is not None:
            properties["token"] = self._description(region.token, TOKEN_KIND)
        if region.effect_out is not None:
            properties["effect"] = _UNIT
        return YieldOp.create(operands=[values[i] for i in yielded], properties=properties, location=_UNKNOWN_LOC)

    def _description(self, node_id: int, default_kind: str) -> Attribute:
        node = self.nodes[node_id]
        return describe_node(node.kind, DictionaryAttr(self._attributes(node_id, node)), default_kind)

    # -- attributes and locations --------------------------------------------------------------
    def _attributes(self, node_id: int, node: Node) -> dict[str, Attribute]:
        encoded: dict[str, Attribute] = {}
        try:
            for name, value in node.attributes:
                encoded[name] = self.encode(value)
        except _Unprintable as err:
            raise self._fail(node_id, f"attribute {name!r}: {err}") from None
        except (TypeError, ValueError):
            raise self._fail(node_id, "its attributes are not (name, value) pairs") from None
        if len(encoded) != len(node.attributes):
            raise self._fail(node_id, "it has two attributes of the same name")
        if "" in encoded:
            raise self._fail(node_id, "it has an attribute with an empty name, which MLIR does not read")
        return encoded

    def encode(self, value: Any) -> Attribute:
        """The MLIR attribute of a plain value; `_decode` inverts it exactly."""
        if isinstance(value, str):
            attr = self._strings.get(value)
            if attr is None:
                if not value.isascii():
                    try:
                        value.encode("utf-8")
                    except UnicodeEncodeError:
                        raise _Unprintable(f"{value!r} has lone surrogates, which UTF-8 cannot encode") from None
                attr = self._strings[value] = StringAttr(value)
            return attr
        if isinstance(value, bool):
            return _TRUE if value else _FALSE
        if isinstance(value, int):
            attr = self._ints.get(value)
            if attr is None:
                digits_limit = sys.get_int_max_str_digits()
                if digits_limit and value.bit_length() * 0.30103 > digits_limit - 2:
                    raise _Unprintable(f"an integer of {value.bit_length()} bits is past Python's limit on "
                                       "integer text (sys.set_int_max_str_digits)")
                width = 64 if _I64_MIN <= value <= _I64_MAX else value.bit_length() + 1
                attr = self._ints[value] = IntegerAttr(value, i64 if width == 64 else IntegerType(width))
            return attr
        if isinstance(value, float):
            return FloatAttr(value, f64)
        if value is None:
            return _UNIT
        if isinstance(value, tuple):
            return ArrayAttr(tuple(self.encode(v) for v in value))
        raise _Unprintable(f"{value!r} of type {type(value).__name__} is not plain data "
                           "(int, float, str, bool, None, tuples of those)")

    def _location(self, node_id: int, span: Span) -> Attribute:
        location = self._locations.get(span)
        if location is None:
            if min(span.line, span.col, span.end_line, span.end_col) < 0:
                raise self._fail(node_id, f"its span {span!r} has a negative line or column")
            file = self._strings.get(span.file) or self.encode(span.file)
            start = FileLineColLoc(file, IntAttr(span.line), IntAttr(span.col))
            if (span.end_line, span.end_col) == (span.line, span.col):
                location = start
            else:
                location = FusedLoc((start, FileLineColLoc(file, IntAttr(span.end_line), IntAttr(span.end_col))),
                                    NoneAttr())
            self._locations[span] = location
        return location

    def _annotations(self) -> dict[str, Attribute]:
        if self.annotations == "none":
            return {}
        tables: dict[str, Attribute] = {}
        for name, table in _sorted_items(self.graph.annotations):
            try:
                if not isinstance(name, str) or not name:
                    raise _Unprintable(f"its name {name!r} is not a non-empty string")
                if not isinstance(table, Mapping):
                    raise _Unprintable(f"it is a {type(table).__name__}, not a mapping")
                pairs = [ArrayAttr((self.encode(to_plain(key)), self.encode(to_plain(fact))))
                         for key, fact in _sorted_items(table)]
            except (_Unprintable, NotEncodable) as err:
                message = f"annotation table {name!r} left out: {err}"
                if self.annotations == "strict":
                    raise DiagnosticError(Diagnostic(UNKNOWN_SPAN, f"no MLIR form: {message}")) from None
                self.left_out.append(message)
                continue
            tables[name] = ArrayAttr(pairs)
        return tables


def _sorted_items(table) -> list[tuple[Any, Any]]:
    """A table's items in a stable order: by key, or by key type and text when keys mix types."""
    items = list(table.items())
    try:
        return sorted(items, key=lambda kv: kv[0])
    except TypeError:
        return sorted(items, key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))


# -- the fast reader -----------------------------------------------------------------------
class _Fallback(Exception):
    """The fast reader met text other than what `to_mlir` prints; xDSL's parser takes over."""


_STRING_BODY = r'(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*'
_PSG_TYPE = r"!psg\.(?:value|token)(?![\w$.])"
_FAST_TOKEN = re.compile("|".join((
    r"(?P<skip>(?:\s|//[^\n]*)+)",
    # Whole locations and function types are one token each: most of a line.
    r'(?P<loc>loc\((?:unknown|"(?P<file>{s})":(?P<line>\d+):(?P<col>\d+)'
    r'|fused\["(?P<file1>{s})":(?P<line1>\d+):(?P<col1>\d+), "(?P<file2>{s})":(?P<line2>\d+):(?P<col2>\d+)\])\))',
    r"(?P<ftype>\((?P<inputs>(?:{t}(?:, {t})*)?)\) -> (?P<output>{t}|\(\)))",
    r'(?P<str>"{s}")',
    r"(?P<value>%[A-Za-z0-9_$.\-]+)",
    r"(?P<label>\^[A-Za-z0-9_$.\-]+)",
    r"(?P<number>-?(?:0x[0-9A-Fa-f]+|[0-9]+(?:\.[0-9]*(?:[eE][+-]?[0-9]+)?)?))",
    r"(?P<word>[A-Za-z_][A-Za-z0-9_$.]*)",
    r"(?P<type>{t})",
    r"(?P<punct>\{{-#|#-\}}|[(){{}}\[\]<>,=:])",
)).format(s=_STRING_BODY, t=_PSG_TYPE))
_FAST_ESCAPE = re.compile(r'\\(["nt\\]|[0-9A-Fa-f]{2})')
_FAST_ESCAPES = {'"': b'"', "n": b"\n", "t": b"\t", "\\": b"\\"}
_FAST_INT_TYPE = re.compile(r"i([1-9][0-9]*)")
_FAST_VALUE = re.compile(r"%n(0|[1-9][0-9]*)")


def _fast_string(body: str) -> str:
    """A string literal's contents (no quotes) with escapes resolved, as xDSL resolves them."""
    if "\\" not in body:
        return body
    pieces = []
    last = 0
    for m in _FAST_ESCAPE.finditer(body):
        pieces.append(body[last:m.start()].encode("utf-8"))
        code = m.group(1)
        pieces.append(_FAST_ESCAPES.get(code) or bytes((int(code, 16),)))
        last = m.end()
    pieces.append(body[last:].encode("utf-8"))
    try:
        return b"".join(pieces).decode("utf-8")
    except UnicodeDecodeError:
        raise _Fallback from None


class _OpenRegion:
    """A region being read: its block arguments and body so far."""

    __slots__ = ("serial", "args", "body", "undo", "ended")

    def __init__(self, serial: int, undo: int):
        self.serial = serial
        self.ended = False  # its psg.yield has been read
        self.args: list[tuple[int, bool, Span]] = []  # (id, is_token, span)
        self.body: list[int] = []
        self.undo = undo


class _OpenOp:
    """A node op whose regions are being read."""

    __slots__ = ("node_id", "kind", "inputs", "effect", "region_ids", "region")

    def __init__(self, node_id: int, kind: str, inputs: list[int], effect: bool, region: _OpenRegion):
        self.node_id = node_id
        self.kind = kind
        self.inputs = inputs
        self.effect = effect
        self.region_ids: list[int] = []
        self.region = region  # the region the op itself is in


class _FastReader:
    """Reads exactly the text `to_mlir` prints, straight into a graph, about ten times faster than xDSL.

    It accepts a subset of what xDSL's parser with `_Reader` accepts, and
    gives the same graph for it (a property test holds them to that); at
    anything else, malformed text included, it raises `_Fallback` and
    xDSL's parser reads the text and reports.  It is iterative, so nesting
    depth costs it nothing.
    """

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.nodes: dict[int, Node] = {}
        self.regions: dict[int, Region] = {}
        self.visible: dict[int, bool] = {}  # id -> is a token, for values in scope
        self.defined: list[int] = []  # ids defined in open regions, innermost last
        self.region_of: dict[int, int] = {}  # id -> serial of the region defining it
        self.parents: list[int] = [-1]  # region serial -> enclosing region serial
        self.pending: dict[int, list[tuple[bool, int]]] = {}  # forward uses: id -> [(is_token, region serial)]
        self.spans: dict[tuple, Span] = {}
        self._advance()

    # -- tokens ------------------------------------------------------------------------------
    def _advance(self) -> None:
        m = _FAST_TOKEN.match(self.text, self.pos)
        if m is not None and m.lastgroup == "skip":
            m = _FAST_TOKEN.match(self.text, m.end())
        if m is None:
            if self.pos < len(self.text) and not self.text[self.pos:].isspace():
                raise _Fallback
            self.kind, self.m = "eof", None
            return
        self.pos = m.end()
        self.kind, self.m = m.lastgroup, m

    def _punct(self, char: str) -> None:
        if self.kind != "punct" or self.m.group() != char:
            raise _Fallback
        self._advance()

    def _is(self, char: str) -> bool:
        return self.kind == "punct" and self.m.group() == char

    def _word(self) -> str:
        if self.kind != "word":
            raise _Fallback
        word = self.m.group()
        self._advance()
        return word

    def _name(self) -> str:
        """An attribute name: a bare identifier or a string."""
        if self.kind == "word":
            return self._word()
        if self.kind != "str":
            raise _Fallback
        name = _fast_string(self.m.group()[1:-1])
        self._advance()
        return name

    # -- attributes ------------------------------------------------------------------------------
    def _plain(self) -> Any:
        """A plain attribute value, decoded as `_Reader._decode` decodes it."""
        kind = self.kind
        if kind == "str":
            value = _fast_string(self.m.group()[1:-1])
            self._advance()
            return value
        if kind == "number":
            return self._number()
        if kind == "word":
            word = self._word()
            if word == "true":
                return True
            if word == "false":
                return False
            if word == "unit":
                return None
            raise _Fallback
        if self._is("["):
            self._advance()
            items = []
            if not self._is("]"):
                items.append(self._plain())
                while self._is(","):
                    self._advance()
                    items.append(self._plain())
            self._punct("]")
            return tuple(items)
        raise _Fallback

    def _number(self) -> Any:
        text = self.m.group()
        self._advance()
        type_name = None
        if self._is(":"):
            self._advance()
            type_name = self._word()
        if text.startswith(("0x", "-0x")):
            if type_name != "f64" or text.startswith("-"):
                raise _Fallback
            bits = int(text, 16)
            if bits >= 1 << 64:
                raise _Fallback
            value = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
            return math.nan if value != value and struct.pack("<d", value) == _NAN_BITS else value
        if "." in text:
            if type_name not in (None, "f64"):
                raise _Fallback
            return float(text)
        value = int(text)
        width = 64
        if type_name is not None:
            m = _FAST_INT_TYPE.fullmatch(type_name)
            if m is None or m.group(1) == "1":
                raise _Fallback
            width = int(m.group(1))
        if not -(1 << (width - 1)) <= value < (1 << (width - 1)):
            raise _Fallback  # xDSL would wrap or refuse it
        return value

    def _dictionary(self, value: Callable[[], Any]) -> list[tuple[str, Any]]:
        """``{name = value, name, ...}`` (a bare name is unit), in order; duplicate names fall back."""
        self._punct("{")
        entries: list[tuple[str, Any]] = []
        if not self._is("}"):
            while True:
                name = self._name()
                if self._is("="):
                    self._advance()
                    entries.append((name, value()))
                else:
                    entries.append((name, None))
                if not self._is(","):
                    break
                self._advance()
        self._punct("}")
        if len({name for name, _ in entries}) != len(entries):
            raise _Fallback
        return entries

    def _description(self, default_kind: str) -> tuple[str, tuple]:
        """A param or token description (see `describe_node`): kind and attribute pairs."""
        if self.kind == "word" and self.m.group() == "unit" and default_kind == TOKEN_KIND:
            self._advance()
            return TOKEN_KIND, ()
        if self._is("{"):
            return default_kind, tuple(self._dictionary(self._plain))
        self._punct("[")
        if self.kind != "str":
            raise _Fallback
        kind = _fast_string(self.m.group()[1:-1])
        self._advance()
        self._punct(",")
        attributes = tuple(self._dictionary(self._plain))
        self._punct("]")
        return kind, attributes

    def _yield_properties(self) -> list[tuple[str, Any]]:
        self._punct("<")
        self._punct("{")
        entries: list[tuple[str, Any]] = []
        while not self._is("}"):
            name = self._word()
            if name == "region":
                self._punct("=")
                if self.kind != "number":
                    raise _Fallback
                text = self.m.group()
                self._advance()
                self._punct(":")
                if self._word() != "i64" or not text.isdigit():
                    raise _Fallback
                entries.append((name, int(text)))
            elif name == "params":
                self._punct("=")
                self._punct("[")
                params = []
                if not self._is("]"):
                    params.append(self._description(PARAM_KIND))
                    while self._is(","):
                        self._advance()
                        params.append(self._description(PARAM_KIND))
                self._punct("]")
                entries.append((name, params))
            elif name == "token":
                if self._is("="):
                    self._advance()
                    entries.append((name, self._description(TOKEN_KIND)))
                else:
                    entries.append((name, (TOKEN_KIND, ())))
            elif name == "effect":
                entries.append((name, True))
            else:
                raise _Fallback
            if not self._is(","):
                break
            self._advance()
        self._punct("}")
        self._punct(">")
        if len({name for name, _ in entries}) != len(entries):
            raise _Fallback
        return entries

    def _location(self) -> Span:
        if self.kind != "loc":
            return UNKNOWN_SPAN
        m = self.m
        key = m.group()
        span = self.spans.get(key)
        if span is None:
            if m.group("line") is not None:
                line, col = int(m.group("line")), int(m.group("col"))
                span = Span(_fast_string(m.group("file")), line, col, line, col)
            elif m.group("line1") is not None:
                file = _fast_string(m.group("file1"))
                if _fast_string(m.group("file2")) != file:
                    raise _Fallback
                span = Span(file, int(m.group("line1")), int(m.group("col1")),
                            int(m.group("line2")), int(m.group("col2")))
            else:
                span = UNKNOWN_SPAN
            self.spans[key] = span
        self._advance()
        return span

    def _function_type(self) -> tuple[list[bool], str]:
        """``(types) -> type`` as the inputs' is-a-token flags and the output's text."""
        if self.kind != "ftype":
            raise _Fallback
        inputs = self.m.group("inputs")
        output = self.m.group("output")
        self._advance()
        return ([t == "!psg.token" for t in inputs.split(", ")] if inputs else []), output

    # -- values and scopes ---------------------------------------------------------------------
    def _value_id(self) -> int:
        if self.kind != "value":
            raise _Fallback
        m = _FAST_VALUE.fullmatch(self.m.group())
        if m is None:
            raise _Fallback
        self._advance()
        return int(m.group(1))

    def _define(self, node_id: int, is_token: bool, region: _OpenRegion) -> None:
        if node_id in self.region_of:
            raise _Fallback
        self.region_of[node_id] = region.serial
        self.visible[node_id] = is_token
        self.defined.append(node_id)
        uses = self.pending.pop(node_id, None)
        if uses is not None:
            for use_is_token, use_region in uses:
                if use_is_token != is_token or not self._encloses(region.serial, use_region):
                    raise _Fallback

    def _encloses(self, outer: int, inner: int) -> bool:
        while inner >= 0:
            if inner == outer:
                return True
            inner = self.parents[inner]
        return False

    def _use(self, node_id: int, is_token: bool, region: _OpenRegion) -> None:
        known = self.visible.get(node_id)
        if known is None:
            if node_id in self.region_of:  # defined in a region that has closed: out of scope
                raise _Fallback
            self.pending.setdefault(node_id, []).append((is_token, region.serial))
        elif known != is_token:
            raise _Fallback

    def _open_region(self, enclosing: _OpenRegion) -> _OpenRegion:
        region = _OpenRegion(len(self.parents), len(self.defined))
        self.parents.append(enclosing.serial)
        if self.kind == "label":
            self._advance()
            self._punct("(")
            while True:
                node_id = self._value_id()
                self._punct(":")
                if self.kind != "type":
                    raise _Fallback
                is_token = self.m.group() == "!psg.token"
                self._advance()
                region.args.append((node_id, is_token, self._location()))
                self._define(node_id, is_token, region)
                if not self._is(","):
                    break
                self._advance()
            self._punct(")")
            self._punct(":")
        return region

    def _close_scope(self, region: _OpenRegion) -> None:
        for node_id in self.defined[region.undo:]:
            del self.visible[node_id]
        del self.defined[region.undo:]

    # -- ops ---------------------------------------------------------------------------------
    def graph(self) -> Graph:
        if self.kind != "str" or self.m.group() != '"builtin.module"':
            raise _Fallback
        self._advance()
        self._punct("(")
        self._punct(")")
        self._punct("(")
        self._punct("{")
        root = _OpenRegion(0, 0)
        if self.kind == "label":
            raise _Fallback
        self._ops(root)
        self._punct(")")
        attributes = dict(self._dictionary(self._module_value)) if self._is("{") else {}
        self._punct(":")
        if self.kind != "ftype" or self.m.group() != "() -> ()":
            raise _Fallback
        self._advance()
        self._location()
        if self._is("{-#"):
            self._file_metadata()
        if self.kind != "eof" or self.pending:
            raise _Fallback
        if set(attributes) - set(_MODULE_ATTRS):
            raise _Fallback
        annotations = attributes.get(ANNOTATIONS_ATTR, pmap())
        if not isinstance(annotations, type(pmap())):
            raise _Fallback
        root_id = attributes.get(ROOT_ATTR, 0)
        if not isinstance(root_id, int) or isinstance(root_id, bool) or root_id < 0 or root_id in self.regions:
            raise _Fallback
        self.regions[root_id] = Region((), tuple(root.body), (), None, None)
        node_slots = attributes.get(NODE_SLOTS_ATTR, max(self.nodes, default=-1) + 1)
        region_slots = attributes.get(REGION_SLOTS_ATTR, max(self.regions, default=-1) + 1)
        for slots, table in ((node_slots, self.nodes), (region_slots, self.regions)):
            if not isinstance(slots, int) or isinstance(slots, bool) or slots < max(table, default=-1) + 1:
                raise _Fallback
        return _assemble(self.nodes, node_slots, self.regions, region_slots, root_id, annotations)

    def _module_value(self) -> Any:
        if self._is("{"):  # the annotation tables
            tables = {}
            for name, table in self._dictionary(self._plain):
                if not isinstance(table, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in table):
                    raise _Fallback
                try:
                    tables[name] = pmap({from_plain(k): from_plain(v) for k, v in table})
                except NotEncodable:
                    raise _Fallback from None
            return pmap(tables)
        return self._plain()

    def _file_metadata(self) -> None:
        """``{-# external_resources: {...} #-}`` as a reproducer has it; anything else falls back."""
        self._advance()
        while True:
            if self._word() != "external_resources":
                raise _Fallback
            self._punct(":")
            self._resource_group()
            if not self._is(","):
                break
            self._advance()
        self._punct("#-}")

    def _resource_group(self) -> None:
        self._punct("{")
        while not self._is("}"):
            self._word()
            self._punct(":")
            if self._is("{"):
                self._resource_group()
            elif self.kind == "str":
                self._advance()
            elif self.kind != "word" or self._word() not in ("true", "false"):
                raise _Fallback
            if not self._is(","):
                break
            self._advance()
        self._punct("}")

    def _ops(self, root: _OpenRegion) -> None:
        """The ops of the module body, nested regions included, without recursion."""
        region = root
        open_ops: list[_OpenOp] = []
        while True:
            if self._is("}"):
                # The end of a region: the module's, or the current op's.
                self._advance()
                if not open_ops:
                    return
                op = open_ops[-1]
                if not region.ended:
                    raise _Fallback
                self._close_scope(region)
                if self._is(","):
                    self._advance()
                    self._punct("{")
                    region = self._open_region(op.region)
                    continue
                self._punct(")")
                open_ops.pop()
                region = op.region
                self._finish_node(op, region)
                continue
            node_id = None
            if self.kind == "value":
                node_id = self._value_id()
                self._punct("=")
            if self.kind != "str":
                raise _Fallback
            op_name = self.m.group()[1:-1]
            self._advance()
            if op_name == YIELD_NAME:
                if node_id is not None or region is root:
                    raise _Fallback
                self._yield(region, open_ops[-1])
                if not self._is("}"):
                    raise _Fallback  # a psg.yield ends its region
                continue
            if node_id is None or not op_name.startswith(OP_PREFIX) or "\\" in op_name:
                raise _Fallback
            kind = kind_for_op_name(op_name)
            if op_name_for_kind(kind) != op_name:
                raise _Fallback
            inputs = self._operands()
            effect = False
            if self._is("<"):
                self._advance()
                self._punct("{")
                if self._word() != "effect":
                    raise _Fallback
                self._punct("}")
                self._punct(">")
                effect = True
                if not inputs:
                    raise _Fallback
            op = _OpenOp(node_id, kind, inputs, effect, region)
            if self._is("("):
                self._advance()
                self._punct("{")
                open_ops.append(op)
                region = self._open_region(region)
                continue
            self._finish_node(op, region)

    def _operands(self) -> list[int]:
        self._punct("(")
        ids = []
        if not self._is(")"):
            ids.append(self._value_id())
            while self._is(","):
                self._advance()
                ids.append(self._value_id())
        self._punct(")")
        return ids

    def _finish_node(self, op: _OpenOp, region: _OpenRegion) -> None:
        """The rest of a node op after its regions: attributes, type, location; then the node."""
        attributes = tuple(self._dictionary(self._plain)) if self._is("{") else ()
        self._punct(":")
        inputs, output = self._function_type()
        is_token = op.kind == TOKEN_KIND
        if len(inputs) != len(op.inputs) or output != ("!psg.token" if is_token else "!psg.value"):
            raise _Fallback
        for node_id, input_is_token in zip(op.inputs, inputs):
            self._use(node_id, input_is_token, region)
        span = self._location()
        operands = op.inputs[:-1] if op.effect else op.inputs
        effect = op.inputs[-1] if op.effect else None
        self.nodes[op.node_id] = Node(op.kind, tuple(operands), attributes, tuple(op.region_ids), effect, span)
        self._define(op.node_id, is_token, region)
        region.body.append(op.node_id)

    def _yield(self, region: _OpenRegion, owner: _OpenOp) -> None:
        yielded = self._operands()
        properties = dict(self._yield_properties())
        self._punct(":")
        inputs, output = self._function_type()
        if output != "()" or len(inputs) != len(yielded) or "region" not in properties:
            raise _Fallback
        for node_id, is_token in zip(yielded, inputs):
            self._use(node_id, is_token, region)
        self._location()
        descriptions = list(properties.get("params", ()))
        if "token" in properties:
            descriptions.append(properties["token"])
        if len(descriptions) != len(region.args):
            raise _Fallback
        ids = []
        for (node_id, is_token, span), (kind, attributes) in zip(region.args, descriptions):
            if is_token != (kind == TOKEN_KIND):
                raise _Fallback
            self.nodes[node_id] = Node(kind, (), attributes, (), None, span)
            ids.append(node_id)
        effect_out = None
        if properties.get("effect"):
            if not yielded:
                raise _Fallback
            effect_out = yielded.pop()
        token = ids.pop() if "token" in properties else None
        region_id = properties["region"]
        if region_id in self.regions:
            raise _Fallback
        self.regions[region_id] = Region(tuple(ids), tuple(region.body), tuple(yielded), token, effect_out)
        owner.region_ids.append(region_id)
        region.ended = True


def _assemble(nodes: dict[int, Node], node_slots: int, regions: dict[int, Region], region_slots: int,
              root: int, annotations) -> Graph:
    node_table: list[Node | None] = [None] * node_slots
    for node_id, node in nodes.items():
        node_table[node_id] = node
    region_table: list[Region | None] = [None] * region_slots
    for region_id, region in regions.items():
        region_table[region_id] = region
    return Graph(pvector(node_table), pvector(region_table), root, annotations)


# -- parsing with xDSL ----------------------------------------------------------------------
@_without_cyclic_gc
def from_mlir(text: str, filename: str = "<mlir>") -> Graph:
    """The graph that ``text`` (from `to_mlir`) prints; `DiagnosticError` at file:line:col when malformed.

    Text as `to_mlir` prints it takes the fast reader; any other text (by
    hand, from xdsl-opt, malformed) is read by `from_mlir_with_xdsl`.
    """
    try:
        return _FastReader(text).graph()
    except Exception:  # _Fallback, or anything odd: the reference reader decides and reports
        return from_mlir_with_xdsl(text, filename)


@_without_cyclic_gc
def from_mlir_with_xdsl(text: str, filename: str = "<mlir>") -> Graph:
    """`from_mlir` through xDSL's parser and IR: slower, the reference the fast reader is held to."""
    parser: _TextParser | None = None
    try:
        parser = _TextParser(PsgContext(), text, filename)  # it reads the first token already
        module = _with_deep_stack(_nesting_depth(text), parser.parse_module)
    except ParseError as err:
        name = next((n for n in parser.forward_ssa_references if n in parser.first_uses), None) if parser else None
        if name is not None and err.msg.startswith("values used but not defined"):
            # xDSL reports these at the end of the text; point at the first use instead.
            use = parser.first_uses[name]
            raise _text_error(text, filename, use.start, use.end,
                              f"value %{name} is used but not defined in an enclosing region") from None
        raise _text_error(text, filename, err.span.start, err.span.end, _parse_message(err)) from None
    except RecursionError:
        position = parser.pos if parser is not None else 0
        raise _text_error(text, filename, position, position + 1, "nested too deeply") from None
    except Exception as err:  # an attribute the parser built refused its value (e.g. `300 : i8`)
        position = parser.pos if parser is not None else 0
        raise _text_error(text, filename, position, position + 1, f"invalid value: {err}") from None
    if not isinstance(module, ModuleOp):
        raise _text_error(text, filename, 0, 1, "expected a builtin.module")

    def where(item: Operation | SSAValue) -> Span:
        start = parser.offsets.get(item, 0)
        return _text_span(text, filename, start, start + 1)

    return _Reader(module, where, text).graph()


@_without_cyclic_gc
def from_module(module: ModuleOp) -> Graph:
    """The graph an xDSL module of `psg` ops holds (the inverse of `to_module`)."""

    def where(item: Operation | SSAValue) -> Span:
        return _span_of(getattr(item, "location", _UNKNOWN_LOC)) or UNKNOWN_SPAN

    return _Reader(module, where, None).graph()


def _parse_message(err: ParseError) -> str:
    return err.msg[0].lower() + err.msg[1:] if err.msg else "malformed MLIR"


def _text_span(text: str, filename: str, start: int, end: int) -> Span:
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    end = max(end, start + 1)
    end_line = line + text.count("\n", start, end)
    end_col = end - (text.rfind("\n", 0, end) + 1) + 1
    return Span(filename, line, col, end_line, end_col)


def _text_error(text: str, filename: str, start: int, end: int, message: str) -> DiagnosticError:
    return DiagnosticError(Diagnostic(_text_span(text, filename, start, end), message, source=text))


class _ScopedValues(dict):
    """The parser's table of visible SSA names, whose ``copy`` is itself.

    xDSL's parser copies the whole table on entering every region and puts
    the copy back on leaving; `_TextParser` instead deletes the names a region
    defined when it ends, which keeps parsing linear.
    """

    def copy(self) -> "_ScopedValues":
        return self


class _LinearLexer(MLIRLexer):
    """xDSL's lexer with a string-literal pattern that cannot backtrack exponentially.

    xDSL's pattern nests ``[^"...]+`` inside ``(...)*``, which takes time
    exponential in the length of an unterminated literal; this one reads the
    same literals one character at a time.
    """

    _unescaped_characters_regex = re.compile(r'"(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"')


class _TextParser(Parser):
    """xDSL's parser, linear in nested regions, remembering where each op and value was written."""

    def __init__(self, ctx: PsgContext, text: str, filename: str):
        super().__init__(ctx, "", filename)
        self._parser_state = ParserState(_LinearLexer(Input(text, filename)))
        self.ssa_values = _ScopedValues()
        self._defined: list[str] = []
        self.offsets: dict[Operation | SSAValue, int] = {}
        self.first_uses: dict[str, object] = {}  # name -> span of its first use before its definition

    def _register_ssa_definition(self, name: str, values, span) -> None:
        super()._register_ssa_definition(name, values, span)
        self._defined.append(name)
        for value in values:
            self.offsets[value] = span.start

    def resolve_operand(self, operand, type):
        if operand.operand_name not in self.ssa_values:
            self.first_uses.setdefault(operand.operand_name, operand.span)
        return super().resolve_operand(operand, type)

    def parse_optional_region(self, arguments=None):
        mark = len(self._defined)
        region = super().parse_optional_region(arguments)
        if region is not None:
            for name in self._defined[mark:]:
                del self.ssa_values[name]
            del self._defined[mark:]
        return region

    def parse_operation(self) -> Operation:
        start = self._current_token.span.start
        op = super().parse_operation()
        self.offsets[op] = start
        return op

    def parse_optional_str_literal(self) -> str | None:
        # xDSL's lexer calls a literal with escapes and non-ASCII bytes "bytes"; as
        # long as it is UTF-8 it is a string here.
        if self._current_token.kind == MLIRTokenKind.BYTES_LIT:
            contents = StringLiteral.from_span(self._current_token.span).bytes_contents
            try:
                value = contents.decode("utf-8")
            except UnicodeDecodeError:
                return None
            self._consume_token(MLIRTokenKind.BYTES_LIT)
            return value
        return super().parse_optional_str_literal()

    def _parse_external_resources(self) -> None:
        """``external_resources: {name: {key: value, ...}, ...}`` (a reproducer's pipeline) is read and set aside."""

        def entry() -> None:
            self._parse_token(MLIRTokenKind.BARE_IDENT, "expected a resource key")
            self._parse_token(MLIRTokenKind.COLON, "expected ':'")
            if self._current_token.kind == MLIRTokenKind.L_BRACE:
                self.parse_comma_separated_list(self.Delimiter.BRACES, entry)
            elif self.parse_optional_str_literal() is None and self.parse_optional_boolean() is None:
                self.raise_error("expected a string, true or false as a resource value")

        self.parse_comma_separated_list(self.Delimiter.BRACES, entry)


def _nesting_depth(text: str) -> int:
    """An upper bound on region nesting: the deepest ``({`` run of the text, counted by brace."""
    depth = deepest = 0
    for match in re.finditer(r"\(\{|\}\)", text):
        if match.group() == "({":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _with_deep_stack(depth: int, work: Callable[[], Any]) -> Any:
    """Run ``work`` (recursive xDSL printing or parsing) with room for ``depth`` nested regions.

    Shallow graphs run here; deep ones run on a thread with a large stack and
    a raised recursion limit, so nesting is bounded by memory, not by
    Python's default limit of 1000 frames.
    """
    needed = 200 + _FRAMES_PER_LEVEL * depth
    if needed <= sys.getrecursionlimit():
        return work()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # handed to the calling thread below
            outcome["error"] = err

    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, needed))
    threading.stack_size(min(1 << 30, max(64 << 20, needed * 4096)))
    try:
        thread = threading.Thread(target=run, name="nanopass-mlir-deep")
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _Reader:
    """Turns a parsed module back into a graph; checks what the text could get wrong."""

    def __init__(self, module: ModuleOp, where: Callable[[Operation | SSAValue], Span], text: str | None):
        self.module = module
        self.where = where
        self.text = text
        self.nodes: dict[int, Node] = {}
        self.regions: dict[int, Region] = {}
        self._ids: dict[str, int] = {}
        self._spans: dict[Attribute, Span] = {}

    def _error(self, item: Operation | SSAValue, message: str) -> DiagnosticError:
        return DiagnosticError(Diagnostic(self.where(item), message, source=self.text))

    def _verify(self, op: Operation) -> None:
        """The dialect's own structural checks (the parser runs none)."""
        try:
            op.verify_()
        except VerifyException as err:
            raise self._error(op, str(err)) from None

    # -- ids -----------------------------------------------------------------------------
    def _value_id(self, value: SSAValue, item: Operation | SSAValue) -> int:
        hint = value.name_hint
        node_id = self._ids.get(hint) if hint is not None else None
        if node_id is None:
            match = _VALUE_NAME.fullmatch(hint) if hint is not None else None
            if match is None:
                shown = f"%{hint}" if hint else "an unnamed value"
                raise self._error(item, f"expected a value named %n<node id>, got {shown}")
            node_id = self._ids[hint] = int(match.group(1))
        return node_id

    def _define(self, value: SSAValue, node: Node, item: Operation | SSAValue) -> int:
        node_id = self._value_id(value, item)
        if node_id in self.nodes:
            raise self._error(item, f"node %n{node_id} is defined twice")
        self.nodes[node_id] = node
        return node_id

    # -- the graph ---------------------------------------------------------------------------
    def graph(self) -> Graph:
        module = self.module
        attributes = dict(module.attributes)
        for name in attributes:
            if name not in _MODULE_ATTRS:
                raise self._error(module, f"unexpected module attribute '{name}'; expected "
                                          f"{', '.join(_MODULE_ATTRS)}")
        if module.properties:
            raise self._error(module, f"unexpected module properties {', '.join(module.properties)}")
        root = self._count(attributes.get(ROOT_ATTR), ROOT_ATTR, 0)
        if len(module.body.blocks) != 1:
            raise self._error(module, "the module body must be one block")
        work: list[tuple[Block, int, Operation]] = [(module.body.block, root, module)]
        while work:
            block, region_id, owner = work.pop()
            self._region(block, region_id, owner, work)
        node_slots = self._slots(attributes.get(NODE_SLOTS_ATTR), NODE_SLOTS_ATTR, self.nodes)
        region_slots = self._slots(attributes.get(REGION_SLOTS_ATTR), REGION_SLOTS_ATTR, self.regions)
        return _assemble(self.nodes, node_slots, self.regions, region_slots, root,
                         self._annotations(attributes.get(ANNOTATIONS_ATTR)))

    def _count(self, attr: Attribute | None, name: str, default: int) -> int:
        if attr is None:
            return default
        if not isinstance(attr, IntegerAttr) or attr.type.width.data == 1 or attr.value.data < 0:
            raise self._error(self.module, f"module attribute '{name}' must be a non-negative integer, got {attr}")
        return attr.value.data

    def _slots(self, attr: Attribute | None, name: str, table: dict[int, Any]) -> int:
        used = max(table, default=-1) + 1
        slots = self._count(attr, name, used)
        if slots < used:
            raise self._error(self.module, f"module attribute '{name}' is {slots}, but id {used - 1} is used")
        return slots

    def _region(self, block: Block, region_id: int, owner: Operation,
                work: list[tuple[Block, int, Operation]]) -> None:
        if region_id in self.regions:
            raise self._error(owner, f"region #{region_id} is defined twice")
        ops = list(block.ops)
        is_root = owner is self.module
        terminator = None
        if not is_root:
            terminator = ops.pop()  # the owner's verify_ made sure it is a psg.yield
        params, token = self._block_args(block, terminator) if terminator is not None else ((), None)
        body = []
        for op in ops:
            body.append(self._node(op, work))
        results: tuple[int, ...] = ()
        effect_out = None
        if terminator is not None:
            yielded = [self._value_id(v, terminator) for v in terminator.operands]
            if terminator.effect is not None:
                effect_out = yielded.pop()
            results = tuple(yielded)
        self.regions[region_id] = Region(params, tuple(body), results, token, effect_out)

    def _block_args(self, block: Block, terminator: YieldOp) -> tuple[tuple[int, ...], int | None]:
        if terminator.attributes:
            raise self._error(terminator, f"unexpected psg.yield attribute(s) {', '.join(terminator.attributes)}; "
                                          "expected only the properties region, params, token, effect")
        descriptions = [(d, PARAM_KIND) for d in (terminator.params.data if terminator.params is not None else ())]
        if terminator.token is not None:
            descriptions.append((terminator.token, TOKEN_KIND))
        ids = []
        for arg, (description, default_kind) in zip(block.args, descriptions):
            kind, attributes = read_description(description, default_kind)
            node = Node(kind, (), self._attributes(attributes.data, terminator), (), None, self._span(arg.location, arg))
            ids.append(self._define(arg, node, arg))
        if terminator.token is not None:
            return tuple(ids[:-1]), ids[-1]
        return tuple(ids), None

    def _node(self, op: Operation, work: list[tuple[Block, int, Operation]]) -> int:
        if not isinstance(op, NodeOp):
            what = "psg.yield, which ends a nested region" if isinstance(op, YieldOp) else f"'{op.name}'"
            raise self._error(op, f"expected a psg node operation, got {what}")
        self._verify(op)
        inputs = [self._value_id(v, op) for v in op.operands]
        effect = inputs.pop() if "effect" in op.properties else None
        region_ids = []
        for region in op.regions:
            yield_op = region.block.last_op
            self._verify(yield_op)
            region_id = yield_op.region.value.data
            region_ids.append(region_id)
            work.append((region.block, region_id, yield_op))
        node = Node(op.KIND, tuple(inputs), self._attributes(op.attributes, op), tuple(region_ids), effect,
                    self._span(op.location, op))
        return self._define(op.results[0], node, op)

    # -- values ----------------------------------------------------------------------------
    def _attributes(self, attributes: dict[str, Attribute], item: Operation | SSAValue) -> tuple:
        return tuple((name, self._decode(value, item)) for name, value in attributes.items())

    def _decode(self, attr: Attribute, item: Operation | SSAValue) -> Any:
        """The inverse of `_Writer.encode`."""
        if isinstance(attr, StringAttr):
            return attr.data
        if isinstance(attr, IntegerAttr):
            value = attr.value.data
            if isinstance(attr.type, IntegerType) and attr.type.width.data == 1:
                return value != 0
            return value
        if isinstance(attr, FloatAttr):
            value = attr.value.data
            if value != value and struct.pack("<d", value) == _NAN_BITS:
                return math.nan
            return value
        if isinstance(attr, UnitAttr):
            return None
        if isinstance(attr, ArrayAttr):
            return tuple(self._decode(a, item) for a in attr.data)
        if isinstance(attr, BytesAttr):
            try:
                return attr.data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        raise self._error(item, f"attribute {attr} is not plain data (integer, float, string, unit or array)")

    def _span(self, location: Attribute, item: Operation | SSAValue) -> Span:
        span = self._spans.get(location)
        if span is None:
            span = _span_of(location)
            if span is None:
                raise self._error(item, f"expected loc(unknown), loc(\"file\":line:col) or "
                                        f"loc(fused[\"file\":line:col, \"file\":line:col]), got {location}")
            self._spans[location] = span
        return span

    def _annotations(self, attr: Attribute | None):
        if attr is None:
            return pmap()
        if not isinstance(attr, DictionaryAttr):
            raise self._error(self.module, f"'{ANNOTATIONS_ATTR}' must be a dictionary of tables, got {attr}")
        tables = {}
        for name, table in attr.data.items():
            pairs = table.data if isinstance(table, ArrayAttr) else None
            if pairs is None or not all(isinstance(p, ArrayAttr) and len(p.data) == 2 for p in pairs):
                raise self._error(self.module, f"annotation table '{name}' must be an array of [key, fact] pairs")
            try:
                tables[name] = pmap({from_plain(self._decode(p.data[0], self.module)):
                                     from_plain(self._decode(p.data[1], self.module)) for p in pairs})
            except NotEncodable as err:
                raise self._error(self.module, f"annotation table '{name}': {err}") from None
        return pmap(tables)


def _span_of(location: Attribute) -> Span | None:
    """The span a location denotes, or None for a location `to_mlir` never writes."""
    if isinstance(location, UnknownLoc):
        return UNKNOWN_SPAN
    if isinstance(location, FileLineColLoc):
        line, col = location.line.data, location.column.data
        return Span(location.filename.data, line, col, line, col)
    if isinstance(location, FusedLoc) and isinstance(location.metadata, NoneAttr):
        parts = location.locations.data
        if (len(parts) == 2 and all(isinstance(p, FileLineColLoc) for p in parts)
                and parts[0].filename == parts[1].filename):
            start, end = parts
            return Span(start.filename.data, start.line.data, start.column.data, end.line.data, end.column.data)
    return None

"""The `psg` dialect: the Program Semantic Graph as MLIR operations, defined with xDSL.

One operation per PSG node, named ``psg.<kind>`` (a kind spelled ``yield``
or starting with ``_`` gets one more leading ``_``, so the terminator keeps
its name).  Kinds are open-ended (a user's language adds its own), so the op
classes are made on demand by `node_op` and cached; the kinds of the
languages in `nanopass.languages.LANGUAGES` are made at import and listed in
`PSG`, and `PsgContext` makes the others as the parser meets them.  Every
node op has the same shape, whatever its kind:

* operands: the node's operands, then its effect token when the ``effect``
  property (a unit attribute) is present;
* one result: ``!psg.token`` for ``token`` nodes, ``!psg.value`` for every
  other node (an effectful node's one value is also the next token);
* the node's attributes as the op's discardable attribute dictionary;
* one region per PSG region, each a single block whose arguments are the
  region's params (then its entry token) and whose terminator is `YieldOp`.

``psg.yield`` carries the region's results (then ``effect_out`` when its
``effect`` property is present) and describes the region in its properties:
``region`` (the region id), ``params`` (each param node's attributes, see
`describe_node`) and ``token`` (present when the region has an entry token).

The dialect checks only the PSG's structure, never a language's rules: a
reproducer of a failing pass holds graphs outside every language.

`PsgContext` is an xDSL context in which every ``psg.<kind>`` name is an
op; `main` is ``xdsl-opt`` with that context (``python -m
nanopass.dialects.psg file.mlir``); `PSG_UNIVERSE` is the xDSL plugin entry
that makes ``xdsl-opt`` itself know the dialect (unknown kinds then need
``--allow-unregistered-dialect``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import ClassVar, Sequence

from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    Builtin,
    DictionaryAttr,
    IntegerAttr,
    StringAttr,
    UnitAttr,
    UnregisteredOp,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import IsTerminator
from xdsl.universe import Universe
from xdsl.utils.exceptions import VerifyException


@irdl_attr_definition
class ValueType(ParametrizedAttribute, TypeAttribute):
    """``!psg.value``: the value a node produces."""

    name = "psg.value"


@irdl_attr_definition
class TokenType(ParametrizedAttribute, TypeAttribute):
    """``!psg.token``: a region's entry effect token (a ``token`` node)."""

    name = "psg.token"


VALUE = ValueType()
TOKEN = TokenType()
TOKEN_KIND = "token"
PARAM_KIND = "param"
OP_PREFIX = "psg."
YIELD_NAME = "psg.yield"


def op_name_for_kind(kind: str) -> str:
    """``psg.<kind>``; a kind spelled ``yield`` or starting with ``_`` gets one more ``_``.

    The escape keeps ``psg.yield`` for the terminator and stays invertible.
    """
    if kind == "yield" or kind.startswith("_"):
        return f"{OP_PREFIX}_{kind}"
    return OP_PREFIX + kind


def kind_for_op_name(op_name: str) -> str:
    """The inverse of `op_name_for_kind`."""
    kind = op_name[len(OP_PREFIX):]
    return kind[1:] if kind.startswith("_") else kind


def result_type_for_kind(kind: str) -> Attribute:
    return TOKEN if kind == TOKEN_KIND else VALUE


def describe_node(kind: str, attributes: DictionaryAttr, default_kind: str) -> Attribute:
    """How ``psg.yield`` describes a param or entry-token node.

    The node's attribute dictionary when its kind is the expected one (the
    common case), else ``[kind, attributes]``; an entry token that is a plain
    ``token`` node is the unit attribute.
    """
    if kind != default_kind:
        return ArrayAttr([StringAttr(kind), attributes])
    if default_kind == TOKEN_KIND and not attributes.data:
        return UnitAttr()
    return attributes


def read_description(description: Attribute, default_kind: str) -> tuple[str, DictionaryAttr] | None:
    """The inverse of `describe_node`; None when ``description`` has neither form."""
    if isinstance(description, UnitAttr) and default_kind == TOKEN_KIND:
        return TOKEN_KIND, DictionaryAttr({})
    if isinstance(description, DictionaryAttr):
        return default_kind, description
    if (isinstance(description, ArrayAttr) and len(description.data) == 2
            and isinstance(description.data[0], StringAttr) and isinstance(description.data[1], DictionaryAttr)):
        return description.data[0].data, description.data[1]
    return None


def _is_psg(attr: Attribute) -> bool:
    return isinstance(attr, (ValueType, TokenType))


class NodeOp(Operation):
    """One PSG node; `node_op` makes the subclass for each kind.

    A plain xDSL operation rather than an IRDL one: node attributes may have
    any name, and xDSL's parser moves a discardable attribute named like an
    IRDL property (``effect``) into the properties.
    """

    name = "psg.node"
    KIND: ClassVar[str] = ""
    traits = traits_def()

    def verify_(self) -> None:
        if len(self.results) != 1:
            raise VerifyException(f"{self.name}: a node has one result, got {len(self.results)}")
        expected = result_type_for_kind(self.KIND)
        if self.results[0].type != expected:
            raise VerifyException(f"{self.name}: the result must be {expected}, got {self.results[0].type}")
        if not all(_is_psg(value.type) for value in self.operands):
            raise VerifyException(f"{self.name}: operands must be !psg.value or !psg.token")
        if self.successors:
            raise VerifyException(f"{self.name}: a node has no successors")
        unexpected = set(self.properties) - {"effect"}
        if unexpected:
            raise VerifyException(f"{self.name}: unexpected properties {', '.join(sorted(unexpected))}")
        effect = self.properties.get("effect")
        if effect is not None and (not isinstance(effect, UnitAttr) or not self.operands):
            raise VerifyException(f"{self.name}: 'effect' must be a unit property marking the last operand")
        for index, region in enumerate(self.regions):
            block = region.block if len(region.blocks) == 1 else None
            if block is None or not isinstance(block.last_op, YieldOp):
                raise VerifyException(f"{self.name}: region {index} must be one block ending in {YIELD_NAME}")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a region: its results, then its ``effect_out`` token; describes the region."""

    name = YIELD_NAME

    values = var_operand_def()
    region = prop_def(IntegerAttr.constr(i64))
    params = opt_prop_def(ArrayAttr)
    token = opt_prop_def(Attribute)
    effect = opt_prop_def(UnitAttr)

    traits = traits_def(IsTerminator())

    def verify_(self) -> None:
        if self.region.value.data < 0:
            raise VerifyException(f"{YIELD_NAME}: the region id must not be negative, got {self.region.value.data}")
        if not all(_is_psg(value.type) for value in self.values):
            raise VerifyException(f"{YIELD_NAME}: operands must be !psg.value or !psg.token")
        if self.effect is not None and not self.values:
            raise VerifyException(f"{YIELD_NAME}: 'effect' is set but there is no operand to be the token")
        block = self.parent_block()
        if block is None:
            return
        params = self.params.data if self.params is not None else ()
        kinds = [read_description(p, PARAM_KIND) for p in params]
        if self.token is not None:
            kinds.append(read_description(self.token, TOKEN_KIND))
        if any(k is None for k in kinds):
            raise VerifyException(f"{YIELD_NAME}: a param or token description is neither a dictionary "
                                  "nor [kind, dictionary]")
        if len(block.args) != len(kinds):
            raise VerifyException(f"{YIELD_NAME}: the block has {len(block.args)} arguments but the region "
                                  f"describes {len(kinds)} (params, then the token)")
        for arg, (kind, _) in zip(block.args, kinds):
            if arg.type != result_type_for_kind(kind):
                raise VerifyException(f"{YIELD_NAME}: block argument {arg.index} of kind '{kind}' must be "
                                      f"{result_type_for_kind(kind)}, got {arg.type}")


_NODE_OPS: dict[str, type[NodeOp]] = {}


def node_op(kind: str) -> type[NodeOp]:
    """The op class for nodes of ``kind`` (made on first use, then cached)."""
    cls = _NODE_OPS.get(kind)
    if cls is None:
        class_name = "".join(part.capitalize() for part in kind.replace(".", "_").split("_") if part.isidentifier())
        cls = type(f"{class_name or 'Node'}Op", (NodeOp,), {
            "name": op_name_for_kind(kind),
            "KIND": kind,
            "__doc__": f"The PSG node kind '{kind}'.",
            "__module__": __name__,
        })
        _NODE_OPS[kind] = cls
    return cls


def _language_kinds() -> list[str]:
    from nanopass.languages import LANGUAGES

    names = {PARAM_KIND, TOKEN_KIND}
    for language in LANGUAGES.values():
        names.update(language.kinds)
    return sorted(names)


PSG = Dialect("psg", [YieldOp, *(node_op(kind) for kind in _language_kinds())], [ValueType, TokenType])

PSG_UNIVERSE = Universe(all_dialects={PSG.name: lambda: PSG})
"""The xDSL plugin entry (group ``xdsl.universe`` in pyproject)."""


@dataclass
class PsgContext(Context):
    """An xDSL context in which every ``psg.<kind>`` is a registered op, whatever the kind, and builtin is known."""

    def __post_init__(self) -> None:
        self.register_dialect(Builtin.name, lambda: Builtin)

    def get_optional_op(self, name: str, *, dialect_stack: Sequence[str] = ()):
        is_psg = name.startswith(OP_PREFIX)
        if is_psg and PSG.name not in self.registered_dialect_names:
            self.register_dialect(PSG.name, lambda: PSG)
        op = super().get_optional_op(name, dialect_stack=dialect_stack)
        if is_psg and (op is None or issubclass(op, UnregisteredOp)):
            op = node_op(kind_for_op_name(name))
            # Replaces the UnregisteredOp an unregistered-allowing lookup cached.
            self._loaded_ops[name] = op
        return op


def main(argv: Sequence[str] | None = None) -> None:
    """``xdsl-opt`` in which every ``psg.<kind>`` op is known."""
    from xdsl.xdsl_opt_main import xDSLOptMain

    class PsgOptMain(xDSLOptMain):
        def register_all_dialects(self) -> None:
            self.ctx = PsgContext(self.ctx.allow_unregistered)
            self.ctx.register_dialect(PSG.name, lambda: PSG)
            for name, factory in Universe.get_multiverse().all_dialects.items():
                if name not in self.ctx.registered_dialect_names:
                    self.ctx.register_dialect(name, factory)

    PsgOptMain(args=argv).run()


if __name__ == "__main__":
    main(sys.argv[1:])

"""The psg dialect: op names for any kind, its structural verifier, the context that knows every kind, and xdsl-opt."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, StringAttr, UnitAttr, UnregisteredOp, i64
from xdsl.ir import Block, Region
from xdsl.parser import Parser
from xdsl.utils.exceptions import VerifyException

from nanopass import Builder, Graph
from nanopass.dialects import psg
from nanopass.languages import LANGUAGES
from nanopass.dialects.psg_text import from_mlir, to_mlir, to_module

XDSL_OPT = os.path.join(os.path.dirname(sys.executable), "xdsl-opt")


def program(user_kind: str | None = None) -> Graph:
    """An effectful function with nested regions; with ``user_kind``, one node of a kind no language has."""
    b = Builder("dialect.clef")
    with b.region(params=["x"], effect=True) as body:
        x = body.params[0]
        with b.region(params=["y"], effect=True) as branch:
            branch.yields(b.effect_op("native", branch.params[0], op="printfn"))
        with b.region(effect=True) as other:
            other.yields(x)
        result = b.effect_op("if", x, regions=[branch.id, other.id])
        if user_kind is not None:
            result = b.op(user_kind, result, level=3)
        body.yields(result)
    b.op("func", regions=[body.id], name="main", params=("x",))
    return b.build()


# -- names ----------------------------------------------------------------------------
@given(st.text())
def test_op_names_invert_for_any_kind(kind):
    name = psg.op_name_for_kind(kind)
    assert name.startswith(psg.OP_PREFIX)
    assert name != psg.YIELD_NAME
    assert psg.kind_for_op_name(name) == kind


def test_the_dialect_has_every_kind_of_every_registered_language():
    names = {op.name for op in psg.PSG.operations}
    for language in LANGUAGES.values():
        for kind in language.kinds:
            assert psg.op_name_for_kind(kind) in names
    assert psg.YIELD_NAME in names
    assert {attr.name for attr in psg.PSG.attributes} == {"psg.value", "psg.token"}


def test_node_op_classes_are_made_once_per_kind():
    made = psg.node_op("brand.new-kind")
    assert made is psg.node_op("brand.new-kind")
    assert made.KIND == "brand.new-kind" and made.name == "psg.brand.new-kind"
    assert issubclass(made, psg.NodeOp)
    assert psg.node_op("store") in list(psg.PSG.operations)


# -- the verifier ------------------------------------------------------------------------
def test_printed_modules_verify():
    to_module(program()).verify()
    to_module(program("brand_new")).verify()


def _yield(region: int = 1, **properties) -> psg.YieldOp:
    return psg.YieldOp.create(properties={"region": IntegerAttr(region, i64), **properties})


def _owner(block: Block) -> psg.NodeOp:
    return psg.node_op("lambda").create(result_types=[psg.VALUE], regions=[Region(block)])


BROKEN = [
    ("token result", lambda: psg.node_op("token").create(result_types=[psg.VALUE]), "must be !psg.token"),
    ("two results", lambda: psg.node_op("const").create(result_types=[psg.VALUE, psg.VALUE]), "one result"),
    ("effect, no operand", lambda: psg.node_op("store").create(result_types=[psg.VALUE],
                                                                properties={"effect": UnitAttr()}),
     "'effect' must be a unit property marking the last operand"),
    ("other property", lambda: psg.node_op("const").create(result_types=[psg.VALUE],
                                                            properties={"colour": UnitAttr()}),
     "unexpected properties colour"),
    ("no yield", lambda: _owner(Block([psg.node_op("const").create(result_types=[psg.VALUE])])),
     "not a terminator|one block ending in psg.yield"),
    ("args not described", lambda: _owner(Block([_yield()], arg_types=[psg.VALUE])),
     "the block has 1 arguments but the region describes 0"),
    ("token arg of value type", lambda: _owner(Block([_yield(token=UnitAttr())], arg_types=[psg.VALUE])),
     "of kind 'token' must be !psg.token"),
    ("bad description", lambda: _owner(Block([_yield(params=ArrayAttr([StringAttr("x")]))],
                                             arg_types=[psg.VALUE])), "neither a dictionary"),
    ("negative region", lambda: _owner(Block([_yield(-1)])), "must not be negative"),
]


@pytest.mark.parametrize("make, message", [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_the_verifier_rejects_broken_structure(make, message):
    with pytest.raises(VerifyException, match=message):
        make().verify()


def test_described_params_of_other_kinds_verify():
    description = ArrayAttr([StringAttr("weird"), DictionaryAttr({"n": IntegerAttr(1, i64)})])
    _owner(Block([_yield(params=ArrayAttr([description]), token=UnitAttr())],
                 arg_types=[psg.VALUE, psg.TOKEN])).verify()


# -- the context -------------------------------------------------------------------------------
@pytest.mark.parametrize("allow_unregistered", [False, True])
def test_the_context_makes_an_op_for_any_psg_kind(allow_unregistered):
    text = ('"builtin.module"() ({\n  %n0 = "psg.brand new"() : () -> !psg.value\n'
            '  %n1 = "other.op"() : () -> !psg.value\n}) : () -> ()')
    ctx = psg.PsgContext(allow_unregistered)
    if not allow_unregistered:
        text = text.replace('  %n1 = "other.op"() : () -> !psg.value\n', "")
    module = Parser(ctx, text).parse_module()
    ops = list(module.body.block.ops)
    assert isinstance(ops[0], psg.NodeOp) and ops[0].KIND == "brand new"
    if allow_unregistered:
        assert isinstance(ops[1], UnregisteredOp)


# -- xdsl-opt ---------------------------------------------------------------------------------
def _run(command: list[str], text: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=120)


def test_xdsl_opt_knows_the_dialect_as_a_plugin():
    graph = program()
    run = _run([XDSL_OPT, "--print-op-generic", "--print-debuginfo"], to_mlir(graph))
    assert run.returncode == 0, f"xdsl-opt does not know psg (is the package installed, `make install`?):\n{run.stderr}"
    assert from_mlir(run.stdout) == graph


def test_xdsl_opt_needs_allow_unregistered_for_kinds_no_language_has():
    text = to_mlir(program("brand_new"))
    refused = _run([XDSL_OPT], text)
    assert refused.returncode != 0 and "psg.brand_new is not registered" in refused.stderr
    allowed = _run([XDSL_OPT, "--allow-unregistered-dialect", "--print-op-generic", "--print-debuginfo"], text)
    assert allowed.returncode == 0, allowed.stderr
    assert from_mlir(allowed.stdout) == program("brand_new")


def test_the_psg_driver_knows_every_kind():
    graph = program("brand_new")
    run = _run([sys.executable, "-m", "nanopass.dialects.psg", "--print-op-generic", "--print-debuginfo"],
               to_mlir(graph))
    assert run.returncode == 0, run.stderr
    assert from_mlir(run.stdout) == graph
    assert to_mlir(graph) == to_mlir(from_mlir(run.stdout))


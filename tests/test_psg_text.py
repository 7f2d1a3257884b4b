"""The MLIR text form: exact round trips, the fast reader held to xDSL's, diagnostics, and mlir-opt reading the text."""

from __future__ import annotations

import glob
import math
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrsistent import pmap, pvector

import nanopass.dialects.psg_text as mlir
from nanopass import Builder, DiagnosticError, Graph, Node, Pipeline, Region, Span
from nanopass.diagnostics import UNKNOWN_SPAN
from nanopass.language import VARIADIC
from nanopass.languages import LANGUAGES, Clef, Elaborated
from nanopass.dialects.psg_text import from_mlir, from_mlir_with_xdsl, from_module, to_mlir, to_module
from nanopass.testing.strategies import generated_graph, graphs


# -- exactness -----------------------------------------------------------------------------
def exact_value(value: Any) -> Any:
    """A value's type and bits: `==` takes True for 1, 1 for 1.0, 0.0 for -0.0 and NaN for nothing."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, tuple):
        return ("tuple", tuple(exact_value(v) for v in value))
    return (type(value).__name__, value)


def exact(graph: Graph) -> tuple:
    """Everything a graph holds, annotations included, in exact form."""
    nodes = tuple(
        None if n is None else (n.kind, n.operands, tuple((k, exact_value(v)) for k, v in n.attributes),
                                n.regions, n.effect, n.span)
        for n in graph.nodes
    )
    annotations = {name: {exact_value(k): exact_value(v) for k, v in table.items()}
                   for name, table in graph.annotations.items()}
    return nodes, tuple(graph.regions), graph.root, sorted(annotations.items())


def round_trip(graph: Graph) -> str:
    """Print, read back with both readers, and require the exact same graph from each."""
    text = to_mlir(graph)
    assert exact(from_mlir(text)) == exact(graph)
    assert exact(from_mlir_with_xdsl(text)) == exact(graph)
    return text


PLAIN_VALUES = (0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**200, True, False, 0.0, -0.0, 0.1,
                1e-310, 1e308, math.inf, -math.inf, math.nan, "", "int", 'q"uote', "back\\slash",
                "line\nbreak\ttab\x00\x7f", "é", "中文 🙂", "é\n\"\\ mixed", None, (), (1, "a", None),
                ((("deep",), ()), (True, 1, 1.0)))


# -- hand-built graphs ----------------------------------------------------------------------
def kind_graph(spec) -> Graph:
    """A function whose body holds one node of ``spec``'s kind, shaped as the kind says."""
    b = Builder("kinds.clef")
    with b.region(params=["a", "b"], effect=True) as body:
        a, c = body.params
        count = spec.min_operands + 1 if spec.operands == VARIADIC else spec.operands
        operands = [(a, c)[i % 2] for i in range(count)]
        regions = []
        for _ in range(2 if spec.regions == VARIADIC else spec.regions):
            with b.region(params=["p"], effect=spec.token != "never") as inner:
                inner.yields(b.op("prim", inner.params[0], a, op="+"))
            regions.append(inner.id)
        names = spec.attributes + spec.optional
        values = {name: PLAIN_VALUES[i % len(PLAIN_VALUES)] for i, name in enumerate(names)}
        make = b.op if spec.token == "never" else b.effect_op
        body.yields(make(spec.name, *operands, regions=regions, **values))
    b.op("func", regions=[body.id], name="holder", params=("a", "b"))
    return b.build()


@pytest.mark.parametrize("language, kind_name",
                         [(lang, k) for lang in LANGUAGES.values() for k in sorted(lang.kinds)])
def test_every_kind_of_every_language_round_trips(language, kind_name):
    graph = kind_graph(language.kinds[kind_name])
    text = round_trip(graph)
    assert f'"{mlir.op_name_for_kind(kind_name)}"' in text


def effectful_program() -> Graph:
    """Effect chains at two levels, an effectful if with effect_out, a lambda capturing outer values."""
    b = Builder("prog.clef")
    with b.region(params=["xs", "n"], effect=True) as body:
        xs, n = body.params
        zero = b.op("const", value=0, type="int", span=Span("prog.clef", 2, 5, 2, 6))
        first = b.effect_op("store", xs, zero, n, span=Span("prog.clef", 3, 1, 3, 20))
        with b.region(effect=True) as then:
            then.yields(b.effect_op("native", n, op="printfn"))
        with b.region(effect=True) as else_:
            else_.yields(zero)
        cond = b.op("prim", n, zero, op=">")
        branch = b.effect_op("if", cond, regions=[then.id, else_.id])
        with b.region(params=["y"]) as lam:
            lam.yields(b.op("prim", lam.params[0], n, op="+"))
        closure = b.op("lambda", regions=[lam.id], name="fn")
        body.yields(b.op("tuple", first, branch, closure))
    b.op("func", regions=[body.id], name="main", params=("xs", "n"), attributes=(("EntryPoint", ()),))
    b.op("extern", name="printfn", arity=1, pure=False, cost=38, resource="stdout")
    return b.build()


def test_effect_tokens_and_nested_regions_round_trip():
    graph = effectful_program()
    text = round_trip(graph)
    # Tokens are block arguments of type !psg.token and the last operand of effectful ops.
    assert "!psg.token" in text and "<{effect}>" in text
    assert "token, effect}>" in text  # a yield handing its effect token back
    body = graph.region(graph.node(graph.symbol("main")).regions[0])
    assert body.token is not None and body.effect_out != body.token


def test_ids_are_ssa_names_and_region_ids_are_yield_properties():
    graph = effectful_program()
    text = to_mlir(graph)
    for node_id, node in graph.live_nodes():
        assert f"%n{node_id}" in text
    for region_id in range(1, len(graph.regions)):
        assert f"region = {region_id} : i64" in text
    assert f"psg.node_slots = {len(graph.nodes)} : i64" in text


def test_spans_are_locations_and_round_trip_exactly():
    spans = [UNKNOWN_SPAN, Span("a.clef", 0, 0, 0, 0), Span("a.clef", 3, 4, 3, 4), Span("a.clef", 3, 4, 3, 9),
             Span("a.clef", 3, 4, 7, 2), Span("dir/wé ird\"\\.clef", 1, 1, 2, 1), Span("<unknown>", 1, 1, 1, 1),
             Span("a.clef", 10**9, 10**9, 10**9, 10**9 + 1)]
    b = Builder()
    with b.region(params=["x"], span=spans[3]) as body:
        values = [b.op("const", value=i, type="int", span=span) for i, span in enumerate(spans)]
        body.yields(*values)
    b.op("func", regions=[body.id], name="f", params=("x",), span=spans[4])
    text = round_trip(b.build())
    assert 'loc("a.clef":3:4)' in text
    assert 'loc(fused["a.clef":3:4, "a.clef":3:9])' in text
    assert "loc(unknown)" in text


def test_deleted_node_and_region_slots_round_trip():
    graph = effectful_program()
    main = graph.node(graph.symbol("main"))
    body_id = main.regions[0]
    body = graph.region(body_id)
    lam_node = next(i for i in body.body if graph.node(i).kind == "lambda")
    tuple_node = body.results[0]
    lam_region = graph.node(lam_node).regions[0]
    nodes = graph.nodes.evolver()
    regions = graph.regions.evolver()
    for inner in graph.walk_region(lam_region):
        nodes[inner] = None
    nodes[lam_node] = None
    regions[lam_region] = None
    kept = tuple(o for o in graph.node(tuple_node).operands if o != lam_node)
    nodes[tuple_node] = attrs.evolve(graph.node(tuple_node), operands=kept)
    regions[body_id] = attrs.evolve(body, body=tuple(i for i in body.body if i != lam_node))
    nodes.append(None)  # a trailing deleted slot: the table's length must survive too
    regions.append(None)
    sparse = Graph(nodes.persistent(), regions.persistent(), graph.root)
    assert round_trip(sparse).count("%n") < round_trip(graph).count("%n")
    assert len(from_mlir(to_mlir(sparse)).nodes) == len(sparse.nodes)


@pytest.mark.parametrize("value", PLAIN_VALUES, ids=repr)
def test_attribute_values_keep_type_and_bits(value):
    b = Builder()
    b.op("const", value=value, type="any", list_of_it=(value, (value,)))
    graph = b.build()
    round_trip(graph)
    (_, node), = graph.live_nodes()
    read = from_mlir(to_mlir(graph)).node(0)
    assert exact_value(read.attr("value")) == exact_value(value)
    if value is math.nan:  # the math.nan object comes back itself, so == holds
        assert read == node


def test_attribute_names_of_any_spelling_round_trip():
    # `effect` and `region` are also property names; node attributes must not be taken for them.
    names = {"effect": None, "region": 3, "operandSegmentSizes": (1, 2), "weird name": 1, "psg.root": 2,
             "é": "x", "a-b": (), "0x1": True, "unit": None}
    graph = _graph([Node("const"), Node("custom", (0,), tuple(sorted(names.items())))], [Region(body=(0, 1))])
    round_trip(graph)
    assert from_mlir(to_mlir(graph)).node(1).effect is None


def test_attribute_order_is_kept_even_when_not_sorted():
    graph = Graph(pvector([Node("k", (), (("b", 1), ("a", 2)))]), pvector([Region(body=(0,))]), 0)
    assert from_mlir(to_mlir(graph)).node(0).attributes == (("b", 1), ("a", 2))


@pytest.mark.parametrize("kind", ["yield", "_hidden", "__x", "my.kind", "with space", "", "é", "param", "token"])
def test_any_kind_name_round_trips(kind):
    b = Builder()
    with b.region(params=["x"]) as body:
        body.yields(b.op(kind, body.params[0], tag=kind))
    b.op("func", regions=[body.id], name="f", params=("x",))
    text = round_trip(b.build())
    assert '"psg.yield"(' in text  # the terminator keeps its name whatever the kinds


def test_forward_references_within_a_region_round_trip():
    """Body order need not be a schedule: uses before definitions, a region reading a later outer value, an op reading itself."""
    nodes = [
        Node("prim", (1,), (("op", "neg"),)),  # 0 reads 1, defined after it
        Node("const", (), (("value", 1),)),  # 1
        Node("lambda", (), (), (1,)),  # 2 owns region 1
        Node("prim", (3, 4), (("op", "+"),)),  # 3 in region 1 reads itself and 4, a later root value
        Node("const", (), (("value", 2),)),  # 4
    ]
    regions = [Region(body=(0, 1, 2, 4)), Region(body=(3,), results=(3,))]
    round_trip(Graph(pvector(nodes), pvector(regions), 0))


def test_deep_nesting_round_trips():
    """Deeper than Python's default recursion limit allows xDSL's recursive printer and parser."""
    b = Builder()
    handles = []
    for depth in range(300):
        handles.append(b.region(params=[f"x{depth}"]).__enter__())
    inner = None
    for handle in reversed(handles):
        handle.yields(b.op("prim", handle.params[0], *([] if inner is None else [inner]), op="+"))
        handle.__exit__(None, None, None)
        inner = b.op("lambda", regions=[handle.id])
    round_trip(b.build())


# -- annotations ----------------------------------------------------------------------------
def test_plain_annotation_tables_round_trip():
    graph = effectful_program().annotate("types", {0: "int list", 1: "int"}).annotate(
        "costs", {2: 38, 3: (1, 2.5, None, True)}).annotate("mixed keys", {"x": 1, 2: "y", (1, 2): False})
    text = to_mlir(graph)
    assert 'psg.annotations = {costs = [[2 : i64, 38 : i64]' in text
    read = from_mlir(text)
    assert read.same_annotations(graph)
    assert exact(read) == exact(graph)
    assert exact(from_mlir_with_xdsl(text)) == exact(graph)


@attrs.frozen
class Color:
    name: str


def test_annotation_facts_that_are_attrs_objects_round_trip():
    graph = effectful_program().annotate("colors", {0: Color("red"), 1: (Color("blue"), frozenset({2, 3}))})
    text = to_mlir(graph)
    assert not text.startswith("//")
    assert from_mlir(text).annotations == graph.annotations
    assert from_mlir_with_xdsl(text).annotations == graph.annotations


class Opaque:
    """A fact with no plain-data form: not an attrs class."""


def test_annotation_tables_with_no_plain_data_form_are_left_out_and_named():
    opaque = Opaque()
    graph = effectful_program().annotate("types", {0: "int"}).annotate("handles", {0: opaque})
    text = to_mlir(graph)
    assert text.startswith("// annotation table 'handles' left out:")
    assert from_mlir(text).annotations == pmap({"types": pmap({0: "int"})})
    with pytest.raises(DiagnosticError, match="annotation table 'handles' left out"):
        to_mlir(graph, annotations="strict")
    assert "psg.annotations" not in to_mlir(graph, annotations="none")
    assert from_mlir(to_mlir(graph, annotations="none")) == graph


# -- graphs with no MLIR form ------------------------------------------------------------------
def _graph(nodes, regions, root=0) -> Graph:
    return Graph(pvector(nodes), pvector(regions), root)


UNPRINTABLE = [
    ("orphan", _graph([Node("const"), Node("const")], [Region(body=(0,))]),
     "node %1 (const): it is in no region reachable from the root"),
    ("twice", _graph([Node("lambda", (), (), (1,)), Node("const")], [Region(body=(0, 1)), Region(body=(1,))]),
     "node %1 (const): it is defined in both region"),
    ("unowned region", _graph([Node("const")], [Region(body=(0,)), Region()]),
     "region #1 is owned by no node reachable from the root"),
    ("shared region", _graph([Node("lambda", (), (), (1,)), Node("lambda", (), (), (1,))],
                             [Region(body=(0, 1)), Region()]), "its region #1 is also owned by %0"),
    ("owns the root", _graph([Node("lambda", (), (), (0,))], [Region(body=(0,))]), "its region #0 is the root"),
    ("out of scope", _graph([Node("lambda", (), (), (1,)), Node("const"), Node("prim", (1,))],
                            [Region(body=(0, 2)), Region(body=(1,))]),
     "operand %1 is defined in region #1, which does not enclose node %2"),
    ("deleted operand", _graph([Node("prim", (1,)), None], [Region(body=(0,))]), "operand %1 does not exist"),
    ("deleted result", _graph([Node("lambda", (), (), (1,))], [Region(body=(0,)), Region(results=(5,))]),
     "result %5 does not exist"),
    ("missing node", _graph([], [Region(body=(3,))]), "region #0 lists node %3, which does not exist"),
    ("root params", _graph([Node("param")], [Region(params=(0,))]), "the root region #0 has params"),
    ("no root", _graph([], [], root=0), "the root region #0 does not exist"),
    ("param with operands", _graph([Node("lambda", (), (), (1,)), Node("param", (0,))],
                                   [Region(body=(0,)), Region(params=(1,))]), "a block argument"),
    ("list value", _graph([Node("const", (), (("value", [1]),))], [Region(body=(0,))]),
     "attribute 'value': [1] of type list is not plain data"),
    ("object value", _graph([Node("const", (), (("value", Color("red")),))], [Region(body=(0,))]),
     "Color"),
    ("same name", _graph([Node("const", (), (("a", 1), ("a", 2)))], [Region(body=(0,))]),
     "two attributes of the same name"),
    ("empty name", _graph([Node("const", (), (("", 1),))], [Region(body=(0,))]), "empty name"),
    ("surrogate", _graph([Node("const", (), (("s", "\ud800"),))], [Region(body=(0,))]), "lone surrogates"),
    ("negative span", _graph([Node("const", span=Span("f", -1, 0, 0, 0))], [Region(body=(0,))]),
     "negative line or column"),
]


@pytest.mark.parametrize("graph, message", [case[1:] for case in UNPRINTABLE], ids=[case[0] for case in UNPRINTABLE])
def test_graphs_without_an_mlir_form_are_reported(graph, message):
    with pytest.raises(DiagnosticError) as info:
        to_mlir(graph)
    assert "no MLIR form" in str(info.value)
    assert message in str(info.value)


# -- malformed text ------------------------------------------------------------------------------
GOOD = to_mlir(effectful_program())

MALFORMED = [
    ("truncated", GOOD[: len(GOOD) // 2], None),
    ("not mlir", "hello", "operation hello is not registered"),
    ("unknown op", '"builtin.module"() ({\n  %n0 = "foo.bar"() : () -> !psg.value\n}) : () -> ()',
     "operation foo.bar is not registered"),
    ("unnamed value", '"builtin.module"() ({\n  %x = "psg.const"() : () -> !psg.value\n}) : () -> ()',
     "expected a value named %n<node id>, got %x"),
    ("undefined value", '"builtin.module"() ({\n  %n0 = "psg.prim"(%n9) : (!psg.value) -> !psg.value\n}) : () -> ()',
     "2:20: error: value %n9 is used but not defined"),
    ("wrong result type", '"builtin.module"() ({\n  %n0 = "psg.token"() : () -> !psg.value\n}) : () -> ()',
     "the result must be !psg.token"),
    ("no yield", '"builtin.module"() ({\n  %n0 = "psg.lambda"() ({\n    %n1 = "psg.const"() : () -> !psg.value\n'
                 '  }) : () -> !psg.value\n}) : () -> ()', "must be one block ending in psg.yield"),
    ("yield in root", '"builtin.module"() ({\n  "psg.yield"() <{region = 0 : i64}> : () -> ()\n}) : () -> ()',
     "2:3"),
    ("name location", '"builtin.module"() ({\n  %n0 = "psg.const"() : () -> !psg.value loc("x")\n}) : () -> ()',
     "expected loc(unknown)"),
    ("not plain", '"builtin.module"() ({\n  %n0 = "psg.const"() {v = i32} : () -> !psg.value\n}) : () -> ()',
     "is not plain data"),
    ("defined twice", '"builtin.module"() ({\n  %n0 = "psg.lambda"() ({\n    %n1 = "psg.const"() : () -> !psg.value\n'
                      '    "psg.yield"() <{region = 1 : i64}> : () -> ()\n  }) : () -> !psg.value\n'
                      '  %n1 = "psg.const"() : () -> !psg.value\n}) : () -> ()', "node %n1 is defined twice"),
    ("region twice", '"builtin.module"() ({\n  %n0 = "psg.lambda"() ({\n'
                     '    "psg.yield"() <{region = 0 : i64}> : () -> ()\n  }) : () -> !psg.value\n}) : () -> ()',
     "region #0 is defined twice"),
    ("bad module attribute", '"builtin.module"() ({\n}) {colour = 1 : i64} : () -> ()', "unexpected module attribute"),
    ("value out of range", '"builtin.module"() ({\n  %n0 = "psg.const"() {v = 300 : i8} : () -> !psg.value\n})'
                           ' : () -> ()', "2:"),
    ("too few slots", re.sub(r"psg.node_slots = \d+", "psg.node_slots = 2", GOOD), "psg.node_slots"),
    ("garbage after", GOOD + "%", None),
]


@pytest.mark.parametrize("text, where", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_text_is_a_located_diagnostic(text, where):
    with pytest.raises(DiagnosticError) as info:
        from_mlir(text, filename="bad.mlir")
    report = str(info.value)
    assert report.startswith("bad.mlir:")
    diagnostic = info.value.diagnostics[0]
    assert diagnostic.span.line >= 1 and diagnostic.span.col >= 1
    if where is not None:
        assert where in report
    assert "^" in report  # the caret line under the offending text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_text_is_read_alike_by_both_readers_or_reported(data):
    """Delete, insert or swap one character anywhere: never a traceback, and the fast reader agrees with xDSL's."""
    position = data.draw(st.integers(0, len(GOOD) - 1))
    char = data.draw(st.sampled_from(list('%"{}()[]<>,:=^!0n -x\\\n')))
    edit = data.draw(st.sampled_from(["delete", "insert", "replace"]))
    text = {"delete": GOOD[:position] + GOOD[position + 1:],
            "insert": GOOD[:position] + char + GOOD[position:],
            "replace": GOOD[:position] + char + GOOD[position + 1:]}[edit]
    outcomes = []
    for read in (from_mlir, from_mlir_with_xdsl):
        try:
            outcomes.append(exact(read(text)))
        except DiagnosticError as err:
            outcomes.append(("error", str(err)))
    assert outcomes[0] == outcomes[1]


# -- the fast reader against xDSL's ----------------------------------------------------------------
def weird_names() -> Graph:
    """Kinds, attribute names, strings and file names that need quoting, escapes or non-ASCII text."""
    return _graph([Node("with space", (), (("é", "é\n\"x"), ("a b", math.nan), ("c", 2**70))),
                   Node("yield", (0,), (("_", (-0.0, math.inf)),), (), None, Span('f"\\é', 1, 2, 3, 4))],
                  [Region(body=(0, 1))]).annotate("tâble", {0: "ü\t"})


def test_quoted_and_non_ascii_names_round_trip():
    text = round_trip(weird_names())
    assert '"psg.with space"' in text and '"é" = "é\\0A\\22x"' in text
    assert from_mlir(text).same_annotations(weird_names())


def test_printed_text_never_needs_the_xdsl_parser(monkeypatch):
    def refuse(text, filename="<mlir>"):
        raise AssertionError("from_mlir fell back to the xDSL parser on text to_mlir printed")

    texts = [to_mlir(effectful_program().annotate("types", {0: "int"})), GOOD, to_mlir(weird_names())]
    texts += [to_mlir(kind_graph(lang.kinds[k])) for lang in LANGUAGES.values() for k in lang.kinds]
    monkeypatch.setattr(mlir, "from_mlir_with_xdsl", refuse)
    for text in texts:
        from_mlir(text)


def test_hand_written_text_without_module_attributes_reads_with_defaults():
    text = """
    // The root region is #0 by default; the tables are as long as the ids need.
    "builtin.module"() ({
      %n0 = "psg.const"() {type = "int", value = 41} : () -> !psg.value
      %n1 = "psg.prim"(%n0) {op = "neg"} : (!psg.value) -> !psg.value
    }) : () -> ()
    """
    graph = from_mlir(text)
    assert graph.root == 0 and len(graph.nodes) == 2 and len(graph.regions) == 1
    assert graph.node(1) == Node("prim", (0,), (("op", "neg"),), span=UNKNOWN_SPAN)
    assert exact(from_mlir_with_xdsl(text)) == exact(graph)


def test_a_reproducer_file_reads_back(tmp_path):
    graph = effectful_program()
    path = Pipeline(())._write_reproducer(graph, str(tmp_path / "crash.mlir"))
    text = open(path, encoding="utf-8").read()
    assert "{-#" in text
    assert exact(from_mlir(text)) == exact(graph)
    assert exact(from_mlir_with_xdsl(text)) == exact(graph)


def test_xdsl_module_api_round_trips_and_verifies():
    graph = effectful_program()
    module = to_module(graph)
    module.verify()
    assert from_module(module) == graph


# -- property tests -----------------------------------------------------------------------------------
plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda inner: st.lists(inner, max_size=3).map(tuple),
    max_leaves=6,
)
spans = st.one_of(
    st.just(UNKNOWN_SPAN),
    st.builds(Span, st.text(min_size=1, max_size=8), st.integers(0, 10**6), st.integers(0, 500),
              st.integers(0, 10**6), st.integers(0, 500)),
)


@st.composite
def decorated_graphs(draw, language):
    """Generated graphs with drawn spans, drawn attribute values and drawn annotation tables."""
    graph = draw(graphs(language=language, max_nodes=30))
    nodes = graph.nodes.evolver()
    live = [i for i, n in graph.live_nodes()]
    for node_id in draw(st.lists(st.sampled_from(live), max_size=8, unique=True)) if live else ():
        node = nodes[node_id]
        extra = draw(st.dictionaries(st.text(min_size=1, max_size=6), plain_values, max_size=2))
        merged = {**extra, **dict(node.attributes)}
        nodes[node_id] = attrs.evolve(node, attributes=tuple(sorted(merged.items())), span=draw(spans))
    tables = draw(st.dictionaries(st.text(min_size=1, max_size=6),
                                  st.dictionaries(st.sampled_from(live or [0]), plain_values, max_size=4),
                                  max_size=2))
    return Graph(nodes.persistent(), graph.regions, graph.root,
                 pmap({name: pmap(table) for name, table in tables.items()}))


@pytest.mark.parametrize("language", [Clef, Elaborated], ids=lambda lang: lang.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_round_trip_property(language, data):
    graph = data.draw(decorated_graphs(language))
    round_trip(graph)


def test_large_generated_graph_round_trips():
    graph = generated_graph(3000, seed=7, language=Elaborated)
    round_trip(graph)


# -- mlir-opt -------------------------------------------------------------------------------------------
def find_mlir_opt() -> str | None:
    found = shutil.which("mlir-opt")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/llvm-*/bin/mlir-opt"), key=lambda p: int(p.split("llvm-")[1].split("/")[0]))
    candidates += sorted(glob.glob("/usr/bin/mlir-opt-*"))
    return candidates[-1] if candidates else None


MLIR_OPT = find_mlir_opt()
needs_mlir_opt = pytest.mark.skipif(
    MLIR_OPT is None,
    reason="mlir-opt not found: install Debian's mlir-22-tools (make apt) to check that MLIR reads the psg text",
)


@needs_mlir_opt
@pytest.mark.parametrize("name", ["effects", "kinds", "generated", "weird names"])
def test_mlir_opt_reads_the_text(name, tmp_path):
    graph = {
        "effects": lambda: effectful_program().annotate("types", {0: "int", 1: (1.5, None, True)}),
        "kinds": lambda: kind_graph(Elaborated.kinds["match"]),
        "generated": lambda: generated_graph(2000, seed=11, language=Elaborated),
        "weird names": weird_names,
    }[name]()
    path = tmp_path / "graph.mlir"
    path.write_text(to_mlir(graph), encoding="utf-8")
    run = subprocess.run([MLIR_OPT, "--allow-unregistered-dialect", "--mlir-print-op-generic",
                          "--mlir-print-debuginfo", str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert '"psg.yield"' in run.stdout or name == "weird names"


def test_the_flowloss_table_with_fractions_and_formulas_round_trips():
    from nanopass import Pipeline
    from nanopass.frontend import parse

    path = Path(__file__).resolve().parent.parent / "examples" / "branchy.clef"
    graph = Pipeline.parse("elaborate,reachability,baker,coeffects,color,flowloss").run(
        parse(path.read_text(), str(path))).graph
    text = to_mlir(graph)
    assert "left out" not in text.split("\n", 1)[0]
    assert from_mlir(text).annotation("flowloss") == graph.annotation("flowloss")

"""The pass framework: strictness, generated traversal, analyses and the Rewriter."""

from typing import ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.graph import Builder, Graph, Node
from nanopass.language import kind
from nanopass.languages import Clef, Elaborated
from nanopass.pass_ import Analysis, PassContext, RewritePass, Rewriter
from nanopass.testing.strategies import graphs

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LANGUAGE_GRAPHS = st.sampled_from([Clef, Elaborated]).flatmap(lambda lang: graphs(lang, max_nodes=60))


@attrs.frozen
class Identity(RewritePass):
    name: ClassVar[str] = "test-identity"
    input_language: ClassVar = Clef
    output_language: ClassVar = Clef


@attrs.frozen
class BumpConstants(RewritePass):
    """Rewrites int constants in place; nothing else."""

    name: ClassVar[str] = "test-bump"
    input_language: ClassVar = Clef
    output_language: ClassVar = Clef

    def rewrite_const(self, rw, node_id, node):
        if node.attr("type") == "int":
            return node.with_attrs(value=node.attr("value") + 1)
        return node


@attrs.frozen
class DropNegations(RewritePass):
    """``neg`` of anything is replaced by its operand (uses redirected, node deleted)."""

    name: ClassVar[str] = "test-drop-neg"
    input_language: ClassVar = Clef
    output_language: ClassVar = Clef

    def rewrite_prim(self, rw, node_id, node):
        return node.operands[0] if node.attr("op") == "neg" else None


def test_a_strict_pass_missing_a_kind_fails_when_defined():
    lowered = Clef.delta("lowered", remove=("while",), add=(kind("loop", operands="*", regions=2),))
    with pytest.raises(TypeError, match="strict pass Lowering does not handle kind\\(s\\): while"):
        class Lowering(RewritePass):
            input_language: ClassVar = Clef
            output_language: ClassVar = lowered
            strict: ClassVar[bool] = True

    class Handled(RewritePass):
        input_language: ClassVar = Clef
        output_language: ClassVar = lowered
        strict: ClassVar[bool] = True

        def rewrite_while(self, rw, node_id, node):
            return None

    assert Handled._handlers == {"while": "rewrite_while"}


def test_a_strict_pass_of_every_level_has_nothing_to_handle():
    class AnyLevel(RewritePass):
        input_language: ClassVar = None
        output_language: ClassVar = None
        strict: ClassVar[bool] = True

    assert AnyLevel._handlers == {}


@SETTINGS
@given(LANGUAGE_GRAPHS)
def test_the_identity_traversal_returns_the_very_same_tables(graph):
    out = Identity().run(graph, PassContext())
    assert out.nodes is graph.nodes and out.regions is graph.regions


@SETTINGS
@given(LANGUAGE_GRAPHS)
def test_a_one_kind_rewrite_changes_only_that_kind(graph):
    snapshot = list(graph.nodes)
    ctx = PassContext()
    out = BumpConstants().run(graph, ctx)
    assert list(graph.nodes) == snapshot and all(a is b for a, b in zip(snapshot, graph.nodes))
    assert out.regions is graph.regions
    changed = 0
    for node_id, node in enumerate(graph.nodes):
        after = out.nodes[node_id]
        if node is not None and node.kind == "const" and node.attr("type") == "int":
            assert after == node.with_attrs(value=node.attr("value") + 1)
            changed += 1
        else:
            assert after is node  # carried over: the same object, not a copy
    assert ctx.statistics["rewrote const"] == changed


def test_a_handler_returning_a_value_redirects_uses_and_deletes_the_node():
    b = Builder()
    with b.region(params=["x"]) as body:
        x = body.params[0]
        neg = b.op("prim", x, op="neg")
        double = b.op("prim", neg, neg, op="+")
        body.yields(neg, double)
    b.op("func", regions=[body.id], name="f", params=("x",))
    graph = b.build()
    ctx = PassContext()
    out = DropNegations().run(graph, ctx)
    assert out.nodes[neg] is None
    assert out.region(body.id).body == (double,)
    assert out.region(body.id).results == (x, double)
    assert out.node(double).operands == (x, x)
    assert ctx.statistics["replaced prim"] == 1
    assert Clef.check(out) == []


@attrs.frozen
class CountKinds(Analysis):
    name: ClassVar[str] = "test-count"
    input_language: ClassVar = Clef
    output_language: ClassVar = Clef

    def analyze(self, graph, ctx):
        return {"kind_size": {i: len(n.kind) for i, n in graph.live_nodes()}}


@SETTINGS
@given(LANGUAGE_GRAPHS)
def test_an_analysis_writes_tables_and_never_edits_nodes(graph):
    ctx = PassContext()
    out = CountKinds().run(graph, ctx)
    assert out.nodes is graph.nodes and out.regions is graph.regions
    assert dict(out.annotation("kind_size")) == {i: len(n.kind) for i, n in graph.live_nodes()}
    assert graph.annotation("kind_size") == {}
    assert [v.status for v in CountKinds().validate(graph, out, ctx)] == ["validated"]


def test_analysis_validation_rejects_an_edited_graph():
    graph = Builder().build()
    edited = attrs.evolve(graph, nodes=graph.nodes.append(Node("const", attributes=(("type", "int"), ("value", 0)))))
    [verdict] = CountKinds().validate(graph, edited, PassContext())
    assert verdict.status == "counterexample"


def effectful_program() -> tuple[Graph, dict[str, int]]:
    b = Builder()
    with b.region(params=["a"], effect=True) as body:
        a = body.params[0]
        first = b.op("prim", a, a, op="+")
        second = b.op("prim", a, a, op="+")
        store = b.effect_op("store", a, first, second)
        tell = b.effect_op("tell", a, second)
        body.yields(second)
    b.op("func", regions=[body.id], name="f", params=("a",))
    return b.build(), {"a": a, "first": first, "second": second, "store": store, "tell": tell, "body": body.id}


def test_rewriter_redirect_rewrites_operands_effects_results_and_effect_out():
    graph, ids = effectful_program()
    rw = Rewriter(graph)
    rw.redirect(ids["second"], ids["first"])
    rw.redirect(ids["tell"], ids["store"])  # as if the tell were dropped: its users read the store
    out = rw.finish()
    assert out.node(ids["store"]).operands == (ids["a"], ids["first"], ids["first"])
    assert out.node(ids["tell"]).operands == (ids["a"], ids["first"])
    region = out.region(ids["body"])
    assert region.results == (ids["first"],) and region.effect_out == ids["store"]
    assert out.nodes[ids["first"]] is graph.nodes[ids["first"]]
    assert graph.node(ids["store"]).operands == (ids["a"], ids["first"], ids["second"])  # input untouched


def test_rewriter_redirect_follows_chains_and_survives_cycles():
    graph, ids = effectful_program()
    rw = Rewriter(graph)
    rw.redirect(ids["second"], ids["first"])
    rw.redirect(ids["first"], ids["a"])
    assert rw.resolve(ids["second"]) == ids["a"]
    out = rw.finish()
    assert out.node(ids["store"]).operands == (ids["a"],) * 3
    looping = Rewriter(graph)
    looping.redirect(ids["first"], ids["second"])
    looping.redirect(ids["second"], ids["first"])
    out = looping.finish()  # terminates; each use lands on one of the two
    assert set(out.node(ids["store"]).operands[1:]) <= {ids["first"], ids["second"]}


def test_rewriter_without_edits_returns_the_same_tables():
    graph, _ = effectful_program()
    out = Rewriter(graph).finish()
    assert out.nodes is graph.nodes and out.regions is graph.regions and out == graph

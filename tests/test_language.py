"""Languages: deltas, and `check` catching each kind of violation with a location."""

import attrs
import pytest

from nanopass import Builder, Language, Span, kind
from nanopass.graph import Graph, Node
from nanopass.languages import Clef, Elaborated

Tiny = Language.define(
    "tiny",
    kind("func", attributes=("name", "params"), regions=1),
    kind("param", attributes=("index", "name")),
    kind("token"),
    kind("const", attributes=("value", "type")),
    kind("prim", operands="+", attributes=("op",), optional=("type",)),
    kind("store", operands=3, token="always"),
)


def graph(*, effect=False) -> tuple[Graph, int]:
    b = Builder("lang.clef")
    with b.region(params=["a"], effect=effect) as body:
        c = b.op("const", value=2, type="int", span=Span("lang.clef", 3, 5, 3, 6))
        p = b.op("prim", body.params[0], c, op="*", span=Span("lang.clef", 3, 1, 3, 6))
        body.yields(p)
    b.op("func", regions=[body.id], name="f", params=("a",))
    return b.build(), p


def with_node(g: Graph, node_id: int, **changes) -> Graph:
    return attrs.evolve(g, nodes=g.nodes.set(node_id, attrs.evolve(g.node(node_id), **changes)))


def messages(lang: Language, g: Graph) -> list[str]:
    return [d.message for d in lang.check(g)]


def test_conforming_graph_has_no_diagnostics():
    g, _ = graph()
    assert Tiny.check(g) == []


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"kind": "mystery"}, "kind 'mystery' is not in the language"),
        ({"operands": ()}, "expected at least 1 operands, got 0"),
        ({"attributes": ()}, "missing attribute(s) op"),
        ({"attributes": (("colour", "red"), ("op", "*"))}, "unexpected attribute(s) colour"),
        ({"regions": (0,)}, "expected 0 regions, got 1"),
        ({"effect": 0}, "this kind must not consume an effect token"),
        ({"operands": (0, 99)}, "operand %99 does not exist"),
    ],
)
def test_check_reports_each_violation_at_the_node(changes, expected):
    g, prim = graph()
    bad = with_node(g, prim, **changes)
    diagnostics = Tiny.check(bad)
    assert any(expected in d.message for d in diagnostics), [d.message for d in diagnostics]
    located = [d for d in diagnostics if expected in d.message][0]
    assert located.span == Span("lang.clef", 3, 1, 3, 6)
    assert f"node %{prim}" in located.message


def test_check_reports_missing_token_and_missing_region_and_dangling_result():
    b = Builder()
    with b.region(params=["a", "i", "v"], effect=True) as body:
        store = b.effect_op("store", *body.params)
    b.op("func", regions=[body.id], name="f", params=("a", "i", "v"))
    g = b.build()
    assert Tiny.check(g) == []
    assert any("must consume an effect token" in m for m in messages(Tiny, with_node(g, store, effect=None)))
    func = g.symbol("f")
    assert any("region #7 does not exist" in m for m in messages(Tiny, with_node(g, func, regions=(7,))))
    dangling = attrs.evolve(g, regions=g.regions.set(body.id, attrs.evolve(g.region(body.id), results=(42,))))
    assert any("refers to missing node %42" in m for m in messages(Tiny, dangling))


def test_variadic_region_kind_accepts_any_count():
    g, prim = graph()
    open_regions = Tiny.extend("open", kind("prim", operands="+", attributes=("op",), regions="*"))
    assert open_regions.check(with_node(g, prim, regions=(1,))) == []


def test_deltas_extend_remove_and_report_differences():
    smaller = Tiny.remove("smaller", "store")
    assert "store" not in smaller and smaller.parent == "tiny"
    bigger = smaller.extend("bigger", kind("load", operands=1))
    assert set(bigger.kinds) == set(Tiny.kinds) - {"store"} | {"load"}
    assert Tiny.differs_from(bigger) == {"store", "load"}
    with pytest.raises(ValueError, match="no kind"):
        Tiny.remove("x", "nothing")
    both = Tiny.delta("both", add=[kind("load", operands=1)], remove=["store"])
    assert set(both.kinds) == set(bigger.kinds)


def test_the_pipeline_languages_are_deltas():
    assert Elaborated.parent == "clef"
    removed = {"var", "load", "assign", "bind", "query", "apply", "while"}
    assert removed <= set(Clef.kinds) and not removed & set(Elaborated.kinds)
    assert {"native", "call", "loop", "await"} <= set(Elaborated.kinds)
    assert Elaborated.kinds["store"].token == "always" and Clef.kinds["store"].token == "never"


def test_node_kind_shapes_are_checked_independently_of_graphs():
    spec = kind("pair", operands=2, attributes=("tag",))
    assert spec.check(Node("pair", (1, 2), (("tag", 1),))) == []
    assert spec.check(Node("pair", (1,), ())) == ["expected 2 operands, got 1", "missing attribute(s) tag"]

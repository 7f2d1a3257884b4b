"""The PSG: builder, regions, effect tokens, annotations, structural equality."""

import pytest
from pyrsistent import pvector

from nanopass import Builder, Graph, Node, Region, Span
from nanopass.graph import make_attributes


def build_inc(file: str = "t.clef") -> Graph:
    b = Builder(file)
    with b.region(params=["x"]) as body:
        one = b.op("const", value=1, type="int", span=Span(file, 1, 20, 1, 21))
        body.yields(b.op("prim", body.params[0], one, op="+", span=Span(file, 1, 16, 1, 21)))
    b.op("func", regions=[body.id], name="inc", params=("x",), span=Span(file, 1, 1, 1, 21))
    return b.build()


def test_builder_makes_dense_ids_and_nested_regions():
    g = build_inc()
    assert [n.kind for n in g.nodes] == ["param", "const", "prim", "func"]
    func_id = g.symbol("inc")
    assert func_id == 3
    body = g.region(g.node(func_id).regions[0])
    assert body.params == (0,) and body.body == (1, 2) and body.results == (2,)
    assert list(g.walk_region(g.root)) == [3, 0, 1, 2]
    assert g.owners() == {body_id: func_id for body_id in g.node(func_id).regions}


def test_equality_is_structural_and_ignores_annotations():
    g, h = build_inc(), build_inc()
    assert g == h and g is not h and hash(g.nodes) == hash(h.nodes)
    assert g.annotate("types", {2: "int"}) == g
    assert not g.annotate("types", {2: "int"}).same_annotations(g)
    assert build_inc("other.clef") != g  # spans are part of the structure


def test_effect_ops_thread_tokens_and_close_regions_with_effect_out():
    b = Builder()
    with b.region(params=["a", "i", "v"], effect=True) as body:
        a, i, v = body.params
        first = b.effect_op("store", a, i, v)
        second = b.effect_op("store", a, i, v)
    g = b.build()
    region = g.region(body.id)
    assert g.node(first).effect == region.token
    assert g.node(second).effect == first
    assert region.effect_out == second
    assert g.node(region.token).kind == "token"
    assert g.node(second).inputs() == (0, 1, 2, first)


def test_effect_op_requires_an_effect_region():
    b = Builder()
    with pytest.raises(ValueError, match="effect=True"):
        b.effect_op("store")


def test_regions_close_innermost_first_and_build_needs_all_closed():
    b = Builder()
    outer = b.region()
    outer.__enter__()
    inner = b.region()
    with pytest.raises(ValueError, match="innermost"):
        b._close(outer)
    inner.__exit__(None, None, None)
    with pytest.raises(ValueError, match="still open"):
        b.build()


def test_annotations_are_beside_the_graph_and_persistent():
    g = build_inc()
    typed = g.annotate("types", {0: "int", 2: "int"})
    assert typed.annotation("types")[2] == "int"
    assert g.annotation("types") == {}
    assert typed.nodes is g.nodes


def test_node_attributes_are_canonical_and_hashable():
    assert make_attributes({"b": [1, [2]], "a": "x"}) == (("a", "x"), ("b", (1, (2,))))
    node = Node("prim", (1, 2), make_attributes({"op": "+"}))
    assert node.attr("op") == "+" and node.attr("missing", 7) == 7
    assert node.with_attrs(type="int").attribute_map == {"op": "+", "type": "int"}
    assert hash(node) == hash(Node("prim", (1, 2), (("op", "+"),)))


def test_deleted_slots_raise_and_are_skipped():
    g = build_inc()
    hole = Graph(g.nodes.set(1, None), g.regions, g.root)
    with pytest.raises(KeyError, match="deleted"):
        hole.node(1)
    assert [i for i, _ in hole.live_nodes()] == [0, 2, 3]
    assert len(hole) == 3


def test_region_node_ids_put_token_then_params_then_body():
    region = Region(params=(1, 2), body=(3,), results=(3,), token=0, effect_out=3)
    assert region.node_ids() == (0, 1, 2, 3)
    assert Graph(pvector(), pvector([region]), 0).root_region is region

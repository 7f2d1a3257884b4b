"""The region-tree zipper: navigation laws, persistent replacement, the ordered walk, rewriting to a fixed point."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanopass import Builder, Graph, Node, Region
from nanopass.languages import Elaborated
from nanopass.testing.strategies import graphs
from nanopass.zipper import FixpointNotReached, Zipper, children, preorder, rewrite_to_fixpoint, walk

# Generated programs of both languages: many top-level declarations, nested
# regions (if, match, loops, lambdas), and deleted slots as passes leave them.
region_trees = st.one_of(graphs(max_depth=4), graphs(Elaborated, max_depth=4))


def reference_preorder(graph: Graph, region_id: int) -> list[int]:
    """The order the graph fixes, written straight from the definition."""
    order = [region_id]
    for node_id in graph.region(region_id).body:
        for owned in graph.node(node_id).regions:
            order += reference_preorder(graph, owned)
    return order


def everywhere(graph: Graph) -> list[Zipper]:
    return list(preorder(graph))


# -- hand-made graph ------------------------------------------------------------------
def nested_graph() -> tuple[Graph, dict[str, int]]:
    """func f { c; lambda A { }; if B { lambda D {} } C {} }"""
    b = Builder()
    with b.region(params=["x"]) as f_body:
        c = b.op("const", value=1, type="int")
        with b.region() as a:
            pass
        b.op("lambda", regions=[a.id])
        with b.region() as br:
            with b.region() as d:
                pass
            b.op("lambda", regions=[d.id])
        with b.region() as cr:
            pass
        b.op("if", c, regions=[br.id, cr.id])
    b.op("func", regions=[f_body.id], name="f", params=("x",))
    return b.build(), {"f": f_body.id, "A": a.id, "B": br.id, "C": cr.id, "D": d.id}


def test_moves_follow_body_order_and_fall_off_as_none():
    g, ids = nested_graph()
    top = Zipper.top(g)
    assert top.is_top and top.is_first and top.is_last and top.focus == g.root
    assert top.up() is None and top.left() is None and top.right() is None
    f = top.down()
    assert f.focus == ids["f"] and f.owner() == g.symbol("f") and f.depth == 1
    a = f.down()
    assert a.focus == ids["A"] and a.is_first and a.is_leaf and a.down() is None and a.left() is None
    b = a.right()
    assert b.focus == ids["B"] and b.index == 1
    assert tuple(b.path.left) == (ids["A"],) and tuple(b.path.right) == (ids["C"],)
    c = b.right()
    assert c.focus == ids["C"] and c.is_last and c.right() is None
    assert c.owner() == b.owner() and g.node(c.owner()).kind == "if"
    d = b.down()
    assert d.focus == ids["D"] and d.depth == 3 and d.path.up == b.path
    assert d.up() == b and d.up().up() == f
    assert children(g, ids["f"]) == (ids["A"], ids["B"], ids["C"])


def test_walk_visits_in_preorder_body_order():
    g, ids = nested_graph()
    assert walk(g, lambda z: z.focus) == [g.root, ids["f"], ids["A"], ids["B"], ids["D"], ids["C"]]
    assert walk(g, lambda z: z.depth) == [0, 1, 2, 2, 3, 2]


def test_replace_shares_everything_else_and_keeps_the_old_graph():
    g, ids = nested_graph()
    b = Zipper.top(g).down().down().right()
    emptied = attrs.evolve(b.region, body=())
    edited = b.replace(emptied)
    h = edited.to_graph()
    assert h.region(ids["B"]) == emptied and g.region(ids["B"]).body != ()
    assert h.nodes is g.nodes
    assert all(h.regions[i] is g.regions[i] for i in range(len(g.regions)) if i != ids["B"])
    # The path is still right: up and back down lands on the edited region, now a leaf.
    again = edited.up().down().right()
    assert again.focus == ids["B"] and again.is_leaf and again.graph is h
    assert walk(h, lambda z: z.focus) == [g.root, ids["f"], ids["A"], ids["B"], ids["C"]]


def test_annotations_survive_a_replace():
    g, ids = nested_graph()
    g = g.annotate("types", {0: "int"})
    z = Zipper.top(g).down()
    h = z.replace(attrs.evolve(z.region, results=(z.region.params[0],))).to_graph()
    assert h.annotation("types") == g.annotation("types")


def test_add_node_then_replace_puts_a_new_node_in_the_focus():
    g, ids = nested_graph()
    a = Zipper.top(g).down().down()
    with_node, new_id = a.add_node(Node("const", (), (("type", "int"), ("value", 7))))
    z = with_node.replace(attrs.evolve(with_node.region, body=(new_id,), results=(new_id,)))
    h = z.to_graph()
    assert new_id == len(g.nodes) and h.node(new_id).attr("value") == 7
    assert h.region(ids["A"]).results == (new_id,)
    assert len(g.nodes) == new_id  # the input graph is unchanged


def test_walks_are_iterative_on_deep_nesting_and_wide_rows():
    b = Builder()
    opened = [b.region() for _ in range(2_500)]  # far past Python's recursion limit
    for region in reversed(opened):  # close innermost first; its parent's lambda owns it
        region.__exit__(None, None, None)
        b.op("lambda", regions=[region.id])
    for i in range(2_000):
        with b.region() as r:
            pass
        b.op("lambda", regions=[r.id], name=f"wide{i}")
    g = b.build()
    depths = walk(g, lambda z: z.depth)
    assert depths[:2_501] == list(range(2_501)) and depths[2_501:] == [1] * 2_000
    assert rewrite_to_fixpoint(g, lambda z: None) is g


@settings(max_examples=100, deadline=None)
@given(region_trees)
def test_walk_visits_every_region_once_in_the_fixed_order(g):
    visited = walk(g, lambda z: z.focus)
    assert visited == reference_preorder(g, g.root)
    live = [i for i, r in enumerate(g.regions) if r is not None]
    assert sorted(visited) == live and len(set(visited)) == len(visited)


@settings(max_examples=100, deadline=None)
@given(region_trees)
def test_navigation_laws(g):
    top = Zipper.top(g)
    for z in everywhere(g):
        below = z.down()
        if below is not None:
            assert below.up() == z
            assert below.focus == z.children[0]
        else:
            assert z.is_leaf
        beside = z.right()
        if beside is not None:
            assert beside.left() == z
        else:
            assert z.is_last
        before = z.left()
        if before is not None:
            assert before.right() == z
        else:
            assert z.is_first
        assert z.root() == top
        assert (z.up() is None) == z.is_top


@settings(max_examples=100, deadline=None)
@given(region_trees)
def test_replace_with_the_same_region_gives_an_equal_graph(g):
    for z in everywhere(g):
        same = z.replace(z.region)
        assert same.to_graph() == g and same.to_graph() is g
        # An equal but distinct Region object is the same region, too.
        assert z.replace(attrs.evolve(z.region)).to_graph() is g


@settings(max_examples=100, deadline=None)
@given(region_trees, st.data())
def test_replace_then_up_then_back_down_finds_the_new_region(g, data):
    places = [z for z in everywhere(g) if not z.is_top]
    if not places:
        return
    z = data.draw(st.sampled_from(places))
    replacement = Region(params=z.region.params, body=z.region.body[::-1][:1], results=z.region.params)
    edited = z.replace(replacement)
    back = edited.up().down()
    for _ in range(z.index):
        back = back.right()
    assert back.focus == z.focus and back.region == replacement and back.path == z.path
    h = edited.to_graph()
    assert h.nodes is g.nodes
    assert [r for i, r in enumerate(h.regions) if i != z.focus] == [r for i, r in enumerate(g.regions) if i != z.focus]
    assert edited.root().to_graph() is h
    # The walk of the edited graph is the reference order of the edited graph.
    assert walk(h, lambda w: w.focus) == reference_preorder(h, h.root)


# -- rewriting to a fixed point ----------------------------------------------------------
def _used(graph: Graph) -> set[int]:
    used: set[int] = set()
    for region_id in reference_preorder(graph, graph.root):
        region = graph.region(region_id)
        used.update(region.results)
        for node_id in region.body:
            used.update(graph.node(node_id).inputs())
    return used


def drop_dead_pure_nodes(z: Zipper) -> Zipper | None:
    """Remove the focus's const/prim nodes that nothing in the tree reads."""
    used = _used(z.graph)
    body = tuple(n for n in z.region.body if z.graph.node(n).kind not in ("const", "prim") or n in used)
    return z.replace(attrs.evolve(z.region, body=body)) if body != z.region.body else None


def test_fixpoint_takes_as_many_sweeps_as_the_rewrite_needs():
    # The inner prim reads an outer const: the const dies only after the
    # prim is gone, which the sweep reaches after it has passed the const.
    b = Builder()
    with b.region() as f_body:
        c = b.op("const", value=1, type="int")
        with b.region() as inner:
            b.op("prim", c, op="neg")
        b.op("lambda", regions=[inner.id])
    b.op("func", regions=[f_body.id], name="f", params=())
    g = b.build()
    calls = []

    def counted(z: Zipper) -> Zipper | None:
        calls.append(z.focus)
        return drop_dead_pure_nodes(z)

    h = rewrite_to_fixpoint(g, counted)
    assert h.region(inner.id).body == ()
    assert [h.node(n).kind for n in h.region(f_body.id).body] == ["lambda"]
    # Three sweeps over three regions: the prim goes, then the const, then nothing changes.
    assert calls == [g.root, f_body.id, inner.id] * 3
    assert rewrite_to_fixpoint(h, drop_dead_pure_nodes) is h


@settings(max_examples=100, deadline=None)
@given(region_trees)
def test_fixpoint_leaves_nothing_to_rewrite(g):
    h = rewrite_to_fixpoint(g, drop_dead_pure_nodes)
    assert all(drop_dead_pure_nodes(z) is None for z in preorder(h))
    assert h.nodes is g.nodes  # region edits only: the node table is shared


def test_an_oscillating_rewrite_hits_the_bound():
    g, _ = nested_graph()

    def flip_body(z: Zipper) -> Zipper | None:
        body = z.region.body
        return z.replace(attrs.evolve(z.region, body=body[::-1])) if len(body) > 1 else None

    with pytest.raises(FixpointNotReached, match="10 rewrites changed the graph"):
        rewrite_to_fixpoint(g, flip_body, max_rewrites=10)


def test_a_rewrite_must_return_a_zipper_at_its_own_region():
    g, _ = nested_graph()

    def wander(z: Zipper) -> Zipper | None:
        below = z.down()
        if below is None:
            return None
        return below.replace(attrs.evolve(below.region, results=()) if below.region.results
                             else attrs.evolve(below.region, body=()))

    with pytest.raises(ValueError, match="moved the focus"):
        rewrite_to_fixpoint(g, wander)

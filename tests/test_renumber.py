"""renumber: dense canonical ids, idempotent, and equal programs renumber to equal graphs."""

import random

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrsistent import pmap, pvector

from nanopass.diagnostics import DiagnosticError
from nanopass.graph import Builder, Graph, Node
from nanopass.languages import Clef, Elaborated
from nanopass.pass_ import PassContext
from nanopass.passes.renumber import Renumber, canonical_order
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import generated_graph, graphs

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LANGUAGES = st.sampled_from([Clef, Elaborated])


def renumber(graph: Graph) -> Graph:
    return Renumber().run(graph, PassContext())


def relabel(graph: Graph, rng: random.Random) -> Graph:
    """The same program under shuffled node and region ids, with some empty slots."""
    live_nodes = [i for i, n in enumerate(graph.nodes) if n is not None]
    live_regions = [i for i, r in enumerate(graph.regions) if r is not None]
    node_slots = rng.sample(range(len(live_nodes) + 3), len(live_nodes))
    region_slots = rng.sample(range(len(live_regions) + 2), len(live_regions))
    node_map, region_map = dict(zip(live_nodes, node_slots)), dict(zip(live_regions, region_slots))

    def ids(values):
        return tuple(node_map[v] for v in values)

    nodes = [None] * (max(node_slots) + 1)
    for old, new in node_map.items():
        node = graph.nodes[old]
        nodes[new] = attrs.evolve(node, operands=ids(node.operands), regions=tuple(region_map[r] for r in node.regions),
                                  effect=None if node.effect is None else node_map[node.effect])
    regions = [None] * (max(region_slots) + 1)
    for old, new in region_map.items():
        r = graph.regions[old]
        regions[new] = attrs.evolve(r, params=ids(r.params), body=ids(r.body), results=ids(r.results),
                                    token=None if r.token is None else node_map[r.token],
                                    effect_out=None if r.effect_out is None else node_map[r.effect_out])
    return Graph(pvector(nodes), pvector(regions), region_map[graph.root])


@SETTINGS
@given(LANGUAGES.flatmap(graphs), st.randoms(use_true_random=False))
def test_graphs_equal_up_to_ids_renumber_to_equal_graphs(graph, rng):
    shuffled = relabel(graph, rng)
    assert renumber(shuffled) == renumber(graph)


@SETTINGS
@given(LANGUAGES.flatmap(lambda lang: st.tuples(st.just(lang), graphs(lang))))
def test_output_is_dense_canonical_conforming_and_validated(lang_graph):
    language, graph = lang_graph
    before = graph.nodes, graph.regions
    out = renumber(graph)
    assert (graph.nodes, graph.regions) == before  # the input is untouched
    assert None not in out.nodes and None not in out.regions
    assert out.root == 0
    assert canonical_order(out) == (list(range(len(out.nodes))), list(range(len(out.regions))))
    assert len(out) == len(graph)
    assert language.check(out) == []
    verdicts = Renumber().validate(graph, out, PassContext())
    assert [v.status for v in verdicts] == ["validated"]


@SETTINGS
@given(LANGUAGES.flatmap(graphs))
def test_renumbering_is_idempotent_and_shares_everything_the_second_time(graph):
    once = renumber(graph)
    assert renumber(once) is once


def test_nodes_whose_references_do_not_move_are_shared():
    canonical = renumber(generated_graph(2000, seed=3, language=Elaborated))
    # An unused constant appended to the region the walk visits last keeps the graph canonical.
    last = len(canonical.regions) - 1
    region = canonical.region(last)
    grown = attrs.evolve(
        canonical,
        nodes=canonical.nodes.append(Node("const", attributes=(("type", "int"), ("value", 7)))),
        regions=canonical.regions.set(last, attrs.evolve(region, body=region.body + (len(canonical.nodes),))),
    )
    assert renumber(grown) is grown
    edited = attrs.evolve(grown, nodes=grown.nodes.set(len(canonical.nodes), grown.nodes[-1].with_attrs(value=8)))
    assert renumber(edited) is edited
    # Deleting it again leaves a None slot; compacting it moves nothing else, so every node is shared.
    holed = attrs.evolve(grown, nodes=grown.nodes.set(len(canonical.nodes), None),
                         regions=grown.regions.set(last, region))
    out = renumber(holed)
    assert out == canonical
    assert all(a is b for a, b in zip(out.nodes, canonical.nodes))


def test_deleted_slots_are_compacted_and_annotations_follow_their_nodes():
    b = Builder()
    with b.region(params=["x"]) as body:
        dead = b.op("const", value=9, type="int")
        one = b.op("const", value=1, type="int")
        body.yields(b.op("prim", body.params[0], one, op="+"))
    b.op("func", regions=[body.id], name="inc", params=("x",))
    graph = b.build()
    region = graph.region(body.id)
    graph = Graph(graph.nodes.set(dead, None), graph.regions.set(body.id, attrs.evolve(
        region, body=tuple(i for i in region.body if i != dead))), graph.root)
    graph = graph.annotate("types", {one: "int", dead: "int"})
    ctx = PassContext()
    out = Renumber().run(graph, ctx)
    assert None not in out.nodes
    assert [n.kind for n in out.nodes] == ["func", "param", "const", "prim"]
    assert dict(out.annotation("types")) == {2: "int"}
    assert ctx.statistics["nodes moved"] == 2  # the func (4 -> 0) and its param (0 -> 1)


def test_a_use_of_a_node_no_region_holds_is_a_diagnostic():
    b = Builder()
    with b.region() as body:
        body.yields(b.op("const", value=1, type="int"))
    b.op("func", regions=[body.id], name="f", params=())
    graph = b.build()
    stray = Node("const", attributes=(("type", "int"), ("value", 2)))
    nodes = graph.nodes.append(stray)
    user = Node("prim", (len(graph.nodes),), (("op", "neg"),))
    nodes = nodes.append(user)
    region = graph.region(body.id)
    graph = Graph(nodes, graph.regions.set(body.id, attrs.evolve(region, body=region.body + (len(nodes) - 1,))),
                  graph.root)
    with pytest.raises(DiagnosticError, match=r"uses %\d+, which no region holds"):
        renumber(graph)


def test_validation_catches_a_wrong_renumbering():
    graph = generated_graph(300, seed=1)
    out = renumber(graph)
    swapped = out.nodes.set(5, out.nodes[6]).set(6, out.nodes[5])
    verdicts = Renumber().validate(graph, attrs.evolve(out, nodes=swapped), PassContext())
    assert [v.status for v in verdicts] == ["counterexample"]


def test_pipeline_verifies_renumber_at_the_level_it_is_given():
    for language in (Clef, Elaborated):
        graph = generated_graph(500, seed=2, language=language)
        result = Pipeline.parse("renumber").run(graph)
        assert result.graph == renumber(graph)
        assert language.check(result.graph) == []

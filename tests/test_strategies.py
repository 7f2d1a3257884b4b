"""The graph strategies: generated graphs conform, are scoped, chain their effects, and cover the languages."""

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.graph import Graph
from nanopass.language import Language, kind
from nanopass.languages import Clef, Elaborated
from nanopass.testing.strategies import (
    CONST_TYPES, constants, functions, generated_graph, graphs, node_kinds, pattern_variables, patterns,
)

LANGUAGES = [Clef, Elaborated]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scoping_errors(graph: Graph) -> list[str]:
    """Operands that are not defined earlier in their region or an enclosing one."""
    errors: list[str] = []

    def visit(region_id: int, visible: set[int]) -> None:
        region = graph.region(region_id)
        visible = visible | set(region.params)
        for node_id in region.body:
            node = graph.node(node_id)
            errors.extend(f"%{node_id} reads %{o} out of scope" for o in node.operands if o not in visible)
            for inner in node.regions:
                visit(inner, visible)
            visible = visible | {node_id}
        errors.extend(f"#{region_id} yields %{v} out of scope" for v in region.results if v not in visible)

    for decl_id, decl in graph.top_level():
        for region_id in decl.regions:
            visit(region_id, set())
    return errors


def effect_chain_errors(graph: Graph) -> list[str]:
    """Each region's effectful nodes form one chain from its entry token to its effect_out."""
    errors = []
    for region_id, region in enumerate(graph.regions):
        if region is None:
            continue
        current = region.token
        for node_id in region.body:
            effect = graph.node(node_id).effect
            if effect is not None:
                if effect != current:
                    errors.append(f"%{node_id} consumes %{effect}, expected %{current}")
                current = node_id
        if region.effect_out != current:
            errors.append(f"#{region_id} hands back %{region.effect_out}, expected %{current}")
    return errors


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.name)
def test_generated_graphs_conform_are_scoped_and_chain_effects(language):
    @SETTINGS
    @given(graphs(language))
    def check(graph):
        assert language.check(graph) == []
        assert scoping_errors(graph) == []
        assert effect_chain_errors(graph) == []

    check()


def test_the_default_language_is_clef():
    @SETTINGS
    @given(graphs())
    def check(graph):
        assert Clef.check(graph) == []
        assert all(node.effect is None for _, node in graph.live_nodes())

    check()


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.name)
def test_generated_graphs_cover_every_body_kind(language):
    seen: Counter = Counter()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(graphs(language))
    def collect(graph):
        seen.update(node.kind for _, node in graph.live_nodes())

    collect()
    # The source language lists `token` but has no effect edges, so nothing there needs one.
    expected = set(language.kinds) - ({"token"} if language is Clef else set())
    assert expected - set(seen) == set()


def test_elaborated_graphs_have_effectful_regions_and_tokened_control():
    tokened: Counter = Counter()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(graphs(Elaborated))
    def collect(graph):
        tokened.update(node.kind for _, node in graph.live_nodes() if node.effect is not None)

    collect()
    assert {"store", "await", "post", "tell", "call", "native", "if"} <= set(tokened)


def test_deleted_slots_occur_and_are_unreferenced():
    deleted = []

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(graphs(Elaborated))
    def collect(graph):
        if any(node is None for node in graph.nodes):
            deleted.append(graph)
            assert Elaborated.check(graph) == []

    collect()
    assert deleted


@given(functions(Elaborated))
@SETTINGS
def test_functions_hold_one_declaration(graph):
    assert [node.kind for _, node in graph.top_level()] == ["func"]
    assert Elaborated.check(graph) == []


@given(constants())
def test_constants_carry_their_type(pair):
    value, type_name = pair
    assert type_name in CONST_TYPES
    expected = {"unit": type(None), "bool": bool, "string": str, "float": float, "float32": float}
    assert isinstance(value, expected.get(type_name, int))


@given(patterns())
def test_pattern_variables_are_distinct_binds(pattern):
    names = pattern_variables(pattern)
    assert len(names) == len(set(names))
    assert all(name.startswith("v") for name in names)


@given(node_kinds(Elaborated))
def test_node_kinds_are_body_kinds_of_the_language(name):
    assert name in Elaborated
    assert name not in ("func", "global", "extern", "typedef", "param", "token")


def test_a_user_language_kind_is_built_from_its_shape():
    language = Clef.extend("user", kind("spawn", operands="+", attributes=("lane",), regions=1))

    @SETTINGS
    @given(graphs(language))
    def check(graph):
        assert language.check(graph) == []

    check()
    graph = generated_graph(3000, seed=4, language=language)
    assert any(node.kind == "spawn" for _, node in graph.live_nodes())


def test_a_language_without_functions_is_refused():
    with pytest.raises(ValueError, match="no 'func' kind"):
        generated_graph(10, language=Language.define("bare", kind("const", attributes=("value", "type"))))


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.name)
def test_generated_graph_has_the_requested_size_and_is_deterministic(language):
    graph = generated_graph(5000, seed=7, language=language)
    assert 5000 <= len(graph) <= 5000 + 20
    assert language.check(graph) == []
    assert scoping_errors(graph) == []
    assert effect_chain_errors(graph) == []
    assert graph == generated_graph(5000, seed=7, language=language)
    assert graph != generated_graph(5000, seed=8, language=language)
    nesting = sum(1 for _, node in graph.live_nodes() if node.regions and node.kind != "func")
    assert nesting > 50

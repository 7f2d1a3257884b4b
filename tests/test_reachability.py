"""reachability: prunes exactly what no entry point reaches, and says so."""

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.diagnostics import DiagnosticError
from nanopass.graph import Builder, Graph
from nanopass.languages import Elaborated
from nanopass.pass_ import PassContext
from nanopass.passes.reachability import Reachability, reachable, roots, unreached_uses
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import generated_graph, graphs

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def program():
    """main (entry) calls helper and stores; helper reads a pure global; dead code around them."""
    b = Builder()
    ids = {}
    ids["point"] = b.op("typedef", name="Point", form="record", fields=("X", "Y"))
    ids["log"] = b.op("extern", name="log", arity=1, pure=False)
    ids["unused_extern"] = b.op("extern", name="beep", arity=1, pure=False)
    with b.region() as body:
        body.yields(b.op("const", value=2, type="int"))
    ids["scale"] = b.op("global", regions=[body.id], name="scale")
    with b.region(effect=True) as body:
        ids["init_log"] = b.op("ref", name="log")
        b.effect_op("call", ids["init_log"], ids["init_log"], callee="log")
        body.yields(b.op("const", value=None, type="unit"))
    ids["banner"] = b.op("global", regions=[body.id], name="banner")
    with b.region(params=["x"]) as body:
        scale = b.op("ref", name="scale")
        ids["dead_in_helper"] = b.op("prim", body.params[0], body.params[0], op="-")
        with b.region(params=["y"]) as inner:
            inner.yields(b.op("prim", inner.params[0], scale, op="*"))
        ids["dead_lambda"] = b.op("lambda", regions=[inner.id])
        ids["dead_lambda_region"] = inner.id
        body.yields(b.op("prim", body.params[0], scale, op="*"))
    ids["helper"] = b.op("func", regions=[body.id], name="helper", params=("x",))
    with b.region(params=["n"]) as body:
        body.yields(body.params[0])
    ids["unused"] = b.op("func", regions=[body.id], name="unused", params=("n",))
    with b.region(params=["a"], effect=True) as body:
        helper = b.op("ref", name="helper")
        result = b.op("call", helper, body.params[0], callee="helper")
        ids["dead_const"] = b.op("const", value=7, type="int")
        log = b.op("ref", name="log")
        ids["kept_call"] = b.effect_op("call", log, result, callee="log")
        body.yields(result)
    ids["main"] = b.op("func", regions=[body.id], name="main", params=("a",),
                       attributes=(("EntryPoint", ()),))
    return b.build(), ids


def run(graph, **options):
    ctx = PassContext()
    return Reachability(**options).run(graph, ctx), ctx


def live_names(graph):
    return [node.attr("name") for _, node in graph.top_level()]


def test_entry_point_keeps_what_it_reaches_by_data_effect_region_and_name():
    graph, ids = program()
    assert Elaborated.check(graph) == []
    out, ctx = run(graph)
    assert Elaborated.check(out) == []
    # banner runs at start-up (its region has effects), so it stays without being called.
    assert live_names(out) == ["Point", "log", "scale", "banner", "helper", "main"]
    for pruned in ("unused_extern", "unused", "dead_in_helper", "dead_lambda", "dead_const"):
        assert out.nodes[ids[pruned]] is None, pruned
    assert out.regions[ids["dead_lambda_region"]] is None
    assert out.nodes[ids["kept_call"]] is graph.nodes[ids["kept_call"]]
    assert ctx.statistics["pruned declarations"] == 2
    assert ctx.statistics["pruned regions"] == 2  # unused's body and the dead lambda's
    assert ctx.statistics["pruned nodes"] == sum(1 for n in graph.nodes if n) - sum(1 for n in out.nodes if n)


def test_entries_option_in_pipeline_text_overrides_the_marks():
    graph, _ = program()
    result = Pipeline.parse("reachability{entries=unused+helper}").run(graph)
    assert live_names(result.graph) == ["Point", "log", "scale", "banner", "helper", "unused"]
    assert str(Pipeline.parse("reachability{entries=unused+helper}")) == "reachability{entries=unused+helper}"


def test_banner_keeps_the_extern_it_calls():
    graph, _ = program()
    out, _ = run(graph, entries="unused")
    assert live_names(out) == ["Point", "log", "banner", "unused"]


def test_a_library_without_entry_points_keeps_every_function_and_global():
    graph, ids = program()
    main = graph.node(ids["main"])
    graph = attrs.evolve(graph, nodes=graph.nodes.set(ids["main"], main.with_attrs(attributes=())))
    out, _ = run(graph)
    assert live_names(out) == ["Point", "log", "scale", "banner", "helper", "unused", "main"]
    assert out.nodes[ids["dead_const"]] is None


def test_an_unknown_entry_is_a_diagnostic_naming_the_declarations():
    graph, _ = program()
    with pytest.raises(DiagnosticError, match="entry point\\(s\\) nope are not top-level declarations"):
        run(graph, entries="nope")


def test_validation_catches_a_pruned_reachable_node():
    graph, ids = program()
    out, ctx = run(graph)
    assert Reachability().validate(graph, out, ctx)[0].status == "validated"
    helper_region = graph.node(ids["helper"]).regions[0]
    used = graph.region(helper_region).results[0]
    broken = attrs.evolve(out, nodes=out.nodes.set(used, None))
    verdict = Reachability().validate(graph, broken, ctx)[0]
    assert verdict.status == "counterexample"
    assert f"pruned %{used}" in verdict.detail
    wrong_root = attrs.evolve(out, nodes=out.nodes.set(ids["main"], None))
    assert "root" in Reachability().validate(graph, wrong_root, ctx)[0].detail


@SETTINGS
@given(graphs(Elaborated, max_nodes=60), st.booleans())
def test_generated_graphs_prune_soundly_and_completely(graph, by_name):
    names = [node.attr("name") for _, node in graph.top_level() if node.kind == "func"]
    entries = names[0] if by_name else ""
    snapshot = (list(graph.nodes), list(graph.regions))
    out, ctx = run(graph, entries=entries)
    # the input is untouched, object for object
    assert all(a is b for a, b in zip(snapshot[0], graph.nodes)) and len(snapshot[0]) == len(graph.nodes)
    assert all(a is b for a, b in zip(snapshot[1], graph.regions))
    assert Elaborated.check(out) == []
    start = roots(graph, [entries] if entries else [])
    kept, _ = reachable(graph, start)
    assert {i for i, _ in out.live_nodes()} == kept
    assert all(out.nodes[i] is graph.nodes[i] for i in kept)  # pruning never rebuilds a kept node
    assert unreached_uses(graph, out, start) == []  # the pass's own obligation (z3 refinement is tested elsewhere)
    again, again_ctx = run(out, entries=entries)
    assert again == out and not again_ctx.statistics


def test_large_generated_graph_loses_its_dead_code():
    graph = generated_graph(20_000, seed=5, language=Elaborated)
    out, ctx = run(graph)
    assert ctx.statistics["pruned nodes"] > 1000
    assert Elaborated.check(out) == []
    assert len(out) + ctx.statistics["pruned nodes"] == len(graph)

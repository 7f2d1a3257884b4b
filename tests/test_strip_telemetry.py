"""strip-telemetry: takes every probe out, giving back exactly the graph telemetry was given."""

from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.frontend import parse
from nanopass.graph import Builder
from nanopass.languages import Saturated, Telemetry as TelemetryLanguage
from nanopass.pass_ import PassContext
from nanopass.passes.strip_telemetry import StripTelemetry
from nanopass.passes.telemetry import Telemetry
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import graphs

EXAMPLES = Path("/work/shared/examples")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def strip(graph):
    ctx = PassContext()
    return StripTelemetry().run(graph, ctx), ctx


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.clef")), ids=lambda p: p.stem)
def test_telemetry_then_strip_is_the_identity_on_the_examples(path):
    before = Pipeline.parse("elaborate,reachability,baker,coeffects").run(parse(path.read_text(), path.name)).graph
    result = Pipeline.parse("telemetry,strip-telemetry").run(before, validate=True)
    after = result.graph
    assert after == before
    assert after.annotation("types") == before.annotation("types")
    assert Saturated.check(after) == []
    assert all(v.status == "validated" for v in result.verdicts)


@SETTINGS
@given(graphs(Saturated, max_nodes=60), st.sampled_from(["cycles+latency+queue", "latency+queue", "cycles"]))
def test_telemetry_then_strip_is_the_identity_on_any_graph(graph, kinds):
    probed = Telemetry(probes=kinds).run(graph, PassContext())
    stripped, ctx = strip(probed)
    assert stripped == graph
    assert ctx.statistics["probes removed"] == sum(1 for _, n in probed.live_nodes() if n.kind == "probe")
    assert [v.status for v in StripTelemetry().validate(probed, stripped, ctx)] == ["validated"]


def test_a_graph_ending_in_deleted_slots_keeps_them():
    graph = Pipeline.parse("elaborate,reachability,baker").run(
        parse((EXAMPLES / "actors.clef").read_text(), "actors.clef")).graph
    # Slots a pass deleted at the end of the tables (reachability leaves such): they are the graph's own.
    trimmed = attrs.evolve(graph, nodes=graph.nodes.extend([None, None]), regions=graph.regions.append(None))
    probed = Telemetry().run(trimmed, PassContext())
    assert len(probed.nodes) > len(trimmed.nodes)
    stripped, _ = strip(probed)
    assert stripped == trimmed and len(stripped.nodes) == len(trimmed.nodes)


def test_a_graph_without_probes_is_returned_as_it_is():
    graph = Pipeline.parse("elaborate,reachability,baker").run(
        parse((EXAMPLES / "counter.clef").read_text(), "counter.clef")).graph
    stripped, ctx = strip(graph)
    assert stripped is graph and ctx.statistics["probes removed"] == 0


def hand_made():
    """f (x) = log (x + 1) with the effectful call and the add each inside a probe; the add's probe
    sits inside the call's probe region."""
    b = Builder()
    log = b.op("extern", name="log", arity=1, pure=False, resource="disk")
    with b.region(params=["x"], effect=True) as body:
        one = b.op("const", value=1, type="int")
        with b.region() as add_region:
            added = b.op("prim", body.params[0], one, op="+", type="int")
            add_region.yields(added)
        with b.region(effect=True) as call_region:
            inner = b.op("probe", regions=[add_region.id], probe="cycles", site="f:+@0:0")
            callee = b.op("ref", name="log")
            call = b.effect_op("call", callee, inner, callee="log")
            call_region.yields(call)
        probe = b.effect_op("probe", regions=[call_region.id], probe="latency", site="f:call log@0:0")
        body.yields(probe)
    b.op("func", regions=[body.id], name="f", params=("x",))
    return b.build(), log


def test_nested_probes_and_tokens_are_put_back():
    graph, _ = hand_made()
    assert TelemetryLanguage.check(graph) == []
    stripped, ctx = strip(graph)
    assert Saturated.check(stripped) == [] and ctx.statistics["probes removed"] == 2
    (f,) = [n for _, n in stripped.top_level() if n.kind == "func"]
    region = stripped.region(f.regions[0])
    kinds = [stripped.node(i).kind for i in region.body]
    assert kinds == ["const", "prim", "ref", "call"]
    call = stripped.node(region.body[-1])
    # The call consumes the function's entry token again, yields the function's value, and ends its chain.
    assert call.effect == region.token and region.results == (region.body[-1],) == (region.effect_out,)
    assert call.operands[1] == region.body[1]
    assert all(n.kind != "token" or i == region.token for i, n in stripped.live_nodes())


def test_validation_names_a_probe_left_behind_and_a_lost_node():
    graph, _ = hand_made()
    stripped, ctx = strip(graph)
    assert StripTelemetry().validate(graph, graph, ctx)[0].status == "counterexample"
    (f,) = [i for i, n in stripped.top_level() if n.kind == "func"]
    add = next(i for i in stripped.walk_region(stripped.node(f).regions[0]) if stripped.node(i).kind == "prim")
    broken = attrs.evolve(stripped, nodes=stripped.nodes.set(add, stripped.node(add).with_attrs(op="-")))
    verdict = StripTelemetry().validate(graph, broken, ctx)[0]
    assert verdict.status == "counterexample" and f"%{add} (prim) was lost or changed" in verdict.detail

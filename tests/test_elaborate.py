"""elaborate: intrinsics become native ops, effects become token chains, mutable locals become SSA values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass import Builder, DiagnosticError, Graph, PassContext, Pipeline, Span
from nanopass.frontend import parse
from nanopass.frontend import types as T
from nanopass.frontend.units import Measure
from nanopass.interpreter import run_graph
from nanopass.languages import Clef, Elaborated
from nanopass.passes.elaborate import Elaborate
from nanopass.testing.strategies import graphs


def elaborate(graph: Graph) -> tuple[Graph, PassContext]:
    assert Clef.check(graph) == []
    ctx = PassContext()
    out = Elaborate().run(graph, ctx)
    assert Elaborated.check(out) == [], [d.message for d in Elaborated.check(out)]
    return out, ctx


def body_of(graph: Graph, name: str):
    return graph.region(graph.node(graph.symbol(name)).regions[0])


def kinds(graph: Graph, region) -> list[str]:
    return [graph.node(n).kind for n in region.body]


def nodes_of_kind(graph: Graph, kind: str) -> list[int]:
    return [i for i, n in graph.live_nodes() if n.kind == kind]


def func(b: Builder, name: str, region) -> int:
    return b.op("func", regions=[region.id], name=name, params=tuple(f"p{i}" for i in range(len(region.params))))


def const(b: Builder, value, type_name="int") -> int:
    return b.op("const", value=value, type=type_name)


# -- mutable locals -----------------------------------------------------------------------
def test_straight_line_assignments_rebind_the_value():
    b = Builder()
    with b.region(params=["x"]) as f:
        cell = b.op("var", f.params[0], name="acc")
        doubled = b.op("prim", b.op("load", cell), b.op("load", cell), op="+")
        b.op("assign", cell, doubled)
        tripled = b.op("prim", b.op("load", cell), f.params[0], op="+")
        b.op("assign", cell, tripled)
        f.yields(b.op("load", cell))
    func(b, "f", f)
    graph = b.build()
    out, ctx = elaborate(graph)
    region = body_of(out, "f")
    assert region.results == (tripled,)
    assert out.node(doubled).operands == (f.params[0], f.params[0])
    assert out.node(tripled).operands == (doubled, f.params[0])
    assert not any(n.kind in ("var", "load", "assign") for _, n in out.live_nodes())
    assert ctx.statistics["mutable locals made SSA"] == 1
    same_runs(graph, "f", [(2,), (-5,)])


def test_if_that_assigns_yields_the_new_value_and_projs_take_it_apart():
    b = Builder()
    with b.region(params=["c", "x"]) as f:
        cell = b.op("var", const(b, 0), name="n")
        with b.region() as then:
            b.op("assign", cell, f.params[1])
            then.yields(const(b, 1))
        with b.region() as other:
            other.yields(const(b, 2))
        branch = b.op("if", f.params[0], regions=[then.id, other.id])
        f.yields(b.op("prim", branch, b.op("load", cell), op="+"))
    func(b, "f", f)
    graph = b.build()
    out, _ = elaborate(graph)
    region = body_of(out, "f")
    then_region, else_region = out.region(then.id), out.region(other.id)
    assert then_region.results[1] == f.params[1]  # the assigned value
    assert out.node(else_region.results[1]).attr("value") == 0  # the value before the branch
    value, new_n = [n for n in region.body if out.node(n).kind == "proj"]
    assert {out.node(value).attr("index"), out.node(new_n).attr("index")} == {0, 1}
    total = out.node(region.results[0])
    proj_by_index = {out.node(p).attr("index"): p for p in (value, new_n)}
    assert total.operands == (proj_by_index[0], proj_by_index[1])
    same_runs(graph, "f", [(True, 5), (False, 5)])


def test_while_becomes_a_loop_carrying_the_assigned_locals():
    b = Builder()
    with b.region(params=["n"]) as f:
        total = b.op("var", const(b, 0), name="total")
        i = b.op("var", const(b, 0), name="i")
        untouched = b.op("var", const(b, 7), name="k")
        with b.region() as cond:
            cond.yields(b.op("prim", b.op("load", i), f.params[0], op="<"))
        with b.region() as body:
            b.op("assign", total, b.op("prim", b.op("load", total), b.op("load", i), op="+"))
            b.op("assign", i, b.op("prim", b.op("load", i), const(b, 1), op="+"))
        b.op("while", regions=[cond.id, body.id])
        f.yields(b.op("prim", b.op("load", total), b.op("load", untouched), op="+"))
    func(b, "f", f)
    graph = b.build()
    out, ctx = elaborate(graph)
    (loop,) = nodes_of_kind(out, "loop")
    assert len(out.node(loop).operands) == 2  # total and i, not k
    cond_region, body_region = (out.region(r) for r in out.node(loop).regions)
    assert len(cond_region.params) == len(body_region.params) == 2
    next_total, next_i = body_region.results
    assert out.node(next_total).operands == body_region.params
    assert out.node(cond_region.results[0]).operands == (cond_region.params[1], f.params[0])
    result = out.node(body_of(out, "f").results[0])
    final_total = out.node(result.operands[0])
    assert final_total.kind == "proj" and final_total.operands == (loop,) and final_total.attr("index") == 0
    assert out.node(result.operands[1]).attr("value") == 7
    assert ctx.statistics["loops with carried values"] == 1
    same_runs(graph, "f", [(0,), (4,)])


@pytest.mark.parametrize("kind", ["for", "foreach"])
def test_for_loops_get_carried_values_as_extra_operands_and_params(kind):
    b = Builder()
    with b.region(params=["xs"]) as f:
        acc = b.op("var", const(b, 0), name="acc")
        head = (const(b, 0), const(b, 9)) if kind == "for" else (f.params[0],)
        with b.region(params=["i"]) as body:
            b.op("assign", acc, b.op("prim", b.op("load", acc), body.params[0], op="+"))
        b.op(kind, *head, regions=[body.id])
        f.yields(b.op("load", acc))
    func(b, "f", f)
    graph = b.build()
    out, _ = elaborate(graph)
    (loop,) = nodes_of_kind(out, kind)
    node = out.node(loop)
    assert node.operands[: len(head)] == head and len(node.operands) == len(head) + 1
    body_region = out.region(node.regions[0])
    index, carried = body_region.params
    assert out.node(carried).attr("index") == 1 and out.node(carried).attr("name") == "acc"
    assert out.node(body_region.results[0]).operands == (carried, index)
    result = out.node(body_of(out, "f").results[0])
    assert result.kind == "proj" and result.operands == (loop,)
    same_runs(graph, "f", [([1, 2, 3],)])


def test_a_loop_value_read_as_unit_becomes_a_unit_constant():
    b = Builder()
    with b.region() as f:
        with b.region() as cond:
            cond.yields(const(b, False, "bool"))
        with b.region() as body:
            pass
        f.yields(b.op("while", regions=[cond.id, body.id]))
    func(b, "f", f)
    out, _ = elaborate(b.build())
    result = out.node(body_of(out, "f").results[0])
    assert (result.kind, result.attr("value"), result.attr("type")) == ("const", None, "unit")


def test_capturing_a_mutable_local_in_a_closure_is_a_located_diagnostic():
    b = Builder("cap.clef")
    with b.region() as f:
        cell = b.op("var", const(b, 0), name="count")
        with b.region(params=["x"]) as lam:
            lam.yields(b.op("load", cell, span=Span("cap.clef", 4, 9, 4, 14)))
        f.yields(b.op("lambda", regions=[lam.id]))
    func(b, "f", f)
    with pytest.raises(DiagnosticError) as err:
        Elaborate().run(b.build(), PassContext())
    (diagnostic,) = err.value.diagnostics
    assert str(diagnostic.span) == "cap.clef:4:9"
    assert "'count'" in diagnostic.message and "captured" in diagnostic.message


# -- effects ------------------------------------------------------------------------------------
def effect_program() -> tuple[Graph, dict[str, int]]:
    """``log`` is effectful, ``pureExt`` pure; ``outer`` calls ``inner`` which calls ``log``."""
    b = Builder()
    b.op("extern", name="log", arity=1)
    b.op("extern", name="pureExt", arity=1, pure=True)
    ids = {}
    with b.region(params=["x"]) as inner:
        ids["first"] = b.op("apply", b.op("ref", name="log"), inner.params[0])
        ids["pure"] = b.op("apply", b.op("ref", name="pureExt"), inner.params[0])
        ids["second"] = b.op("apply", b.op("ref", name="log"), ids["pure"])
        inner.yields(ids["second"])
    func(b, "inner", inner)
    with b.region(params=["x"]) as outer:
        ids["call_inner"] = b.op("apply", b.op("ref", name="inner"), outer.params[0])
        outer.yields(ids["call_inner"])
    func(b, "outer", outer)
    with b.region(params=["n"]) as rec:  # a pure recursive function stays pure
        ids["call_self"] = b.op("apply", b.op("ref", name="count"), rec.params[0])
        rec.yields(ids["call_self"])
    func(b, "count", rec)
    return b.build(), ids


def test_effects_are_threaded_in_body_order_through_an_entry_token():
    out, ctx = elaborate(effect_program()[0])
    graph, ids = effect_program()
    region = body_of(out, "inner")
    first, pure, second = (out.node(ids[k]) for k in ("first", "pure", "second"))
    assert out.node(region.token).kind == "token"
    assert first.effect == region.token
    assert pure.effect is None
    assert second.effect == ids["first"]
    assert region.effect_out == ids["second"]
    assert ctx.statistics["effectful nodes threaded"] == 3


def test_effectful_functions_are_a_fixed_point_over_the_call_graph():
    out, ctx = elaborate(effect_program()[0])
    _, ids = effect_program()
    call_inner = out.node(ids["call_inner"])
    assert (call_inner.kind, call_inner.attr("callee")) == ("call", "inner")
    assert call_inner.effect == body_of(out, "outer").token
    assert out.node(ids["call_self"]).effect is None
    assert body_of(out, "count").token is None and body_of(out, "count").effect_out is None
    assert ctx.statistics["effectful functions"] == 2


def test_effectful_branches_chain_the_if_in_its_parent():
    b = Builder()
    b.op("extern", name="log", arity=1)
    with b.region(params=["c"]) as f:
        with b.region() as then:
            then.yields(b.op("apply", b.op("ref", name="log"), const(b, 1)))
        with b.region() as other:
            other.yields(const(b, 2))
        branch = b.op("if", f.params[0], regions=[then.id, other.id])
        after = b.op("apply", b.op("ref", name="log"), branch)
        f.yields(after)
    func(b, "f", f)
    out, _ = elaborate(b.build())
    region = body_of(out, "f")
    assert out.node(branch).effect == region.token
    assert out.node(after).effect == branch
    assert out.region(then.id).token is not None and out.region(then.id).effect_out is not None
    assert out.region(other.id).token is None and out.region(other.id).effect_out is None


def test_store_post_and_tell_consume_tokens():
    b = Builder()
    with b.region(params=["a", "actor"]) as f:
        store = b.op("store", f.params[0], const(b, 0), const(b, 1.0, "float"))
        post = b.op("post", f.params[1], const(b, 3))
        tell = b.op("tell", f.params[1], post)
        f.yields(tell)
    func(b, "f", f)
    out, _ = elaborate(b.build())
    token = body_of(out, "f").token
    assert [out.node(n).effect for n in (store, post, tell)] == [token, store, post]


def test_a_native_op_handed_an_effectful_closure_takes_a_token():
    b = Builder()
    b.op("extern", name="log", arity=1)
    with b.region(params=["xs"]) as f:
        with b.region(params=["x"]) as lam:
            lam.yields(b.op("apply", b.op("ref", name="log"), lam.params[0]))
        closure = b.op("lambda", regions=[lam.id])
        mapped = b.op("apply", b.op("ref", name="Array.map"), closure, f.params[0])
        with b.region(params=["x"]) as pure_lam:
            pure_lam.yields(pure_lam.params[0])
        pure_mapped = b.op("apply", b.op("ref", name="Array.map"), b.op("lambda", regions=[pure_lam.id]), mapped)
        f.yields(pure_mapped)
    func(b, "f", f)
    out, _ = elaborate(b.build())
    assert out.node(mapped).kind == "native" and out.node(mapped).effect == body_of(out, "f").token
    assert out.node(pure_mapped).effect is None
    assert out.region(lam.id).token is not None


# -- calls, intrinsics, queries, async -----------------------------------------------------------
def call_program() -> tuple[Graph, dict[str, int]]:
    b = Builder("calls.clef")
    ids = {}
    with b.region(params=["a", "b"]) as add:
        add.yields(b.op("prim", add.params[0], add.params[1], op="+"))
    func(b, "add", add)
    with b.region(params=["xs"]) as f:
        ids["native"] = b.op("apply", b.op("ref", name="sqrt"), const(b, 4.0, "float"))
        ids["pap"] = b.op("apply", b.op("ref", name="add"), const(b, 1))
        ids["call"] = b.op("apply", b.op("ref", name="add"), const(b, 1), const(b, 2))
        ids["closure_call"] = b.op("apply", ids["pap"], const(b, 5))
        ids["empty"] = b.op("ref", name="Map.empty")
        ids["map_ref"] = b.op("ref", name="sqrt")
        ids["mapped"] = b.op("apply", b.op("ref", name="Array.map"), ids["map_ref"], f.params[0])
        f.yields(b.op("tuple", *(ids[k] for k in ("native", "call", "closure_call", "empty", "mapped"))))
    func(b, "f", f)
    return b.build(), ids


def test_applications_become_native_ops_calls_and_partial_applications():
    out, ctx = elaborate(call_program()[0])
    _, ids = call_program()
    native = out.node(ids["native"])
    assert (native.kind, native.attr("op"), len(native.operands)) == ("native", "sqrt", 1)
    pap = out.node(ids["pap"])
    assert pap.kind == "pap" and out.node(pap.operands[0]).attr("name") == "add"
    call = out.node(ids["call"])
    assert (call.kind, call.attr("callee"), len(call.operands)) == ("call", "add", 3)
    assert out.node(call.operands[0]).kind == "ref"
    closure_call = out.node(ids["closure_call"])
    assert closure_call.kind == "call" and closure_call.operands[0] == ids["pap"]
    assert closure_call.attr("callee") is None
    empty = out.node(ids["empty"])
    assert (empty.kind, empty.attr("op"), empty.operands) == ("native", "Map.empty", ())
    mapped = out.node(ids["mapped"])
    assert mapped.attr("op") == "Array.map" and mapped.operands[0] == ids["map_ref"]
    assert out.node(ids["map_ref"]).kind == "ref"  # a function value stays a ref
    assert ctx.statistics["intrinsics made native"] == 3
    assert ctx.statistics["partial applications"] == 1


def test_over_application_splits_into_a_call_and_a_call_of_its_result():
    b = Builder()
    with b.region(params=["a"]) as make:
        with b.region(params=["b"]) as lam:
            lam.yields(b.op("prim", make.params[0], lam.params[0], op="*"))
        make.yields(b.op("lambda", regions=[lam.id]))
    func(b, "make", make)
    with b.region() as f:
        over = b.op("apply", b.op("ref", name="make"), const(b, 2), const(b, 3))
        f.yields(over)
    func(b, "f", f)
    out, ctx = elaborate(b.build())
    outer = out.node(over)
    inner = out.node(outer.operands[0])
    assert outer.kind == inner.kind == "call"
    assert inner.attr("callee") == "make" and len(inner.operands) == 2
    assert len(outer.operands) == 2 and outer.attr("callee") is None
    assert ctx.statistics["over-applications split"] == 1


def test_unknown_names_are_located_diagnostics():
    b = Builder("names.clef")
    with b.region() as f:
        f.yields(b.op("apply", b.op("ref", name="Array.frobnicate", span=Span("names.clef", 2, 5, 2, 21)),
                      const(b, 1)))
    func(b, "f", f)
    with pytest.raises(DiagnosticError) as err:
        Elaborate().run(b.build(), PassContext())
    (diagnostic,) = err.value.diagnostics
    assert str(diagnostic.span) == "names.clef:2:5"
    assert "unknown name 'Array.frobnicate'" in diagnostic.message


@pytest.mark.parametrize("literal, op", [("array", "Array.map"), ("list", "List.map")])
def test_query_becomes_a_map_over_a_lambda(literal, op):
    b = Builder()
    with b.region(params=["unused"]) as f:
        source = b.op(literal, const(b, 1), const(b, 2))
        with b.region(params=["m"]) as select:
            select.yields(b.op("prim", select.params[0], const(b, 1), op="+"))
        query = b.op("query", source, regions=[select.id])
        f.yields(query)
    func(b, "f", f)
    graph = b.build()
    out, ctx = elaborate(graph)
    mapped = out.node(query)
    assert (mapped.kind, mapped.attr("op")) == ("native", op)
    selector = out.node(mapped.operands[0])
    assert selector.kind == "lambda" and selector.regions == (select.id,)
    assert mapped.operands[1] == source
    assert ctx.statistics["queries made maps"] == 1
    same_runs(graph, "f", [(0,)])


def test_query_picks_the_map_by_the_source_type():
    b = Builder()
    with b.region(params=["xs"]) as f:
        with b.region(params=["m"]) as select:
            select.yields(select.params[0])
        query = b.op("query", f.params[0], regions=[select.id])
        f.yields(query)
    func(b, "f", f)
    typed = b.build().annotate("types", {f.params[0]: T.list_of(T.INT), select.params[0]: T.INT})
    out, _ = elaborate(typed)
    assert out.node(query).attr("op") == "List.map"
    selector = out.node(query).operands[0]
    assert out.annotation("types")[selector] == T.TFun(T.INT, T.INT)


def test_async_binds_become_an_await_chain_in_a_token_region():
    b = Builder()
    fetch = b.op("extern", name="fetch", arity=1)
    with b.region(params=["x"]) as f:
        with b.region() as body:
            first = b.op("bind", b.op("apply", b.op("ref", name="fetch"), f.params[0]))
            second = b.op("bind", b.op("apply", b.op("ref", name="fetch"), first))
            body.yields(second)
        f.yields(b.op("async", regions=[body.id]))
    func(b, "f", f)
    # The interpreter learns from the extern's type that the host function is asynchronous.
    graph = b.build().annotate("types", {fetch: T.TFun(T.INT, T.async_of(T.INT))})
    out, ctx = elaborate(graph)
    region = out.region(body.id)
    awaits = [n for n in region.body if out.node(n).kind == "await"]
    assert awaits == [first, second]
    fetch_first = out.node(first).operands[0]
    assert out.node(fetch_first).effect == region.token
    assert out.node(first).effect == fetch_first
    assert region.effect_out == second
    assert body_of(out, "f").token is None  # building an async is pure
    assert ctx.statistics["awaits"] == 2

    async def fetch(x):
        return x + 1

    same_runs(graph, "f", [(1,)], externs={"fetch": fetch})


def test_prims_get_their_operand_type_from_the_types_table():
    b = Builder()
    with b.region(params=["x"]) as f:
        compare = b.op("prim", f.params[0], f.params[0], op="<")
        f.yields(compare)
    func(b, "f", f)
    volt = T.TPrim("float", Measure.base("volt"))
    typed = b.build().annotate("types", {f.params[0]: volt, compare: T.BOOL})
    out, ctx = elaborate(typed)
    assert out.node(compare).attr("type") == "float"
    assert ctx.statistics["operator types made explicit"] == 1


# -- the contract ---------------------------------------------------------------------------
def test_the_input_graph_is_unchanged():
    graph, _ = effect_program()
    before = list(graph.nodes), list(graph.regions)
    elaborate(graph)
    assert (list(graph.nodes), list(graph.regions)) == before
    assert graph == effect_program()[0]


def test_runs_in_a_pipeline_with_verification():
    result = Pipeline.parse("elaborate").run(call_program()[0])
    assert Elaborated.check(result.graph) == []
    assert dict(result.statistics)["elaborate"]["calls resolved"] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(language=Clef))
def test_any_clef_graph_elaborates_to_the_elaborated_language_or_a_diagnostic(graph):
    try:
        out = Elaborate().run(graph, PassContext())
    except DiagnosticError as err:
        assert err.diagnostics and all(d.message for d in err.diagnostics)
        return
    assert Elaborated.check(out) == []


# -- the examples ------------------------------------------------------------------------------------
EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.clef"))


def elaborated_example(name: str) -> Graph:
    path = Path(__file__).parent.parent / "examples" / name
    return elaborate(parse(path.read_text(), str(path)))[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_elaborates_with_every_value_typed(path):
    graph = parse(path.read_bytes(), str(path))
    out, _ = elaborate(graph)
    types = out.annotation("types")
    untyped = [(i, n.kind) for i, n in out.live_nodes()
               if i not in types and n.kind != "token" and not (n.kind == "typedef" and n.attr("form") == "measure")]
    assert untyped == []
    assert all(out.nodes[i] is not None for i in types)


def test_resolver_awaits_inside_a_loop_carrying_its_mutable_locals():
    out = elaborated_example("resolver.clef")
    block = out.node(body_of(out, "resolve").results[0])
    assert block.kind == "async"
    region = out.region(block.regions[0])
    (loop,) = [n for n in region.body if out.node(n).kind == "loop"]
    assert out.node(loop).effect == region.token and region.effect_out == loop
    cond, loop_body = (out.region(r) for r in out.node(loop).regions)
    assert len(cond.params) == len(loop_body.params) == len(loop_body.results) == 2
    ops = [(out.node(n).kind, out.node(n).attr("op") or out.node(n).attr("callee")) for n in loop_body.body]
    assert ops.index(("call", "fetchAll")) < ops.index(("await", None)) < ops.index(("native", "List.map"))
    assert loop_body.effect_out == next(n for n in loop_body.body if out.node(n).kind == "await")
    result = out.node(region.results[0])
    assert result.kind == "proj" and result.operands == (loop,) and result.attr("index") == 0


def test_matmul_accumulates_through_a_for_loop_inside_the_init_closure():
    out = elaborated_example("matmul.clef")
    init = out.node(body_of(out, "matrixMultiply").results[0])
    assert (init.kind, init.attr("op")) == ("native", "Array2D.init")
    closure = out.region(out.node(init.operands[2]).regions[0])
    (loop,) = [n for n in closure.body if out.node(n).kind == "for"]
    assert len(out.node(loop).operands) == 3  # lo, hi, acc
    assert out.node(closure.results[0]).operands == (loop,)
    assert out.node(loop).effect is None and closure.token is None


# -- differential: the interpreter gives the same results before and after -----------------------------
def same_runs(graph: Graph, entry: str, inputs: list[tuple], externs=None) -> None:
    out, _ = elaborate(graph)
    for args in inputs:
        before, after = run_graph(graph, entry, *args, externs=externs), run_graph(out, entry, *args, externs=externs)
        assert repr(before) == repr(after), (entry, args)


EXAMPLE_RUNS = [
    ("process.clef", "process", ([0.1, 0.5, 1.0],), "process_externs.py"),
    ("branchy.clef", "process", ([0.1, 0.5, 1.0],), "branchy_externs.py"),
    ("dataset.clef", "processDataset", ([0.1, 0.5, 1.0],), "dataset_externs.py"),
    ("counter.clef", "step", ({"Count": 3}, {"Up": True, "Down": False}), None),
    ("matmul.clef", "matrixMultiply", (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)), None),
    ("montecarlo.clef", "monteCarlo", (100.0, 4), None),
    ("nappy.clef", "main", (5,), None),
    ("resolver.clef", "resolve", ("app",), "resolver_externs.py"),
    ("timeseries.clef", "analyzeTimeSeries", (np.sin(np.arange(150.0)),), None),
]


@pytest.mark.parametrize("name, entry, args, externs", EXAMPLE_RUNS, ids=[r[0] for r in EXAMPLE_RUNS])
def test_every_example_runs_the_same_after_elaboration(name, entry, args, externs):
    path = Path(__file__).parent.parent / "examples" / name
    externs_path = None if externs is None else str(path.parent / externs)
    same_runs(parse(path.read_text(), str(path)), entry, [args], externs_path)


def test_examples_with_runs_cover_every_example_but_the_actor_globals():
    assert {p.name for p in EXAMPLES} - {r[0] for r in EXAMPLE_RUNS} == {"actors.clef"}


MUTABLE_AND_EFFECTS = """
extern log : int -> unit

let f (n: int) =
    let mutable total = 0
    let mutable i = 0
    while i < n do
        if i % 2 = 0 then
            total <- total + i
            log i
        else
            total <- total - 1
        i <- i + 1
    for k in 1 .. 3 do
        total <- total * k
        let mutable j = 0
        while j < k do
            j <- j + 1
            if j % 2 = 1 then total <- total + j
        log total
    for x in [ 1; 2 ] do
        total <- total + x
    match total with
    | 0 -> total <- 100
    | t when t > 50 -> total <- t / 2
    | _ -> log (-1)
    total
"""


def test_mutable_locals_and_effects_run_the_same_with_the_same_effect_order():
    graph = parse(MUTABLE_AND_EFFECTS, "mutable.clef")
    out, ctx = elaborate(graph)
    assert ctx.statistics["mutable locals made SSA"] == 3
    for_loop = out.node(nodes_of_kind(out, "for")[0])
    assert len(for_loop.operands) == 3  # lo, hi and total; j lives inside the body
    for n in range(7):
        calls_before, calls_after = [], []
        before = run_graph(graph, "f", n, externs={"log": calls_before.append})
        after = run_graph(out, "f", n, externs={"log": calls_after.append})
        assert (before, calls_before) == (after, calls_after)


def test_actors_run_the_same_after_elaboration():
    graph = parse(textwrap.dedent("""
        let counter = Actor.start 0 (fun state (n: int) -> (state + n, state * 10 + n))
        let bump (k: int) =
            counter.Tell(k)
            counter.PostAndReply(k + 1)
    """), "actors.clef")
    same_runs(graph, "bump", [(1,), (5,)])


def test_hand_made_graphs_run_the_same_after_elaboration():
    same_runs(call_program()[0], "f", [(np.array([1.0, 4.0, 9.0]),)])
    calls_before, calls_after = [], []
    graph, _ = effect_program()
    out, _ = elaborate(graph)
    logger = {"log": lambda x: x, "pureExt": lambda x: x * 2}
    before = run_graph(graph, "outer", 3, externs={**logger, "log": lambda x: calls_before.append(x) or x})
    after = run_graph(out, "outer", 3, externs={**logger, "log": lambda x: calls_after.append(x) or x})
    assert (before, calls_before) == (after, calls_after) == (6, [3, 6])


CALLS_AND_CLOSURES = """
extern log : int -> int

let add (a: int) (b: int) = a + b
let make (a: int) = fun (b: int) -> a * b
let twice f (x: int) = f (f x)

let g (xs: int list) =
    let inc = add 1
    let ys = List.map inc xs
    let logged = List.map (fun x -> log x) ys
    let z = make 2 3
    twice log z + List.length logged
"""


def test_calls_partial_and_over_application_and_effectful_closures():
    graph = parse(CALLS_AND_CLOSURES, "calls.clef")
    out, ctx = elaborate(graph)
    region = body_of(out, "g")
    nodes = [out.node(n) for n in region.body]
    (pap,) = [n for n in nodes if n.kind == "pap"]
    assert out.node(pap.operands[0]).attr("name") == "add"
    maps = [n for n in nodes if n.kind == "native" and n.attr("op") == "List.map"]
    assert [m.effect is None for m in maps] == [True, False]  # only the map over `log` has effects
    make = next(n for n in nodes if n.attr("callee") == "make")
    over = next(n for n in nodes if n.kind == "call" and n.operands[0] == next(
        i for i in region.body if out.node(i) is make))
    assert len(over.operands) == 2 and over.attr("callee") is None
    twice = next(n for n in nodes if n.attr("callee") == "twice")
    assert twice.effect is not None  # it calls a closure, and effectful closures exist
    inner_calls = [out.node(n) for n in body_of(out, "twice").body if out.node(n).kind == "call"]
    assert len(inner_calls) == 2 and all(c.effect is not None for c in inner_calls)
    assert ctx.statistics["over-applications split"] == 1
    for xs in ([], [1, 2, 3]):
        calls_before, calls_after = [], []
        before = run_graph(graph, "g", xs, externs={"log": lambda x: calls_before.append(x) or x + 10})
        after = run_graph(out, "g", xs, externs={"log": lambda x: calls_after.append(x) or x + 10})
        assert (before, calls_before) == (after, calls_after)
        assert calls_before == [x + 1 for x in xs] + [6, 16]


def test_deeply_nested_programs_elaborate_on_the_big_stack():
    depth = 2000
    source = ("let f (x: int) =\n    " + "".join(f"if x > {i} then " for i in range(depth)) + "0"
              + " else 1" * depth + "\n")
    graph = parse(source, "deep.clef")
    out, _ = elaborate(graph)
    assert len(nodes_of_kind(out, "if")) == depth
    assert run_graph(out, "f", depth) == run_graph(graph, "f", depth) == 0

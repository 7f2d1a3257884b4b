"""deadlock: wait-for edges, certificates, witness cycles, dynamic callees, agreement with networkx."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import networkx as nx
import pytest

from nanopass import Builder, DiagnosticError, Graph, PassContext, Pipeline, Span
from nanopass.languages import Elaborated
from nanopass.passes.deadlock import (DEADLOCK, DEADLOCK_FREE, DYNAMIC_REASON, MODULE_KEY, NO_ACTORS,
                                      CertificateError, Deadlock, check_deadlock, check_ranks, decide,
                                      rank_verdicts)

FILE = "actors.clef"
EXAMPLE = Path("/work/shared/examples/actors.clef")


def at(line: int, col: int, width: int = 10) -> Span:
    return Span(FILE, line, col, line, col + width)


class Module:
    """Builds Elaborated modules of actors laid out as elaboration lays out actors.clef."""

    def __init__(self) -> None:
        self.b = Builder(FILE)

    def actor(self, name: str, line: int,
              body: Callable[["Module", int, int], int | None] = lambda m, s, x: None) -> int:
        """A global holding ``Actor.start 0 handler``; ``body(module, state, msg)`` returns the reply (or None)."""
        b = self.b
        with b.region() as decl:
            init = b.op("const", value=0, type="int")
            with b.region(params=["state", "msg"], effect=True) as handler:
                state, msg = handler.params
                reply = body(self, state, msg)
                handler.yields(state, msg if reply is None else reply)
            decl.yields(b.op("actor", init, regions=[handler.id]))
        return b.op("global", regions=[decl.id], name=name, span=at(line, 5, len(name)))

    def func(self, name: str, line: int, body: Callable[["Module", int], int]) -> int:
        b = self.b
        with b.region(params=["x"], effect=True) as region:
            region.yields(body(self, region.params[0]))
        return b.op("func", regions=[region.id], name=name, params=("x",), span=at(line, 5, len(name)))

    def post(self, callee: str | int, msg: int, line: int, col: int) -> int:
        target = self.b.op("ref", name=callee, span=at(line, col)) if isinstance(callee, str) else callee
        return self.b.effect_op("post", target, msg, span=at(line, col))

    def tell(self, callee: str, msg: int, line: int, col: int) -> int:
        return self.b.effect_op("tell", self.b.op("ref", name=callee, span=at(line, col)), msg, span=at(line, col))

    def call(self, func: str, arg: int, line: int) -> int:
        return self.b.effect_op("call", self.b.op("ref", name=func, span=at(line, 1)), arg, callee=func,
                                span=at(line, 1))

    def build(self) -> Graph:
        graph = self.b.build()
        assert Elaborated.check(graph) == []
        return graph


def actors_example() -> Graph:
    """actors.clef, built by hand at the Elaborated level."""
    m = Module()
    m.actor("catalog", 5)

    def parser(m: Module, state: int, batch: int) -> int:
        commit = m.b.op("union", batch, type="Msg", case="Commit")
        total = m.post("catalog", commit, 11, 17)
        m.tell("catalog", m.b.op("union", batch, type="Msg", case="Discard"), 12, 5)
        return total

    def ingest(m: Module, state: int, batch: int) -> int:
        parsed = m.post("parser", batch, 16, 18)
        return m.post("catalog", m.b.op("union", parsed, type="Msg", case="Commit"), 17, 17)

    def dispatcher(m: Module, state: int, pair: int) -> int:
        target = m.b.op("proj", pair, index=0)
        return m.post(target, m.b.op("proj", pair, index=1), 22, 13)

    m.actor("parser", 10, parser)
    m.actor("ingest", 15, ingest)
    m.actor("dispatcher", 21, dispatcher)
    return m.build()


def sites(cycle) -> list[tuple[str, str, int, int]]:
    return [(s.caller, s.callee, s.span.line, s.span.col) for s in cycle]


# -- the example's shape ---------------------------------------------------------------------
def test_actors_example_is_deadlock_free_with_ranks():
    report = check_deadlock(actors_example())
    assert report.verdict == DEADLOCK_FREE
    digraph = report.wait_for.digraph
    assert set(digraph.edges) == {("parser", "catalog"), ("ingest", "parser"), ("ingest", "catalog")}
    assert report.ranks == {"catalog": 0, "parser": 1, "ingest": 2, "dispatcher": 0}
    check_ranks(digraph, report.ranks)
    assert sites(digraph.edges["ingest", "catalog"]["sites"]) == [("ingest", "catalog", 17, 17)]
    assert report.cycles == []


def test_a_callee_carried_in_the_message_is_dynamic():
    report = check_deadlock(actors_example())
    [site] = report.dynamic_sites
    assert (site.line, site.col, site.reason, site.actor) == (22, 13, DYNAMIC_REASON, "dispatcher")
    assert site.carrier == "a field of the message to 'dispatcher'"
    assert "dispatcher" not in {u for u, _ in report.wait_for.digraph.edges}


def test_report_json_shape():
    assert check_deadlock(actors_example()).to_json() == {
        "verdict": "deadlock-free",
        "ranks": {"catalog": 0, "parser": 1, "ingest": 2, "dispatcher": 0},
        "cycles": [],
        "dynamic_sites": [{"line": 22, "col": 13, "reason": DYNAMIC_REASON}],
    }


def test_no_actors():
    m = Module()
    m.func("f", 1, lambda m, x: x)
    report = check_deadlock(m.build())
    assert report.verdict == NO_ACTORS and report.to_json()["verdict"] == "no-actors"


# -- cycles -------------------------------------------------------------------------------------
def test_two_cycle_names_every_call_site():
    m = Module()
    m.actor("a", 1, lambda m, s, x: m.post("b", x, 2, 9))

    def b_body(m: Module, s: int, x: int) -> int:
        m.post("a", x, 5, 9)
        return m.post("a", x, 6, 13)  # a second post on the same edge

    m.actor("b", 4, b_body)
    report = check_deadlock(m.build())
    assert report.verdict == DEADLOCK and report.ranks == {}
    assert [sites(c) for c in report.cycles] == [[("a", "b", 2, 9), ("b", "a", 5, 9), ("b", "a", 6, 13)]]
    assert report.to_json()["cycles"][0][0] == {"caller": "a", "callee": "b", "file": FILE, "line": 2,
                                                "col": 9, "via": []}


def test_three_cycle_beside_an_acyclic_part():
    m = Module()
    m.actor("a", 1, lambda m, s, x: m.post("b", x, 2, 1))
    m.actor("b", 3, lambda m, s, x: m.post("c", x, 4, 1))
    m.actor("c", 5, lambda m, s, x: m.post("a", x, 6, 1))
    m.actor("d", 7, lambda m, s, x: m.post("a", x, 8, 1))  # waits on the cycle, is not on it
    m.actor("e", 9, lambda m, s, x: m.post("d", x, 10, 1))
    report = check_deadlock(m.build())
    assert report.verdict == DEADLOCK
    assert [sites(c) for c in report.cycles] == [[("a", "b", 2, 1), ("b", "c", 4, 1), ("c", "a", 6, 1)]]


def test_one_witness_per_cyclic_component_and_self_loops():
    m = Module()
    m.actor("loner", 1, lambda m, s, x: m.post("loner", x, 2, 3))
    m.actor("p", 3, lambda m, s, x: m.post("q", x, 4, 3))
    m.actor("q", 5, lambda m, s, x: m.post("p", x, 6, 3))
    report = check_deadlock(m.build())
    assert [sites(c) for c in report.cycles] == [[("loner", "loner", 2, 3)],
                                                 [("p", "q", 4, 3), ("q", "p", 6, 3)]]


def test_tell_adds_no_edge():
    m = Module()
    m.actor("a", 1, lambda m, s, x: m.tell("b", x, 2, 1))
    m.actor("b", 3, lambda m, s, x: m.post("a", x, 4, 1))
    report = check_deadlock(m.build())
    assert report.verdict == DEADLOCK_FREE
    assert list(report.wait_for.digraph.edges) == [("b", "a")]
    assert report.ranks == {"a": 0, "b": 1}


def test_posts_in_functions_the_handler_calls_count():
    m = Module()
    m.func("inner", 1, lambda m, x: m.post("b", x, 2, 7))
    m.func("outer", 3, lambda m, x: m.call("inner", x, 4))
    m.func("unused", 5, lambda m, x: m.post("a", x, 6, 7))  # no handler reaches it
    m.actor("a", 7, lambda m, s, x: m.call("outer", x, 8))
    m.actor("b", 9, lambda m, s, x: m.post("a", x, 10, 5))
    report = check_deadlock(m.build())
    assert report.verdict == DEADLOCK
    [cycle] = report.cycles
    assert sites(cycle) == [("a", "b", 2, 7), ("b", "a", 10, 5)]
    assert cycle[0].via == ("outer", "inner")
    assert "via outer -> inner" in str(cycle[0])


def test_a_function_value_passed_along_counts_as_called():
    # `List.iter helper xs`: the handler names helper without calling it directly.
    m = Module()
    m.func("helper", 1, lambda m, x: m.post("b", x, 2, 7))

    def a_body(m: Module, s: int, x: int) -> int:
        helper = m.b.op("ref", name="helper")
        return m.b.effect_op("native", helper, x, op="List.iter")

    m.actor("a", 3, a_body)
    m.actor("b", 5)
    report = check_deadlock(m.build())
    assert list(report.wait_for.digraph.edges) == [("a", "b")]
    assert report.ranks == {"a": 1, "b": 0}


def test_an_actor_started_inside_a_handler_runs_its_own_handler():
    m = Module()

    def a_body(m: Module, s: int, x: int) -> int:
        init = m.b.op("const", value=0, type="int")
        with m.b.region(params=["state", "msg"], effect=True) as inner:
            inner.yields(inner.params[0], m.post("a", inner.params[1], 3, 9))
        return m.b.op("actor", init, regions=[inner.id])

    m.actor("a", 1, a_body)
    report = check_deadlock(m.build())
    assert report.verdict == DEADLOCK_FREE and report.wait_for.digraph.number_of_edges() == 0


# -- dynamic callees ----------------------------------------------------------------------------
@pytest.mark.parametrize("make_callee, carrier", [
    (lambda m, s, x: x, "the message to 'a'"),
    (lambda m, s, x: m.b.op("field", x, name="target"), "a field of the message to 'a'"),
    (lambda m, s, x: m.b.op("native", x, op="List.head"), "the result of List.head"),
    (lambda m, s, x: m.b.op("index", m.b.op("field", s, name="peers"), x), "an element of a field of the state of 'a'"),
    (lambda m, s, x: m.b.op("ref", name="config"), "'config', which is not an actor"),
    (lambda m, s, x: m.call("pick", x, 2), "the result of a call to pick"),
])
def test_dynamic_callees_are_warned_and_add_no_edge(make_callee, carrier):
    m = Module()
    m.func("pick", 1, lambda m, x: x)
    with m.b.region() as config:
        config.yields(m.b.op("const", value=3, type="int"))
    m.b.op("global", regions=[config.id], name="config")
    m.actor("a", 2, lambda m, s, x: m.post(make_callee(m, s, x), x, 3, 11))
    report = check_deadlock(m.build())
    [site] = report.dynamic_sites
    assert (site.line, site.col, site.carrier) == (3, 11, carrier)
    assert report.wait_for.digraph.number_of_edges() == 0 and report.verdict == DEADLOCK_FREE


def test_a_dynamic_post_in_a_shared_helper_is_reported_once():
    m = Module()
    m.func("forward", 1, lambda m, x: m.post(m.b.op("proj", x, index=0), x, 2, 5))
    m.actor("a", 3, lambda m, s, x: m.call("forward", x, 4))
    m.actor("b", 5, lambda m, s, x: m.call("forward", x, 6))
    report = check_deadlock(m.build())
    assert [(s.line, s.col, s.actor, s.carrier) for s in report.dynamic_sites] == [
        (2, 5, "a", "a field of the parameter 'x'")]


# -- the analysis in a pipeline -----------------------------------------------------------------
def test_analysis_writes_tables_and_warns():
    graph = actors_example()
    result = Pipeline.parse("deadlock{timeout_s=2.5}").run(graph)
    out = result.graph
    assert out.nodes is graph.nodes and out.regions is graph.regions
    assert out.annotation("deadlock") == {MODULE_KEY: DEADLOCK_FREE}
    ids = {node.attr("name"): i for i, node in out.top_level()}
    assert dict(out.annotation("deadlock_rank")) == {ids["catalog"]: 0, ids["parser"]: 1, ids["ingest"]: 2,
                                                     ids["dispatcher"]: 0}
    [post] = [i for i, n in out.live_nodes() if n.kind == "post" and n.span.line == 22]
    assert dict(out.annotation("supervised")) == {post: 2.5}
    [warning] = result.diagnostics
    assert warning.severity == "warning" and (warning.span.line, warning.span.col) == (22, 13)
    assert DYNAMIC_REASON in warning.message and "2.5 s timeout" in warning.message


def test_analysis_reports_a_cycle_as_an_error_at_its_first_site():
    m = Module()
    m.actor("a", 1, lambda m, s, x: m.post("b", x, 2, 9))
    m.actor("b", 3, lambda m, s, x: m.post("a", x, 4, 9))
    result = Pipeline.parse("deadlock").run(m.build())
    assert result.graph.annotation("deadlock") == {MODULE_KEY: DEADLOCK}
    assert sorted(result.graph.annotation("deadlock_cycle").values()) == [0, 0]
    [error] = result.diagnostics
    assert error.severity == "error" and error.span.line == 2
    assert "a waits for b at actors.clef:2:9; b waits for a at actors.clef:4:9" in error.message


def test_method_option_is_checked():
    assert Pipeline.parse("deadlock{method=z3}").passes[0] == Deadlock(method="z3")
    with pytest.raises(DiagnosticError, match="expects scc or z3, got 'smt'"):
        Pipeline.parse("deadlock{method=smt}")


# -- the decision ----------------------------------------------------------------------------------
def test_the_certificate_check_rejects_bad_ranks():
    digraph = nx.DiGraph([("a", "b"), ("b", "c")])
    check_ranks(digraph, {"a": 2, "b": 1, "c": 0})
    with pytest.raises(CertificateError, match="r\\(u\\) <= r\\(v\\)"):
        check_ranks(digraph, {"a": 2, "b": 0, "c": 0})
    with pytest.raises(CertificateError, match="unranked"):
        check_ranks(digraph, {"a": 2, "b": 1})


def _random_edges(rng: random.Random) -> tuple[int, list[tuple[int, int]]]:
    """A small random wait-for graph: its size and its edges (self-loops rarer than others)."""
    n = rng.randint(1, 7)
    density = rng.choice((0.1, 0.2, 0.35))
    return n, [(u, v) for u in range(n) for v in range(n) if rng.random() < (density / 4 if u == v else density)]


def _random_digraph(rng: random.Random) -> nx.DiGraph:
    n, edges = _random_edges(rng)
    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(n))
    digraph.add_edges_from(edges)
    return digraph


def _cyclic_components(digraph: nx.DiGraph) -> list[set]:
    """networkx's Tarjan SCCs, cyclic when larger than one node or looped."""
    return [c for c in nx.strongly_connected_components(digraph)
            if len(c) > 1 or any(digraph.has_edge(v, v) for v in c)]


def _assert_cycle(digraph: nx.DiGraph, cycle) -> None:
    assert cycle and all(digraph.has_edge(u, v) for u, v in cycle)
    assert all(cycle[i][1] == cycle[(i + 1) % len(cycle)][0] for i in range(len(cycle)))


def _disjoint_union(graphs: list[tuple[int, list[tuple[int, int]]]], keep: Callable[[int], bool]) -> nx.DiGraph:
    """Graph k's node v is (k, v): the components stay apart."""
    union = nx.DiGraph()
    for k, (n, edges) in enumerate(graphs):
        if keep(k):
            union.add_nodes_from((k, v) for v in range(n))
            union.add_edges_from(((k, u), (k, v)) for u, v in edges)
    return union


def test_agrees_with_networkx_on_ten_thousand_random_wait_for_graphs():
    # 10^4 small graphs, decided 500 at a time as one disjoint union: the
    # components are independent, so each graph's own answer can be read off
    # the witnesses (one per cyclic strongly connected component).
    rng = random.Random(20240606)
    graphs = [_random_edges(rng) for _ in range(10_000)]
    cyclic_graphs = 0
    for start in range(0, len(graphs), 500):
        batch = graphs[start:start + 500]
        union = _disjoint_union(batch, lambda k: True)
        reference = _cyclic_components(union)
        expected = {next(iter(c))[0] for c in reference}
        cyclic_graphs += len(expected)
        decision = decide(union)
        assert decision.verdict == (DEADLOCK if expected else DEADLOCK_FREE)
        assert len(decision.cycles) == len(reference)
        assert {cycle[0][0][0] for cycle in decision.cycles} == expected
        for cycle in decision.cycles:
            _assert_cycle(union, cycle)
        acyclic = _disjoint_union(batch, lambda k: k not in expected)
        free = decide(acyclic)
        assert free.verdict == DEADLOCK_FREE
        check_ranks(acyclic, free.ranks)
    assert 2_000 < cyclic_graphs < 8_000  # both verdicts are well exercised


def test_whole_graph_z3_agrees_with_the_component_method():
    rng = random.Random(7)
    for _ in range(150):
        digraph = _random_digraph(rng)
        by_components, whole = decide(digraph), decide(digraph, method="z3")
        assert whole.verdict == by_components.verdict == (DEADLOCK if _cyclic_components(digraph) else DEADLOCK_FREE)
        if whole.verdict == DEADLOCK_FREE:
            check_ranks(digraph, whole.ranks)
        else:
            [cycle] = whole.cycles
            _assert_cycle(digraph, cycle)


def test_decisions_in_threads_match_the_serial_ones():
    # Each thread has its own z3 context; sharing one across threads is unsafe.
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(11)
    digraphs = [_random_digraph(rng) for _ in range(64)]
    serial = [decide(d) for d in digraphs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(decide, digraphs)) == serial


def test_whole_graph_z3_on_a_module():
    report = check_deadlock(actors_example(), method="z3")
    assert report.verdict == DEADLOCK_FREE
    check_ranks(report.wait_for.digraph, report.ranks)
    with pytest.raises(ValueError, match="unknown method 'bfs'"):
        check_deadlock(actors_example(), method="bfs")


# -- from source ---------------------------------------------------------------------------------
def _elaborated(source: str, filename: str) -> Graph:
    from nanopass.frontend import parse
    from nanopass.passes.elaborate import Elaborate

    return Elaborate().run(parse(source, filename), PassContext())


def test_the_shared_example_parsed_and_elaborated():
    report = check_deadlock(_elaborated(EXAMPLE.read_text(), "actors.clef"))
    assert report.to_json() == {
        "verdict": "deadlock-free",
        "ranks": {"catalog": 0, "parser": 1, "ingest": 2, "dispatcher": 0},
        "cycles": [],
        "dynamic_sites": [{"line": 22, "col": 13, "reason": DYNAMIC_REASON}],
    }
    parser_sites = report.wait_for.digraph.edges["parser", "catalog"]["sites"]
    assert [(s.span.line, s.span.col) for s in parser_sites] == [(11, 17)]


def test_a_cycle_in_source_through_a_helper_names_its_lines():
    source = ("let rec ping = Actor.start 0 (fun state (n: int) ->\n"
              "    (state + 1, relay n))\n"
              "and relay (n: int) : int = pong.PostAndReply(n)\n"
              "and pong = Actor.start 0 (fun state (n: int) ->\n"
              "    (state, ping.PostAndReply(n)))\n")
    report = check_deadlock(_elaborated(source, "pingpong.clef"))
    assert report.verdict == DEADLOCK
    [cycle] = report.cycles
    assert [(s.caller, s.callee, s.span.line, s.span.col, s.via) for s in cycle] == [
        ("ping", "pong", 3, 28, ("relay",)), ("pong", "ping", 5, 13, ())]


def test_tables_print_parse_back_and_the_interpreter_runs_the_supervised_post():
    from nanopass.interpreter import run_graph
    from nanopass.dialects.psg_text import from_mlir, to_mlir

    source = EXAMPLE.read_text() + ("\nlet doubler = Actor.start 0 (fun state (n: int) -> (state, n * 2))\n"
                                    "let run (batch: int) : int = dispatcher.PostAndReply((doubler, batch))\n")
    analysed = Pipeline.parse("deadlock{timeout_s=5}").run(_elaborated(source, "actors.clef")).graph
    [post] = [i for i, n in analysed.live_nodes() if n.kind == "post" and n.span.line == 22]
    assert dict(analysed.annotation("supervised")) == {post: 5.0}
    back = from_mlir(to_mlir(analysed))
    for table in ("deadlock", "deadlock_rank", "supervised"):
        assert back.annotation(table) == analysed.annotation(table)
    assert run_graph(analysed, "run", 7) == 14


def test_validation_checks_the_ranks_as_written_with_z3():
    graph = actors_example()
    verdicts = Pipeline.parse("deadlock").run(graph, validate=True).verdicts
    assert [(v.function, v.status, v.detail) for v in verdicts if "rank" in v.detail] == [
        ("*", "validated", "(the rank constraint holds on 3 wait-for edges)")]
    analysed = Pipeline.parse("deadlock").run(graph).graph
    ids = {node.attr("name"): i for i, node in analysed.top_level()}
    wrong = analysed.annotate("deadlock_rank", {**analysed.annotation("deadlock_rank"), ids["parser"]: 0})
    [verdict] = rank_verdicts("deadlock", graph, wrong)
    assert verdict.status == "counterexample" and "('parser', 'catalog')" in verdict.detail

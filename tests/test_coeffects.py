"""coeffects: memory patterns, resources and history, flat and structural, by a call-graph fixed point."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from nanopass.frontend import parse
from nanopass.graph import Builder, Graph
from nanopass.languages import Saturated
from nanopass.pass_ import PassContext
from nanopass.passes.coeffects import (
    PURE, Coeffects, Combined, Contiguous, Gather, MemoryAccess, ResourceAccess, Stencil, Strided, Temporal,
    Uniform, join, solve)
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import graphs

EXAMPLES = Path("/work/shared/examples")
PIPELINE = "elaborate,reachability,baker,coeffects"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def analyzed(source: str, filename: str = "test.clef") -> Graph:
    return Pipeline.parse(PIPELINE).run(parse(source, filename)).graph


def example(name: str) -> Graph:
    return analyzed((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")


def declaration(graph: Graph, name: str) -> int:
    found = graph.symbol(name)
    assert found is not None, name
    return found


def nodes_of(graph: Graph, kind: str, **attributes) -> list[int]:
    return [i for i, n in graph.live_nodes()
            if n.kind == kind and all(n.attr(k) == v for k, v in attributes.items())]


def body_of(graph: Graph, owner: int) -> int:
    return graph.node(owner).regions[0]


def accesses(requirement, name: str) -> list[MemoryAccess]:
    return [m for m in requirement.memory if m.name == name]


# -- the requirement values --------------------------------------------------------------------------------

def test_pure_is_the_identity_of_join():
    registry = ResourceAccess(frozenset({"registry"}))
    assert PURE | registry == registry
    assert registry | PURE == registry
    assert join([]) == PURE
    assert PURE.is_pure and not registry.is_pure


def test_join_unites_resources_and_keeps_the_deepest_history():
    joined = join([ResourceAccess(frozenset({"a"})), Temporal(100), ResourceAccess(frozenset({"b"})), Temporal(10)])
    assert joined.resources == {"a", "b"}
    assert joined.temporal == Temporal(100)
    assert isinstance(joined, Combined)
    assert Temporal(None) | Temporal(5) == Temporal(None)  # a run-time window may be deeper than any


def test_offsets_of_one_array_in_one_loop_merge_into_a_stencil():
    def at(offset, loop=7):
        return MemoryAccess(1, "a", loop, Contiguous(offset))

    assert join([at(-1), at(0), at(1)]) == MemoryAccess(1, "a", 7, Stencil((-1, 0, 1)))
    assert at(0) | at(0) == at(0)
    # another loop walks the array separately: no stencil
    assert set(join([at(-1), at(1, loop=9)]).memory) == {at(-1), at(1, loop=9)}
    # reads and writes stay apart, and so do strides
    write = MemoryAccess(1, "a", 7, Contiguous(0), write=True)
    strided = MemoryAccess(1, "a", 7, Strided(2, (0,)))
    assert len(join([at(0), write, strided]).memory) == 3


def test_requirements_print_readably():
    assert str(PURE) == "pure"
    assert str(ResourceAccess(frozenset({"registry", "db"}))) == "resource(db, registry)"
    assert str(Temporal(100)) == "temporal(100)"
    assert str(Temporal(None)) == "temporal(window)"
    assert str(MemoryAccess(3, "frame", 7, Contiguous(0))) == "memory(frame: contiguous in %7)"
    assert str(MemoryAccess(3, "xs", 9, Stencil(tuple(range(100))))) == "memory(xs: stencil(0..99) in %9)"
    assert str(MemoryAccess(3, "a", None, Uniform())) == "memory(a: uniform)"
    assert str(MemoryAccess(3, "out", 4, Gather(), write=True)) == "memory(out: gather in %4, write)"
    assert str(Strided("row")) == "strided(row)"
    assert str(Stencil((-1, 0, 1))) == "stencil(-1,0,1)"
    assert str(Stencil((-3, -2, -1, 0, 5))) == "stencil(-3..0,5)"
    assert str(Contiguous(99)) == "contiguous(99)"
    both = ResourceAccess(frozenset({"registry"})) | Temporal(100)
    assert str(both) == "resource(registry) + temporal(100)"


# -- memory patterns read off index expressions -----------------------------------------------------------

INDEXING = """
let shapes (a: float[]) (idx: int[]) : float[] =
    Array.init (Array.length a - 2) (fun i ->
        a.[i] + a.[i + 1] + a.[i + 2] + a.[2 * i + 1] + a.[idx.[i]] + a.[0])
"""


def lane_memory(graph: Graph, origin: str) -> dict[str, set[str]]:
    """name -> the patterns of the accesses in the flat reading of the parallel_for's region."""
    (loop,) = nodes_of(graph, "parallel_for", origin=origin)
    flat = graph.annotation("coeffects.flat")[body_of(graph, loop)]
    patterns: dict[str, set[str]] = {}
    for access in flat.memory:
        assert access.loop == loop
        patterns.setdefault(access.name, set()).add(str(access.pattern))
    return patterns


def test_index_expressions_give_contiguous_stencil_strided_gather_and_uniform():
    patterns = lane_memory(analyzed(INDEXING), "Array.init")
    assert patterns["a"] == {"stencil(0,1,2)", "strided(2)", "gather", "uniform"}
    assert patterns["idx"] == {"contiguous"}


def test_neighbours_make_a_stencil_with_their_offsets():
    source = """
let smooth (a: float[]) : float[] =
    Array.init (Array.length a - 2) (fun k -> a.[k] + a.[k + 1] + a.[k + 2])

let centred (a: float[]) (n: int) : float[] =
    Array.init n (fun k -> a.[k - 1] + a.[k] + a.[k + 1])
"""
    graph = analyzed(source)
    flats = [graph.annotation("coeffects.flat")[body_of(graph, loop)]
             for loop in nodes_of(graph, "parallel_for", origin="Array.init")]
    assert sorted(str(f) for f in flats) == [
        f"memory(a: stencil(-1,0,1) in %{nodes_of(graph, 'parallel_for')[1]})",
        f"memory(a: stencil(0,1,2) in %{nodes_of(graph, 'parallel_for')[0]})"]


def test_matmul_walks_a_by_rows_and_b_by_columns_in_the_inner_loop():
    graph = example("matmul")
    (outer,) = nodes_of(graph, "parallel_for")
    inner = next(n for n in graph.walk_region(body_of(graph, outer)) if graph.node(n).kind == "for")
    flat = graph.annotation("coeffects.flat")[body_of(graph, inner)]
    assert {(m.name, str(m.pattern), m.loop) for m in flat.memory} == {("a", "contiguous", inner),
                                                                       ("b", "strided(row)", inner)}


def test_a_window_is_a_view_of_its_source():
    graph = example("timeseries")
    (stencil,) = nodes_of(graph, "stencil")
    lane = graph.annotation("coeffects.flat")[body_of(graph, stencil)]
    assert [str(m) for m in lane.memory] == [f"memory(data: contiguous(99) in %{stencil})"]  # window.[99]
    outer = graph.annotation("coeffects.flat")[body_of(graph, declaration(graph, "analyzeTimeSeries"))]
    assert [str(m) for m in accesses(outer, "data")] == [f"memory(data: stencil(0..99) in %{stencil})"]


def test_whole_array_walks_and_scatter():
    graph = example("dataset")
    flat = graph.annotation("coeffects.flat")[body_of(graph, declaration(graph, "processDataset"))]
    (scatter,) = nodes_of(graph, "scatter")
    (reduce_,) = nodes_of(graph, "reduce")
    assert MemoryAccess(scatter, f"%{scatter}", scatter, Gather(), write=True) in flat.memory
    assert MemoryAccess(scatter, f"%{scatter}", reduce_, Contiguous(0)) in flat.memory
    assert flat.resources == frozenset() and flat.temporal is None


# -- resources and history through the call graph ------------------------------------------------------

def test_resolver_fetch_reaches_the_registry_and_so_does_everything_computed_from_it():
    graph = example("resolver")
    (fetch,) = nodes_of(graph, "call", callee="fetchAll")
    registry = ResourceAccess(frozenset({"registry"}))
    assert graph.annotation("coeffects")[fetch] == registry
    structural = graph.annotation("coeffects.structural")
    assert structural[declaration(graph, "resolve")] == registry
    for name in ("unseen", "nextFrontier", "constraintsOf"):
        assert structural[declaration(graph, name)] == PURE, name
    (await_,) = nodes_of(graph, "await")
    assert structural[await_].resources == {"registry"}
    # the carried frontier flows from the manifests: a fixed point over the loop finds it
    (loop,) = nodes_of(graph, "loop")
    carried = graph.region(graph.node(loop).regions[1]).params
    assert all(structural[p].resources == {"registry"} for p in carried)
    assert graph.annotation("coeffects")[loop].resources == {"registry"}


def test_timeseries_holds_a_history_of_depth_100():
    graph = example("timeseries")
    (stencil,) = nodes_of(graph, "stencil")
    assert graph.annotation("coeffects")[stencil].temporal == Temporal(100)
    structural = graph.annotation("coeffects.structural")
    assert structural[declaration(graph, "analyzeTimeSeries")] == Temporal(100)
    assert structural[declaration(graph, "mean")] == PURE


def test_process_is_pure():
    graph = example("process")
    process = declaration(graph, "process")
    assert graph.annotation("coeffects.structural")[process] == PURE
    assert all(m.pattern == Contiguous(0) for m in graph.annotation("coeffects")[process].memory)


def test_history_and_resources_travel_through_calls():
    source = """
[<Pure; Resource("clock")>]
extern now : int -> int

let smooth (xs: float[]) : float[] = xs |> Array.windowed 5 |> Array.map Array.sum
let stamped (xs: float[]) : float[] = smooth xs |> Array.map (fun x -> x + float (now 0))
let outer (xs: float[]) : float[] = stamped xs
"""
    structural = analyzed(source).annotation("coeffects.structural")
    graph = analyzed(source)
    assert structural[declaration(graph, "smooth")] == Temporal(5)
    expected = ResourceAccess(frozenset({"clock"})) | Temporal(5)
    assert structural[declaration(graph, "stamped")] == expected
    assert structural[declaration(graph, "outer")] == expected


MUTUAL = """
[<Pure; Resource("cache")>]
extern lookup : int -> int

let rec isEven (n: int) : bool = if n = 0 then true else isOdd (n - 1)
and isOdd (n: int) : bool = if n = 0 then false else isEven (lookup n - 1)

let rec countdown (n: int) : int = if n = 0 then 0 else countdown (n - 1)
let caller (n: int) : bool = isEven n
"""


def test_mutual_recursion_terminates_and_shares_what_the_cycle_reaches():
    graph = analyzed(MUTUAL)
    structural = graph.annotation("coeffects.structural")
    cache = ResourceAccess(frozenset({"cache"}))
    for name in ("isEven", "isOdd", "caller"):
        assert structural[declaration(graph, name)] == cache, name
    assert structural[declaration(graph, "countdown")] == PURE


def test_mutual_recursion_on_a_hand_made_graph():
    """f -> g -> f, g -> extern; h -> f: every one reaches the resource; the solver terminates."""
    b = Builder()
    b.op("extern", name="db", arity=1, pure=True, resource="db")
    for name, callees in (("f", ("g",)), ("g", ("f", "db")), ("h", ("f",))):
        with b.region(params=["x"]) as body:
            value = body.params[0]
            for callee in callees:
                value = b.op("call", b.op("ref", name=callee), value, callee=callee)
            body.yields(value)
        b.op("func", regions=[body.id], name=name, params=("x",))
    graph = b.build()
    solver = solve(graph)
    for name in ("f", "g", "h"):
        assert solver.summary[graph.symbol(name)] == ResourceAccess(frozenset({"db"}))


def test_a_closure_call_needs_what_any_closure_may_need():
    source = """
[<Pure; Resource("db")>]
extern query : int -> int

let apply (f: int -> int) (x: int) : int = f x
let use (x: int) : int = apply (fun y -> query y) x
let plain (x: int) : int = x + 1
"""
    graph = analyzed(source)
    structural = graph.annotation("coeffects.structural")
    assert structural[declaration(graph, "apply")].resources == {"db"}
    assert structural[declaration(graph, "plain")] == PURE


def test_actors_reach_the_mailboxes_they_post_to():
    graph = example("actors")
    structural = graph.annotation("coeffects.structural")
    assert structural[declaration(graph, "catalog")] == PURE
    assert structural[declaration(graph, "parser")].resources == {"actor:catalog"}
    assert structural[declaration(graph, "ingest")].resources == {"actor:catalog", "actor:parser"}
    # the dispatcher posts to an actor it is handed: any actor of the program
    assert structural[declaration(graph, "dispatcher")].resources == {
        "actor:catalog", "actor:parser", "actor:ingest", "actor:dispatcher"}


# -- the tables and the pass ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.clef")))
def test_examples_are_annotated_consistently(name):
    graph = example(name)
    need = graph.annotation("coeffects")
    flat = graph.annotation("coeffects.flat")
    structural = graph.annotation("coeffects.structural")
    check_tables(graph, need, flat, structural)


def check_tables(graph, need, flat, structural):
    live_regions = {r for r, region in enumerate(graph.regions) if region is not None}
    assert set(flat) == live_regions
    placed = {n for r in live_regions for n in graph.region(r).node_ids()}
    assert placed <= set(need) and placed <= set(structural)
    for region_id in live_regions:
        for node_id in graph.region(region_id).node_ids():
            # the flat reading covers every node's need, and a value's computation includes the node's
            # own (a declaration's structural entry is its summary: what a call carries)
            assert flat[region_id] | need[node_id] == flat[region_id]
            if region_id != graph.root:
                assert structural[node_id] | need[node_id] == structural[node_id]
    for declaration_id, node in graph.top_level():
        if node.kind in ("func", "global"):
            assert need[declaration_id].transferable() == structural[declaration_id]
    for node_id, node in graph.live_nodes():  # a carried value needs what its next value needs
        if node.kind in ("for", "loop"):
            body = graph.region(node.regions[-1])
            carried = body.params[1:] if node.kind == "for" else body.params
            for param, result in zip(carried, body.results):
                assert structural[param] | structural[result] == structural[param]


def test_the_pass_writes_tables_only():
    graph = Pipeline.parse("elaborate,reachability,baker").run(
        parse((EXAMPLES / "resolver.clef").read_text(), "resolver.clef")).graph
    ctx = PassContext()
    after = Coeffects().run(graph, ctx)
    assert after.nodes is graph.nodes and after.regions is graph.regions
    assert [v.status for v in Coeffects().validate(graph, after, ctx)] == ["validated"]
    assert ctx.statistics["resources reached"] == 1


@SETTINGS
@given(graphs(language=Saturated, max_nodes=60))
def test_generated_graphs_terminate_untouched_and_annotate_every_region(graph):
    ctx = PassContext()
    after = Coeffects().run(graph, ctx)
    assert after.nodes is graph.nodes and after.regions is graph.regions
    check_tables(after, after.annotation("coeffects"), after.annotation("coeffects.flat"),
                 after.annotation("coeffects.structural"))
    again = Coeffects().run(graph, PassContext())
    assert again.annotations == after.annotations

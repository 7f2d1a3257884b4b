"""color: strands by dependency structure, function strands, crossings as hyperedges, backends."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from nanopass.frontend import parse
from nanopass.graph import Builder, Graph, Hyperedge
from nanopass.languages import Saturated
from nanopass.pass_ import PassContext
from nanopass.passes.coeffects import Coeffects
from nanopass.passes.color import (
    BACKENDS, CONTROL, PRECEDENCE, SEQUENTIAL, STREAMING, WIDTH_DENSE, WIDTH_IRREGULAR, Color, dominant,
    select_backend)
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import graphs

EXAMPLES = Path("/work/shared/examples")
PIPELINE = "elaborate,reachability,baker,coeffects,color"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def example(name: str) -> Graph:
    return Pipeline.parse(PIPELINE).run(parse((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")).graph


def colored(graph: Graph) -> Graph:
    return Color().run(Coeffects().run(graph, PassContext()), PassContext())


def nodes_of(graph: Graph, kind: str, **attributes) -> list[int]:
    return [i for i, n in graph.live_nodes()
            if n.kind == kind and all(n.attr(k) == v for k, v in attributes.items())]


def region_color(graph: Graph, owner: int, index: int = 0) -> str:
    return graph.annotation("color")[graph.node(owner).regions[index]]


def strand(graph: Graph, name: str) -> str:
    return graph.annotation("strand")[graph.symbol(name)]


def home_region(graph: Graph, node_id: int) -> int:
    return next(r for r, region in enumerate(graph.regions) if region is not None and node_id in region.node_ids())


# -- the shared examples ------------------------------------------------------------------------------

def test_resolver_fetch_is_control_and_the_query_is_width_with_a_crossing():
    graph = example("resolver")
    colors = graph.annotation("color")
    (fetch,) = nodes_of(graph, "call", callee="fetchAll")
    loop_body = home_region(graph, fetch)
    assert colors[loop_body] == CONTROL
    (query,) = nodes_of(graph, "parallel_for", origin="List.map")
    assert home_region(graph, query) == loop_body
    assert region_color(graph, query) == WIDTH_DENSE
    (loop,) = nodes_of(graph, "loop")
    assert [colors[r] for r in graph.node(loop).regions] == [CONTROL, CONTROL]
    crossings = list(graph.annotation("crossings").values())
    waiting_on_query = [e for e in crossings if query in e.nodes[1:]]
    assert len(waiting_on_query) == 1
    (crossing,) = waiting_on_query
    (await_,) = nodes_of(graph, "await")
    assert crossing.kind == "crossing" and crossing.attr("waiter") == loop_body
    assert crossing.nodes[0] == await_  # launched once the manifests have come back
    merge = graph.node(crossing.attr("join"))
    assert merge.kind == "native" and merge.attr("op") == "Map.merge"
    # the next frontier is width work launched after the merge: a second crossing
    (frontier,) = nodes_of(graph, "call", callee="nextFrontier")
    (second,) = [e for e in crossings if frontier in e.nodes[1:]]
    assert second.nodes[0] == crossing.attr("join") and second.attr("join") is None
    assert strand(graph, "resolve") == CONTROL
    assert strand(graph, "nextFrontier") == WIDTH_IRREGULAR
    assert strand(graph, "unseen") == WIDTH_IRREGULAR
    assert graph.annotation("color.reason")[graph.node(graph.symbol("unseen")).regions[0]] == "recursion"


def test_timeseries_is_streaming():
    graph = example("timeseries")
    (stencil,) = nodes_of(graph, "stencil")
    assert region_color(graph, stencil) == STREAMING
    assert strand(graph, "analyzeTimeSeries") == STREAMING
    assert strand(graph, "mean") == WIDTH_DENSE


def test_process_is_width_dense():
    graph = example("process")
    loops = nodes_of(graph, "parallel_for")
    assert len(loops) == 3 and all(region_color(graph, loop) == WIDTH_DENSE for loop in loops)
    assert strand(graph, "process") == WIDTH_DENSE
    assert select_backend(graph, graph.node(loops[0]).regions[0]) == BACKENDS[WIDTH_DENSE]


def test_branchy_is_width_irregular_by_its_data_dependent_branch():
    graph = example("branchy")
    (lanes,) = nodes_of(graph, "parallel_for")
    lane = graph.node(lanes).regions[0]
    assert graph.annotation("color")[lane] == WIDTH_IRREGULAR
    assert graph.annotation("color.reason")[lane].startswith("data-dependent branch")
    (branch,) = [n for n in graph.walk_region(lane) if graph.node(n).kind == "if"]
    assert all(region_color(graph, branch, k) == WIDTH_IRREGULAR for k in (0, 1))  # arms run in the lane
    assert strand(graph, "process") == WIDTH_IRREGULAR


def test_dataset_filter_and_reduce_are_width_dense():
    graph = example("dataset")
    (flags,) = nodes_of(graph, "parallel_for", origin="Array.filter")
    (reduce_,) = nodes_of(graph, "reduce")
    assert region_color(graph, flags) == WIDTH_DENSE
    assert region_color(graph, reduce_) == WIDTH_DENSE  # associative: a tree, not a chain
    assert strand(graph, "processDataset") == WIDTH_DENSE


def test_matmul_is_dense_with_a_sequential_inner_loop():
    graph = example("matmul")
    (outer,) = nodes_of(graph, "parallel_for")
    (inner,) = [n for n in graph.walk_region(graph.node(outer).regions[0]) if graph.node(n).kind == "for"]
    assert region_color(graph, outer) == WIDTH_DENSE
    assert region_color(graph, inner) == CONTROL
    assert graph.annotation("color.reason")[graph.node(inner).regions[0]].startswith("carried values")
    assert strand(graph, "matrixMultiply") == WIDTH_DENSE
    assert not graph.annotation("crossings")  # width hosts the chain: no crossing


def test_montecarlo_chains_run_inside_a_dense_init():
    graph = example("montecarlo")
    (init,) = nodes_of(graph, "parallel_for", origin="Array.init")
    (steps,) = nodes_of(graph, "for")
    assert region_color(graph, init) == WIDTH_DENSE
    assert region_color(graph, steps) == CONTROL
    assert strand(graph, "simulate") == CONTROL
    assert strand(graph, "monteCarlo") == WIDTH_DENSE
    assert not graph.annotation("crossings")


def test_actors_are_control():
    graph = example("actors")
    for actor in nodes_of(graph, "actor"):
        assert region_color(graph, actor) == CONTROL
    for name in ("catalog", "parser", "ingest", "dispatcher"):
        assert strand(graph, name) == CONTROL


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.clef")))
def test_examples_color_every_region(name):
    graph = example(name)
    check_coloring(graph)


# -- small graphs ----------------------------------------------------------------------------------------

def function(build, params=("xs", "n"), effect=False, name="f", extra=()) -> tuple[Graph, dict]:
    """A graph holding the declarations in ``extra`` and one function whose body ``build`` fills."""
    b = Builder()
    ids: dict = {}
    for kind, attributes in extra:
        b.op(kind, **attributes)
    with b.region(params=list(params), effect=effect) as body:
        body.yields(build(b, body, ids))
    ids["function"] = b.op("func", regions=[body.id], name=name, params=tuple(params))
    return colored(b.build()), ids


def lanes(b, extent, lane_body, origin="Array.init"):
    """A parallel_for over ``extent`` whose lane ``lane_body(index)`` fills."""
    with b.region(params=["i"]) as lane:
        lane.yields(lane_body(lane.params[0]))
    return b.op("parallel_for", extent, regions=[lane.id], origin=origin, container="array")


def test_an_effect_chain_is_control():
    def build(b, body, ids):
        xs = body.params[0]
        zero = b.op("const", value=0, type="int")
        b.effect_op("store", xs, zero, zero)
        return zero

    graph, ids = function(build, effect=True)
    assert region_color(graph, ids["function"]) == CONTROL
    assert graph.annotation("color.reason")[graph.node(ids["function"]).regions[0]] == "effect chain"


def carried_loop(b, xs, n, reads_carried: bool):
    zero = b.op("const", value=0.0, type="float")
    lo = b.op("const", value=0, type="int")
    with b.region(params=["p", "acc"]) as step:
        p, acc = step.params
        x = b.op("index", xs, p)
        step.yields(b.op("prim", acc, x, op="+") if reads_carried else x)
    return b.op("for", lo, n, zero, regions=[step.id])


@pytest.mark.parametrize("reads_carried, expected", [(True, CONTROL), (False, WIDTH_DENSE)])
def test_a_loop_is_a_chain_when_its_next_iteration_reads_what_this_one_computed(reads_carried, expected):
    def build(b, body, ids):
        ids["loop"] = carried_loop(b, *body.params, reads_carried)
        return ids["loop"]

    graph, ids = function(build)
    assert region_color(graph, ids["loop"]) == expected


@pytest.mark.parametrize("associative, expected", [(True, WIDTH_DENSE), (False, CONTROL)])
def test_a_reduce_is_a_tree_when_associative_and_a_chain_otherwise(associative, expected):
    def build(b, body, ids):
        with b.region(params=["acc", "x"]) as step:
            acc, x = step.params
            step.yields(b.op("prim", acc, x, op="+" if associative else "-"))
        ids["reduce"] = b.op("reduce", body.params[0], regions=[step.id], op="+" if associative else "region",
                             associative=associative, reassociate=associative, origin="Array.reduce")
        return ids["reduce"]

    graph, ids = function(build)
    assert region_color(graph, ids["reduce"]) == expected


def test_a_triangle_is_non_rectangular():
    def build(b, body, ids):
        xs, n = body.params

        def row(i):
            ids["inner"] = lanes(b, i, lambda j: b.op("index", xs, j))
            return ids["inner"]

        ids["outer"] = lanes(b, n, row)
        return ids["outer"]

    graph, ids = function(build)
    assert region_color(graph, ids["outer"]) == WIDTH_IRREGULAR
    assert graph.annotation("color.reason")[graph.node(ids["outer"]).regions[0]].startswith("non-rectangular")
    assert region_color(graph, ids["inner"]) == WIDTH_DENSE  # each row on its own is rectangular


@pytest.mark.parametrize("on_lane_data, expected", [(True, WIDTH_IRREGULAR), (False, WIDTH_DENSE)])
def test_only_a_branch_on_lane_data_makes_the_lanes_diverge(on_lane_data, expected):
    def build(b, body, ids):
        xs, n = body.params

        def lane(i):
            x = b.op("index", xs, i)
            condition = b.op("prim", x, x, op=">") if on_lane_data else b.op("prim", n, n, op=">")
            with b.region() as then:
                then.yields(b.op("prim", x, x, op="*"))
            with b.region() as else_:
                else_.yields(x)
            ids["if"] = b.op("if", condition, regions=[then.id, else_.id])
            return ids["if"]

        ids["lanes"] = lanes(b, n, lane)
        return ids["lanes"]

    graph, ids = function(build)
    assert region_color(graph, ids["lanes"]) == expected
    assert region_color(graph, ids["if"], 0) == expected and region_color(graph, ids["if"], 1) == expected
    assert region_color(graph, ids["function"]) == WIDTH_IRREGULAR  # the function branches on its input


def test_a_while_loop_in_a_lane_makes_it_irregular():
    def build(b, body, ids):
        xs, n = body.params

        def lane(i):
            x = b.op("index", xs, i)
            with b.region(params=["v"]) as condition:
                condition.yields(b.op("prim", condition.params[0], x, op="<"))
            with b.region(params=["v"]) as step:
                step.yields(b.op("prim", step.params[0], step.params[0], op="+"))
            ids["while"] = b.op("loop", i, regions=[condition.id, step.id])
            return b.op("proj", ids["while"], index=0)

        ids["lanes"] = lanes(b, n, lane)
        return ids["lanes"]

    graph, ids = function(build)
    assert region_color(graph, ids["lanes"]) == WIDTH_IRREGULAR
    assert region_color(graph, ids["while"], 0) == CONTROL and region_color(graph, ids["while"], 1) == CONTROL


def recursive_and_closure_program(lane_calls: str) -> tuple[Graph, dict]:
    b = Builder()
    ids = {}
    with b.region(params=["k"]) as body:  # countdown k = countdown k: recursion
        body.yields(b.op("call", b.op("ref", name="countdown"), body.params[0], callee="countdown"))
    ids["countdown"] = b.op("func", regions=[body.id], name="countdown", params=("k",))
    with b.region(params=["g", "n"]) as body:
        g, n = body.params

        def lane(i):
            if lane_calls == "recursive":
                return b.op("call", b.op("ref", name="countdown"), i, callee="countdown")
            if lane_calls == "closure":
                return b.op("call", g, i)
            return b.op("prim", i, i, op="*")

        ids["lanes"] = lanes(b, n, lane)
        body.yields(ids["lanes"])
    b.op("func", regions=[body.id], name="f", params=("g", "n"))
    return colored(b.build()), ids


@pytest.mark.parametrize("lane_calls, expected", [
    ("recursive", WIDTH_IRREGULAR), ("closure", WIDTH_IRREGULAR), ("nothing", WIDTH_DENSE)])
def test_calls_of_recursive_functions_or_closures_make_a_lane_irregular(lane_calls, expected):
    graph, ids = recursive_and_closure_program(lane_calls)
    assert region_color(graph, ids["lanes"]) == expected
    assert region_color(graph, ids["countdown"]) == WIDTH_IRREGULAR


def test_reaching_a_resource_is_control():
    def build(b, body, ids):
        return b.op("call", b.op("ref", name="lookup"), body.params[0], callee="lookup")

    graph, ids = function(build, params=("x",), extra=[("extern", {"name": "lookup", "arity": 1, "pure": True,
                                                                   "resource": "cache"})])
    region = graph.node(ids["function"]).regions[0]
    assert graph.annotation("color")[region] == CONTROL
    assert graph.annotation("color.reason")[region] == "reaches resource(s) cache"


def spawning_program() -> tuple[Graph, dict]:
    """An effectful body: fetch, two maps of what came back, a join, a third map sized by the join."""
    b = Builder()
    ids = {}
    b.op("extern", name="fetch", arity=1, pure=False)
    with b.region(params=["n"], effect=True) as body:
        n = body.params[0]
        ids["fetch"] = b.effect_op("call", b.op("ref", name="fetch"), n, callee="fetch")
        xs = ids["fetch"]
        ids["first"] = lanes(b, n, lambda i: b.op("index", xs, i))
        ids["second"] = lanes(b, n, lambda i: b.op("prim", b.op("index", xs, i), i, op="*"))
        ids["join"] = b.op("extent", ids["first"], dim=0)
        ids["third"] = lanes(b, ids["join"], lambda i: b.op("index", ids["second"], i))
        body.yields(ids["third"])
    ids["function"] = b.op("func", regions=[body.id], name="f", params=("n",))
    return colored(b.build()), ids


def test_spawns_launched_together_share_one_hyperedge():
    graph, ids = spawning_program()
    body = graph.node(ids["function"]).regions[0]
    assert graph.annotation("color")[body] == CONTROL
    assert dict(graph.annotation("crossings")) == {
        0: Hyperedge("crossing", (ids["fetch"], ids["first"], ids["second"]),
                     (("join", ids["join"]), ("waiter", body))),
        1: Hyperedge("crossing", (ids["join"], ids["third"]), (("join", None), ("waiter", body))),
    }


def test_a_width_strand_hosts_no_crossing():
    def build(b, body, ids):
        xs, n = body.params
        return lanes(b, n, lambda i: lanes(b, n, lambda j: b.op("index", xs, j)))

    graph, _ = function(build)
    assert not graph.annotation("crossings")


def test_select_backend_and_dominant():
    graph, ids = spawning_program()
    body = graph.node(ids["function"]).regions[0]
    assert select_backend(graph, body) == "host continuation (asyncio)"
    assert select_backend(graph, len(graph.regions) + 5) == SEQUENTIAL
    assert set(BACKENDS) == set(PRECEDENCE)
    assert BACKENDS[WIDTH_IRREGULAR] == "interaction net / work-stealing"
    assert BACKENDS[STREAMING] == "stream/dataflow pipeline"
    assert dominant([WIDTH_DENSE, STREAMING, WIDTH_IRREGULAR]) == STREAMING
    assert dominant([WIDTH_DENSE, CONTROL]) == CONTROL
    assert dominant([]) == WIDTH_DENSE


def test_color_without_coeffects_tables_solves_them_itself():
    graph = Pipeline.parse("elaborate,reachability,baker").run(
        parse((EXAMPLES / "resolver.clef").read_text(), "resolver.clef")).graph
    alone = Color().run(graph, PassContext())
    after = colored(graph)
    for table in ("color", "color.reason", "strand", "crossings"):
        assert alone.annotation(table) == after.annotation(table), table


# -- the pass, on generated graphs ---------------------------------------------------------------------

def check_coloring(graph: Graph) -> None:
    colors = graph.annotation("color")
    live_regions = {r for r, region in enumerate(graph.regions) if region is not None}
    assert set(colors) == live_regions and set(colors.values()) <= set(PRECEDENCE)
    assert set(graph.annotation("color.reason")) == live_regions
    owners = graph.owners()
    for region_id in live_regions:
        if graph.region(region_id).token is not None:
            assert colors[region_id] == CONTROL
        owner = owners.get(region_id)
        if owner is not None and graph.node(owner).kind == "if":
            parent = home_region(graph, owner)
            assert colors[region_id] in (colors[parent], CONTROL)
    with_regions = {d for d, node in graph.top_level() if node.regions}
    assert set(graph.annotation("strand")) == with_regions
    for edge_id, edge in graph.annotation("crossings").items():
        waiter = edge.attr("waiter")
        region = graph.region(waiter)
        assert edge.kind == "crossing" and colors[waiter] == CONTROL
        site, *strands = edge.nodes
        assert strands and all(s in region.body for s in strands)
        assert site in region.body or site in (region.token, owners[waiter])
        join = edge.attr("join")
        assert join is None or (join in region.body and join not in strands)


@SETTINGS
@given(graphs(language=Saturated, max_nodes=60))
def test_generated_graphs_terminate_untouched_and_color_every_region(graph):
    ctx = PassContext()
    after = Color().run(Coeffects().run(graph, PassContext()), ctx)
    assert after.nodes is graph.nodes and after.regions is graph.regions
    assert [v.status for v in Color().validate(graph, after, ctx)] == ["validated"]
    check_coloring(after)
    again = Color().run(graph, PassContext())
    for table in ("color", "strand", "crossings"):
        assert again.annotation(table) == after.annotation(table)

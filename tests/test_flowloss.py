"""The flowloss analysis: closed forms derived by hand, and the oracle's figures always inside the intervals.

The oracle is the profiler (`nanopass.profiler`), run on the program as
written; the analysis reads the saturated graph (elaborate, baker) at the
sizes of the inputs.  Containment is checked on every example and on
generated programs (maps, reductions, branches, loops, calls, recursion),
under hypothesis and on a seeded corpus whose exactness is asserted too.
Per region, the oracle is `profile_regions` (each run of a region measured
on its own, behind a barrier) on the saturated graph, whose region ids the
analysis keys its figures by.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.dialects.psg_text import from_mlir, to_mlir
from nanopass.frontend import parse
from nanopass.pipeline import Pipeline
from nanopass.profiler import profile_graph, profile_regions
from nanopass.passes.flowloss import FlowLoss, analyze, check_sizes, critical_path, source_sites
from nanopass.passes.flowloss_algebra import INF, Range, ceil_log2, figure_of, plain_figure, show, smax
from nanopass.passes.flowloss_regions import TABLE as REGIONS
from nanopass.testing.strategies import DrawChoices, RandomChoices

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
n = sp.Symbol("n", integer=True, positive=True)


def saturate(graph):
    return Pipeline.parse("elaborate,baker").run(graph).graph


def flow_of(source: str, entry: str, sizes=None, values=None, filename: str = "test.clef"):
    clef = parse(source, filename)
    return analyze(saturate(clef), sizes or {}, values or {}, source_sites(clef), functions=[entry])[entry]


def example_flow(name: str, entry: str, sizes=None, values=None):
    path = EXAMPLES / f"{name}.clef"
    return flow_of(path.read_text(), entry, sizes, values, str(path))


def exact(r) -> tuple:
    assert r.lo == r.hi, f"{r} is not exact"
    return r.lo


def inside(x: int, r) -> bool:
    return r.lo <= x and (r.hi is INF or x <= r.hi)


# -- closed forms derived by hand ---------------------------------------------------------------------------

def test_process_is_3n_work_3_span_and_n_parallelism():
    flow = example_flow("process", "process")
    assert exact(flow.work) == 3 * n and exact(flow.span) == 3 and exact(flow.parallelism) == n
    assert show(flow.work.lo) == "3n" and flow.header == "process (frame: float<volt>[n])"
    at = example_flow("process", "process", {"frame": (1024,)})
    assert (exact(at.work), exact(at.span), exact(at.parallelism)) == (3072, 3, 1024)
    assert [(p.site, p.ops, p.line) for p in at.serialization_points] == [
        ("Array.map calibrate", 1023, 14), ("Array.map extractScore", 1023, 15), ("Array.map normalize", 1023, 16)]


def test_map_pipeline_of_primitives():
    # x * 2.0 + 1.0 is two dependent operations, x * x one more: 3 per element, a chain of 3.
    source = ("let f (xs: float[]) : float[] =\n"
              "    xs |> Array.map (fun x -> x * 2.0 + 1.0) |> Array.map (fun x -> x * x)\n")
    flow = flow_of(source, "f")
    assert (exact(flow.work), exact(flow.span)) == (3 * n, 3)
    assert [p.ops for p in flow.serialization_points] == [n - 1, n - 1]


@pytest.mark.parametrize("expression, work, written, tree", [
    # a sum: n - 1 additions from the first element; as a tree ceil(log2 n) levels
    ("Array.sum xs", n - 1, n - 1, ceil_log2(n)),
    ("Array.reduce (+) xs", n - 1, n - 1, ceil_log2(n)),
    # a fold from 0.0 adds all n elements to the init: n + 1 leaves for the tree
    ("Array.fold (fun a x -> a + x) 0.0 xs", n, n, ceil_log2(n + 1)),
    # a product from its identity 1.0 reassociates too; a difference does not: a chain either way
    ("Array.fold (fun a x -> a * x) 1.0 xs", n, n, ceil_log2(n + 1)),
    ("Array.fold (fun a x -> a - x) 0.0 xs", n, n, n),
])
def test_reductions_both_readings(expression, work, written, tree):
    flow = flow_of(f"let f (xs: float[]) : float = {expression}\n", "f")
    assert exact(flow.work) == work
    assert exact(flow.span) == written
    assert exact(flow.span_reassociated) == tree


def test_reductions_at_a_size_agree_with_the_oracle():
    source = "let f (xs: float[]) : float = Array.fold (fun a x -> a + x) 0.0 (Array.map (fun x -> x * x) xs)\n"
    flow = flow_of(source, "f", {"xs": (1000,)})
    profile = profile_graph(parse(source, "t.clef"), "f", [0.5] * 1000)
    assert (exact(flow.work), exact(flow.span), exact(flow.span_reassociated)) == (
        profile.work, profile.span, profile.span_reassociated) == (2000, 1001, 1 + 10)


INDEPENDENT_LOOP = """let double (xs: float[]) : float[] =
    let out = Array.zeroCreate (Array.length xs)
    for i in 0 .. Array.length xs - 1 do
        out.[i] <- xs.[i] * 2.0
    out
"""

CHAINED_LOOP = """let decay (xs: float[]) : float =
    let mutable acc = 0.0
    for i in 0 .. Array.length xs - 1 do
        acc <- acc * 0.5 + xs.[i]
    acc
"""

PREFIX_LOOP = """let prefix (xs: float[]) : float[] =
    let out = Array.copy xs
    for i in 1 .. Array.length out - 1 do
        out.[i] <- out.[i - 1] + xs.[i]
    out
"""

IN_PLACE_LOOP = """let scale (xs: float[]) : float[] =
    let out = Array.copy xs
    for i in 0 .. Array.length out - 1 do
        out.[i] <- out.[i] * 3.0
    out
"""


def test_an_independent_loop_reads_as_width():
    flow = flow_of(INDEPENDENT_LOOP, "double")
    assert (exact(flow.work), exact(flow.span)) == (n, 1)
    assert [(p.site, p.ops, p.line) for p in flow.serialization_points] == [("for i", n - 1, 3)]


def test_an_in_place_loop_is_independent_by_z3():
    # iteration i reads and writes element i only: z3 finds no i < i' with i = i'
    flow = flow_of(IN_PLACE_LOOP, "scale")
    assert (exact(flow.work), exact(flow.span)) == (n, 1)


def test_a_chained_loop_reads_as_a_chain():
    flow = flow_of(CHAINED_LOOP, "decay")
    assert (exact(flow.work), exact(flow.span)) == (2 * n, 2 * n)
    assert flow.serialization_points == ()


def test_a_chain_through_array_elements_is_found_by_z3():
    # element i - 1 is written by the iteration before: a chain of n - 1 additions at most
    flow = flow_of(PREFIX_LOOP, "prefix")
    assert exact(flow.work) == n - 1
    assert flow.span.hi == n - 1 and flow.serialization_points == ()
    at = flow_of(PREFIX_LOOP, "prefix", {"xs": (50,)})
    profile = profile_graph(parse(PREFIX_LOOP, "t.clef"), "prefix", [1.0] * 50)
    assert profile.span == 49 and inside(profile.span, at.span)


def test_matrix_multiply():
    flow = example_flow("matmul", "matrixMultiply")
    rows, inner, cols = (sp.Symbol(s, integer=True, positive=True) for s in ("rows_a", "cols_a", "cols_b"))
    assert exact(flow.work) == 2 * rows * inner * cols
    assert exact(flow.span) == inner + 1
    at = example_flow("matmul", "matrixMultiply", {"a": (8, 5), "b": (5, 3)})
    a, b = np.ones((8, 5)), np.ones((5, 3))
    profile = profile_graph(parse((EXAMPLES / "matmul.clef").read_text(), "m.clef"), "matrixMultiply", a, b)
    assert (exact(at.work), exact(at.span)) == (profile.work, profile.span) == (240, 6)


def test_a_triangular_loop_sums_its_inner_trip_counts():
    source = """let tri (k: int) : float =
    let mutable acc = 0.0
    for i in 0 .. k - 1 do
        for j in 0 .. i do
            acc <- acc + 1.5
    acc
"""
    # k - 1 is an operation (k is a parameter, not a for index): 1 + k(k+1)/2 in all, a chain of k(k+1)/2
    k = sp.Symbol("k", integer=True, nonnegative=True)
    flow = flow_of(source, "tri")
    assert sp.expand(exact(flow.work) - k * (k + 1) / 2) == 1
    at = flow_of(source, "tri", values={"k": 9})
    profile = profile_graph(parse(source, "t.clef"), "tri", 9)
    assert (exact(at.work), exact(at.span)) == (profile.work, profile.span) == (46, 45)


def test_branchy_ends_are_attained():
    flow = example_flow("branchy", "process", {"frame": (1024,)})
    assert (flow.work.lo, flow.work.hi) == (2048, 40960)
    assert (flow.span.lo, flow.span.hi) == (2, 40)
    # one refined sample: (2048 + 38) / 40; none or all: 1024
    assert (flow.parallelism.lo, flow.parallelism.hi) == (sp.Rational(2086, 40), 1024)
    symbolic = example_flow("branchy", "process")
    assert (symbolic.work.lo, symbolic.work.hi) == (2 * n, 40 * n)


def test_a_data_dependent_while_loop_is_unbounded_with_its_reason():
    source = """let halve (x: float) : float =
    let mutable v = x
    while v > 1.0 do
        v <- v * 0.5
    v
"""
    flow = flow_of(source, "halve")
    assert flow.work.hi is INF and flow.span.hi is INF and (flow.work.lo, flow.span.lo) == (1, 1)
    assert any("while loop" in r.message and r.span.line == 3 for r in flow.reasons)


COUNTING_WHILE = """let count (k: int) : int =
    let mutable i = 0
    let mutable s = 0
    while i < k do
        s <- s + i
        i <- i + 1
    s
"""


def test_a_while_loop_the_values_decide_is_run_through():
    # each condition i < k raises the control time for the rest of the loop: every iteration waits on it
    flow = flow_of(COUNTING_WHILE, "count", values={"k": 5})
    profile = profile_graph(parse(COUNTING_WHILE, "t.clef"), "count", 5)
    assert (exact(flow.work), exact(flow.span)) == (profile.work, profile.span) == (16, 11)
    assert flow.reasons == ()
    symbolic = flow_of(COUNTING_WHILE, "count")
    assert symbolic.work.hi is INF and any("while loop" in r.message for r in symbolic.reasons)


def test_recursion_bounded_by_a_list_length_or_unrolled_when_sizes_are_given():
    source = """let rec size (xs: int list) : int =
    match xs with
    | [] -> 0
    | _ :: rest -> 1 + size rest
"""
    flow = flow_of(source, "size")
    assert flow.work.hi == n + 1 and flow.span.hi == n
    at = flow_of(source, "size", {"xs": (6,)})
    profile = profile_graph(parse(source, "t.clef"), "size", [1, 2, 3, 4, 5, 6])
    assert (exact(at.work), exact(at.span)) == (profile.work, profile.span) == (6, 6)


def test_recursion_without_a_shrinking_argument_is_unbounded():
    source = "let rec spin (x: float) : float = if x > 0.0 then spin (x + 1.0) else x\n"
    flow = flow_of(source, "spin")
    assert flow.work.hi is INF
    assert any("recursive call of 'spin'" in r.message for r in flow.reasons)


def test_an_integer_countdown_is_bounded_by_its_argument():
    source = "let rec fib (n: int) : int = if n < 2 then n else fib (n - 1) + fib (n - 2)\n"
    m = sp.Symbol("n", integer=True, nonnegative=True)
    flow = flow_of(source, "fib")
    assert flow.span.hi != INF and flow.work.hi != INF
    assert flow.span.hi.subs(m, 10) == 28  # three operations per level, 9 levels, then the last test
    at = flow_of(source, "fib", values={"n": 10})
    profile = profile_graph(parse(source, "t.clef"), "fib", 10)
    assert (exact(at.work), exact(at.span)) == (profile.work, profile.span)


def test_the_memory_axis_fuses_element_wise_intermediates():
    flow = example_flow("process", "process", {"frame": (1024,)})
    memory = flow.memory
    assert (memory.bytes_in, memory.bytes_out) == (8192, 8192)
    assert [(a.name, a.bytes, a.fused) for a in memory.intermediates] == [
        ("Array.map calibrate", 8192, True), ("Array.map extractScore", 8192, True)]
    assert memory.summary() == "frame stays resident; no spill on this region"
    big = example_flow("process", "process", {"frame": (1 << 20,)})
    assert big.memory.resident is False and "spills" in big.memory.summary()


def test_an_intermediate_read_twice_is_materialized():
    source = ("let f (xs: float[]) : float =\n"
              "    let ys = Array.map (fun x -> x * 2.0) xs\n"
              "    Array.sum ys + Array.sum (Array.map (fun y -> y + 1.0) ys)\n")
    flow = flow_of(source, "f", {"xs": (100,)})
    first = next(a for a in flow.memory.intermediates if a.name.startswith("Array.map (fun x"))
    assert first.fused is False and first.bytes == 800


def test_sizes_of_the_wrong_rank_are_reported():
    graph = saturate(parse((EXAMPLES / "matmul.clef").read_text(), "m.clef"))
    assert check_sizes(graph, {"a": (4,)}) == [
        "'a' of 'matrixMultiply' has 2 dimension(s), but the size gives 1"]


def test_the_pass_writes_its_table_in_a_pipeline():
    clef = parse((EXAMPLES / "process.clef").read_text(), "p.clef")
    result = Pipeline.parse('elaborate,baker,flowloss{sizes="frame=64"}').run(clef)
    (decl_id, flow), = result.graph.annotation("flowloss").items()
    assert result.graph.node(decl_id).attr("name") == "process" and exact(flow.work) == 192
    assert FlowLoss(sizes="frame=64").validate(result.graph, result.graph, None)[0].status == "validated"


def test_critical_path_follows_the_costed_chain():
    graph = saturate(parse((EXAMPLES / "process.clef").read_text(), "p.clef"))
    decl = graph.symbol("process")
    path = critical_path(graph, decl)
    callees = [graph.node(i).attr("callee") for i in path if graph.node(i).kind == "call"]
    assert callees == ["calibrate", "extractScore", "normalize"]


# -- per region ----------------------------------------------------------------------------------------------

def regions_of(flow) -> list[tuple]:
    return [(r.site, r.line, r.kind, exact(r.work), exact(r.span), exact(r.parallelism)) for r in flow.regions]


def test_each_map_of_process_is_a_region_of_n_work_and_span_1():
    flow = example_flow("process", "process")
    assert regions_of(flow) == [("Array.map calibrate", 14, "parallel_for", n, 1, n),
                                ("Array.map extractScore", 15, "parallel_for", n, 1, n),
                                ("Array.map normalize", 16, "parallel_for", n, 1, n)]
    at = example_flow("process", "process", {"frame": (1024,)})
    assert [figures[3:] for figures in regions_of(at)] == [(1024, 1, 1024)] * 3
    graph = saturate(parse((EXAMPLES / "process.clef").read_text(), str(EXAMPLES / "process.clef")))
    assert all(graph.node(r.node).regions == (r.region,) for r in at.regions)  # keyed by the map's body


SHAPE = """let shape (xs: float[]) (k: int) : float =
    let ys = Array.map (fun x -> x * 2.0 + 1.0) xs
    let mutable acc = 0.0
    for i in 0 .. Array.length ys - 1 do
        acc <- acc * 0.5 + ys.[i]
    let total = Array.sum ys
    let mutable tri = 0.0
    for i in 0 .. k - 1 do
        for j in 0 .. i do
            tri <- tri + 1.5
    if acc > total then acc * tri else acc + total - tri
"""


def test_the_regions_of_a_hand_written_program_in_closed_form():
    flow = flow_of(SHAPE, "shape")
    assert [(r.site, r.line, r.kind) for r in flow.regions] == [
        ("Array.map (fun x -> ...)", 2, "parallel_for"), ("for i", 4, "for"), ("Array.sum", 6, "reduce"),
        ("for i", 8, "for"), ("for j", 9, "for"), ("if then", 11, "if"), ("if else", 11, "if")]
    mapped, chained, summed, triangle, inner, then, other = flow.regions
    # two dependent operations per element, side by side
    assert (exact(mapped.work), exact(mapped.span), exact(mapped.parallelism)) == (2 * n, 2, n)
    # acc * 0.5 + ys.[i]: two per element, each iteration waiting on the one before
    assert (exact(chained.work), exact(chained.span), exact(chained.parallelism)) == (2 * n, 2 * n, 1)
    assert (exact(summed.work), exact(summed.span), exact(summed.parallelism)) == (n - 1, n - 1, 1)
    # one addition per (i, j) with j <= i < k, all on one chain
    k = sp.Symbol("k", integer=True, nonnegative=True)
    assert sp.expand(exact(triangle.work) - k * (k + 1) / 2) == 0 and triangle.span.lo == exact(triangle.work)
    # acc * tri; acc + total - tri
    assert [(exact(r.work), exact(r.span)) for r in (then, other)] == [(1, 1), (2, 2)]
    # at sizes: the inner loop runs i + 1 times in the run of iteration i, from 1 to k
    at = flow_of(SHAPE, "shape", {"xs": (10,)}, {"k": 4})
    assert [(r.work.lo, r.work.hi, r.span.lo, r.span.hi) for r in at.regions] == [
        (20, 20, 2, 2), (20, 20, 20, 20), (9, 9, 9, 9), (10, 10, 10, 10), (1, 4, 1, 4), (1, 1, 1, 1), (2, 2, 2, 2)]
    runs = profile_regions(saturate(parse(SHAPE, "test.clef")), "shape", [0.5 * i for i in range(10)], 4)
    assert sorted((f.work, f.span) for f in runs[inner.region]) == [(1, 1), (2, 2), (3, 3), (4, 4)]


def test_the_oracle_measures_a_region_from_its_own_start():
    # run in place, the third map's elements are ready at 3; on its own the map is one operation deep
    graph = saturate(parse((EXAMPLES / "process.clef").read_text(), "p.clef"))
    runs = profile_regions(graph, "process", [0.5] * 8, externs=str(EXAMPLES / "process_externs.py"))
    assert {region: [(f.work, f.span) for f in figures] for region, figures in runs.items()} == {
        2: [(8, 1)], 3: [(8, 1)], 4: [(8, 1)]}


def test_a_branchy_region_and_its_arm():
    flow = example_flow("branchy", "process", {"frame": (1024,)})
    body, arm = flow.regions
    assert (body.site, body.work, body.span) == ("Array.map (fun s -> ...)", Range(2048, 40960), Range(2, 40))
    assert (body.parallelism.lo, body.parallelism.hi) == (sp.Rational(2086, 40), 1024)
    assert (arm.site, exact(arm.work), exact(arm.span)) == ("if then", 38, 38)  # refine; the else arm does nothing


def test_a_region_in_a_recursion_is_bounded_by_the_outermost_call():
    source = "let rec fib (n: int) : int = if n < 2 then n else fib (n - 1) + fib (n - 2)\n"
    flow = flow_of(source, "fib")
    (arm,) = flow.regions
    # the else arm of the outermost call: n - 1, n - 2 and + at least; its deeper calls at most the whole
    assert (arm.site, arm.work) == ("if else", Range(3, flow.work.hi)) and arm.span.hi is not INF
    at = flow_of(source, "fib", values={"n": 10})
    runs = profile_regions(saturate(parse(source, "test.clef")), "fib", 10)[arm.region]
    assert [(f.work, f.span) for f in runs] == [(exact(at.regions[0].work), exact(at.regions[0].span))] == [(440, 27)]


@pytest.mark.parametrize("options", ['{sizes="frame=64"}', ""], ids=["sizes", "symbolic"])
def test_the_region_table_round_trips_through_the_psg_text(options):
    clef = parse((EXAMPLES / "branchy.clef").read_text(), "b.clef")
    graph = Pipeline.parse(f"elaborate,baker,flowloss{options}").run(clef).graph
    table = graph.annotation(REGIONS)
    assert sorted(table) == [6, 8]
    back = from_mlir(to_mlir(graph)).annotation(REGIONS)
    assert dict(back) == dict(table)
    assert (back[8].work, back[8].parallelism) == (table[8].work, table[8].parallelism)


def test_figures_in_plain_form_and_back():
    figures = [7, INF, 3 * n, n - 1, smax(3 * n + 2, n ** 2), ceil_log2(n) + 1, sp.Rational(2086, 40) * n,
               sp.floor(n / 2), sp.Mod(n, 3)]
    assert [figure_of(plain_figure(x)) for x in figures] == figures
    with pytest.raises(ValueError):
        figure_of(("exec", "print(1)"))


def test_the_memory_axis_reads_the_backends_fused_table():
    # Monte Carlo's costly scenarios feed an in-order sum: by the uses they would fuse, the backend keeps them
    source = (EXAMPLES / "montecarlo.clef").read_text()
    by_uses = analyze(saturate(parse(source, "m.clef")), {}, {"scenarios": 64}, functions=["monteCarlo"])
    fused = Pipeline.parse("elaborate,baker,fuse").run(parse(source, "m.clef")).graph
    by_table = analyze(fused, {}, {"scenarios": 64}, functions=["monteCarlo"])
    memory, backend = by_uses["monteCarlo"].memory, by_table["monteCarlo"].memory
    assert [(a.name, a.bytes, a.fused) for a in memory.intermediates] == [("Array.init simulate", 512, True)]
    assert [(a.bytes, a.fused) for a in backend.intermediates] == [(512, False)]
    assert (memory.working_set, backend.working_set) == (0, 512)
    assert (memory.fusion, backend.fusion) == ("uses", "fused")
    # a filter into a reduction: the backend makes no flags, positions or compacted array, and fuses the map
    dataset = (EXAMPLES / "dataset.clef").read_text()
    graph = Pipeline.parse("elaborate,baker,fuse").run(parse(dataset, "d.clef")).graph
    axis = analyze(graph, {"data": (100,)}, functions=["processDataset"])["processDataset"].memory
    assert axis.materialized == () and len(axis.fused) == 4
    assert axis.working_set == axis.bytes_in == 800


# -- containment on every example ----------------------------------------------------------------------------

EXAMPLE_RUNS = [
    ("process", "process", ([0.001 * i for i in range(256)],), "process_externs.py"),
    ("branchy", "process", ([2.0 if i % 5 == 0 else 0.0 for i in range(256)],), "branchy_externs.py"),
    ("dataset", "processDataset", ([0.01 * i for i in range(300)],), "dataset_externs.py"),
    ("matmul", "matrixMultiply", ([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]], [[5.0, 6.0], [7.0, 8.0], [1.0, 2.0]]), None),
    ("montecarlo", "monteCarlo", (100.0, 16), None),
    ("resolver", "resolve", ("app",), "resolver_externs.py"),
    ("timeseries", "analyzeTimeSeries", ([float(i % 17) for i in range(160)],), None),
    ("nappy", "main", (40,), None),
    ("counter", "step", ({"Count": 3}, {"Up": True, "Down": False}), None),
]


def input_sizes(names, args) -> tuple[dict, dict]:
    sizes, values = {}, {}
    for name, arg in zip(names, args):
        if isinstance(arg, list):
            sizes[name] = np.array(arg, dtype=object).shape
        elif isinstance(arg, int) and not isinstance(arg, bool):
            values[name] = arg
    return sizes, values


@pytest.mark.parametrize("name, entry, args, externs", EXAMPLE_RUNS, ids=[r[0] for r in EXAMPLE_RUNS])
def test_every_example_profiles_inside_its_intervals(name, entry, args, externs):
    clef = parse((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")
    saturated = saturate(clef)
    bindings = str(EXAMPLES / externs) if externs else None
    written = profile_graph(clef, entry, *args, externs=bindings)
    baked = profile_graph(saturated, entry, *args, externs=bindings)
    sizes, values = input_sizes(clef.node(clef.symbol(entry)).attr("params"), args)
    flow = analyze(saturated, sizes, values, functions=[entry])[entry]
    assert inside(written.work, flow.work) and inside(baked.work, flow.work)
    assert inside(written.span, flow.span) and inside(baked.span, flow.span)
    assert inside(baked.span_reassociated, flow.span_reassociated)


def regions_held_against_the_oracle(graph, entry: str, args, flow, externs=None) -> tuple[int, int]:
    """Every run of every region the profiler measures lies inside the analysis's intervals for that region;
    a region the analysis leaves out does no work.  (Regions compared, regions whose figures are exact.)"""
    static = {r.region: r for r in flow.regions}
    compared = exact_count = 0
    for region, runs in profile_regions(graph, entry, *args, externs=externs).items():
        if region not in static:
            assert all(f.work == 0 for f in runs), (region, runs)
            continue
        r = static[region]
        for f in runs:
            assert inside(f.work, r.work) and inside(f.span, r.span), (r.site, r.line, f, r.work, r.span)
        compared += 1
        exact_count += r.work.exact and r.span.exact and all((f.work, f.span) == (r.work.lo, r.span.lo) for f in runs)
    return compared, exact_count


@pytest.mark.parametrize("name, entry, args, externs", EXAMPLE_RUNS, ids=[r[0] for r in EXAMPLE_RUNS])
def test_every_examples_regions_profile_inside_their_intervals(name, entry, args, externs):
    clef = parse((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")
    saturated = saturate(clef)
    sizes, values = input_sizes(clef.node(clef.symbol(entry)).attr("params"), args)
    flow = analyze(saturated, sizes, values, functions=[entry])[entry]
    regions_held_against_the_oracle(saturated, entry, args, flow, str(EXAMPLES / externs) if externs else None)


# -- generated programs -----------------------------------------------------------------------------------

EXTERN_COSTS = (1, 3, 12)
EXTERNS = {f"ext{k}": (lambda x, k=k: x * 0.5 + k) for k in range(len(EXTERN_COSTS))}


class Scope:
    """What a generated expression may read: floats, ints, arrays (and whether their length is xs's),
    loop indices valid for an array, and whether the helpers may be called."""

    def __init__(self, floats=(), ints=(), arrays=(), index=(), calls=True):
        self.floats, self.ints, self.arrays, self.index = list(floats), list(ints), list(arrays), list(index)
        self.calls = calls

    def copy(self) -> "Scope":
        return Scope(self.floats, self.ints, self.arrays, self.index, self.calls)


class ProgramWriter:
    """A well-typed Clef program: externs of several costs, helpers, a recursive countdown, and a ``main
    xs k`` of maps, reductions, branches, loops (independent, chained, through array elements,
    triangular, while) and calls, drawn from ``choices`` (`nanopass.testing.strategies.Choices`)."""

    def __init__(self, choices):
        self.c = choices
        self.counter = 0
        self.lines: list[str] = []

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self, items):
        return items[self.c.integer(0, len(items) - 1)]

    def fexpr(self, scope: Scope, depth: int) -> str:
        options = ["lit"] + (["var", "var"] if scope.floats else [])
        if depth > 0:
            options += ["bin", "bin", "ext", "if"] + (["call"] if scope.calls else [])
            options += ["reduce"] if scope.arrays else []
            options += ["first"] if any(exact for _, exact in scope.arrays) else []
            options += ["element", "element"] if scope.index else []
            options += ["float"] if scope.ints else []
        kind = self.pick(options)
        if kind == "lit":
            return self.pick(["1.5", "0.25", "2.0", "0.5"])
        if kind == "var":
            return self.pick(scope.floats)
        if kind == "bin":
            return f"({self.fexpr(scope, depth - 1)} {self.pick(['+', '*', '-'])} {self.fexpr(scope, depth - 1)})"
        if kind == "call":
            return f"(helper{self.c.integer(0, 1)} {self.fexpr(scope, depth - 1)})"
        if kind == "ext":
            return f"(ext{self.c.integer(0, len(EXTERN_COSTS) - 1)} {self.fexpr(scope, depth - 1)})"
        if kind == "if":
            return (f"(if {self.cond(scope, depth - 1)} then {self.fexpr(scope, depth - 1)} "
                    f"else {self.fexpr(scope, depth - 1)})")
        if kind == "reduce":
            name, exact = self.pick(scope.arrays)
            form = self.pick(["sum", "fold", "total"] + (["reduce"] if exact else []))
            return {"sum": f"(Array.sum {name})", "fold": f"(Array.fold (fun acc v -> acc + v) 0.0 {name})",
                    "total": f"(total {name})", "reduce": f"(Array.reduce (+) {name})"}[form]
        if kind == "first":
            return f"{self.pick([n for n, exact in scope.arrays if exact])}.[0]"
        if kind == "element":
            index, name = self.pick(scope.index)
            return f"{name}.[{index}]"
        return f"(float {self.pick(scope.ints)})"

    def cond(self, scope: Scope, depth: int) -> str:
        if scope.ints and self.c.flip(30):
            return f"({self.pick(scope.ints)} % 2 = 0)"
        return f"({self.fexpr(scope, depth)} > {self.pick(['0.5', '1.0', '2.0'])})"

    def lam(self, scope: Scope, params: list[str], kinds: list[str]) -> Scope:
        inner = scope.copy()
        for param, kind in zip(params, kinds):
            (inner.floats if kind == "float" else inner.ints).append(param)
        return inner

    def aexpr(self, scope: Scope, depth: int) -> tuple[str, bool]:
        """An array expression and whether its length is xs's."""
        kind = self.pick(["map", "init", "mapi", "filter", "copy", "map2"])
        x, i, y = self.fresh("x"), self.fresh("i"), self.fresh("y")
        if kind == "init":
            body = self.fexpr(self.lam(scope, [i], ["int"]), depth)
            return f"(Array.init (Array.length xs) (fun {i} -> {body}))", True
        name, exact = self.pick(scope.arrays)
        if kind == "map":
            return f"(Array.map (fun {x} -> {self.fexpr(self.lam(scope, [x], ['float']), depth)}) {name})", exact
        if kind == "mapi":
            body = self.fexpr(self.lam(scope, [i, x], ["int", "float"]), depth)
            return f"(Array.mapi (fun {i} {x} -> {body}) {name})", exact
        if kind == "filter":
            return f"(Array.filter (fun {x} -> {self.cond(self.lam(scope, [x], ['float']), depth)}) {name})", False
        if kind == "copy":
            return f"(Array.copy {name})", exact
        first, second = (self.pick([n for n, e in scope.arrays if e]) for _ in range(2))
        body = self.fexpr(self.lam(scope, [x, y], ["float", "float"]), depth)
        return f"(Array.map2 (fun {x} {y} -> {body}) {first} {second})", True

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def settle(self, scope: Scope, indent: int, mutable: str) -> None:
        """An immutable copy of a mutable local, which closures may capture."""
        name = self.fresh("f")
        self.emit(indent, f"let {name} = {mutable}")
        scope.floats.append(name)

    def loop_scope(self, scope: Scope, index: str, array: str | None, *floats: str) -> Scope:
        inner = scope.copy()
        inner.ints.append(index)
        inner.floats.extend(floats)
        if array is not None:
            inner.index.append((index, array))
        return inner

    def statement(self, scope: Scope, indent: int, depth: int) -> None:
        kind = self.pick(["array", "array", "float", "float", "chain", "independent", "prefix", "triangle",
                          "while", "branch", "recurse"])
        if kind == "array":
            name = self.fresh("a")
            text, exact = self.aexpr(scope, depth)
            self.emit(indent, f"let {name} = {text}")
            scope.arrays.append((name, exact))
        elif kind == "float":
            name = self.fresh("f")
            self.emit(indent, f"let {name} = {self.fexpr(scope, depth)}")
            scope.floats.append(name)
        elif kind == "chain":
            acc, i = self.fresh("acc"), self.fresh("i")
            array, _ = self.pick(scope.arrays)
            self.emit(indent, f"let mutable {acc} = 0.0")
            self.emit(indent, f"for {i} in 0 .. Array.length {array} - 1 do")
            self.emit(indent + 1, f"{acc} <- {acc} + {self.fexpr(self.loop_scope(scope, i, array, acc), depth)}")
            self.settle(scope, indent, acc)
        elif kind == "independent":
            out, i = self.fresh("o"), self.fresh("i")
            array, exact = self.pick(scope.arrays)
            self.emit(indent, f"let {out} = Array.zeroCreate (Array.length {array})")
            self.emit(indent, f"for {i} in 0 .. Array.length {array} - 1 do")
            self.emit(indent + 1, f"{out}.[{i}] <- {self.fexpr(self.loop_scope(scope, i, array), depth)}")
            scope.arrays.append((out, exact))
        elif kind == "prefix":
            out, i = self.fresh("p"), self.fresh("i")
            array, exact = self.pick(scope.arrays)
            self.emit(indent, f"let {out} = Array.copy {array}")
            self.emit(indent, f"for {i} in 1 .. Array.length {out} - 1 do")
            body = self.fexpr(self.loop_scope(scope, i, array), depth)
            self.emit(indent + 1, f"{out}.[{i}] <- {out}.[{i} - 1] + {body}")
            scope.arrays.append((out, exact))
        elif kind == "triangle":
            acc, i, j = self.fresh("acc"), self.fresh("i"), self.fresh("j")
            self.emit(indent, f"let mutable {acc} = 0.0")
            self.emit(indent, f"for {i} in 0 .. k do")
            self.emit(indent + 1, f"for {j} in 0 .. {i} do")
            inner = self.loop_scope(self.loop_scope(scope, i, None), j, None, acc)
            self.emit(indent + 2, f"{acc} <- {acc} + {self.fexpr(inner, depth)}")
            self.settle(scope, indent, acc)
        elif kind == "while":
            counter, acc = self.fresh("c"), self.fresh("acc")
            self.emit(indent, f"let mutable {counter} = 0")
            self.emit(indent, f"let mutable {acc} = 0.0")
            self.emit(indent, f"while {counter} < k do")
            inner = scope.copy()
            inner.floats.append(acc)
            self.emit(indent + 1, f"{acc} <- {acc} + {self.fexpr(inner, depth)}")
            self.emit(indent + 1, f"{counter} <- {counter} + 1")
            self.settle(scope, indent, acc)
        elif kind == "branch":
            v = self.fresh("v")
            self.emit(indent, f"let mutable {v} = 0.0")
            self.emit(indent, f"if {self.cond(scope, depth)} then")
            self.emit(indent + 1, f"{v} <- {self.fexpr(scope, depth)}")
            self.emit(indent, "else")
            self.emit(indent + 1, f"{v} <- {self.fexpr(scope, depth)}")
            self.settle(scope, indent, v)
        else:
            name = self.fresh("r")
            self.emit(indent, f"let {name} = countdown k {self.fexpr(scope, depth)}")
            scope.floats.append(name)

    def program(self) -> str:
        for k, cost in enumerate(EXTERN_COSTS):
            self.emit(0, f"[<Pure; Cost({cost})>]")
            self.emit(0, f"extern ext{k} : float -> float")
        for h in range(2):
            self.emit(0, f"let helper{h} (x: float) : float = {self.fexpr(Scope(floats=['x'], calls=False), 2)}")
        self.emit(0, "let total (a: float[]) : float = Array.sum (Array.map (fun v -> v * 2.0) a)")
        self.emit(0, "let rec countdown (m: int) (acc: float) : float =")
        self.emit(1, "if m <= 0 then acc else countdown (m - 1) (acc + 1.0)")
        self.emit(0, "let main (xs: float[]) (k: int) : float =")
        scope = Scope(ints=["k"], arrays=[("xs", True)])
        for _ in range(self.c.integer(1, 5)):
            self.statement(scope, 1, self.c.integer(1, 3))
        self.emit(1, self.fexpr(scope, 2))
        return "\n".join(self.lines) + "\n"


def generated_case(choices) -> tuple[str, list[float], int]:
    source = ProgramWriter(choices).program()
    xs = [[0.0, 0.3, 0.7, 1.2, 2.5, -1.0][choices.integer(0, 5)] for _ in range(choices.integer(1, 7))]
    return source, xs, choices.integer(0, 4)


def held_against_the_oracle(source: str, xs: list[float], k: int, regions: bool = False):
    """The program's profile as written and after baker, and its figures at the inputs' sizes (and, with
    ``regions``, each region's runs against its figures)."""
    clef = parse(source, "generated.clef")
    saturated = saturate(clef)
    written = profile_graph(clef, "main", xs, k, externs=EXTERNS)
    baked = profile_graph(saturated, "main", xs, k, externs=EXTERNS)
    flow = analyze(saturated, {"xs": (len(xs),)}, {"k": k}, functions=["main"])["main"]
    assert inside(written.work, flow.work) and inside(baked.work, flow.work), (source, xs, k)
    assert inside(written.span, flow.span) and inside(baked.span, flow.span), (source, xs, k)
    assert inside(baked.span_reassociated, flow.span_reassociated), (source, xs, k)
    if regions:
        regions_held_against_the_oracle(saturated, "main", (xs, k), flow, EXTERNS)
    return written, flow


@st.composite
def cases(draw):
    return generated_case(DrawChoices(draw))


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(cases())
def test_generated_programs_profile_inside_their_intervals(case):
    held_against_the_oracle(*case, regions=True)


def test_formulas_at_the_inputs_sizes_contain_the_oracle_too():
    """Analysed without sizes, each program's formulas (in n and k) evaluated at its inputs hold the profile."""
    size, count = sp.Symbol("n", integer=True, positive=True), sp.Symbol("k", integer=True, nonnegative=True)
    for seed in range(60):
        source, xs, k = generated_case(RandomChoices(seed))
        clef = parse(source, "generated.clef")
        profile = profile_graph(clef, "main", xs, k, externs=EXTERNS)
        flow = analyze(saturate(clef), functions=["main"])["main"]

        def at(x):
            return INF if x is INF else sp.sympify(x).subs({size: len(xs), count: k})

        for measured, r in ((profile.work, flow.work), (profile.span, flow.span)):
            assert at(r.lo) <= measured and (r.hi is INF or measured <= at(r.hi)), (source, xs, k)


def test_a_seeded_corpus_is_mostly_exact_and_its_intervals_are_reported(capsys):
    exact_count, widths = 0, []
    programs = 300
    for seed in range(programs):
        written, flow = held_against_the_oracle(*generated_case(RandomChoices(seed)))
        if flow.work.lo == flow.work.hi == written.work and flow.span.lo == flow.span.hi == written.span:
            exact_count += 1
        elif flow.work.hi is not INF and flow.span.hi is not INF:
            widths.append((flow.work.hi - flow.work.lo) / max(written.work, 1))
    unbounded = programs - exact_count - len(widths)
    with capsys.disabled():
        print(f"\nflowloss corpus: {exact_count}/{programs} exact, {unbounded} with an unbounded end, "
              f"{len(widths)} bounded but not exact: median work interval width "
              f"{sorted(widths)[len(widths) // 2] if widths else 0:.2f}x the measured work")
    assert exact_count / programs >= 0.6


def test_a_seeded_corpus_of_regions_profiles_inside_their_intervals(capsys):
    compared = exact_count = 0
    for seed in range(300):
        source, xs, k = generated_case(RandomChoices(seed))
        saturated = saturate(parse(source, "generated.clef"))
        flow = analyze(saturated, {"xs": (len(xs),)}, {"k": k}, functions=["main"])["main"]
        counts = regions_held_against_the_oracle(saturated, "main", (xs, k), flow, EXTERNS)
        compared, exact_count = compared + counts[0], exact_count + counts[1]
    with capsys.disabled():
        print(f"\nflowloss regions: {exact_count}/{compared} regions of 300 programs exact")
    assert compared > 300 and exact_count / compared >= 0.6

"""The work/span oracle: exact figures, derived by hand from FLOW_LOSS.md's cost model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nanopass import PassContext
from nanopass.frontend import parse
from nanopass.passes.elaborate import Elaborate
from nanopass.profiler import profile_graph

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str):
    return parse((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")


def program(source: str):
    return parse(source, "test.clef")


def figures(graph, entry, *args, **kw):
    p = profile_graph(graph, entry, *args, **kw)
    return p.work, p.span


# -- the figures FLOW_LOSS.md states --------------------------------------------------------------------
def test_process_over_1024_samples():
    p = profile_graph(example("process"), "process", np.linspace(0.0, 1.0, 1024),
                      externs=str(EXAMPLES / "process_externs.py"))
    assert (p.work, p.span, p.parallelism) == (3072, 3, 1024.0)
    assert p.span_reassociated == 3
    assert p.to_csv() == "tag,work,span,parallelism\nprocess,3072,3,1024\n,3072,3,1024\n"


@pytest.mark.parametrize("samples, work, span", [
    (np.zeros(1024), 2048, 2),                        # all below the gate: extractScore + compare
    (np.full(1024, 10.0), 40960, 40),                 # all refined: 1 + 1 + 38 each
    (np.r_[np.zeros(1023), [10.0]], 2 * 1023 + 40, 40),  # exactly one refined: the low end of P
])
def test_branchy_process(samples, work, span):
    p = profile_graph(example("branchy"), "process", samples, externs=str(EXAMPLES / "branchy_externs.py"))
    assert (p.work, p.span) == (work, span)
    assert p.parallelism == work / span


def test_one_refined_sample_gives_parallelism_about_52():
    p = profile_graph(example("branchy"), "process", np.r_[np.zeros(1023), [10.0]],
                      externs=str(EXAMPLES / "branchy_externs.py"))
    assert math.ceil(p.parallelism) == 53 and round(p.parallelism) == 52


# -- maps, loops, recursion ---------------------------------------------------------------------------------
def test_a_map_is_independent_per_element():
    graph = program("let f (xs: float[]) : float[] = Array.map (fun x -> x * 2.0 + 1.0) xs\n")
    assert figures(graph, "f", np.arange(100.0)) == (200, 2)


def test_a_loop_without_carried_dependence_has_span_one_and_free_index_arithmetic():
    graph = program(
        "let scale (xs: float[]) : float[] =\n"
        "    let out = Array.zeroCreate (Array.length xs)\n"
        "    for i in 0 .. Array.length xs - 1 do\n"
        "        out.[i] <- xs.[i] * 3.0\n"
        "    out\n")
    assert figures(graph, "scale", np.arange(50.0)) == (50, 1)


def test_a_loop_carried_through_array_elements_is_a_chain():
    graph = program(
        "let prefix (xs: float[]) : float[] =\n"
        "    let out = Array.copy xs\n"
        "    for i in 1 .. Array.length xs - 1 do\n"
        "        out.[i] <- out.[i - 1] + xs.[i]\n"
        "    out\n")
    p = profile_graph(graph, "prefix", np.ones(40))
    assert (p.work, p.span) == (39, 39)
    assert p.value.tolist() == list(range(1, 41))


def test_a_loop_carried_through_a_mutable_local_is_a_chain():
    graph = program(
        "let total (xs: float[]) : float =\n"
        "    let mutable acc = 0.0\n"
        "    for i in 0 .. Array.length xs - 1 do\n"
        "        acc <- acc + xs.[i] * 2.0\n"
        "    acc\n")
    # n multiplications, independent; n additions in a chain each waiting for the previous one.
    assert figures(graph, "total", np.ones(30)) == (60, 31)


def test_nested_loops_of_matrix_multiply():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    p = profile_graph(example("matmul"), "matrixMultiply", a, b)
    # Each of the 2 x 4 elements: k = 3 multiplications (independent) and 3 additions (a chain after the first product).
    assert (p.work, p.span) == (2 * 4 * 3 * 2, 3 + 1)
    assert np.array_equal(p.value, a @ b)


def test_a_while_iteration_waits_for_the_condition_before_it():
    graph = program(
        "let count (n: int) : int =\n"
        "    let mutable i = 0\n"
        "    while i < n do\n"
        "        i <- i + 1\n"
        "    i\n")
    # n + 1 comparisons and n additions, each after the one before.
    assert figures(graph, "count", 10) == (21, 21)


def test_recursion_counts_the_work_of_every_call():
    graph = program("let rec fib (n: int) : int = if n < 2 then n else fib (n - 1) + fib (n - 2)\n")
    # fib 3: fib 3 and fib 2 compare, subtract twice and add (4 each); three leaves compare (1 each).
    # Span: compare 1, n - 1 at 2; in fib 2: compare 3, n - 1 at 4, the leaves' compares at 5, the sum at 6;
    # fib 3's sum waits for it: 7.
    p = profile_graph(graph, "fib", 3)
    assert (p.value, p.work, p.span) == (2, 11, 7)
    assert p.per_function["fib"].work == 11 and p.per_function["fib"].span == 7
    # Each level of the deepest chain adds a compare, a subtraction and the sum: 3 (n - 1) + 1.
    assert figures(graph, "fib", 4) == (21, 10)


def test_per_function_figures_are_inclusive_and_per_tag():
    graph = program(
        "let clip (x: float) : float = if x > 1.0 then 1.0 else x\n"
        "let run (xs: float[]) : float[] = Array.map clip xs\n")
    p = profile_graph(graph, "run", np.array([0.5, 2.0, 3.0]))
    assert p.value.tolist() == [0.5, 1.0, 1.0]
    assert (p.work, p.span) == (3, 1)
    assert (p.per_function["clip"].work, p.per_function["clip"].span) == (3, 1)
    assert (p.per_function["run"].work, p.per_function["run"].span) == (3, 1)
    assert p.to_csv().splitlines() == ["tag,work,span,parallelism", "run,3,1,3", "clip,3,1,3", ",3,1,3"]


def test_extern_cost_attribute_weights_work_and_span():
    graph = program("[<Pure; Cost(7)>]\nextern heavy : float -> float\n"
                    "let f (x: float) : float = heavy x + heavy (x + 1.0)\n")
    # Two independent calls of cost 7 (one after the addition x + 1.0), then the sum.
    assert figures(graph, "f", 1.0, externs={"heavy": lambda v: v}) == (7 + 1 + 7 + 1, 1 + 7 + 1)


# -- reductions: as written and reassociated --------------------------------------------------------------
def test_reduce_is_a_chain_and_a_tree_when_reassociated():
    graph = program("let total (xs: float[]) : float = Array.reduce (+) xs\n")
    p = profile_graph(graph, "total", np.arange(8.0))
    assert (p.value, p.work, p.span, p.span_reassociated) == (28.0, 7, 7, 3)


def test_sum_over_a_thousand_elements():
    graph = program("let total (xs: float[]) : float = Array.sum xs\n")
    p = profile_graph(graph, "total", np.ones(1000))
    assert (p.work, p.span, p.span_reassociated) == (999, 999, 10)
    assert p.parallelism == 1.0 and p.parallelism_reassociated == 99.9


def test_fold_reassociates_only_an_associative_operator():
    associative = program("let f (xs: float[]) : float = Array.fold (fun acc x -> acc + x) 0.0 xs\n")
    p = profile_graph(associative, "f", np.ones(16))
    assert (p.work, p.span, p.span_reassociated) == (16, 16, 5)  # 17 leaves with the initial value: 5 levels
    other = program("let f (xs: float[]) : float = Array.fold (fun acc x -> acc * 0.5 + x) 0.0 xs\n")
    p = profile_graph(other, "f", np.ones(16))
    assert (p.work, p.span, p.span_reassociated) == (32, 32, 32)


def test_dataset_map_filter_reduce():
    p = profile_graph(example("dataset"), "processDataset", np.arange(10.0),
                      externs=str(EXAMPLES / "dataset_externs.py"))
    # 10 transforms (12 each), 10 predicates, 9 kept elements summed by 8 additions.
    assert p.value == 22.5
    assert (p.work, p.span, p.span_reassociated) == (120 + 10 + 8, 12 + 1 + 8, 12 + 1 + 4)


def test_the_second_reading_replays_externs_instead_of_calling_them_again():
    calls = []
    graph = program("extern noisy : float -> float\nlet f (xs: float[]) : float = Array.sum (Array.map noisy xs)\n")
    p = profile_graph(graph, "f", np.ones(4), externs={"noisy": lambda v: calls.append(v) or v * 2})
    assert len(calls) == 4 and p.value == 8.0
    assert (p.span, p.span_reassociated) == (1 + 3, 1 + 2)


# -- every level measures the same ------------------------------------------------------------------------------
@pytest.mark.parametrize("source, entry, args", [
    ("let total (xs: float[]) : float =\n    let mutable acc = 0.0\n    for i in 0 .. Array.length xs - 1 do\n"
     "        acc <- acc + xs.[i] * 2.0\n    acc\n", "total", (np.ones(12),)),
    ("let count (n: int) : int =\n    let mutable i = 0\n    while i < n do\n        i <- i + 1\n    i\n",
     "count", (7,)),
    ("let rec fib (n: int) : int = if n < 2 then n else fib (n - 1) + fib (n - 2)\n", "fib", (6,)),
    # A cell a branch may assign is chosen by the branch's condition, taken or not.
    ("let f (x: float) : float =\n    let mutable y = 1.0\n    if x * 2.0 > 3.0 then\n        y <- x\n    y + 1.0\n",
     "f", (1.0,)),
    ("let f (xs: float[]) : float =\n    let mutable best = 0.0\n    for x in xs do\n        if x > best then\n"
     "            best <- x\n    best * 2.0\n", "f", (np.array([3.0, 1.0, 4.0, 1.0, 5.0]),)),
])
def test_clef_and_elaborated_graphs_have_the_same_figures(source, entry, args):
    clef = program(source)
    elaborated = Elaborate().run(clef, PassContext())
    assert figures(clef, entry, *args) == figures(elaborated, entry, *args)


# -- control strands under the profiler ------------------------------------------------------------------------
def test_the_resolver_is_profiled_through_its_async_loop():
    p = profile_graph(example("resolver"), "resolve", "app", externs=str(EXAMPLES / "resolver_externs.py"))
    assert sorted(p.value) == ["app", "db", "http", "json", "web"]
    # Three rounds (frontiers [app], [web; db], [http; json]) and four conditions `not (List.isEmpty ...)`: 4;
    # fetchAll 3; constraintsOf 1 + 2 + 2; Map.merge one access per pair 1 + 2 + 2; Map.tryFind in `unseen`
    # per dependency 2 + 3 + 0.  Span: a round is condition, fetchAll (its value ready when its cost is paid),
    # constraintsOf, the merge (1 + its pairs); the next frontier waits for the lookups, chained through
    # `unseen`'s recursion: condition 1, merge 4, frontier 6; condition 7, merge 11, frontier 13; condition 14,
    # merge 18.
    assert (p.work, p.span) == (4 + 3 + 5 + 5 + 5, 18)
    assert set(p.per_function) >= {"resolve", "nextFrontier", "unseen"}


def test_actor_handlers_are_profiled_by_the_generic_rule():
    source = (EXAMPLES / "actors.clef").read_text() + "\nlet run (batch: int) : int = ingest.PostAndReply(batch)\n"
    p = profile_graph(parse(source, "actors.clef"), "run", 5)
    # catalog adds twice per Commit (state + b, state + b), twice; parser and ingest add 1 each: 6 additions.
    assert (p.value, p.work) == (10, 6)


def test_deep_recursion_under_the_profiler():
    graph = program("let rec total (xs: int list) : int =\n"
                    "    match xs with\n"
                    "    | [] -> 0\n"
                    "    | x :: rest -> x + total rest\n")
    p = profile_graph(graph, "total", list(range(10_000)))
    assert p.value == sum(range(10_000)) and p.work == 10_000


# -- a kind a later level adds without a profile step: the generic rule ----------------------------------------------
def test_a_kind_without_a_profile_step_is_timed_by_the_generic_rule():
    from nanopass import Builder
    from nanopass.interp.evaluators import elements
    from nanopass.interp.machine import register_evaluator
    from nanopass.interp.values import array_from

    @register_evaluator("test_each")
    def each(m, nid, node):
        (source,), plan = node.operands, m.plan(node.regions[0])

        def step(env):
            out = []
            for x in elements(env[source]):
                plan.run(env, (x,))
                out.append(plan.value(env))
            env[nid] = array_from(out)
        return step

    b = Builder()
    with b.region(params=["xs"]) as f:
        with b.region(params=["x"]) as body:
            body.yields(b.op("prim", body.params[0], b.op("const", value=2.0, type="float"), op="*"))
        doubled = b.op("test_each", f.params[0], regions=[body.id])
        f.yields(b.op("apply", b.op("ref", name="Array.sum"), doubled))
    b.op("func", regions=[f.id], name="f", params=("xs",))
    p = profile_graph(b.build(), "f", np.ones(4))
    # Four multiplications (ready at 1: every element of the result is ready when the node is done), then
    # three additions in a chain.
    assert (p.value, p.work, p.span) == (8.0, 4 + 3, 1 + 3)

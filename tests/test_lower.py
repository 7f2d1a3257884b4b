"""Lowering the typed AST to the Clef PSG: every example, spans, the types table, each desugaring."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nanopass import DiagnosticError, Graph
from nanopass.frontend import parse
from nanopass.frontend import types as T
from nanopass.frontend.units import Measure
from nanopass.interpreter import run_graph
from nanopass.languages import Clef

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.clef"))


def lower(source: str, filename: str = "test.clef") -> Graph:
    graph = parse(textwrap.dedent(source).strip() + "\n", filename)
    assert Clef.check(graph) == [], [d.message for d in Clef.check(graph)]
    return graph


def declaration(graph: Graph, name: str):
    return graph.node(graph.symbol(name))


def body(graph: Graph, name: str):
    return graph.region(declaration(graph, name).regions[0])


def kinds_in(graph: Graph, region_id: int) -> list[str]:
    return [graph.node(n).kind for n in graph.walk_region(region_id)]


def result(graph: Graph, name: str):
    (value,) = body(graph, name).results
    return graph.node(value)


# -- the examples ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_lowers_to_the_clef_language(path):
    graph = parse(path.read_bytes(), str(path))
    assert Clef.check(graph) == []
    assert all(node.span.file == str(path) and node.span.line >= 1 for _, node in graph.live_nodes())
    types = graph.annotation("types")
    untyped = [(i, n.kind) for i, n in graph.live_nodes()
               if i not in types and not (n.kind == "typedef" and n.attr("form") == "measure")]
    assert untyped == []


def test_examples_are_present():
    assert {p.name for p in EXAMPLES} >= {"process.clef", "counter.clef", "resolver.clef", "actors.clef"}


def test_process_is_three_maps_over_the_frame():
    graph = parse((Path(__file__).parent.parent / "examples" / "process.clef").read_text(), "process.clef")
    names = [n.attr("name") for _, n in graph.top_level()]
    assert names == ["volt", "calibrate", "extractScore", "normalize", "process"]
    calibrate = declaration(graph, "calibrate")
    assert (calibrate.kind, calibrate.attr("arity"), calibrate.attr("pure")) == ("extern", 1, True)
    volt = T.TPrim("float", Measure.base("volt"))
    types = graph.annotation("types")
    assert types[graph.symbol("calibrate")] == T.TFun(volt, T.FLOAT)
    assert types[graph.symbol("process")] == T.TFun(T.TArray(volt), T.TArray(T.FLOAT))
    func = declaration(graph, "process")
    assert func.attr("params") == ("frame",)
    region = body(graph, "process")
    applies = [n for n in region.body if graph.node(n).kind == "apply"]
    assert len(applies) == 3
    value = region.params[0]  # frame
    for apply, stage in zip(applies, ("calibrate", "extractScore", "normalize")):
        callee, fn, arg = graph.node(apply).operands
        assert (graph.node(callee).kind, graph.node(callee).attr("name")) == ("ref", "Array.map")
        assert graph.node(fn).attr("name") == stage and arg == value
        assert types[apply] == T.TArray(T.FLOAT)
        value = apply
    assert region.results == (value,)


def test_counter_is_a_mealy_step_over_records():
    graph = parse((Path(__file__).parent.parent / "examples" / "counter.clef").read_text(), "counter.clef")
    counter = declaration(graph, "Counter")
    assert (counter.kind, counter.attr("form"), counter.attr("fields")) == ("typedef", "record", ("Count",))
    step = declaration(graph, "step")
    assert step.attr("attributes") == (("HardwareModule", ()),)
    assert step.attr("params") == ("s", "i")
    out = result(graph, "step")
    assert out.kind == "tuple"
    state, leds = (graph.node(o) for o in out.operands)
    assert (state.kind, state.attr("type"), state.attr("fields")) == ("record", "Counter", ("Count",))
    assert (leds.kind, leds.attr("type"), leds.attr("fields")) == ("record", "Leds", ("Value", "Zero"))
    masked, is_zero = (graph.node(o) for o in leds.operands)
    assert masked.kind == is_zero.kind == "prim" and (masked.attr("op"), is_zero.attr("op")) == ("&&&", "=")
    # `next` is the if/elif/else chain; its condition is `i.Up && not i.Down`, an `if` yielding false otherwise.
    chain = graph.node(state.operands[0])
    assert chain.kind == "if" and masked.operands[0] == state.operands[0]
    condition = graph.node(chain.operands[0])
    assert condition.kind == "if"
    (otherwise,) = graph.region(condition.regions[1]).results
    assert (graph.node(otherwise).attr("value"), graph.node(otherwise).attr("type")) == (False, "bool")
    (elif_value,) = graph.region(chain.regions[1]).results
    assert graph.node(elif_value).kind == "if"  # elif is a nested if in the else branch
    types = graph.annotation("types")
    assert types[state.operands[0]] == T.UINT8
    assert types[graph.symbol("step")] == T.function(T.TCon("Counter"), T.TCon("Buttons"),
                                                      T.TTuple((T.TCon("Counter"), T.TCon("Leds"))))


def test_resolver_loops_over_mutable_locals_inside_async():
    graph = parse((Path(__file__).parent.parent / "examples" / "resolver.clef").read_text(), "resolver.clef")
    unseen = declaration(graph, "unseen")
    assert unseen.attr("rec_group") == "unseen"
    resolve = result(graph, "resolve")
    assert resolve.kind == "async"
    inner = kinds_in(graph, resolve.regions[0])
    for kind in ("var", "while", "bind", "query", "assign", "load"):
        assert kind in inner
    assert graph.annotation("types")[graph.symbol("resolve")] == T.TFun(
        T.STRING, T.async_of(T.map_of(T.STRING, T.list_of(T.STRING))))


def test_actors_become_actor_nodes_with_post_and_tell():
    graph = parse((Path(__file__).parent.parent / "examples" / "actors.clef").read_text(), "actors.clef")
    parser = result(graph, "parser")
    assert parser.kind == "actor"
    handler = graph.region(parser.regions[0])
    assert len(handler.params) == 2 and len(handler.results) == 2
    inside = [graph.node(n) for n in graph.walk_region(parser.regions[0])]
    post = next(n for n in inside if n.kind == "post")
    tell = next(n for n in inside if n.kind == "tell")
    assert graph.node(post.operands[0]).attr("name") == graph.node(tell.operands[0]).attr("name") == "catalog"
    message = graph.node(post.operands[1])
    assert (message.kind, message.attr("type"), message.attr("case")) == ("union", "Msg", "Commit")
    dispatcher = graph.region(result(graph, "dispatcher").regions[0])
    target = graph.node(next(n for n in graph.walk_region(result(graph, "dispatcher").regions[0])
                             if graph.node(n).kind == "post")).operands[0]
    assert graph.node(target).kind == "proj" and graph.node(target).operands == (dispatcher.params[1],)


# -- desugarings ------------------------------------------------------------------------------------
def test_pipes_apply_with_the_piped_value_last_and_computed_first():
    graph = lower("""
        extern log : int -> int
        let f (x: int) = x |> log |> (fun y -> y + 1)
    """)
    region = body(graph, "f")
    first = next(graph.node(n) for n in region.body if graph.node(n).kind == "apply")
    assert graph.node(first.operands[0]).attr("name") == "log" and first.operands[1] == region.params[0]
    last = result(graph, "f")
    assert last.kind == "apply" and graph.node(last.operands[0]).kind == "lambda"


def test_a_partial_application_in_a_pipe_is_flattened_into_one_apply():
    graph = lower("let f (xs: int[]) = xs |> Array.map (fun x -> x * 2)")
    apply = result(graph, "f")
    callee, fn, xs = apply.operands
    assert graph.node(callee).attr("name") == "Array.map" and graph.node(fn).kind == "lambda"
    assert xs == body(graph, "f").params[0]


def test_composition_is_a_lambda_applying_both():
    graph = lower("""
        let inc (x: int) = x + 1
        let twice (x: int) = x * 2
        let both = inc >> twice
    """)
    composed = result(graph, "both")
    assert composed.kind == "lambda"
    region = graph.region(composed.regions[0])
    outer = graph.node(region.results[0])
    inner = graph.node(outer.operands[1])
    assert outer.kind == inner.kind == "apply"
    assert inner.operands[1] == region.params[0]
    assert graph.node(inner.operands[0]).attr("name") == "inc"
    assert graph.node(outer.operands[0]).attr("name") == "twice"


@pytest.mark.parametrize("op, then_value, else_value", [("&&", None, False), ("||", True, None)])
def test_short_circuit_operators_are_ifs(op, then_value, else_value):
    graph = lower(f"let f (a: bool) (b: bool) = a {op} b")
    branch = result(graph, "f")
    a, b = body(graph, "f").params
    assert branch.kind == "if" and branch.operands == (a,)
    (then,), (other,) = (graph.region(r).results for r in branch.regions)
    constant = graph.node(then if then_value is not None else other)
    assert constant.attr("value") == (then_value if then_value is not None else else_value)
    assert (other if then_value is not None else then) == b


def test_a_missing_else_yields_unit():
    graph = lower("""
        extern log : int -> unit
        let f (c: bool) = if c then log 1
    """)
    (other,) = graph.region(result(graph, "f").regions[1]).results
    assert (graph.node(other).kind, graph.node(other).attr("value"), graph.node(other).attr("type")) == (
        "const", None, "unit")


def test_unions_options_and_records():
    graph = lower("""
        type Shape =
            | Circle of float
            | Rect of float * float
            | Empty
        type Point = { X: float; Y: float }
        let shapes (w: float) = (Circle w, Rect (w, 2.0), Empty, Some 3)
        let moved (p: Point) = { p with X = 1.0 }
        let origin = { X = 0.0; Y = 0.0 }
    """)
    circle, rect, empty, some = (graph.node(o) for o in result(graph, "shapes").operands)
    assert (circle.kind, circle.attr("type"), circle.attr("case")) == ("union", "Shape", "Circle")
    assert len(circle.operands) == 1
    assert (rect.attr("case"), len(rect.operands)) == ("Rect", 2)
    assert (empty.attr("case"), empty.operands) == ("Empty", ())
    assert (some.attr("type"), some.attr("case")) == ("option", "Some")
    moved = result(graph, "moved")
    assert (moved.kind, moved.attr("fields")) == ("with", ("X",))
    assert moved.operands[0] == body(graph, "moved").params[0]
    origin = result(graph, "origin")
    assert (origin.kind, origin.attr("type"), origin.attr("fields")) == ("record", "Point", ("X", "Y"))
    shape = declaration(graph, "Shape")
    assert (shape.attr("form"), shape.attr("cases")) == ("union", ("Circle", "Rect", "Empty"))


def test_local_lets_add_no_node_and_mutable_ones_are_cells():
    graph = lower("""
        let f (x: int) =
            let y = x + 1
            let mutable total = y
            total <- total + x
            total
    """)
    region = body(graph, "f")
    kinds = [graph.node(n).kind for n in region.body]
    assert kinds == ["const", "prim", "var", "load", "prim", "assign", "load"]
    var = graph.node(region.body[2])
    assert var.attr("name") == "total" and var.operands == (region.body[1],)
    assign = graph.node(region.body[5])
    assert assign.operands == (region.body[2], region.body[4])
    assert graph.node(region.results[0]).kind == "load"


def test_tuple_patterns_are_taken_apart_with_proj():
    graph = lower("let f (pair: int * int) = let (a, _) = pair in a")
    value = result(graph, "f")
    assert value.kind == "proj" and value.attr("index") == 0 and value.operands == body(graph, "f").params


def test_match_arms_bind_pattern_variables_as_params_with_guards():
    graph = lower("""
        let f (xs: int list) =
            match xs with
            | [] -> 0
            | x :: _ when x > 10 -> x
            | x :: rest -> x + List.length rest
    """)
    match = result(graph, "f")
    assert match.attr("patterns") == (("nil",), ("cons", ("bind", "x"), ("wild",)),
                                      ("cons", ("bind", "x"), ("bind", "rest")))
    assert match.attr("guards") == (False, True, False)
    assert len(match.regions) == 4
    guard = graph.region(match.regions[1])
    assert len(guard.params) == 1 and graph.node(guard.results[0]).attr("op") == ">"
    assert len(graph.region(match.regions[3]).params) == 2


def test_or_patterns_become_one_arm_per_alternative():
    graph = lower("""
        type Msg =
            | Commit of int
            | Discard of int
            | Stop
        let f (m: Msg) =
            match m with
            | Commit n | Discard n -> n
            | Stop -> 0
    """)
    match = result(graph, "f")
    assert match.attr("patterns") == (("case", "Commit", ("bind", "n")), ("case", "Discard", ("bind", "n")),
                                      ("case", "Stop"))
    for region_id in match.regions[:2]:
        region = graph.region(region_id)
        assert region.results == region.params


def test_loops_and_arrays():
    graph = lower("""
        let f (a: float[]) =
            for i in 0 .. 3 do
                a.[i] <- a.[i] * 2.0
            for x in a do
                a.[0] <- x
            let mutable k = 0
            while k < 3 do
                k <- k + 1
            a
    """)
    kinds = [graph.node(n).kind for n in body(graph, "f").body]
    assert kinds.count("for") == kinds.count("foreach") == kinds.count("while") == 1
    loop = graph.node(next(n for n in body(graph, "f").body if graph.node(n).kind == "for"))
    region = graph.region(loop.regions[0])
    store = graph.node(next(n for n in region.body if graph.node(n).kind == "store"))
    assert store.operands[1] == region.params[0]
    assert graph.node(store.operands[2]).kind == "prim"
    assert graph.annotation("types")[region.params[0]] == T.INT


def test_async_and_query():
    graph = lower("""
        extern fetch : int -> Async<int list>
        let run (n: int) = async {
            let! xs = fetch n
            do! async { return () }
            let ys = query { for x in xs do select (x + 1) }
            return ys }
    """)
    block = result(graph, "run")
    region = graph.region(block.regions[0])
    kinds = [graph.node(n).kind for n in region.body]
    assert kinds.count("bind") == 2 and "query" in kinds
    query = graph.node(region.results[0])
    assert query.kind == "query" and query.operands[0] == region.body[kinds.index("bind")]
    assert graph.annotation("types")[region.results[0]] == T.list_of(T.INT)


def test_operators_used_as_values_are_lambdas():
    graph = lower("let total (xs: float[]) = Array.reduce (+) xs")
    reduce = result(graph, "total")
    adder = graph.node(reduce.operands[1])
    assert adder.kind == "lambda"
    region = graph.region(adder.regions[0])
    plus = graph.node(region.results[0])
    assert plus.attr("op") == "+" and plus.operands == region.params


def test_method_calls_on_actors_are_post_and_tell():
    graph = lower("""
        let counter = Actor.start 0 (fun state (n: int) -> (state + n, state))
        let bump (k: int) =
            counter.Tell(k)
            counter.PostAndReply(k)
    """)
    kinds = [graph.node(n).kind for n in body(graph, "bump").body]
    assert kinds == ["ref", "tell", "ref", "post"]
    actor = result(graph, "counter")
    assert actor.kind == "actor" and graph.node(actor.operands[0]).attr("value") == 0


def test_spans_point_at_the_source():
    graph = lower("""
        let f (x: int) =
            x * 2
    """, "spans.clef")
    times = result(graph, "f")
    assert (times.span.file, times.span.line, times.span.col) == ("spans.clef", 2, 5)
    (x,) = body(graph, "f").params
    assert (graph.node(x).span.line, graph.node(x).span.col) == (1, 8)  # the parameter's own pattern


# -- diagnostics -----------------------------------------------------------------------------------
@pytest.mark.parametrize("source, expected", [
    ("let f (x: int) =\n    let rec g y = g y\n    g x\n", "local 'let rec'"),
    ("let (a, b) = (1, 2)\n", "top-level 'let' binds one name"),
    ("let f (x: int option) =\n    let (Some y) = x\n    y\n", "can fail to match"),
])
def test_what_the_psg_cannot_express_is_a_located_diagnostic(source, expected):
    with pytest.raises(DiagnosticError) as err:
        parse(source, "bad.clef")
    (diagnostic,) = err.value.diagnostics
    assert expected in diagnostic.message
    assert diagnostic.span.file == "bad.clef" and diagnostic.span.line >= 1
    assert "^" in diagnostic.render()


def test_bytes_that_are_not_utf8_are_a_diagnostic():
    with pytest.raises(DiagnosticError) as err:
        parse(b"let x = 1\nlet y = \xff\n", "bytes.clef")
    assert str(err.value.diagnostics[0].span).startswith("bytes.clef:2:")


def test_deeply_nested_source_lowers_on_the_big_stack():
    depth = 3000
    source = "let f (x: int) = " + "(" * depth + "x" + " + 1)" * depth + "\n"
    graph = parse(source, "deep.clef")
    assert sum(1 for _, n in graph.live_nodes() if n.kind == "prim") == depth


# -- what the lowered program computes (run by the reference interpreter) ----------------------------
SEMANTICS = """
type Shape =
    | Circle of float
    | Rect of float * float
    | Empty
let answer () = 42
let area (s: Shape) =
    match s with
    | Circle r -> 3.0 * r * r
    | Rect (w, h) -> w * h
    | Empty -> 0.0
let areas (w: float) =
    let p = (w, 2.0)
    let square x = x * x
    [ area (Circle w); area (Rect p); area Shape.Empty; square w ]
let swap (pair: int * string) = (fun (a, b) -> (b, a)) pair
let classify (x: int) (y: int) =
    match (x, y) with
    | (0, _) | (_, 0) -> "axis"
    | (a, b) when a = b -> "diagonal"
    | _ -> "plane"
let backwards (xs: int list) = List.length <| List.rev (0 :: xs)
let greet (name: string) = "hello " + name
let pick (o: int option) = match o with | Some v -> v | None -> -1
let both (a: bool) (b: bool) = (a && b, a || b, not a)
let compose (x: int) = ((fun y -> y + 1) >> (fun z -> z * 10)) x
"""


@pytest.mark.parametrize("entry, args, expected", [
    ("answer", (), 42),
    ("areas", (1.5,), [6.75, 3.0, 0.0, 2.25]),
    ("swap", ((1, "x"),), ("x", 1)),
    ("classify", (0, 3), "axis"),
    ("classify", (4, 0), "axis"),
    ("classify", (2, 2), "diagonal"),
    ("classify", (1, 2), "plane"),
    ("backwards", ([1, 2],), 3),
    ("greet", ("bob",), "hello bob"),
    ("pick", (5,), 5),
    ("pick", (None,), -1),
    ("both", (True, False), (False, True, False)),
    ("compose", (4,), 50),
])
def test_lowered_programs_compute_what_fsharp_computes(entry, args, expected):
    assert run_graph(parse(SEMANTICS, "semantics.clef"), entry, *args) == expected

"""escape: each allocation's class and decision, and soundness of ``stays`` against the interpreter."""

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrsistent import PMap

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend import parse
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Builder
from nanopass.interp.machine import EVALUATORS, Closure, Partial
from nanopass.interp.values import Cons, Record, Union
from nanopass.interpreter import Interpreter
from nanopass.languages import Saturated
from nanopass.pass_ import PassContext
from nanopass.passes.escape import Allocation, Escape, is_allocation
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import graphs

EXAMPLES = Path("/work/shared/examples")
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE = "elaborate,reachability,baker,widths,escape"


def analyzed(source: str, pipeline: str = PIPELINE):
    return Pipeline.parse(pipeline).run(parse(source, "t.clef")).graph


def decisions(graph, predicate):
    """(class, place, owner) of the allocations ``predicate(node)`` selects, in id order."""
    classes, places = graph.annotation("escape"), graph.annotation("allocation")
    return [(classes[i], places[i].place, places[i].owner) for i, n in graph.live_nodes()
            if i in classes and predicate(n)]


def of_kind(kind, **attributes):
    return lambda n: n.kind == kind and all(n.attr(k) == v for k, v in attributes.items())


# -- the shared examples ------------------------------------------------------------------------

def test_process_last_map_escapes_to_the_caller_and_the_intermediates_stay():
    graph = analyzed((EXAMPLES / "process.clef").read_text())
    maps = decisions(graph, of_kind("parallel_for"))
    assert maps == [("stays", "region-arena", "process"), ("stays", "region-arena", "process"),
                    ("escapes-to-caller", "heap", "")]
    last = max(i for i, n in graph.live_nodes() if n.kind == "parallel_for")
    assert "the callers of process are not known" in graph.annotation("allocation")[last].reason


def test_actor_messages_escape_into_the_actor_and_its_arena():
    graph = analyzed((EXAMPLES / "actors.clef").read_text())
    messages = decisions(graph, of_kind("union"))
    assert messages == [("escapes-to-actor", "actor-arena", "catalog")] * 3  # two Commits and a Discard
    # The handlers' (state, reply) pairs are taken apart where they are made.
    assert set(decisions(graph, of_kind("tuple"))) == {
        ("stays", "stack", name) for name in ("catalog", "parser", "ingest", "dispatcher")}


# -- the classes ------------------------------------------------------------------------------------------

def test_returned_values_go_to_the_arena_of_known_callers():
    graph = analyzed("""\
let fresh (n: int) : int[] = [| n; n + 1 |]
let pair (n: int) : int * int[] = (n, fresh n)

[<EntryPoint>]
let main (n: int) : int =
    let p = pair n
    (snd p).[1]
""")
    # fresh's array is returned to pair, which returns it inside its tuple to main: both callers known.
    assert decisions(graph, of_kind("array")) == [("escapes-to-caller", "caller-arena", "pair")]
    assert decisions(graph, of_kind("tuple")) == [("escapes-to-caller", "caller-arena", "main")]


def test_storing_into_the_callers_array_escapes_to_the_caller():
    graph = analyzed("""\
type Box = { Items: int list }

let fill (slots: Box[]) (n: int) : int =
    slots.[0] <- { Items = [ n ] }
    n

[<EntryPoint>]
let main (n: int) : int =
    let slots = Array.zeroCreate 4
    fill slots n
""")
    assert decisions(graph, of_kind("record")) == [("escapes-to-caller", "caller-arena", "main")]
    assert decisions(graph, of_kind("list")) == [("escapes-to-caller", "caller-arena", "main")]
    # main's own array stays, and four elements fit the stack.
    assert decisions(graph, of_kind("native", op="Array.zeroCreate")) == [("stays", "stack", "main")]


def test_what_an_effectful_extern_is_handed_escapes_globally():
    graph = analyzed("""\
extern log : int[] -> unit
[<Pure>]
extern total : int[] -> int

[<EntryPoint>]
let main (n: int) : int =
    let logged = [| n |]
    log logged
    total [| n; n |]
""")
    assert decisions(graph, of_kind("array")) == [("escapes-globally", "heap", ""), ("stays", "stack", "main")]


def test_captured_values_escape_with_their_closure():
    graph = analyzed("""\
let adder (n: int) : int -> int =
    let base = [| n |]
    fun x -> x + base.[0]

let local (n: int) : int =
    let base = [| n |]
    let f = fun x -> x + base.[0]
    f 1 + f 2

[<EntryPoint>]
let main (n: int) : int = (adder n) 3 + local n
""")
    adder = decisions(graph, lambda n: n.kind in ("array", "lambda") and n.span.line <= 3)
    assert adder == [("escapes-to-caller", "caller-arena", "main")] * 2
    local = decisions(graph, lambda n: n.kind in ("array", "lambda") and 5 <= n.span.line <= 9)
    assert local == [("stays", "stack", "local")] * 2


def test_several_actors_or_an_unknown_one_mean_the_heap():
    graph = analyzed("""\
type Job = { Id: int }
let a = Actor.start 0 (fun s (j: Job) -> (s + j.Id, j.Id))
let b = Actor.start 0 (fun s (j: Job) -> (s, j.Id))
let forward = Actor.start 0 (fun s (target: Actor<Job, int>, n: int) -> (s, target.PostAndReply({ Id = n })))

let send (n: int) : int =
    let job = { Id = n }
    a.PostAndReply(job) + b.PostAndReply(job)
""")
    records = decisions(graph, of_kind("record"))
    assert records == [("escapes-to-actor", "heap", ""), ("escapes-to-actor", "heap", "")]
    reasons = [graph.annotation("allocation")[i].reason for i, n in graph.live_nodes() if n.kind == "record"]
    assert "an unknown actor" in reasons[0] and "a, b" in reasons[1]


def test_a_value_carried_out_of_its_iteration_is_not_on_the_stack():
    graph = analyzed("""\
[<EntryPoint>]
let main (n: int) : int =
    let mutable best = (0, 0)
    for i in 0 .. n do
        let candidate = (i, i * i)
        let probe = (i, 1)
        if snd candidate > snd best then best <- candidate
        best <- if fst probe > 100 then best else best
    fst best
""")
    tuples = decisions(graph, of_kind("tuple"))
    assert tuples == [("stays", "stack", "main"), ("stays", "region-arena", "main"), ("stays", "stack", "main")]
    (carried,) = [i for i, n in graph.live_nodes() if n.kind == "tuple" and n.span.line == 5]
    assert "outlives the loop iteration" in graph.annotation("allocation")[carried].reason


def test_sizes_from_widths_decide_the_stack():
    source = """\
[<EntryPoint>]
let main (n: int) : int =
    let small = Array.zeroCreate (n &&& 7)
    let large = Array.zeroCreate (n &&& 255)
    let unknown = Array.zeroCreate n
    Array.length small + Array.length large + Array.length unknown
"""
    graph = analyzed(source)
    assert decisions(graph, of_kind("native", op="Array.zeroCreate")) == [
        ("stays", "stack", "main"), ("stays", "region-arena", "main"), ("stays", "region-arena", "main")]
    reasons = [a.reason for _, a in sorted(graph.annotation("allocation").items())]
    assert "more than the stack limit of 16" in reasons[1] and "may hold up to 2147483647" in reasons[2]
    roomy = analyzed(source, "elaborate,reachability,baker,widths,escape{stack_limit=256}")
    assert [d[1] for d in decisions(roomy, of_kind("native"))] == ["stack", "stack", "region-arena"]


def test_entries_and_unknown_entries():
    source = """\
let fresh (n: int) : int[] = [| n |]
let main (n: int) : int = (fresh n).[0]
"""
    library = analyzed(source)
    assert decisions(library, of_kind("array")) == [("escapes-to-caller", "heap", "")]
    program = analyzed(source, "elaborate,reachability,baker,escape{entries=main}")
    assert decisions(program, of_kind("array")) == [("escapes-to-caller", "caller-arena", "main")]
    with pytest.raises(DiagnosticError, match="entry point\\(s\\) nope are not top-level functions"):
        analyzed(source, "elaborate,reachability,baker,escape{entries=nope}")


# -- soundness: what stays is never reachable from the result -------------------------------------------

HELPERS = """\
type P = { A: int; B: int[] }

let ident (x: int[]) : int[] = x
let fresh (x: int[]) : int[] = Array.copy x
let wrap (x: int[]) : int[] * int = (x, 1)
let keep (x: int[]) (y: int[]) : int[] =
    y.[0] <- x.[0]
    y
let peek (p: P) : int = p.B.[0] + p.A
let boxed (x: int[]) : P = { A = 2; B = x }
"""


class EscapeProgram:
    """A well-typed main over arrays, tuples, records, lists and closures, using the helpers above."""

    def __init__(self, draw):
        self.draw = draw
        self.scope: dict[str, list[str]] = defaultdict(list)
        self.scope["int"].append("n")
        self.lines: list[str] = []
        self.count = 0

    def pick(self, kind: str) -> str:
        return self.draw(st.sampled_from(self.scope[kind]))

    def integer(self) -> str:
        forms = ["n", "1", f"({self.pick('int')} + 1)"]
        if self.scope["arr"]:
            forms.append(f"{self.pick('arr')}.[0]")
        if self.scope["rec"]:
            forms.append(f"(peek {self.pick('rec')})")
        return self.draw(st.sampled_from(forms))

    def statement(self) -> None:
        choices = ["arr"] + (["tup", "rec", "lst", "call", "store", "closure", "map", "branch"]
                             if self.scope["arr"] else [])
        form = self.draw(st.sampled_from(choices))
        name = f"v{self.count}"
        self.count += 1
        if form == "arr":
            self.bind("arr", name, f"[| {self.integer()}; {self.integer()} |]")
        elif form == "tup":
            self.bind("tup", name, f"({self.pick('arr')}, {self.integer()})")
        elif form == "rec":
            self.bind("rec", name, f"{{ A = {self.integer()}; B = {self.pick('arr')} }}")
        elif form == "lst":
            tail = f" :: {self.pick('lst')}" if self.scope["lst"] and self.draw(st.booleans()) else " :: []"
            self.bind("lst", name, f"{self.pick('arr')}{tail}")
        elif form == "call":
            helper = self.draw(st.sampled_from(["ident", "fresh", "keep", "wrap", "boxed"]))
            if helper == "keep":
                self.bind("arr", name, f"keep {self.pick('arr')} {self.pick('arr')}")
            elif helper == "wrap":
                self.bind("tup", name, f"wrap {self.pick('arr')}")
            elif helper == "boxed":
                self.bind("rec", name, f"boxed {self.pick('arr')}")
            else:
                self.bind("arr", name, f"{helper} {self.pick('arr')}")
        elif form == "store":
            self.lines.append(f"    {self.pick('arr')}.[1] <- {self.integer()}")
        elif form == "closure":
            self.lines.append(f"    let {name} = fun (k: int) -> k + {self.pick('arr')}.[0]")
            self.bind("int", f"{name}n", f"{name} {self.integer()}")
        elif form == "map":
            self.bind("arr", name, f"Array.map (fun (k: int) -> k * 2) {self.pick('arr')}")
        else:
            self.bind("arr", name, f"(if {self.integer()} > 3 then {self.pick('arr')} else {self.pick('arr')})")
        if self.scope["tup"] and self.draw(st.integers(0, 3)) == 0:
            self.bind("arr", f"{name}f", f"fst {self.pick('tup')}")
        if self.scope["rec"] and self.draw(st.integers(0, 3)) == 0:
            self.bind("arr", f"{name}b", f"{self.pick('rec')}.B")

    def bind(self, kind: str, name: str, expression: str) -> None:
        self.lines.append(f"    let {name} = {expression}")
        self.scope[kind].append(name)

    def source(self) -> str:
        for _ in range(self.draw(st.integers(1, 9))):
            self.statement()
        candidates = [n for kind in ("arr", "tup", "rec", "lst", "int") for n in self.scope[kind]]
        returned = self.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3))
        result = returned[0] if len(returned) == 1 else f"({', '.join(returned)})"
        return HELPERS + "\n[<EntryPoint>]\nlet main (n: int) =\n" + "\n".join(self.lines) + f"\n    {result}\n"


@st.composite
def escape_programs(draw):
    return EscapeProgram(draw).source()


def reachable(value, seen: set | None = None) -> set[int]:
    """The ids of every runtime object reachable from ``value``."""
    seen = set() if seen is None else seen
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (bool, int, float, str)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, Record):
            stack.extend(item.values)
        elif isinstance(item, Union):
            stack.extend(item.payload)
        elif isinstance(item, Cons):
            stack.extend(list(item))
        elif isinstance(item, np.ndarray) and item.dtype == object:
            stack.extend(item.ravel().tolist())
        elif isinstance(item, Closure):
            stack.extend(item.captured.values())
        elif isinstance(item, Partial):
            stack.extend((item.fn, *item.args))
        elif isinstance(item, PMap):
            stack.extend((*item.keys(), *item.values()))
    return seen


def run_recording(graph, entry: str, args: tuple, nodes: set[int]):
    """The raw result of ``entry`` and every object each of ``nodes`` made (kept alive, so ids stay unique)."""
    made: dict[int, list] = defaultdict(list)

    def recording(factory):
        def build(m, node_id, node):
            step = factory(m, node_id, node)
            if node_id not in nodes:
                return step

            def recorded(env):
                step(env)
                made[node_id].append(env[node_id])
            return recorded
        return build

    interpreter = Interpreter(graph, evaluators={k: recording(f) for k, f in EVALUATORS.items()})
    value, _ = run_with_big_stack(interpreter.call, entry, args)
    return value, made


def assert_stays_are_unreachable(graph, entry: str, args: tuple) -> int:
    classes = graph.annotation("escape")
    staying = {i for i, c in classes.items() if c == "stays"}
    value, made = run_recording(graph, entry, args, staying)
    returned = reachable(value)
    for node_id, objects in made.items():
        for obj in objects:
            assert id(obj) not in returned, (graph.node(node_id), graph.annotation("allocation")[node_id])
    return sum(len(objects) for objects in made.values())


@SETTINGS
@given(escape_programs(), st.integers(-5, 9))
def test_no_object_that_stays_is_reachable_from_the_result(source, n):
    graph = analyzed(source)
    assert_stays_are_unreachable(graph, "main", (n,))


def test_the_dynamic_check_sees_objects_that_stay():
    graph = analyzed(HELPERS + """
[<EntryPoint>]
let main (n: int) =
    let kept = [| n; 2 |]
    let dropped = { A = n; B = kept }
    (kept, peek dropped)
""")
    assert decisions(graph, of_kind("record")) == [("stays", "stack", "main")]
    assert assert_stays_are_unreachable(graph, "main", (3,)) >= 1


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.clef")), ids=lambda p: p.stem)
def test_every_allocation_of_the_examples_gets_a_class_and_a_decision(path):
    graph = analyzed(path.read_text())
    allocations = {i for i, n in graph.live_nodes() if is_allocation(n)}
    assert set(graph.annotation("escape")) == allocations == set(graph.annotation("allocation"))
    assert all(isinstance(a, Allocation) and a.reason for a in graph.annotation("allocation").values())


# -- an analysis never edits nodes ------------------------------------------------------------------------

@SETTINGS
@given(graphs(Saturated, max_nodes=50))
def test_never_edits_nodes_on_any_graph(graph):
    ctx = PassContext()
    out = Escape().run(graph, ctx)
    assert out.nodes is graph.nodes and out.regions is graph.regions
    assert Escape().validate(graph, out, ctx)[0].status == "validated"
    assert set(out.annotation("escape")) == set(out.annotation("allocation"))
    assert {a.place for a in out.annotation("allocation").values()} <= {
        "stack", "region-arena", "caller-arena", "actor-arena", "heap"}


def test_a_function_handed_to_an_intrinsic_is_followed():
    """Baker leaves no higher-order intrinsic, but a hand-made graph may: its lambda sees the elements."""
    b = Builder()
    with b.region(params=["n"]) as body:
        (n,) = body.params
        record = b.op("record", n, type="R", fields=("X",))
        items = b.op("array", record)
        with b.region(params=["r"]) as identity:
            identity.yields(identity.params[0])
        function = b.op("lambda", regions=[identity.id])
        mapped = b.op("native", function, items, op="Array.map")
        body.yields(b.op("index", mapped, b.op("const", value=0, type="int")))
    b.op("func", regions=[body.id], name="main", params=("n",), attributes=(("EntryPoint", ()),))
    graph = Escape().run(b.build(), PassContext())
    classes = graph.annotation("escape")
    # The record comes back out of the map and is returned; the array and the lambda stay.
    assert classes[record] == "escapes-to-caller"
    assert classes[items] == classes[function] == "stays"

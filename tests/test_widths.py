"""widths: sound ranges (exhaustive at 8 bits, differential on generated programs), precise where simple."""

import functools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend import parse
from nanopass.interp.machine import EVALUATORS
from nanopass.interp.operators import operator
from nanopass.interp.values import Fault, UInt8
from nanopass.interpreter import Interpreter
from nanopass.languages import Saturated
from nanopass.pass_ import PassContext
from nanopass.passes.widths import (
    TYPE_RANGES, BOTTOM, FieldWidth, Interval, Widths, binary_range, bits_needed, convert_range, unary_range)
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import graphs

EXAMPLES = Path("/work/shared/examples")
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE = "elaborate,reachability,baker,widths"


def analyzed(source: str, pipeline: str = PIPELINE, filename: str = "t.clef"):
    return Pipeline.parse(pipeline).run(parse(source, filename))


def range_of(graph, predicate):
    """The ranges of the nodes that ``predicate(node)`` selects, in id order."""
    table = graph.annotation("ranges")
    return [table.get(i) for i, node in graph.live_nodes() if predicate(node)]


def prims(graph, op):
    return range_of(graph, lambda n: n.kind == "prim" and n.attr("op") == op)


# -- the counter: a Mealy machine's registers and ports -------------------------------------------

def test_counter_fields_are_8_4_and_1_bits():
    result = analyzed((EXAMPLES / "counter.clef").read_text(), filename="counter.clef")
    graph = result.graph
    assert result.diagnostics == ()
    (step,) = [i for i, n in graph.top_level() if n.attr("name") == "step"]
    fields = {(f.role, f.field): f for f in graph.annotation("hardware")[step]}
    assert fields[("state", "Count")] == FieldWidth("state", "Count", 8, Interval(0, 255), "type")
    assert fields[("output", "Value")] == FieldWidth("output", "Value", 4, Interval(0, 15), "inferred")
    assert fields[("output", "Zero")] == FieldWidth("output", "Zero", 1, Interval(0, 1), "type")
    # Node by node: Count + 1uy may wrap, so it spans uint8; the mask bounds Value; Zero is a bool.
    assert prims(graph, "+") == [Interval(0, 255)]
    assert prims(graph, "&&&") == [Interval(0, 15)]
    assert prims(graph, "=") == [Interval(0, 1)]
    widths = graph.annotation("widths")
    (mask,) = [i for i, n in graph.live_nodes() if n.kind == "prim" and n.attr("op") == "&&&"]
    assert widths[mask] == 4


ACCUMULATOR = """\
type Acc = { Total: int; Level: float; Small: int; Tiny: uint8 }
type In = { X: uint8 }
type Out = { Sum: int; Half: int }

[<HardwareModuleWIDTHS>]
let step (s: Acc) (i: In) : Acc * Out =
    let t = s.Total + int i.X
    ({ Total = t; Level = s.Level * 0.5; Small = (s.Small + 1) % 10; Tiny = i.X >>> 4 },
     { Sum = t; Half = int i.X / 2 })
"""


def test_a_hardware_field_without_evidence_asks_for_an_annotation():
    result = analyzed(ACCUMULATOR.replace("WIDTHS", ""), filename="acc.clef")
    messages = sorted(str(d) for d in result.diagnostics)
    assert len(messages) == 3
    assert any("acc.clef:7:13: error: cannot infer a range for state field 'Total' of step: its int values may "
               "take the whole int range; annotate its width, e.g. [<HardwareModule; Width(\"Total\", 16)>]" in m
               for m in messages)
    assert any("state field 'Level' of step: a float value has no bit width" in m for m in messages)
    assert any("output field 'Sum' of step" in m for m in messages)
    (step,) = [i for i, n in result.graph.top_level() if n.attr("name") == "step"]
    fields = {f.field: f for f in result.graph.annotation("hardware")[step]}
    # Never a silent default: the unresolved fields have no width at all.
    assert set(fields) == {"Small", "Tiny", "Half"}
    assert fields["Small"] == FieldWidth("state", "Small", 5, Interval(-9, 9), "inferred")
    assert fields["Tiny"] == FieldWidth("state", "Tiny", 4, Interval(0, 15), "inferred")
    assert fields["Half"] == FieldWidth("output", "Half", 7, Interval(0, 127), "inferred")


def test_union_fields_are_laid_out_by_their_payloads_not_diagnosed():
    source = (Path(__file__).resolve().parent.parent / "examples" / "hardware" / "stopwatch.clef").read_text()
    result = analyzed(source, filename="stopwatch.clef")
    assert [d for d in result.diagnostics if d.severity == "error"] == []
    (watch,) = [i for i, n in result.graph.top_level() if n.attr("name") == "stopwatch"]
    fields = {f.field: f.bits for f in result.graph.annotation("hardware")[watch]}
    assert "Mode" not in fields  # a union: the tag plus each payload's own width, laid out by the backend
    assert fields["Laps"] == 8 and fields["Active"] == 1


def test_width_annotations_settle_fields_and_are_checked():
    widths = '; Width("Total", 12); Width("Sum", 12); Width("Level", 16)'
    result = analyzed(ACCUMULATOR.replace("WIDTHS", widths), filename="acc.clef")
    assert result.diagnostics == ()
    (step,) = [i for i, n in result.graph.top_level() if n.attr("name") == "step"]
    fields = {f.field: f for f in result.graph.annotation("hardware")[step]}
    assert fields["Total"].bits == 12 and fields["Total"].source == "annotation"
    assert fields["Level"] == FieldWidth("state", "Level", 16, None, "annotation")

    narrow = analyzed(ACCUMULATOR.replace("WIDTHS", widths + '; Width("Small", 3); Width("Nope", 4)'))
    messages = [str(d) for d in narrow.diagnostics]
    assert any("the width 3 annotated for state field 'Small' of step is narrower than the 5 bits its range "
               "[-9, 9] needs" in m for m in messages)
    assert any("'Width(\"Nope\", 4)' on step names no state or output field" in m for m in messages)

    malformed = analyzed(ACCUMULATOR.replace("WIDTHS", widths + '; Width(3)'))
    assert any("'Width' on step takes a field name and a width" in str(d) for d in malformed.diagnostics)


def test_a_field_only_copied_by_with_gets_its_declared_width():
    result = analyzed("""\
type S = { Ticks: uint8; Mode: bool }
type O = { Beat: bool }

[<HardwareModule>]
let step (s: S) (i: bool) : S * O =
    let t = if i then (s.Ticks &&& 7uy) + 1uy else 0uy
    ({ s with Ticks = t }, { Beat = t = 8uy })
""")
    assert result.diagnostics == ()
    (step,) = [i for i, n in result.graph.top_level() if n.attr("name") == "step"]
    fields = {f.field: (f.bits, f.source) for f in result.graph.annotation("hardware")[step]}
    assert fields == {"Ticks": (4, "inferred"), "Mode": (1, "type"), "Beat": (1, "type")}


# -- precision where it is simple -----------------------------------------------------------------

LOOPS = """\
let count (n: int) : int =
    let mutable i = 0
    while i < 10 do
        i <- i + 1
    let mutable s = 0uy
    for k in 0 .. 99 do
        s <- s ||| uint8 (k &&& 7)
    let b = if i > 5 then i - 5 else 0
    i + b + int s

let small (x: int) : int =
    if x >= 0 && x < 100 then x * 2 else 0

[<EntryPoint>]
let main (a: int) : int = small 3 + small 50 + count a
"""


def test_loops_branches_and_callers():
    graph = analyzed(LOOPS).graph
    ranges = graph.annotation("ranges")
    count = graph.node(graph.symbol("count"))
    loop = next(i for i in graph.walk_region(count.regions[0]) if graph.node(i).kind == "loop")
    exit_value = next(i for i, n in graph.live_nodes() if n.kind == "proj" and n.operands == (loop,))
    assert ranges[exit_value] == Interval(10, 10)  # widening, narrowing, then the exit condition
    # The counter inside the loop body: i + 1 for i in [0, 9].
    assert Interval(1, 10) in prims(graph, "+")
    # The mask bounds what the or accumulates: s stays within 3 bits.
    assert Interval(0, 7) in prims(graph, "|||")
    # i > 5 is decided at the exit, so b is exactly 5.
    assert Interval(5, 5) in prims(graph, "-")
    # small is called with 3 and 50 only: x * 2 in [6, 100] under x >= 0 && x < 100.
    assert Interval(6, 100) in prims(graph, "*")
    small = graph.node(graph.symbol("small"))
    (x,) = graph.region(small.regions[0]).params
    assert ranges[x] == Interval(3, 50)


def test_a_library_has_unknown_parameters_unless_entries_are_named():
    source = LOOPS.replace("[<EntryPoint>]\n", "")
    library = analyzed(source).graph
    small = library.node(library.symbol("small"))
    (x,) = library.region(small.regions[0]).params
    assert library.annotation("ranges")[x] == Interval(*TYPE_RANGES["int"])
    named = analyzed(source, "elaborate,reachability,baker,widths{entries=main}").graph
    assert named.annotation("ranges")[x] == Interval(3, 50)
    with pytest.raises(DiagnosticError, match="entry point\\(s\\) nope are not top-level functions"):
        analyzed(source, "elaborate,reachability,baker,widths{entries=nope}")


def test_match_arms_refine_union_payloads():
    source = """\
type Msg =
    | Small of uint8
    | Big of int

let size (m: Msg) : int =
    match m with
    | Small b -> int (b &&& 3uy)
    | Big n -> 1000

[<EntryPoint>]
let main (x: uint8) : int = size (Small x) + size (Small 7uy)
"""
    graph = analyzed(source).graph
    size = graph.node(graph.symbol("size"))
    (result,) = graph.region(size.regions[0]).results
    # Only Small reaches size: the Big arm is never taken, and the tag test is decided.
    assert graph.annotation("ranges")[result] == Interval(0, 3)
    assert range_of(graph, lambda n: n.kind == "tag_test") == [Interval(1, 1)]


def test_bits_unsigned_and_twos_complement():
    assert [bits_needed(*r) for r in [(0, 0), (0, 1), (0, 15), (0, 16), (0, 255)]] == [1, 1, 4, 5, 8]
    assert [bits_needed(*r) for r in [(-1, 0), (-2, 1), (-128, 127), (-129, 0), (-1, 128)]] == [1, 2, 8, 9, 9]
    assert Interval(-9, 9).bits == 5
    with pytest.raises(ValueError):
        Interval(3, 2)


# -- soundness, exhaustively at 8 bits --------------------------------------------------------------

BINARY = ("+", "-", "*", "/", "%", "&&&", "|||", "^^^", "<<<", ">>>", "=", "<>", "<", "<=", ">", ">=")
EIGHT_BITS = {"uint8": range(0, 256), "int": range(-128, 128)}


@functools.cache
def concrete_table(op: str, type_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every ``a op b`` over the 8-bit operands, computed by the interpreter's own operator, and
    which ones fault."""
    fn = operator(op, type_name)
    values = list(EIGHT_BITS[type_name])
    make = UInt8 if type_name == "uint8" else int
    results = np.zeros((len(values), len(values)), dtype=np.int64)
    faults = np.zeros_like(results, dtype=bool)
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            try:
                results[i, j] = int(fn(make(a), make(b)))
            except Fault:
                faults[i, j] = True
    return results, faults


def contains(abstract, low: int, high: int) -> bool:
    if abstract is BOTTOM:
        return False
    return isinstance(abstract, Interval) and abstract.lo <= low and high <= abstract.hi


@pytest.mark.slow
@pytest.mark.parametrize("type_name", sorted(EIGHT_BITS))
@pytest.mark.parametrize("op", BINARY)
def test_every_operand_pair_lies_in_its_interval(op, type_name):
    results, faults = concrete_table(op, type_name)
    values = list(EIGHT_BITS[type_name])
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            abstract = binary_range(op, type_name, Interval(a, a), Interval(b, b))
            if faults[i, j]:  # a division by zero: no value comes out
                assert abstract is BOTTOM, (op, a, b, abstract)
                continue
            assert contains(abstract, results[i, j], results[i, j]), (op, type_name, a, b, abstract)


# Interval ends: zero, the extremes, and powers of two with their neighbours (where the bits change).
INTERVAL_ENDS = {"uint8": (0, 1, 3, 8, 15, 16, 127, 128, 254, 255),
                 "int": (-128, -127, -64, -1, 0, 1, 2, 15, 64, 127)}


def interval_family(type_name: str) -> list[tuple[int, int]]:
    ends = INTERVAL_ENDS[type_name]
    return [(lo, hi) for lo in ends for hi in ends if lo <= hi]


@pytest.mark.slow
@pytest.mark.parametrize("type_name", sorted(EIGHT_BITS))
@pytest.mark.parametrize("op", BINARY)
def test_every_interval_pair_holds_every_result_inside_it(op, type_name):
    results, faults = concrete_table(op, type_name)
    masked_low = np.where(faults, np.iinfo(np.int64).max, results)
    masked_high = np.where(faults, np.iinfo(np.int64).min, results)
    base = EIGHT_BITS[type_name][0]
    family = interval_family(type_name)
    for a_lo, a_hi in family:
        for b_lo, b_hi in family:
            rows, cols = slice(a_lo - base, a_hi - base + 1), slice(b_lo - base, b_hi - base + 1)
            abstract = binary_range(op, type_name, Interval(a_lo, a_hi), Interval(b_lo, b_hi))
            if faults[rows, cols].all():
                continue
            low, high = masked_low[rows, cols].min(), masked_high[rows, cols].max()
            assert contains(abstract, low, high), (op, (a_lo, a_hi), (b_lo, b_hi), abstract, (low, high))


def test_unary_operators_and_conversions_at_8_bits():
    neg = operator("neg", "int")
    for lo, hi in interval_family("int"):
        abstract = unary_range("neg", "int", Interval(lo, hi))
        assert all(neg(v) in abstract for v in range(lo, hi + 1))
    assert [unary_range("not", "bool", Interval(*b)) for b in [(0, 0), (1, 1), (0, 1)]] == [
        Interval(1, 1), Interval(0, 0), Interval(0, 1)]
    for lo, hi in interval_family("int"):
        to_byte = convert_range("uint8", Interval(lo, hi), "int")
        assert all((v & 0xFF) in to_byte for v in range(lo, hi + 1))
    for lo, hi in interval_family("uint8"):
        assert convert_range("int", Interval(lo, hi), "uint8") == Interval(lo, hi)
    # The extremes of the wider types wrap.
    big = Interval(TYPE_RANGES["int"][1] - 1, TYPE_RANGES["int"][1])
    assert binary_range("+", "int", big, Interval(1, 1)) == Interval(*TYPE_RANGES["int"])
    smallest = TYPE_RANGES["int"][0]
    assert binary_range("/", "int", Interval(smallest, smallest), Interval(-1, -1)) is BOTTOM
    assert binary_range("/", "int", Interval(5, 9), Interval(0, 0)) is BOTTOM


# -- soundness on generated programs, against the reference interpreter -----------------------------

INT_LIMITS = {"int": TYPE_RANGES["int"], "int64": TYPE_RANGES["int64"], "uint8": TYPE_RANGES["uint8"]}
SUFFIX = {"int": "", "int64": "L", "uint8": "uy"}
PARAMS = (("p0", "int"), ("p1", "int"), ("p2", "uint8"), ("p3", "uint8"), ("p4", "int64"))


def literal(draw, type_name: str) -> str:
    lo, hi = INT_LIMITS[type_name]
    value = draw(st.one_of(st.integers(-4, 20), st.integers(lo + 1, hi), st.sampled_from([lo + 1, hi, 255, 128])))
    value = max(lo + 1 if type_name != "uint8" else 0, min(hi, value))
    text = f"{value}{SUFFIX[type_name]}"
    return f"({text})" if value < 0 else text


# Called only from the generated entry point: their parameters come from its calls.
HELPERS = """\
let clamp (x: int) (lo: int) : int = if x < lo then lo else x - lo
let rec steps (x: int) : int = if x <= 0 then 0 else 1 + steps (x - 3)

"""


class ProgramDraw:
    """A well-typed Clef function of integer lets, comparisons, branches and small loops."""

    def __init__(self, draw, loops: bool):
        self.draw = draw
        self.loops = loops
        self.lines: list[str] = []
        self.scope: dict[str, list[str]] = defaultdict(list)
        for name, type_name in PARAMS:
            self.scope[type_name].append(name)
        self.count = 0

    def operand(self, type_name: str) -> str:
        names = self.scope[type_name]
        if names and self.draw(st.integers(0, 3)):
            return self.draw(st.sampled_from(names))
        return literal(self.draw, type_name)

    def expression(self, type_name: str) -> str:
        form = self.draw(st.sampled_from(("arith", "arith", "bits", "shift", "divide", "convert", "branch", "neg",
                                           "narrowed", "call")))
        a = self.operand(type_name)
        if form == "call" and type_name == "int":  # parameters from the callers, and recursion
            helper = self.draw(st.sampled_from(["clamp", "steps"]))
            if helper == "clamp":
                return f"clamp {a} {self.operand('int')}"
            return f"steps ({a} &&& {self.draw(st.integers(0, 63))})"
        if form == "narrowed":  # a narrow interval near an end, so that arithmetic on it may wrap
            narrowing = self.draw(st.sampled_from(["&&&", ">>>", "%"]))
            amount = literal(self.draw, "int" if narrowing == ">>>" else type_name)
            return f"({a} {narrowing} {amount}) {self.draw(st.sampled_from(['+', '-', '*']))} {literal(self.draw, type_name)}"
        if form == "arith":
            return f"{a} {self.draw(st.sampled_from(['+', '-', '*']))} {self.operand(type_name)}"
        if form == "bits":
            return f"{a} {self.draw(st.sampled_from(['&&&', '|||', '^^^']))} {self.operand(type_name)}"
        if form == "shift":
            return f"{a} {self.draw(st.sampled_from(['<<<', '>>>']))} {self.operand('int')}"
        if form == "divide":
            return f"{a} {self.draw(st.sampled_from(['/', '%']))} {self.operand(type_name)}"
        if form == "convert":
            source = self.draw(st.sampled_from(sorted(INT_LIMITS)))
            return f"{type_name} ({self.operand(source)})"
        if form == "neg" and type_name != "uint8":
            return f"-({a})"
        compared = self.draw(st.sampled_from(sorted(INT_LIMITS)))
        op = self.draw(st.sampled_from(["<", "<=", ">", ">=", "=", "<>"]))
        condition = f"{self.operand(compared)} {op} {self.operand(compared)}"
        return f"(if {condition} then {a} else {self.operand(type_name)})"

    def let(self) -> None:
        type_name = self.draw(st.sampled_from(sorted(INT_LIMITS)))
        name = f"v{self.count}"
        self.count += 1
        if self.loops and self.draw(st.integers(0, 4)) == 0:
            self.loop(name, type_name)
        else:
            self.lines.append(f"    let {name} = {self.expression(type_name)}")
        self.scope[type_name].append(name)

    def loop(self, name: str, type_name: str) -> None:
        self.lines.append(f"    let mutable {name} = {self.operand(type_name)}")
        self.scope[type_name].append(name)  # the body may read what it accumulates
        if self.draw(st.booleans()):
            lo, hi = self.draw(st.integers(-3, 6)), self.draw(st.integers(-3, 12))
            self.lines.append(f"    for k in {lo} .. {hi} do")
            self.scope["int"].append("k")
            self.lines.append(f"        {name} <- {self.expression(type_name)}")
            self.scope["int"].remove("k")
        else:
            limit, stride = self.draw(st.integers(-5, 40)), self.draw(st.integers(1, 7))
            counter = f"c{self.count}"
            self.lines.append(f"    let mutable {counter} = {self.draw(st.integers(-5, 5))}")
            self.lines.append(f"    while {counter} < {limit} do")
            self.lines.append(f"        {counter} <- {counter} + {stride}")
            self.lines.append(f"        {name} <- {self.operand(type_name)} {self.draw(st.sampled_from(['+', '&&&', '-']))} "
                              f"{self.operand(type_name)}")
            self.scope["int"].append(counter)
        self.scope[type_name].remove(name)

    def source(self) -> str:
        for _ in range(self.draw(st.integers(1, 10))):
            self.let()
        names = [n for names in self.scope.values() for n in names]
        header = " ".join(f"({n}: {t})" for n, t in PARAMS)
        return HELPERS + "\n".join(["[<EntryPoint>]", f"let f {header} =", *self.lines,
                                    f"    ({', '.join(names)})"]) + "\n"


@st.composite
def programs(draw, loops: bool):
    return ProgramDraw(draw, loops).source()


@st.composite
def arguments(draw):
    return tuple(draw(st.integers(*INT_LIMITS[t])) for _, t in PARAMS)


def observed_values(graph, args) -> dict[int, set]:
    """Every integer or bool value each node took when the interpreter ran ``f`` on ``args``."""
    seen: dict[int, set] = defaultdict(set)

    def watching(factory):
        def build(m, node_id, node):
            step = factory(m, node_id, node)

            def watched(env):
                step(env)
                value = env[node_id]
                if isinstance(value, (bool, int)):
                    seen[node_id].add(int(value))
            return watched
        return build

    Interpreter(graph, evaluators={k: watching(f) for k, f in EVALUATORS.items()}).run("f", *args)
    return seen


def check_observations(source: str, runs: list[tuple]) -> None:
    graph = analyzed(source).graph
    ranges = graph.annotation("ranges")
    for args in runs:
        try:
            seen = observed_values(graph, args)
        except DiagnosticError:  # a division by zero on these inputs: no values to check
            continue
        for node_id, values in seen.items():
            if node_id in ranges:
                interval = ranges[node_id]
                assert all(v in interval for v in values), (graph.node(node_id), interval, sorted(values)[:5], args)


@SETTINGS
@given(programs(loops=False), st.lists(arguments(), min_size=1, max_size=4))
def test_straight_line_values_lie_in_their_ranges(source, runs):
    check_observations(source, runs)


@SETTINGS
@given(programs(loops=True), st.lists(arguments(), min_size=1, max_size=3))
def test_loop_values_lie_in_their_ranges(source, runs):
    check_observations(source, runs)


# -- an analysis never edits nodes --------------------------------------------------------------------

@SETTINGS
@given(graphs(Saturated, max_nodes=50))
def test_never_edits_nodes_on_any_graph(graph):
    ctx = PassContext()
    out = Widths().run(graph, ctx)
    assert out.nodes is graph.nodes and out.regions is graph.regions
    assert Widths().validate(graph, out, ctx)[0].status == "validated"
    for node_id, interval in out.annotation("ranges").items():
        assert interval.finite and out.annotation("widths")[node_id] == interval.bits


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.clef")), ids=lambda p: p.stem)
def test_every_integer_and_bool_of_the_examples_gets_a_range(path):
    result = analyzed(path.read_text(), filename=path.name)
    graph = result.graph
    types = graph.annotation("types")
    integers = {i for i, n in graph.live_nodes()
                if getattr(types.get(i), "base", None) in TYPE_RANGES and n.kind not in ("func", "global")}
    assert integers <= set(graph.annotation("ranges"))
    assert result.diagnostics == ()


def test_a_shift_count_is_an_int_whatever_the_shifted_type():
    # The count of `1uy <<< k` is masked to k &&& 7: k = -1 shifts by 7, so [-1, 0] is not clamped to
    # uint8's [0, 0] (a hypothesis run found the loop `for k in -1 .. 0 do v <- 1uy <<< k` giving 128).
    assert binary_range("<<<", "uint8", Interval(1, 1), Interval(-1, 0)) == Interval(1, 128)
    assert binary_range(">>>", "uint8", Interval(128, 128), Interval(-1, 0)) == Interval(1, 128)
    check_observations("let f (p0: int) (p1: int) (p2: uint8) (p3: uint8) (p4: int64) =\n"
                       "    let mutable v = p2\n    for k in -1 .. 0 do\n        v <- 1uy <<< k\n    v\n",
                       [(0, 0, 0, 0, 0)])

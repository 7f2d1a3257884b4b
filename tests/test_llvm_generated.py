"""Differential tests of the LLVM backend on generated programs: it gives the interpreter's result.

`ClefWriter` writes well-typed Clef source (scalar and array code: the
numeric types, bools, tuples, records, ``if``, ``let mutable`` with ``for``
and ``while`` loops, array stores, ``Array.map mapi init filter fold reduce
sum copy zeroCreate``, ``Array2D.init``, math and conversions, closures over
outer values) from a hypothesis draw, so that failing programs shrink.
Each program runs on the reference interpreter at the Saturated level (the
graph the backend compiles) and natively: the results must be identical
(floats bit for bit, NaN equal to NaN) or both runs must fail with the same
located diagnostic.  The project's shared generator
(`nanopass.testing.programs`: several functions, calls, recursion, matches,
unions, options, externs) runs too; what is not native there runs braided.  Float reductions are exact here: baker marks them not
reassociable unless asked; `test_reassociated_float_sums_stay_within_tolerance`
asks, and compares within a stated relative tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.backends import llvm
from nanopass.diagnostics import DiagnosticError
from nanopass.driver import to_python
from nanopass.interpreter import run_graph
from nanopass.testing.programs import FEATURES, same_value
from nanopass.testing.programs import programs as shared_programs
from nanopass.testing.strategies import Choices, DrawChoices, RandomChoices

NUMERIC = ("int", "int64", "uint8", "float", "float32")
SIGNED = ("int", "int64", "float", "float32")
INTEGRAL = ("int", "int64", "uint8")
FLOATING = ("float", "float32")
ARRAYS = ("int[]", "float[]")
SUFFIX = {"int": "", "int64": "L", "uint8": "uy", "float": "", "float32": "f"}
PARAMS = (("xs", "float[]"), ("ys", "int[]"), ("n", "int"), ("x", "float"), ("k", "int64"), ("b", "bool"),
          ("u", "uint8"), ("h", "float32"))
# How many programs the differential property runs (the issue asks for 10^3).
PROGRAMS = 1000
# A reassociated float sum may differ from the sequential one by this much, relative to the sum of magnitudes.
REASSOCIATION_TOLERANCE = 1e-12


class ClefWriter:
    """Writes one well-typed function ``f`` over `PARAMS` from a `Choices` source (hypothesis or seeded)."""

    def __init__(self, choices: Choices):
        self.choices = choices
        self.scope: list[tuple[str, str]] = list(PARAMS)
        self.count = 0
        self.lines: list[str] = []
        self.mutables: set[str] = set()

    def closed(self, scope: list[tuple[str, str]], *params: tuple[str, str]) -> list[tuple[str, str]]:
        """A lambda body's scope: no mutable locals (F# closures may not capture them), then its params."""
        return [(n, t) for n, t in scope if n not in self.mutables] + list(params)

    def fresh(self, stem: str = "v") -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def choice(self, options):
        options = list(options)
        return options[self.choices.integer(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        return self.choices.flip(percent)

    def integer(self, lo: int, hi: int) -> int:
        return self.choices.integer(lo, hi)

    # -- literals and variables -------------------------------------------------------------------------
    def literal(self, t: str) -> str:
        if t == "bool":
            return self.choice(["true", "false"])
        if t in FLOATING:
            value = self.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.25, 10.0, 0.1, 100.0, 1e-3])
            text = repr(value) + SUFFIX[t]
            return f"(-{text})" if self.chance(20) else text
        value = self.integer(0, 255 if t == "uint8" else 40)
        text = f"{value}{SUFFIX[t]}"
        return f"(-{text})" if t != "uint8" and self.chance(20) else text

    def variable(self, t: str, scope: list[tuple[str, str]]) -> str | None:
        names = [name for name, vt in scope if vt == t]
        return self.choice(names) if names else None

    # -- expressions --------------------------------------------------------------------------------------
    def expr(self, t: str, depth: int, scope: list[tuple[str, str]]) -> str:
        if depth <= 0 or self.chance(25):
            found = self.variable(t, scope)
            return found if found is not None and self.chance(75) else (
                self.literal(t) if t not in ARRAYS else self.array(t, 0, scope))
        if t == "bool":
            return self.boolean(depth, scope)
        if t in ARRAYS:
            return self.array(t, depth, scope)
        return self.number(t, depth, scope)

    def number(self, t: str, depth: int, scope) -> str:
        d = depth - 1
        forms = ["arith", "arith", "if", "convert", "minmax", "array"]
        if t in SIGNED:
            forms += ["abs", "neg"]
        if t in INTEGRAL:
            forms += ["bits", "shift", "divide"]
        if t in FLOATING:
            forms += ["math", "divide"]
        if t == "int":
            forms += ["length"]
        form = self.choice(forms)
        if form == "arith":
            return f"({self.expr(t, d, scope)} {self.choice(['+', '-', '*'])} {self.expr(t, d, scope)})"
        if form == "divide":
            divisor = self.expr(t, d, scope) if self.chance(30) else self.literal_nonzero(t)
            return f"({self.expr(t, d, scope)} {self.choice(['/', '%'])} {divisor})"
        if form == "bits":
            return f"({self.expr(t, d, scope)} {self.choice(['&&&', '|||', '^^^'])} {self.expr(t, d, scope)})"
        if form == "shift":
            return f"({self.expr(t, d, scope)} {self.choice(['<<<', '>>>'])} {self.expr('int', d, scope)})"
        if form == "if":
            return f"(if {self.expr('bool', d, scope)} then {self.expr(t, d, scope)} else {self.expr(t, d, scope)})"
        if form == "convert":
            source = self.choice([s for s in NUMERIC if s != t])
            return f"({t} {self.expr(source, d, scope)})"
        if form == "minmax":
            return f"({self.choice(['min', 'max'])} {self.expr(t, d, scope)} {self.expr(t, d, scope)})"
        if form == "abs":
            return f"(abs {self.expr(t, d, scope)})"
        if form == "neg":
            return f"(- {self.expr(t, d, scope)})"
        if form == "math":
            fn = self.choice(["sqrt", "exp", "log", "sin", "cos", "floor"])
            inner = self.expr(t, d, scope)
            if fn in ("sqrt", "log"):
                inner = f"(abs {inner})"
            return f"({fn} {inner})"
        if form == "length":
            return f"(Array.length {self.expr(self.choice(ARRAYS), d, scope)})"
        return self.from_array(t, d, scope)

    def literal_nonzero(self, t: str) -> str:
        text = self.literal(t)
        return text if text.strip("(-)").rstrip("Lufy").strip("0.") else ("3.0" if t in FLOATING else "3") + SUFFIX[t]

    def from_array(self, t: str, depth: int, scope) -> str:
        """A scalar read off an array: an element, a sum, a fold or a reduce (int and float arrays)."""
        if t not in ("int", "float"):
            return self.literal(t)
        array = self.expr(f"{t}[]", depth, scope)
        form = self.choice(["index", "sum", "fold", "reduce"])
        if form == "index":
            return f"{self.parenthesized(array)}.[{self.expr('int', depth, scope)}]"
        if form == "sum":
            return f"(Array.sum {array})"
        if form == "reduce":
            return f"(Array.reduce {self.choice(['max', 'min', '(fun a c -> a + c)'])} {array})"
        acc, item = self.fresh("s"), self.fresh("e")
        inner = self.closed(scope, (acc, t), (item, t))
        zero = "0" if t == "int" else "0.0"
        return f"(Array.fold (fun {acc} {item} -> {self.expr(t, depth, inner)}) {zero} {array})"

    def parenthesized(self, text: str) -> str:
        return text if text.startswith("(") and text.endswith(")") or text.isidentifier() else f"({text})"

    def boolean(self, depth: int, scope) -> str:
        d = depth - 1
        form = self.choice(["compare", "compare", "and", "or", "not"])
        if form == "compare":
            t = self.choice(NUMERIC)
            op = self.choice(["<", "<=", ">", ">=", "=", "<>"])
            return f"({self.expr(t, d, scope)} {op} {self.expr(t, d, scope)})"
        if form == "not":
            return f"(not {self.expr('bool', d, scope)})"
        op = "&&" if form == "and" else "||"
        return f"({self.expr('bool', d, scope)} {op} {self.expr('bool', d, scope)})"

    def array(self, t: str, depth: int, scope) -> str:
        elem = t[:-2]
        d = max(0, depth - 1)
        if depth <= 0:
            found = self.variable(t, scope)
            return found if found is not None else ("xs" if t == "float[]" else "ys")
        form = self.choice(["map", "map", "init", "mapi", "filter", "copy", "map_from"])
        v = self.fresh("e")
        if form == "map":
            body = self.expr(elem, d, self.closed(scope, (v, elem)))
            return f"(Array.map (fun {v} -> {body}) {self.array(t, d, scope)})"
        if form == "map_from":
            other = "int" if elem == "float" else "float"
            source = self.array(f"{other}[]", d, scope)
            return f"(Array.map (fun {v} -> {self.expr(elem, d, self.closed(scope, (v, other)))}) {source})"
        if form == "init":
            count = self.choice(["n", "(abs n % 7)", "4", "0", "(Array.length xs)"])
            return f"(Array.init {count} (fun {v} -> {self.expr(elem, d, self.closed(scope, (v, 'int')))}))"
        if form == "mapi":
            w = self.fresh("e")
            body = self.expr(elem, d, self.closed(scope, (v, "int"), (w, elem)))
            return f"(Array.mapi (fun {v} {w} -> {body}) {self.array(t, d, scope)})"
        if form == "filter":
            body = self.expr("bool", d, self.closed(scope, (v, elem)))
            return f"(Array.filter (fun {v} -> {body}) {self.array(t, d, scope)})"
        return f"(Array.copy {self.array(t, d, scope)})"

    # -- statements ----------------------------------------------------------------------------------------
    def statement(self) -> None:
        kind = self.choice(["let", "let", "for", "while", "store", "tuple", "record", "matrix"])
        getattr(self, f"s_{kind}")()

    def pick_type(self) -> str:
        return self.choice(NUMERIC + ("bool",) + ARRAYS)

    def s_let(self) -> None:
        t = self.pick_type()
        name = self.fresh()
        self.lines.append(f"    let {name} = {self.expr(t, 3, self.scope)}")
        self.scope.append((name, t))

    def s_for(self) -> None:
        t = self.choice(NUMERIC)
        name, index = self.fresh(), self.fresh("i")
        lo = self.choice(["0", "1", "n", "(- 2)"])
        hi = self.choice(["3", "n", "(Array.length xs - 1)", "(Array.length ys)"])
        self.lines.append(f"    let mutable {name} = {self.expr(t, 2, self.scope)}")
        self.mutables.add(name)
        inner = self.scope + [(name, t), (index, "int")]
        self.lines.append(f"    for {index} in {lo} .. {hi} do")
        self.lines.append(f"        {name} <- {self.expr(t, 3, inner)}")
        self.settle(name, t)

    def settle(self, mutable: str, t: str) -> None:
        """A mutable's final value under a new immutable name (closures may not capture mutables)."""
        name = self.fresh()
        self.lines.append(f"    let {name} = {mutable}")
        self.scope.append((name, t))

    def s_while(self) -> None:
        t = self.choice(NUMERIC)
        name, counter = self.fresh(), self.fresh("c")
        self.lines.append(f"    let mutable {counter} = 0")
        self.lines.append(f"    let mutable {name} = {self.expr(t, 2, self.scope)}")
        self.mutables.update((name, counter))
        inner = self.scope + [(name, t), (counter, "int")]
        self.lines.append(f"    while {counter} < {self.integer(0, 4)} do")
        self.lines.append(f"        {name} <- {self.expr(t, 3, inner)}")
        self.lines.append(f"        {counter} <- {counter} + 1")
        self.settle(name, t)

    def s_store(self) -> None:
        t = self.choice(ARRAYS)
        name, index = self.fresh(), self.fresh("i")
        size = self.integer(0, 5)
        self.lines.append(f"    let {name} : {t} = Array.zeroCreate {size}")
        self.lines.append(f"    for {index} in 0 .. {size - 1} do")
        inner = self.scope + [(index, "int")]
        self.lines.append(f"        {name}.[{index}] <- {self.expr(t[:-2], 2, inner)}")
        self.scope.append((name, t))

    def s_tuple(self) -> None:
        a, c = self.choice(NUMERIC), self.choice(NUMERIC + ("bool",))
        left, right = self.fresh(), self.fresh()
        self.lines.append(f"    let ({left}, {right}) = ({self.expr(a, 2, self.scope)}, {self.expr(c, 2, self.scope)})")
        self.scope += [(left, a), (right, c)]

    def s_record(self) -> None:
        name = self.fresh()
        self.lines.append(f"    let {name} = {{ X = {self.expr('float', 2, self.scope)}; "
                          f"N = {self.expr('int', 2, self.scope)} }}")
        self.scope += [(f"{name}.X", "float"), (f"{name}.N", "int")]

    def s_matrix(self) -> None:
        name, i, j = self.fresh(), self.fresh("i"), self.fresh("j")
        rows, cols = self.integer(0, 3), self.integer(0, 3)
        body = self.expr("float", 2, self.closed(self.scope, (i, "int"), (j, "int")))
        self.lines.append(f"    let {name} = Array2D.init {rows} {cols} (fun {i} {j} -> {body})")
        r, c = self.expr("int", 1, self.scope), self.expr("int", 1, self.scope)
        total = self.fresh()
        self.lines.append(f"    let {total} = if {rows} > 0 && {cols} > 0 then {name}.[abs {r} % {rows}, abs {c} % "
                          f"{cols}] else 0.0" if rows and cols else f"    let {total} = 0.0")
        self.scope.append((total, "float"))

    def program(self) -> tuple[str, str]:
        for _ in range(self.integer(0, 5)):
            self.statement()
        shape = self.choice(["scalar", "scalar", "array", "tuple"])
        if shape == "array":
            result_type = self.choice(ARRAYS)
            result = self.expr(result_type, 2, self.scope)
        elif shape == "tuple":
            first, second = self.choice(NUMERIC + ("bool",)), self.choice(NUMERIC + ARRAYS)
            result_type = f"{first} * {second}"
            result = f"({self.expr(first, 2, self.scope)}, {self.expr(second, 2, self.scope)})"
        else:
            result_type = self.pick_type()
            result = self.expr(result_type, 3, self.scope)
        params = " ".join(f"({name}: {t})" for name, t in PARAMS)
        header = "type R = { X: float; N: int }\n\n" + f"let f {params} : {result_type} =\n"
        return header + "\n".join(self.lines + [f"    {result}"]) + "\n", result_type


@st.composite
def programs(draw) -> str:
    return ClefWriter(DrawChoices(draw)).program()[0]


def arguments():
    floats = st.floats(-50, 50, allow_nan=False, width=64) | st.sampled_from([0.0, -0.0, 1e300, -1e300])
    return st.tuples(
        st.lists(floats, max_size=6).map(lambda v: np.array(v, dtype=np.float64)),
        st.lists(st.integers(-100, 100), max_size=6).map(lambda v: np.array(v, dtype=np.int32)),
        st.integers(-3, 8), floats, st.integers(-(1 << 40), 1 << 40), st.booleans(), st.integers(0, 255),
        st.floats(-50, 50, width=32))


def same(a, b) -> bool:
    """Equal values, floats bit for bit (any NaN equals any NaN), arrays by dtype, shape and elements."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        return all(same(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


def outcome(run):
    try:
        return "value", run()
    except DiagnosticError as error:
        first = error.diagnostics[0]
        return "error", (first.span.line, first.span.col, first.message)


def test_the_writer_writes_well_typed_programs():
    from nanopass.frontend import parse

    for seed in range(200):
        source, result_type = ClefWriter(RandomChoices(seed)).program()
        graph = parse(source, f"seed{seed}.clef")
        assert f": {result_type} =" in source and graph.symbol("f") is not None


@settings(max_examples=PROGRAMS, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(), arguments())
def test_generated_programs_give_the_interpreters_result(source, args):
    check_against_the_interpreter(llvm.NativeProgram(source, filename="generated.clef"), source, args)


@settings(max_examples=PROGRAMS // 5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(), arguments())
def test_generated_programs_split_across_the_pool_give_the_same_result(source, args):
    # Threshold 0: every parallel index space goes through the pool, however small.
    options = llvm.Options(workers=2, threshold=0)
    check_against_the_interpreter(llvm.NativeProgram(source, options=options, filename="generated.clef"), source, args)


def check_against_the_interpreter(program: llvm.NativeProgram, source: str, args: tuple) -> None:
    assert "f" in program.plan.functions, program.plan.explain()
    expected = outcome(lambda: run_graph(program.graph, "f", *args))
    got = outcome(lambda: program.call("f", args))
    assert expected[0] == got[0], (source, expected, got)
    if expected[0] == "error":
        assert expected == got, source
    else:
        assert same(got[1], expected[1]), (source, expected, got)


@settings(max_examples=PROGRAMS // 5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(shared_programs(features=FEATURES))
def test_programs_of_the_shared_generator_give_the_interpreters_result(generated):
    # Calls, recursion, matches, unions, options and externs too: what is not native runs braided.
    program = llvm.NativeProgram(generated.source, generated.externs, filename="generated.clef")
    got = to_python(program.call(generated.entry, generated.args))
    expected = to_python(run_graph(program.graph, generated.entry, *generated.args, externs=generated.externs))
    assert same_value(got, expected), generated.source


SUM = """
let total (xs: float[]) : float = Array.sum xs
let squares (xs: float[]) : float = xs |> Array.map (fun x -> x * x) |> Array.sum
"""


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=3000))
def test_reassociated_float_sums_stay_within_tolerance(values):
    xs = np.array(values)
    exact = llvm.jit(SUM, "total")
    tree = llvm.jit(SUM, "total", reassociate_floats=True, threshold=0)
    squares = llvm.jit(SUM, "squares", reassociate_floats=True, threshold=0)
    scale = float(np.sum(np.abs(xs))) or 1.0
    assert exact(xs) == run_graph(exact.program.graph, "total", xs)
    assert abs(tree(xs) - exact(xs)) <= REASSOCIATION_TOLERANCE * scale * len(values)
    assert abs(squares(xs) - float(np.sum(xs * xs))) <= REASSOCIATION_TOLERANCE * float(np.sum(xs * xs)) * len(values)


@pytest.mark.parametrize("seed_source", ["let f (xs: float[]) : float = Array.sum xs\n"])
def test_the_tolerance_is_needed_reassociation_changes_the_last_bits(seed_source):
    xs = np.array([1e16, 1.0, -1e16, 1.0] * 64)
    exact = llvm.jit(seed_source, "f")
    tree = llvm.jit(seed_source, "f", reassociate_floats=True)
    assert exact(xs) == run_graph(exact.program.graph, "f", xs)
    assert tree(xs) != exact(xs)  # the reading differs, which is why it is opt-in

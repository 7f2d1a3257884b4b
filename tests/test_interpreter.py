"""The reference interpreter on graphs built with `nanopass.Builder`: scalars, calls, control, data, externs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanopass import Builder, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.interpreter import Interpreter, run_graph
from nanopass.interp.values import NIL, Float32, Int64, Record, UInt8, Union


def const(b: Builder, value, type_name="int") -> int:
    return b.op("const", value=value, type=type_name)


def binary(op: str, a, b_, type_name: str, result_type: str | None = None):
    """A graph whose ``f`` returns ``a op b`` on constants of ``type_name``."""
    b = Builder()
    with b.region(params=["u"]) as f:
        f.yields(b.op("prim", const(b, a, type_name), const(b, b_, type_name), op=op, span=Span("t.clef", 3, 5, 3, 6)))
    b.op("func", regions=[f.id], name="f", params=("u",))
    return b.build()


def func(b: Builder, name: str, region) -> int:
    return b.op("func", regions=[region.id], name=name, params=tuple(f"p{i}" for i in range(len(region.params))))


# -- scalars ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, a, b, type_name, expected", [
    ("+", 2147483647, 1, "int", -2147483648),
    ("*", 65536, 65536, "int", 0),
    ("-", -2147483648, 1, "int", 2147483647),
    ("/", -7, 2, "int", -3),
    ("%", -7, 2, "int", -1),
    ("%", 7, -2, "int", 1),
    ("<<<", 1, 33, "int", 2),
    (">>>", -16, 2, "int", -4),
    ("<<<", 1, 31, "int", -2147483648),
    ("+", 250, 10, "uint8", 4),
    ("-", 0, 1, "uint8", 255),
    ("<<<", 1, 9, "uint8", 2),
    ("*", 1 << 62, 4, "int64", 0),
    ("+", (1 << 63) - 1, 1, "int64", -(1 << 63)),
    ("/", 7.0, 2.0, "float", 3.5),
    ("%", -7.5, 2.0, "float", -1.5),
    ("&&&", 12, 10, "int", 8),
    ("^^^", 12, 10, "int", 6),
    ("<", 1, 2, "int", True),
    ("=", 2.0, 2.0, "float", True),
])
def test_scalar_operators_follow_fsharp(op, a, b, type_name, expected):
    assert run_graph(binary(op, a, b, type_name), "f", None) == expected


def test_scalar_results_keep_their_type():
    assert type(run_graph(binary("+", 1, 2, "int64"), "f", None)) is Int64
    assert type(run_graph(binary("+", 1, 2, "uint8"), "f", None)) is UInt8
    result = run_graph(binary("+", 0.1, 0.2, "float32"), "f", None)
    assert type(result) is Float32
    assert result == float(np.float32(np.float32(0.1) + np.float32(0.2)))
    assert result != 0.1 + 0.2


def test_float_division_by_zero_is_ieee():
    assert run_graph(binary("/", 1.0, 0.0, "float"), "f", None) == math.inf
    assert math.isnan(run_graph(binary("/", 0.0, 0.0, "float"), "f", None))


@pytest.mark.parametrize("op", ["/", "%"])
def test_integer_division_by_zero_is_a_located_diagnostic(op):
    with pytest.raises(DiagnosticError) as caught:
        run_graph(binary(op, 1, 0, "int"), "f", None)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.span.file, diagnostic.span.line, diagnostic.span.col) == ("t.clef", 3, 5)
    assert "by zero" in diagnostic.message


def test_untyped_operators_dispatch_on_the_operand_class():
    b = Builder()
    with b.region(params=["x", "y"]) as f:
        f.yields(b.op("prim", *f.params, op="+"))
    func(b, "add", f)
    graph = b.build()
    assert run_graph(graph, "add", 2147483647, 1) == -2147483648
    assert run_graph(graph, "add", 1.5, 2.0) == 3.5
    assert run_graph(graph, "add", "ab", "c") == "abc"


# -- functions, closures, recursion ----------------------------------------------------------------------
def fib_graph() -> Builder:
    b = Builder()
    with b.region(params=["n"]) as f:
        n = f.params[0]
        small = b.op("prim", n, const(b, 2), op="<")
        with b.region() as then:
            then.yields(n)
        with b.region() as other:
            fib = b.op("ref", name="fib")
            left = b.op("apply", fib, b.op("prim", n, const(b, 1), op="-"))
            right = b.op("apply", fib, b.op("prim", n, const(b, 2), op="-"))
            other.yields(b.op("prim", left, right, op="+"))
        f.yields(b.op("if", small, regions=[then.id, other.id]))
    func(b, "fib", f)
    return b


def test_recursion_fib():
    assert run_graph(fib_graph().build(), "fib", 20) == 6765


def test_closures_capture_values_and_apply_partially():
    b = Builder()
    with b.region(params=["k"]) as adder:
        with b.region(params=["x", "y"]) as lam:
            total = b.op("prim", lam.params[0], lam.params[1], op="+")
            lam.yields(b.op("prim", total, adder.params[0], op="*"))
        closure = b.op("lambda", regions=[lam.id])
        partial = b.op("apply", closure, const(b, 10))  # arity 2, one argument: a partial application
        adder.yields(b.op("apply", partial, const(b, 5)))
    func(b, "f", adder)
    assert run_graph(b.build(), "f", 3) == 45


def test_partial_application_of_a_function_and_an_intrinsic():
    b = Builder()
    with b.region(params=["x", "y"]) as sub:
        sub.yields(b.op("prim", sub.params[0], sub.params[1], op="-"))
    func(b, "sub", sub)
    with b.region(params=["xs"]) as main:
        minus_from_ten = b.op("apply", b.op("ref", name="sub"), const(b, 10))
        mapper = b.op("apply", b.op("ref", name="Array.map"), minus_from_ten)
        main.yields(b.op("apply", mapper, main.params[0]))
    func(b, "main", main)
    out = run_graph(b.build(), "main", [1, 2, 3])
    assert out.tolist() == [9, 8, 7] and out.dtype == np.int32


def test_deep_recursion_over_a_long_list_does_not_overflow():
    b = Builder()
    with b.region(params=["xs"]) as length:
        with b.region() as nil:
            nil.yields(const(b, 0))
        with b.region(params=["h", "t"]) as cons:
            rest = b.op("apply", b.op("ref", name="len"), cons.params[1])
            cons.yields(b.op("prim", rest, const(b, 1), op="+"))
        length.yields(b.op("match", length.params[0], regions=[nil.id, cons.id],
                           patterns=(("nil",), ("cons", ("bind", "h"), ("bind", "t")) ), guards=(False, False)))
    func(b, "len", length)
    graph = b.build().annotate("types", {})
    interp = Interpreter(graph)
    from nanopass.interp.values import list_of
    assert interp.machine.apply(interp.machine.symbol("len", Span()), (list_of(range(10)),)) == 10
    t = T.TFun(T.list_of(T.INT), T.INT)
    graph = graph.annotate("types", {graph.symbol("len"): t})
    assert run_graph(graph, "len", list(range(10_000))) == 10_000


# -- control ----------------------------------------------------------------------------------------------
def test_while_with_mutable_cells_and_inclusive_for():
    b = Builder()
    with b.region(params=["n"]) as f:
        total = b.op("var", const(b, 0), name="total")
        i = b.op("var", const(b, 0), name="i")
        with b.region() as cond:
            cond.yields(b.op("prim", b.op("load", i), f.params[0], op="<"))
        with b.region() as body:
            b.op("assign", total, b.op("prim", b.op("load", total), b.op("load", i), op="+"))
            b.op("assign", i, b.op("prim", b.op("load", i), const(b, 1), op="+"))
        b.op("while", regions=[cond.id, body.id])
        with b.region(params=["k"]) as loop:
            b.op("assign", total, b.op("prim", b.op("load", total), loop.params[0], op="+"))
        b.op("for", const(b, 1), f.params[0], regions=[loop.id])
        f.yields(b.op("load", total))
    func(b, "f", f)
    assert run_graph(b.build(), "f", 10) == 45 + 55


def test_elaborated_loops_carry_values_and_yield_their_tuple():
    b = Builder()
    with b.region(params=["n"]) as f:
        with b.region(params=["s", "i"]) as cond:
            cond.yields(b.op("prim", cond.params[1], f.params[0], op="<"))
        with b.region(params=["s", "i"]) as body:
            body.yields(b.op("prim", body.params[0], body.params[1], op="+"),
                        b.op("prim", body.params[1], const(b, 1), op="+"))
        loop = b.op("loop", const(b, 0), const(b, 0), regions=[cond.id, body.id])
        with b.region(params=["k", "acc"]) as counted:
            counted.yields(b.op("prim", counted.params[1], counted.params[0], op="*"))
        product = b.op("for", const(b, 1), const(b, 5), const(b, 1), regions=[counted.id])
        f.yields(b.op("tuple", b.op("proj", loop, index=0), b.op("proj", product, index=0)))
    func(b, "f", f)
    assert run_graph(b.build(), "f", 10) == (45, 120)


def test_foreach_over_a_list_and_an_array():
    b = Builder()
    with b.region(params=["xs"]) as f:
        with b.region(params=["x", "acc"]) as body:
            body.yields(b.op("prim", body.params[1], body.params[0], op="+"))
        f.yields(b.op("proj", b.op("foreach", f.params[0], const(b, 0), regions=[body.id]), index=0))
    func(b, "f", f)
    graph = b.build()
    assert run_graph(graph, "f", [1, 2, 3, 4]) == 10


def test_match_on_unions_with_guards_literals_and_tuples():
    b = Builder()
    with b.region(params=["m"]) as f:
        with b.region(params=["b"]) as guard:
            guard.yields(b.op("prim", guard.params[0], const(b, 100), op=">"))
        with b.region(params=["b"]) as big:
            big.yields(const(b, "big", "string"))
        with b.region(params=["b"]) as commit:
            commit.yields(const(b, "commit", "string"))
        with b.region() as zero:
            zero.yields(const(b, "zero", "string"))
        with b.region(params=["a", "c"]) as pair:
            pair.yields(const(b, "pair", "string"))
        with b.region() as other:
            other.yields(const(b, "other", "string"))
        patterns = (("case", "Commit", ("bind", "b")), ("case", "Commit", ("bind", "b")),
                    ("case", "Discard", ("lit", 0, "int")), ("tuple", ("bind", "a"), ("bind", "c")), ("wild",))
        f.yields(b.op("match", f.params[0], regions=[guard.id, big.id, commit.id, zero.id, pair.id, other.id],
                      patterns=patterns, guards=(True, False, False, False, False)))
    func(b, "f", f)
    interp = Interpreter(b.build())
    assert interp.run("f", Union("Msg", "Commit", (500,))) == "big"
    assert interp.run("f", Union("Msg", "Commit", (5,))) == "commit"
    assert interp.run("f", Union("Msg", "Discard", (0,))) == "zero"
    assert interp.run("f", Union("Msg", "Discard", (1,))) == "other"
    assert interp.run("f", (1, 2)) == "pair"


def test_a_match_no_arm_accepts_is_a_located_diagnostic():
    b = Builder()
    with b.region(params=["o"]) as f:
        with b.region(params=["x"]) as some:
            some.yields(some.params[0])
        f.yields(b.op("match", f.params[0], regions=[some.id], patterns=(("case", "Some", ("bind", "x")),),
                      guards=(False,), span=Span("m.clef", 7, 3, 7, 8)))
    func(b, "f", f)
    with pytest.raises(DiagnosticError) as caught:
        run_graph(b.build(), "f", Union("option", "None"))
    assert caught.value.diagnostics[0].span.line == 7


# -- data -------------------------------------------------------------------------------------------------
def test_records_unions_tuples_and_lists():
    b = Builder()
    with b.region(params=["x"]) as f:
        point = b.op("record", f.params[0], const(b, 2.0, "float"), type="Point", fields=("X", "Y"))
        moved = b.op("with", point, const(b, 5.0, "float"), fields=("Y",))
        total = b.op("prim", b.op("field", moved, name="X"), b.op("field", moved, name="Y"), op="+")
        items = b.op("cons", const(b, 0), b.op("list", const(b, 1), const(b, 2)))
        option = b.op("union", total, type="option", case="Some")
        f.yields(b.op("tuple", moved, option, items))
    func(b, "f", f)
    moved, option, items = run_graph(b.build(), "f", 1.0)
    assert isinstance(moved, Record) and moved.X == 1.0 and moved["Y"] == 5.0
    assert option == 6.0  # an option comes back as its payload (None for None)
    assert items == [0, 1, 2]


def test_arrays_are_mutable_numpy_arrays_with_bounds_checks():
    b = Builder()
    with b.region(params=["xs", "i"]) as f:
        b.op("store", f.params[0], f.params[1], const(b, 7))
        f.yields(b.op("index", f.params[0], const(b, 0), span=Span("a.clef", 2, 1, 2, 4)))
    func(b, "f", f)
    graph = b.build()
    xs = np.array([1, 2, 3], dtype=np.int32)
    assert run_graph(graph, "f", xs, 0) == 7
    assert xs.tolist() == [7, 2, 3]  # the caller's array was written: arrays are shared, as in .NET
    with pytest.raises(DiagnosticError) as caught:
        run_graph(graph, "f", xs, 3)
    assert "out of range" in caught.value.diagnostics[0].message


def test_two_dimensional_index_and_store():
    b = Builder()
    with b.region(params=["m"]) as f:
        b.op("store", f.params[0], const(b, 1), const(b, 0), const(b, 9.5, "float"))
        f.yields(b.op("index", f.params[0], const(b, 1), const(b, 0)))
    func(b, "f", f)
    assert run_graph(b.build(), "f", [[1.0, 2.0], [3.0, 4.0]]) == 9.5


# -- externs ------------------------------------------------------------------------------------------------
def extern_graph(arity: int = 1, **attributes):
    b = Builder()
    b.op("extern", name="scale", arity=arity, span=Span("e.clef", 4, 1, 4, 20), **attributes)
    with b.region(params=["x"]) as f:
        f.yields(b.op("apply", b.op("ref", name="scale"), f.params[0]))
    func(b, "f", f)
    return b.build()


def test_externs_from_a_mapping_and_from_a_file(tmp_path):
    assert run_graph(extern_graph(), "f", 4.0, externs={"scale": lambda x: x * 3}) == 12.0
    host = tmp_path / "host.py"
    host.write_text("import math\n\ndef scale(x):\n    return math.sqrt(x)\n")
    assert run_graph(extern_graph(), "f", 16.0, externs=str(host)) == 4.0


def test_a_missing_extern_binding_is_located_at_the_declaration():
    with pytest.raises(DiagnosticError) as caught:
        run_graph(extern_graph(), "f", 1.0, externs={})
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.span.line == 4 and "scale" in diagnostic.message


def test_an_extern_that_raises_is_reported_at_the_call():
    def scale(x):
        raise ValueError("negative")
    with pytest.raises(DiagnosticError) as caught:
        run_graph(extern_graph(), "f", 1.0, externs={"scale": scale})
    assert "ValueError: negative" in caught.value.diagnostics[0].message


def extern_record_graph():
    manifest = T.TCon("Manifest")
    b = Builder()
    b.op("typedef", name="Manifest", form="record", fields=("Id", "Deps"))
    fetch = b.op("extern", name="fetch", arity=1)
    with b.region(params=["name"]) as f:
        record = b.op("apply", b.op("ref", name="fetch"), f.params[0])
        deps = b.op("field", record, name="Deps")
        f.yields(deps)
    func(b, "f", f)
    graph = b.build()
    return graph.annotate("types", {fetch: T.TFun(T.STRING, manifest), record: manifest, deps: T.list_of(T.STRING),
                                    graph.symbol("f"): T.TFun(T.STRING, T.list_of(T.STRING))})


def test_extern_records_convert_by_the_declared_type():
    interp = Interpreter(extern_record_graph(), {"fetch": lambda name: {"Id": name, "Deps": ("a", "b")}})
    value, _ = interp.call("f", ("x",))
    assert value.head == "a" and value.tail.head == "b" and value.tail.tail is NIL


# -- the shared examples, from source, at the Clef and Elaborated levels ---------------------------------------
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"


def example(name: str, elaborated: bool):
    from nanopass import PassContext
    from nanopass.frontend import parse
    from nanopass.passes.elaborate import Elaborate

    graph = parse((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")
    return Elaborate().run(graph, PassContext()) if elaborated else graph


def host(name: str):
    from nanopass.externs import load_externs

    return load_externs(str(EXAMPLES / f"{name}_externs.py"))


LEVELS = pytest.mark.parametrize("elaborated", [False, True], ids=["clef", "elaborated"])


@LEVELS
def test_example_process(elaborated):
    frame = np.linspace(-1.0, 1.0, 64)
    fns = host("process")
    expected = [fns["normalize"](fns["extractScore"](fns["calibrate"](x))) for x in frame]
    out = run_graph(example("process", elaborated), "process", frame, externs=fns)
    assert out.dtype == np.float64 and out.tolist() == expected


@LEVELS
def test_example_branchy(elaborated):
    frame = np.linspace(0.0, 3.0, 16)
    expected = [x / 2.0 + 0.125 if x / 2.0 > 0.75 else x / 2.0 for x in frame]
    assert run_graph(example("branchy", elaborated), "process", frame, externs=host("branchy")).tolist() == expected


@LEVELS
def test_example_dataset(elaborated):
    data = np.arange(10.0)
    expected = sum(x * 0.5 for x in data if x * 0.5 > 0.25)
    assert run_graph(example("dataset", elaborated), "processDataset", data, externs=host("dataset")) == expected


@LEVELS
def test_example_matmul(elaborated):
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4) / 7.0
    out = run_graph(example("matmul", elaborated), "matrixMultiply", a, b)
    assert out.shape == (2, 4) and np.allclose(out, a @ b)


def montecarlo_reference(spot: float, scenarios: int) -> float:
    def wrap64(x):
        return ((x + (1 << 63)) % (1 << 64)) - (1 << 63)

    def hash_(x):
        a = wrap64((x ^ (x >> 33)) * 0x62A9D9ED799705F5)
        return a ^ (a >> 28)

    def simulate(seed):
        price = spot
        for step in range(252):
            u = float(hash_(wrap64(seed * 1000003 + step)) & 0xFFFFFF) / 16777216.0
            price = price * (1.0 + 0.02 * (u - 0.5))
        return price

    total = 0.0
    for value in [simulate(i) for i in range(scenarios)]:
        total += value
    return total / float(scenarios)


@LEVELS
def test_example_montecarlo(elaborated):
    assert run_graph(example("montecarlo", elaborated), "monteCarlo", 100.0, 20) == montecarlo_reference(100.0, 20)


@LEVELS
def test_example_nappy(elaborated):
    result = run_graph(example("nappy", elaborated), "main", 10)
    assert type(result) is Float32 and result == 3.0 * 45 + 10


@LEVELS
def test_example_timeseries(elaborated):
    data = np.sin(np.arange(160) / 5.0) + (np.arange(160) == 130) * 40.0
    out = run_graph(example("timeseries", elaborated), "analyzeTimeSeries", data)
    assert len(out) == 61
    for i, (variance, flagged) in enumerate(out):
        window = data[i:i + 100]
        mu = sum(window) / 100.0
        expected = sum((x - mu) * (x - mu) for x in window) / 100.0
        assert variance == pytest.approx(expected, rel=1e-12)
        assert flagged == (abs(window[99] - mu) > 3.0 * math.sqrt(expected))
    assert [bool(f) for _, f in out].count(True) == 1  # the spike, when it is the window's last sample


@LEVELS
def test_example_counter(elaborated):
    graph = example("counter", elaborated)
    state, leds = run_graph(graph, "step", {"Count": 15}, {"Up": True, "Down": False})
    assert state == {"Count": 16} and leds == {"Value": 0, "Zero": False}
    state, leds = run_graph(graph, "step", {"Count": 0}, {"Up": False, "Down": True})
    assert state == {"Count": 255} and leds == {"Value": 15, "Zero": False}
    state, leds = run_graph(graph, "step", {"Count": 0}, {"Up": True, "Down": True})
    assert leds["Zero"] is True and type(state["Count"]) is UInt8


def test_runtime_diagnostics_show_the_source_line_with_a_caret(tmp_path):
    from nanopass.frontend import parse

    path = tmp_path / "div.clef"
    path.write_text("let f (x: int) (y: int) : int =\n    let q = x / y\n    q + 1\n")
    with pytest.raises(DiagnosticError) as caught:
        run_graph(parse(path.read_text(), str(path)), "f", 1, 0)
    rendered = caught.value.diagnostics[0].render().splitlines()
    assert rendered == [f"{path}:2:13: error: integer division by zero", "    let q = x / y", "            ^~~~~"]


# -- properties: the scalar operators against numpy's fixed-width arithmetic --------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

INT32 = st.integers(-(1 << 31), (1 << 31) - 1)


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(["+", "-", "*", "&&&", "|||", "^^^"]), a=INT32, b=INT32)
def test_int_operators_wrap_like_int32(op, a, b):
    numpy_op = {"+": np.add, "-": np.subtract, "*": np.multiply, "&&&": np.bitwise_and, "|||": np.bitwise_or,
                "^^^": np.bitwise_xor}[op]
    with np.errstate(over="ignore"):
        expected = int(numpy_op(np.array([a], np.int32), np.array([b], np.int32))[0])
    assert run_graph(binary(op, a, b, "int"), "f", None) == expected


@settings(max_examples=60, deadline=None)
@given(a=INT32, b=INT32.filter(lambda v: v != 0))
def test_int_division_truncates_and_remainder_takes_the_dividend_sign(a, b):
    if a == -(1 << 31) and b == -1:
        return
    quotient = run_graph(binary("/", a, b, "int"), "f", None)
    remainder = run_graph(binary("%", a, b, "int"), "f", None)
    assert quotient == int(a / b)  # exact: |a|, |b| < 2**31 keep a / b far from the next integer
    assert quotient * b + remainder == a
    assert remainder == 0 or (remainder < 0) == (a < 0)
    assert abs(remainder) < abs(b)


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(["+", "-", "*", "/"]),
       a=st.floats(width=32, allow_nan=False, allow_infinity=False),
       b=st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_operators_round_every_result(op, a, b):
    numpy_op = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[op]
    with np.errstate(all="ignore"):
        expected = float(numpy_op(np.float32(a), np.float32(b)))
    result = run_graph(binary(op, a, b, "float32"), "f", None)
    assert result == expected or (math.isnan(result) and math.isnan(expected))


def test_records_from_host_objects_with_the_field_names():
    from types import SimpleNamespace

    value = run_graph(extern_record_graph(), "f", "x",
                      externs={"fetch": lambda name: SimpleNamespace(Id=name, Deps=["p", "q"])})
    assert value == ["p", "q"]


def test_fib_25_from_source():
    from nanopass.frontend import parse

    graph = parse("let rec fib (n: int) : int = if n < 2 then n else fib (n - 1) + fib (n - 2)\n", "fib.clef")
    assert run_graph(graph, "fib", 25) == 75025


def test_a_negative_count_reads_the_same_at_every_level_and_under_the_profiler():
    from nanopass.driver import default_pipeline
    from nanopass.frontend import parse
    from nanopass.profiler import profile_graph

    graph = parse("let f (n: int) = Array.init n (fun i -> i)\n", filename="c.clef")
    saturated = default_pipeline().run(graph).graph
    messages = []
    for run in (lambda: run_graph(graph, "f", -3), lambda: run_graph(saturated, "f", -3),
                lambda: profile_graph(saturated, "f", -3)):
        with pytest.raises(DiagnosticError) as caught:
            run()
        messages.append(str(caught.value.diagnostics[0]).splitlines()[0])
    assert messages == ["c.clef:1:18: error: 'Array.init' of a negative count -3; expected 0 or more"] * 3

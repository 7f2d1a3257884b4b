"""The CIRCT backend: classification, emission, the wheel's check and export, and simulation against the interpreter.

Every machine in examples/ (the counter and examples/hardware/) is exported to
Verilog, linted by verilator, and run under iverilog on hypothesis-generated
input sequences; each cycle's outputs and registers are compared with the
reference interpreter stepping the same function from the reset state.  The
combinational functions of two 8-bit inputs are checked on all 2^16 pairs,
in one simulation run each.  Without iverilog or verilator those tests skip
with the reason (and fail under CI, whose Makefile installs them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanopass.backends.circt import (CLASS_TABLE, Scalar, UnionLayout, check, classify, compile_hardware, export,
                                     to_circt_mlir, to_verilog)
from nanopass.backends.circt.layout import demanded_bits
from nanopass.backends.circt.shape import Declarations, scalar_name, shape_of
from nanopass.backends.circt.simulate import LINT_TOOLS, SIMULATION_TOOLS, Simulator, lint, missing_tools
from nanopass.cli import main as cli_main
from nanopass.diagnostics import DiagnosticError
from nanopass.frontend import parse
from nanopass.frontend.stack import run_with_big_stack
from nanopass.interp.values import MAKE_SCALAR, Union
from nanopass.interpreter import Interpreter
from nanopass.pipeline import Pipeline
from nanopass.passes.widths import TYPE_RANGES

ROOT = Path(__file__).resolve().parent.parent
COUNTER = ROOT / "examples" / "counter.clef"
HARDWARE = ROOT / "examples" / "hardware"
MACHINES = [(COUNTER, "step"), (HARDWARE / "stopwatch.clef", "stopwatch"), (HARDWARE / "mac.clef", "mac"),
            (HARDWARE / "uart_tx.clef", "transmit"), (HARDWARE / "accumulator.clef", "accumulate")]
COMBINATIONAL = ["mix", "absdiff", "average", "signedOps", "spread"]


def load(path: Path):
    return parse(path.read_text(), filename=str(path.relative_to(ROOT)))


def source(text: str):
    return parse(text, filename="t.clef")


def require(tools) -> None:
    """Skip, saying which tools are missing; under CI (which installs them) fail instead."""
    missing = missing_tools(tools)
    if missing:
        message = (f"{', '.join(missing)} not installed (Debian: apt-get install iverilog verilator; "
                   f"`make install` does it)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# -- classification ---------------------------------------------------------------------------------

def test_counter_is_a_mealy_machine_recorded_on_the_graph():
    graph = classify(load(COUNTER))
    (fact,) = graph.annotation(CLASS_TABLE).values()
    assert fact == (("kind", "mealy"), ("state", "Counter"), ("registers", ("Count",)), ("inputs", "Buttons"),
                    ("input_ports", ("Up", "Down")), ("outputs", "Leds"), ("output_ports", ("Value", "Zero")))


def test_functions_of_scalars_are_combinational():
    graph = classify(load(HARDWARE / "alu.clef"))
    kinds = {graph.node(i).attr("name"): dict(fact)["kind"] for i, fact in graph.annotation(CLASS_TABLE).items()}
    assert kinds == {name: "combinational" for name in COMBINATIONAL}
    shape = shape_of(graph, graph.symbol("signedOps"))
    assert [f.name for f in shape.inputs] == ["a", "b"]
    assert [f.name for f in shape.outputs] == ["Quot", "Rem", "Shifted", "Less", "Wide"]
    assert [f.name for f in shape_of(graph, graph.symbol("mix")).outputs] == ["result"]


TYPES = """
type S = { N: uint8 }
type I = { Go: bool }
type O = { Out: uint8 }
type F = { X: float }
type U = | A | B of float
"""

REJECTED = [
    ("let f (s: S) (i: I) : S = s", "must be a pair State * Outputs"),
    ("let f (s: S) (i: I) : O * O = ({ Out = s.N }, { Out = s.N })", "must be the State type S"),
    ("let f (s: S) (i: uint8) : S * O = (s, { Out = i })",
     "Inputs of Mealy machine 'f' (parameter 'i') must be a record"),
    ("let f (s: S) (i: I) : S * uint8 = (s, s.N)", "Outputs of Mealy machine 'f'"),
    ("let f (s: S) : S * O = (s, { Out = s.N })", "a Mealy machine takes two"),
    ("let f (s: F) (i: I) : F * O = (s, { Out = 1uy })",
     "field 'X' of F (the State of hardware module 'f') is a float"),
    ("let f (u: U) (x: uint8) : uint8 = x", "parameter 'u' of hardware module 'f' is U: a combinational"),
    ("let f (x: uint8) (y: float) : uint8 = x", "parameter 'y' of hardware module 'f' is float"),
    ("let f (x: uint8) : uint8 * bool = (x, true)", "must be a scalar or a record"),
    ("let f (x: uint8) : O = { Out = x }\n[<HardwareModule>]\nlet g (x: uint8) : F = { X = 1.0 }",
     "field 'X' of F (the result of hardware module 'g') is a float"),
]


@pytest.mark.parametrize("body, expected", REJECTED)
def test_a_shape_that_is_neither_is_a_located_diagnostic_naming_the_missing_part(body, expected):
    graph = source(TYPES + "[<HardwareModule>]\n" + body + "\n")
    with pytest.raises(DiagnosticError) as caught:
        compile_hardware(graph)
    (diagnostic,) = caught.value.diagnostics
    assert expected in diagnostic.message
    assert diagnostic.span.file == "t.clef" and diagnostic.span.line >= 7
    rejected = [dict(f) for f in classify(graph).annotation(CLASS_TABLE).values() if dict(f)["kind"] == "rejected"]
    assert any(expected in fact["reason"] for fact in rejected)


def test_a_function_not_marked_as_hardware_is_refused_by_name():
    graph = source(TYPES + "let f (x: uint8) : uint8 = x\n[<HardwareModule>]\nlet g (x: uint8) : uint8 = x\n")
    with pytest.raises(DiagnosticError, match=r"'f' is not marked \[<HardwareModule>\]"):
        compile_hardware(graph, "f")
    with pytest.raises(DiagnosticError, match=r"no function 'h' \(hardware modules: g\)"):
        compile_hardware(graph, "h")
    with pytest.raises(DiagnosticError, match="no \\[<HardwareModule>\\] function"):
        compile_hardware(source("let f (x: uint8) : uint8 = x\n"))


def test_an_effect_in_a_hardware_module_is_named():
    graph = source("extern blink : uint8 -> unit\n[<HardwareModule>]\n"
                   "let f (x: uint8) : uint8 =\n    blink x\n    x\n")
    with pytest.raises(DiagnosticError, match="has an effect \\(call at t.clef:4:5\\)"):
        compile_hardware(graph)


# -- emission ----------------------------------------------------------------------------------------

def ops(design, name: str) -> list:
    return [op for op in design.op.walk() if op.name == name]


def test_counter_module_has_clock_reset_ports_named_as_fields_and_a_register_per_state_field():
    hardware = compile_hardware(load(COUNTER))
    (design,) = hardware.designs
    assert design.op.sym_name.data == "step"
    assert [(p.name, p.direction) for p in design.ports] == [
        ("clk", "in"), ("rst", "in"), ("Up", "in"), ("Down", "in"), ("Value", "out"), ("Zero", "out")]
    (register,) = ops(design, "seq.compreg")
    assert register.attributes["name"].data == "Count" and register.reset is not None
    assert "hw.module @step(in %clk: !seq.clock, in %rst: i1, in %Up: i1, in %Down: i1, out Value: i4, " \
           "out Zero: i1)" in hardware.mlir
    # Ops point back into the source: the increment is the `+` of line 9.
    assert re.search(r'comb.add .*loc\("examples/counter.clef":9:36\)', hardware.mlir)


@pytest.mark.parametrize("path, name", MACHINES)
def test_every_level_of_the_pipeline_compiles_to_the_same_module(path, name):
    graph = load(path)
    expected = to_circt_mlir(graph, name)
    for passes in ("elaborate", "elaborate,baker", "elaborate,baker,coeffects,color,widths"):
        assert to_circt_mlir(Pipeline.parse(passes).run(graph).graph, name) == expected


def test_inferred_widths_are_narrower_than_declared_and_come_from_the_widths_pass():
    inferred = compile_hardware(load(HARDWARE / "mac.clef")).design("mac")
    declared = compile_hardware(load(HARDWARE / "mac.clef"), widths="declared").design("mac")
    layouts = {r.field: r.layout for r in inferred.registers}
    assert layouts == {"Sum": Scalar(20, False), "Last": Scalar(8, False), "Peak": Scalar(8, False)}
    assert {r.field: r.layout for r in declared.registers} == {
        "Sum": Scalar(32, True), "Last": Scalar(8, False), "Peak": Scalar(8, False)}
    outputs = {p.name: p.layout for p in inferred.ports if p.direction == "out"}
    assert outputs == {"Total": Scalar(20, False), "Product": Scalar(16, False), "Delta": Scalar(9, True),
                       "Peak": Scalar(8, False), "Rising": Scalar(1, False)}


def test_a_value_whose_uses_read_its_low_bits_is_computed_in_those_bits():
    design = compile_hardware(load(HARDWARE / "mac.clef")).design("mac")
    # (s.Sum + product) &&& 0xFFFFF: the sum's range is all of int, but only 20 bits are read.
    assert [op.result.type.width.data for op in ops(design, "comb.add")] == [20]
    declared = compile_hardware(load(HARDWARE / "mac.clef"), widths="declared").design("mac")
    assert [op.result.type.width.data for op in ops(declared, "comb.add")] == [32]
    # delta = int i.X - int s.Last is compared (delta > 0): every bit of its 9 is read.
    assert [op.result.type.width.data for op in ops(design, "comb.sub")] == [9]


def test_demanded_bits_follow_uses_back_through_branches():
    graph = source("[<HardwareModule>]\nlet f (a: int) (b: int) (c: bool) : int =\n"
                   "    let t = if c then a * b else a + 1\n    (t - b) &&& 255\n")
    saturated = compile_hardware(graph).graph
    func = saturated.node(saturated.symbol("f"))
    nodes = {saturated.node(i).attr("op"): i for i in saturated.walk_region(func.regions[0])
             if saturated.node(i).kind == "prim"}
    ranges = saturated.annotation("ranges")
    found = demanded_bits(saturated, [saturated.symbol("f")], lambda node: ranges[node].bits)
    assert ranges[nodes["&&&"]].bits == 8  # [0, 255]: the mask bounds it
    assert found[nodes["-"]] == 8 and found[nodes["*"]] == 8 and found[nodes["+"]] == 8
    assert nodes["&&&"] not in found  # the result goes out whole
    assert found[func_params(saturated, func)[0]] == 8  # a is read by * and + only
    assert func_params(saturated, func)[2] not in found  # c is a condition: every bit


def func_params(graph, func):
    return graph.region(func.regions[0]).params


def test_unions_take_tag_bits_and_the_widest_payload():
    stopwatch = compile_hardware(load(HARDWARE / "stopwatch.clef")).design("stopwatch")
    (mode,) = [r.layout for r in stopwatch.registers if r.field == "Mode"]
    assert isinstance(mode, UnionLayout)
    assert (mode.tag_width, mode.payload_width, mode.width) == (2, 8, 10)
    uart = compile_hardware(load(HARDWARE / "uart_tx.clef")).design("transmit")
    (line,) = [r.layout for r in uart.registers if r.field == "Line"]
    # Data of uint8 * int: the bit index is built from `(n + 1) &&& 7`, so 3 bits, not 32.
    assert line.fields("Data") == (Scalar(8, False), Scalar(3, False)) and line.width == 2 + 11
    declared = compile_hardware(load(HARDWARE / "uart_tx.clef"), widths="declared").design("transmit")
    assert [r.layout.width for r in declared.registers if r.field == "Line"] == [2 + 8 + 32]
    accumulator = compile_hardware(load(HARDWARE / "accumulator.clef")).design("accumulate")
    ports = {p.name: p.layout for p in accumulator.ports}
    # Any command may arrive: its payloads keep their declared widths (uint8, uint8, int) under a 2-bit tag.
    assert ports["Cmd"].width == 2 + 32 and ports["Last"].fields("Changed") == (Scalar(8, False),)


def test_union_layout_round_trips_values():
    layout = UnionLayout("Line", (("Idle", ()), ("Start", (Scalar(8, False),)),
                                  ("Data", (Scalar(8, False), Scalar(3, False))), ("Stop", ())))
    for value in (Union("Line", "Idle"), Union("Line", "Start", (255,)), Union("Line", "Data", (0x5A, 6)),
                  Union("Line", "Stop")):
        assert layout.decode(layout.encode(value)) == (value.case, value.payload)
    assert layout.encode(Union("Line", "Idle")) == 0
    assert Scalar(9, True).decode(Scalar(9, True).encode(-255)) == -255


def test_a_register_whose_name_a_port_has_gets_a_suffix():
    design = compile_hardware(load(HARDWARE / "stopwatch.clef")).design("stopwatch")
    assert [(r.field, r.name) for r in design.registers] == [("Mode", "Mode"), ("Laps", "Laps_state")]
    assert [p.name for p in design.ports if p.direction == "out"] == ["Time", "Active", "Laps"]


def test_a_state_field_without_an_inferable_width_is_the_widths_diagnostic():
    graph = source("type S = { Total: int }\ntype I = { X: int }\ntype O = { Out: bool }\n[<HardwareModule>]\n"
                   "let f (s: S) (i: I) : S * O =\n    let t = s.Total + i.X\n    ({ Total = t }, { Out = t > 0 })\n")
    with pytest.raises(DiagnosticError) as caught:
        compile_hardware(graph)
    (diagnostic,) = caught.value.diagnostics
    assert "cannot infer a range for state field 'Total' of f" in diagnostic.message
    assert "Width(\"Total\"" in diagnostic.message and diagnostic.span.line == 6  # where t is computed
    # Declared widths need no inference; an annotation settles the inferred ones.
    assert "seq.compreg" in to_circt_mlir(graph, widths="declared")
    body = "let f (s: S) (i: I) : S * O =\n    let t = s.Total + i.X\n    ({ Total = t }, { Out = t > 0 })\n"
    annotated = source("type S = { Total: int }\ntype I = { X: int }\ntype O = { Out: bool }\n"
                       "[<HardwareModule; Width(\"Total\", 12)>]\n" + body)
    (register,) = compile_hardware(annotated).design("f").registers
    assert register.layout == Scalar(12, True)


def test_every_widths_error_inside_the_module_fails_the_compile():
    graph = source(TYPES + "[<HardwareModule; Width(\"Nope\", 4)>]\nlet f (s: S) (i: I) : S * O = (s, { Out = s.N })\n")
    with pytest.raises(DiagnosticError, match=r"'Width\(\"Nope\", 4\)' on f names no state or output field"):
        compile_hardware(graph)
    assert "hw.module @f" in to_circt_mlir(graph, widths="declared")


@pytest.mark.parametrize("body, expected", [
    ("    let mutable t = 0uy\n    for k in 1 .. 3 do\n        t <- t + x\n    t\n", "a 'for' cannot become hardware"),
    ("    let xs = [| x; x |]\n    xs.[0]\n", "a 'array' cannot become hardware"),
    ("    let g = fun y -> y + x\n    g x\n", "cannot become hardware"),
])
def test_a_node_without_hardware_form_is_located(body, expected):
    graph = source("[<HardwareModule>]\nlet f (x: uint8) : uint8 =\n" + body)
    with pytest.raises(DiagnosticError) as caught:
        compile_hardware(graph)
    assert expected in caught.value.diagnostics[0].message
    assert caught.value.diagnostics[0].span.line >= 3


def test_calls_are_inlined_and_globals_are_constants_but_recursion_is_refused():
    graph = source("let limit = 9uy\nlet bump (x: uint8) : uint8 = if x >= limit then 0uy else x + 1uy\n"
                   "[<HardwareModule>]\nlet f (x: uint8) : uint8 = bump (bump x)\n")
    text = to_circt_mlir(graph)
    assert "hw.module @f" in text and "hw.module @bump" not in text and text.count("comb.icmp") == 2
    recursive = source("let rec down (x: uint8) : uint8 = if x = 0uy then 0uy else down (x - 1uy)\n"
                       "[<HardwareModule>]\nlet f (x: uint8) : uint8 = down x\n")
    with pytest.raises(DiagnosticError, match=r"'down' is recursive \(f -> down -> down\)"):
        compile_hardware(recursive)


# -- the wheel -------------------------------------------------------------------------------------------

def test_the_wheel_rejects_invalid_mlir_with_a_diagnostic():
    with pytest.raises(DiagnosticError, match="circt:"):
        check("hw.module @m(in %a : i8, out b : i4) {\n  hw.output %a : i8\n}\n")


def test_an_export_that_fails_fails_loudly(monkeypatch, capfd):
    import nanopass.backends.circt.verilog as verilog

    text = to_circt_mlir(load(COUNTER))
    monkeypatch.setattr(verilog, "LOWERING", "builtin.module(cse)")  # the registers stay seq ops
    with pytest.raises(DiagnosticError) as caught:
        export(text)
    assert "not supported for direct Verilog emission" in str(caught.value)
    assert caught.value.diagnostics[0].span.file == "examples/counter.clef"
    assert capfd.readouterr().err == ""  # collected, not printed


def test_every_module_of_a_file_is_exported_and_passes_verilator_lint():
    require(LINT_TOOLS)
    verilog = to_verilog(load(HARDWARE / "alu.clef"))
    for name in COMBINATIONAL:
        assert f"module {name}(" in verilog
        lint(verilog, name)
    for path, name in MACHINES:
        lint(to_verilog(load(path), name), name)
        lint(to_verilog(load(path), name, widths="declared"), name)


def test_cli_compiles_to_mlir_and_verilog(tmp_path, capsys):
    mlir, sv = tmp_path / "counter.mlir", tmp_path / "counter.sv"
    assert cli_main(["compile", str(COUNTER), "--target", "circt", "-o", str(mlir)]) == 0
    assert cli_main(["compile", str(COUNTER), "--target", "verilog", "-o", str(sv)]) == 0
    check(mlir.read_text())
    assert re.search(r"module step\(", sv.read_text()) and "always_ff @(posedge clk)" in sv.read_text()
    assert cli_main(["compile", str(COUNTER), "--target", "verilog", "--entry", "nope"]) == 1
    assert "no function 'nope'" in capsys.readouterr().err


# -- simulation against the interpreter ------------------------------------------------------------------

def scalar_strategy(type_name: str):
    if type_name == "bool":
        return st.booleans()
    low, high = TYPE_RANGES[type_name]
    return st.integers(low, high).map(MAKE_SCALAR[type_name])


def value_strategy(decls: Declarations, t):
    name = scalar_name(t)
    if name is not None:
        return scalar_strategy(name)
    union = decls.union(t)
    return st.one_of([st.tuples(*(scalar_strategy(scalar_name(p)) for p in payload)).map(
        lambda items, case=case: Union(union.name, case, items)) for case, payload in union.cases])


def zero_value(decls: Declarations, t):
    name = scalar_name(t)
    if name is not None:
        return False if name == "bool" else MAKE_SCALAR[name](0)
    case, payload = decls.union(t).cases[0]
    return Union(decls.union(t).name, case, tuple(zero_value(decls, p) for p in payload))


def as_compared(value):
    """An interpreter value as a layout decodes it: ints (bools as 0 / 1), unions as (case, payload)."""
    if isinstance(value, Union):
        return value.case, tuple(int(v) for v in value.payload)
    return int(value)


class Machine:
    """A machine's exported Verilog under iverilog, and the interpreter on the same source."""

    def __init__(self, path: Path, name: str, widths: str):
        graph = load(path)
        self.hardware = compile_hardware(graph, name, widths)
        self.design = self.hardware.design(name)
        self.decls = Declarations(self.hardware.graph)
        self.shape = self.design.shape
        self.simulator = Simulator(self.design, self.hardware.verilog())
        self.interpreter = Interpreter(graph)
        self.name = name

    def inputs(self):
        return st.fixed_dictionaries({f.name: value_strategy(self.decls, f.type) for f in self.shape.inputs})

    def expected(self, cycles: list[tuple[bool, dict]]) -> list[dict]:
        """Per cycle after the first (a reset): the outputs and the state the interpreter says."""
        state = {f.name: zero_value(self.decls, f.type) for f in self.shape.state}
        rows = []

        def step_all():
            nonlocal state
            for reset, inputs in cycles[1:]:
                next_state, outputs = self.interpreter.run_here(self.name, (state, inputs))
                rows.append({**{f.name: as_compared(outputs[f.name]) for f in self.shape.outputs},
                             **{r.name: as_compared(state[r.field]) for r in self.design.registers}})
                state = {f.name: zero_value(self.decls, f.type) for f in self.shape.state} if reset else next_state

        run_with_big_stack(step_all)
        return rows

    def simulated(self, cycles: list[tuple[bool, dict]]) -> list[dict]:
        ports = {p.name: p.layout for p in self.design.ports}
        vectors = [[int(reset)] + [ports[f.name].encode(inputs[f.name]) for f in self.shape.inputs]
                   for reset, inputs in cycles]
        layouts = {**ports, **{r.name: r.layout for r in self.design.registers}}
        rows = self.simulator.run(vectors)[1:]
        return [{name: None if bits is None else layouts[name].decode(bits) for name, bits in row.items()}
                for row in rows]


@pytest.fixture(scope="module", params=[(path, name, widths) for path, name in MACHINES
                                        for widths in ("inferred", "declared")],
                ids=lambda p: f"{p[1]}-{p[2]}")
def machine(request):
    require(SIMULATION_TOOLS)
    made = Machine(*request.param)
    yield made
    made.simulator.close()


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_cycle_matches_the_interpreter(machine, data):
    resets = st.integers(0, 11).map(lambda k: k == 0)  # a reset now and then, mid-run too
    cycles = data.draw(st.lists(st.tuples(resets, machine.inputs()), min_size=2, max_size=40))
    cycles[0] = (True, cycles[0][1])  # the first cycle resets the registers
    assert machine.simulated(cycles) == machine.expected(cycles)


@pytest.fixture(scope="module", params=["inferred", "declared"])
def alu(request):
    require(SIMULATION_TOOLS)
    graph = load(HARDWARE / "alu.clef")
    hardware = compile_hardware(graph, widths=request.param)
    yield graph, hardware, hardware.verilog()


@pytest.mark.slow
@pytest.mark.parametrize("name", COMBINATIONAL)
def test_combinational_functions_match_the_interpreter_on_every_pair_of_bytes(alu, name):
    graph, hardware, verilog = alu
    design = hardware.design(name)
    pairs = [(a, b) for a in range(256) for b in range(256)]
    with Simulator(design, verilog) as simulator:
        rows = simulator.run(pairs)
    layouts = {p.name: p.layout for p in design.ports}
    interpreter = Interpreter(graph)
    outputs = [p.name for p in design.ports if p.direction == "out"]

    def expected():
        found = []
        for a, b in pairs:
            result = interpreter.run_here(name, (a, b))
            found.append({o: as_compared(result[o] if o != "result" else result) for o in outputs})
        return found

    simulated = [{o: layouts[o].decode(row[o]) for o in outputs} for row in rows]
    wanted = run_with_big_stack(expected)
    mismatches = [(pair, s, w) for pair, s, w in zip(pairs, simulated, wanted) if s != w]
    assert not mismatches, f"{len(mismatches)} of 65536 pairs differ, the first: {mismatches[:3]}"


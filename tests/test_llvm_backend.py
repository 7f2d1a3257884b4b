"""The LLVM backend (`nanopass.backends.llvm`): results, the braid, caching, fusion, cores, faults, externs, interface.

Every result is held against the reference interpreter, the oracle: on the
Saturated graph the backend compiles (same faults, same messages, same
places) and, for the shared examples, on the source program too.
Generated programs are in ``test_llvm_generated.py``.
"""

from __future__ import annotations

import ctypes
import gc
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nanopass
from nanopass.backends import llvm
from nanopass.backends.llvm.emit import ModuleEmitter
from nanopass.backends.llvm.fusion import TABLE as FUSED
from nanopass.backends.llvm.runtime import chunk_ranges
from nanopass.diagnostics import UNKNOWN_SPAN, DiagnosticError
from nanopass.interp.values import Float32, Int64, Record, UInt8
from nanopass.interpreter import run_graph

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KERNELS = ROOT / "benchmarks" / "kernels" / "kernels.clef"


def same(a, b) -> bool:
    """Equal runtime values: floats bit for bit (NaN equals NaN), arrays by dtype, shape and elements."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        items = (a.ravel().tolist(), b.ravel().tolist()) if a.dtype != object else (list(a.ravel()), list(b.ravel()))
        return all(same(x, y) for x, y in zip(*items))
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, Record) or isinstance(b, Record):
        return isinstance(a, Record) and isinstance(b, Record) and a.type == b.type and same(a.values, b.values)
    if isinstance(a, dict) or isinstance(b, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b) and type(a) is type(b)
    return type(a) is type(b) and a == b


def failure(run) -> tuple:
    """The first diagnostic of a failing run: (line, column, message)."""
    with pytest.raises(DiagnosticError) as caught:
        run()
    first = caught.value.diagnostics[0]
    return first.span.line, first.span.col, first.message


def both(source: str, entry: str, *args, **options):
    """(native result, the interpreter's on the same Saturated graph)."""
    program = llvm.NativeProgram(source, options=llvm.Options(**options), filename="t.clef")
    return program.call(entry, args), run_graph(program.graph, entry, *args)


# -- the shared examples ------------------------------------------------------------------------------
EXAMPLE_RUNS = [
    ("process", "process", lambda: (np.linspace(-1.0, 1.0, 64),), "process_externs.py", "native"),
    ("branchy", "process", lambda: (np.linspace(0.0, 3.0, 16),), "branchy_externs.py", "native"),
    ("dataset", "processDataset", lambda: (np.arange(10.0),), "dataset_externs.py", "native"),
    ("matmul", "matrixMultiply", lambda: (np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4) / 7.0), None,
     "native"),
    ("montecarlo", "monteCarlo", lambda: (100.0, 20), None, "native"),
    ("nappy", "main", lambda: (10,), None, "native"),
    ("timeseries", "analyzeTimeSeries", lambda: (np.sin(np.arange(160) / 5.0) + (np.arange(160) == 130) * 40.0,),
     None, "native"),
    ("counter", "step", lambda: ({"Count": 255}, {"Up": True, "Down": False}), None, "native"),
    ("resolver", "resolve", lambda: ("app",), "resolver_externs.py", "host"),
]


@pytest.mark.parametrize("name,entry,args,externs,where", EXAMPLE_RUNS, ids=[r[0] for r in EXAMPLE_RUNS])
def test_every_shared_example_gives_the_interpreters_result(name, entry, args, externs, where):
    path = EXAMPLES / f"{name}.clef"
    bindings = str(EXAMPLES / externs) if externs else None
    program = llvm.NativeProgram(path.read_text(), bindings, filename=str(path))
    assert (entry in program.plan.functions) == (where == "native"), program.plan.explain()
    got = program.call(entry, args())
    assert same(got, run_graph(program.graph, entry, *args(), externs=bindings))
    assert same(nanopass.run(path.read_text(), entry, *args(), externs=bindings, backend="llvm"),
                nanopass.run(path.read_text(), entry, *args(), externs=bindings))


def test_the_seed_kernels_run_natively_and_agree_with_the_interpreter():
    program = llvm.NativeProgram(KERNELS.read_text(), filename=str(KERNELS))
    runs = {
        "process": (np.linspace(-2, 2, 33),), "branchy": (np.linspace(0, 3, 17),), "dataset": (np.arange(40.0),),
        "jacobi": (np.sin(np.arange(50.0)), 3), "chain": (np.arange(100.0),), "heavy": (np.linspace(-5, 5, 21),),
        "gemm": (1.5, 0.5, np.arange(12.0).reshape(3, 4), np.arange(8.0).reshape(4, 2), np.ones((3, 2))),
        "stencil": (np.arange(30.0).reshape(5, 6),), "nappy": (1000,), "monteCarlo": (100.0, 7),
    }
    for entry, args in runs.items():
        assert entry in program.plan.functions, program.plan.explain()
        assert same(program.call(entry, args), run_graph(program.graph, entry, *args)), entry


# -- the braid --------------------------------------------------------------------------------------------
def test_the_resolver_runs_on_the_host_and_says_why_its_query_body_is_not_native():
    path = EXAMPLES / "resolver.clef"
    program = llvm.NativeProgram(path.read_text(), str(EXAMPLES / "resolver_externs.py"), filename=str(path))
    explained = program.plan.explain()
    assert "resolve: host" in explained
    query = next(reason for node_id, reason in program.plan.kernel_reasons.items()
                 if program.graph.node(node_id).attr("origin") == "List.map")
    assert "line 27" in query and "list" in query  # the query walks a list of Manifest records, not an array
    assert program.call("resolve", ("app",)) == {"app": ["web", "db"], "db": ["json"], "http": [], "json": [],
                                                 "web": ["http", "json"]}


BRAID = """
[<Resource("sensor")>]
extern readFrame : int -> Async<float[]>

let calibrated (xs: float[]) : float[] = Array.map (fun x -> 2.0 * x - 0.5) xs

let acquire (n: int) = async {
    let! frame = readFrame n
    let scaled = Array.map (fun x -> x * x + 1.0) frame
    let total = Array.sum (calibrated scaled)
    return total / float n
}
"""


def test_width_regions_inside_an_async_control_strand_run_compiled_at_the_crossing():
    async def read_frame(n):
        return [0.25 * i for i in range(n)]

    program = llvm.NativeProgram(BRAID, {"readFrame": read_frame}, filename="braid.clef")
    assert "acquire" not in program.plan.functions and "calibrated" in program.plan.functions
    origins = sorted(program.graph.node(k).attr("origin") for k in program.plan.kernels)
    assert origins == ["Array.map", "Array.sum"]
    before = llvm.STATISTICS["native calls"]
    result = program.call("acquire", (1000,))
    assert llvm.STATISTICS["native calls"] - before == 3  # the map kernel, the compiled call, the sum kernel
    assert result == run_graph(program.graph, "acquire", 1000, externs={"readFrame": read_frame})


def test_a_producer_fused_into_a_kernel_is_left_to_the_kernel():
    source = """
let summed (n: int) : float list =
    let xs = Array.init n (fun i -> float i * 0.5)
    let total = xs |> Array.map (fun x -> x * x) |> Array.sum
    let kept = xs |> Array.filter (fun x -> x > 1.0) |> Array.sum
    [ total; kept; float (Array.length xs) ]
"""
    program = llvm.NativeProgram(source, filename="k.clef")
    assert "summed" not in program.plan.functions  # it returns a list: host code
    absorbed_kinds = sorted(program.graph.node(p).kind for p in program.absorbed)
    assert absorbed_kinds == ["parallel_for", "parallel_for", "scan", "scatter"]  # the map; the filter's parts
    assert set(program.absorbed.values()) <= set(program.plan.kernels)
    assert program.call("summed", (10,)) == run_graph(program.graph, "summed", 10)


# -- caching -------------------------------------------------------------------------------------------------
CACHED = """
let f (xs: float[]) (k: float) : float = xs |> Array.map (fun x -> x * k) |> Array.sum
"""


def test_a_second_run_does_not_compile_again():
    llvm.clear_cache()
    before = dict(llvm.STATISTICS)
    xs = np.arange(5.0)
    assert llvm.run(CACHED, "f", xs, 2.0) == 20.0
    assert llvm.run(CACHED, "f", xs, 3.0) == 30.0
    # Comments and layout move every span but change nothing compiled: the structural hash is the same.
    assert llvm.run("// a comment\n\n" + CACHED.replace("(fun x", "( fun x"), "f", xs, 1.0) == 10.0
    assert llvm.STATISTICS["compiles"] - before.get("compiles", 0) == 1
    assert llvm.STATISTICS["cache hits"] - before.get("cache hits", 0) == 2
    llvm.run(CACHED.replace("x * k", "x + k"), "f", xs, 1.0)
    llvm.run(CACHED, "f", xs, 1.0, parallel=False)
    assert llvm.STATISTICS["compiles"] - before.get("compiles", 0) == 3


def test_a_cached_module_reports_faults_at_the_nodes_of_the_graph_that_ran():
    source = "let g (xs: int[]) (d: int) : int[] = Array.map (fun x -> x / d) xs\n"
    xs = np.arange(4, dtype=np.int32)
    first = failure(lambda: llvm.run(source, "g", xs, 0, filename="a.clef"))
    moved = failure(lambda: llvm.run("\n\n" + source, "g", xs, 0, filename="a.clef"))
    assert moved == (first[0] + 2, first[1], first[2])


# -- fusion --------------------------------------------------------------------------------------------------
CHAIN = """
let chain (xs: float[]) : float =
    xs
    |> Array.map (fun x -> x * 2.0 + 1.0)
    |> Array.map (fun x -> x * x)
    |> Array.map (fun x -> x - 3.0)
    |> Array.sum

let maps (xs: float[]) : float[] =
    xs |> Array.map (fun x -> x + 1.0) |> Array.map (fun x -> x * x) |> Array.map sqrt
"""


def emitted(program: llvm.NativeProgram, name: str) -> str:
    """The IR of one native function as emitted (before optimization)."""
    names = {n: i for i, n in enumerate(program.graph.nodes) if n is not None}
    module = ModuleEmitter(program.plan, names, [name], [], [name], {}, {}).module
    text = str(module)
    start = text.index(f'@"fn.{name}"(')
    return text[text.rindex("define", 0, start):text.index("\n}", start)]


def test_a_map_chain_into_a_sum_is_one_loop_with_no_intermediate_array():
    program = llvm.NativeProgram(CHAIN, options=llvm.Options(parallel=False), filename="chain.clef")
    table = program.graph.annotation(FUSED)
    kinds = sorted(dict(fact)["consumer"] for fact in table.values())
    assert kinds == ["parallel_for", "parallel_for", "parallel_for", "parallel_for", "reduce"]
    ir_chain = emitted(program, "chain")
    assert len(re.findall(r'^"?loop(\.\d+)?"?:', ir_chain, re.M)) == 1
    assert "np.alloc" not in ir_chain
    assert emitted(program, "maps").count('@"np.alloc"(') == 1  # the result only
    optimized = program.ir("chain").splitlines()
    assert not [line for line in optimized if "call" in line and ("malloc" in line or "np.alloc" in line)]
    xs = np.linspace(-3, 3, 101)
    assert program.call("chain", (xs,)) == run_graph(program.graph, "chain", xs)
    assert same(program.call("maps", (xs,)), run_graph(program.graph, "maps", xs))


def test_the_fused_table_says_what_the_memory_axis_saves():
    program = llvm.NativeProgram(CHAIN, filename="chain.clef")
    for producer, fact in program.graph.annotation(FUSED).items():
        fact = dict(fact)
        assert program.graph.node(producer).kind == "parallel_for"
        assert program.graph.node(fact["into"]).kind == fact["consumer"]
        assert (fact["element"], fact["bytes_per_element"], fact["origin"]) == ("float", 8, "Array.map")


FILTERS = """
let dataset (data: float[]) : float =
    data |> Array.map (fun x -> x * 0.5) |> Array.filter (fun x -> x > 0.25) |> Array.reduce (+)
let evens (xs: int[]) : int = xs |> Array.filter (fun x -> x % 2 = 0) |> Array.sum
"""


def test_a_filter_into_a_reduce_makes_no_flags_positions_or_compacted_array():
    program = llvm.NativeProgram(FILTERS, options=llvm.Options(parallel=False), filename="filters.clef")
    table = program.graph.annotation(FUSED)
    declaration = program.plan.functions["dataset"].node_id
    fused_kinds = sorted(program.graph.node(p).kind for p in table
                         if program.plan.facts.declaration_of(p) == declaration)
    assert fused_kinds == ["parallel_for", "parallel_for", "scan", "scatter"]  # map, flags, positions, compaction
    assert {dict(f)["consumer"] for f in table.values()} == {"reduce"}
    assert "np.alloc" not in emitted(program, "dataset")
    for data in (np.linspace(0, 1, 101), np.zeros(0), np.full(5, 0.1)):
        expected = outcome_of(lambda: run_graph(program.graph, "dataset", data))
        assert outcome_of(lambda: program.call("dataset", (data,))) == expected
    ints = np.arange(-50, 51, dtype=np.int32)
    assert program.call("evens", (ints,)) == run_graph(program.graph, "evens", ints)


def outcome_of(run):
    try:
        return run()
    except DiagnosticError as error:
        return str(error.diagnostics[0])


def test_fusion_keeps_the_first_fault_when_producer_and_consumer_both_may_fault():
    source = """
let f (xs: int[]) (d: int) (e: int) : int[] =
    xs |> Array.map (fun x -> x / d) |> Array.map (fun y -> 100 % (y - e))
"""
    program = llvm.NativeProgram(source, filename="f.clef")
    assert not program.graph.annotation(FUSED)  # both regions may fault: the producer stays materialized
    xs = np.arange(6, dtype=np.int32)
    assert failure(lambda: program.call("f", (xs, 0, 0))) == failure(lambda: run_graph(program.graph, "f", xs, 0, 0))
    assert failure(lambda: program.call("f", (xs, 1, 3))) == failure(lambda: run_graph(program.graph, "f", xs, 1, 3))



def test_a_fused_inits_negative_count_is_reported_before_its_reducers_empty_check():
    source = """
let f (xs: float[]) (n: int) : int[] =
    xs |> Array.map (fun x -> Array.reduce max (Array.init n (fun i -> i)))
"""
    program = llvm.NativeProgram(source, filename="f.clef")
    xs = np.zeros(1)
    expected = failure(lambda: run_graph(program.graph, "f", xs, -1))
    assert "'Array.init' of a negative count -1" in expected[2]
    assert failure(lambda: program.call("f", (xs, -1))) == expected


def test_a_kernel_reads_the_count_of_a_producer_fused_into_it():
    source = """
let f (n: int) : uint8[] =
    let host = List.length [n; n]  // a list keeps f on the host; the map below is a kernel
    Array.map (fun x -> uint8 host) (Array.init 1 (fun j -> 0))
"""
    program = llvm.NativeProgram(source, filename="f.clef")
    assert "f" not in program.plan.functions and program.plan.kernels
    assert same(program.call("f", (0,)), run_graph(program.graph, "f", 0))


# -- cores ---------------------------------------------------------------------------------------------------
def test_a_parallel_run_gives_the_serial_and_interpreted_result():
    source = KERNELS.read_text()
    serial = llvm.NativeProgram(source, options=llvm.Options(workers=1), filename="k.clef")
    split = llvm.NativeProgram(source, options=llvm.Options(workers=2, threshold=0), filename="k.clef")
    runs = {"monteCarlo": (100.0, 300), "heavy": (np.linspace(-9, 9, 5001),), "stencil": (np.random.rand(40, 50),),
            "timeseries": (np.sin(np.arange(700) / 7.0),), "matmul": (np.random.rand(30, 20), np.random.rand(20, 10))}
    for entry, args in runs.items():
        before = llvm.STATISTICS["parallel dispatches"]
        got = split.call(entry, args)
        assert llvm.STATISTICS["parallel dispatches"] > before, entry
        assert same(got, serial.call(entry, args)), entry
        assert same(got, run_graph(split.graph, entry, *args)), entry


def test_the_pool_is_used_above_the_threshold_only():
    source = "let f (xs: float[]) : float[] = Array.map (fun x -> sin x + cos x) xs\n"
    xs = np.linspace(0, 1, 200_000)
    chunks = llvm.STATISTICS["parallel chunks"]
    dispatches = llvm.STATISTICS["parallel dispatches"]
    llvm.run(source, "f", xs[:10], workers=2)
    assert llvm.STATISTICS["parallel dispatches"] == dispatches  # 10 elements: not worth a dispatch
    got = llvm.run(source, "f", xs, workers=2)
    assert llvm.STATISTICS["parallel dispatches"] == dispatches + 1
    assert llvm.STATISTICS["parallel chunks"] - chunks == len(chunk_ranges(len(xs), 3, 2)) > 1
    assert same(got, np.sin(xs) + np.cos(xs))


def test_grains_cover_the_range_in_order_and_grow_with_cheap_bodies():
    for n, cost, workers in [(1, 1, 2), (10, 1000, 2), (10**6, 1, 2), (10**6, 500, 8), (10**7, 3, 64)]:
        chunks = chunk_ranges(n, cost, workers)
        assert chunks[0][0] == 0 and chunks[-1][1] == n and all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
        assert len(chunks) <= 256
    assert len(chunk_ranges(40_000, 1, 2)) < len(chunk_ranges(40_000, 1000, 2))  # cheap bodies: bigger grains


def test_reductions_split_across_cores_only_where_reassociation_is_allowed():
    source = """
let ints (xs: int[]) : int = Array.sum xs
let floats (xs: float[]) : float = Array.sum xs
"""
    program = llvm.NativeProgram(source, options=llvm.Options(workers=2, threshold=0), filename="r.clef")
    ints = np.arange(100_001, dtype=np.int32) * 7919
    floats = np.random.rand(100_001)
    before = llvm.STATISTICS["parallel dispatches"]
    assert program.call("ints", (ints,)) == run_graph(program.graph, "ints", ints)  # wraps exactly
    assert llvm.STATISTICS["parallel dispatches"] == before + 1
    assert program.call("floats", (floats,)) == run_graph(program.graph, "floats", floats)  # in order, bit for bit
    assert llvm.STATISTICS["parallel dispatches"] == before + 1
    for few in (np.zeros(0, dtype=np.int32), np.array([7], dtype=np.int32)):  # nothing to split: no dispatch
        assert program.call("ints", (few,)) == run_graph(program.graph, "ints", few)
    assert llvm.STATISTICS["parallel dispatches"] == before + 1


def test_a_fault_in_a_parallel_map_is_the_first_the_sequential_loop_meets():
    source = "let f (xs: float[]) (at: int[]) : float[] = Array.map (fun i -> xs.[i]) at\n"
    xs = np.arange(10.0)
    at = np.zeros(200_000, dtype=np.int32)
    at[150_000], at[199_999] = 12, 77  # faults in two chunks; the earlier index is the one reported
    program = llvm.NativeProgram(source, options=llvm.Options(workers=2, threshold=0), filename="p.clef")
    expected = failure(lambda: run_graph(program.graph, "f", xs, at))
    assert failure(lambda: program.call("f", (xs, at))) == expected
    assert "index 12 " in expected[2]


# -- faults --------------------------------------------------------------------------------------------------
FAULTS = """
let divide (xs: int[]) (d: int) : int[] = Array.map (fun x -> x / d) xs
let overflow (x: int64) : int64 = x / (-1L)
let element (xs: float[]) (k: int) : float = xs.[k]
let cell (m: float[,]) (i: int) (j: int) : float = m.[i, j]
let count (n: int) : int[] = Array.zeroCreate n
let built (n: int) : float[] = Array.init n (fun i -> float i)
let first (xs: float[]) : float = Array.reduce max xs
let magnitude (x: int) : int = abs x
let windows (w: int) (xs: float[]) : float[] = xs |> Array.windowed w |> Array.map Array.sum
"""


@pytest.mark.parametrize("entry,args", [
    ("divide", (np.arange(4, dtype=np.int32), 0)), ("overflow", (-(1 << 63),)),
    ("element", (np.arange(3.0), 3)), ("element", (np.arange(3.0), -1)),
    ("cell", (np.ones((2, 3)), 1, 3)), ("cell", (np.ones((2, 3)), 2, 0)),
    ("count", (-2,)), ("built", (-1,)), ("first", (np.zeros(0),)), ("magnitude", (-(1 << 31),)),
    ("windows", (0, np.arange(5.0))),
])
def test_faults_are_the_interpreters_located_diagnostics(entry, args):
    program = llvm.NativeProgram(FAULTS, filename="faults.clef")
    assert entry in program.plan.functions
    assert failure(lambda: program.call(entry, args)) == failure(lambda: run_graph(program.graph, entry, *args))


def test_a_runtime_fault_renders_with_the_source_line(tmp_path):
    path = tmp_path / "div.clef"
    path.write_text("let f (a: int) (b: int) : int =\n    a / b\n")
    with pytest.raises(DiagnosticError) as caught:
        llvm.run(path.read_text(), "f", 1, 0, filename=str(path))
    rendered = caught.value.diagnostics[0].render()
    assert "integer division by zero" in rendered and "a / b" in rendered and "^" in rendered


# -- externs -------------------------------------------------------------------------------------------------
EXTERNS = """
[<Pure>]
extern shape : float -> float
[<Pure>]
extern cosine : float -> float

let f (xs: float[]) : float[] = Array.map (fun x -> shape x + cosine x) xs
"""


def test_externs_bind_to_python_callables_and_to_native_symbols():
    calls = []

    def shape(x):
        calls.append(x)
        return x * 0.5

    xs = np.linspace(0, 1, 7)
    expected = xs * 0.5 + np.cos(xs)
    for cosine in (llvm.NativeSymbol("cos", "libm.so.6"), ctypes.CDLL("libm.so.6").cos):
        program = llvm.NativeProgram(EXTERNS, {"shape": shape, "cosine": cosine}, filename="e.clef")
        assert same(program.call("f", (xs,)), expected)
    assert len(calls) == 2 * len(xs)  # each element crosses into Python once per run
    interpreted = run_graph(program.graph, "f", xs, externs={"shape": shape, "cosine": math.cos})
    assert same(program.call("f", (xs,)), interpreted)


def test_an_extern_that_raises_is_reported_at_the_call_as_the_interpreter_does():
    def shape(x):
        raise ValueError("bad sample")

    bindings = {"shape": shape, "cosine": math.cos}
    program = llvm.NativeProgram(EXTERNS, bindings, filename="e.clef")
    xs = np.ones(3)
    assert failure(lambda: program.call("f", (xs,))) == failure(
        lambda: run_graph(program.graph, "f", xs, externs=bindings))


def test_an_extern_without_a_binding_is_a_diagnostic():
    program = llvm.NativeProgram(EXTERNS, {"cosine": math.cos}, filename="e.clef")
    assert "no binding" in failure(lambda: program.call("f", (np.ones(2),)))[2]


# -- values across the boundary ------------------------------------------------------------------------------
def test_scalar_classes_records_and_tuples_cross_as_the_interpreter_makes_them():
    source = """
type P = { X: float32; N: uint8; On: bool }
let f (p: P) (k: int64) : P * int64 = ({ p with N = p.N + 250uy; X = p.X * 0.5f }, k * 3L)
"""
    got = llvm.run(source, "f", {"X": 1.5, "N": 10, "On": True}, 1 << 40)
    record, k = got
    assert isinstance(record, Record) and type(record.X) is Float32 and type(record.N) is UInt8
    assert record == {"X": 0.75, "N": 4, "On": True} and type(k) is Int64 and k == 3 << 40


def test_arrays_are_shared_in_place_and_results_outlive_the_program():
    source = """
let fill (a: float[]) (v: float) : float[] =
    for i in 0 .. Array.length a - 1 do
        a.[i] <- v
    a
let fresh (n: int) : float[] = Array.init n (fun i -> float i)
"""
    a = np.zeros(4)
    program = llvm.NativeProgram(source, filename="a.clef")
    assert program.call("fill", (a, 2.5)) is a and a.tolist() == [2.5] * 4  # stores reach the caller's array
    out = program.call("fresh", (1000,))
    del program
    gc.collect()
    assert out.sum() == 999 * 1000 / 2


# -- interface -----------------------------------------------------------------------------------------------
def test_nanopass_jit_returns_a_python_callable():
    f = nanopass.jit((EXAMPLES / "montecarlo.clef").read_text(), "monteCarlo")
    assert callable(f) and f(100.0, 20) == nanopass.run((EXAMPLES / "montecarlo.clef").read_text(), "monteCarlo",
                                                        100.0, 20)
    assert "define" in f.ir and "<jit monteCarlo (native)>" == repr(f)
    with pytest.raises(DiagnosticError):
        nanopass.jit(CACHED, "missing")


def test_functions_are_emitted_in_the_zipper_walks_order():
    program = llvm.NativeProgram(KERNELS.read_text(), filename="k.clef")
    declared = [n.attr("name") for _, n in program.graph.top_level() if n.attr("name") in program.plan.functions]
    constants = {name: program.machine.symbol(name, UNKNOWN_SPAN) for name in program.plan.globals}
    emitter = ModuleEmitter(program.plan, {}, list(program.plan.functions), [], [], {}, constants)
    assert emitter.order["functions"] == declared


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nanopass", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_run_with_the_llvm_backend_prints_what_the_interpreter_prints():
    args = ["run", "examples/timeseries.clef", "--entry", "analyzeTimeSeries", "--args", f"[{list(range(120))}]"]
    native, interpreted = cli(*args, "--backend", "llvm"), cli(*args)
    assert native.returncode == 0 and native.stdout == interpreted.stdout


def test_cli_compile_writes_the_optimized_ir(tmp_path):
    out = tmp_path / "maps.ll"
    source = tmp_path / "chain.clef"
    source.write_text(CHAIN)
    done = cli("compile", str(source), "--target", "llvm", "--entry", "maps", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert 'define void @"entry.maps"' in text or "define void @entry.maps" in text
    assert re.search(r"<\d+ x double>", text)  # vectorized for the host
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.clef", "maps.ll"]  # no temporary file left
    missing = cli("compile", str(source), "--entry", "nope", "-o", str(out))
    assert missing.returncode == 1 and "no top-level 'nope'" in missing.stderr

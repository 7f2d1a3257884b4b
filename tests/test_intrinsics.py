"""Every intrinsic of Clef, run by the reference interpreter from source."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanopass import DiagnosticError
from nanopass.frontend import parse
from nanopass.frontend.intrinsics import INTRINSIC_NAMES
from nanopass.interp.intrinsics import INTRINSICS
from nanopass.interp.values import Float32, Int64, UInt8
from nanopass.interpreter import run_graph

# (intrinsic, F# body of ``f`` over its parameters, arguments, expected result)
CASES = [
    ("Array.map", "(xs: int[]) = Array.map (fun x -> x * 2) xs", ([1, 2, 3],), [2, 4, 6]),
    ("Array.mapi", "(xs: int[]) = Array.mapi (fun i x -> i * x) xs", ([5, 6, 7],), [0, 6, 14]),
    ("Array.map2", "(xs: int[]) (ys: int[]) = Array.map2 (fun a b -> a - b) xs ys", ([5, 6], [1, 2]), [4, 4]),
    ("Array.filter", "(xs: int[]) = Array.filter (fun x -> x % 2 = 0) xs", ([1, 2, 3, 4],), [2, 4]),
    ("Array.reduce", "(xs: int[]) = Array.reduce (fun a b -> a * 10 + b) xs", ([1, 2, 3],), 123),
    ("Array.fold", "(xs: int[]) = Array.fold (fun acc x -> acc - x) 100 xs", ([1, 2, 3],), 94),
    ("Array.sum", "(xs: float[]) = Array.sum xs", ([0.5, 0.25],), 0.75),
    ("Array.init", "(n: int) = Array.init n (fun i -> i * i)", (4,), [0, 1, 4, 9]),
    ("Array.zeroCreate", "(n: int) : float[] = Array.zeroCreate n", (3,), [0.0, 0.0, 0.0]),
    ("Array.length", "(xs: float[]) = Array.length xs", ([1.0, 2.0],), 2),
    ("Array.copy", "(xs: int[]) = let c = Array.copy xs in c.[0] <- 9; (c, xs)", ([1, 2],), ([9, 2], [1, 2])),
    ("Array.windowed", "(xs: int[]) = Array.windowed 2 xs", ([1, 2, 3],), [[1, 2], [2, 3]]),
    ("Array.zip", "(xs: int[]) (ys: bool[]) = Array.zip xs ys", ([1, 2], [True, False]), [(1, True), (2, False)]),
    ("Array.Parallel.map", "(xs: float[]) = Array.Parallel.map (fun x -> x + 1.0) xs", ([1.0],), [2.0]),
    ("Array2D.init", "(n: int) = Array2D.init n 2 (fun i j -> i * 10 + j)", (2,), [[0, 1], [10, 11]]),
    ("Array2D.zeroCreate", "(n: int) : int[,] = Array2D.zeroCreate n 3", (2,), [[0, 0, 0], [0, 0, 0]]),
    ("Array2D.length1", "(m: float[,]) = Array2D.length1 m", ([[1.0, 2.0, 3.0]],), 1),
    ("Array2D.length2", "(m: float[,]) = Array2D.length2 m", ([[1.0, 2.0, 3.0]],), 3),
    ("List.map", "(n: int) = List.map (fun x -> x + n) [1; 2]", (10,), [11, 12]),
    ("List.filter", "(n: int) = List.filter (fun x -> x > n) [1; 5; 2; 7]", (2,), [5, 7]),
    ("List.fold", "(n: int) = List.fold (fun acc x -> acc * x) n [2; 3]", (1,), 6),
    ("List.collect", "(n: int) = List.collect (fun x -> [x; x * n]) [1; 2]", (10,), [1, 10, 2, 20]),
    ("List.distinct", "(n: int) = List.distinct [3; n; 3; 1; n]", (1,), [3, 1]),
    ("List.isEmpty", "(n: int) = (List.isEmpty [], List.isEmpty [n])", (1,), (True, False)),
    ("List.length", "(n: int) = List.length [n; n; n]", (0,), 3),
    ("List.rev", "(n: int) = List.rev [1; 2; n]", (3,), [3, 2, 1]),
    ("fst", "(n: int) = fst (n, \"x\")", (4,), 4),
    ("snd", "(n: int) = snd (n, \"x\")", (4,), "x"),
    ("Map.empty", "(n: int) : Map<int, string> = Map.empty", (0,), {}),
    ("Map.add", "(n: int) = Map.empty |> Map.add n \"a\" |> Map.add 1 \"b\"", (2,), {1: "b", 2: "a"}),
    ("Map.find", "(n: int) = Map.find n (Map.add n 7 Map.empty)", (3,), 7),
    ("Map.tryFind", "(n: int) = (Map.tryFind n (Map.add 1 7 Map.empty), Map.tryFind 1 (Map.add 1 7 Map.empty))",
     (3,), (None, 7)),
    ("Map.merge", "(n: int) = Map.merge [(1, \"new\"); (2, \"b\"); (2, \"c\")] (Map.add 1 \"old\" Map.empty)", (0,),
     {1: "new", 2: "c"}),
    ("Seq.windowed", "(xs: float[]) = Seq.windowed 3 xs |> Array.length", ([1.0, 2.0, 3.0, 4.0],), 2),
    ("Seq.map", "(xs: int[]) = Seq.map (fun x -> -x) xs", ([1, 2],), [-1, -2]),
    ("Seq.sum", "(xs: int[]) = Seq.sum xs", ([2147483647, 1],), -2147483648),
    ("sqrt", "(x: float) = sqrt x", (2.25,), 1.5),
    ("exp", "(x: float) = exp x", (0.0,), 1.0),
    ("log", "(x: float) = log x", (1.0,), 0.0),
    ("sin", "(x: float) = sin x", (0.0,), 0.0),
    ("cos", "(x: float) = cos x", (0.0,), 1.0),
    ("abs", "(x: int) = abs x", (-5,), 5),
    ("min", "(x: int) = min x 3", (5,), 3),
    ("max", "(x: float) = max x 3.0", (5.0,), 5.0),
    ("floor", "(x: float) = floor x", (-1.5,), -2.0),
    ("float", "(x: int) = float x / 2.0", (3,), 1.5),
    ("float32", "(x: float) = float32 x", (0.1,), float(np.float32(0.1))),
    ("int", "(x: float) = int x", (-3.9,), -3),
    ("int64", "(x: int) = int64 x * 4294967296L", (3,), 3 * 4294967296),
    ("uint8", "(x: int) = uint8 x", (300,), 44),
]


def plain(value):
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.dtype != object else [plain(v) for v in value]
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def test_every_intrinsic_has_an_implementation_and_a_case():
    assert set(INTRINSICS) == set(INTRINSIC_NAMES)
    assert {name for name, *_ in CASES} == set(INTRINSIC_NAMES)


@pytest.mark.parametrize("name, body, args, expected", CASES, ids=[c[0] for c in CASES])
def test_intrinsic(name, body, args, expected):
    graph = parse(f"let f {body}\n", "intrinsic.clef")
    assert plain(run_graph(graph, "f", *args)) == expected


def run(source: str, *args):
    return run_graph(parse(source, "intrinsic.clef"), "f", *args)


def test_results_keep_the_element_type():
    assert run("let f (xs: float32[]) = Array.map (fun x -> x * 2.0f) xs\n", [1.5]).dtype == np.float32
    assert type(run("let f (xs: int64[]) = Array.sum xs\n", [1, 2])) is Int64
    assert type(run("let f (xs: uint8[]) = Array.sum xs\n", [200, 100])) is UInt8
    assert run("let f (xs: uint8[]) = Array.sum xs\n", [200, 100]) == 44
    assert type(run("let f (x: float32) = sqrt x\n", 2.0)) is Float32
    assert run("let f (n: int) : bool[] = Array.zeroCreate n\n", 2).dtype == np.bool_


def test_an_empty_map_result_still_has_the_declared_dtype():
    assert run("let f (xs: int[]) = Array.map (fun x -> x + 1) xs\n", []).dtype == np.int32


def test_windowed_returns_an_array_of_arrays_that_are_copies():
    windows = run("let f (xs: float[]) = Array.windowed 2 xs\n", [1.0, 2.0, 3.0])
    assert windows.dtype == object and all(isinstance(w, np.ndarray) for w in windows)
    assert run("let f (xs: float[]) = Array.windowed 5 xs\n", [1.0, 2.0]).shape == (0,)


def test_sum_is_a_sequential_left_fold():
    values = [1e16, 1.0, -1e16, 1.0]
    assert run("let f (xs: float[]) = Array.sum xs\n", values) == ((1e16 + 1.0) - 1e16) + 1.0


@pytest.mark.parametrize("source, args, message", [
    ("let f (xs: int[]) = Array.reduce (+) xs\n", ([],), "empty array"),
    ("let f (n: int) = Map.find n (Map.add 1 2 Map.empty)\n", (5,), "not in the map"),
    ("let f (n: int) = Array.init n (fun i -> i)\n", (-1,), "negative count"),
    ("let f (xs: int[]) (ys: int[]) = Array.map2 (+) xs ys\n", ([1], [1, 2]), "equal lengths"),
    ("let f (xs: int[]) = Array.windowed 0 xs\n", ([1],), "size of 1 or more"),
    ("let f (x: int) = abs x\n", (-2147483648,), "overflow"),
])
def test_failing_intrinsics_are_located_diagnostics(source, args, message):
    with pytest.raises(DiagnosticError) as caught:
        run(source, *args)
    (diagnostic,) = caught.value.diagnostics
    assert message in diagnostic.message
    assert diagnostic.span.file == "intrinsic.clef" and diagnostic.span.line == 1 and diagnostic.span.col > 1


def test_math_edge_cases_follow_ieee():
    assert math.isnan(run("let f (x: float) = sqrt x\n", -1.0))
    assert run("let f (x: float) = log x\n", 0.0) == -math.inf
    assert run("let f (x: float) = exp x\n", 1000.0) == math.inf
    assert math.isnan(run("let f (x: float) = min x 1.0\n", math.nan))
    assert run("let f (x: float) = int x\n", math.nan) == -2147483648
    assert run("let f (x: float) = uint8 x\n", -1.0) == 255

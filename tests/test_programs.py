"""Tests of `nanopass.testing.programs`: generated programs parse, check and run, keep their
results through the default pipeline, honour the features option, and shrink.

The bulk check runs 10^4 small programs (20 chunks of 500 seeds, so that pytest-xdist spreads
them); ``tests/fuzz/fuzz_programs.py`` runs 10^5 of the default size.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from nanopass.diagnostics import DiagnosticError
from nanopass.driver import default_pipeline, to_python
from nanopass.frontend import parse
from nanopass.frontend import types as T
from nanopass.interpreter import run_graph
from nanopass.pipeline import Pipeline
from nanopass.testing.programs import (
    DEFAULT_FEATURES, EXTRA_FEATURES, FEATURES, INT64_MAX, INT64_MIN, INT_MAX, INT_MIN, VALIDATION, ExternFunction,
    GeneratedProgram, arguments, generated_module, generated_program, programs, random_arguments, same_value)

SMALL = {"max_depth": 2, "max_functions": 2, "max_statements": 2}
BULK_CHUNKS, BULK_CHUNK = 20, 500
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE = default_pipeline()


def run(program: GeneratedProgram, graph=None, args: tuple | None = None):
    graph = graph if graph is not None else parse(program.source, "generated.clef")
    value = run_graph(graph, program.entry, *(program.args if args is None else args), externs=program.externs)
    return to_python(value)


def failure(seed: int, program: GeneratedProgram, error: Exception) -> str:
    return f"seed {seed}: {type(error).__name__}: {error}\n--- source\n{program.source}\n--- args {program.args!r}"


# -- every program parses, checks and runs ------------------------------------------------------
@pytest.mark.parametrize("chunk", range(BULK_CHUNKS))
def test_bulk_small_programs_parse_check_and_run(chunk):
    failures = []
    for seed in range(chunk * BULK_CHUNK, (chunk + 1) * BULK_CHUNK):
        program = generated_program(seed, **SMALL)
        try:
            run(program)
        except DiagnosticError as error:
            failures.append(failure(seed, program, error))
    assert not failures, failures[0]


@SETTINGS
@given(programs())
def test_hypothesis_programs_parse_check_and_run(program):
    run(program)


@SETTINGS
@given(programs(features=FEATURES), st.data())
def test_programs_run_on_any_arguments_of_their_types(program, data):
    """The guards hold for every value, not only the drawn ones (recursion included)."""
    graph = parse(program.source)
    for _ in range(3):
        run(program, graph, data.draw(arguments(program)))


def test_seeded_programs_run_on_other_arguments():
    for seed in range(200):
        program = generated_program(seed, **SMALL)
        graph = parse(program.source)
        for k in range(3):
            run(program, graph, random_arguments(program, seed * 10 + k))


# -- the default pipeline keeps every result (Essentials-of-Compilation style) -------------------
@pytest.mark.parametrize("chunk", range(10))
def test_pipeline_output_computes_what_the_source_does(chunk):
    for seed in range(chunk * 50, (chunk + 1) * 50):
        program = generated_program(10 ** 6 + seed)
        graph = parse(program.source)
        lowered = PIPELINE.run(graph).graph
        expected, got = run(program, graph), run(program, lowered)
        assert same_value(expected, got), f"seed {10 ** 6 + seed}: {expected!r} != {got!r}\n{program.source}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(features=FEATURES))
def test_pipeline_keeps_results_of_hypothesis_programs(program):
    graph = parse(program.source)
    assert same_value(run(program, graph), run(program, PIPELINE.run(graph).graph))


# -- what the features option lets in ---------------------------------------------------------------
COMPARISON_OPS = {"=", "<>", "<", "<=", ">", ">=", "not"}
MATH = {"sqrt", "exp", "log", "sin", "cos", "floor", "abs", "min", "max"}
CONVERSIONS = {"float", "float32", "int", "int64", "uint8"}


def observed(program: GeneratedProgram) -> set[str]:
    """The features a program shows, read off its graph (and its text where the graph lowers them away)."""
    graph = parse(program.source)
    nodes = [node for _, node in graph.live_nodes()]
    kinds = {node.kind for node in nodes}
    refs = {node.attr("name") for node in nodes if node.kind == "ref"}
    functions = {node.attr("name") for node in nodes if node.kind == "func"}
    types = " ; ".join(T.show(t) for t in graph.annotation("types").values())
    source = program.source
    found = set()
    if "store" in kinds:
        found.add("stores")
    if {"for", "foreach"} & kinds:
        found.add("for")
    for kind in ("while", "match"):
        if kind in kinds:
            found.add(kind)
    if re.search(r"\bif\b", source):
        found.add("if")
    if re.search(r"^ +let (?!mutable)", source, re.M):
        found.add("let")
    if "let rec" in source:
        found.add("recursion")
    recursive = set(re.findall(r"let rec (\w+)", source))
    if refs & (functions - recursive - {program.entry}):
        found.add("calls")
    if "[]" in types:
        found.add("arrays")
    if "[,]" in types:
        found.add("array2d")
    if " * " in types:
        found.add("tuples")
    forms = {node.attr("form") for node in nodes if node.kind == "typedef"}
    found |= {name for form, name in (("record", "records"), ("union", "unions")) if form in forms}
    if " option" in types:
        found.add("options")
    if "extern" in kinds:
        found.add("externs")
    if refs & MATH:
        found.add("math")
    if refs & CONVERSIONS:
        found.add("conversions")
    if any(node.kind == "prim" and node.attr("op") in COMPARISON_OPS for node in nodes) or re.search(
            r"(?<![&|])(&&|\|\|)(?![&|])", source):  # not &&& or |||
        found.add("comparisons")
    found |= {t for t in ("int64", "uint8", "float", "float32") if re.search(rf"\b{t}\b", types)}
    signature = " ".join(program.param_types + (program.result_type,))
    found |= {t for t in ("int", "bool") if re.search(rf"\b{t}\b", signature)}
    return found


def test_every_feature_shows_up_with_all_of_them_on():
    seen: set[str] = set()
    for seed in range(120):
        seen |= observed(generated_program(seed, features=FEATURES, max_statements=4))
    assert seen == FEATURES


# A while loop's bound is a comparison, and recursion's base case an if on one, whatever the options say.
IMPLIED = {"while": {"comparisons"}, "recursion": {"comparisons", "if"}}
# What else must go for a feature to be absent.
ALSO_OFF = {"comparisons": {"while", "recursion"}, "if": {"recursion"}}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_a_feature_left_out_does_not_appear(feature):
    features = DEFAULT_FEATURES - {feature} - ALSO_OFF.get(feature, set())
    for seed in range(25):
        program = generated_program(seed, features=features, max_statements=4)
        assert feature not in observed(program), f"seed {seed}\n{program.source}"
        run(program)


@pytest.mark.parametrize("features", [
    {"int"}, {"float"}, {"uint8", "arrays"}, {"float32", "for", "while"}, {"int64", "match", "let", "options"},
    {"float", "bool", "if", "comparisons"}, {"int", "recursion"}, {"float", "array2d", "math", "conversions"},
    {"int", "unions", "match"}, {"float", "records", "let"}, {"int", "tuples", "match"}, {"float", "externs"},
])
def test_few_features_make_programs_of_those_alone(features):
    for seed in range(30):
        program = generated_program(seed, features=frozenset(features))
        allowed = features.union(*(IMPLIED.get(f, set()) for f in features))
        assert observed(program) <= allowed, f"seed {seed}\n{program.source}"
        run(program)


# -- the features for translation validation ----------------------------------------------------------
REDUCTION = re.compile(r"\(fun \(?(acc\d+)[^)]*?\)? \(?(x\d+)[^)]*?\)? -> (\1 \S+ \2|(min|max) \1 \2)\)")
DUPLICATES = re.compile(r"^ *let v\d+ = (.+)\n *let v\d+ = .+\n *let v\d+ = \1$", re.M)
MASKED = re.compile(r"(\.\. .* &&& 7 do$|^ *while .*&&& 3\)|Array\.init \(.* &&& 7\))", re.M)


def fails_at_run_time(program: GeneratedProgram) -> bool:
    try:
        run(program)
    except DiagnosticError:
        return True
    return False


def observed_extras(program: GeneratedProgram) -> set[str]:
    """The `EXTRA_FEATURES` a program shows, read off its graph, its text and a run."""
    graph = parse(program.source)
    types = " ; ".join(T.show(t) for t in graph.annotation("types").values())
    found = set()
    if " list" in types:
        found.add("lists")
    if re.search(r"^\[<Cost\(\d+\)>\]\nextern ", program.source, re.M):
        found.add("effects")
    patterns = {"reductions": REDUCTION, "duplicates": DUPLICATES, "masked": MASKED,
                "digest": re.compile(r"^ *let d\d+ = ", re.M)}
    found |= {feature for feature, pattern in patterns.items() if pattern.search(program.source)}
    if fails_at_run_time(program):
        found.add("unguarded")
    return found


def test_every_extra_feature_shows_up_in_validation_programs():
    seen: set[str] = set()
    for seed in range(40):
        seen |= observed_extras(generated_program(seed, features=VALIDATION))
    assert seen == EXTRA_FEATURES


# A lambda that is a bare operator also comes of chance (an accumulator combined with a leaf): no test.
@pytest.mark.parametrize("feature", sorted(EXTRA_FEATURES - {"reductions"}))
def test_an_extra_feature_left_out_does_not_appear(feature):
    for seed in range(25):
        program = generated_program(seed, features=VALIDATION - {feature}, max_statements=4)
        assert feature not in observed_extras(program), f"seed {seed}\n{program.source}"


def test_the_extras_but_unguarded_keep_every_run_free_of_errors():
    for seed in range(60):
        program = generated_program(seed, features=VALIDATION - {"unguarded"})
        graph = parse(program.source)
        for k in range(2):
            run(program, graph, random_arguments(program, seed * 10 + k))


def test_digests_leave_reachability_no_statement_to_prune():
    pipeline = Pipeline.parse("elaborate,reachability")
    for seed in range(40):
        source = generated_program(seed, features=VALIDATION).source
        elaborated = Pipeline.parse("elaborate").run(parse(source)).graph
        kept = pipeline.run(parse(source)).graph
        pruned = [node.kind for node_id, node in elaborated.live_nodes()
                  if kept.nodes[node_id] is None and node.kind not in ("extern", "typedef")]
        assert pruned == [], f"seed {seed}: {pruned}\n{source}"


@SETTINGS
@given(programs(features=VALIDATION))
def test_hypothesis_validation_programs_parse_and_check(program):
    parse(program.source)


def test_options_are_checked():
    with pytest.raises(ValueError, match="unknown features"):
        generated_program(0, features=frozenset({"int", "goto"}))
    with pytest.raises(ValueError, match="no numeric type"):
        generated_program(0, features=frozenset({"bool", "if"}))
    with pytest.raises(ValueError, match="at least 1"):
        generated_program(0, max_depth=0)


# -- the program's description ------------------------------------------------------------------
def test_the_same_seed_gives_the_same_program_and_others_differ():
    first = [generated_program(seed) for seed in range(20)]
    again = [generated_program(seed) for seed in range(20)]
    assert [(p.source, p.args) for p in first] == [(p.source, p.args) for p in again]
    assert len({p.source for p in first}) == 20


def test_parameter_types_sizes_and_arguments_agree():
    for seed in range(150):
        program = generated_program(seed, max_size=6, **SMALL)
        graph = parse(program.source)
        entry = next(i for i, node in graph.live_nodes() if node.kind == "func" and node.attr("name") == "main")
        shown = T.show(graph.annotation("types")[entry])
        assert shown == " -> ".join(program.param_types + (program.result_type,))
        assert len(program.args) == len(program.param_types) == len(program.param_names)
        for name, type_name, value in zip(program.param_names, program.param_types, program.args):
            if type_name.endswith("[,]"):
                assert 1 <= len(value) == program.sizes[name] <= max(6 // 4, 1)
                assert all(len(row) == len(value) for row in value)
            elif type_name.endswith("[]"):
                assert 1 <= len(value) == program.sizes[name] <= 6
            else:
                assert name not in program.sizes
            if type_name == "int":
                assert INT_MIN <= value <= INT_MAX
            if type_name == "int64":
                assert INT64_MIN <= value <= INT64_MAX
            if type_name == "uint8":
                assert 0 <= value <= 255


def test_extern_functions_are_pure_and_stay_in_their_types():
    ranges = {"int": (INT_MIN, INT_MAX), "int64": (INT64_MIN, INT64_MAX), "uint8": (0, 255)}
    extremes = {"int": [INT_MIN, INT_MAX, 0], "int64": [INT64_MIN, INT64_MAX], "uint8": [0, 255],
                "float": [float("nan"), float("inf"), -1e308, 2.5], "float32": [3.0e38, -0.5], "bool": [True, False]}
    for params in [("int", "float"), ("int64", "int64"), ("float32",), ("bool", "uint8"), ("float", "float")]:
        for result, (low, high) in ranges.items():
            fn = ExternFunction("e", params, result, (3, -2, 1)[: len(params)] + (7,))
            for first in extremes[params[0]]:
                for second in extremes[params[-1]]:
                    args = (first, second)[: len(params)]
                    value = fn(*args)
                    assert value == fn(*args) and isinstance(value, int) and low <= value <= high
    assert ExternFunction("e", ("int",), "bool", (1, 0))(1) is True
    assert isinstance(ExternFunction("e", ("int",), "float", (2, 0))(3), float)


def test_same_value_treats_nan_and_signed_zero_exactly():
    nan = float("nan")
    assert same_value([1.0, nan, {"a": (nan, 2)}], [1.0, nan, {"a": (nan, 2)}])
    assert not same_value(0.0, -0.0)
    assert not same_value([1, 2], [1, 2, 3])
    assert not same_value(1, 1.0) and not same_value(True, 1)
    assert not same_value({"a": 1}, {"b": 1})


# -- shrinking ----------------------------------------------------------------------------------
def smallest(construct: str, **options) -> GeneratedProgram:
    """The program hypothesis shrinks to among those whose text has ``construct``."""
    found = find(programs(**options), lambda p: construct in p.source,
                 settings=settings(max_examples=1000, deadline=None, database=None, derandomize=True))
    run(found)
    return found


def test_a_failure_shrinks_to_a_small_program():
    found = smallest("while", max_functions=1, max_statements=2, max_depth=2)
    lines = found.source.splitlines()
    # The entry, the counter, the loop and its step, the result: nothing else is left.
    assert len(lines) == 5 and lines[0].startswith("let main") and lines[2].lstrip().startswith("while"), \
        found.source


def test_a_module_of_programs_runs_each_as_it_runs_alone():
    source, parts = generated_module(500, 12, features=FEATURES)
    graph = parse(source, "module.clef")
    assert [p.entry for p in parts] == [f"main_{k}" for k in range(12)]
    for k, part in enumerate(parts):
        alone = generated_program(500 + k, features=FEATURES)
        assert part.args == alone.args
        # The same value, up to the suffix on the names of cases and fields.
        assert repr(run(part, graph)).replace(f"_{k}", "") == repr(run(alone))


# Programs the generator found the default pipeline changing, reduced by hand: baker expanded a
# sum inside a copied match arm from an int zero (uint8 sums came out int; float sums failed).
FOUND = {
    "uint8 sum in a match arm": ("""\
let main (p1: int) : uint8 =
    match p1 with
    | 4 -> 1uy
    | _ -> Array.sum (Array.map (fun (x: int64) -> 61uy) [| 1L; 2L |])
""", (1,)),
    "float sum in a union arm": ("""\
type U1 =
    | U1A of float * bool
    | U1B of float
    | U1C
let main (p1: int[]) : uint8 =
    let mutable m2 = max 200uy (if false then 213uy else 139uy)
    let v10 =
        match (if true then (U1A (10000000000.0, false)) else (U1B (-15.875))) with
        | U1A (b11, b12) ->
            Array.sum (Array.init 12 (fun j14 -> b11))
        | U1C ->
            let a20 : int[] = Array.zeroCreate (Array.length p1)
            for i21 in 0 .. (Array.length a20) - 1 do
                a20.[i21] <- i21
            1.0 + (-0.5)
    m2 - (m2 ^^^ ((min m2 96uy) <<< 1))
""", ([8, 2, 86],)),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_reduced_findings_keep_their_results(name):
    source, args = FOUND[name]
    graph = parse(source)
    expected = run_graph(graph, "main", *args)
    got = run_graph(PIPELINE.run(graph).graph, "main", *args)
    assert same_value(to_python(expected), to_python(got))  # uint8 stays uint8: same_value compares types

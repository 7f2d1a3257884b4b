"""The mutation harness (benchmarks/mutants.py) runs, kills a known mutant, and leaves the passes as they were."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from nanopass.frontend import parse
from nanopass.passes import cse

HARNESS = Path(__file__).resolve().parent.parent / "benchmarks" / "mutants.py"


@pytest.fixture(scope="module")
def mutants():
    spec = importlib.util.spec_from_file_location("mutants_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def by_name(mutants, name: str):
    return next(m for m in mutants.MUTANTS if m.name == name)


def test_there_are_at_least_25_mutants_across_the_passes_and_each_applies(mutants):
    assert len(mutants.MUTANTS) >= 25
    assert {m.module.rsplit(".", 1)[1] for m in mutants.MUTANTS} >= {
        "baker", "baker_sites", "cse", "reachability", "elaborate", "widths"}
    for mutant in mutants.MUTANTS:
        with mutant.applied():
            pass


def test_a_mutant_is_applied_inside_and_undone_after(mutants):
    original = cse.CommonSubexpressions.run
    with by_name(mutants, "cse-ignores-operator").applied():
        patched = cse.CommonSubexpressions.run
        assert patched is not original and 'a[0] != "op"' not in inspect.getsource(original)
    assert cse.CommonSubexpressions.run is original


def test_z3_kills_a_cse_that_merges_nodes_whatever_their_operator(mutants):
    graph = parse("let f (a: int) (b: int) : int =\n    let x = a + b\n    let y = a - b\n    x * y\n",
                  filename="mutant.clef")
    kill = mutants.run_mutant(by_name(mutants, "cse-ignores-operator"), [("mutant.clef", graph)])
    assert kill is not None and kill.check == "z3 counterexample" and "cse f counterexample" in kill.detail
    assert mutants.run_mutant(by_name(mutants, "cse-ignores-operator"), [("mutant.clef", parse(
        "let f (a: int) : int = a + 1\n", filename="clean.clef"))]) is None


def test_the_pass_obligations_and_the_verifier_are_named_when_they_kill(mutants):
    graph = parse("let f (a: int) (b: int) : int = if a > b then a - b else b * 2\n", filename="mutant.clef")
    kill = mutants.run_mutant(by_name(mutants, "reach-drops-results"), [("mutant.clef", graph)])
    assert kill is not None and kill.check in ("pass obligation", "language verifier")


# The eight mutants the corpus once let through, each with the smallest shape that reaches it and the check
# that must report it (the generator's VALIDATION_PROFILE makes these shapes; the programs pin them here).
FORMER_SURVIVORS = {
    "baker-minus-associative": ("reduce facts", """
        let f (xs: int[]) : int = Array.reduce (fun acc x -> acc - x) xs
        """),
    "baker-map2-swapped": ("z3 counterexample", """
        let f (xs: int[]) (ys: int[]) : int[] = Array.map2 (fun a b -> a - b * 2) xs ys
        """),
    "baker-guard-ignored": ("z3 counterexample", """
        let f (x: int option) : int =
            match x with
            | Some v when v > 3 -> v
            | Some v -> 0 - v
            | None -> 7
        """),
    "cse-merges-effects": ("z3 counterexample", """
        extern emit : int -> int
        let f (xs: int list) : int =
            let g = fun x -> emit x
            let a = List.length (List.map g xs)
            let b = List.length (List.map g xs)
            a + b
        """),
    "cse-signed-zeros": ("z3 counterexample", """
        let f (a: float) : bool =
            let p = a * 0.0
            let n = a * -0.0
            1.0 / n < 0.0 && p = 0.0
        """),
    "reach-drops-token": ("language verifier", """
        extern emit : int -> int
        let f (x: int) : int =
            let _ = emit x
            let _ = emit (x + 1)
            x
        """),
    "widths-floor-division": ("range facts", """
        let f (x: int) : int = ((x &&& 7) - 8) / 3
        """),
    "widths-conversion-keeps": ("range facts", """
        let f (x: int) : uint8 = uint8 ((x &&& 255) + 64)
        """),
}


@pytest.mark.parametrize("name", sorted(FORMER_SURVIVORS))
def test_each_former_survivor_is_killed_by_its_check(mutants, name):
    check, source = FORMER_SURVIVORS[name]
    graph = parse(inspect.cleandoc(source) + "\n", filename=f"{name}.clef")
    kill = mutants.run_mutant(by_name(mutants, name), [(name, graph)])
    assert kill is not None and kill.check == check, kill
    assert mutants.check_program(mutants.Pipeline.parse(mutants.PIPELINE), name, graph) is None

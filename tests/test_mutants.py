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

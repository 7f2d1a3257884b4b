"""Translation validation: refinement verdicts, replays, the fallback, the pipeline and CLI hooks, no false alarms."""

from __future__ import annotations

import textwrap
from pathlib import Path

import attrs
import pytest
import z3

from nanopass import Node, Pipeline, RewritePass, register
from nanopass.cli import main
from nanopass.driver import default_pipeline
from nanopass.frontend import parse
from nanopass.smt import Options, install, verdict_for
from nanopass.smt.refinement import solve
from nanopass.testing.programs import VALIDATION_PROFILE, generated_program
from nanopass.validation import SEMANTICS, VALIDATOR_RAISED, changed_functions, current_semantics

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def graph_of(source: str):
    return parse(textwrap.dedent(source), filename="validation.clef")


def check(before: str, after: str, name: str = "f", **options):
    return verdict_for("test", graph_of(before), graph_of(after), name, Options(**options))


# -- refinement ---------------------------------------------------------------------------------------------
def test_equivalent_rewrites_are_validated():
    verdict = check("let f (x: int) (y: int) : int = (x + y) * 2",
                    "let f (x: int) (y: int) : int = (y + x) <<< 1")
    assert verdict.status == "validated", verdict


def test_a_wrong_rewrite_is_a_counterexample_replayed_before_and_after():
    verdict = check("let f (x: int) (y: int) : int = x - y", "let f (x: int) (y: int) : int = y - x")
    assert verdict.status == "counterexample"
    assert verdict.detail.startswith("inputs (") and "before " in verdict.detail and "after " in verdict.detail
    inputs = verdict.detail[len("inputs ("):verdict.detail.index(")")].split(", ")
    x, y = int(inputs[0]), int(inputs[1])
    assert f"before {x - y}, after {y - x}" in verdict.detail and x != y


def test_a_new_failure_is_a_counterexample_and_a_removed_one_is_not():
    assert check("let f (x: int) : int = x", "let f (x: int) : int = 100 / (x - 7)").status == "counterexample"
    # A source that fails on an input allows anything there: the target is more defined.
    assert check("let f (x: int) : int = 100 / (x - 7)",
                 "let f (x: int) : int = if x = 7 then 0 else 100 / (x - 7)").status == "validated"


def test_any_nan_refines_any_nan_but_the_sign_of_zero_counts():
    assert check("let f (x: float) : float = 0.0 / 0.0", "let f (x: float) : float = sqrt (-1.0)").status == "validated"
    verdict = check("let f (x: float) : float = x + 0.0", "let f (x: float) : float = x")
    assert verdict.status == "counterexample" and "-0.0" in verdict.detail


def test_effects_in_another_order_are_a_counterexample():
    before = """
        extern emit : int -> int
        let f (x: int) : int =
            let a = emit x
            let b = emit (x + 1)
            a - b
        """
    after = """
        extern emit : int -> int
        let f (x: int) : int =
            let b = emit (x + 1)
            let a = emit x
            a - b
        """
    verdict = check(before, after)
    assert verdict.status == "counterexample" and "effects before" in verdict.detail
    assert check(before, before).status == "validated"


def test_pure_externs_are_uninterpreted_functions():
    before = "[<Pure>]\nextern g : int -> int\nlet f (x: int) : int = g x + g x"
    assert check(before, "[<Pure>]\nextern g : int -> int\nlet f (x: int) : int = 2 * g x").status == "validated"
    verdict = check(before, "[<Pure>]\nextern g : int -> int\nlet f (x: int) : int = g (x + 1) + g x")
    assert verdict.status == "counterexample"


def test_bounded_loops_say_their_bound():
    source = """
        let f (n: int) : int =
            let mutable a = 0
            let mutable i = 0
            while i < n do
                a <- a + 2
                i <- i + 1
            a
        """
    verdict = check(source, source.replace("a <- a + 2", "a <- a + 1 + 1"), loop_bound=5)
    assert verdict.status == "validated" and verdict.detail == "(loops unrolled to 5)"
    wrong = check(source, source.replace("a <- a + 2", "a <- a + 3"), loop_bound=5)
    assert wrong.status == "counterexample"


def test_a_timeout_is_never_validated_and_falls_back_to_testing():
    hard = [z3.FP("a", z3.Float64()) * z3.FP("b", z3.Float64()) == z3.FPVal(3.0, z3.Float64())]
    result, _, why = solve(hard, 1)
    assert result == z3.unknown and why
    verdict = check("let f (x: float) (y: float) : float = (x * y) * 2.0 - y",
                    "let f (x: float) (y: float) : float = ((x * y) + (x * y)) - y", timeout_ms=1, test_inputs=30)
    assert verdict.status == "tested", verdict
    assert verdict.detail.startswith("(30 inputs") and "z3: " in verdict.detail


def test_the_fallback_finds_what_z3_could_not_decide_in_time():
    verdict = check("let f (x: float) (y: float) : float = (x + y) - y", "let f (x: float) (y: float) : float = x",
                    timeout_ms=1)
    assert verdict.status == "counterexample" and "found by testing" in verdict.detail


def test_what_cannot_be_encoded_or_tested_is_unknown_with_the_reason():
    source = """
        let f (m: Map<string, int>) : int option = Map.tryFind "a" m
        """
    verdict = check(source, source)
    assert verdict.status == "unknown" and "cannot encode" in verdict.detail and "cannot test" in verdict.detail


def test_effect_tokens_that_do_not_thread_the_effects_are_counterexamples():
    graph = graph_of("extern emit : int -> int\nlet f (x: int) : int = emit x + emit x")
    before = Pipeline.parse("elaborate").run(graph).graph
    calls = [i for i, n in before.live_nodes() if n.kind == "call"]
    second = before.node(calls[1])
    broken = attrs.evolve(before, nodes=before.nodes.set(calls[1], attrs.evolve(second, effect=None)))
    verdict = verdict_for("test", graph, broken, "f", Options())
    assert verdict.status == "counterexample" and verdict.detail.startswith("effect tokens:")


def test_a_reduction_claiming_a_wrong_associativity_is_a_counterexample():
    graph = graph_of("let f (xs: int[]) : int = Array.fold (fun acc x -> acc - x) 0 xs")
    before = Pipeline.parse("elaborate").run(graph).graph
    after = Pipeline.parse("baker").run(before).graph
    (reduce_id,) = [i for i, n in after.live_nodes() if n.kind == "reduce"]
    assert verdict_for("baker", before, after, "f", Options()).status == "validated"
    wrong = after.node(reduce_id).with_attrs(associative=True)
    claimed = attrs.evolve(after, nodes=after.nodes.set(reduce_id, wrong))
    verdict = verdict_for("baker", before, claimed, "f", Options())
    assert verdict.status == "counterexample" and verdict.detail.startswith("reduce facts:") and "'-'" in verdict.detail


def test_the_timeout_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NANOPASS_Z3_TIMEOUT", "2.5")
    assert Options.from_environment().timeout_ms == 2500
    monkeypatch.delenv("NANOPASS_Z3_TIMEOUT")
    assert Options.from_environment().timeout_ms == 10_000


# -- the hook -------------------------------------------------------------------------------------------------
def test_validation_installs_the_z3_semantics_on_first_use():
    saved = list(SEMANTICS)
    SEMANTICS.clear()
    try:
        semantics = current_semantics()
        assert type(semantics).__name__ == "SmtSemantics" and SEMANTICS == [semantics]
    finally:
        SEMANTICS[:] = saved


def test_install_takes_options():
    saved = list(SEMANTICS)
    try:
        assert install(Options(timeout_ms=1234)).options.timeout_ms == 1234
        assert current_semantics().options.timeout_ms == 1234
    finally:
        SEMANTICS[:] = saved


@register
@attrs.frozen
class SwapSubtraction(RewritePass):
    """A miscompiling pass for these tests: a - b becomes b - a."""

    name = "test-swap-subtraction"
    input_language = None
    output_language = None

    def rewrite_prim(self, rw, node_id: int, node: Node):
        if node.attr("op") == "-" and len(node.operands) == 2:
            return attrs.evolve(node, operands=node.operands[::-1])
        return None


def test_the_pipeline_validates_each_pass_and_function_it_changed():
    graph = graph_of("let f (x: int) : int = x - 1\nlet g (y: int) : int = y * 2")
    result = Pipeline.parse("elaborate,test-swap-subtraction").run(graph, validate=True)
    by_pass = {(v.pass_name, v.function): v for v in result.verdicts}
    assert by_pass[("elaborate", "f")].status == "validated" and by_pass[("elaborate", "g")].status == "validated"
    assert by_pass[("test-swap-subtraction", "f")].status == "counterexample"
    assert ("test-swap-subtraction", "g") not in by_pass  # unchanged: nothing to validate
    assert changed_functions(graph, graph) == []


def test_a_validator_that_raises_gives_an_unknown_verdict_that_says_so():
    def broken(pass_name, before, after, function):
        raise IndexError("list index out of range")

    SEMANTICS.append(broken)
    try:
        result = Pipeline.parse("elaborate").run(graph_of("let f (x: int) : int = x - 1"), validate=True)
    finally:
        SEMANTICS.remove(broken)
    assert [(v.function, v.status, v.detail) for v in result.verdicts] == [
        ("f", "unknown", f"{VALIDATOR_RAISED} IndexError: list index out of range")]


def test_opt_validate_prints_one_line_per_pass_and_function_and_fails_on_a_counterexample(tmp_path, capsys):
    source = tmp_path / "sub.clef"
    source.write_text("let f (x: int) : int = x - 1\n")
    assert main(["opt", str(source), "-p", "elaborate", "--validate"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("elaborate ")]
    assert lines == ["elaborate f validated"]
    assert main(["opt", str(source), "-p", "elaborate,test-swap-subtraction", "--validate"]) == 1
    out = capsys.readouterr().out
    assert any(line.startswith("test-swap-subtraction f counterexample inputs (") for line in out.splitlines())


# -- no false alarms ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.clef")), ids=lambda p: p.stem)
def test_no_example_gets_a_counterexample_through_the_default_pipeline(path):
    graph = parse(path.read_bytes(), filename=str(path))
    result = default_pipeline().run(graph, validate=True)
    assert result.verdicts
    assert alarms(result.verdicts) == []


def alarms(verdicts) -> list[str]:
    """Counterexamples, and verdicts of a validator that raised."""
    return [str(v) for v in verdicts if v.status == "counterexample" or VALIDATOR_RAISED in v.detail]


def _generated_programs_validate(seeds: range) -> None:
    pipeline = default_pipeline()
    statuses = set()
    for seed in seeds:
        graph = parse(generated_program(seed, **VALIDATION_PROFILE).source, filename=f"generated{seed}.clef")
        result = pipeline.run(graph, validate=True)
        assert alarms(result.verdicts) == [], seed
        statuses |= {v.status for v in result.verdicts}
    assert "validated" in statuses


def test_fifty_generated_programs_get_no_counterexample():
    _generated_programs_validate(range(50))


def test_abstraction_inside_array_lambdas_keeps_its_terms_apart():
    # Float operators abstracted inside a map's lambda, once per unrolled iteration: z3 reused the ids of the
    # lambda's freed instantiated bodies, so a cached rewrite of one term answered for another (a sort mismatch).
    graph = graph_of("""
        let f (p: float) : float =
            let mutable acc = p
            for x in [| -0.0; 1.5; 1.5 |] do
                acc <- acc + Array.reduce (fun a b -> 3.0) (Array.map2 (fun y z -> y - z * 2.0 + x) [| |] [| |])
            acc
        """)
    verdicts = default_pipeline().run(graph, validate=True).verdicts
    assert {v.status for v in verdicts if v.function == "f"} == {"validated"}


@pytest.mark.slow
def test_five_hundred_generated_programs_get_no_counterexample():
    _generated_programs_validate(range(1000, 1500))

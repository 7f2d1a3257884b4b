"""Pipelines: text round trip, located spec errors, and instrumentation."""

import io
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanopass import Builder, DiagnosticError, PassContext, PassFailure, Pipeline, RewritePass, register
from nanopass.graph import Graph, Node
from nanopass.languages import Clef


@register
@attrs.frozen
class ScaleConstants(RewritePass):
    """Multiply every integer constant (a test pass)."""

    name = "test-scale"
    input_language = Clef
    output_language = Clef
    factor: int = 2
    label: str = "x"
    enabled: bool = True

    def rewrite_const(self, rw, node_id, node):
        if self.enabled and node.attr("type") == "int":
            return node.with_attrs(value=node.attr("value") * self.factor)
        return None


@register
@attrs.frozen
class BreakLanguage(RewritePass):
    """Turn constants into a kind no language has (a test pass)."""

    name = "test-break"
    input_language = Clef
    output_language = Clef

    def rewrite_const(self, rw, node_id, node):
        return attrs.evolve(node, kind="mystery")


@register
@attrs.frozen
class Crash(RewritePass):
    """Raise from inside a pass (a test pass)."""

    name = "test-crash"
    input_language = Clef
    output_language = Clef

    def rewrite_const(self, rw, node_id, node):
        raise RuntimeError("boom")


def program() -> Graph:
    b = Builder("p.clef")
    with b.region(params=["x"]) as body:
        three = b.op("const", value=3, type="int")
        body.yields(b.op("prim", body.params[0], three, op="*"))
    b.op("func", regions=[body.id], name="triple", params=("x",))
    return b.build()


def const_value(g: Graph) -> int:
    return next(n.attr("value") for _, n in g.live_nodes() if n.kind == "const")


def test_parse_builds_typed_options_and_prints_back():
    p = Pipeline.parse("test-scale{factor=3 label=\"a b\"},test-scale,test-scale{enabled=false}")
    assert [type(x) for x in p.passes] == [ScaleConstants] * 3
    assert p.passes[0] == ScaleConstants(factor=3, label="a b")
    assert p.passes[2].enabled is False
    assert str(p) == "test-scale{factor=3 label=a b},test-scale,test-scale{enabled=false}"
    assert Pipeline.parse("") == Pipeline()


@given(st.lists(st.tuples(st.integers(-5, 5), st.sampled_from(["x", "yy", "z_1"]), st.booleans()), max_size=5))
def test_pipeline_text_round_trips(specs):
    pipeline = Pipeline(tuple(ScaleConstants(factor=f, label=l, enabled=e) for f, l, e in specs))
    assert Pipeline.parse(str(pipeline)) == pipeline


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("test-scale,nope", 12, "unknown pass 'nope'"),
        ("test-scale{factor=x}", 19, "option 'factor' of pass 'test-scale' expects int, got 'x'"),
        ("test-scale{size=1}", 12, "pass 'test-scale' has no option 'size' (options: factor, label, enabled)"),
        ("test-scale{factor=1 factor=2}", 21, "option 'factor' given twice"),
        ("test-scale{", 12, "unexpected end of text"),
        ("test-scale,,x", 12, "unexpected ','"),
        ("test-scale{enabled=maybe}", 20, "expects bool"),
        ("test-scale;", 11, "unexpected ';'; expected ',' or '{'"),
    ],
)
def test_malformed_specs_say_where(text, column, message):
    with pytest.raises(DiagnosticError) as info:
        Pipeline.parse(text)
    diagnostic = info.value.diagnostics[0]
    assert diagnostic.span.file == "<pipeline>" and diagnostic.span.col == column
    assert message in diagnostic.message
    rendered = diagnostic.render().splitlines()
    assert rendered[1] == text and rendered[2] == " " * (column - 1) + "^"


def test_run_threads_passes_and_collects_timing_and_statistics():
    result = Pipeline.parse("test-scale{factor=5},test-scale").run(program())
    assert const_value(result.graph) == 30
    assert [name for name, _ in result.timings] == ["test-scale", "test-scale"]
    assert result.statistics[0][1]["rewrote const"] == 1
    assert "Total Execution Time" in result.timing_report()
    assert "(1) rewrote const" in result.statistics_report()


def test_input_is_never_mutated():
    g = program()
    before = (g.nodes, g.regions)
    Pipeline.parse("test-scale{factor=7}").run(g)
    assert (g.nodes, g.regions) == before and const_value(g) == 3


def test_verify_each_catches_a_pass_leaving_its_language():
    with pytest.raises(PassFailure) as info:
        Pipeline.parse("test-break").run(program())
    assert info.value.pass_name == "test-break"
    assert any("(mystery) in language 'clef': kind 'mystery' is not in the language" in d.message for d in info.value.diagnostics)
    unchecked = Pipeline.parse("test-break").run(program(), verify_each=False)
    assert any(n.kind == "mystery" for _, n in unchecked.graph.live_nodes())


def test_a_crashing_pass_is_a_located_failure_not_a_traceback():
    with pytest.raises(PassFailure) as info:
        Pipeline.parse("test-crash").run(program())
    assert "RuntimeError: boom" in str(info.value)


def test_validate_each_reports_one_verdict_per_changed_function():
    result = Pipeline.parse("test-scale,test-scale{enabled=false}").run(program(), validate=True)
    assert [(v.pass_name, v.function) for v in result.verdicts] == [("test-scale", "triple")]
    assert result.verdicts[0].status != "validated"  # never validated without a proof


def test_pass_context_collects_statistics():
    ctx = PassContext()
    ctx.stat("merged", 2)
    ctx.stat("merged")
    assert ctx.statistics["merged"] == 3


def test_print_after_names_only_chosen_passes(monkeypatch):
    printed = io.StringIO()
    fake_mlir = type("FakeMlir", (), {"to_mlir": staticmethod(lambda g: f"<{const_value(g)}>")})
    monkeypatch.setitem(sys.modules, "nanopass.dialects.psg_text", fake_mlir)
    Pipeline.parse("test-scale,test-scale{factor=3}").run(program(), print_after=["test-scale"], out=printed)
    assert printed.getvalue().count("IR Dump After") == 2
    assert "<6>" in printed.getvalue() and "<18>" in printed.getvalue()


# -- passes registered outside nanopass.passes (a backend's) ----------------------------------------------------

def fresh_python(*argv: str) -> subprocess.CompletedProcess:
    """A new interpreter, where no backend module has been imported yet."""
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300)


def test_pipeline_text_finds_a_backends_pass_by_name():
    result = fresh_python("-c", "from nanopass.pass_ import PASSES\n"
                                "from nanopass.pipeline import Pipeline\n"
                                "assert 'fuse' not in PASSES\n"
                                "print(Pipeline.parse('elaborate,baker,fuse'))\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "elaborate,baker,fuse\n"


def test_opt_runs_a_pipeline_naming_fuse():
    example = Path(__file__).resolve().parent.parent / "examples" / "process.clef"
    result = fresh_python("-m", "nanopass", "opt", str(example), "-p", "elaborate,baker,fuse", "--statistics")
    assert result.returncode == 0, result.stderr
    assert "fused = [[" in result.stdout  # the table, in the psg text
    assert "fuse\n  (2) fused into parallel_for" in result.stderr


def test_a_name_no_layer_registers_is_still_unknown():
    result = fresh_python("-c", "from nanopass.pipeline import Pipeline\nPipeline.parse('elaborate,fusee')\n")
    assert result.returncode == 1 and "unknown pass 'fusee' (known passes: baker" in result.stderr
    assert ", fuse, " in result.stderr

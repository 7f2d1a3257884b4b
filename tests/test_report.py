"""`nanopass report`: FLOW_LOSS.md's block for people, the JSON contract for programs, located bad sizes; the
regions of each function; a pipeline naming the LLVM backend's ``fuse``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

from nanopass.cli import main, parse_assignments
from nanopass.diagnostics import DiagnosticError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_process_prints_the_block_of_flow_loss_md(capsys):
    code, out, err = run_cli(capsys, "report", EXAMPLES / "process.clef", "--size", "frame=1024")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[:7] == [
        "process (frame: float<volt>[1024])",
        "  parallelism ratio   1024x  (3072 ops, critical path 3)",
        "  serialization points",
        "    Array.map calibrate      1023 independent ops sequenced   line 14",
        "    Array.map extractScore   1023 independent ops sequenced   line 15",
        "    Array.map normalize      1023 independent ops sequenced   line 16",
        "  memory movement     frame stays resident; no spill on this region",
    ]
    assert "  strand              width-dense; needs memory(frame: contiguous in %7)" in out
    assert "deadlock            no-actors" in out


def test_branchy_reads_as_intervals(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "branchy.clef", "--size", "frame=1024")
    assert code == 0
    assert "  parallelism ratio   52x .. 1024x  (2048 .. 40960 ops, critical path 2 .. 40)" in out.splitlines()


def test_without_sizes_the_figures_are_formulas(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "process.clef")
    assert code == 0
    assert out.splitlines()[:2] == ["process (frame: float<volt>[n])",
                                    "  parallelism ratio   nx  (3n ops, critical path 3)"]
    assert "    Array.map calibrate      n - 1 independent ops sequenced   line 14" in out


def test_values_make_int_parameters_numbers(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "montecarlo.clef", "--value", "scenarios=64")
    assert code == 0
    assert "  parallelism ratio   733x  (242049 ops, critical path 330)" in out
    assert "  reassociated        critical path 273 (reductions as balanced trees)" in out


def test_json_follows_the_contract(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "branchy.clef", "--size", "frame=1024", "--json")
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"functions", "deadlock", "diagnostics"}
    process = report["functions"]["process"]
    assert set(process) == {"strand", "coeffects", "flow_loss"}
    assert process["strand"] == "width-irregular"
    flow = process["flow_loss"]
    assert {"work", "span", "parallelism", "span_reassociated", "serialization_points", "memory",
            "substrates"} <= set(flow)
    assert flow["work"] == [2048, 40960] and flow["span"] == [2, 40] and flow["span_reassociated"] == [2, 40]
    assert flow["parallelism"] == [52.15, 1024.0]
    assert flow["serialization_points"] == [{"site": "Array.map (fun s -> ...)", "ops": 1023, "line": 14}]
    assert flow["memory"]["bytes_in"] == 8192 and flow["memory"]["resident"] is True
    assert set(flow["substrates"]) == {"cpu-simd", "cpu-cores", "gpu", "npu", "cgra", "fpga"}
    assert all(set(v) == {"capacity", "parallelism", "share", "bound"} for v in flow["substrates"].values())
    assert report["deadlock"] == {"verdict": "no-actors", "ranks": {}, "cycles": [], "dynamic_sites": []}
    assert process["coeffects"]["memory"] == ["memory(frame: contiguous in %16)"]


def test_json_unbounded_ends_are_null_with_their_reasons(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "resolver.clef", "--json")
    assert code == 0
    report = json.loads(out)
    resolve = report["functions"]["resolve"]["flow_loss"]
    assert resolve["work"][1] is None and resolve["span"][1] is None and resolve["parallelism"][1] is None
    assert resolve["reasons"] and all(isinstance(r["line"], int) for r in resolve["reasons"])
    assert report["functions"]["resolve"]["strand"] == "control"
    assert "registry" in report["functions"]["resolve"]["coeffects"]["resources"]
    notes = [d for d in report["diagnostics"] if d["severity"] == "note"]
    assert notes and all(set(d) == {"file", "line", "col", "severity", "message"} for d in notes)


def test_json_symbolic_figures_are_formula_strings(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "process.clef", "--json")
    flow = json.loads(out)["functions"]["process"]["flow_loss"]
    assert flow["work"] == ["3n", "3n"] and flow["span"] == [3, 3]
    assert flow["serialization_points"][0]["ops"] == "n - 1"


def test_the_deadlock_section_comes_from_the_deadlock_analysis(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "actors.clef", "--json")
    assert code == 0
    deadlock = json.loads(out)["deadlock"]
    assert deadlock["verdict"] == "deadlock-free"
    assert deadlock["ranks"]["ingest"] > deadlock["ranks"]["parser"] > deadlock["ranks"]["catalog"]
    assert [site["line"] for site in deadlock["dynamic_sites"]] == [22]
    code, text, _ = run_cli(capsys, "report", EXAMPLES / "actors.clef")
    assert "deadlock            deadlock-free (ranks: catalog 0" in text
    assert "supervised post at line 22" in text


@pytest.mark.parametrize("argument, column, message", [
    ("frame=10x", 10, "--size 'frame' expects a size in whole numbers (N or NxM), got ''"),
    ("frame=-3", 7, "--size 'frame' expects a size in whole numbers (N or NxM), got '-3'"),
    ("frame", 1, "--size expects NAME=N or NAME=NxM, got 'frame'"),
    ("3x=4", 1, "--size expects NAME=N or NAME=NxM, got '3x=4'"),
])
def test_bad_sizes_are_located_diagnostics(capsys, argument, column, message):
    code, out, err = run_cli(capsys, "report", EXAMPLES / "process.clef", "--size", argument)
    first, line, caret = err.splitlines()[:3]
    assert code == 1 and out == ""
    assert first == f"<--size>:1:{column}: error: {message}"
    assert line == argument and caret.index("^") == column - 1


def test_sizes_must_name_a_parameter_and_fit_its_rank(capsys):
    code, _, err = run_cli(capsys, "report", EXAMPLES / "process.clef", "--size", "frme=10")
    assert code == 1 and "<--size>:1:1: error: no function has a parameter 'frme'; expected one of: frame" in err
    code, _, err = run_cli(capsys, "report", EXAMPLES / "matmul.clef", "--size", "a=10")
    assert code == 1 and "<--size>:1:3: error: 'a' of 'matrixMultiply' has 2 dimension(s), but the size gives 1" in err
    code, _, err = run_cli(capsys, "report", EXAMPLES / "montecarlo.clef", "--value", "scenarios=many")
    assert code == 1 and "<--value>:1:11: error: --value 'scenarios' expects an integer value, got 'many'" in err


def test_two_dimensional_sizes(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "matmul.clef", "--size", "a=64x32", "--size", "b=32x16")
    assert code == 0
    assert out.splitlines()[:2] == ["matrixMultiply (a: float[64, 32], b: float[32, 16])",
                                    "  parallelism ratio   1986x  (65536 ops, critical path 33)"]


def test_assignments_parse_as_the_cli_reads_them():
    assert parse_assignments(["frame=1024", "m=64x32"], "--size", True) == {"frame": (1024,), "m": (64, 32)}
    assert parse_assignments(["k=-3"], "--value", False) == {"k": -3}
    with pytest.raises(DiagnosticError):
        parse_assignments(["k=3x3"], "--value", False)


def test_mlir_input_is_refused_with_a_diagnostic(tmp_path, capsys):
    psg = tmp_path / "p.mlir"
    psg.write_text("builtin.module {}\n")
    code, _, err = run_cli(capsys, "report", psg)
    assert code == 1 and "expected a .clef file" in err


def test_each_function_has_a_table_of_its_regions(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "process.clef", "--size", "frame=1024")
    assert code == 0
    lines = out.splitlines()
    start = lines.index("  regions")
    rows = [line for line in lines[start + 1:] if line.startswith("    ") and not line.startswith("     ")]
    assert rows == [
        "    region  what                    line  work  span  parallelism",
        "    #2      Array.map calibrate       14  1024     1        1024x",
        "    #3      Array.map extractScore    15  1024     1        1024x",
        "    #4      Array.map normalize       16  1024     1        1024x",
    ]
    fits = [line.strip() for line in lines[start:] if line.startswith("            ")]
    assert len(fits) == 6 and all(f.startswith(("substrates   cpu-simd", "brent bound  T_")) for f in fits)
    assert "fpga 1024x (the region's parallelism)" in fits[0]


def test_arms_and_loops_are_rows_and_a_sequential_one_has_no_fit(capsys, tmp_path):
    source = tmp_path / "shape.clef"
    source.write_text("let f (xs: float[]) : float =\n"
                      "    let mutable acc = 0.0\n"
                      "    for i in 0 .. Array.length xs - 1 do\n"
                      "        acc <- acc * 0.5 + xs.[i]\n"
                      "    if acc > 1.0 then acc * 2.0 else acc\n")
    code, out, _ = run_cli(capsys, "report", source, "--size", "xs=8")
    lines = out.splitlines()
    start = lines.index("  regions")
    assert lines[start + 1:start + 4] == [
        "    region  what     line  work  span  parallelism",
        "    #2      for i       3    16    16           1x",
        "    #3      if then     5     1     1           1x",
    ]


def test_json_regions_follow_the_contract(capsys):
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "branchy.clef", "--size", "frame=1024", "--json")
    assert code == 0
    regions = json.loads(out)["functions"]["process"]["flow_loss"]["regions"]
    assert [{k: r[k] for k in ("region", "site", "line", "work", "span", "parallelism")} for r in regions] == [
        {"region": 8, "site": "Array.map (fun s -> ...)", "line": 14, "work": [2048, 40960], "span": [2, 40],
         "parallelism": [52.15, 1024.0]},
        {"region": 6, "site": "if then", "line": 16, "work": [38, 38], "span": [38, 38], "parallelism": [1.0, 1.0]}]
    body = regions[0]
    assert (body["kind"], body["strand"], body["bytes"]) == ("parallel_for", "width-irregular", 16384)
    assert set(body["substrates"]) == {"cpu-simd", "cpu-cores", "gpu", "npu", "cgra", "fpga"}
    assert all(set(v) == {"capacity", "parallelism", "share", "bound"} for v in body["substrates"].values())
    cores = body["brent"]["cores"]
    assert sp.sympify(body["brent"]["time_bound"]) == sp.Rational(40960, cores) + 40  # W_hi / p + S_hi


def test_a_pipeline_naming_fuse_makes_the_memory_axis_read_the_backends_decisions(capsys):
    pipeline = "elaborate,baker,coeffects,color,fuse"
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "dataset.clef", "--pipeline", pipeline, "--json")
    assert code == 0
    memory = json.loads(out)["functions"]["processDataset"]["flow_loss"]["memory"]
    assert memory["fusion"] == "fused" and memory["materialized"] == []
    assert [a["array"] for a in memory["fused"]] == [
        "Array.map complexTransform", "Array.filter (fun x -> ...)", "Array.filter (fun x -> ...) (flags)",
        "Array.filter (fun x -> ...) (positions)"]
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "dataset.clef", "--pipeline", pipeline)
    (line,) = [line for line in out.splitlines() if line.startswith("  intermediates")]
    assert line.startswith("  intermediates       fused: Array.map complexTransform (8n bytes), ")
    assert line.endswith("(as the 'fused' table says)")
    code, out, _ = run_cli(capsys, "report", EXAMPLES / "dataset.clef")
    assert "materialized: Array.map complexTransform (8n bytes)" in out and "(read off the uses)" in out

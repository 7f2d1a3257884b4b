"""The command line: every command, its exit codes, and located diagnostics for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nanopass.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_passes_lists_languages_and_options(capsys):
    code, out, _ = run_cli(capsys, "passes")
    assert code == 0
    assert "elaborate        clef -> elaborated" in out
    assert "reachability" in out and "{entries: str = ''}" in out


def test_check_is_silent_on_a_clean_file(capsys):
    assert run_cli(capsys, "check", str(EXAMPLES / "process.clef")) == (0, "", "")


def test_check_reports_a_located_error_with_a_caret(tmp_path, capsys):
    bad = tmp_path / "bad.clef"
    bad.write_text("let f (x: int) : int =\n    x + undefinedName\n")
    code, out, err = run_cli(capsys, "check", str(bad))
    first, line, caret = err.splitlines()[:3]
    assert code == 1 and out == ""
    assert first.startswith(f"{bad}:2:9: error:") and "undefinedName" in first
    assert line == "    x + undefinedName" and caret.startswith("        ^")


def test_missing_and_undecodable_files_are_diagnostics(tmp_path, capsys):
    code, _, err = run_cli(capsys, "check", str(tmp_path / "nope.clef"))
    assert code == 1 and "cannot read file" in err
    binary = tmp_path / "bin.clef"
    binary.write_bytes(b"let x = 1\nlet y = \xff\xfe\n")
    code, _, err = run_cli(capsys, "check", str(binary))
    assert code == 1 and f"{binary}:2:" in err and "Traceback" not in err


def test_run_prints_the_result_and_the_profile(capsys):
    code, out, _ = run_cli(capsys, "run", str(EXAMPLES / "process.clef"), "--entry", "process",
                           "--args", json.dumps([[0.5, 1.0]]), "--externs", str(EXAMPLES / "process_externs.py"),
                           "--profile")
    lines = out.splitlines()
    assert code == 0 and len(json.loads(lines[0])) == 2
    assert lines[1] == "tag,work,span,parallelism"
    assert lines[2].startswith("process,6,3,")


def test_run_rejects_bad_json_arguments_with_a_location(capsys):
    code, _, err = run_cli(capsys, "run", str(EXAMPLES / "montecarlo.clef"), "--entry", "monteCarlo",
                           "--args", "[1.0, ")
    assert code == 1 and err.startswith("<--args>:1:") and "not valid JSON" in err


def test_opt_writes_nothing_when_the_input_is_bad(tmp_path, capsys):
    bad = tmp_path / "bad.clef"
    bad.write_text("let f (x: int) : int = x +\n")
    out_file = tmp_path / "out.mlir"
    code, _, err = run_cli(capsys, "opt", str(bad), "-p", "elaborate", "-o", str(out_file))
    assert code == 1 and "error:" in err
    assert not out_file.exists() and list(tmp_path.iterdir()) == [bad]


def test_opt_writes_the_output_file(tmp_path, capsys):
    out_file = tmp_path / "out.mlir"
    code, out, _ = run_cli(capsys, "opt", str(EXAMPLES / "process.clef"), "-p", "elaborate", "-o", str(out_file))
    assert code == 0 and out == ""
    assert '"psg.native"' in out_file.read_text()


def test_demo_reruns_every_pipeline_output_and_agrees(capsys):
    code, out, _ = run_cli(capsys, "demo")
    assert code == 0
    assert out.count("(same after the pipeline: yes)") == 6
    assert "work 3072  span 3  parallelism 1024.0x" in out  # FLOW_LOSS.md's process figures
    assert "work 2086  span 40  parallelism 52.1x" in out   # branchy, one sample refined


def test_usage_errors_exit_2_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "nanopass", "opt"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the following arguments are required: file" in result.stderr


def test_the_public_front_door_is_importable_from_the_package():
    import nanopass

    source = "let f (x: int) : int = x * 2 + 1"
    graph = nanopass.parse(source, filename="t.clef")
    assert nanopass.run(graph, "f", 20) == 41
    assert nanopass.run(source, "f", 1) == 3
    assert (nanopass.profile(source, "f", 3).work, nanopass.profile(source, "f", 3).span) == (2, 2)
    assert nanopass.from_mlir(nanopass.to_mlir(graph)) == graph
    assert str(nanopass.default_pipeline()).startswith("elaborate,reachability")
    with pytest.raises(AttributeError):
        nanopass.no_such_name


def test_run_prints_unions_options_and_lists_as_json(tmp_path, capsys):
    source = tmp_path / "shapes.clef"
    source.write_text(
        "type Shape =\n    | Circle of float\n    | Empty\n\n"
        "let shapes (r: float) : Shape list * int option * Shape =\n"
        "    ([ Circle r; Empty ], Some 3, Empty)\n")
    code, out, err = run_cli(capsys, "run", str(source), "--entry", "shapes", "--args", "[2.0]")
    assert code == 0, err
    assert json.loads(out) == [[{"case": "Circle", "fields": [2.0]}, "Empty"], 3, "Empty"]


def test_a_front_end_warning_is_printed_on_stderr_and_the_command_goes_on(tmp_path, capsys):
    path = tmp_path / "w.clef"
    path.write_text("let f (x: int) =\n    x + 1\n    x\n")
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}:2:5: warning: the result of this expression has type 'int'" in err
    assert "    x + 1\n    ^" in err

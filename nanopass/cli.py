"""The `nanopass` command line (also `python -m nanopass`).

Every user error is printed as a located diagnostic and exits 1; usage errors
exit 2 (argparse); a bug inside nanopass prints one line asking for a report
and exits 70, never a traceback.  Output files are written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span

EXIT_DIAGNOSTIC = 1
EXIT_INTERNAL = 70


def _read_text(path: str) -> str | bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DiagnosticError(Diagnostic(Span(path, 0, 0), f"cannot read file: {err.strerror}")) from None
    return data


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a failure never leaves half a file."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DiagnosticError(Diagnostic(Span(path, 0, 0), f"cannot write file: {err.strerror}")) from None


def load_program(path: str):
    """A graph from a `.clef` source file or a `.mlir` psg file."""
    data = _read_text(path)
    if path.endswith(".mlir"):
        from nanopass.dialects.psg_text import from_mlir

        text = _decode(data, path)
        return from_mlir(text, filename=path)
    from nanopass.frontend import parse

    warnings: list[Diagnostic] = []
    graph = parse(data, filename=path, warnings=warnings)
    for warning in warnings:
        print(warning, file=sys.stderr)
    return graph


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise DiagnosticError(Diagnostic(Span(path, line, col, line, col + 1),
                                         "the file is not valid UTF-8")) from None


# -- commands -------------------------------------------------------------------------
def cmd_passes(args: argparse.Namespace) -> int:
    from nanopass.driver import registered_passes

    for pass_cls in registered_passes():
        options = ", ".join(
            f"{name}: {type(field.default).__name__} = {field.default!r}" for name, field in pass_cls.options().items()
        )
        levels = [getattr(pass_cls, side).name if getattr(pass_cls, side) else "any" for side in
                  ("input_language", "output_language")]
        line = f"{pass_cls.name:<16} {levels[0]} -> {levels[1]}"
        print(line + (f"  {{{options}}}" if options else ""))
        doc = (pass_cls.__doc__ or "").strip().splitlines()
        if doc:
            print(f"{'':<16} {doc[0]}")
    return 0


def cmd_opt(args: argparse.Namespace) -> int:
    from nanopass.driver import default_pipeline
    from nanopass.dialects.psg_text import to_mlir
    from nanopass.pipeline import Pipeline

    graph = load_program(args.file)
    pipeline = Pipeline.parse(args.pipeline) if args.pipeline is not None else (
        default_pipeline() if not args.file.endswith(".mlir") else Pipeline())
    result = pipeline.run(
        graph,
        verify_each=not args.no_verify,
        validate=args.validate,
        print_after_all=args.print_after_all,
        print_after=args.print_after or (),
        reproducer=args.reproducer,
        out=sys.stderr,
    )
    text = to_mlir(result.graph)
    if args.output:
        write_atomically(args.output, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    for verdict in result.verdicts:
        print(str(verdict))
    sys.stdout.flush()  # reports go to stderr after the graph, also when both share a pipe
    if args.timing:
        print(result.timing_report(), file=sys.stderr)
    if args.statistics:
        print(result.statistics_report(), file=sys.stderr)
    for diagnostic in result.diagnostics:
        print(diagnostic.render(), file=sys.stderr)
    return EXIT_DIAGNOSTIC if any(v.status == "counterexample" for v in result.verdicts) else 0


def cmd_check(args: argparse.Namespace) -> int:
    load_program(args.file)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from nanopass.driver import profile, run

    graph = load_program(args.file)
    try:
        call_args = json.loads(args.args)
    except json.JSONDecodeError as err:
        source = args.args
        raise DiagnosticError(Diagnostic(Span("<--args>", err.lineno, err.colno, err.lineno, err.colno + 1),
                                         f"--args is not valid JSON: {err.msg}", source=source)) from None
    if not isinstance(call_args, list):
        call_args = [call_args]
    if args.profile:
        prof = profile(graph, args.entry, *call_args, externs=args.externs)
        print(_json_value(prof.value))
        print(prof.to_csv(), end="")
        return 0
    print(_json_value(run(graph, args.entry, *call_args, externs=args.externs, backend=args.backend)))
    return 0


def _compile_llvm(args: argparse.Namespace) -> str:
    from nanopass.backends import llvm

    return llvm.compile_ir(load_program(args.file), args.entry, externs=args.externs)


def _compile_circt(args: argparse.Namespace) -> str:
    from nanopass.backends import circt

    return circt.to_circt_mlir(load_program(args.file), args.entry)


def _compile_verilog(args: argparse.Namespace) -> str:
    from nanopass.backends import circt

    return circt.to_verilog(load_program(args.file), args.entry)


# compile --target: the text each target writes (circt and verilog take the [<HardwareModule>] functions).
COMPILE_TARGETS = {"llvm": _compile_llvm, "circt": _compile_circt, "verilog": _compile_verilog}


def cmd_compile(args: argparse.Namespace) -> int:
    text = COMPILE_TARGETS[args.target](args)
    if args.output:
        write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _json_value(value) -> str:
    from nanopass.driver import to_python

    return json.dumps(to_python(value))


def _assignment_error(flag: str, item: str, column: int, width: int, message: str) -> DiagnosticError:
    return DiagnosticError(Diagnostic(Span(f"<{flag}>", 1, column, 1, column + max(width, 1)), message, source=item))


def parse_assignments(items: Sequence[str], flag: str, dimensions: bool) -> dict:
    """``NAME=N`` (and, for sizes, ``NAME=NxM``) arguments; a bad one is a diagnostic located in it."""
    found: dict = {}
    expected = "NAME=N or NAME=NxM" if dimensions else "NAME=V"
    for item in items:
        name, equals, text = item.partition("=")
        if not equals or not name.isidentifier():
            raise _assignment_error(flag, item, 1, len(name) or len(item),
                                    f"{flag} expects {expected}, got '{item}'")
        parts = text.lower().split("x") if dimensions else [text]
        column = len(name) + 2
        numbers = []
        for part in parts:
            negative_ok = not dimensions and part.startswith("-")
            digits = part[1:] if negative_ok else part
            if not digits.isdigit():
                what = "a size in whole numbers (N or NxM)" if dimensions else "an integer value"
                raise _assignment_error(flag, item, column, len(part), f"{flag} '{name}' expects {what}, "
                                                                       f"got '{part}'")
            numbers.append(int(part))
            column += len(part) + 1
        found[name] = tuple(numbers) if dimensions else numbers[0]
    return found


def _check_names(graph, sizes: dict, values: dict, size_items: Sequence[str], value_items: Sequence[str]) -> None:
    from nanopass.passes.flowloss import check_sizes

    params = sorted({p for _, d in graph.top_level() if d.kind == "func" for p in d.attr("params") or ()})
    for flag, given, items in (("--size", sizes, size_items), ("--value", values, value_items)):
        for name, item in zip(given, items):
            if name not in params:
                raise _assignment_error(flag, item, 1, len(name), f"no function has a parameter '{name}'; "
                                                                  f"expected one of: {', '.join(params) or '(none)'}")
    problems = check_sizes(graph, sizes)
    if problems:
        item = next(i for i in size_items if problems[0].startswith(f"'{i.partition('=')[0]}'"))
        raise _assignment_error("--size", item, len(item.partition("=")[0]) + 2, len(item.partition("=")[2]),
                                problems[0])


def _clef_source(path: str):
    if path.endswith(".mlir"):
        raise DiagnosticError(Diagnostic(Span(path, 0, 0), "this command reads Clef source (its lines and names); "
                                                           "expected a .clef file"))
    return load_program(path)


def cmd_report(args: argparse.Namespace) -> int:
    from nanopass.report import REPORT_PIPELINE, build, text, to_json

    sizes = parse_assignments(args.size or (), "--size", True)
    values = parse_assignments(args.value or (), "--value", False)
    graph = _clef_source(args.file)
    _check_names(graph, sizes, values, args.size or (), args.value or ())
    report = build(graph, sizes, values, args.pipeline or REPORT_PIPELINE)
    if args.json:
        print(json.dumps(to_json(report), indent=2))
    else:
        sys.stdout.write(text(report))
    return 0


def write_bytes_atomically(path: str, data: bytes) -> None:
    """`write_atomically` for binary output (a PNG)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DiagnosticError(Diagnostic(Span(path, 0, 0), f"cannot write file: {err.strerror}")) from None


def cmd_dot(args: argparse.Namespace) -> int:
    from nanopass.dot import draw, render

    fmt = Path(args.output).suffix.lstrip(".").lower()
    graph = draw(_clef_source(args.file))
    write_bytes_atomically(args.output, render(graph, fmt))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from nanopass.driver import demo

    return demo(sys.stdout)


# -- argument parsing -------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nanopass", description="Small, composable compiler passes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("passes", help="list every registered pass with its languages and options")
    p.set_defaults(func=cmd_passes)

    p = sub.add_parser("opt", help="run a pipeline over a .clef or .mlir (psg) file")
    p.add_argument("file")
    p.add_argument("-p", "--pipeline", help="pipeline text, e.g. 'elaborate,reachability'")
    p.add_argument("-o", "--output", help="write the resulting psg text here (default: stdout)")
    p.add_argument("--print-after-all", action="store_true")
    p.add_argument("--print-after", action="append", metavar="PASS")
    p.add_argument("--timing", action="store_true", help="per-pass wall time")
    p.add_argument("--statistics", action="store_true", help="per-pass statistics")
    p.add_argument("--no-verify", action="store_true", help="do not check each pass's output language")
    p.add_argument("--validate", action="store_true", help="translation-validate each pass")
    p.add_argument("--reproducer", default="auto",
                   help="where to write a reproducer if a pass fails (default: a temporary file)")
    p.set_defaults(func=cmd_opt)

    p = sub.add_parser("check", help="parse and type-check a .clef file; diagnostics only")
    p.add_argument("file")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="run an entry point of a program")
    p.add_argument("file")
    p.add_argument("--entry", required=True)
    p.add_argument("--args", default="[]", help="the arguments as a JSON list")
    p.add_argument("--externs", help="a .py file whose functions implement the program's externs")
    p.add_argument("--profile", action="store_true", help="print work/span CSV after the result")
    p.add_argument("--backend", default="interp", choices=["interp", "llvm"])
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compile", help="compile a program's native functions; write the optimized IR")
    p.add_argument("file")
    p.add_argument("--target", default="llvm", choices=list(COMPILE_TARGETS))
    p.add_argument("--entry", help="only this function and what it calls (default: the whole program)")
    p.add_argument("--externs", help="a .py file whose functions implement the program's externs")
    p.add_argument("-o", "--output", help="write the IR here (default: stdout)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("report", help="flow loss, strands, coeffects, substrate fit and deadlock of a program")
    p.add_argument("file")
    p.add_argument("--size", action="append", metavar="NAME=N[xM]",
                   help="the length (N) or shape (NxM) of an array or list parameter; repeatable")
    p.add_argument("--value", action="append", metavar="NAME=V", help="the value of an int parameter; repeatable")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--pipeline", help="the passes that saturate the program (default: "
                   "'elaborate,baker,coeffects,color'; add 'fuse' for the LLVM backend's fusion)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("dot", help="draw the saturated graph: strands, crossings, critical path")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True, help="the picture to write: .svg, .png or .dot")
    p.set_defaults(func=cmd_dot)

    p = sub.add_parser("demo", help="run the bundled examples end to end")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DiagnosticError as err:
        for diagnostic in err.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        return EXIT_DIAGNOSTIC
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug in nanopass: one line, not a traceback
        print(f"nanopass: internal error: {type(err).__name__}: {err} "
              f"(set NANOPASS_TRACEBACK=1 for details; please report it)", file=sys.stderr)
        if os.environ.get("NANOPASS_TRACEBACK"):
            raise
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

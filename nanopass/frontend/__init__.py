"""The Clef front end: layout-aware lexing, parsing, typing and lowering to the PSG.

`parse(source, filename)` is its entry point: parse -> type-check -> lower, on
a big-stack thread, returning a graph in the `Clef` language or raising
`DiagnosticError` with every error found.
"""

from __future__ import annotations

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span


def parse(source: str | bytes, filename: str = "<input>"):
    """The `Clef` graph of Clef ``source`` (text, or UTF-8 bytes)."""
    # Imported here so that importing a light module of this package
    # (types, intrinsics) does not build the parser.
    from nanopass.frontend.stack import run_with_big_stack

    return run_with_big_stack(_parse, _decode(source, filename), filename)


def _parse(text: str, filename: str):
    from nanopass.frontend.lower import lower_program
    from nanopass.frontend.parser import parse_program
    from nanopass.frontend.typecheck import check_program

    program = parse_program(text, filename)
    return lower_program(program, check_program(program, text), filename, text)


def _decode(source: str | bytes, filename: str) -> str:
    if isinstance(source, str):
        return source
    try:
        return source.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = source[: err.start].count(b"\n") + 1
        col = err.start - (source.rfind(b"\n", 0, err.start) + 1) + 1
        raise DiagnosticError(Diagnostic(Span(filename, line, col, line, col + 1),
                                         "the file is not valid UTF-8; expected UTF-8 text")) from None

"""The Clef front end: layout-aware lexing, parsing, typing and lowering to the PSG.

`parse(source, filename)` is its entry point: parse -> type-check -> lower, on
a big-stack thread, returning a graph in the `Clef` language or raising
`DiagnosticError` with every error found.
"""

from __future__ import annotations


def parse(source: str | bytes, filename: str = "<input>"):
    """The `Clef` graph of Clef ``source`` (text, or UTF-8 bytes)."""
    # Imported here so that importing a light module of this package (types,
    # intrinsics) does not build the parser.
    from nanopass.frontend.stack import run_with_big_stack

    return run_with_big_stack(_parse, source, filename)


def _parse(source: str | bytes, filename: str):
    from nanopass.frontend.lower import lower_program
    from nanopass.frontend.parser import parse_program
    from nanopass.frontend.typecheck import check_program

    program = parse_program(source, filename)  # reports bytes that are not UTF-8
    # The text the parser read, so that later diagnostics quote the same lines.
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    return lower_program(program, check_program(program, text), filename, text)

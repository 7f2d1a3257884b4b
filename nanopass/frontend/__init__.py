"""The Clef front end: layout-aware lexing, parsing, typing and lowering to the PSG.

`parse(source, filename)` is its entry point: parse -> type-check -> lower, on
a big-stack thread, returning a graph in the `Clef` language or raising
`DiagnosticError` with every error found.  Warnings (a discarded non-unit
value, as F#'s FS0020) go to the ``warnings`` list when one is given, else
to Python's `warnings` module as `ClefWarning`s, so a library user sees them
and can filter them as any other.
"""

from __future__ import annotations

import warnings as python_warnings


class ClefWarning(UserWarning):
    """A located warning of the Clef front end (its text is the rendered diagnostic)."""


def parse(source: str | bytes, filename: str = "<input>", warnings: list | None = None):
    """The `Clef` graph of Clef ``source`` (text, or UTF-8 bytes); its warnings appended to ``warnings``."""
    # Imported here so that importing a light module of this package (types,
    # intrinsics) does not build the parser.
    from nanopass.frontend.stack import run_with_big_stack

    graph, found = run_with_big_stack(_parse, source, filename)
    if warnings is not None:
        warnings.extend(found)
    else:
        for diagnostic in found:
            python_warnings.warn(str(diagnostic), ClefWarning, stacklevel=2)
    return graph


def _parse(source: str | bytes, filename: str):
    from nanopass.frontend.lower import lower_program
    from nanopass.frontend.parser import parse_program
    from nanopass.frontend.typecheck import check_program

    program = parse_program(source, filename)  # reports bytes that are not UTF-8
    # The text the parser read, so that later diagnostics quote the same lines.
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    typing = check_program(program, text)
    return lower_program(program, typing, filename, text), list(typing.diagnostics)

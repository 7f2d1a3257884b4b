"""Source spans and located diagnostics.

Every user-facing error in nanopass is a `Diagnostic`: a file, line, column, a
message saying what was expected, and (when the source text is known) the
offending line with a caret under the spot.  `DiagnosticError` carries one or
more of them through the call stack to the CLI, which prints them and exits 1.
"""

from __future__ import annotations

from typing import Iterable

import attrs


@attrs.frozen(slots=True, order=True)
class Span:
    """A half-open source range; lines and columns count from 1."""

    file: str = "<unknown>"
    line: int = 0
    col: int = 0
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN_SPAN = Span()


@attrs.frozen(slots=True)
class Diagnostic:
    span: Span
    message: str
    severity: str = "error"
    # The full text of the file the span points into, for the caret line.
    source: str | None = attrs.field(default=None, eq=False, repr=False)

    def render(self) -> str:
        head = f"{self.span}: {self.severity}: {self.message}"
        line_text = _source_line(self.source, self.span.line)
        if line_text is None:
            return head
        width = 1
        if self.span.end_line == self.span.line and self.span.end_col > self.span.col:
            width = self.span.end_col - self.span.col
        caret = " " * max(self.span.col - 1, 0) + "^" + "~" * (width - 1)
        return f"{head}\n{line_text}\n{caret}"

    def __str__(self) -> str:
        return self.render()


def _source_line(source: str | None, line: int) -> str | None:
    if source is None or line < 1:
        return None
    lines = source.splitlines()
    if line > len(lines):
        return None
    return lines[line - 1].expandtabs(1)


class DiagnosticError(Exception):
    """Raised with one or more diagnostics; the CLI prints them and exits 1."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    @classmethod
    def at(cls, span: Span, message: str, source: str | None = None) -> "DiagnosticError":
        return cls(Diagnostic(span, message, source=source))

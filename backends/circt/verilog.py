"""Checking and Verilog: the emitted MLIR through the ``circt`` wheel, failing loudly.

`check` parses the text with the wheel's MLIR and verifies it (so the
module is valid CIRCT, not merely valid xDSL); `export` also lowers it
(``lower-seq-to-sv``: registers become ``always_ff`` blocks) and runs the
wheel's ExportVerilog.  The wheel reports problems through MLIR's
diagnostic handler and, for the exporter, returns without raising and
without output: every error the handler sees is collected, and an export
that saw one, or that wrote no module, is a `DiagnosticError`.  A
diagnostic whose location points into a source file (the ops carry their
Clef spans) is located there.
"""

from __future__ import annotations

import io
import re
from typing import Any

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span

# The passes between the emitted hw/comb/seq and what ExportVerilog takes.
LOWERING = "builtin.module(lower-seq-to-sv)"
_LOCATION = re.compile(r'loc\("(?P<file>[^"]*)":(?P<line>\d+):(?P<col>\d+)\)')


def _circt() -> Any:
    try:
        import circt
        import circt.ir  # noqa: F401
        import circt.passmanager  # noqa: F401
    except ImportError as err:
        message = f"the circt wheel is not installed ({err}); install it with pip install 'nanopass[hw]'"
        raise DiagnosticError(Diagnostic(Span("<circt>", 1, 1), message)) from None
    return circt


class _Session:
    """A wheel context whose diagnostics are collected instead of printed."""

    def __init__(self) -> None:
        self.circt = _circt()
        self.context = self.circt.ir.Context()
        self.circt.register_dialects(self.context)
        self.errors: list[Diagnostic] = []
        self.context.attach_diagnostic_handler(self._collect)

    def _collect(self, diagnostic: Any) -> bool:
        if "ERROR" in str(diagnostic.severity).upper():
            notes = [str(note) for note in getattr(diagnostic, "notes", ())]
            message = diagnostic.message + "".join(f"\n  note: {n}" for n in notes)
            self.errors.append(Diagnostic(_span(str(diagnostic.location)), f"circt: {message}"))
        return True  # handled: the wheel prints nothing

    def fail(self, what: str, detail: str = "") -> DiagnosticError:
        found = self.errors or [Diagnostic(Span("<circt>", 1, 1), f"circt: {what} failed{detail}")]
        return DiagnosticError(found)

    def parse(self, text: str) -> Any:
        with self.context:
            try:
                module = self.circt.ir.Module.parse(text)
            except Exception as err:  # the wheel's MLIRError: its diagnostics came through the handler
                raise self.fail("parsing the emitted MLIR", f": {err}") from None
            if not module.operation.verify() or self.errors:
                raise self.fail("verifying the emitted MLIR")
        return module


def _span(location: str) -> Span:
    match = _LOCATION.search(location)
    if match is None:
        return Span("<circt>", 1, 1)
    line, col = int(match["line"]), int(match["col"])
    return Span(match["file"], line, col, line, col + 1)


def check(text: str) -> None:
    """Parse and verify ``text`` with the circt wheel; a `DiagnosticError` when it is not valid CIRCT."""
    _Session().parse(text)


def export(text: str) -> str:
    """The SystemVerilog of the hw/comb/seq MLIR ``text``, or a `DiagnosticError` saying why not."""
    session = _Session()
    module = session.parse(text)
    with session.context:
        try:
            session.circt.passmanager.PassManager.parse(LOWERING).run(module.operation)
        except Exception as err:
            raise session.fail(f"lowering ({LOWERING})", f": {err}") from None
        out = io.StringIO()
        session.circt.export_verilog(module, out)
    verilog = out.getvalue()
    if session.errors or re.search(r"^\s*module\s", verilog, re.MULTILINE) is None:
        raise session.fail("exporting Verilog", " (it wrote no module)")
    return verilog

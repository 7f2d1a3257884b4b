"""Pipelines: a textual list of passes and the instrumentation around running them.

``Pipeline.parse("elaborate,reachability,baker{workers=2}")`` builds one from
text and ``str(pipeline)`` gives the text back.  `Pipeline.run` mirrors
mlir-opt / xdsl-opt instrumentation: verify each pass's output against its
output language (on by default), print after all or chosen passes, time each
pass, collect statistics, validate each, and, when a pass fails, write a
reproducer file holding the input graph and the pipeline text.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Iterable, TextIO

import attrs
import lark

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.graph import Graph
from nanopass.pass_ import PASSES, Pass, PassContext, Verdict

_SPEC_GRAMMAR = r"""
    pipeline: (pass_spec ("," pass_spec)*)?
    pass_spec: NAME options?
    options: "{" (option (","? option)*)? "}"
    option: NAME "=" value
    ?value: STRING | WORD
    NAME: /[A-Za-z_][A-Za-z0-9_\-]*/
    WORD: /[^\s,{}="]+/
    STRING: /"[^"]*"/
    %ignore /\s+/
"""
_SPEC_PARSER = lark.Lark(_SPEC_GRAMMAR, start="pipeline", parser="lalr", propagate_positions=True)
_SPEC_FILE = "<pipeline>"


def _spec_error(text: str, column: int, message: str) -> DiagnosticError:
    return DiagnosticError(Diagnostic(Span(_SPEC_FILE, 1, column, 1, column + 1), message, source=text))


def _convert_option(pass_cls: type[Pass], field: attrs.Attribute, raw: str, text: str, column: int) -> Any:
    kind = type(field.default) if field.default is not attrs.NOTHING else str
    value = raw[1:-1] if raw.startswith('"') else raw
    try:
        if kind is bool:
            if value not in ("true", "false", "1", "0"):
                raise ValueError
            return value in ("true", "1")
        return kind(value)
    except ValueError:
        raise _spec_error(
            text, column, f"option '{field.name}' of pass '{pass_cls.name}' expects {kind.__name__}, got '{value}'"
        ) from None


# Modules outside nanopass.passes that register passes (a backend's own analyses), looked in last.
BACKEND_PASS_MODULES = ("nanopass.backends.llvm.fusion",)


def _load_pass_registry(name: str) -> None:
    """Discover the bundled passes on first use of a name not yet registered: the passes layer, then,
    for a name still unknown, the backends' pass modules (one that cannot be imported is skipped).

    The core never imports the passes layer at module level; this runtime
    discovery is what an entry-point plugin lookup would be.
    """
    import importlib

    importlib.import_module("nanopass.passes")
    for module in BACKEND_PASS_MODULES:
        if name in PASSES:
            return
        try:
            importlib.import_module(module)
        except ImportError:
            continue


def _level_of(graph: Graph):
    """The first of the pipeline's languages the graph conforms to, or None."""
    from nanopass.languages import LANGUAGES

    return next((language for language in LANGUAGES.values() if not language.check(graph)), None)


def _describe_expected(expected: Iterable[str]) -> str:
    words = {"NAME": "a pass or option name", "COMMA": "','", "LBRACE": "'{'", "RBRACE": "'}'",
             "EQUAL": "'='", "WORD": "a value", "STRING": "a quoted value", "$END": "end of text"}
    return " or ".join(sorted({words.get(e, e) for e in expected}))


@attrs.frozen
class PipelineResult:
    graph: Graph
    timings: tuple[tuple[str, float], ...]
    statistics: tuple[tuple[str, Counter], ...]
    verdicts: tuple[Verdict, ...]
    diagnostics: tuple[Diagnostic, ...]

    def timing_report(self) -> str:
        total = sum(t for _, t in self.timings) or 1e-12
        lines = [
            "===" + "-" * 73 + "===",
            " " * 25 + "... Execution time report ...",
            "===" + "-" * 73 + "===",
            f"  Total Execution Time: {total:.4f} seconds",
            "",
            "  ----Wall Time----  ----Name----",
        ]
        lines += [f"  {t:9.4f} ({100 * t / total:5.1f}%)  {name}" for name, t in self.timings]
        lines.append(f"  {total:9.4f} (100.0%)  Total")
        return "\n".join(lines)

    def statistics_report(self) -> str:
        lines = ["===" + "-" * 73 + "===", " " * 26 + "... Pass statistics report ...",
                 "===" + "-" * 73 + "==="]
        for name, stats in self.statistics:
            lines.append(name)
            lines += [f"  ({count}) {stat}" for stat, count in sorted(stats.items())]
        return "\n".join(lines)


class PassFailure(DiagnosticError):
    """A pass raised or produced a graph outside its output language."""

    def __init__(self, pass_name: str, diagnostics: list[Diagnostic], reproducer: str | None):
        self.pass_name = pass_name
        self.reproducer = reproducer
        note = f" (reproducer written to {reproducer})" if reproducer else ""
        head = Diagnostic(diagnostics[0].span if diagnostics else Span(), f"pass '{pass_name}' failed{note}")
        super().__init__([head, *diagnostics])


@attrs.frozen
class Pipeline:
    passes: tuple[Pass, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Pipeline":
        try:
            tree = _SPEC_PARSER.parse(text)
        except lark.UnexpectedCharacters as err:
            raise _spec_error(text, err.column, f"unexpected character {text[err.pos_in_stream]!r}; "
                                                f"expected {_describe_expected(err.allowed or ['NAME'])}") from None
        except lark.UnexpectedToken as err:
            at_end = err.token.type == "$END"
            column = len(text) + 1 if at_end or not isinstance(err.column, int) else err.column
            got = "end of text" if at_end else repr(str(err.token))
            raise _spec_error(text, column, f"unexpected {got}; expected {_describe_expected(err.expected)}") from None
        except lark.UnexpectedEOF as err:
            raise _spec_error(text, len(text) + 1, f"unexpected end of text; expected "
                                                   f"{_describe_expected(err.expected)}") from None
        return cls(tuple(cls._build_pass(text, spec) for spec in tree.children))

    @staticmethod
    def _build_pass(text: str, spec: lark.Tree) -> Pass:
        name_tok = spec.children[0]
        if str(name_tok) not in PASSES:
            _load_pass_registry(str(name_tok))
        pass_cls = PASSES.get(str(name_tok))
        if pass_cls is None:
            known = ", ".join(sorted(PASSES)) or "none registered"
            raise _spec_error(text, name_tok.column, f"unknown pass '{name_tok}' (known passes: {known})")
        fields = pass_cls.options()
        values: dict[str, Any] = {}
        for option in spec.children[1].children if len(spec.children) > 1 else ():
            key, raw = option.children
            field = fields.get(str(key))
            if field is None:
                allowed = ", ".join(fields) or "none"
                raise _spec_error(text, key.column, f"pass '{pass_cls.name}' has no option '{key}' (options: {allowed})")
            if str(key) in values:
                raise _spec_error(text, key.column, f"option '{key}' given twice")
            values[str(key)] = _convert_option(pass_cls, field, str(raw), text, raw.column)
        return pass_cls(**values)

    def __str__(self) -> str:
        return ",".join(p.spec() for p in self.passes)

    def run(
        self,
        graph: Graph,
        *,
        verify_each: bool = True,
        validate: bool = False,
        print_after_all: bool = False,
        print_after: Iterable[str] = (),
        reproducer: str | None = None,
        out: TextIO | None = None,
    ) -> PipelineResult:
        """Run every pass in order; raise `PassFailure` (with a reproducer) when one fails.

        ``reproducer`` is the path to write on failure; ``"auto"`` picks a
        fresh file in the temporary directory.
        """
        out = out if out is not None else sys.stderr
        print_after = set(print_after)
        timings, statistics, verdicts, diagnostics = [], [], [], []
        # The level the graph is at: a pass with no languages works at any level and keeps it.
        level = self.passes[0].input_language if self.passes else None
        if verify_each and self.passes:
            level = level or _level_of(graph)
            if level is not None:
                self._verify(self.passes[0], graph, graph, reproducer, "input", language=level)
        for pass_ in self.passes:
            ctx = PassContext()
            start = time.perf_counter()
            try:
                after = pass_.run(graph, ctx)
            except DiagnosticError:
                raise
            except Exception as err:  # a pass bug: report it with a reproducer, not a traceback
                path = self._write_reproducer(graph, reproducer)
                raise PassFailure(pass_.name, [Diagnostic(Span(), f"{type(err).__name__}: {err}")], path) from err
            timings.append((pass_.name, time.perf_counter() - start))
            statistics.append((pass_.name, ctx.statistics))
            diagnostics.extend(ctx.diagnostics)
            level = pass_.output_language or level
            if verify_each and level is not None:
                self._verify(pass_, graph, after, reproducer, pass_.name, language=level)
            if validate:
                verdicts.extend(pass_.validate(graph, after, ctx))
            if print_after_all or pass_.name in print_after:
                from nanopass.dialects.psg_text import to_mlir

                out.write(f"// -----// IR Dump After {pass_.spec()} //----- //\n{to_mlir(after)}\n")
            graph = after
        return PipelineResult(graph, tuple(timings), tuple(statistics), tuple(verdicts), tuple(diagnostics))

    def _verify(self, pass_: Pass, before: Graph, after: Graph, reproducer: str | None, stage: str, language) -> None:
        problems = language.check(after)
        if problems:
            path = self._write_reproducer(before, reproducer)
            raise PassFailure(stage, problems, path)

    def _write_reproducer(self, graph: Graph, reproducer: str | None) -> str | None:
        if reproducer is None:
            return None
        from nanopass.dialects.psg_text import to_mlir

        if reproducer == "auto":
            fd, reproducer = tempfile.mkstemp(prefix="nanopass-", suffix=".reproducer.mlir")
            os.close(fd)
        text = to_mlir(graph)
        escaped = str(self).replace("\\", "\\\\").replace('"', '\\"')
        footer = (
            "\n{-#\n  external_resources: {\n    mlir_reproducer: {\n"
            f'      pipeline: "{escaped}",\n      disable_threading: true,\n      verify_each: true\n'
            "    }\n  }\n#-}\n"
        )
        tmp = reproducer + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + footer)
        os.replace(tmp, reproducer)
        return reproducer

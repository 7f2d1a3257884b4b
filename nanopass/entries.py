"""Entry points: the `entries=` option several passes share, and which functions the host may call.

Pipeline text separates passes with commas, so an `entries` option joins its
names with ``+`` (``reachability{entries=main+helper}``).
"""

from __future__ import annotations

from typing import Iterable

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.graph import Graph

ENTRY_SEPARATOR = "+"
# Attributes that make a function callable by the host whatever else is named.
ENTRY_ATTRIBUTES = frozenset({"EntryPoint", "HardwareModule", "Kernel"})


def entry_names(option: str) -> list[str]:
    """The names an `entries` option text lists."""
    return [name for name in option.split(ENTRY_SEPARATOR) if name]


def check_entry_names(graph: Graph, names: Iterable[str], pass_name: str, functions_only: bool = True) -> None:
    """A located diagnostic on the pipeline text when a named entry point is not declared."""
    declared = {node.attr("name") for _, node in graph.top_level()
                if node.attr("name") is not None and (node.kind == "func" or not functions_only)}
    unknown = [name for name in names if name not in declared]
    if unknown:
        what = "top-level functions" if functions_only else "top-level declarations"
        raise DiagnosticError(Diagnostic(
            Span("<pipeline>", 1, 1, 1, 2),
            f"{pass_name}: entry point(s) {', '.join(unknown)} are not {what} "
            f"(declared: {', '.join(sorted(declared)) or 'none'})"))


def _marked(node, attributes: frozenset[str]) -> bool:
    return any(pair[0] in attributes for pair in node.attr("attributes", ()) or ())


def entry_points(graph: Graph, entries: Iterable[str] = ()) -> set[str]:
    """The functions the host may call with any arguments.

    Those named, those marked ``[<EntryPoint>]`` and the hardware modules and
    kernels; with none named or marked, a library: every function.
    """
    funcs = {node.attr("name"): node for _, node in graph.top_level() if node.kind == "func"}
    named = {name for name in entries if name}
    marked = {name for name, node in funcs.items() if _marked(node, frozenset({"EntryPoint"}))}
    always = {name for name, node in funcs.items() if _marked(node, ENTRY_ATTRIBUTES)}
    if named or marked:
        return named | marked | always
    return set(funcs)

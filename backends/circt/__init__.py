"""The CIRCT backend: ``[<HardwareModule>]`` functions to hw/comb/seq MLIR and SystemVerilog.

    to_circt_mlir(graph, "step")     # the hw.module text, verified by the circt wheel
    to_verilog(graph, "step")        # SystemVerilog from the wheel's ExportVerilog
    compile_hardware(graph, "step")  # both, with each module's ports and registers

A graph at any level (a `Clef` graph from `nanopass.parse`, or one further
down) is taken to `Saturated` with the ``widths`` tables by the passes it
has not had (``elaborate``, ``baker``, ``widths``).  Then each module is
classified (`shape`: a Mealy machine or a combinational function, or a
located diagnostic naming the missing part), its widths chosen by a policy
(`layout`: ``inferred`` from the ``widths`` pass, the default, or
``declared`` from the types), emitted through the zipper with xDSL's
builders (`emit`), and checked and exported by the ``circt`` wheel
(`verilog`).  `simulate` runs the Verilog under iverilog and lints it with
verilator.  A field whose width cannot be inferred fails with the
``widths`` pass's diagnostic.
"""

from __future__ import annotations

import io
from typing import Iterable

import attrs
from xdsl.printer import Printer

from nanopass.diagnostics import Diagnostic, DiagnosticError
from nanopass.graph import Graph
from nanopass.languages import Clef, Elaborated, Saturated
from nanopass.pipeline import Pipeline

from nanopass.backends.circt.emit import Design, emit_module, wrap_modules
from nanopass.backends.circt.layout import DeclaredWidths, InferredWidths, Scalar, UnionLayout
from nanopass.backends.circt.shape import CLASS_TABLE, Declarations, Shape, classify, find_module, shape_of
from nanopass.backends.circt.verilog import check, export

WIDTH_POLICIES = ("inferred", "declared")

__all__ = ["CLASS_TABLE", "WIDTH_POLICIES", "Design", "Hardware", "Scalar", "Shape", "UnionLayout", "check",
           "classify", "compile_hardware", "export", "saturate", "to_circt_mlir", "to_verilog"]


@attrs.frozen
class Hardware:
    """The modules compiled from one graph: their designs (ports, registers) and the MLIR text."""

    graph: Graph  # the saturated graph, with the widths tables and the hardware.class table
    designs: tuple[Design, ...]
    mlir: str

    def design(self, name: str) -> Design:
        return next(d for d in self.designs if d.shape.function == name)

    def verilog(self) -> str:
        return export(self.mlir)


def saturate(graph: Graph) -> tuple[Graph, tuple[Diagnostic, ...]]:
    """``graph`` at the `Saturated` level with fresh ``widths`` tables, and the passes' diagnostics."""
    for language, passes in ((Clef, "elaborate,baker,widths"), (Elaborated, "baker,widths"), (Saturated, "widths")):
        if not language.check(graph):
            result = Pipeline.parse(passes).run(graph)
            return result.graph, result.diagnostics
    problems = Saturated.check(graph)
    raise DiagnosticError([Diagnostic(problems[0].span, "the graph conforms to no level of the pipeline (clef, "
                                                        "elaborated, saturated); the first problem at the "
                                                        f"saturated level: {problems[0].message}")])


def compile_hardware(graph: Graph, name: str | None = None, widths: str = "inferred",
                     verify: bool = True) -> Hardware:
    """Every hardware module of ``graph`` (or the one named), emitted with ``widths`` (inferred or declared).

    ``verify`` parses and verifies the text with the circt wheel.
    """
    if widths not in WIDTH_POLICIES:
        raise ValueError(f"unknown width policy {widths!r} (available: {', '.join(WIDTH_POLICIES)})")
    saturated, diagnostics = saturate(graph)
    saturated = classify(saturated)
    decls = Declarations(saturated)
    designs = []
    for func_id in find_module(saturated, name):
        shape = shape_of(saturated, func_id)
        if widths == "inferred":
            policy = InferredWidths(decls, saturated, shape, _functions_used(saturated, func_id), diagnostics)
        else:
            policy = DeclaredWidths(decls)
        designs.append(emit_module(saturated, shape, policy, decls))
    module = wrap_modules(designs)
    module.verify()
    out = io.StringIO()
    Printer(stream=out, print_debuginfo=True).print_op(module)
    text = out.getvalue() + "\n"
    if verify:
        check(text)
    return Hardware(saturated, tuple(designs), text)


def to_circt_mlir(graph: Graph, name: str | None = None, widths: str = "inferred") -> str:
    """The hw/comb/seq MLIR of the hardware module ``name`` (every one when None), verified by the wheel."""
    return compile_hardware(graph, name, widths).mlir


def to_verilog(graph: Graph, name: str | None = None, widths: str = "inferred") -> str:
    """The SystemVerilog of the hardware module ``name`` (every one when None)."""
    return compile_hardware(graph, name, widths, verify=False).verilog()


def _functions_used(graph: Graph, func_id: int) -> Iterable[int]:
    """``func_id`` and every top-level function or global its body reaches by calls and references."""
    seen, stack = {func_id}, [func_id]
    while stack:
        for region_id in graph.node(stack.pop()).regions:
            for node_id in graph.walk_region(region_id):
                node = graph.node(node_id)
                name = node.attr("callee") if node.kind == "call" else node.attr("name") if node.kind == "ref" else None
                target = graph.symbol(name) if name is not None else None
                if target is not None and target not in seen and graph.node(target).kind in ("func", "global"):
                    seen.add(target)
                    stack.append(target)
    return sorted(seen)

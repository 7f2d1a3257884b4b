"""nanopass: small, composable compiler passes over a Program Semantic Graph.

The public surface: `Graph` and `Builder` (the PSG), `Language`, `Pass` /
`RewritePass` / `Analysis`, `Pipeline`, and the MLIR text form
(`to_mlir`, `from_mlir`).
"""

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.graph import Builder, Graph, Node, Region
from nanopass.language import Kind, Language, kind
from nanopass.pass_ import PASSES, Analysis, Pass, PassContext, RewritePass, Rewriter, Verdict, register
from nanopass.pipeline import PassFailure, Pipeline, PipelineResult

__all__ = [
    "Analysis", "Builder", "Diagnostic", "DiagnosticError", "Graph", "Kind", "Language", "Node",
    "PASSES", "Pass", "PassContext", "PassFailure", "Pipeline", "PipelineResult", "Region",
    "RewritePass", "Rewriter", "Span", "Verdict", "kind", "register",
]

"""nanopass: small, composable compiler passes over a Program Semantic Graph.

The public surface: `Graph` and `Builder` (the PSG), `Language`, `Pass` /
`RewritePass` / `Analysis`, `Pipeline`, the MLIR text form (`to_mlir`,
`from_mlir`), and the front door (`parse`, `run`, `jit`, `profile`,
`default_pipeline`).  The last two groups live in upper layers and are
imported on first use, so that importing the core stays light.
"""

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.graph import Builder, Graph, Node, Region
from nanopass.language import Kind, Language, kind
from nanopass.pass_ import PASSES, Analysis, Pass, PassContext, RewritePass, Rewriter, Verdict, register
from nanopass.pipeline import PassFailure, Pipeline, PipelineResult

_LAZY = {
    "to_mlir": "nanopass.dialects.psg_text",
    "from_mlir": "nanopass.dialects.psg_text",
    "parse": "nanopass.frontend",
    "run": "nanopass.driver",
    "jit": "nanopass.driver",
    "profile": "nanopass.driver",
    "default_pipeline": "nanopass.driver",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nanopass' has no attribute {name!r}")


__all__ = [
    "Analysis", "Builder", "Diagnostic", "DiagnosticError", "Graph", "Kind", "Language", "Node",
    "PASSES", "Pass", "PassContext", "PassFailure", "Pipeline", "PipelineResult", "Region",
    "RewritePass", "Rewriter", "Span", "Verdict", "kind", "register",
    *_LAZY,
]

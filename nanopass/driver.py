"""The top layer: what the CLI and `nanopass.run` / `profile` share.

It loads the pass registry, assembles the default pipeline from the passes
that exist, runs programs given as source text or graphs, and converts
interpreter values to plain Python for printing.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs
import numpy as np

from nanopass.graph import Graph
from nanopass.pass_ import PASSES, Pass
from nanopass.pipeline import Pipeline

# The default pipeline in order; passes that are not built yet are left out.
DEFAULT_PIPELINE = ("elaborate", "reachability", "baker", "coeffects", "color", "widths", "escape")


def registered_passes() -> list[type[Pass]]:
    import nanopass.passes  # noqa: F401  (importing registers every pass)

    return [PASSES[name] for name in sorted(PASSES)]


def default_pipeline() -> Pipeline:
    registered_passes()
    return Pipeline.parse(",".join(name for name in DEFAULT_PIPELINE if name in PASSES))


def as_graph(program: str | bytes | Graph, filename: str = "<input>") -> Graph:
    if isinstance(program, Graph):
        return program
    from nanopass.frontend import parse

    return parse(program, filename=filename)


def run(program: str | bytes | Graph, entry: str, *args: Any,
        externs: Mapping[str, Any] | str | None = None, backend: str = "interp") -> Any:
    """Run ``entry`` of a program (source text or graph) on ``args``."""
    if backend != "interp":
        raise ValueError(f"unknown backend {backend!r} (available: interp)")
    from nanopass.interpreter import run_graph

    return run_graph(as_graph(program), entry, *args, externs=externs)


def profile(program: str | bytes | Graph, entry: str, *args: Any,
            externs: Mapping[str, Any] | str | None = None):
    """Run under the work/span profiler; the result has ``work``, ``span``, ``parallelism``."""
    from nanopass.profiler import profile_graph

    return profile_graph(as_graph(program), entry, *args, externs=externs)


def to_python(value: Any) -> Any:
    """Plain JSON-able Python for an interpreter value."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, Mapping):
        return {str(to_python(k)): to_python(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return {k: to_python(v) for k, v in attrs.asdict(value, recurse=False).items()}
    return value

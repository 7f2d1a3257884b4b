"""The top layer: what the CLI and `nanopass.run` / `profile` share.

It loads the pass registry, assembles the default pipeline from the passes
that exist, runs programs given as source text or graphs, and converts
interpreter values to plain Python for printing.
"""

from __future__ import annotations

from typing import Any, Mapping

from nanopass.graph import Graph
from nanopass.interp.values import to_python  # re-exported: the CLI and tests read results through it
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


BACKENDS = ("interp", "llvm")


def run(program: str | bytes | Graph, entry: str, *args: Any,
        externs: Mapping[str, Any] | str | None = None, backend: str = "interp") -> Any:
    """Run ``entry`` of a program (source text or graph) on ``args``.

    ``backend``: ``interp`` (the reference interpreter) or ``llvm`` (compiled
    width strands, the rest on the interpreter: `nanopass.backends.llvm`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (available: {', '.join(BACKENDS)})")
    if backend == "llvm":
        from nanopass.backends import llvm

        return llvm.run(as_graph(program), entry, *args, externs=externs)
    from nanopass.interpreter import run_graph

    return run_graph(as_graph(program), entry, *args, externs=externs)


def jit(program: str | bytes | Graph, entry: str, externs: Mapping[str, Any] | str | None = None,
        **options: Any):
    """A Python callable for ``entry``, compiled by the LLVM backend (`nanopass.backends.llvm.jit`)."""
    from nanopass.backends import llvm

    return llvm.jit(as_graph(program), entry, externs=externs, **options)


def profile(program: str | bytes | Graph, entry: str, *args: Any,
            externs: Mapping[str, Any] | str | None = None):
    """Run under the work/span profiler; the result has ``work``, ``span``, ``parallelism``."""
    from nanopass.profiler import profile_graph

    return profile_graph(as_graph(program), entry, *args, externs=externs)


# -- the demo: the main job on the bundled examples -----------------------------------
_DEMO_RUNS = (
    # (file, entry, arguments, externs file)
    ("process.clef", "process", ([0.001 * i for i in range(1024)],), "process_externs.py"),
    ("branchy.clef", "process", ([2.0 if i == 7 else 0.0 for i in range(1024)],), "branchy_externs.py"),
    ("dataset.clef", "processDataset", ([0.01 * i for i in range(1000)],), "dataset_externs.py"),
    ("matmul.clef", "matrixMultiply", ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]), None),
    ("montecarlo.clef", "monteCarlo", (100.0, 64), None),
    ("resolver.clef", "resolve", ("app",), "resolver_externs.py"),
)


def _summary(value: Any) -> str:
    text = repr(to_python(value))
    return text if len(text) <= 72 else text[:69] + "..."


def demo(out, examples_dir: str | None = None) -> int:
    """Compile each bundled example through the default pipeline and profile a run."""
    from pathlib import Path

    root = Path(examples_dir) if examples_dir else Path(__file__).resolve().parent.parent / "examples"
    pipeline = default_pipeline()
    out.write(f"default pipeline: {pipeline}\n\n")
    failures = 0
    for file, entry, args, externs in _DEMO_RUNS:
        path = root / file
        graph = as_graph(path.read_bytes(), filename=str(path))
        result = pipeline.run(graph)
        passes = "  ".join(f"{name} {1000 * t:.1f}ms" for name, t in result.timings)
        bindings = str(root / externs) if externs else None
        prof = profile(graph, entry, *args, externs=bindings)
        # Essentials-of-Compilation style: the pipeline's output must compute the same value.
        same = _equal(prof.value, run(result.graph, entry, *args, externs=bindings))
        out.write(f"{file}: {len(graph)} nodes -> {len(result.graph)} after the pipeline ({passes})\n")
        out.write(f"  {entry} = {_summary(prof.value)}   (same after the pipeline: {'yes' if same else 'NO'})\n")
        out.write(f"  work {prof.work}  span {prof.span}  parallelism {prof.parallelism:.1f}x\n\n")
        failures += not same
    return 1 if failures else 0


def _equal(a: Any, b: Any) -> bool:
    return to_python(a) == to_python(b)

"""The LLVM backend (`nanopass.backends.llvm`): compiled width strands, a host-run control strand.

    from nanopass.backends import llvm
    f = llvm.jit(source, "process", externs=...)     # a Python callable
    f(frame)
    llvm.run(source, "monteCarlo", 100.0, 10_000)    # as nanopass.run(..., backend="llvm")
    print(llvm.compile_ir(source))                    # the optimized IR

The pipeline, one concern per module:

* `saturate` (`host`): the program through ``elaborate, reachability,
  baker, coeffects, color`` and `fusion` (which producers run inside their
  consumers: the ``fused`` table);
* `plan`: which functions and which index spaces of host code are native,
  and why the rest is not (`Plan.explain`);
* `emit`: LLVM IR with llvmlite's IR builder, walking the regions through
  the zipper; `types` says how values look there;
* `engine`: -O3 with the new pass manager for the host CPU (vectorizers
  on), MCJIT, and the cache keyed by the structural hash (`hashing`);
* `runtime`: calling compiled code from Python, the thread pool parallel
  index spaces run on, extern callbacks, arrays over compiled code's memory;
* `host`: the braid -- the interpreter runs what is not native, with
  compiled kernels where the control strand waits on width work.

`STATISTICS` counts compiles, cache hits, native calls and parallel
dispatches (the tests read it; so can a user).
"""

from __future__ import annotations

from typing import Any, Mapping

from nanopass.graph import Graph
from nanopass.backends.llvm.engine import STATISTICS, clear_cache
from nanopass.backends.llvm.host import JitFunction, NativeProgram, Options, saturate
from nanopass.backends.llvm.runtime import NativeSymbol

__all__ = ["JitFunction", "NativeProgram", "NativeSymbol", "Options", "STATISTICS", "clear_cache", "compile_ir",
           "jit", "run", "saturate"]

Program = str | bytes | Graph
Externs = Mapping[str, Any] | str | None


def jit(program: Program, entry: str, *, externs: Externs = None, filename: str = "<input>",
        **options: Any) -> JitFunction:
    """A Python callable running ``entry`` of ``program`` natively (or braided, when it is host code).

    ``options`` are `Options` fields: ``parallel``, ``reassociate_floats``, ``workers``, ``threshold``.
    """
    return JitFunction(NativeProgram(program, externs, Options(**options), filename), entry)


def run(program: Program, entry: str, *args: Any, externs: Externs = None, filename: str = "<input>",
        **options: Any) -> Any:
    """Run ``entry`` of ``program`` on ``args`` with the LLVM backend; the result as `nanopass.run` gives it."""
    return NativeProgram(program, externs, Options(**options), filename).call(entry, args)


def compile_ir(program: Program, entry: str | None = None, *, externs: Externs = None, filename: str = "<input>",
               **options: Any) -> str:
    """The optimized LLVM IR of ``entry`` (or of every native function and kernel of the program)."""
    return NativeProgram(program, externs, Options(**options), filename).ir(entry)

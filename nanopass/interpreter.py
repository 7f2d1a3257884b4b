"""The reference interpreter: runs a PSG at every language level.

    Interpreter(graph, externs=...).run("process", samples)
    run_graph(graph, "process", samples, externs="examples/process_externs.py")

`run` converts its arguments by the entry's parameter types (the ``types``
table; inferred from the Python values without one), calls the entry (a
top-level function applied to them, or a top-level value when none are
given), runs an Async result to completion on an asyncio loop, delivers the
actors' queued messages, and returns the result as plain Python
(`nanopass.externs.to_host`: arrays as numpy arrays, lists as lists, ``Map``
as a dict, options as the value or None).  Everything runs on a big-stack
thread (`nanopass.frontend.stack`), so deep recursion does not overflow.
Runtime errors are located `DiagnosticError`s.

The value conventions are those of `nanopass.languages`; how runtime values
carry their types is in `nanopass.interp.values`; how to add the evaluators
of a new level's kinds is in `nanopass.interp.machine` (`register_evaluator`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping

from nanopass.diagnostics import UNKNOWN_SPAN, Diagnostic, DiagnosticError
from nanopass.externs import from_host, load_externs, to_host
from nanopass.frontend import types as T
from nanopass.frontend.stack import run_with_big_stack
from nanopass.graph import Graph
from nanopass.interp import asyncs
from nanopass.interp.machine import EVALUATORS, Factory, Function, Machine, register_evaluator
from nanopass.interp.values import Fault

__all__ = ["Interpreter", "run_graph", "register_evaluator", "EVALUATORS", "Machine"]

Externs = Mapping[str, Callable] | str | None


class Interpreter:
    """Runs entries of one graph; globals and actors persist across `run` calls."""

    def __init__(self, graph: Graph, externs: Externs = None, evaluators: dict[str, Factory] | None = None,
                 profiler: Any = None):
        self.graph = graph
        self.machine = Machine(graph, load_externs(externs), evaluators, profiler)

    def run(self, entry: str, *args: Any) -> Any:
        """``entry`` applied to ``args`` (host values), on a big-stack thread; the result as plain Python."""
        return run_with_big_stack(self.run_here, entry, args)

    def run_here(self, entry: str, args: tuple) -> Any:
        """`run` on the calling thread (which must have a big stack for deep recursion)."""
        value, result_type = self.call(entry, args)
        return to_host(self.machine, value, result_type)

    def call(self, entry: str, args: tuple) -> tuple[Any, Any]:
        """The runtime value of ``entry`` applied to ``args`` (host values), and its static type."""
        m = self.machine
        if entry not in m.declarations:
            names = ", ".join(sorted(n for n, (_, d) in m.declarations.items() if d.kind in ("func", "global")))
            raise DiagnosticError(Diagnostic(UNKNOWN_SPAN, f"the program has no top-level '{entry}'; expected one "
                                                           f"of: {names or '(none)'}"))
        node_id, node = m.declarations[entry]
        declared = m.type_of(node_id)
        fn = m.symbol(entry, node.span)
        try:
            if isinstance(fn, Function):
                params, result_type = _parameters(declared, fn.arity)
                if not args and fn.arity == 1 and params[0] == T.UNIT:
                    args = (None,)
                converted = tuple(from_host(m, a, t) for a, t in zip(args, params + [None] * len(args)))
                value = self._apply(fn, converted) if converted else fn
            else:
                value, result_type = fn, declared
            if isinstance(value, asyncs.AsyncValue):
                value = asyncio.run(asyncs.force(m, value))[0]
                result_type = result_type.args[0] if isinstance(result_type, T.TCon) and result_type.args else None
            m.scheduler.drain()
        except Fault as error:
            raise m.error(node.span, f"running '{entry}': {error}") from None
        return value, result_type


    def _apply(self, fn: Function, args: tuple) -> Any:
        m = self.machine
        if m.profiler is None:
            return m.apply(fn, args)
        from nanopass.interp.profiling import apply_p

        return apply_p(m, fn, 0, args, (0,) * len(args))[0]


def _parameters(t: Any, arity: int) -> tuple[list, Any]:
    params = []
    for _ in range(arity):
        params.append(t.arg if isinstance(t, T.TFun) else None)
        t = t.result if isinstance(t, T.TFun) else None
    return params, t


def run_graph(graph: Graph, entry: str, *args: Any, externs: Externs = None) -> Any:
    """Run ``entry`` of ``graph`` on ``args`` and return the result as plain Python."""
    return Interpreter(graph, externs).run(entry, *args)

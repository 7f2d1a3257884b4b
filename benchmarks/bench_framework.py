"""The pass framework's own cost, side by side with xDSL's PatternRewriteWalker.

Two passes over graphs of 10^4, 10^5 and 10^6 nodes:

* **identity**: a `RewritePass` with no handlers (the generated traversal
  alone) / a `PatternRewriteWalker` whose pattern matches every op and does
  nothing;
* **one-kind rewrite**: ``prim {op = "+"}`` becomes ``prim {op = "-"}``
  (a `RewritePass` with one handler) / ``arith.addi`` becomes ``arith.subi``
  (an ``op_type_rewrite_pattern``, one walk: ``apply_recursively=False``).

nanopass runs over two graphs: one made by `generated_graph` (every kind,
nested regions) and one arith-like chain of the same shape as xDSL's input,
a ``func.func`` whose body is a chain of ``addi``/``muli`` over the previous
value and the latest constant (one constant every 8 ops).  Building the inputs
is not timed.  A time is the best of ``--repeat`` runs (an xDSL input is rebuilt
for every run, so at 10^6 it runs once), measured as this process's CPU time
(`time.process_time`) so that other load on the machine inflates it less.

When `nanopass.dialects.psg_text` is importable, the psg text round trip
(``from_mlir(to_mlir(g))``) is timed too, beside xDSL printing and parsing
its own module of the same size.

Run: ``.venv/bin/python benchmarks/bench_framework.py [--max 1000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from typing import Callable, ClassVar

import attrs
from xdsl.context import Context
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import Builtin, IntegerAttr, ModuleOp, i64
from xdsl.ir import Block, Operation, Region
from xdsl.parser import Parser
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from nanopass.graph import Builder, Graph
from nanopass.languages import Clef
from nanopass.pass_ import PassContext, RewritePass
from nanopass.testing.strategies import generated_graph

CONSTANT_EVERY = 8


# -- nanopass side ---------------------------------------------------------------------
@attrs.frozen
class IdentityPass(RewritePass):
    name: ClassVar[str] = "bench-identity"
    input_language: ClassVar = Clef
    output_language: ClassVar = Clef


@attrs.frozen
class AddToSub(RewritePass):
    name: ClassVar[str] = "bench-add-to-sub"
    input_language: ClassVar = Clef
    output_language: ClassVar = Clef

    def rewrite_prim(self, rw, node_id, node):
        return node.with_attrs(op="-") if node.attr("op") == "+" else None


def chain_graph(n_nodes: int) -> Graph:
    """A function whose body is the arith chain (same shape as `arith_module`)."""
    b = Builder("<chain>")
    with b.region(params=["a"]) as body:
        prev = body.params[0]
        constant = None
        for i in range(n_nodes - 2):  # the func node and its param make up the rest
            if i % CONSTANT_EVERY == 0:
                constant = b.op("const", value=i, type="int")
                continue
            prev = b.op("prim", prev, constant, op="+" if i % 2 else "*")
        body.yields(prev)
    b.op("func", regions=[body.id], name="f", params=("a",))
    return b.build()


def time_nanopass(pass_: RewritePass, graph: Graph, repeat: int) -> tuple[float, int]:
    best, rewrites = math.inf, 0
    for _ in range(repeat):
        ctx = PassContext()
        gc.collect()
        gc.disable()
        start = time.process_time()
        pass_.run(graph, ctx)
        best = min(best, time.process_time() - start)
        gc.enable()
        rewrites = sum(ctx.statistics.values())
    return best, rewrites


# -- xDSL side -----------------------------------------------------------------------------
def arith_module(n_ops: int) -> ModuleOp:
    """``func.func @f(%a: i64)``: a chain of addi/muli over the previous value and the latest constant."""
    block = Block(arg_types=[i64])
    prev, constant, ops = block.args[0], None, []
    for i in range(n_ops - 3):  # module, func and return make up the rest
        if i % CONSTANT_EVERY == 0:
            op = arith.ConstantOp(IntegerAttr(i, i64))
            constant = op.result
        else:
            op = arith.AddiOp(prev, constant) if i % 2 else arith.MuliOp(prev, constant)
            prev = op.result
        ops.append(op)
    ops.append(func.ReturnOp(prev))
    block.add_ops(ops)
    return ModuleOp([func.FuncOp("f", ((i64,), (i64,)), Region(block))])


class NoOp(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        return None


class AddiToSubi(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.AddiOp, rewriter: PatternRewriter) -> None:
        rewriter.replace(op, arith.SubiOp(op.lhs, op.rhs))


def time_walker(pattern: RewritePattern, n_ops: int, repeat: int) -> tuple[float, int]:
    best, rewrites = math.inf, 0
    for _ in range(repeat):
        module = arith_module(n_ops)  # the walker edits in place: a fresh input each run
        gc.collect()
        gc.disable()
        start = time.process_time()
        PatternRewriteWalker(pattern, apply_recursively=False).rewrite_module(module)
        best = min(best, time.process_time() - start)
        gc.enable()
        rewrites = sum(1 for op in module.walk() if isinstance(op, arith.SubiOp))
        del module
    return best, rewrites


def time_xdsl_text(n_ops: int, repeat: int) -> tuple[float, int]:
    context = Context()
    for dialect in (Builtin, func.Func, arith.Arith):
        context.load_dialect(dialect)
    module = arith_module(n_ops)
    best = math.inf
    for _ in range(repeat):
        start = time.process_time()
        Parser(context, str(module)).parse_module()
        best = min(best, time.process_time() - start)
    return best, 0


XDSL = {"identity": lambda n, r: time_walker(NoOp(), n, r),
        "add->sub": lambda n, r: time_walker(AddiToSubi(), n, r),
        "text round trip": time_xdsl_text}


def psg_text_round_trip() -> Callable[[Graph, int], tuple[float, int]] | None:
    try:
        from nanopass.dialects.psg_text import from_mlir, to_mlir
    except ImportError:
        return None

    def run(graph: Graph, repeat: int) -> tuple[float, int]:
        best = math.inf
        for _ in range(repeat):
            start = time.process_time()
            back = from_mlir(to_mlir(graph))
            best = min(best, time.process_time() - start)
        if back != graph:
            raise AssertionError("the psg text round trip changed the graph")
        return best, 0

    return run


# -- driver ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="largest size (a power of ten)")
    parser.add_argument("--min", type=int, default=10_000, help="smallest size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    parser.add_argument("--text-max", type=int, default=10_000,
                        help="largest size for the text round trips (they are slower)")
    args = parser.parse_args()

    sizes = []
    size = args.min
    while size <= args.max:
        sizes.append(size)
        size *= 10
    round_trip = psg_text_round_trip()
    rows: dict[tuple[str, str], dict[int, tuple[float, int]]] = {}

    def record(system: str, task: str, n: int, result: tuple[float, int]) -> None:
        rows.setdefault((system, task), {})[n] = result
        seconds, rewrites = result
        print(f"  {system:<26} {task:<16} n={n:>8}  {seconds:8.3f} s  {1e6 * seconds / n:7.3f} us/node"
              f"  rewrites={rewrites}", flush=True)

    for n in sizes:
        # An xDSL input is rebuilt for every run (its walker edits in place), which is slow at 10^6.
        xdsl_repeat = 1 if n >= 1_000_000 else args.repeat
        print(f"size {n}", flush=True)
        generated, chain = generated_graph(n, seed=0), chain_graph(n)
        for task, pass_ in (("identity", IdentityPass()), ("add->sub", AddToSub())):
            record("nanopass generated", task, n, time_nanopass(pass_, generated, args.repeat))
            record("nanopass chain", task, n, time_nanopass(pass_, chain, args.repeat))
            record("xDSL arith chain", task, n, XDSL[task](n, xdsl_repeat))
        if n <= args.text_max:
            if round_trip is not None:
                record("nanopass generated", "text round trip", n, round_trip(generated, args.repeat))
                record("nanopass chain", "text round trip", n, round_trip(chain, args.repeat))
            record("xDSL arith chain", "text round trip", n, XDSL["text round trip"](n, args.repeat))
        del generated, chain
        gc.collect()
    print()
    print(table(rows, sizes))
    print("\nt(10x)/t: time at the largest size over time at the size ten times smaller "
          "(linear: 10; goal <= 11).")


def table(rows: dict[tuple[str, str], dict[int, tuple[float, int]]], sizes: list[int]) -> str:
    """A markdown table: microseconds per node at each size, and the last scaling ratio."""
    header = ["system", "pass", *(f"us/node n=10^{round(math.log10(n))}" for n in sizes), "t(10x)/t"]
    lines = [header]
    for (system, task), results in rows.items():
        measured = [n for n in sizes if n in results]
        ratio = (f"{results[measured[-1]][0] / results[measured[-2]][0]:.1f}"
                 if len(measured) >= 2 and measured[-1] == 10 * measured[-2] else "")
        lines.append([system, task, *(f"{1e6 * results[n][0] / n:.3f}" if n in results else "" for n in sizes),
                      ratio])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                             enumerate(zip(line, widths))) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


if __name__ == "__main__":
    main()

"""The default pipeline's cost per node on generated programs, side by side with xDSL's canonicalize + cse.

nanopass: modules of generated programs (`nanopass.testing.programs.generated_module`, default
options, top-level names suffixed so that they share a module) of about 10^3 .. 10^5 live nodes.
The front end turns the text into a graph (parse, type-check, lower: "front end"), then
`default_pipeline()` runs on the graph, with its per-pass verification off (as xDSL's
`PassPipeline.apply` does not verify) and on (the default).  The passes' own times at the largest
size are printed too.

xDSL: a ``builtin.module`` of ``func.func``s with bodies of arith ops (integer and float constants,
arithmetic, bitwise ops, comparisons and selects over the function's arguments and earlier values,
drawn from a seeded random, with repeated subexpressions and ``x + 0`` / ``x * 1`` identities for
the passes to find), with as many ops as the nanopass graph has live nodes, and functions of about
the size of a generated program; ``PassPipeline((CanonicalizePass(), CommonSubexpressionElimination()))``
runs on it.  The module is rebuilt for every run (the passes edit in place; building is not timed).

A time is the best of ``--repeat`` runs in this process's CPU time (`time.process_time`: the front
end's big-stack thread is counted, other load on the machine less so).  The scaling exponent is the
slope of a least-squares line through (log nodes, log time): 1.0 is linear.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--max 100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from typing import Callable

from xdsl.context import Context
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import Builtin, FloatAttr, IntegerAttr, ModuleOp, f64, i1, i64
from xdsl.ir import Block, Region, SSAValue
from xdsl.passes import PassPipeline
from xdsl.transforms.canonicalize import CanonicalizePass
from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

from nanopass.driver import default_pipeline
from nanopass.frontend import parse
from nanopass.graph import Graph
from nanopass.testing.programs import generated_module

SIZES = (1_000, 3_000, 10_000, 30_000, 100_000)


# -- nanopass side -------------------------------------------------------------------------------
def live_nodes(graph: Graph) -> int:
    return sum(1 for _ in graph.live_nodes())


def program_source(target: int) -> tuple[str, int]:
    """A module of generated programs (seeds 0, 1, ...) with at least ``target`` live nodes in all, and
    how many programs it holds.  Each program is parsed alone to count its nodes."""
    count, nodes = 0, 0
    while nodes < target:
        nodes += live_nodes(parse(generated_module(count, 1)[0]))
        count += 1
    return generated_module(0, count)[0], count


def best_of(repeat: int, run: Callable[[], object], prepare: Callable[[], object] | None = None) -> tuple[float, object]:
    """The least CPU time of ``repeat`` runs of ``run`` (given ``prepare()``'s result, not timed), and
    that run's result."""
    best, result = math.inf, None
    for _ in range(repeat):
        argument = prepare() if prepare else None
        gc.collect()
        gc.disable()
        start = time.process_time()
        outcome = run(argument) if prepare else run()
        elapsed = time.process_time() - start
        gc.enable()
        if elapsed < best:
            best, result = elapsed, outcome
    return best, result


# -- xDSL side -----------------------------------------------------------------------------------
def arith_module(n_ops: int, ops_per_function: int, seed: int = 0) -> ModuleOp:
    """``func.func``s of arith ops, ``n_ops`` ops in all (functions, returns and the module included)."""
    rng = random.Random(seed)
    functions, made = [], 1  # the module
    while made < n_ops:
        size = min(ops_per_function, n_ops - made)
        functions.append(arith_function(f"f{len(functions)}", max(size - 2, 0), rng))
        made += max(size, 2)
    return ModuleOp(functions)


def arith_function(name: str, n_body: int, rng: random.Random) -> func.FuncOp:
    block = Block(arg_types=[i64, i64, f64])
    ints: list[SSAValue] = list(block.args[:2])
    floats: list[SSAValue] = [block.args[2]]
    bools: list[SSAValue] = []
    ops: list = []
    recent: list = []  # (op class, operands) drawn before: redrawing one makes a common subexpression

    def emit(op) -> None:
        ops.append(op)
        result = op.results[0]
        (floats if result.type == f64 else bools if result.type == i1 else ints).append(result)

    for _ in range(n_body):
        roll = rng.random()
        if roll < 0.15:
            if rng.random() < 0.5:
                emit(arith.ConstantOp(IntegerAttr(rng.choice((0, 1, 2, 7, rng.randrange(-100, 100))), i64)))
            else:
                emit(arith.ConstantOp(FloatAttr(rng.choice((0.0, 1.0, 2.5)), f64)))
        elif roll < 0.25 and recent:
            cls, operands = rng.choice(recent)
            emit(cls(*operands))
        elif roll < 0.65:
            cls = rng.choice((arith.AddiOp, arith.SubiOp, arith.MuliOp, arith.AndIOp, arith.XOrIOp))
            operands = (rng.choice(ints[-8:]), rng.choice(ints[-8:]))
            recent.append((cls, operands))
            emit(cls(*operands))
        elif roll < 0.85:
            cls = rng.choice((arith.AddfOp, arith.SubfOp, arith.MulfOp))
            operands = (rng.choice(floats[-8:]), rng.choice(floats[-8:]))
            recent.append((cls, operands))
            emit(cls(*operands))
        elif roll < 0.93 or not bools:
            emit(arith.CmpiOp(rng.choice(ints[-8:]), rng.choice(ints[-8:]), rng.choice(("slt", "eq", "sge"))))
        else:
            emit(arith.SelectOp(rng.choice(bools[-4:]), rng.choice(ints[-8:]), rng.choice(ints[-8:])))
    ops.append(func.ReturnOp(ints[-1]))
    block.add_ops(ops)
    return func.FuncOp(name, ((i64, i64, f64), (i64,)), Region(block))


def xdsl_context() -> Context:
    context = Context()
    for dialect in (Builtin, func.Func, arith.Arith):
        context.load_dialect(dialect)
    return context


def count_ops(module: ModuleOp) -> int:
    return sum(1 for _ in module.walk())


# -- driver --------------------------------------------------------------------------------------
def slope(points: list[tuple[int, float]]) -> float:
    """The least-squares slope of log t against log n."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--max", type=int, default=100_000, help="largest size in nodes")
    options.add_argument("--repeat", type=int, default=3, help="runs per measurement (the best is kept)")
    args = options.parse_args()
    sizes = [n for n in SIZES if n <= args.max]
    pipeline = default_pipeline()
    context = xdsl_context()
    rows: dict[str, list[tuple[int, float]]] = {}
    passes: dict[str, list[tuple[int, float]]] = {}
    print(f"default pipeline: {pipeline}")
    for target in sizes:
        source, programs = program_source(target)
        repeat = args.repeat if target < 100_000 else max(1, args.repeat - 1)
        front, graph = best_of(repeat, lambda: parse(source, "module.clef"))
        n = live_nodes(graph)
        bare, result = best_of(repeat, lambda: pipeline.run(graph, verify_each=False))
        verified, _ = best_of(repeat, lambda: pipeline.run(graph))
        for name, seconds in result.timings:  # the pipeline's own (wall-clock) time of each pass
            passes.setdefault(name, []).append((n, seconds))
        xdsl_pipeline = PassPipeline((CanonicalizePass(), CommonSubexpressionElimination()))
        peer, module = best_of(repeat, lambda m: (xdsl_pipeline.apply(context, m), m)[1],
                               prepare=lambda: arith_module(n, round(n / programs)))
        after = count_ops(module)
        for name, seconds, count in (("nanopass front end (parse, check, lower)", front, n),
                                     ("nanopass default pipeline, verify off", bare, n),
                                     ("nanopass default pipeline, verify on", verified, n),
                                     ("xDSL canonicalize,cse", peer, n)):
            rows.setdefault(name, []).append((count, seconds))
        print(f"  n={n:>7} nodes ({programs} programs, {source.count(chr(10))} lines): front end {front:.3f} s, pipeline "
              f"{bare:.3f} s ({verified:.3f} s verified); xDSL {peer:.3f} s on {n} ops ({after} after)",
              flush=True)
    print()
    print(table(rows))
    print("\nthe pipeline's passes (their wall-clock time in the best run, verification off):\n")
    print(table(passes))
    print("\nexponent: the slope of log time against log nodes (1.0 is linear).")


def table(rows: dict[str, list[tuple[int, float]]]) -> str:
    """A markdown table: microseconds per node at each size, and the scaling exponent."""
    sizes = [n for n, _ in next(iter(rows.values()))]
    header = ["what", *(f"us/node n={n}" for n in sizes), "exponent"]
    lines = [header]
    for name, points in rows.items():
        lines.append([name, *(f"{1e6 * t / n:.1f}" for n, t in points),
                      f"{slope(points):.2f}" if len(points) > 1 else ""])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                             enumerate(zip(line, widths))) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


if __name__ == "__main__":
    main()

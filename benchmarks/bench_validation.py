"""Translation validation time per pass and per function, side by side with differential testing.

Every example program (examples/*.clef) and generated well-typed programs
(`nanopass.testing.programs`, its ``VALIDATION_PROFILE`` with statements and
nesting varied, functions of up to ``--max-ops`` nodes) go
through the default pipeline with validation on.  Each call of the z3
semantics (one pass, one changed function) and each range check of an
analysis is timed; the table gives, per pass, the count, the median, the
95th percentile and the maximum, and how many verdicts were ``unknown``
(a z3 timeout, ``--timeout`` seconds, is one) or fell back to testing.  The
goals: median under 100 ms, 95th percentile under 1 s.

The peer, on the same (pass, function) pairs: differential testing alone,
the fallback's ``--inputs`` interpreter runs before and after on generated
inputs (what a validator without a solver does, checking a sample rather
than every input).

Run: ``.venv/bin/python benchmarks/bench_validation.py [--programs 40] [--max-ops 200] [--timeout 10] [--slowest 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nanopass import validation  # noqa: E402
from nanopass.driver import default_pipeline  # noqa: E402
from nanopass.frontend import parse  # noqa: E402
from nanopass.graph import Graph  # noqa: E402
from nanopass.smt import Options, install  # noqa: E402
from nanopass.smt.differential import differential_test  # noqa: E402
from nanopass.smt.facts import entry_functions, function_range_verdict  # noqa: E402
from nanopass.testing.programs import VALIDATION_PROFILE, generated_program  # noqa: E402


def function_size(graph: Graph, name: str) -> int:
    node_id = graph.symbol(name)
    if node_id is None:
        return 0
    return sum(1 for region in graph.node(node_id).regions for _ in graph.walk_region(region))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def programs(count: int, max_ops: int) -> list[tuple[str, Graph]]:
    items = [(path.name, parse(path.read_bytes(), filename=str(path))) for path in sorted((ROOT / "examples").glob("*.clef"))]
    wanted, seed = len(items) + count, 0
    while len(items) < wanted and seed < 20 * count:
        # Sizes from a few operations to max_ops: more statements, deeper expressions.
        options = {**VALIDATION_PROFILE, "max_statements": 1 + seed % 7, "max_depth": 2 + seed % 3}
        graph = parse(generated_program(seed, **options).source, filename=f"generated{seed}.clef")
        if all(function_size(graph, name) <= max_ops for name in validation.declarations(graph)):
            items.append((f"generated{seed}", graph))
        seed += 1
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=40, help="generated programs besides the examples")
    parser.add_argument("--max-ops", type=int, default=200, help="the largest generated function, in nodes")
    parser.add_argument("--timeout", type=float, default=10.0, help="z3's timeout per query, in seconds")
    parser.add_argument("--inputs", type=int, default=50, help="inputs of the differential-testing peer")
    parser.add_argument("--slowest", type=int, default=5, help="list the slowest verdicts, with their programs")
    args = parser.parse_args(argv)

    options = Options(timeout_ms=int(args.timeout * 1000), test_inputs=args.inputs)
    semantics = install(options)
    samples: list[tuple[str, str, float, str, int]] = []  # (pass, function, seconds, status, size)
    slow: list[tuple[float, str, str]] = []  # (seconds, program, verdict)
    program = [""]
    pairs: list[tuple[str, Graph, Graph, str]] = []

    def timed_semantics(pass_name: str, before: Graph, after: Graph, function: str):
        start = time.perf_counter()
        verdict = semantics(pass_name, before, after, function)
        spent = time.perf_counter() - start
        samples.append((pass_name, function, spent, verdict.status, function_size(before, function)))
        slow.append((spent, program[0], str(verdict)))
        pairs.append((pass_name, before, after, function))
        return verdict

    def timed_ranges(pass_name: str, before: Graph, after: Graph):  # range_verdicts, one entry at a time
        ranges, verdicts = after.annotation("ranges"), []
        for function in entry_functions(after) if ranges else ():
            start = time.perf_counter()
            verdict = function_range_verdict(pass_name, after, function, ranges, options)
            spent = time.perf_counter() - start
            samples.append((f"{pass_name} (ranges)", function, spent, verdict.status, function_size(after, function)))
            slow.append((spent, program[0], str(verdict)))
            verdicts.append(verdict)
        return verdicts

    validation.SEMANTICS[-1] = timed_semantics
    validation.FACT_CHECKS["ranges"] = timed_ranges
    corpus = programs(args.programs, args.max_ops)
    pipeline = default_pipeline()
    started = time.perf_counter()
    alarms = []
    for name, graph in corpus:
        program[0] = name
        result = pipeline.run(graph, validate=True)
        alarms += [f"{name}: {v}" for v in result.verdicts if v.status == "counterexample"]
    total = time.perf_counter() - started

    testing: dict[str, list[float]] = defaultdict(list)
    for pass_name, before, after, function in pairs:
        start = time.perf_counter()
        differential_test(before, after, function, options)
        testing[pass_name].append(time.perf_counter() - start)

    sizes = [s for *_, s in samples]
    print(f"corpus: {len(corpus)} programs ({args.programs} generated), functions of "
          f"{min(sizes)}..{max(sizes)} nodes; pipeline {pipeline}; z3 timeout {args.timeout:g} s; "
          f"validation total {total:.1f} s")
    header = (f"{'pass':<18} {'verdicts':>8} {'median ms':>10} {'p95 ms':>9} {'max ms':>9} {'unknown':>8} "
              f"{'tested':>7} | {'testing median ms':>17} {'testing p95 ms':>15}")
    print(header)
    print("-" * len(header))
    by_pass: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for pass_name, _, seconds, status, _ in samples:
        by_pass[pass_name].append((seconds, status))
    for pass_name, rows in list(by_pass.items()) + [("all", [(s, st) for p, _, s, st, _ in samples])]:
        times = [1000 * s for s, _ in rows]
        peer = [1000 * t for t in (testing.get(pass_name) or ([t for ts in testing.values() for t in ts]
                                                                if pass_name == "all" else []))]
        peer_text = f"{statistics.median(peer):>17.1f} {percentile(peer, 0.95):>15.1f}" if peer else f"{'-':>17} {'-':>15}"
        print(f"{pass_name:<18} {len(rows):>8} {statistics.median(times):>10.1f} {percentile(times, 0.95):>9.1f} "
              f"{max(times):>9.1f} {sum(1 for _, st in rows if st == 'unknown'):>8} "
              f"{sum(1 for _, st in rows if st == 'tested'):>7} | {peer_text}")
    everything = [1000 * s for _, _, s, _, _ in samples]
    median, p95 = statistics.median(everything), percentile(everything, 0.95)
    print(f"goal: median < 100 ms ({'met' if median < 100 else 'NOT met'}: {median:.1f}), "
          f"p95 < 1000 ms ({'met' if p95 < 1000 else 'NOT met'}: {p95:.1f})")
    if args.slowest:
        print(f"the {args.slowest} slowest:")
        for seconds, name, shown in sorted(slow, reverse=True)[:args.slowest]:
            print(f"  {1000 * seconds:8.1f} ms  {name}: {shown if len(shown) <= 110 else shown[:107] + '...'}")
    if alarms:
        print("counterexamples (false alarms, or bugs the passes really have):")
        for alarm in alarms:
            print("  " + alarm)
    return 0


if __name__ == "__main__":
    sys.exit(main())

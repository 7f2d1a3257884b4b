"""Run N generated programs (default 10^5) through the front end and the interpreter, and
optionally the default pipeline.

Each seed's program (`nanopass.testing.programs.generated_program`) must parse, type-check and
run on its arguments without an error; with ``--pipeline`` the default pipeline's output must
compute the same value (`same_value`).  Prints the count that passed each stage, every failure
as ``seed: stage: message`` (the first ``--show`` with their source), and the time; exits 1 if
anything failed.  Reproduce a failure with ``--seed-from S -n 1``.

    .venv/bin/python tests/fuzz/fuzz_programs.py [-n 100000] [--seed-from 0] [--jobs 2] [--pipeline]
        [--features int,float,...] [--max-depth 3] [--max-functions 3] [--max-statements 6] [--max-size 16]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from nanopass.diagnostics import DiagnosticError
from nanopass.testing.programs import DEFAULT_FEATURES, FEATURES, generated_program, same_value

STAGES = ("generate", "parse", "run", "pipeline", "same")


@functools.lru_cache(maxsize=1)
def _default_pipeline():
    """One pipeline per process (building it loads the pass registry)."""
    from nanopass.driver import default_pipeline

    return default_pipeline()


def check(seed: int, options: dict, pipeline: bool) -> tuple[int, str | None, str]:
    """(seed, the stage that failed or None, what went wrong)."""
    from nanopass.driver import to_python
    from nanopass.frontend import parse
    from nanopass.interpreter import run_graph

    stage = "generate"
    try:
        program = generated_program(seed, **options)
        stage = "parse"
        graph = parse(program.source, f"seed{seed}.clef")
        stage = "run"
        expected = to_python(run_graph(graph, program.entry, *program.args, externs=program.externs))
        if pipeline:
            stage = "pipeline"
            lowered = _default_pipeline().run(graph).graph
            got = to_python(run_graph(lowered, program.entry, *program.args, externs=program.externs))
            stage = "same"
            if not same_value(expected, got):
                return seed, stage, f"the source gives {expected!r}, the pipeline's output {got!r}"
    except DiagnosticError as error:
        return seed, stage, str(error)
    except Exception:  # noqa: BLE001 - any other exception is the finding
        return seed, stage, traceback.format_exc()
    return seed, None, ""


def _check_chunk(seeds: range, options: dict, pipeline: bool) -> list[tuple[int, str | None, str]]:
    return [check(seed, options, pipeline) for seed in seeds]


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("-n", type=int, default=100_000, help="number of programs")
    arguments.add_argument("--seed-from", type=int, default=0, help="the first seed")
    arguments.add_argument("--jobs", type=int, default=1, help="worker processes")
    arguments.add_argument("--pipeline", action="store_true", help="also compare the default pipeline's output")
    arguments.add_argument("--features", default=",".join(sorted(DEFAULT_FEATURES)),
                           help=f"comma-separated, of: {','.join(sorted(FEATURES))}")
    arguments.add_argument("--max-depth", type=int, default=3)
    arguments.add_argument("--max-functions", type=int, default=3)
    arguments.add_argument("--max-statements", type=int, default=6)
    arguments.add_argument("--max-size", type=int, default=16)
    arguments.add_argument("--show", type=int, default=3, help="failures to print with their source")
    options = arguments.parse_args()
    generator_options = {
        "features": frozenset(f for f in options.features.split(",") if f), "max_depth": options.max_depth,
        "max_functions": options.max_functions, "max_statements": options.max_statements,
        "max_size": options.max_size}
    seeds = range(options.seed_from, options.seed_from + options.n)
    chunk = 500
    chunks = [seeds[i:i + chunk] for i in range(0, len(seeds), chunk)]
    started = time.perf_counter()
    failed: Counter = Counter()
    failures: list[tuple[int, str, str]] = []
    if options.jobs > 1:
        with ProcessPoolExecutor(options.jobs) as pool:
            results = pool.map(_check_chunk, chunks, [generator_options] * len(chunks),
                               [options.pipeline] * len(chunks))
            outcomes = [outcome for part in results for outcome in part]
    else:
        outcomes = [outcome for part in chunks for outcome in _check_chunk(part, generator_options, options.pipeline)]
    for seed, stage, message in outcomes:
        if stage is not None:
            failed[stage] += 1
            failures.append((seed, stage, message))
    elapsed = time.perf_counter() - started
    stages = STAGES if options.pipeline else STAGES[:3]
    passed, remaining = [], options.n
    for stage in stages:
        remaining -= failed[stage]
        passed.append(f"{stage} {remaining}")
    for shown, (seed, stage, message) in enumerate(failures):
        first_line = message.strip().splitlines()[0] if message.strip() else ""
        print(f"seed {seed}: {stage}: {first_line}")
        if shown < options.show:
            print(generated_program(seed, **generator_options).source)
            print(message)
    per_program = 1000 * elapsed / max(options.n, 1)
    print(f"{options.n} programs ({', '.join(passed)} passed), {len(failures)} failures, "
          f"{elapsed:.1f} s ({per_program:.2f} ms/program, {options.jobs} job(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""The psg MLIR text round trip, in microseconds per node, side by side with xDSL's parser and mlir-opt.

For graphs of 10^4, 10^5 and (when the smaller sizes predict it finishes
within ``--budget`` seconds) 10^6 nodes made by `generated_graph` in the
`Elaborated` language (every kind, effect tokens, nested regions):

* ``to_mlir``: building the xDSL module and printing it with xDSL's printer;
* ``from_mlir``: the fast reader, which takes text as `to_mlir` prints it;
* peer ``xDSL parse``: `from_mlir_with_xdsl`, xDSL's parser and IR on the
  same text (up to ``--xdsl-max`` nodes: it is the slow one);
* peer ``mlir-opt``: MLIR's C++ parser and verifier on the same text
  (``--allow-unregistered-dialect``, output discarded; wall time of the
  subprocess), when Debian's mlir-22-tools is installed.

Times in process are CPU time (`time.process_time`), best of ``--repeat``
runs; building the input graph is not timed.  The last column is the
scaling ratio t(n)/t(n/10) per node: 1.0 is linear.

Run: ``.venv/bin/python benchmarks/bench_mlir_roundtrip.py [--budget 120] [--repeat 1] [--xdsl-max 100000]``
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import time
from typing import Callable

from nanopass.languages import Elaborated
from nanopass.dialects.psg_text import from_mlir, from_mlir_with_xdsl, to_mlir
from nanopass.testing.strategies import generated_graph

SIZES = (10_000, 100_000, 1_000_000)


def best_cpu_time(work: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    return best, result


def find_mlir_opt() -> str | None:
    found = shutil.which("mlir-opt")
    candidates = sorted(glob.glob("/usr/lib/llvm-*/bin/mlir-opt"), key=lambda p: int(p.split("llvm-")[1].split("/")[0]))
    return found or (candidates[-1] if candidates else None)


def mlir_opt_seconds(mlir_opt: str, text: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False, encoding="utf-8") as fh:
        fh.write(text)
        path = fh.name
    try:
        start = time.perf_counter()
        run = subprocess.run([mlir_opt, "--allow-unregistered-dialect", "-o", os.devnull, path],
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
    finally:
        os.unlink(path)
    if run.returncode != 0:
        raise RuntimeError(f"mlir-opt refused the text:\n{run.stderr[:2000]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0,
                        help="run a size only when the smaller one predicts it takes at most this many seconds")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--xdsl-max", type=int, default=100_000, help="largest size the xDSL parser peer reads")
    args = parser.parse_args()
    mlir_opt = find_mlir_opt()
    if mlir_opt is None:
        print("mlir-opt not found (Debian's mlir-22-tools, `make apt`): its column is left empty")

    header = f"{'nodes':>9} {'to_mlir':>9} {'from_mlir':>10} {'xDSL parse':>11} {'mlir-opt':>9} {'bytes':>6}  scaling t(n)/t(n/10) per node"
    print("microseconds per node (CPU; mlir-opt: wall)")
    print(header)
    previous: tuple[float, float] | None = None
    for n in SIZES:
        if previous is not None and (previous[0] + previous[1]) * n > args.budget:
            print(f"{n:>9} skipped: the last size predicts {(previous[0] + previous[1]) * n:.0f} s "
                  f"for to_mlir + from_mlir, over the --budget of {args.budget:.0f} s")
            break
        graph = generated_graph(n, seed=0, language=Elaborated)
        nodes = len(graph)
        print_seconds, text = best_cpu_time(lambda: to_mlir(graph), args.repeat)
        read_seconds, back = best_cpu_time(lambda: from_mlir(text), args.repeat)
        if back != graph:
            raise AssertionError(f"the round trip of {n} nodes changed the graph")
        xdsl = "-"
        if n <= args.xdsl_max:
            xdsl_seconds, _ = best_cpu_time(lambda: from_mlir_with_xdsl(text), 1)
            xdsl = f"{1e6 * xdsl_seconds / nodes:11.1f}"
        native = f"{1e6 * mlir_opt_seconds(mlir_opt, text) / nodes:9.1f}" if mlir_opt else "-"
        per_node = (print_seconds / nodes, read_seconds / nodes)
        scaling = ""
        if previous is not None:
            scaling = f"to_mlir {per_node[0] / previous[0]:.2f}, from_mlir {per_node[1] / previous[1]:.2f}"
        print(f"{nodes:>9} {1e6 * per_node[0]:9.1f} {1e6 * per_node[1]:10.1f} {xdsl:>11} {native:>9} "
              f"{len(text.encode('utf-8')) / nodes:6.0f}  {scaling}", flush=True)
        previous = per_node


if __name__ == "__main__":
    main()

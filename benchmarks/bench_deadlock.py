"""Benchmark: deciding actor deadlock freedom, our method beside whole-graph z3 and networkx's cycle check.

Wait-for graphs of n actors and 5n edges, acyclic and with one planted
cycle, are decided three ways:

* ours: `decide(g)` (networkx SCCs, candidate ranks from a topological
  order checked by z3 as constants and edge by edge; z3 refutes each cyclic
  component's shortest cycle through an unsat core);
* whole-graph z3: `decide(g, method="z3")`, every edge a rank constraint;
* networkx's plain checks: `nx.is_directed_acyclic_graph` (a yes or no:
  no ranks, no witness) and `nx.find_cycle` (a witness cycle or none); no
  certificate for acyclic graphs, nothing checked by z3.

A last row times the whole analysis on a module of 10^4 actor declarations
with 5*10^4 posts built with `nanopass.Builder`: `check_deadlock(graph)`
(wait-for graph from the PSG, then the decision).

    .venv/bin/python benchmarks/bench_deadlock.py [--sizes 100 1000 10000] [--z3-timeout 60]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nanopass import Builder, Graph  # noqa: E402
from nanopass.passes.deadlock import DEADLOCK, DEADLOCK_FREE, check_deadlock, decide  # noqa: E402

EDGES_PER_ACTOR = 5


def random_dag(n: int, m: int, seed: int) -> nx.DiGraph:
    """n nodes, m edges, all from a higher to a lower position of a shuffled order."""
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    edges: set[tuple[int, int]] = set()
    while len(edges) < m:
        i, j = rng.randrange(n), rng.randrange(n)
        if i > j:
            edges.add((order[i], order[j]))
    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(n))
    digraph.add_edges_from(sorted(edges))
    return digraph


def plant_cycle(digraph: nx.DiGraph, length: int, seed: int) -> nx.DiGraph:
    rng = random.Random(seed)
    members = rng.sample(list(digraph), length)
    planted = digraph.copy()
    planted.add_edges_from(zip(members, members[1:] + members[:1]))
    return planted


def timed(run, repeat: int) -> tuple[float, object]:
    """The best of ``repeat`` runs (a shared machine adds noise, never speed) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def networkx_is_dag(digraph: nx.DiGraph) -> str:
    return DEADLOCK_FREE if nx.is_directed_acyclic_graph(digraph) else DEADLOCK


def networkx_find_cycle(digraph: nx.DiGraph) -> str:
    try:
        nx.find_cycle(digraph)
    except nx.NetworkXNoCycle:
        return DEADLOCK_FREE
    return DEADLOCK


def actor_module(n: int, m: int, seed: int) -> Graph:
    """n actors whose handlers post m times in all, along the edges of a random DAG."""
    digraph = random_dag(n, m, seed)
    b = Builder("bench.clef")
    for actor in range(n):
        with b.region() as decl:
            init = b.op("const", value=0, type="int")
            with b.region(params=["state", "msg"], effect=True) as handler:
                state, msg = handler.params
                reply = msg
                for callee in digraph.successors(actor):
                    reply = b.effect_op("post", b.op("ref", name=f"a{callee}"), reply)
                handler.yields(state, reply)
            decl.yields(b.op("actor", init, regions=[handler.id]))
        b.op("global", regions=[decl.id], name=f"a{actor}")
    return b.build()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--z3-timeout", type=float, default=60.0, help="seconds for whole-graph z3")
    parser.add_argument("--repeat", type=int, default=5, help="runs of ours and networkx (best of)")
    args = parser.parse_args()
    timeout_ms = int(args.z3_timeout * 1000)

    header = (f"{'actors':>7} {'edges':>7} {'graph':<14} {'verdict':<14} {'ours':>10} {'z3 whole graph':>18} "
              f"{'nx is_dag':>10} {'nx find_cycle':>14}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        dag = random_dag(n, EDGES_PER_ACTOR * n, seed=n)
        for label, digraph in (("acyclic", dag), ("planted cycle", plant_cycle(dag, 5, seed=n))):
            ours_s, ours = timed(lambda: decide(digraph), args.repeat)
            dag_s, dag_verdict = timed(lambda: networkx_is_dag(digraph), args.repeat)
            find_s, find_verdict = timed(lambda: networkx_find_cycle(digraph), args.repeat)
            z3_s, whole = timed(lambda: decide(digraph, method="z3", z3_timeout_ms=timeout_ms), 1)
            if whole.verdict not in ("unknown", ours.verdict) or {dag_verdict, find_verdict} != {ours.verdict}:
                raise SystemExit(f"disagreement on {label} n={n}: ours {ours.verdict}, z3 {whole.verdict}, "
                                 f"networkx {dag_verdict} / {find_verdict}")
            z3_cell = f"{z3_s * 1e3:.1f} ms" if whole.verdict != "unknown" else f"unknown ({z3_s:.0f} s)"
            print(f"{n:>7} {digraph.number_of_edges():>7} {label:<14} {ours.verdict:<14} "
                  f"{ours_s * 1e3:>7.1f} ms {z3_cell:>18} {dag_s * 1e3:>7.1f} ms {find_s * 1e3:>11.1f} ms", flush=True)

    n = max(args.sizes)
    start = time.perf_counter()
    module = actor_module(n, EDGES_PER_ACTOR * n, seed=n)
    built_s = time.perf_counter() - start
    check_s, report = timed(lambda: check_deadlock(module), args.repeat)
    print(f"\nmodule of {n} actor declarations, {len(module)} nodes (built in {built_s:.2f} s): "
          f"check_deadlock {check_s * 1e3:.1f} ms, verdict {report.verdict}, "
          f"{report.wait_for.digraph.number_of_edges()} wait-for edges")


if __name__ == "__main__":
    main()

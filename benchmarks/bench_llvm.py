"""The LLVM backend's kernels side by side with Numba, numpy, clang -O3 and CPython, in one run.

The suite (`benchmarks/kernels/kernels.clef`, and the same algorithms in
`kernels.c`, as Numba functions and as numpy code below): the seed examples
that are compute kernels -- process, branchy, dataset (their externs written
as Clef functions), matmul, montecarlo, timeseries, nappy -- plus jacobi-1d,
gemm, a 2-D five-point stencil, a three-stage map with a sum (chain) and a
compute-bound map (heavy: sin, exp, sqrt per element).  Sizes are chosen so
that each compiled run takes about 0.1 s or more on this machine.

Columns, each the best of ``--repeat`` timed runs after one untimed warm-up:

* ``nanopass 1``: the LLVM backend with one worker (serial), the baseline
  every ratio divides; ``nanopass 2``: two workers (the thread pool);
* ``numba``: ``@njit`` (serial); ``numba par``: ``@njit(parallel=True)`` with
  ``prange`` on the same loop the backend splits;
* ``numpy``: written as a numpy user would (``a @ b`` for matmul and gemm:
  BLAS, a different algorithm -- shown, not hidden);
* ``clang``: the same loops in C, ``clang -O3 -march=native``, called through
  ctypes (skipped when clang is not installed);
* ``CPython``: plain loops over lists, run on a smaller problem and scaled
  by the work ratio (marked ``~``).

A ratio is that column's time over ``nanopass 1``'s (above 1: nanopass is
faster).  Then the goals, as geometric means: Numba serial over nanopass
serial (at least 1), nanopass's speed-up from one to two workers on the
compute-bound maps (at least 1.7), numpy over nanopass on the fused
pipelines (kernels where the backend fused a map into its consumer; at least
2).  Beside them, how many cores the 2-worker runs kept busy (CPU time over
wall time) and the load average: on a machine other processes share, that
figure, not the wall-clock ratio, says whether the pool ran both workers.
Then compile time per kernel: nanopass's pipeline (parse to the fused
Saturated graph, once for the whole file) and its per-kernel LLVM compile
(emit, -O3, MCJIT), against Numba's compile of the same kernel.  Last, the
extern call cost: ``process`` with its externs as Python callbacks, as
native C symbols, and written in Clef.

Run: ``.venv/bin/python benchmarks/bench_llvm.py [--repeat 5] [--scale 1.0] [--only NAME,...]``
(needs numba and clang: ``make bench-install`` installs both).
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import attrs
import numba
import numpy as np
from numba import njit, prange

from nanopass.backends import llvm
from nanopass.interp.values import Float32

HERE = Path(__file__).resolve().parent
KERNELS = HERE / "kernels"
EXAMPLES = HERE.parent / "examples"
SOURCE = (KERNELS / "kernels.clef").read_text()


# -- Numba (one Python function per kernel, compiled serial and parallel) ---------------------------------
def nb_process(frame):
    out = np.empty_like(frame)
    for i in prange(frame.shape[0]):
        c = 2.0 * frame[i] - 0.5
        s = c * c
        out[i] = s / (1.0 + abs(s))
    return out


def nb_branchy(frame):
    out = np.empty_like(frame)
    for i in prange(frame.shape[0]):
        scored = frame[i] / 2.0
        out[i] = scored + 0.125 if scored > 0.75 else scored
    return out


def nb_dataset(data):
    total = 0.0
    first = True
    for i in range(data.shape[0]):
        x = data[i] * 0.5
        if x > 0.25:
            total = x if first else total + x
            first = False
    return total


def nb_matmul(a, b):
    n, k = a.shape
    m = b.shape[1]
    c = np.empty((n, m))
    for i in prange(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]
            c[i, j] = acc
    return c


@njit
def nb_hash(x):
    a = (x ^ (x >> 33)) * np.int64(0x62A9D9ED799705F5)
    return a ^ (a >> 28)


def nb_monte_carlo(spot, scenarios):
    values = np.empty(scenarios)
    for i in prange(scenarios):
        price = spot
        for step in range(252):
            u = float(nb_hash(np.int64(i) * np.int64(1000003) + np.int64(step)) & 0xFFFFFF) / 16777216.0
            price = price * (1.0 + 0.02 * (u - 0.5))
        values[i] = price
    total = 0.0
    for i in range(scenarios):
        total += values[i]
    return total / scenarios


def nb_timeseries(data):
    count = max(0, data.shape[0] - 99)
    variances = np.empty(count)
    flags = np.empty(count, dtype=np.bool_)
    for i in prange(count):
        mu = nb_mean(data[i:i + 100])
        s = 0.0
        for j in range(100):
            s += (data[i + j] - mu) * (data[i + j] - mu)
        v = s / 100.0
        variances[i] = v
        flags[i] = abs(data[i + 99] - nb_mean(data[i:i + 100])) > 3.0 * math.sqrt(v)  # the mean again, as written
    return variances, flags


@njit
def nb_mean(w):
    total = 0.0
    for x in w:
        total += x
    return total / w.shape[0]


def nb_nappy(n):
    data = np.empty(n, dtype=np.float32)
    for i in prange(n):
        data[i] = np.float32(i)
    out = np.empty(n, dtype=np.float32)
    for i in prange(n):
        out[i] = data[i] * np.float32(3.0) + np.float32(1.0)
    total = np.float32(0.0)
    for i in range(n):
        total += out[i]
    return total


def nb_jacobi(a, steps):
    n = a.shape[0]
    b = a.copy()
    c = a.copy()
    for _ in range(steps):
        for i in prange(1, n - 1):
            c[i] = 0.33333 * (b[i - 1] + b[i] + b[i + 1])
        for i in prange(1, n - 1):
            b[i] = 0.33333 * (c[i - 1] + c[i] + c[i + 1])
    return b


def nb_gemm(alpha, beta, a, b, c):
    n, k = a.shape
    m = b.shape[1]
    out = np.empty((n, m))
    for i in prange(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]
            out[i, j] = alpha * acc + beta * c[i, j]
    return out


def nb_stencil(g):
    rows, cols = g.shape
    out = np.empty_like(g)
    for i in prange(rows):
        for j in range(cols):
            if i == 0 or j == 0 or i == rows - 1 or j == cols - 1:
                out[i, j] = g[i, j]
            else:
                out[i, j] = 0.2 * (g[i, j] + g[i - 1, j] + g[i + 1, j] + g[i, j - 1] + g[i, j + 1])
    return out


def nb_chain(xs):
    total = 0.0
    for i in range(xs.shape[0]):
        x = xs[i] * 2.0 + 1.0
        x = x * x
        total += x - 3.0
    return total


def nb_heavy(xs):
    out = np.empty_like(xs)
    for i in prange(xs.shape[0]):
        out[i] = math.sin(xs[i]) * math.exp(0.001 * xs[i]) + math.sqrt(abs(xs[i]))
    return out


# -- numpy, as a numpy user writes it ----------------------------------------------------------------------------
def np_monte_carlo(spot, scenarios):
    seeds = np.arange(scenarios, dtype=np.int64) * np.int64(1000003)
    price = np.full(scenarios, spot)
    with np.errstate(over="ignore"):
        for step in range(252):
            x = seeds + np.int64(step)
            a = (x ^ (x >> 33)) * np.int64(0x62A9D9ED799705F5)
            u = ((a ^ (a >> 28)) & 0xFFFFFF).astype(np.float64) / 16777216.0
            price *= 1.0 + 0.02 * (u - 0.5)
    return price.sum() / scenarios


def np_timeseries(data):
    windows = np.lib.stride_tricks.sliding_window_view(data, 100)
    mu = windows.mean(axis=1)
    v = windows.var(axis=1)
    return v, np.abs(windows[:, 99] - mu) > 3.0 * np.sqrt(v)


def np_jacobi(a, steps):
    b, c = a.copy(), a.copy()
    for _ in range(steps):
        c[1:-1] = 0.33333 * (b[:-2] + b[1:-1] + b[2:])
        b[1:-1] = 0.33333 * (c[:-2] + c[1:-1] + c[2:])
    return b


def np_stencil(g):
    out = g.copy()
    out[1:-1, 1:-1] = 0.2 * (g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:])
    return out


def np_dataset(data):
    y = data * 0.5
    return y[y > 0.25].sum()


def np_process(frame):
    s = (2.0 * frame - 0.5) ** 2
    return s / (1.0 + np.abs(s))


def np_branchy(frame):
    s = frame / 2.0
    return np.where(s > 0.75, s + 0.125, s)


def np_nappy(n):
    return (np.arange(n, dtype=np.float32) * np.float32(3.0) + np.float32(1.0)).sum(dtype=np.float32)


# -- CPython, plain loops over lists ----------------------------------------------------------------------------------
def py_process(frame):
    out = []
    for v in frame:
        s = (2.0 * v - 0.5) ** 2
        out.append(s / (1.0 + abs(s)))
    return out


def py_branchy(frame):
    return [(v / 2.0 + 0.125 if v / 2.0 > 0.75 else v / 2.0) for v in frame]


def py_dataset(data):
    kept = [x * 0.5 for x in data if x * 0.5 > 0.25]
    total = kept[0]
    for x in kept[1:]:
        total += x
    return total


def py_matmul(a, b):
    n, k, m = len(a), len(a[0]), len(b[0])
    return [[sum(a[i][p] * b[p][j] for p in range(k)) for j in range(m)] for i in range(n)]


def py_monte_carlo(spot, scenarios):
    def wrap(x):
        return ((x + (1 << 63)) % (1 << 64)) - (1 << 63)

    total = 0.0
    for i in range(scenarios):
        price = spot
        for step in range(252):
            x = wrap(i * 1000003 + step)
            a = wrap((x ^ (x >> 33)) * 0x62A9D9ED799705F5)
            u = float((a ^ (a >> 28)) & 0xFFFFFF) / 16777216.0
            price = price * (1.0 + 0.02 * (u - 0.5))
        total += price
    return total / scenarios


def py_timeseries(data):
    out = []
    for i in range(len(data) - 99):
        w = data[i:i + 100]
        mu = sum(w) / 100.0
        v = sum((x - mu) * (x - mu) for x in w) / 100.0
        out.append((v, abs(w[99] - mu) > 3.0 * math.sqrt(v)))
    return out


def py_nappy(n):
    return sum(float(i) * 3.0 + 1.0 for i in range(n))


def py_jacobi(a, steps):
    b, c = list(a), list(a)
    for _ in range(steps):
        for i in range(1, len(a) - 1):
            c[i] = 0.33333 * (b[i - 1] + b[i] + b[i + 1])
        for i in range(1, len(a) - 1):
            b[i] = 0.33333 * (c[i - 1] + c[i] + c[i + 1])
    return b


def py_gemm(alpha, beta, a, b, c):
    n, k, m = len(a), len(a[0]), len(b[0])
    return [[alpha * sum(a[i][p] * b[p][j] for p in range(k)) + beta * c[i][j] for j in range(m)] for i in range(n)]


def py_stencil(g):
    rows, cols = len(g), len(g[0])
    return [[g[i][j] if i in (0, rows - 1) or j in (0, cols - 1) else
             0.2 * (g[i][j] + g[i - 1][j] + g[i + 1][j] + g[i][j - 1] + g[i][j + 1]) for j in range(cols)]
            for i in range(rows)]


def py_chain(xs):
    total = 0.0
    for v in xs:
        x = (v * 2.0 + 1.0) ** 2
        total += x - 3.0
    return total


def py_heavy(xs):
    return [math.sin(v) * math.exp(0.001 * v) + math.sqrt(abs(v)) for v in xs]


# -- clang -----------------------------------------------------------------------------------------------------------
def build_c() -> ctypes.CDLL | None:
    clang = shutil.which("clang")
    if clang is None:
        return None
    out = Path(tempfile.mkdtemp(prefix="nanopass-bench-")) / "kernels.so"
    subprocess.run([clang, "-O3", "-march=native", "-shared", "-fPIC", str(KERNELS / "kernels.c"), "-o", str(out),
                    "-lm"], check=True)
    return ctypes.CDLL(str(out))


def pointer(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def c_kernels(lib: ctypes.CDLL) -> dict[str, Callable]:
    d, L, I, F = ctypes.c_double, ctypes.c_long, ctypes.c_int, ctypes.c_float
    for name, restype in (("dataset", d), ("monte_carlo", d), ("nappy", F), ("chain", d)):
        getattr(lib, name).restype = restype

    def into(fn, source):
        out = np.empty_like(source)
        fn(pointer(source), pointer(out), L(source.size))
        return out

    def matmul(a, b):
        c = np.empty((a.shape[0], b.shape[1]))
        lib.matmul(pointer(a), pointer(b), pointer(c), L(a.shape[0]), L(a.shape[1]), L(b.shape[1]))
        return c

    def gemm(alpha, beta, a, b, c):
        out = np.empty_like(c)
        lib.gemm(d(alpha), d(beta), pointer(a), pointer(b), pointer(c), pointer(out), L(a.shape[0]), L(a.shape[1]),
                 L(b.shape[1]))
        return out

    def timeseries(data):
        count = max(0, data.size - 99)
        v, f = np.empty(count), np.empty(count, dtype=np.uint8)
        lib.timeseries(pointer(data), L(data.size), pointer(v), pointer(f))
        return v, f.astype(bool)

    def jacobi(a, steps):
        b = np.empty_like(a)
        lib.jacobi(pointer(a), pointer(b), L(a.size), I(steps))
        return b

    def stencil(g):
        out = np.empty_like(g)
        lib.stencil(pointer(g), pointer(out), L(g.shape[0]), L(g.shape[1]))
        return out

    return {
        "process": lambda f: into(lib.process, f), "branchy": lambda f: into(lib.branchy, f),
        "dataset": lambda x: lib.dataset(pointer(x), L(x.size)), "matmul": matmul,
        "monteCarlo": lambda s, n: lib.monte_carlo(d(s), I(n)), "timeseries": timeseries,
        "nappy": lambda n: lib.nappy(I(n)), "jacobi": jacobi, "gemm": gemm, "stencil": stencil,
        "chain": lambda x: lib.chain(pointer(x), L(x.size)), "heavy": lambda x: into(lib.heavy, x),
    }


# -- the suite ---------------------------------------------------------------------------------------------------------
@attrs.frozen
class Kernel:
    name: str  # the Clef entry
    make: Callable[[float], tuple]  # scale -> arguments
    numba_fn: Callable
    numpy_fn: Callable
    python_fn: Callable
    python_args: Callable[[tuple], tuple]  # a smaller problem for CPython
    python_work: Callable[[tuple, tuple], float]  # how many times more work the full problem is
    compute_bound: bool


def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def linear(args: tuple, small: tuple) -> float:
    return args[0].size / len(small[0])


SUITE = [
    Kernel("process", lambda s: (rng().random(int(30e6 * s)),), nb_process, np_process, py_process,
           lambda a: (a[0][:200_000].tolist(),), linear, False),
    Kernel("branchy", lambda s: (rng().random(int(30e6 * s)) * 3.0,), nb_branchy, np_branchy, py_branchy,
           lambda a: (a[0][:200_000].tolist(),), linear, False),
    Kernel("dataset", lambda s: (rng().random(int(20e6 * s)),), nb_dataset, np_dataset, py_dataset,
           lambda a: (a[0][:200_000].tolist(),), linear, False),
    Kernel("matmul", lambda s: (rng().random((int(500 * s), 500)), rng().random((500, 500))), nb_matmul,
           lambda a, b: a @ b, py_matmul, lambda a: (a[0][:50].tolist(), a[1].tolist()),
           lambda args, small: args[0].shape[0] / len(small[0]), True),
    Kernel("monteCarlo", lambda s: (100.0, int(200_000 * s)), nb_monte_carlo, np_monte_carlo, py_monte_carlo,
           lambda a: (a[0], 2000), lambda args, small: args[1] / small[1], True),
    Kernel("timeseries", lambda s: (np.sin(np.arange(int(300_000 * s)) / 50.0),), nb_timeseries, np_timeseries,
           py_timeseries, lambda a: (a[0][:20_099].tolist(),), lambda args, small: (args[0].size - 99) / 20_000, True),
    Kernel("nappy", lambda s: (int(50e6 * s),), nb_nappy, np_nappy, py_nappy, lambda a: (500_000,),
           lambda args, small: args[0] / small[0], False),
    Kernel("jacobi", lambda s: (rng().random(int(1e6 * s)), 60), nb_jacobi, np_jacobi, py_jacobi,
           lambda a: (a[0][:100_000].tolist(), 6), lambda args, small: args[0].size * 60 / 600_000, False),
    Kernel("gemm", lambda s: (1.5, 0.5, rng().random((int(500 * s), 500)), rng().random((500, 500)),
                              rng().random((int(500 * s), 500))), nb_gemm,
           lambda al, be, a, b, c: al * (a @ b) + be * c, py_gemm,
           lambda a: (a[0], a[1], a[2][:50].tolist(), a[3].tolist(), a[4][:50].tolist()),
           lambda args, small: args[2].shape[0] / len(small[2]), True),
    Kernel("stencil", lambda s: (rng().random((int(4000 * s), 4000)),), nb_stencil, np_stencil, py_stencil,
           lambda a: (a[0][:200].tolist(),), lambda args, small: args[0].shape[0] / len(small[0]), False),
    Kernel("chain", lambda s: (rng().random(int(30e6 * s)),), nb_chain, lambda x: ((x * 2.0 + 1.0) ** 2 - 3.0).sum(),
           py_chain, lambda a: (a[0][:200_000].tolist(),), linear, False),
    Kernel("heavy", lambda s: (rng().random(int(5e6 * s)) * 20.0,), nb_heavy,
           lambda x: np.sin(x) * np.exp(0.001 * x) + np.sqrt(np.abs(x)), py_heavy,
           lambda a: (a[0][:200_000].tolist(),), linear, True),
]


def best(fn: Callable, args: tuple, repeat: int) -> float:
    return timed(fn, args, repeat)[0]


def timed(fn: Callable, args: tuple, repeat: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeat`` runs after a warm-up; CPU counts every thread."""
    fn(*args)
    runs = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn(*args)
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(runs)


def close(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) or (isinstance(a, np.ndarray) and a.dtype == object):
        if isinstance(a, np.ndarray):
            a = (np.array([x[0] for x in a]), np.array([x[1] for x in a]))
        return all(close(x, y) for x, y in zip(a, b))
    # A float32 sum of 5e7 terms depends much on its order (numpy's is pairwise): compare those loosely.
    loose = any(isinstance(v, (Float32, np.float32)) or np.asarray(v).dtype == np.float32 for v in (a, b))
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0.1 if loose else 1e-6,
                            atol=1e-9))


def geomean(values: list[float]) -> float:
    values = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="problem size factor")
    parser.add_argument("--only", help="comma-separated kernel names")
    options = parser.parse_args()
    suite = [k for k in SUITE if not options.only or k.name in options.only.split(",")]
    cores = os.cpu_count()
    print(f"nanopass LLVM backend vs Numba {numba.__version__} / numpy {np.__version__} / clang -O3 / CPython; "
          f"{cores} cores; best of {options.repeat}; times in ms\n")

    start = time.perf_counter()
    llvm.clear_cache()
    graph = llvm.saturate(SOURCE, str(KERNELS / "kernels.clef"))
    pipeline_seconds = time.perf_counter() - start
    serial = llvm.NativeProgram(graph, options=llvm.Options(workers=1))
    split = llvm.NativeProgram(graph, options=llvm.Options(workers=2))
    clang = build_c()
    c = c_kernels(clang) if clang is not None else {}
    facts = serial.plan.facts
    fused_entries = {graph.node(facts.declaration_of(p)).attr("name") for p in serial.plan.fused}

    header = (f"{'kernel':<11} {'nanopass 1':>10} {'nanopass 2':>10} {'numba':>9} {'numba par':>9} {'numpy':>9} "
              f"{'clang':>9} {'CPython':>11}   ratios to nanopass 1: 2-core speed-up, numba, numba par, numpy, "
              f"clang, CPython")
    print(header)
    rows = []
    compile_rows = []
    cores_used: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    for kernel in suite:
        args = kernel.make(options.scale)
        compile_start = time.perf_counter()
        mine = serial.function(kernel.name)
        compile_seconds = time.perf_counter() - compile_start
        mine_split = split.function(kernel.name)
        serial_nb = njit(kernel.numba_fn)
        parallel_nb = njit(parallel=True)(kernel.numba_fn)
        signature = tuple(numba.typeof(a) for a in args)
        fresh = njit(kernel.numba_fn)
        numba_start = time.perf_counter()
        fresh.compile(signature)
        numba_compile = time.perf_counter() - numba_start
        reference = mine(*args)
        for label, fn in (("numba", serial_nb), ("numba par", parallel_nb), ("numpy", kernel.numpy_fn),
                          ("clang", c.get(kernel.name))):
            if fn is not None and not close(reference, fn(*args)):
                print(f"  ({kernel.name}: {label} disagrees with nanopass)")
        t = {"nanopass 1": best(mine, args, options.repeat),
             "numba": best(serial_nb, args, options.repeat), "numba par": best(parallel_nb, args, options.repeat),
             "numpy": best(kernel.numpy_fn, args, options.repeat)}
        t["nanopass 2"], cpu = timed(mine_split, args, options.repeat)
        cores_used[kernel.name] = cpu / t["nanopass 2"]
        t["clang"] = best(c[kernel.name], args, options.repeat) if kernel.name in c else float("nan")
        small = kernel.python_args(args)
        t["CPython"] = best(kernel.python_fn, small, 1) * kernel.python_work(args, small)
        base = t["nanopass 1"]
        ratios = [base / t["nanopass 2"]] + [t[k] / base for k in ("numba", "numba par", "numpy", "clang", "CPython")]
        rows.append((kernel, t, ratios))
        compile_rows.append((kernel.name, compile_seconds, numba_compile))
        cells = " ".join(f"{1000 * t[k]:>10.1f}" if k.startswith("nanopass") else f"{1000 * t[k]:>9.1f}"
                         for k in ("nanopass 1", "nanopass 2", "numba", "numba par", "numpy", "clang"))
        ratio_text = "  ".join(f"{r:6.2f}" if math.isfinite(r) else "   n/a" for r in ratios[:-1])
        print(f"{kernel.name:<11} {cells} {'~' + format(1000 * t['CPython'], '.0f'):>11}   {ratio_text}  "
              f"{ratios[-1]:8.0f}")

    numba_serial = geomean([r[2][1] for r in rows])
    compute = [r[2][0] for r in rows if r[0].compute_bound]
    fused = [r[2][3] for r in rows if r[0].name in fused_entries]
    print("\ngeometric means")
    print(f"  numba serial / nanopass serial        {numba_serial:6.2f}   (goal >= 1)")
    print(f"  nanopass 1 -> 2 workers, compute-bound {geomean(compute):6.2f}x  (goal >= 1.7; "
          f"{', '.join(r[0].name for r in rows if r[0].compute_bound)})")
    print(f"  numpy / nanopass, fused pipelines     {geomean(fused):6.2f}   (goal >= 2; "
          f"{', '.join(r[0].name for r in rows if r[0].name in fused_entries)})")
    print(f"  numba par / nanopass 2 workers        "
          f"{geomean([r[1]['numba par'] / r[1]['nanopass 2'] for r in rows]):6.2f}")
    print(f"  clang -O3 / nanopass serial           {geomean([r[2][4] for r in rows]):6.2f}")
    load = max(load_before, os.getloadavg()[0])
    print(f"\nthe 2-worker runs: cores busy on average (CPU time / wall time; 2.0 is both workers all along); "
          f"load average {load:.1f} on {cores} cores")
    print("  " + "  ".join(f"{name} {used:.2f}" for name, used in cores_used.items()))
    if load > 0.5 * (cores or 1):
        print("  (other processes share the cores: the 2-worker wall times and speed-ups above are not the "
              "machine's)")

    print(f"\ncompile time (ms): nanopass pipeline for the whole file, once: {1000 * pipeline_seconds:.0f}")
    print(f"{'kernel':<11} {'nanopass':>9} {'numba':>9}   (nanopass: emit + -O3 + MCJIT of the kernel and its callees)")
    for name, mine_seconds, numba_seconds in compile_rows:
        print(f"{name:<11} {1000 * mine_seconds:>9.0f} {1000 * numba_seconds:>9.0f}")
    print(f"{'geomean':<11} {1000 * geomean([r[1] for r in compile_rows]):>9.0f} "
          f"{1000 * geomean([r[2] for r in compile_rows]):>9.0f}")
    extern_costs(options.repeat, clang)


def extern_costs(repeat: int, clang: ctypes.CDLL | None) -> None:
    """process.clef with Python callbacks, native symbols and inlined Clef externs: the cost of a call."""
    from nanopass.externs import load_externs

    n = 200_000
    frame = np.random.default_rng(3).random(n)
    source = (EXAMPLES / "process.clef").read_text()
    callbacks = load_externs(str(EXAMPLES / "process_externs.py"))
    runs = {"Python callbacks": llvm.jit(source, "process", externs=callbacks, workers=1),
            "written in Clef": llvm.jit(SOURCE, "process", workers=1)}
    if clang is not None:
        natives = {name: getattr(clang, name) for name in ("calibrate", "extractScore", "normalize")}
        runs["native C symbols"] = llvm.jit(source, "process", externs=natives, workers=1)
    times = {label: best(fn, (frame,), repeat) for label, fn in runs.items()}
    inlined = times["written in Clef"]
    print(f"\nextern call cost: process over {n} samples, 3 extern calls per sample (ms; ns per call)")
    for label, seconds in times.items():
        per_call = (seconds - inlined) / (3 * n) * 1e9
        print(f"  {label:<18} {1000 * seconds:8.2f}   {per_call:8.1f} ns/call")


if __name__ == "__main__":
    main()

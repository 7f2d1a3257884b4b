"""Substrates: how much of a function's or a region's parallelism each kind of hardware can take, and Brent.

Its one concern is the machine model: per function, per region of it that
holds work (`nanopass.passes.flowloss_regions`), and per substrate, the
share of P = W / S the substrate can take and the constraint that bounds
it, read off the flow-loss figures (`nanopass.passes.flowloss`), the strand
(``color``: dense, irregular, streaming, control; a function's from the
``strand`` table, a region's from the ``color`` table) and the bytes moved
(a function's memory axis; the arrays a region reads and makes).  Both are
read as a `Shape`.

The machine model's constants are `MachineModel`'s fields, with where each
comes from (this machine's, read at import, or a documented part):

* CPU: ``cores`` is ``os.cpu_count()``; ``simd_lanes`` the 64-bit lanes of
  the widest vector unit the CPU flags name (8 for AVX-512, 4 for AVX/AVX2,
  2 for SSE2); ``memory_bandwidth`` 20e9 bytes/s and ``clock`` 3e9
  operations/s per lane (a desktop DDR4/DDR5 channel pair; one operation per
  cycle); ``cache_bytes`` the L2 size from sysfs (1 MiB when unreadable);
* GPU: an NVIDIA H100's 132 SMs x 128 FP32 lanes = 16896 lanes, 3.35e12
  bytes/s HBM3; lanes of a warp (32) run one branch at a time;
* NPU: an AMD XDNA-style tile mesh of 4 x 5 = 20 tiles, 8 lanes each, that
  only takes rectangular (width-dense) index spaces;
* CGRA: an 8 x 8 = 64-PE array that needs a static schedule: no data-dependent
  trip counts, branches become predication;
* FPGA: 2048 DSP slices (one operation each per cycle, fully pipelined) that
  need bounded loops and fixed shapes.

For each substrate the *width* it takes is ``min(P_hi, capacity)``, the
parallel width the substrate offers, cut by what the shape forbids:
divergence on SIMD, GPU and NPU lanes (a branch on data makes the lanes of a
group run both arms: the width is scaled by the cheapest over the dearest
path, W_lo / W_hi), rectangularity on the NPU (a width-dense strand with
exact work), static control on the CGRA and FPGA (bounded work, not a
control strand), and memory bandwidth: a function or region whose working
set moves ``B`` bytes for ``W`` operations keeps ``bandwidth * W / B /
clock`` lanes busy (the cache's bandwidth, 200e9 bytes/s, when the working
set stays resident; DRAM's otherwise).  The *share* is width / P_hi;
``bound`` names the constraint that set it.

The Brent prediction of the time on p cores is ``T_p <= W / p + S``
(operations, at the high ends), for this machine's ``cores``, with the
speed-up it guarantees, ``W / (W/p + S)`` at its least over the intervals;
for a region, with the region's own W and S (the time of the region run as
a kernel of its own).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from nanopass.passes.flowloss_algebra import INF, Figure, Range, add, number, show


def _simd_lanes() -> int:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return 2
    if " avx512f" in flags:
        return 8
    if " avx2" in flags or " avx " in flags:
        return 4
    return 2


def _l2_bytes() -> int:
    for index in range(6):
        base = Path(f"/sys/devices/system/cpu/cpu0/cache/index{index}")
        try:
            if (base / "level").read_text().strip() == "2":
                text = (base / "size").read_text().strip().upper()
                scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1], 1)
                return int(text.rstrip("KM")) * scale
        except (OSError, ValueError):
            continue
    return 1024 * 1024


@attrs.frozen
class MachineModel:
    """The constants of the substrate model (see the module docstring for their sources)."""

    cores: int = attrs.field(factory=lambda: os.cpu_count() or 1)
    simd_lanes: int = attrs.field(factory=_simd_lanes)
    clock: float = 3e9
    memory_bandwidth: float = 20e9
    cache_bandwidth: float = 200e9
    cache_bytes: int = attrs.field(factory=_l2_bytes)
    gpu_lanes: int = 132 * 128
    gpu_warp: int = 32
    gpu_bandwidth: float = 3.35e12
    npu_tiles: int = 20
    npu_lanes: int = 8
    cgra_pes: int = 64
    fpga_dsps: int = 2048


MACHINE = MachineModel()


@attrs.frozen
class SubstrateFit:
    """How much of P a substrate takes: ``width`` parallel operations (None when the figures are symbolic
    or unbounded), ``share`` = width / P, and what bounds it."""

    substrate: str
    capacity: int
    width: float | None
    share: float | None
    bound: str

    def to_json(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "parallelism": None if self.width is None else round(self.width, 4),
                "share": None if self.share is None else round(self.share, 4), "bound": self.bound}

    def __str__(self) -> str:
        if self.width is None:
            taken = "?"
        else:
            taken = f"{round(self.width)}x" if self.width >= 10 else f"{self.width:.2g}x"
        return f"{self.substrate} {taken} ({self.bound})"


@attrs.frozen
class Brent:
    cores: int
    time: Figure  # W / p + S at the high ends (operations)
    speedup: float | None  # the least W / T_p over inputs, when the figures are numbers

    def to_json(self) -> dict[str, Any]:
        return {"cores": self.cores, "time_bound": _plain(self.time), "speedup_at_least": self.speedup}


def _plain(x: Figure) -> Any:
    if x is INF:
        return None
    value = number(x)
    return value if value is not None else show(x)


def _float(x: Figure) -> float | None:
    if x is INF:
        return None
    try:
        return float(x)
    except TypeError:
        return None


@attrs.frozen
class _Substrate:
    name: str
    capacity: int
    unit: str
    divergence: bool  # lanes in lock step: a branch on data runs both arms
    bandwidth: float | None  # bytes/s feeding it (None: not the constraint)
    needs: str  # "" or what the function's shape must be: rectangular, static


def _substrates(machine: MachineModel, resident: bool) -> list[_Substrate]:
    host = machine.cache_bandwidth if resident else machine.memory_bandwidth
    return [
        _Substrate("cpu-simd", machine.simd_lanes, "SIMD lanes", True, host, ""),
        _Substrate("cpu-cores", machine.cores, "cores", False, host, ""),
        _Substrate("gpu", machine.gpu_lanes, "GPU lanes", True, machine.gpu_bandwidth, ""),
        _Substrate("npu", machine.npu_tiles * machine.npu_lanes, f"lanes on {machine.npu_tiles} tiles", True, None,
                   "rectangular"),
        _Substrate("cgra", machine.cgra_pes, "PEs", False, None, "static"),
        _Substrate("fpga", machine.fpga_dsps, "DSP slices", False, None, "static"),
    ]


@attrs.frozen
class Shape:
    """What substrate fit reads off a function or a region: its figures, its strand, the bytes it moves."""

    noun: str  # "function" or "region", for the bounds' wording
    work: Range
    span: Range
    parallelism: Range
    moved: Figure  # bytes of its working set
    resident: bool | None  # whether they stay in the cache (None: it depends on the sizes)
    strand: str | None


def function_shape(flow: Any, strand: str | None) -> Shape:
    memory = flow.memory
    return Shape("function", flow.work, flow.span, flow.parallelism, memory.working_set, memory.resident, strand)


def region_shape(region: Any, strand: str | None, cache_bytes: int) -> Shape:
    moved = region.moved
    size = None if moved is INF else number(moved)
    return Shape("region", region.work, region.span, region.parallelism, moved,
                 None if size is None else size <= cache_bytes, strand)


def fit(flow: Any, strand: str | None, machine: MachineModel = MACHINE) -> tuple[list[SubstrateFit], Brent]:
    """Each substrate's share of the function's parallelism and what bounds it; the Brent bound on its cores."""
    return fit_shape(function_shape(flow, strand), machine)


def fit_region(region: Any, strand: str | None, machine: MachineModel = MACHINE) -> tuple[list[SubstrateFit], Brent]:
    """The same for one region (a `flowloss_regions.RegionFlow`), with its own W, S and bytes moved."""
    return fit_shape(region_shape(region, strand, machine.cache_bytes), machine)


def fit_shape(shape: Shape, machine: MachineModel = MACHINE) -> tuple[list[SubstrateFit], Brent]:
    strand = shape.strand
    p = _float(shape.parallelism.hi)
    w_lo, w_hi = _float(shape.work.lo), _float(shape.work.hi)
    branchy = strand == "width-irregular" or not shape.work.exact
    divergence = (w_lo / w_hi) if branchy and w_lo is not None and w_hi else 1.0
    moved = _float(shape.moved)
    intensity = (w_hi / moved) if w_hi and moved else None  # operations per byte
    results = []
    for sub in _substrates(machine, shape.resident is True):
        if sub.needs == "rectangular" and (strand != "width-dense" or not shape.work.exact):
            results.append(SubstrateFit(sub.name, sub.capacity, 0.0, 0.0,
                                        "not a rectangular, branch-free index space (tiles need one)"))
            continue
        if sub.needs == "static" and (strand == "control" or shape.work.hi is INF):
            results.append(SubstrateFit(sub.name, sub.capacity, 0.0, 0.0, "data-dependent control: no static "
                                                                            "schedule"))
            continue
        if p is None:
            why = "unbounded work" if shape.work.hi is INF else "the parallelism depends on the sizes"
            results.append(SubstrateFit(sub.name, sub.capacity, None, None, why))
            continue
        width, bound = (p, f"the {shape.noun}'s parallelism") if p <= sub.capacity else (
            float(sub.capacity), f"{sub.capacity} {sub.unit}")
        if sub.divergence and divergence < 1.0:
            width, bound = width * divergence, f"{bound}; branch divergence (cheapest over dearest path)"
        if sub.bandwidth is not None and intensity is not None:
            fed = sub.bandwidth * intensity / machine.clock  # lanes the memory system keeps busy
            if fed < width:
                width, bound = max(fed, 1.0), "memory bandwidth"
        results.append(SubstrateFit(sub.name, sub.capacity, width, width / p if p else 0.0, bound))
    return results, brent(shape, machine.cores)


def brent(flow: Any, cores: int) -> Brent:
    """T_p <= W / p + S (operations) for anything with ``work`` and ``span`` (a function's flow, a region,
    a `Shape`); the speed-up it guarantees, W_lo / T_p, when the figures are numbers."""
    w_hi, s_hi = flow.work.hi, flow.span.hi
    if w_hi is INF or s_hi is INF:
        return Brent(cores, INF, None)
    time = add(_div(w_hi, cores), s_hi)
    # W / (W/p + S) grows with W and shrinks with S: its least value is at (W_lo, S_hi)
    w, s = _float(flow.work.lo), _float(s_hi)
    speedup = round(w / (w / cores + s), 3) if w and s is not None and w / cores + s > 0 else None
    return Brent(cores, time, speedup)


def _div(x: Figure, p: int) -> Figure:
    import sympy as sp

    value = number(x)
    if value is not None:
        return sp.Rational(value, p) if value % p else value // p
    return sp.sympify(x) / p

"""Substrates: how much of a function's parallelism each kind of hardware can take, and the Brent bound.

Its one concern is the machine model: per function (a region of the report)
and per substrate, the share of P = W / S the substrate can take and the
constraint that bounds it, read off the flow-loss figures
(`nanopass.passes.flowloss`), the function's strand (``color``: dense,
irregular, streaming, control) and its memory axis.

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

For each substrate the *share* is ``min(P, capacity) / P`` where capacity is
the parallel width the substrate offers, cut by what the function's shape
forbids: divergence on SIMD and GPU (a branch on data makes the lanes of a
group run both arms: the share is scaled by the cheapest over the dearest
path, W_lo / W_hi), rectangularity on the NPU, static control on the CGRA
and FPGA, and memory bandwidth for a function that moves more bytes per
operation than the substrate's bandwidth feeds its lanes.  ``bound`` names
the constraint that set the share.

The Brent prediction of the time on p cores is ``T_p <= W / p + S``
(operations), for this machine's ``cores``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from nanopass.passes.flowloss_algebra import INF, Figure, add, number, show


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
    substrate: str
    capacity: int
    share: float  # of P, in [0, 1]
    bound: str  # what sets the share

    def to_json(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "share": round(self.share, 4), "bound": self.bound}


@attrs.frozen
class Brent:
    cores: int
    time: Figure  # W / p + S at the high ends (operations)
    speedup: float | None  # W / T_p at the low ends, when the figures are numbers

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


def fit(flow: Any, strand: str | None, machine: MachineModel = MACHINE) -> tuple[list[SubstrateFit], Brent]:
    """Each substrate's share of the function's parallelism and what bounds it; the Brent bound on its cores."""
    p_hi = _float(flow.parallelism.hi)
    p_lo = _float(flow.parallelism.lo)
    w_lo, w_hi = _float(flow.work.lo), _float(flow.work.hi)
    divergence = (w_lo / w_hi) if w_lo is not None and w_hi and w_hi > 0 else (None if w_hi is None else 1.0)
    irregular = strand == "width-irregular" or not flow.work.exact or flow.work.hi is INF
    control = strand == "control"
    memory = flow.memory
    bytes_moved = _float(add(memory.bytes_in, memory.bytes_out))
    intensity = (w_hi / bytes_moved) if w_hi and bytes_moved else None  # operations per byte
    p = p_lo if p_lo is not None else 1.0

    def share(capacity: int, bound: str, factor: float = 1.0, bandwidth: float | None = None,
              lane_rate: float = machine.clock) -> SubstrateFit:
        if p_hi is None:
            return SubstrateFit(name, capacity, 0.0, "unbounded work: no share can be given")
        width = min(p, capacity)
        why = bound if p > capacity else "parallelism of the function"
        if bandwidth is not None and intensity is not None:
            fed = bandwidth * intensity / lane_rate  # lanes the memory system keeps busy
            if fed < width:
                width, why = max(fed, 1.0), "memory bandwidth"
        if factor < 1.0:
            width, why = width * factor, why if factor >= 0.999 else f"{why}; {reason}"
        return SubstrateFit(name, capacity, min(1.0, width / p) if p else 0.0, why)

    results = []
    reason = "branch divergence (cheapest over dearest path)"
    name = "cpu-simd"
    results.append(share(machine.simd_lanes, f"{machine.simd_lanes} SIMD lanes",
                         divergence if divergence is not None else 0.0, machine.memory_bandwidth))
    name = "cpu-cores"
    results.append(share(machine.cores, f"{machine.cores} cores", 1.0, machine.memory_bandwidth))
    name = "gpu"
    results.append(share(machine.gpu_lanes, f"{machine.gpu_lanes} GPU lanes",
                         divergence if divergence is not None else 0.0, machine.gpu_bandwidth))
    name = "npu"
    if irregular or control:
        results.append(SubstrateFit(name, machine.npu_tiles * machine.npu_lanes, 0.0,
                                    "not a rectangular, branch-free index space (NPU tiles need one)"))
    else:
        results.append(share(machine.npu_tiles * machine.npu_lanes,
                             f"{machine.npu_tiles} tiles x {machine.npu_lanes} lanes"))
    name = "cgra"
    if flow.work.hi is INF or control:
        results.append(SubstrateFit(name, machine.cgra_pes, 0.0, "data-dependent control: no static schedule"))
    else:
        results.append(share(machine.cgra_pes, f"{machine.cgra_pes} PEs (branches predicated)"))
    name = "fpga"
    if flow.work.hi is INF or control:
        results.append(SubstrateFit(name, machine.fpga_dsps, 0.0, "unbounded loops: no fixed pipeline"))
    else:
        results.append(share(machine.fpga_dsps, f"{machine.fpga_dsps} DSP slices"))
    return results, brent(flow, machine.cores)


def brent(flow: Any, cores: int) -> Brent:
    """T_p <= W / p + S (operations); the speed-up it guarantees, W_lo / T_p, when the figures are numbers."""
    w_hi, s_hi = flow.work.hi, flow.span.hi
    if w_hi is INF or s_hi is INF:
        return Brent(cores, INF, None)
    time = add(_div(w_hi, cores), s_hi)
    t, w = _float(time), _float(flow.work.lo)
    return Brent(cores, time, round(w / t, 3) if t and w is not None else None)


def _div(x: Figure, p: int) -> Figure:
    import sympy as sp

    value = number(x)
    if value is not None:
        return sp.Rational(value, p) if value % p else value // p
    return sp.sympify(x) / p

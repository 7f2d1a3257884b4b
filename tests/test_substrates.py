"""Substrate fit: each substrate's share of P and what bounds it, the machine model, the Brent bound."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import sympy as sp
import pytest

from nanopass.frontend import parse
from nanopass.pipeline import Pipeline
from nanopass.passes.flowloss import analyze
from nanopass.passes.substrates import MACHINE, MachineModel, brent, fit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def flow_and_strand(name: str, entry: str, sizes=None, values=None):
    graph = Pipeline.parse("elaborate,baker,coeffects,color").run(
        parse((EXAMPLES / f"{name}.clef").read_text(), f"{name}.clef")).graph
    flow = analyze(graph, sizes or {}, values or {}, functions=[entry])[entry]
    return flow, graph.annotation("strand")[graph.symbol(entry)]


def by_name(fits):
    return {f.substrate: f for f in fits}


def test_the_machine_model_reads_this_machine():
    assert MACHINE.cores == os.cpu_count()
    assert MACHINE.simd_lanes in (2, 4, 8)
    assert MACHINE.cache_bytes >= 64 * 1024


def test_a_dense_map_is_bounded_by_each_substrates_width():
    flow, strand = flow_and_strand("process", "process", {"frame": (1024,)})
    machine = attrs.evolve(MACHINE, simd_lanes=8, cores=4)
    fits = by_name(fit(flow, strand, machine)[0])
    assert (fits["cpu-simd"].width, fits["cpu-simd"].bound) == (8, "8 SIMD lanes")
    assert (fits["cpu-cores"].width, fits["cpu-cores"].share) == (4, 4 / 1024)
    assert (fits["npu"].width, fits["npu"].bound) == (160, "160 lanes on 20 tiles")
    assert (fits["fpga"].width, fits["fpga"].bound) == (1024, "the function's parallelism")
    # 3072 operations on a 16 KiB working set: HBM feeds 3.35e12 * 3072 / 16384 / 3e9 lanes
    assert fits["gpu"].bound == "memory bandwidth"
    assert fits["gpu"].width == pytest.approx(3.35e12 * 3072 / 16384 / 3e9)


def test_branches_on_data_cost_lock_step_lanes_their_cheap_over_dear_ratio():
    flow, strand = flow_and_strand("branchy", "process", {"frame": (1024,)})
    assert strand == "width-irregular"
    fits = by_name(fit(flow, strand, attrs.evolve(MACHINE, simd_lanes=4))[0])
    assert fits["cpu-simd"].width == pytest.approx(4 * 2048 / 40960)
    assert "branch divergence" in fits["cpu-simd"].bound
    assert fits["npu"].width == 0.0 and "rectangular" in fits["npu"].bound
    assert fits["cpu-cores"].bound == f"{MACHINE.cores} cores" or MACHINE.cores >= 1024


def test_control_and_unbounded_work_leave_the_static_substrates_nothing():
    flow, strand = flow_and_strand("resolver", "resolve")
    assert strand == "control"
    fits = by_name(fit(flow, strand)[0])
    assert fits["cgra"].share == 0.0 and fits["fpga"].share == 0.0
    assert fits["cpu-cores"].width is None and fits["cpu-cores"].bound == "unbounded work"


def test_symbolic_figures_give_no_number():
    flow, strand = flow_and_strand("process", "process")
    fits = by_name(fit(flow, strand)[0])
    assert fits["gpu"].width is None and fits["gpu"].bound == "the parallelism depends on the sizes"


def test_a_working_set_beyond_the_cache_is_fed_by_dram():
    flow, strand = flow_and_strand("process", "process", {"frame": (1 << 20,)})
    machine = MachineModel(cores=64, simd_lanes=8, cache_bytes=1 << 20)
    fits = by_name(fit(flow, strand, machine)[0])
    # 3 operations per 16 bytes from 20e9 bytes/s at 3e9 operations/s per lane
    assert fits["cpu-cores"].bound == "memory bandwidth"
    assert fits["cpu-cores"].width == pytest.approx(20e9 * 3 / 16 / 3e9)


def test_brent_bound_and_the_speedup_it_guarantees():
    flow, _ = flow_and_strand("branchy", "process", {"frame": (1024,)})
    bound = brent(flow, 4)
    assert bound.time == 40960 // 4 + 40
    # W / (W/p + S) is least at the cheap end of W and the long end of S
    assert bound.speedup == round(2048 / (2048 / 4 + 40), 3)
    montecarlo, _ = flow_and_strand("montecarlo", "monteCarlo", values={"scenarios": 64})
    assert brent(montecarlo, 2).time == sp.Rational(242049, 2) + 330

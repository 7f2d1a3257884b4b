"""Substrate fit: each substrate's share of P and what bounds it, the machine model, the Brent bound; per
function and per region (with the region's own W, S, strand and bytes)."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import sympy as sp
import pytest

from nanopass.frontend import parse
from nanopass.pipeline import Pipeline
from nanopass.passes.flowloss import analyze
from nanopass.passes.flowloss_algebra import INF
from nanopass.passes.substrates import MACHINE, MachineModel, brent, fit, fit_region

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


# -- per region ------------------------------------------------------------------------------------------------

def regions_and_colors(source: str, entry: str, sizes=None, values=None):
    graph = Pipeline.parse("elaborate,baker,coeffects,color").run(parse(source, "r.clef")).graph
    flow = analyze(graph, sizes or {}, values or {}, functions=[entry])[entry]
    colors = graph.annotation("color")
    return [(region, colors[region.region]) for region in flow.regions]


def test_each_map_of_process_is_fitted_with_its_own_figures_and_bytes():
    machine = MachineModel(cores=4, simd_lanes=8, cache_bytes=1 << 20)
    regions = regions_and_colors((EXAMPLES / "process.clef").read_text(), "process", {"frame": (1024,)})
    assert [color for _, color in regions] == ["width-dense"] * 3
    region, color = regions[0]
    assert region.moved == 16384  # 8 KiB read, 8 KiB made
    fits, bound = fit_region(region, color, machine)
    fits = by_name(fits)
    # 1024 operations on 16 KiB: the cache feeds 200e9 / 16 / 3e9 lanes, HBM 3.35e12 / 16 / 3e9
    assert fits["cpu-simd"].bound == "memory bandwidth"
    assert fits["cpu-simd"].width == pytest.approx(200e9 * 1024 / 16384 / 3e9)
    assert (fits["cpu-cores"].width, fits["cpu-cores"].bound) == (4, "4 cores")
    assert fits["gpu"].width == pytest.approx(3.35e12 * 1024 / 16384 / 3e9)
    assert (fits["npu"].width, fits["fpga"].width, fits["fpga"].bound) == (160, 1024, "the region's parallelism")
    assert fits["fpga"].share == 1.0 and fits["cgra"].share == 64 / 1024
    # Brent with the region's own W and S: 1024 / 4 + 1
    assert (bound.time, bound.speedup) == (257, round(1024 / 257, 3))


def test_a_branchy_region_pays_divergence_and_its_arm_has_nothing_to_share():
    regions = regions_and_colors((EXAMPLES / "branchy.clef").read_text(), "process", {"frame": (1024,)})
    (body, body_color), (arm, arm_color) = regions
    assert body_color == arm_color == "width-irregular"
    fits = by_name(fit_region(body, body_color, attrs.evolve(MACHINE, simd_lanes=4))[0])
    assert fits["cpu-simd"].width == pytest.approx(4 * 2048 / 40960)
    assert "branch divergence" in fits["cpu-simd"].bound and fits["npu"].width == 0.0
    arm_fits, arm_bound = fit_region(arm, arm_color)
    assert {(f.width, f.bound) for f in arm_fits if f.substrate != "npu"} == {(1.0, "the region's parallelism")}
    assert arm_bound.time == sp.Rational(38, MACHINE.cores) + 38


def test_a_control_region_and_an_unbounded_one_leave_the_static_substrates_nothing():
    simulate = dict(regions_and_colors((EXAMPLES / "montecarlo.clef").read_text(), "simulate"))
    ((steps, color),) = simulate.items()
    assert (steps.site, color) == ("for step", "control")
    fits = by_name(fit_region(steps, color, MachineModel(cores=64))[0])
    assert fits["cgra"].width == 0.0 and fits["fpga"].width == 0.0
    assert fits["cpu-cores"].width == pytest.approx(3780 / 265)  # 252 steps of a chain, 15 operations each
    source = "let halve (x: float) : float =\n    let mutable v = x\n    while v > 1.0 do\n        v <- v * 0.5\n    v\n"
    ((loop, color),) = regions_and_colors(source, "halve")
    fits, bound = fit_region(loop, color)
    assert loop.work.hi is INF and bound.time is INF
    assert {f.bound for f in fits if f.substrate in ("cpu-cores", "gpu")} == {"unbounded work"}


def test_symbolic_regions_give_no_number():
    ((region, color), *_) = regions_and_colors((EXAMPLES / "process.clef").read_text(), "process")
    fits, bound = fit_region(region, color)
    assert by_name(fits)["gpu"].bound == "the parallelism depends on the sizes"
    assert bound.time == sp.Symbol("n", integer=True, positive=True) / MACHINE.cores + 1

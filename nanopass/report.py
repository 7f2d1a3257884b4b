"""The report: a program's flow loss, strands, coeffects, substrate fit and deadlock verdict, as text or JSON.

Its one concern is rendering (the figures come from the passes): `build`
compiles a Clef program (elaborate, baker, coeffects, color), runs the
``flowloss`` analysis at the sizes given, fits each function to the
substrates (`nanopass.passes.substrates`) and decides deadlock freedom
(`nanopass.passes.deadlock`); `text` renders it for people in the shape of
FLOW_LOSS.md's block, `to_json` for programs, in the issue's contract:

    {"functions": {NAME: {"strand": str, "coeffects": {...},
                          "flow_loss": {"work": [lo, hi], "span": [lo, hi], "parallelism": [lo, hi],
                                        "span_reassociated": [lo, hi],
                                        "serialization_points": [{"site": str, "ops": int, "line": int}],
                                        "memory": {...}, "substrates": {...}}}},
     "deadlock": {"verdict": ..., "ranks": {...}, "cycles": [[...]], "dynamic_sites": [...]},
     "diagnostics": [...]}

A figure is an int when every size is given, a formula string (``"3n"``)
when it is symbolic, and ``null`` for an unbounded end; parallelism is a
float.  ``flow_loss`` also holds ``reasons`` (why an end is unbounded or not
exact), ``brent`` (the bound on this machine's cores) and ``regions``: each
region of the function's own body that holds work, taken on its own
(`nanopass.passes.flowloss_regions`), with its substrate fit and Brent bound:

    "regions": [{"region": int, "site": str, "line": int, "kind": str, "work": [lo, hi],
                 "span": [lo, hi], "parallelism": [lo, hi], "bytes": figure,
                 "substrates": {...}, "brent": {...}}]

an ``ops`` is a formula string when symbolic.  The program is analysed as
written (elaborate and baker only, then coeffects and color for the
strands; `build` takes another pipeline, e.g. one ending in the LLVM
backend's ``fuse``, whose table the memory axis then reads): the oracle
runs the program as written, dead code included.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import attrs

from nanopass.diagnostics import Diagnostic
from nanopass.graph import Graph
from nanopass.passes.flowloss_algebra import INF, Figure, Range, number, show

REPORT_PIPELINE = "elaborate,baker,coeffects,color"
LABEL_WIDTH = 20


@attrs.frozen
class RegionReport:
    flow: Any  # flowloss_regions.RegionFlow
    strand: str
    substrates: list
    brent: Any


@attrs.frozen
class FunctionReport:
    flow: Any  # FunctionFlow
    strand: str
    coeffects: Any  # a coeffects Requirement, or None
    substrates: list
    brent: Any
    regions: list = attrs.field(factory=list)  # RegionReport, one per region of flow.regions


@attrs.frozen
class Report:
    functions: list[FunctionReport]
    deadlock: Any  # DeadlockReport
    diagnostics: list[Diagnostic]


def build(clef: Graph, sizes: Mapping[str, tuple[int, ...]] | None = None,
          values: Mapping[str, int] | None = None, pipeline: str = REPORT_PIPELINE) -> Report:
    """The report of a parsed Clef program at the sizes and values given, after ``pipeline`` (which must
    leave the program Saturated)."""
    from nanopass.passes.deadlock import Deadlock, check_deadlock
    from nanopass.passes.flowloss import analyze, source_sites
    from nanopass.passes.substrates import fit, fit_region
    from nanopass.pipeline import Pipeline

    result = Pipeline.parse(pipeline).run(clef)
    saturated = result.graph
    flows = analyze(saturated, sizes or {}, values or {}, source_sites(clef))
    strands = saturated.annotation("strand")
    colors = saturated.annotation("color")
    needs = saturated.annotation("coeffects")
    by_name = {decl.attr("name"): decl_id for decl_id, decl in saturated.top_level()}
    functions = []
    for name, flow in flows.items():
        decl_id = by_name[name]
        strand = strands.get(decl_id, "unknown")
        substrates, brent = fit(flow, strand)
        regions = []
        for region in flow.regions:
            color = colors.get(region.region, "unknown")
            regions.append(RegionReport(region, color, *fit_region(region, color)))
        functions.append(FunctionReport(flow, strand, needs.get(decl_id), substrates, brent, regions))
    deadlock = check_deadlock(clef)
    diagnostics = list(result.diagnostics)
    diagnostics += [site.diagnostic(Deadlock().timeout_s) for site in deadlock.dynamic_sites]
    for function in functions:
        for reason in function.flow.reasons:
            note = Diagnostic(reason.span, f"flow loss of '{function.flow.name}': {reason.message}", "note")
            if note not in diagnostics:
                diagnostics.append(note)
    return Report(functions, deadlock, diagnostics)


# -- plain text -------------------------------------------------------------------------------------

def _label(name: str) -> str:
    return "  " + name.ljust(LABEL_WIDTH)


def figure_text(r: Range) -> str:
    return show(r.lo) if r.lo == r.hi else f"{show(r.lo)} .. {show(r.hi)}"


def ratio_text(r: Range) -> str:
    """``1024x``; an interval's low end rounded down and its high end up (``52x .. 1024x``)."""
    if r.lo == r.hi:
        return _ratio(r.lo, None) + "x"
    return f"{_ratio(r.lo, math.floor)}x .. {_ratio(r.hi, math.ceil)}x"


def _ratio(x: Figure, rounding: Any) -> str:
    if x is INF:
        return "unbounded "
    value = number(x)
    if value is not None:
        return str(value)
    try:
        real = float(x)
    except TypeError:
        text = show(x)
        return text if text.isidentifier() else f"({text})"
    if rounding is None:
        return f"{real:.3g}" if real < 100 else str(round(real))
    if real >= 10:
        return str(int(rounding(real)))
    return f"{rounding(real * 10) / 10:g}"


def _ops(ops: Figure | None) -> str:
    if ops is None:
        return "an unbounded number of independent ops sequenced"
    return f"{show(ops)} independent ops sequenced"


def function_text(report: FunctionReport) -> list[str]:
    flow = report.flow
    lines = [flow.header]
    lines.append(_label("parallelism ratio") + f"{ratio_text(flow.parallelism)}  "
                 f"({figure_text(flow.work)} ops, critical path {figure_text(flow.span)})")
    if flow.serialization_points:
        lines.append("  serialization points")
        width = max(len(p.site) for p in flow.serialization_points) + 3
        texts = [_ops(p.ops) for p in flow.serialization_points]
        ops_width = max(len(t) for t in texts)
        for point, text in zip(flow.serialization_points, texts):
            lines.append(f"    {point.site.ljust(width)}{text.ljust(ops_width)}   line {point.line}")
    lines.append(_label("memory movement") + flow.memory.summary())
    if flow.memory.intermediates:
        lines.append(_label("intermediates") + intermediates_text(flow.memory))
    if flow.span_reassociated != flow.span:
        lines.append(_label("reassociated") + f"critical path {figure_text(flow.span_reassociated)} "
                     "(reductions as balanced trees)")
    coeffects = str(report.coeffects) if report.coeffects is not None else "unknown"
    lines.append(_label("strand") + f"{report.strand}; needs {coeffects}")
    fits = ", ".join(str(f) for f in report.substrates)
    lines.append(_label("substrates") + fits)
    lines.append(_label("brent bound") + brent_text(report.brent))
    lines.extend(regions_text(report.regions))
    for reason in flow.reasons:
        lines.append(_label("note") + f"{reason.message} (line {reason.span.line})")
    return lines


def intermediates_text(memory: Any) -> str:
    """``fused: a (8192 bytes); materialized: b (800 bytes)``, and who decided (the uses, or a backend's table)."""
    parts = []
    for word, arrays in (("fused", memory.fused), ("materialized", memory.materialized)):
        if arrays:
            parts.append(f"{word}: " + ", ".join(f"{a.name} ({show(a.bytes)} bytes)" for a in arrays))
    source = "read off the uses" if memory.fusion == "uses" else f"as the '{memory.fusion}' table says"
    return "; ".join(parts) + f" ({source})"


def brent_text(brent: Any) -> str:
    if brent.time is INF:
        return f"T_{brent.cores} unbounded"
    speedup = f" (speed-up at least {brent.speedup}x)" if brent.speedup is not None else ""
    return f"T_{brent.cores} <= {show(brent.time)} ops on {brent.cores} cores{speedup}"


REGION_COLUMNS = ("region", "what", "line", "work", "span", "parallelism")


def regions_text(regions: list[RegionReport]) -> list[str]:
    """A table of the regions, one row each, with a parallel region's substrate fit and Brent bound under it."""
    if not regions:
        return []
    rows = [REGION_COLUMNS]
    for r in regions:
        flow = r.flow
        rows.append((f"#{flow.region}", flow.site, str(flow.line), figure_text(flow.work), figure_text(flow.span),
                     ratio_text(flow.parallelism)))
    widths = [max(len(row[k]) for row in rows) for k in range(len(REGION_COLUMNS))]
    lines = ["  regions"]
    indent = " " * (4 + widths[0] + 2)
    for k, row in enumerate(rows):
        cells = [cell.rjust(w) if j in (2, 3, 4, 5) else cell.ljust(w) for j, (cell, w) in enumerate(zip(row, widths))]
        lines.append(("    " + "  ".join(cells)).rstrip())
        region = regions[k - 1] if k else None
        if region is not None and _parallel(region.flow.parallelism):
            lines.append(indent + "substrates   " + fits_text(region.substrates))
            lines.append(indent + "brent bound  " + brent_text(region.brent))
    return lines


def fits_text(fits: list) -> str:
    """Each substrate's fit; those the sizes leave undecided for one reason named together."""
    undecided: dict[str, list[str]] = {}
    for f in fits:
        if f.width is None:
            undecided.setdefault(f.bound, []).append(f.substrate)
    parts = [f"{', '.join(names)} ? ({bound})" for bound, names in undecided.items()]
    return ", ".join([str(f) for f in fits if f.width is not None] + parts)


def _parallel(p: Range) -> bool:
    """Whether a region may run more than one operation at a time (then its substrate fit is worth lines):
    its parallelism may exceed 1, or depends on the sizes."""
    if p.hi is INF:
        return True
    try:
        return float(p.hi) > 1
    except TypeError:
        return True


def text(report: Report) -> str:
    lines: list[str] = []
    for function in report.functions:
        lines.extend(function_text(function))
        lines.append("")
    deadlock = report.deadlock
    if deadlock.verdict == "deadlock-free":
        ranks = ", ".join(f"{name} {rank}" for name, rank in sorted(deadlock.ranks.items()))
        lines.append(f"deadlock            deadlock-free (ranks: {ranks})")
    elif deadlock.verdict == "deadlock":
        for cycle in deadlock.cycles:
            lines.append("deadlock            a cycle: " + "; ".join(str(site) for site in cycle))
    else:
        lines.append(f"deadlock            {deadlock.verdict}")
    for site in deadlock.dynamic_sites:
        lines.append(f"  supervised post at line {site.line}: {site.reason}")
    return "\n".join(lines) + "\n"


# -- JSON ------------------------------------------------------------------------------------------------

def plain(x: Figure) -> Any:
    """A figure as JSON: an int, a formula string, or None when unbounded."""
    if x is INF:
        return None
    value = number(x)
    return value if value is not None else show(x)


def plain_ratio(x: Figure) -> Any:
    if x is INF:
        return None
    try:
        return round(float(x), 4)
    except TypeError:
        return show(x)


def coeffects_json(need: Any) -> dict[str, Any]:
    if need is None:
        return {"summary": "unknown", "resources": [], "temporal": None, "memory": []}
    temporal = need.temporal
    return {"summary": str(need), "resources": sorted(need.resources),
            "temporal": None if temporal is None else (temporal.depth if temporal.depth is not None else "window"),
            "memory": [str(m) for m in need.memory]}


def memory_json(memory: Any) -> dict[str, Any]:
    return {
        "bytes_in": plain(memory.bytes_in),
        "bytes_out": plain(memory.bytes_out),
        "inputs": list(memory.inputs),
        "materialized": [{"array": a.name, "bytes": plain(a.bytes)} for a in memory.materialized],
        "fused": [{"array": a.name, "bytes": plain(a.bytes)} for a in memory.fused],
        "working_set": plain(memory.working_set),
        "cache_bytes": memory.cache_bytes,
        "resident": memory.resident,
        "summary": memory.summary(),
        "fusion": memory.fusion,
    }


def function_json(report: FunctionReport) -> dict[str, Any]:
    flow = report.flow
    return {
        "strand": report.strand,
        "coeffects": coeffects_json(report.coeffects),
        "flow_loss": {
            "work": [plain(flow.work.lo), plain(flow.work.hi)],
            "span": [plain(flow.span.lo), plain(flow.span.hi)],
            "parallelism": [plain_ratio(flow.parallelism.lo), plain_ratio(flow.parallelism.hi)],
            "span_reassociated": [plain(flow.span_reassociated.lo), plain(flow.span_reassociated.hi)],
            "serialization_points": [{"site": p.site, "ops": None if p.ops is None else plain(p.ops),
                                      "line": p.line} for p in flow.serialization_points],
            "memory": memory_json(flow.memory),
            "substrates": {f.substrate: f.to_json() for f in report.substrates},
            "regions": [region_json(r) for r in report.regions],
            "brent": report.brent.to_json(),
            "reasons": [{"line": r.span.line, "col": r.span.col, "reason": r.message} for r in flow.reasons],
        },
    }


def region_json(report: RegionReport) -> dict[str, Any]:
    r = report.flow
    return {"region": r.region, "site": r.site, "line": r.line, "kind": r.kind, "strand": report.strand,
            "work": [plain(r.work.lo), plain(r.work.hi)], "span": [plain(r.span.lo), plain(r.span.hi)],
            "parallelism": [plain_ratio(r.parallelism.lo), plain_ratio(r.parallelism.hi)],
            "bytes": plain(r.moved), "substrates": {f.substrate: f.to_json() for f in report.substrates},
            "brent": report.brent.to_json()}


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"file": d.span.file, "line": d.span.line, "col": d.span.col, "severity": d.severity,
            "message": d.message}


def to_json(report: Report) -> dict[str, Any]:
    return {
        "functions": {f.flow.name: function_json(f) for f in report.functions},
        "deadlock": report.deadlock.to_json(),
        "diagnostics": [diagnostic_json(d) for d in report.diagnostics],
    }

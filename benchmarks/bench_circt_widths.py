"""Benchmark: hardware bits with inferred widths beside the declared types' widths.

Every machine of the CIRCT backend's examples (examples/counter.clef and
examples/hardware/) is compiled twice: with the widths the ``widths`` pass
infers (forward ranges, then the low bits each value's uses read) and, as the
peer, with every value at its declared type's width (what a type-driven
lowering builds).  For each the table gives:

* state bits: the registers (``seq.compreg``), State field by field;
* port bits: the input and output ports (inputs keep their declared widths);
* operator bits: the width of every operator (``comb`` arithmetic, logic,
  shifts, comparisons at their operands' width, and muxes), not the wiring
  (extract, concat, replicate) nor constants; once as emitted and once after
  the circt wheel's ``canonicalize,cse`` (which folds constants and narrows
  some operators itself, for both policies alike);

and the saving, 1 - inferred / declared.  The Bitwise compiler (Stephenson,
Babb and Amarasinghe, PLDI 2000) reported 15-86% area savings on its kernels.

    .venv/bin/python benchmarks/bench_circt_widths.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nanopass.backends.circt import compile_hardware  # noqa: E402
from nanopass.frontend import parse  # noqa: E402

MACHINES = [("examples/counter.clef", "step"), ("examples/hardware/stopwatch.clef", "stopwatch"),
            ("examples/hardware/mac.clef", "mac"), ("examples/hardware/uart_tx.clef", "transmit"),
            ("examples/hardware/accumulator.clef", "accumulate"),
            ("examples/hardware/alu.clef", "mix"), ("examples/hardware/alu.clef", "absdiff"),
            ("examples/hardware/alu.clef", "average"), ("examples/hardware/alu.clef", "signedOps"),
            ("examples/hardware/alu.clef", "spread")]
WIRING = {"comb.extract", "comb.concat", "comb.replicate", "hw.constant", "hw.output", "seq.compreg"}


def _width(type_text: str) -> int:
    return int(type_text[1:]) if type_text.startswith("i") else 1


def count(text: str, canonicalize: bool) -> dict[str, int]:
    """State, port and operator bits of the one hw.module in ``text``, read through the circt wheel."""
    import circt
    from circt.ir import Context, Module
    from circt.passmanager import PassManager

    with Context() as context:
        circt.register_dialects(context)
        module = Module.parse(text)
        if canonicalize:
            PassManager.parse("builtin.module(canonicalize,cse)").run(module.operation)
        (hw_module,) = module.body.operations
        found = {"state": 0, "ports": 0, "operators": 0}
        body = hw_module.regions[0].blocks[0]
        found["ports"] += sum(_width(str(arg.type)) for arg in body.arguments)
        for op in body.operations:
            name = op.operation.name
            if name == "seq.compreg":
                found["state"] += _width(str(op.results[0].type))
            elif name == "hw.output":
                found["ports"] += sum(_width(str(v.type)) for v in op.operands)
            elif name not in WIRING:
                # A comparison's cost is its operands' width; every other operator's, its result's.
                typed = op.operands[0] if name == "comb.icmp" else op.results[0]
                found["operators"] += _width(str(typed.type))
    return found


def saving(inferred: int, declared: int) -> str:
    return f"{100 * (1 - inferred / declared):5.1f}%" if declared else "    -"


def main() -> int:
    rows = []
    totals = {key: [0, 0] for key in ("state", "ports", "operators", "canonical")}
    for path, name in MACHINES:
        graph = parse((ROOT / path).read_text(), filename=path)
        figures = {}
        for policy in ("inferred", "declared"):
            text = compile_hardware(graph, name, policy).mlir
            figures[policy] = {**count(text, False), "canonical": count(text, True)["operators"]}
        rows.append((name, figures))
        for key in totals:
            totals[key][0] += figures["inferred"][key]
            totals[key][1] += figures["declared"][key]
    header = (f"{'module':<12} {'state bits':>18} {'saving':>7} {'port bits':>14} {'saving':>7} "
              f"{'operator bits':>15} {'saving':>7} {'after canonicalize':>19} {'saving':>7}")
    print("inferred / declared widths per module")
    print(header)
    print("-" * len(header))

    def line(name: str, pairs: dict[str, tuple[int, int]]) -> str:
        cells = [f"{name:<12}"]
        for key, wide in (("state", 18), ("ports", 14), ("operators", 15), ("canonical", 19)):
            inferred, declared = pairs[key]
            cells.append(f"{f'{inferred} / {declared}':>{wide}} {saving(inferred, declared):>7}")
        return " ".join(cells)

    for name, figures in rows:
        print(line(name, {k: (figures["inferred"][k], figures["declared"][k]) for k in totals}))
    print("-" * len(header))
    print(line("total", {k: tuple(v) for k, v in totals.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

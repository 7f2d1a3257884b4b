"""Simulation and lint of exported Verilog: iverilog testbenches that read input vectors, verilator --lint-only.

`Simulator` compiles the Verilog once, with a generated testbench, under
Icarus Verilog (``iverilog -g2012``); each `Simulator.run` then runs it
(``vvp``) on a vector file and reads back one row per vector.  A vector
holds the encoded value of every input port (and ``rst`` for a Mealy
machine), in port order; a row holds every output port, then (for a Mealy
machine) every register, read through the design hierarchy.

Per cycle of a Mealy machine the testbench applies the vector with the
clock low, lets the combinational logic settle, prints the outputs (the
Mealy function of the current state and these inputs) and the registers
(the current state), and raises the clock: the registers take the next
state, or their reset values when ``rst`` was high.  A combinational
module has no clock: each vector is applied and its outputs printed.
Unknown bits (``x``, ``z``) read back as None.

`lint` runs ``verilator --lint-only`` and treats any warning as a failure.
`missing_tools` names the tools that are not on the PATH, so a caller can
say why it skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Iterable, Sequence

from nanopass.backends.circt.emit import Design
from nanopass.backends.circt.shape import CLOCK, MEALY

SIMULATION_TOOLS = ("iverilog", "vvp")
LINT_TOOLS = ("verilator",)
ROW = "row"  # the testbench's lines of values start with it; the simulator's own messages do not


def missing_tools(tools: Iterable[str]) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


class ToolFailure(RuntimeError):
    """A simulator or linter rejected the Verilog, or is not installed."""


def _run(command: Sequence[str], cwd: str) -> str:
    if shutil.which(command[0]) is None:
        raise ToolFailure(f"{command[0]} is not installed (Debian: apt-get install iverilog verilator)")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ToolFailure(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def testbench(design: Design) -> str:
    """A Verilog testbench for ``design`` that reads vectors from the file named by ``+vectors=``."""
    name = design.shape.function
    inputs = [p for p in design.ports if p.direction == "in" and p.name != CLOCK]
    outputs = [p for p in design.ports if p.direction == "out"]
    clocked = design.shape.kind == MEALY
    lines = [f"module {name}_tb;"]
    if clocked:
        lines.append(f"  reg {CLOCK} = 1'b0;")
    lines += [f"  reg [{p.layout.width - 1}:0] in_{p.name};" for p in inputs]
    lines += [f"  wire [{p.layout.width - 1}:0] out_{p.name};" for p in outputs]
    connections = ([f".{CLOCK}({CLOCK})"] if clocked else []) + [f".{p.name}(in_{p.name})" for p in inputs] + \
                  [f".{p.name}(out_{p.name})" for p in outputs]
    lines.append(f"  {name} dut({', '.join(connections)});")
    shown = [f"out_{p.name}" for p in outputs] + [f"dut.{r.name}" for r in design.registers]
    lines += [
        "  integer file, count;",
        "  reg [1023:0] path;",
        "  initial begin",
        '    if (!$value$plusargs("vectors=%s", path)) begin $display("no +vectors="); $finish; end',
        '    file = $fopen(path, "r");',
        "    while (!$feof(file)) begin",
        f"      count = $fscanf(file, \"{' '.join(['%h'] * len(inputs))}\\n\", "
        f"{', '.join(f'in_{p.name}' for p in inputs)});",
        f"      if (count == {len(inputs)}) begin",
        "        #1;",
        f"        $display(\"{ROW} {' '.join(['%h'] * len(shown))}\", {', '.join(shown)});",
    ]
    if clocked:
        lines += [f"        {CLOCK} = 1'b1;", "        #1;", f"        {CLOCK} = 1'b0;"]
    lines += ["      end", "    end", "    $fclose(file);", "    $finish;", "  end", "endmodule", ""]
    return "\n".join(lines)


class Simulator:
    """One design's Verilog compiled with its testbench under iverilog, ready to run on vectors."""

    def __init__(self, design: Design, verilog: str):
        self.design = design
        self.inputs = [p for p in design.ports if p.direction == "in" and p.name != CLOCK]
        self.columns = [p.name for p in design.ports if p.direction == "out"] + [r.name for r in design.registers]
        if f"module {design.shape.function}(" not in verilog:
            raise ToolFailure(f"the exported Verilog has no module named {design.shape.function} (a Verilog "
                              f"keyword is renamed on export); the testbench cannot instantiate it")
        for register in design.registers:
            if f" {register.name};" not in verilog:
                raise ToolFailure(f"register {register.name} of {design.shape.function} is not declared under that "
                                  f"name in the exported Verilog; the testbench cannot read it")
        self._dir = tempfile.TemporaryDirectory(prefix="nanopass-sim-")
        with open(os.path.join(self._dir.name, "design.sv"), "w") as fh:
            fh.write(verilog)
        with open(os.path.join(self._dir.name, "testbench.sv"), "w") as fh:
            fh.write(testbench(design))
        _run(["iverilog", "-g2012", "-o", "sim.vvp", "-s", f"{design.shape.function}_tb", "testbench.sv",
              "design.sv"], self._dir.name)

    @property
    def input_names(self) -> list[str]:
        """The columns of a vector: ``rst`` first for a Mealy machine, then the input ports."""
        return [p.name for p in self.inputs]

    def run(self, vectors: Sequence[Sequence[int]]) -> list[dict[str, int | None]]:
        """One row per vector: each output port and register by name, None where its bits are unknown."""
        path = os.path.join(self._dir.name, "vectors.txt")
        with open(path, "w") as fh:
            fh.writelines(" ".join(f"{v:x}" for v in vector) + "\n" for vector in vectors)
        text = _run(["vvp", "-n", "sim.vvp", f"+vectors={path}"], self._dir.name)
        rows = []
        for line in text.splitlines():
            fields = line.split()
            if not fields or fields[0] != ROW:
                continue
            fields = fields[1:]
            rows.append({name: None if any(c in "xXzZ" for c in f) else int(f, 16)
                         for name, f in zip(self.columns, fields)})
        if len(rows) != len(vectors):
            raise ToolFailure(f"the simulation printed {len(rows)} rows for {len(vectors)} vectors:\n{text}")
        return rows

    def close(self) -> None:
        self._dir.cleanup()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lint(verilog: str, top: str) -> str:
    """Run ``verilator --lint-only`` on ``verilog`` with top module ``top``; its output, or `ToolFailure`."""
    with tempfile.TemporaryDirectory(prefix="nanopass-lint-") as where:
        path = os.path.join(where, f"{top}.sv")
        with open(path, "w") as fh:
            fh.write(verilog)
        output = _run(["verilator", "--lint-only", "--top-module", top, path], where)
    if "%Warning" in output or "%Error" in output:
        raise ToolFailure(f"verilator --lint-only reported:\n{output}")
    return output


__all__ = ["LINT_TOOLS", "SIMULATION_TOOLS", "Simulator", "ToolFailure", "lint", "missing_tools",
           "testbench"]

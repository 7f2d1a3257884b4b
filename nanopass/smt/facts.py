"""Checking an analysis's facts with z3: the ``ranges`` table (integer intervals) holds on every run.

An analysis never edits nodes, so refinement says nothing about it; what it
claims are facts.  For ``ranges`` (node id -> an interval with ``lo`` and
``hi``, as the ``widths`` analysis writes it) the claim is: whenever a node
computes a value, the value lies in its interval.  `range_verdicts` encodes
each entry function (the declarations marked ``EntryPoint``,
``HardwareModule`` or ``Kernel``; every ``func`` and ``global`` of a
library without them), inlining what it calls, watches every node that has
a fact (every unrolled iteration and every index of a mapping is a value
the node takes), and asks z3 for an input that drives one of them out of
its interval, among runs that do not fail and stay within the bounds.
``sat`` is a counterexample naming the node, its interval, the inputs and
the value; ``unsat`` validates the function's facts (bounded as refinement
is); a timeout or an unencodable function is ``unknown``.
"""

from __future__ import annotations

from typing import Any

import z3

from nanopass.graph import Graph
from nanopass.smt import scalars
from nanopass.smt.encoder import Machine, Options, Program, Shared
from nanopass.smt.host import ReplayError, describe_runtime, runtime_value
from nanopass.smt.layouts import Layouts, fresh
from nanopass.smt.refinement import parameter_types, solve, solve_abstracted_first
from nanopass.smt.values import BITS, Scalar, Unsupported
from nanopass.validation import Verdict

ENTRY_ATTRIBUTES = frozenset({"EntryPoint", "HardwareModule", "Kernel"})
LOCAL_TIMEOUT_MS = 200


def entry_functions(graph: Graph) -> list[str]:
    """The functions whose parameters an analysis must take as unknown."""
    declared = [(node.attr("name"), node) for _, node in graph.top_level() if node.kind in ("func", "global")]
    marked = [name for name, node in declared
              if any(pair[0] in ENTRY_ATTRIBUTES for pair in node.attr("attributes", ()) or ())]
    return marked or [name for name, _ in declared]


def outside(value: Any, interval: Any) -> z3.BoolRef | None:
    """When a scalar value lies outside ``interval`` (None: nothing to check)."""
    if not isinstance(value, Scalar):
        return None
    lo, hi = interval.lo, interval.hi
    if value.type == "bool":  # false is 0, true is 1
        return z3.Or(z3.And(z3.Not(value.term), not lo <= 0 <= hi), z3.And(value.term, not lo <= 1 <= hi))
    if value.type not in BITS:
        return None
    bits = BITS[value.type]
    low, high = (0, 255) if value.type == "uint8" else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if lo <= low and hi >= high:
        return None  # the whole type: nothing to check
    if max(lo, low) > min(hi, high):
        return z3.BoolVal(True)  # no value of the type lies in it: any value the node computes is outside
    # One unsigned comparison, true for signed and unsigned types alike: v in [lo, hi] iff v - lo <=u hi - lo.
    start = z3.BitVecVal(int(max(lo, low)), bits)
    return z3.simplify(z3.UGT(value.term - start, z3.BitVecVal(int(min(hi, high) - max(lo, low)), bits)))


def holds_locally(graph: Graph, node: Any, value: Any, interval: Any) -> bool:
    """Whether an operator's interval holds whatever its operands are (constants aside), so that no run need
    be searched."""
    if node.kind != "prim" or not isinstance(value, Scalar) or value.type not in BITS or node.attr("op") in (
            "/", "%"):
        return False
    operands = []
    for k, operand in enumerate(node.operands):
        source = graph.node(operand)
        type_name = "int" if k == 1 and node.attr("op") in ("<<<", ">>>") else value.type
        if source.kind == "const" and source.attr("type") == type_name:
            operands.append(scalars.constant(source.attr("value"), type_name))
        else:
            operands.append(Scalar(type_name, z3.BitVec(f"__operand{k}", BITS[type_name])))
    try:
        if len(operands) == 1:
            result = scalars.unary(node.attr("op"), value.type, operands[0])
        else:
            result = scalars.arithmetic(node.attr("op"), value.type, operands[0], operands[1], lambda c, r: None)
    except Unsupported:
        return False
    out = outside(result, interval)
    if out is None or z3.is_false(out):
        return True
    verdict, _, _ = solve([out], LOCAL_TIMEOUT_MS)
    return verdict == z3.unsat


def range_verdicts(pass_name: str, before: Graph, after: Graph, options: Options) -> list[Verdict]:
    ranges = after.annotation("ranges")
    if not ranges:
        return []
    return [function_range_verdict(pass_name, after, name, ranges, options) for name in entry_functions(after)]


def function_range_verdict(pass_name: str, graph: Graph, name: str, ranges: Any, options: Options) -> Verdict:
    """Whether the ``ranges`` facts hold on every run of the entry function ``name`` (one z3 question)."""
    def verdict(status: str, detail: str) -> Verdict:
        return Verdict(pass_name, name, status, detail)

    program = Program(graph)
    shared = Shared(Layouts([graph]))
    try:
        types = parameter_types(program, name)
        inputs = tuple(fresh(t, f"{name}.arg{k}", z3.Const, shared.layouts) for k, t in enumerate(types))
        machine = Machine(program, shared, options, watch=frozenset(ranges.keys()))
        machine.call_declaration(name, list(inputs))
    except Unsupported as reason:
        return verdict("unknown", f"(ranges not checked: cannot encode: {reason})")
    except (z3.Z3Exception, AttributeError, TypeError, ValueError, IndexError, KeyError) as error:
        return verdict("unknown", f"(ranges not checked: an ill-typed graph ({type(error).__name__}: {error}))")
    violations = []
    local: dict[int, bool] = {}
    for node_id, value, path in machine.observations:
        if node_id not in local:
            local[node_id] = holds_locally(graph, graph.node(node_id), value, ranges[node_id])
        if local[node_id]:
            continue
        out = outside(value, ranges[node_id])
        if out is not None and not z3.is_false(out):
            violations.append((node_id, value, z3.And(path, out)))
    if not violations:
        return verdict("validated", "(no ranged value to check)" if not machine.observations else "(ranges hold)")
    pre = [z3.Not(z3.Or(*machine.faults)) if machine.faults else z3.BoolVal(True),
           z3.Not(z3.Or(*machine.exceeded)) if machine.exceeded else z3.BoolVal(True)]
    query = pre + [z3.Or([v for _, _, v in violations])]
    bounds = sorted(machine.bounds)
    result, model, why = solve_abstracted_first(query, options.timeout_ms)
    if result == z3.unsat:
        checked = len({n for n, _, _ in violations})
        return verdict("validated", f"(ranges of {checked} values hold" + (f"; {', '.join(bounds)})" if bounds else ")"))
    if result == z3.unknown:
        return verdict("unknown", f"(ranges not checked: z3: {why or 'unknown'})")
    for node_id, value, violated in violations:
        if z3.is_true(model.eval(violated, model_completion=True)):
            try:
                args = ", ".join(describe_runtime(runtime_value(model, v)) for v in inputs)
                seen = describe_runtime(runtime_value(model, value))
            except ReplayError as reason:
                args, seen = f"not shown: {reason}", "?"
            node = graph.node(node_id)
            return verdict("counterexample", f"the range {ranges[node_id]} of %{node_id} ({node.kind}) does not hold: "
                                             f"inputs ({args}) give {seen}")
    return verdict("unknown", "(ranges not checked: the model names no violated range)")

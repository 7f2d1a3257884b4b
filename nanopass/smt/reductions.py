"""Reduction facts: what a Saturated ``reduce`` claims about its operator, checked.

A ``reduce`` carries facts for backends, not for the interpreter (which
always folds left): ``op`` names its operator, ``associative`` lets a backend
split the elements, ``reassociate`` lets it evaluate a balanced tree.
Refinement cannot see a wrong fact, so this obligation checks them on one
function of the output:

* ``op`` is the region's operator when the region is exactly one ``prim``
  (or ``min`` / ``max``) over (acc, x), and ``region`` otherwise;
* ``associative`` only for ``+ * &&& ||| ^^^ min max`` (associative on
  integers, and on the reals that floats round; baker marks float
  reductions associative but not reassociable), and, for a fold, only when
  its init is a constant that z3 proves an identity of the operator
  (``init op x = x`` for every x; ``fpEQ`` for floats, so ``0.0`` is one);
* ``reassociate`` only when ``associative``.
"""

from __future__ import annotations

import z3

from nanopass.graph import Graph, Node
from nanopass.smt import scalars
from nanopass.smt.values import FLOAT_SORTS, BITS, Scalar, Unsupported

ASSOCIATIVE = frozenset({"+", "*", "&&&", "|||", "^^^", "min", "max"})


def region_operator(graph: Graph, node: Node) -> str:
    """What the reduce's region computes: the operator's name when it is one operator over (acc, x)."""
    region = graph.region(node.regions[0])
    if len(region.params) != 2 or len(region.body) != 1 or region.results != region.body or region.token is not None:
        return "region"
    inner = graph.node(region.body[0])
    if inner.operands != region.params:
        return "region"
    if inner.kind == "prim":
        return inner.attr("op")
    if inner.kind == "native" and inner.attr("op") in ("min", "max"):
        return inner.attr("op")
    return "region"


def _is_identity(op: str, init: Node) -> bool:
    """Whether the constant ``init`` is an identity of ``op`` on its type, by z3."""
    type_name = init.attr("type")
    if type_name not in BITS and type_name not in FLOAT_SORTS and type_name != "bool":
        return False
    try:
        unit = scalars.constant(init.attr("value"), type_name)
        x = Scalar(type_name, z3.Const("__x", unit.term.sort()))
        if op in ("min", "max"):  # the interpreter's: the first operand when it wins or is NaN
            wins = scalars.compare("<" if op == "min" else ">", unit, x, lambda a, b: z3.BoolVal(False))
            result = Scalar(type_name, z3.If(z3.Or(wins, scalars.is_nan(unit)), unit.term, x.term))
        elif type_name == "bool":
            combined = {"|||": z3.Or, "^^^": z3.Xor, "&&&": z3.And}.get(op)
            if combined is None:
                return False
            result = Scalar("bool", combined(unit.term, x.term))
        else:
            result = scalars.arithmetic(op, type_name, unit, x, lambda c, r: None)
    except Unsupported:
        return False
    same = z3.fpEQ(result.term, x.term) if type_name in FLOAT_SORTS else result.term == x.term
    if type_name in FLOAT_SORTS:  # NaN is nobody's counterexample: NaN op x is NaN
        same = z3.Or(same, z3.fpIsNaN(x.term))
    solver = z3.Solver()
    solver.add(z3.Not(same))
    return solver.check() == z3.unsat


def reduce_problems(graph: Graph, function: str) -> list[str]:
    """What is wrong with the facts of the reductions in ``function`` (empty when nothing)."""
    root = next((node for _, node in graph.top_level() if node.attr("name") == function), None)
    if root is None:
        return []
    problems = []
    for region_id in root.regions:
        for node_id in graph.walk_region(region_id):
            node = graph.node(node_id)
            if node.kind != "reduce":
                continue
            op, actual = node.attr("op"), region_operator(graph, node)
            if op != actual:
                problems.append(f"%{node_id} says its operator is '{op}', but its region computes '{actual}'")
            if node.attr("associative"):
                if actual not in ASSOCIATIVE:
                    problems.append(f"%{node_id} claims '{actual}' is associative")
                elif len(node.operands) > 1:
                    init = graph.node(node.operands[1])
                    if init.kind != "const" or not _is_identity(actual, init):
                        problems.append(f"%{node_id} claims associativity, but its init is not an identity of "
                                        f"'{actual}'")
            if node.attr("reassociate") and not node.attr("associative"):
                problems.append(f"%{node_id} may be reassociated but is not associative")
    return problems

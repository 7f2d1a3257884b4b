"""Refinement queries: does the output of a pass refine its input, one function at a time?

For a function ``f`` of both graphs the query shares the inputs (fresh values
of ``f``'s parameter types, from the input graph's ``types`` table), the
initial state of the world and the uninterpreted functions of externs and of
``exp log sin cos``, runs both sides symbolically (`nanopass.smt.encoder`)
and asserts the negation of refinement (Alive2's):

    source defined  and  neither side past a bound
    and ( target fails  or  target's value does not refine source's  or  the final states differ )

The query is first asked with floating-point operators and products as
uninterpreted functions (`nanopass.smt.abstraction`), which z3 decides
without bit-blasting: ``unsat`` there is a proof, a model there is a
candidate counterexample that the replay confirms; otherwise the precise
query decides:

* ``unsat``: ``validated``; when a bound cut runs off, the detail names it
  (``validated (loops unrolled to 8)``), and a bound that leaves no input at
  all gives ``unknown`` instead (a vacuous proof is no proof; an input that
  stays within the bounds is looked for with floating point abstracted
  first, and checked on the precise formulas by z3's evaluator).
* ``sat``: the model's inputs (small ones preferred) are replayed on the
  reference interpreter before and after, externs answering as the model's
  functions do; when the replay shows the difference the verdict is
  ``counterexample`` with the inputs and both outcomes.  A difference the
  interpreter does not show comes from an abstraction (an uninterpreted
  function) and is not reported as a miscompilation.
* ``unknown`` (a timeout, an unencodable node, a spurious model): the
  fallback is differential testing on hypothesis-generated inputs
  (`nanopass.smt.differential`): ``tested (N inputs)`` when it finds no
  difference, ``counterexample`` when it does, ``unknown`` with the reason
  when it cannot run.  Never ``validated``.

The timeout must hold, so `solve` bit-blasts a query with floating point by
tactics (``simplify, fpa2bv, simplify, smt``), which watch it, rather than
in z3's default solver, which bit-blasts each term as it internalizes it
and can run minutes and gigabytes past its timeout; and it declines, as
``unknown``, a query with an ``fp.rem`` on binary64 (F#'s ``%`` on floats),
which neither solver bounds, or with more ``fp.rem/div/sqrt/fma`` than
`MAX_HEAVY_FLOAT_OPERATIONS`.

Before any of this, two obligations that refinement cannot see: at the
levels with effect tokens, that the function's tokens thread its effects
(`nanopass.smt.effects`), and that its reductions' facts hold
(`nanopass.smt.reductions`).
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import z3

from nanopass.graph import Graph
from nanopass.smt import effects, reductions
from nanopass.smt.abstraction import abstract, float_operations
from nanopass.smt.encoder import Machine, Options, Program, Shared
from nanopass.smt.host import ReplayError, describe_runtime, model_externs, refines, run_outcome, runtime_value
from nanopass.smt.layouts import Layouts, fresh
from nanopass.smt.values import Arr, Unsupported, differs
from nanopass.validation import Verdict

# Lengths preferred for counterexample inputs (a model may pick any length; small ones replay).
SMALL_LENGTH = 6
# The query with costly operators abstracted gets at most this much of the timeout.
ABSTRACT_MS = 2000
# More bit-blast-heavy float operators than this and z3 may overrun its timeout by minutes: declined.
MAX_HEAVY_FLOAT_OPERATIONS = 8


@attrs.frozen
class Run:
    """What one symbolic run of a function gives."""

    value: Any
    faults: tuple
    exceeded: tuple
    world: z3.ExprRef
    bounds: frozenset


@attrs.frozen
class Query:
    """Both sides of one refinement question, over shared inputs."""

    source: Run
    target: Run
    inputs: tuple
    parameter_types: tuple
    shared: Shared

    def precondition(self) -> list[z3.BoolRef]:
        return [z3.Not(z3.Or(*self.source.faults)) if self.source.faults else z3.BoolVal(True),
                z3.Not(z3.Or(*self.source.exceeded)) if self.source.exceeded else z3.BoolVal(True),
                z3.Not(z3.Or(*self.target.exceeded)) if self.target.exceeded else z3.BoolVal(True)]

    def difference(self) -> z3.BoolRef:
        parts = [differs(self.source.value, self.target.value), z3.Not(self.source.world == self.target.world)]
        if self.target.faults:
            parts.append(z3.Or(*self.target.faults))
        return z3.Or(parts)

    @property
    def bounds(self) -> list[str]:
        return sorted(self.source.bounds | self.target.bounds)


def declaration(graph: Graph, name: str) -> Any:
    for _, node in graph.top_level():
        if node.attr("name") == name:
            return node
    return None


def parameter_types(program: Program, name: str) -> tuple:
    node_id, node = program.declarations[name]
    if node.kind == "global":
        return ()
    params, _ = program.function_type(name)
    if any(p is None for p in params):
        raise Unsupported(f"the parameter types of '{name}' are unknown (no types table)")
    return tuple(params)


def run(program: Program, shared: Shared, options: Options, name: str, inputs: tuple) -> Run:
    machine = Machine(program, shared, options)
    value = machine.call_declaration(name, list(inputs))
    return Run(value, tuple(machine.faults), tuple(machine.exceeded), machine.world, frozenset(machine.bounds))


def build_query(before: Graph, after: Graph, name: str, options: Options) -> Query:
    source_program, target_program = Program(before), Program(after)
    shared = Shared(Layouts([before, after]))
    types = parameter_types(source_program, name)
    target_arity = len(parameter_types(target_program, name))
    if target_arity != len(types):
        raise SignatureChanged(f"the function now takes {target_arity} parameter(s), it took {len(types)}")
    inputs = tuple(fresh(t, f"{name}.arg{k}", z3.Const, shared.layouts) for k, t in enumerate(types))
    source = run(source_program, shared, options, name, inputs)
    target = run(target_program, shared, options, name, inputs)
    return Query(source, target, inputs, types, shared)


class SignatureChanged(Exception):
    """The two sides of a function do not even take the same arguments."""


def solve(assertions: list[z3.BoolRef], timeout_ms: int) -> tuple[z3.CheckSatResult, z3.ModelRef | None, str]:
    floats = float_operations(assertions)
    if floats.double_remainders:
        return z3.unknown, None, (f"not asked: {floats.double_remainders} fp.rem on float (binary64) values, "
                                  f"which z3 bit-blasts past any timeout")
    if floats.heavy > MAX_HEAVY_FLOAT_OPERATIONS:
        return z3.unknown, None, (f"not asked: {floats.heavy} fp.rem/div/sqrt/fma to bit-blast (at most "
                                  f"{MAX_HEAVY_FLOAT_OPERATIONS}), beyond what the timeout can bound")
    # z3's default solver bit-blasts floating point as it internalizes each term, where its timeout does not
    # reach (some dozens of fp.add and fp.mul ran 37 s and 7 GB past a 10 s timeout); bit-blasted first by
    # tactics, which watch the timeout, the same query stops on time.
    solver = z3.Then("simplify", "fpa2bv", "simplify", "smt").solver() if floats.any else z3.Solver()
    solver.set("timeout", max(1, int(timeout_ms)))
    solver.add(*assertions)
    result = solver.check()
    model = solver.model() if result == z3.sat else None
    return result, model, solver.reason_unknown() if result == z3.unknown else ""


def solve_abstracted_first(formulas: list[z3.BoolRef], timeout_ms: int) -> tuple[z3.CheckSatResult,
                                                                                  z3.ModelRef | None, str]:
    """`solve`, asked first with floating point and products uninterpreted (`abstract`): ``unsat`` there holds
    for the real operators; a model there counts when the precise formulas accept it (z3's evaluator computes
    the real operators); otherwise the precise question is asked, in the time left of ``timeout_ms``."""
    started = time.monotonic()
    abstracted, changed = abstract(formulas)
    if changed:
        result, model, why = solve(abstracted, max(1, min(ABSTRACT_MS, timeout_ms // 4)))
        if result == z3.unsat or result == z3.sat and z3.is_true(model.eval(z3.And(formulas), model_completion=True)):
            return result, model, why
    return solve(formulas, max(1, timeout_ms - int(1000 * (time.monotonic() - started))))


def small_inputs(query: Query) -> list[z3.BoolRef]:
    """Prefer counterexamples whose arrays are short enough to replay and read."""
    return [n <= SMALL_LENGTH for value in query.inputs for n in _lengths(value)]


def _lengths(value: Any) -> list[z3.ExprRef]:
    if isinstance(value, Arr):
        return [n for n in value.lengths if not z3.is_array(n)]
    from nanopass.smt.values import Rec, Tup, Uni

    if isinstance(value, Tup):
        return [n for v in value.items for n in _lengths(v)]
    if isinstance(value, Rec):
        return [n for v in value.values for n in _lengths(v)]
    if isinstance(value, Uni):
        return [n for _, p in value.cases for v in p for n in _lengths(v)]
    return []


class SmtSemantics:
    """The z3 semantics as a `nanopass.validation.SEMANTICS` entry: ``(pass, before, after, function) -> Verdict``."""

    def __init__(self, options: Options | None = None):
        self.options = options or Options.from_environment()

    def __call__(self, pass_name: str, before: Graph, after: Graph, function: str) -> Verdict:
        return verdict_for(pass_name, before, after, function, self.options)


def verdict_for(pass_name: str, before: Graph, after: Graph, name: str, options: Options) -> Verdict:
    def verdict(status: str, detail: str = "") -> Verdict:
        return Verdict(pass_name, name, status, detail)

    old, new = declaration(before, name), declaration(after, name)
    if new is None:
        referenced = _referenced(after, name)
        if referenced:
            return verdict("counterexample", f"removed, but {referenced} still refers to it")
        if old.kind in ("extern", "typedef"):
            return verdict("validated", "removed; nothing refers to it")
        return verdict("unknown", "removed from the module (what its callers outside the module see is not checked)")
    if old is None:
        return verdict("validated", "added; the input has nothing it must refine")
    if old.kind != new.kind:
        return verdict("counterexample", f"a {old.kind} became a {new.kind}")
    if old.kind in ("extern", "typedef"):
        if old.attributes != new.attributes:
            return verdict("counterexample", f"the {old.kind} declaration changed")
        return verdict("validated", "the declaration is the same")
    token_problems = effects.token_problems(after, name)
    if token_problems:
        return verdict("counterexample", f"effect tokens: {token_problems[0]}")
    reduce_problems = reductions.reduce_problems(after, name)
    if reduce_problems:
        return verdict("counterexample", f"reduce facts: {reduce_problems[0]}")
    try:
        query = build_query(before, after, name, options)
    except SignatureChanged as change:
        return verdict("counterexample", str(change))
    except Unsupported as reason:
        return _fallback(verdict, before, after, name, options, f"cannot encode: {reason}")
    except (z3.Z3Exception, AttributeError, TypeError, ValueError, IndexError, KeyError) as error:
        # Values of shapes that do not fit where they are used: a graph that is not well typed.
        return _fallback(verdict, before, after, name, options,
                         f"cannot encode: an ill-typed graph ({type(error).__name__}: {error})")
    return _decide(verdict, before, after, name, options, query)


def _decide(verdict: Any, before: Graph, after: Graph, name: str, options: Options, query: Query) -> Verdict:
    started = time.monotonic()

    def left() -> float:
        return options.timeout_ms - 1000 * (time.monotonic() - started)

    try:
        difference = query.difference()
    except Unsupported as reason:
        return _fallback(verdict, before, after, name, options, f"cannot encode: {reason}")
    pre = query.precondition()
    bounds = query.bounds

    def proved() -> Verdict:
        if bounds:
            if solve_abstracted_first(pre[1:], left())[0] == z3.unsat:  # some input within the bounds?
                return _fallback(verdict, before, after, name, options,
                                 f"the bounds ({', '.join(bounds)}) leave no input to check")
            return verdict("validated", f"({', '.join(bounds)})")
        return verdict("validated")

    # First with floating-point operators and products as uninterpreted functions: cheap, and its
    # proof holds for the real operators; its model is a candidate the replay confirms or not.
    abstracted, changed = abstract(pre + [difference])
    if changed:
        result, model, _ = solve(abstracted, min(ABSTRACT_MS, options.timeout_ms // 4))
        if result == z3.unsat:
            return proved()
        if result == z3.sat:
            shown = _replayed(before, after, name, query, model)
            if isinstance(shown, str):
                return verdict("counterexample", shown)
    result, model, why = solve(pre + [difference], max(1, left()))
    if result == z3.unsat:
        return proved()
    if result == z3.unknown:
        return _fallback(verdict, before, after, name, options, f"z3: {why or 'unknown'}")
    small, small_model, _ = solve(pre + [difference] + small_inputs(query), max(1, min(left(), 2000)))
    shown = _replayed(before, after, name, query, small_model if small == z3.sat else model)
    if isinstance(shown, str):
        return verdict("counterexample", shown)
    if shown is None:
        return _fallback(verdict, before, after, name, options,
                         "z3 found a difference the interpreter does not show (an abstraction)")
    return _fallback(verdict, before, after, name, options, f"z3 found a difference that cannot be replayed: {shown[0]}")


def _replayed(before: Graph, after: Graph, name: str, query: Query, model: z3.ModelRef) -> str | tuple | None:
    """The replay's description of a difference; None when it shows none; (reason,) when it cannot run."""
    try:
        return replay(before, after, name, query, model)
    except (ReplayError, Unsupported) as reason:
        return (str(reason),)


def replay(before: Graph, after: Graph, name: str, query: Query, model: z3.ModelRef) -> str | None:
    """The model's inputs run before and after; a description of the difference, or None when there is none."""
    opaque: dict = {}
    args = tuple(runtime_value(model, value, opaque) for value in query.inputs)
    outcomes = []
    for graph in (before, after):
        calls: list = []
        externs = model_externs(graph, model, query.shared, calls)
        outcomes.append(run_outcome(graph, name, args, externs, calls))
    source, target = outcomes
    if refines(source, target):
        return None
    inputs = ", ".join(describe_runtime(a) for a in args)
    detail = f"inputs ({inputs}): before {source}, after {target}"
    if source.calls != target.calls and source.failed is None:
        detail += f"; effects before {list(source.calls)}, after {list(target.calls)}"
    return detail


def _fallback(verdict: Any, before: Graph, after: Graph, name: str, options: Options, reason: str) -> Verdict:
    from nanopass.smt.differential import differential_test

    status, detail = differential_test(before, after, name, options)
    if status == "unknown":
        return verdict("unknown", f"({reason}; {detail})")
    return verdict(status, f"{detail}; {reason}" if status == "counterexample" else f"({detail}; {reason})")


def _referenced(graph: Graph, name: str) -> str | None:
    for node_id, node in graph.live_nodes():
        if node.kind in ("ref", "call") and (node.attr("name") == name or node.attr("callee") == name):
            return f"%{node_id} ({node.kind})"
    return None


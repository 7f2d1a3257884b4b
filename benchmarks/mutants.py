"""Mutation testing of translation validation: seeded faults in the passes, and which check kills each.

Each mutant is one small fault in one pass: a swapped operand, an
off-by-one bound, a dropped node, a wrong associativity flag, a wrong tag
test, a wrong interval bound.  It is applied at run time by patching the
source of one function (or method) of the pass module: the function's
source is read with `inspect`, one exact snippet is replaced (it must occur
exactly once), the result is compiled in the module's namespace and put in
place of the original, which is restored afterwards.  The pass files are
never edited.

The corpus is every example program (examples/*.clef) and generated
well-typed programs (`nanopass.testing.programs`, its ``VALIDATION_PROFILE``:
lists, effects, unguarded operations, masked loop counts, digests,
duplicated expressions, reductions by an operator); each goes through
``elaborate,cse,reachability,baker,cse,widths`` with validation on, until a
check reports the mutant.  What kills a mutant:

* ``z3 counterexample``: a refinement verdict z3 found (and the interpreter
  replayed);
* ``differential test``: a counterexample found by the testing fallback;
* ``language verifier``: a pass's output outside its output language;
* ``pass obligation``: a pass's own check (reachability's closure, CSE's
  dominance, baker's fold-in);
* ``effect tokens`` / ``reduce facts`` / ``range facts``: the obligations of
  `nanopass.smt` (token chains, reductions' claims, widths' intervals);
* ``exception``: the mutated pass, the pipeline or the validator raised.

The unmutated corpus runs first: a counterexample there would be a false
alarm and stops the harness.  Prints one line per mutant and ends with
``killed K/N mutants``.

Run: ``.venv/bin/python benchmarks/mutants.py [--generated 40] [--only NAME,...]`` (``make mutants``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nanopass.diagnostics import DiagnosticError  # noqa: E402
from nanopass.frontend import parse  # noqa: E402
from nanopass.pipeline import PassFailure, Pipeline  # noqa: E402
from nanopass.testing.programs import VALIDATION_PROFILE, generated_program  # noqa: E402
from nanopass.validation import VALIDATOR_RAISED  # noqa: E402

PIPELINE = "elaborate,cse,reachability,baker,cse,widths"
EXAMPLES = ROOT / "examples"


@attrs.frozen
class Mutant:
    """One fault: in ``module``, the function ``target`` (``name`` or ``Class.name``) with ``old`` replaced by
    ``new``; or, with ``value``, a module constant ``target`` replaced by ``value(original)``."""

    name: str
    module: str
    target: str
    old: str = ""
    new: str = ""
    description: str = ""
    value: Callable[[Any], Any] | None = None

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        module = importlib.import_module(self.module)
        owner_name, _, attribute = self.target.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        original = inspect.getattr_static(owner, attribute)
        replacement = self.value(original) if self.value is not None else self._patched(module, original, attribute)
        holders = [owner] if owner_name else [m for m in list(sys.modules.values())
                                               if getattr(m, attribute, None) is original]
        for holder in holders:
            setattr(holder, attribute, replacement)
        try:
            yield
        finally:
            for holder in holders:
                setattr(holder, attribute, original)

    def _patched(self, module: Any, original: Any, attribute: str) -> Any:
        function = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
        source = textwrap.dedent(inspect.getsource(function))
        if source.count(self.old) != 1:
            raise ValueError(f"mutant {self.name}: the snippet occurs {source.count(self.old)} times in "
                             f"{self.module}.{self.target}, expected once")
        scope: dict[str, Any] = {}
        exec(compile(source.replace(self.old, self.new), f"<mutant {self.name}>", "exec"), module.__dict__, scope)
        return scope[attribute]


SITES = "nanopass.passes.baker_sites"
BAKER = "nanopass.passes.baker"
CSE = "nanopass.passes.cse"
REACH = "nanopass.passes.reachability"
ELAB = "nanopass.passes.elaborate"
WIDTHS = "nanopass.passes.widths"

MUTANTS: tuple[Mutant, ...] = (
    # -- baker: the expansions ----------------------------------------------------------------------------
    Mutant("baker-minus-associative", SITES, "ASSOCIATIVE", value=lambda ops: ops | {"-"},
           description="a wrong associativity flag: '-' counted associative"),
    Mutant("baker-region-associative", SITES, "_FragmentBuilder.reduce",
           "associative = op in ASSOCIATIVE", "associative = op in ASSOCIATIVE or op == 'region'",
           "a wrong associativity flag: any reducing lambda counted associative"),
    Mutant("baker-fold-identity-skipped", SITES, "_FragmentBuilder.reduce",
           "associative = init is not None and self.is_identity(init, op, type_name)",
           "associative = init is not None", "a fold counted associative whatever its init"),
    Mutant("baker-map2-swapped", SITES, "_FragmentBuilder.map_over",
           "([indices[0]] if with_index else []) + elements, token)",
           "([indices[0]] if with_index else []) + elements[::-1], token)", "swapped operands of map2's function"),
    Mutant("baker-scan-inclusive", SITES, "_FragmentBuilder.compact", "exclusive=True", "exclusive=False",
           "off-by-one positions: an inclusive scan for a filter"),
    Mutant("baker-sum-from-one", SITES, "_FragmentBuilder.native",
           "start, start_type = zero(type_name)", "start, start_type = 1, zero(type_name)[1]",
           "a sum that starts from one"),
    Mutant("baker-fold-drops-init", SITES, "_FragmentBuilder.reduce",
           "operands = (source,) if init is None else (source, init)", "operands = (source,)",
           "a dropped node: a fold's init"),
    Mutant("baker-wrong-tag-test", SITES, "_DecisionTree.test",
           'emit("tag_test", value, case=test.case', 'emit("tag_test", value, case="None" if test.case == "Some" else test.case',
           "a wrong tag test: Some tested as None"),
    Mutant("baker-literal-test-negated", SITES, "_DecisionTree.test", 'op="="', 'op="<>"',
           "a literal pattern tested with <>"),
    Mutant("baker-guard-ignored", SITES, "_DecisionTree.condition",
           "if len(tests) == 1 and arm.guard is None:", "if len(tests) == 1:", "a match guard dropped"),
    Mutant("baker-implied-too-early", SITES, "_DecisionTree.implied",
           "if every is not None and covered | {tag} >= every:",
           "if every is not None and len(covered | {tag}) >= len(every) - 1:",
           "a case test left out one arm too early"),
    Mutant("baker-case-field-zero", SITES, "_DecisionTree.extract",
           'case=step[1], index=step[2])', 'case=step[1], index=0)', "every payload field read as field 0"),
    Mutant("baker-distinct-sees-all", SITES, "_FragmentBuilder.first_occurrences",
           'self.parallel_for(origin, "array", (i,), None, equal_to_element',
           'self.parallel_for(origin, "array", (self.extent(source),), None, equal_to_element',
           "off-by-one bound: distinct compares with every element, itself included"),
    # -- baker: the fold-in -----------------------------------------------------------------------------------
    Mutant("baker-drops-prelude-node", BAKER, "fold_in",
           "place = tuple(allocation.node(i) for i in fragment.prelude)",
           "place = tuple(allocation.node(i) for i in fragment.prelude[1:])",
           "a dropped node: the first of each expansion left out of its region"),
    Mutant("baker-deletes-in-place-site", BAKER, "fold_in",
           "if not fragment.in_place:\n            rw.delete(fragment.site)", "rw.delete(fragment.site)",
           "a dropped node: a site whose value took its id deleted"),
    # -- cse --------------------------------------------------------------------------------------------------
    Mutant("cse-merges-effects", CSE, "mergeable", "if node.effect is not None or node.regions:",
           "if node.regions:", "effectful calls merged"),
    Mutant("cse-signed-zeros", CSE, "exact", 'return ("float", value.hex())', 'return ("float", value)',
           "0.0 and -0.0 merged"),
    Mutant("cse-values-leave-scope-late", CSE, "CommonSubexpressions.run",
           "del table[node_key]", "pass", "values of a region reused after it"),
    Mutant("cse-ignores-operator", CSE, "CommonSubexpressions.run",
           "exact(node.attributes)", 'exact(tuple(a for a in node.attributes if a[0] != "op"))',
           "nodes merged whatever their operator"),
    Mutant("cse-commutes-everything", CSE, "CommonSubexpressions.run",
           "tuple(merged.get(o, o) for o in node.operands)", "tuple(sorted(merged.get(o, o) for o in node.operands))",
           "swapped operands: every operator taken as commutative"),
    Mutant("cse-constants-merged", CSE, "CommonSubexpressions.run", "exact(node.attributes)",
           "exact(node.attributes[:1])", "nodes merged on their first attribute only (constants of one type)"),
    # -- reachability -----------------------------------------------------------------------------------------
    Mutant("reach-drops-operand", REACH, "reachable", "stack.extend(node.operands)",
           "stack.extend(node.operands[1:])", "a dropped edge: first operands are not followed"),
    Mutant("reach-drops-token", REACH, "reachable", "stack.append(node.effect)", "pass",
           "a dropped edge: effect tokens are not followed"),
    Mutant("reach-drops-results", REACH, "reachable", "stack.extend(region.results)", "stack.extend(())",
           "a dropped edge: region results are not followed"),
    # -- elaborate --------------------------------------------------------------------------------------------
    Mutant("elab-operand-type-last", ELAB, "Elaborate.rewrite_prim", "elab.types.get(node.operands[0])",
           "elab.types.get(node.operands[-1])", "an operator typed by its last operand"),
    Mutant("elab-swapped-call-args", ELAB, "Elaborate.rewrite_apply", '(callee_value, *saturated)',
           '(callee_value, *saturated[::-1])', "swapped arguments of a saturated call"),
    Mutant("elab-effects-forgotten", ELAB, "Elaborate.rewrite_apply", "effectful = elab.effects.callable(target)",
           "effectful = False", "a dropped token: calls of effectful functions taken as pure"),
    Mutant("elab-assignment-lost", ELAB, "Elaborate.rewrite_assign", "elab.scope.cells[cell] = elab.value(value)",
           "pass", "a dropped node: an assignment"),
    Mutant("elab-loop-inits-swapped", ELAB, "Elaborate.rewrite_while", 'Node("loop", inits,',
           'Node("loop", inits[::-1],', "swapped operands: a while loop's initial carried values"),
    Mutant("elab-branch-carried-shifted", ELAB, "Elaborate._branching",
           "elab.bind_carried(node_id, carried, 1, node.span)", "elab.bind_carried(node_id, carried, 0, node.span)",
           "off-by-one: the values a branch assigns read one slot early"),
    # -- widths: interval functions ----------------------------------------------------------------------------
    Mutant("widths-fit-ignores-wrap", WIDTHS, "_fit", "return result if result.within(full) else full",
           "return result", "a wrong interval bound: overflow taken not to wrap"),
    Mutant("widths-remainder-off-by-one", WIDTHS, "_remainder", "min(a.hi, largest - 1)", "min(a.hi, largest - 2)",
           "a wrong interval bound: a remainder one below its divisor's reach"),
    Mutant("widths-mask-off-by-one", WIDTHS, "_bitwise", "return Interval(0, min(a.hi, b.hi))",
           "return Interval(0, max(0, min(a.hi, b.hi) - 1))", "a wrong interval bound: x &&& m below m"),
    Mutant("widths-subtraction-bounds", WIDTHS, "binary_range", "Interval(a.lo - b.hi, a.hi - b.lo)",
           "Interval(min(a.lo - b.lo, a.hi - b.hi), max(a.lo - b.lo, a.hi - b.hi))",
           "swapped operands: a difference's bounds from the wrong corners"),
    Mutant("widths-floor-division", WIDTHS, "_divide", "_corners(_truncating_div, a, part)",
           "_corners(lambda x, y: x // y, a, part)", "a wrong interval bound: division floors"),
    Mutant("widths-conversion-keeps", WIDTHS, "convert_range", "return _fit(inside, full)", "return inside",
           "a wrong interval bound: a narrowing conversion keeps the range"),
    Mutant("widths-less-than-touching", WIDTHS, "_compare", "True if a.hi < b.lo", "True if a.hi <= b.lo",
           "off-by-one: a < b decided true when a can equal b"),
    Mutant("widths-for-index-short", WIDTHS, "_Analyzer.kind_for", "Interval(lo.lo, hi.hi)",
           "Interval(lo.lo, max(lo.lo, hi.hi - 1))", "off-by-one bound: a for index misses its last value"),
    Mutant("widths-refine-strict", WIDTHS, "_Analyzer._refine_comparison", 'strict = 1 if op == "<" else 0',
           'strict = 2 if op == "<" else 1', "off-by-one: a branch's comparison refined too far"),
    Mutant("widths-shift-right-extra", WIDTHS, "_shift", "lambda x, n: x >> n", "lambda x, n: x >> (n + 1)",
           "off-by-one: right shifts one bit further"),
)


@attrs.frozen
class Kill:
    check: str
    program: str
    detail: str


def corpus(generated: int) -> list[tuple[str, Any]]:
    """(name, graph) for every example and ``generated`` generated programs."""
    items = [(path.name, parse(path.read_bytes(), filename=str(path))) for path in sorted(EXAMPLES.glob("*.clef"))]
    items += [(f"generated{seed}", parse(generated_program(seed, **VALIDATION_PROFILE).source,
                                         filename=f"generated{seed}.clef")) for seed in range(generated)]
    return items


def classify(verdict: Any) -> str:
    detail = verdict.detail
    if detail.startswith("effect tokens:"):
        return "effect tokens"
    if detail.startswith("reduce facts:"):
        return "reduce facts"
    if verdict.pass_name == "widths" and detail.startswith("the range"):
        return "range facts"
    if verdict.function == "*" or detail.startswith("fold-in:"):
        return "pass obligation"
    if "(found by testing)" in detail:
        return "differential test"
    return "z3 counterexample"


def check_program(pipeline: Pipeline, name: str, graph: Any) -> Kill | None:
    """Run one program with validation on; the first check that reports a problem, if any."""
    try:
        result = pipeline.run(graph, validate=True, reproducer=None)
    except PassFailure as failure:
        reasons = [d.message for d in failure.diagnostics[1:]]
        raised = reasons and re.match(r"^\w+(Error|Exception)\b", reasons[0])
        return Kill("exception" if raised else "language verifier", name, f"{failure.pass_name}: "
                    f"{(reasons or [''])[0]}")
    except DiagnosticError as error:
        return Kill("exception", name, error.diagnostics[0].message if error.diagnostics else str(error))
    except Exception as error:  # noqa: BLE001 - a mutated pass may raise anything
        return Kill("exception", name, f"{type(error).__name__}: {error}")
    for verdict in result.verdicts:
        if verdict.status == "counterexample":
            return Kill(classify(verdict), name, str(verdict))
        if VALIDATOR_RAISED in verdict.detail:
            return Kill("exception", name, str(verdict))
    return None


def run_mutant(mutant: Mutant, programs: list[tuple[str, Any]], pipeline_text: str = PIPELINE) -> Kill | None:
    """The first check that kills ``mutant`` on ``programs``; None when it survives."""
    with mutant.applied():
        pipeline = Pipeline.parse(pipeline_text)
        for name, graph in programs:
            kill = check_program(pipeline, name, graph)
            if kill is not None:
                return kill
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=40, help="generated programs in the corpus (default 40)")
    parser.add_argument("--only", help="comma-separated mutant names")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only.split(",")]
    programs = corpus(args.generated)
    started = time.perf_counter()
    baseline = Pipeline.parse(PIPELINE)
    for name, graph in programs:
        alarm = check_program(baseline, name, graph)
        if alarm is not None:
            print(f"the unmutated passes fail on {name} ({alarm.check}): {alarm.detail}")
            return 1
    print(f"corpus: {len(programs)} programs, baseline clean in {time.perf_counter() - started:.1f}s; "
          f"pipeline {PIPELINE}")
    killed = 0
    by_check: dict[str, int] = {}
    for mutant in chosen:
        began = time.perf_counter()
        kill = run_mutant(mutant, programs)
        spent = time.perf_counter() - began
        if kill is None:
            print(f"SURVIVED {mutant.name} ({mutant.description}) [{spent:.1f}s]")
            continue
        killed += 1
        by_check[kill.check] = by_check.get(kill.check, 0) + 1
        shown = kill.detail if len(kill.detail) <= 160 else kill.detail[:157] + "..."
        print(f"KILLED   {mutant.name} by {kill.check} on {kill.program} [{spent:.1f}s]: {shown}")
    print("kills by check: " + ", ".join(f"{check} {count}" for check, count in sorted(by_check.items())))
    print(f"killed {killed}/{len(chosen)} mutants")
    return 0


if __name__ == "__main__":
    sys.exit(main())

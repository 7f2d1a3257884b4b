"""Translation validation plumbing: which functions a pass changed, and their verdicts.

The semantics of the PSG plug in through `SEMANTICS`: a callable
``(pass_name, before, after, function_name) -> Verdict``; the last one
installed is used.  When none is installed, the z3 semantics of
`nanopass.smt` are installed on first use, so `Pipeline.run(...,
validate=True)` and ``nanopass opt --validate`` always ask z3.  A verdict is
never ``validated`` without a proof.

Analyses do not change nodes, but their facts can be checked: `FACT_CHECKS`
maps an annotation table to a callable ``(pass_name, before, after) ->
list[Verdict]`` that `annotation_verdicts` runs for each table an analysis
wrote or changed (`nanopass.smt` registers one for ``ranges``).
"""

from __future__ import annotations

from typing import Callable

import attrs

from nanopass.graph import Graph


@attrs.frozen(slots=True)
class Verdict:
    """The outcome of validating one pass on one function."""

    pass_name: str
    function: str
    status: str  # validated | counterexample | unknown | tested
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.pass_name} {self.function} {self.status}" + (f" {self.detail}" if self.detail else "")


Semantics = Callable[[str, Graph, Graph, str], Verdict]
VALIDATOR_RAISED = "the validator raised"
SEMANTICS: list[Semantics] = []
FactCheck = Callable[[str, Graph, Graph], list[Verdict]]
FACT_CHECKS: dict[str, FactCheck] = {}


def function_fingerprint(graph: Graph, node_id: int) -> tuple:
    """A structural key of one declaration and everything nested in it, independent of ids."""
    order = {}
    items = []
    for nid in [node_id, *(n for r in graph.node(node_id).regions for n in graph.walk_region(r))]:
        order[nid] = len(order)
    for nid in order:
        node = graph.node(nid)
        items.append((
            node.kind,
            tuple(order.get(o, ("free", o)) for o in node.operands),
            node.attributes,
            len(node.regions),
            None if node.effect is None else order.get(node.effect, ("free", node.effect)),
        ))
    for r in [r for nid in order for r in graph.node(nid).regions]:
        region = graph.region(r)
        items.append(tuple(order.get(v, ("free", v)) for v in region.results + region.params))
    return tuple(items)


def declarations(graph: Graph) -> dict[str, int]:
    return {node.attr("name"): nid for nid, node in graph.top_level() if node.attr("name") is not None}


def changed_functions(before: Graph, after: Graph) -> list[str]:
    """Names of declarations whose structure differs (or that were added or removed)."""
    old, new = declarations(before), declarations(after)
    changed = [name for name in old if name not in new]
    for name, nid in new.items():
        if name not in old or function_fingerprint(before, old[name]) != function_fingerprint(after, nid):
            changed.append(name)
    return changed


def current_semantics() -> Semantics:
    """The installed semantics; the z3 semantics of `nanopass.smt` when none is."""
    if not SEMANTICS:
        from nanopass.smt import install

        install()
    return SEMANTICS[-1]


def refinement_verdicts(pass_name: str, before: Graph, after: Graph) -> list[Verdict]:
    changed = changed_functions(before, after)
    if not changed:
        return []
    semantics = current_semantics()
    verdicts = []
    for name in changed:
        try:
            verdicts.append(semantics(pass_name, before, after, name))
        except Exception as error:  # noqa: BLE001 - a bug of the validator, reported as a verdict
            verdicts.append(_raised(pass_name, name, error))
    return verdicts


def annotation_verdicts(pass_name: str, before: Graph, after: Graph) -> list[Verdict]:
    """The checks of every annotation table ``after`` holds anew or changed (see `FACT_CHECKS`)."""
    current_semantics()  # installing the default semantics registers its fact checks
    verdicts = []
    for table, check in FACT_CHECKS.items():
        if table in after.annotations and after.annotation(table) != before.annotation(table):
            try:
                verdicts.extend(check(pass_name, before, after))
            except Exception as error:  # noqa: BLE001 - a bug of the validator, reported as a verdict
                verdicts.append(_raised(pass_name, "*", error))
    return verdicts


def _raised(pass_name: str, function: str, error: Exception) -> Verdict:
    """A validator that raised: ``unknown``, saying so (never a proof, and no traceback in a user's pipeline)."""
    return Verdict(pass_name, function, "unknown", f"{VALIDATOR_RAISED} {type(error).__name__}: {error}")

"""Declarative languages: which node kinds a pipeline stage allows, and their shape.

A `Language` is a set of `Kind`s.  Languages are built as deltas of one another
(`extend`, `remove`), as in the Racket/Chez nanopass framework, so that the
definitions in `nanopass.languages` read like the pipeline.  `Language.check`
returns located diagnostics for every node that does not conform.
"""

from __future__ import annotations

from typing import Iterable, Literal

import attrs
from pyrsistent import PMap, pmap

from nanopass.diagnostics import UNKNOWN_SPAN, Diagnostic
from nanopass.graph import Graph, Node

TokenUse = Literal["never", "always", "optional"]
VARIADIC = -1


@attrs.frozen(slots=True)
class Kind:
    """The shape of one node kind.

    ``operands`` / ``regions`` are exact counts, or ``VARIADIC`` with a
    ``min_operands`` floor.  ``attributes`` must all be present;
    ``optional`` may be.  ``token`` says whether the node consumes an effect
    token: never, always, or optionally (a call whose callee decides).  In the
    source language every kind says "never": order is implicit there, and
    elaboration makes it explicit.
    """

    name: str
    operands: int = 0
    attributes: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    regions: int = 0
    token: TokenUse = "never"
    min_operands: int = 0
    doc: str = ""

    def check(self, node: Node) -> list[str]:
        problems = []
        count = len(node.operands)
        if self.operands == VARIADIC:
            if count < self.min_operands:
                problems.append(f"expected at least {self.min_operands} operands, got {count}")
        elif count != self.operands:
            problems.append(f"expected {self.operands} operands, got {count}")
        if self.regions != VARIADIC and len(node.regions) != self.regions:
            problems.append(f"expected {self.regions} regions, got {len(node.regions)}")
        present = {k for k, _ in node.attributes}
        missing = [a for a in self.attributes if a not in present]
        if missing:
            problems.append(f"missing attribute(s) {', '.join(missing)}")
        unknown = sorted(present - set(self.attributes) - set(self.optional))
        if unknown:
            problems.append(f"unexpected attribute(s) {', '.join(unknown)}")
        if self.token == "never" and node.effect is not None:
            problems.append("this kind must not consume an effect token")
        if self.token == "always" and node.effect is None:
            problems.append("this kind must consume an effect token")
        return problems


def kind(name: str, operands: int | str = 0, attributes: Iterable[str] = (), optional: Iterable[str] = (),
         regions: int | str = 0, token: TokenUse = "never", doc: str = "") -> Kind:
    """Shorthand: ``operands="*"`` / ``"+"`` for variadic (at least 0 / 1)."""
    min_operands = 0
    if operands in ("*", "+"):
        min_operands = 1 if operands == "+" else 0
        operands = VARIADIC
    if regions == "*":
        regions = VARIADIC
    return Kind(name, int(operands), tuple(attributes), tuple(optional), int(regions), token, min_operands, doc)


@attrs.frozen(slots=True)
class Language:
    name: str
    kinds: PMap = pmap()
    parent: str | None = None

    @classmethod
    def define(cls, name: str, *kinds: Kind) -> "Language":
        return cls(name, pmap({k.name: k for k in kinds}))

    def extend(self, name: str, *kinds: Kind) -> "Language":
        """A new language with ``kinds`` added (or redefined)."""
        return Language(name, self.kinds.update({k.name: k for k in kinds}), self.name)

    def remove(self, name: str, *kind_names: str) -> "Language":
        missing = [k for k in kind_names if k not in self.kinds]
        if missing:
            raise ValueError(f"{self.name} has no kind(s) {', '.join(missing)} to remove")
        kinds = self.kinds
        for k in kind_names:
            kinds = kinds.remove(k)
        return Language(name, kinds, self.name)

    def delta(self, name: str, add: Iterable[Kind] = (), remove: Iterable[str] = ()) -> "Language":
        """``remove`` then ``extend`` in one step."""
        kinds = self.remove(name, *remove).kinds if remove else self.kinds
        return Language(name, kinds.update({k.name: k for k in add}), self.name)

    def __contains__(self, kind_name: str) -> bool:
        return kind_name in self.kinds

    def differs_from(self, other: "Language") -> set[str]:
        """Kinds present in only one of the two languages, or shaped differently."""
        names = set(self.kinds) | set(other.kinds)
        return {n for n in names if self.kinds.get(n) != other.kinds.get(n)}

    def check(self, graph: Graph) -> list[Diagnostic]:
        """Located diagnostics for every node, region and edge that does not conform."""
        diagnostics: list[Diagnostic] = []

        def report(node_id: int, node: Node, message: str) -> None:
            diagnostics.append(Diagnostic(
                node.span, f"node %{node_id} ({node.kind}) in language '{self.name}': {message}"))

        def exists(node_id: int) -> bool:
            return 0 <= node_id < len(graph.nodes) and graph.nodes[node_id] is not None

        for node_id, node in graph.live_nodes():
            spec = self.kinds.get(node.kind)
            if spec is None:
                report(node_id, node, f"kind '{node.kind}' is not in the language")
                continue
            for problem in spec.check(node):
                report(node_id, node, problem)
            for operand in node.inputs():
                if not exists(operand):
                    report(node_id, node, f"operand %{operand} does not exist")
            for region_id in node.regions:
                if not (0 <= region_id < len(graph.regions)) or graph.regions[region_id] is None:
                    report(node_id, node, f"region #{region_id} does not exist")
        for region_id, region in enumerate(graph.regions):
            if region is None:
                continue
            for value in region.results + region.node_ids():
                if not exists(value):
                    diagnostics.append(Diagnostic(
                        UNKNOWN_SPAN, f"region #{region_id} in language '{self.name}' refers to missing node %{value}"))
        return diagnostics

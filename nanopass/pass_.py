"""Passes, analyses and the registry.

A pass is a frozen attrs class: its fields are its typed options, its class
attributes name it and declare its input and output languages.

* `Pass.run(graph, ctx)` returns a new graph; the input is never changed.
* `RewritePass` is the generated traversal: it visits every node in region
  order and calls ``rewrite_<kind>`` where the pass defines one.  Kinds it
  does not mention are carried over untouched (the very same node objects).
  A ``strict`` rewrite pass must handle every kind that differs between its
  languages; that is checked when the class is defined.
* `Analysis` writes annotation tables and never edits nodes.
* `Pass.validate(before, after, ctx)` is the translation-validation hook; it
  returns `Verdict`s (see `nanopass.validation`).
* A pass whose ``input_language`` and ``output_language`` are ``None`` works
  at every level and keeps the level it is given (``renumber``, ``cse``); a
  pipeline verifies its output against the level the graph is at.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, ClassVar, Mapping

import attrs
from pyrsistent import PVector

from nanopass.diagnostics import Diagnostic
from nanopass.graph import Graph, Node, Region
from nanopass.language import Language
from nanopass.validation import Verdict, annotation_verdicts, refinement_verdicts

PASSES: dict[str, type["Pass"]] = {}


@attrs.define
class PassContext:
    """What one pass run may read and report: statistics, diagnostics, timing."""

    statistics: Counter = attrs.field(factory=Counter)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)

    def stat(self, name: str, amount: int = 1) -> None:
        self.statistics[name] += amount

    def error(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)


def register(cls: type["Pass"]) -> type["Pass"]:
    """Class decorator: put a pass in the registry under its ``name``."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} has no name to register under")
    if cls.name in PASSES and PASSES[cls.name] is not cls:
        raise TypeError(f"pass name {cls.name!r} is already taken by {PASSES[cls.name].__qualname__}")
    PASSES[cls.name] = cls
    return cls


@attrs.frozen
class Pass:
    name: ClassVar[str] = ""
    input_language: ClassVar[Language | None]
    output_language: ClassVar[Language | None]
    strict: ClassVar[bool] = False

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        raise NotImplementedError(f"{type(self).__name__} must define run()")

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        """Translation validation: by default, that ``after`` refines ``before``."""
        return refinement_verdicts(self.name, before, after)

    @classmethod
    def options(cls) -> dict[str, attrs.Attribute]:
        """The text options: every field but those marked ``metadata={"option": False}``
        (objects a user injects from Python, such as an executor)."""
        return {a.name: a for a in attrs.fields(cls) if a.metadata.get("option", True)}

    def spec(self) -> str:
        """The pipeline text for this pass with its non-default options."""
        changed = [
            f"{a.name}={_format_option(getattr(self, a.name))}"
            for a in self.options().values()
            if getattr(self, a.name) != a.default
        ]
        return self.name + ("{" + " ".join(changed) + "}" if changed else "")


def _format_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Rewriter:
    """A batch of edits to one graph, committed at once by `finish`.

    Node and region tables are pyrsistent evolvers, so untouched entries are
    shared with the input graph.  Redirected uses are recorded as a
    substitution and applied in one sweep at the end, only if there are any.
    """

    def __init__(self, graph: Graph):
        self.graph = graph
        self.nodes = graph.nodes.evolver()
        self.regions = graph.regions.evolver()
        self._substitution: dict[int, int] = {}

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def region(self, region_id: int) -> Region:
        return self.regions[region_id]

    def replace(self, node_id: int, node: Node) -> None:
        self.nodes[node_id] = node

    def add(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def add_region(self, region: Region) -> int:
        self.regions.append(region)
        return len(self.regions) - 1

    def set_region(self, region_id: int, region: Region) -> None:
        self.regions[region_id] = region

    def delete(self, node_id: int) -> None:
        self.nodes[node_id] = None

    def delete_region(self, region_id: int) -> None:
        """Leave ``None`` in a region's slot; the caller deletes its nodes and its owner."""
        self.regions[region_id] = None

    def redirect(self, old: int, new: int) -> None:
        """Every use of ``old`` becomes a use of ``new``."""
        self._substitution[old] = new

    def resolve(self, node_id: int) -> int:
        """The value that stands for ``node_id`` once the redirects so far are applied.

        Uses are rewritten only by `finish`, so a handler that reads an
        operand's node should read ``rw.node(rw.resolve(operand))``.
        """
        seen = set()
        while node_id in self._substitution and node_id not in seen:
            seen.add(node_id)
            node_id = self._substitution[node_id]
        return node_id

    def finish(self) -> Graph:
        nodes: PVector = self.nodes.persistent()
        regions: PVector = self.regions.persistent()
        if self._substitution:
            nodes, regions = _substitute(nodes, regions, self._resolved_substitution())
        return attrs.evolve(self.graph, nodes=nodes, regions=regions)

    def _resolved_substitution(self) -> dict[int, int]:
        return {old: self.resolve(old) for old in self._substitution}


def _substitute(nodes: PVector, regions: PVector, sub: Mapping[int, int]) -> tuple[PVector, PVector]:
    def fix(ids: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sub.get(i, i) for i in ids)

    node_ev = nodes.evolver()
    for node_id, node in enumerate(nodes):
        if node is None:
            continue
        if any(i in sub for i in node.operands) or node.effect in sub:
            node_ev[node_id] = attrs.evolve(
                node, operands=fix(node.operands), effect=sub.get(node.effect, node.effect)
            )
    region_ev = regions.evolver()
    for region_id, region in enumerate(regions):
        if region is None:
            continue
        if any(i in sub for i in region.results) or region.effect_out in sub:
            region_ev[region_id] = attrs.evolve(
                region, results=fix(region.results), effect_out=sub.get(region.effect_out, region.effect_out)
            )
    return node_ev.persistent(), region_ev.persistent()


@attrs.frozen
class RewritePass(Pass):
    """The generated traversal: ``rewrite_<kind>`` handlers, everything else carried over.

    A handler receives ``(rewriter, node_id, node)`` and returns ``None`` (keep
    the node), a `Node` (replace it in place, same id) or an ``int`` (the id
    of a value that replaces it: uses are redirected and the node deleted).
    """

    _handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls._handlers = {
            attr[len("rewrite_"):]: attr for attr in dir(cls) if attr.startswith("rewrite_")
        }
        if cls.__dict__.get("strict") and getattr(cls, "input_language", None) is not None:
            missing = sorted(
                k for k in cls.input_language.differs_from(cls.output_language)
                if k in cls.input_language.kinds and k not in cls._handlers
            )
            if missing:
                raise TypeError(f"strict pass {cls.__name__} does not handle kind(s): {', '.join(missing)}")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        rw = Rewriter(graph)
        nodes = rw.nodes
        handlers = {k: getattr(self, m) for k, m in self._handlers.items()}
        rewrote: Counter = Counter()
        replaced: Counter = Counter()
        stack = [graph.root]
        while stack:
            region_id = stack.pop()
            region = rw.region(region_id)
            removed: set[int] = set()
            nested: list[int] = []
            for node_id in region.node_ids():
                node = nodes[node_id]
                handler = handlers.get(node.kind)
                if handler is None:  # carried over: the hot path of the generated traversal
                    if node.regions:
                        nested.extend(node.regions)
                    continue
                result = handler(rw, node_id, node)
                if isinstance(result, Node):
                    if result is not node:
                        rw.replace(node_id, result)
                        rewrote[node.kind] += 1
                elif result is not None:
                    rw.redirect(node_id, result)
                    rw.delete(node_id)
                    removed.add(node_id)
                    replaced[node.kind] += 1
                    continue
                nested.extend(nodes[node_id].regions)  # the handler may have replaced it
            if removed:
                region = rw.region(region_id)
                rw.set_region(region_id, attrs.evolve(region, body=tuple(i for i in region.body if i not in removed)))
            stack.extend(reversed(nested))
        for kind, count in rewrote.items():
            ctx.stat(f"rewrote {kind}", count)
        for kind, count in replaced.items():
            ctx.stat(f"replaced {kind}", count)
        return rw.finish()


@attrs.frozen
class Analysis(Pass):
    """Writes annotation tables; never edits nodes.  Defines `analyze`."""

    def analyze(self, graph: Graph, ctx: PassContext) -> Mapping[str, Mapping[int, Any]]:
        raise NotImplementedError(f"{type(self).__name__} must define analyze()")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        out = graph
        for table, facts in self.analyze(graph, ctx).items():
            out = out.annotate(table, facts)
        return out

    def validate(self, before: Graph, after: Graph, ctx: PassContext) -> list[Verdict]:
        same = after.nodes is before.nodes and after.regions is before.regions
        status = "validated" if same else "counterexample"
        detail = "nodes untouched" if same else "an analysis edited the graph"
        # Its facts are checked too, where a check is registered for their table.
        return [Verdict(self.name, "*", status, detail), *annotation_verdicts(self.name, before, after)]

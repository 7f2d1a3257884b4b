"""A Huet zipper over the PSG's region tree, and the walks built on it.

The tree: a region's children are the regions owned by the nodes of its body,
in body order (a node's own regions in their order); the root is the module
region.  A `Zipper` is a focus (a region id) and a `Path` back to the root,
as in Huet's "The Zipper" (JFP 1997): the path records the parent, the left
siblings nearest first (reversed) and the right siblings in order, and the
parent's own path.  It also carries the graph it walks, so that `replace`
can hand back a zipper over the edited graph.

Moves off the tree (``up`` at the top, ``down`` at a leaf, ``left`` of the
first child, ``right`` of the last) return ``None``: a walk tests for the end
of a row without catching exceptions.

Edits are persistent: `Zipper.replace` sets one slot of the graph's region
vector (a pyrsistent ``PVector``), so the edited graph shares every other
node, region and annotation with the one before, and the zipper it came from
still sees the old graph.  Nodes own regions by id, so replacing a region
never rebuilds its ancestors; the path stays valid, because it names the
parent's children, which only a replacement of the parent itself can change.

`walk` visits every region once, depth first, pre-order, in body order (the
order the graph fixed; backends emit in it), and `rewrite_to_fixpoint` applies
a region-level rewrite through the zipper in sweeps of that order until a
whole sweep changes nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import attrs

from pyrsistent import PList, plist

from nanopass.graph import Graph, Node, Region


def children(graph: Graph, region_id: int) -> tuple[int, ...]:
    """The child regions of ``region_id``: those owned by its body nodes, in body order."""
    return tuple(r for node_id in graph.region(region_id).body for r in graph.node(node_id).regions)


@attrs.frozen(slots=True)
class Path:
    """The context of a focus: where it sits among its siblings, and its parent's context.

    ``left`` holds the left siblings nearest first (Huet's reversed list),
    ``right`` the right siblings in order, ``parent`` the region that owns
    them all, and ``up`` the parent's own path (``None`` when the parent is
    the root).  The sibling lists are persistent linked lists, as in Huet's
    paper, so a move sideways is O(1) however wide the row (tuples would copy
    the row at every step: a walk of a module of n functions would be
    quadratic).
    """

    left: PList
    parent: int
    right: PList
    up: "Path | None"


@attrs.frozen(slots=True)
class Zipper:
    """A focus on one region of ``graph`` with the path back to the root (``None`` at the top)."""

    focus: int
    path: Path | None
    graph: Graph = attrs.field(repr=False)

    @classmethod
    def top(cls, graph: Graph) -> "Zipper":
        """The zipper focused on the module region."""
        return cls(graph.root, None, graph)

    # -- what is in focus ---------------------------------------------------
    @property
    def region(self) -> Region:
        return self.graph.region(self.focus)

    @property
    def children(self) -> tuple[int, ...]:
        return children(self.graph, self.focus)

    @property
    def depth(self) -> int:
        depth, path = 0, self.path
        while path is not None:
            depth, path = depth + 1, path.up
        return depth

    @property
    def index(self) -> int:
        """The focus's position among its siblings (0 at the top); O(position)."""
        return 0 if self.path is None else len(self.path.left)

    def owner(self) -> int | None:
        """The id of the node that owns the focus (``None`` for the module region)."""
        if self.path is None:
            return None
        for node_id in self.graph.region(self.path.parent).body:
            if self.focus in self.graph.node(node_id).regions:
                return node_id
        raise AssertionError(f"region #{self.focus} is not owned by a node of region #{self.path.parent}")

    def to_graph(self) -> Graph:
        """The whole graph with every edit made through this zipper (and its ancestors)."""
        return self.graph

    # -- predicates -----------------------------------------------------------
    @property
    def is_top(self) -> bool:
        return self.path is None

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def is_first(self) -> bool:
        """No left sibling (the top is first and last)."""
        return self.path is None or not self.path.left

    @property
    def is_last(self) -> bool:
        """No right sibling."""
        return self.path is None or not self.path.right

    # -- moves: each returns None off the tree ----------------------------------
    def down(self) -> "Zipper | None":
        """The first child."""
        kids = self.children
        if not kids:
            return None
        return Zipper(kids[0], Path(plist(), self.focus, plist(kids[1:]), self.path), self.graph)

    def up(self) -> "Zipper | None":
        if self.path is None:
            return None
        return Zipper(self.path.parent, self.path.up, self.graph)

    def left(self) -> "Zipper | None":
        path = self.path
        if path is None or not path.left:
            return None
        return Zipper(path.left.first, Path(path.left.rest, path.parent, path.right.cons(self.focus), path.up),
                      self.graph)

    def right(self) -> "Zipper | None":
        path = self.path
        if path is None or not path.right:
            return None
        return Zipper(path.right.first, Path(path.left.cons(self.focus), path.parent, path.right.rest, path.up),
                      self.graph)

    def root(self) -> "Zipper":
        """The top of the tree, over the same (edited) graph."""
        return Zipper.top(self.graph)

    # -- edits ------------------------------------------------------------------
    def replace(self, region: Region) -> "Zipper":
        """The zipper at the same place over a graph whose focus region is ``region``.

        Replacing a region with an equal one returns this very zipper, so a
        rewrite that changes nothing leaves the graph identical, not merely equal.
        """
        if region == self.region:
            return self
        edited = attrs.evolve(self.graph, regions=self.graph.regions.set(self.focus, region))
        return Zipper(self.focus, self.path, edited)

    def add_node(self, node: Node) -> tuple["Zipper", int]:
        """Append ``node`` to the node table (in no region yet) and return its id.

        A rewrite then puts the id into the focus region with `replace`.
        """
        edited = attrs.evolve(self.graph, nodes=self.graph.nodes.append(node))
        return Zipper(self.focus, self.path, edited), len(edited.nodes) - 1

    def next_preorder(self) -> "Zipper | None":
        """The next region depth first, pre-order, in body order; ``None`` after the last."""
        below = self.down()
        if below is not None:
            return below
        here: Zipper | None = self
        while here is not None:
            beside = here.right()
            if beside is not None:
                return beside
            here = here.up()
        return None


def preorder(graph: Graph) -> Iterator[Zipper]:
    """A zipper on every region of ``graph``, depth first, pre-order, in body order."""
    here: Zipper | None = Zipper.top(graph)
    while here is not None:
        yield here
        here = here.next_preorder()


def walk(graph: Graph, visit: Callable[[Zipper], Any]) -> list[Any]:
    """Call ``visit`` on a zipper at every region in the graph's order; return the results in that order."""
    return [visit(z) for z in preorder(graph)]


class FixpointNotReached(RuntimeError):
    """A rewrite kept changing the graph past the iteration bound."""


Rewrite = Callable[[Zipper], "Zipper | None"]


def rewrite_to_fixpoint(graph: Graph, rewrite: Rewrite, max_rewrites: int = 100_000) -> Graph:
    """Apply ``rewrite`` at every region, in sweeps of `preorder`, until one sweep changes nothing.

    ``rewrite`` gets a zipper and returns ``None`` (nothing to do) or a
    zipper at the same place over the edited graph (through `Zipper.replace`
    and `Zipper.add_node`).  The walk goes on from the returned zipper, so it
    descends into the children the rewrite left there.  A rewrite that returns
    the zipper it was given, or one over the identical graph, changed nothing.

    ``max_rewrites`` bounds the rewrites that change the graph, over all
    sweeps: a rewrite that oscillates, or grows the tree without end, raises
    `FixpointNotReached` instead of running forever.
    """
    changes = 0
    while True:
        changed_this_sweep = False
        here: Zipper | None = Zipper.top(graph)
        while here is not None:
            result = rewrite(here)
            if result is not None and (result.graph.nodes is not here.graph.nodes
                                       or result.graph.regions is not here.graph.regions):
                if result.focus != here.focus or result.path != here.path:
                    raise ValueError(
                        f"a region rewrite moved the focus from region #{here.focus} to #{result.focus}; "
                        "it must return a zipper at the region it was given")
                changes += 1
                if changes > max_rewrites:
                    raise FixpointNotReached(
                        f"rewrite_to_fixpoint: {max_rewrites} rewrites changed the graph and it has not settled "
                        f"(the last at region #{here.focus}); the rewrite oscillates or grows the tree without "
                        "end, or needs a larger max_rewrites")
                here = result
                changed_this_sweep = True
            graph = here.graph
            here = here.next_preorder()
        if not changed_this_sweep:
            return graph

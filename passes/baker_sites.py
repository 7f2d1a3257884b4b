"""Baker's fan-out half: one saturation site expanded into a self-contained fragment.

A *site* is a ``native`` node whose ``op`` is a higher-order intrinsic
(`SITE_OPS`) or a ``match`` node.  `expand_batch` turns each `SiteInput` (the
site plus its read set: every node, region, declaration and type fact the
expansion may look at) into a `Fragment`: the new nodes and regions with
*local* ids, to be merged into the graph by baker's fold-in.  Nothing here
touches a `Graph`, and both inputs and outputs are plain picklable values, so
the expansion runs on any `concurrent.futures.Executor`, a process pool or a
Dask cluster included.

Id encoding inside a fragment: an id ``>= 0`` names an existing node (or
region) of the input graph; local node (region) ``k`` is ``-1 - k``.

What each site becomes (the conventions are in `nanopass.languages`):

* maps, ``init``, ``Array2D.init``: a ``parallel_for`` over the extents whose
  region loads the elements (``index`` at the indices) and applies the function;
* ``reduce``, ``fold``, ``sum``: a ``reduce`` whose region applies the
  operator to (acc, x), with ``op``, ``associative`` and ``reassociate``;
* ``windowed``: a ``stencil``; a map of the windows that is the windows'
  only use is fused into it (the consumer's function runs on each window);
* ``filter``: flags (a ``parallel_for`` of the predicate), their exclusive
  ``scan`` (the positions) and a ``scatter``; ``List.distinct`` is the same
  with "first occurrence" as the predicate; ``List.collect`` is a
  ``parallel_for`` then a ``concat``;
* ``match``: a decision tree: ``tag_test`` / literal ``prim =`` tests chained
  by ``if``, ``proj`` / ``case_field`` extractions for the bindings,
  ``match_failure`` where no arm applies.

A function argument that is known (a ``lambda``, a ``ref`` to a top-level
``func`` that is not recursive, a ``pap`` of one, an operator or intrinsic)
is inlined: its region is copied with its params bound to the loaded
elements, and sites inside the copy are expanded in the same fragment.  An
extern is a ``call`` by name; any other function value stays a ``call`` of
that value.  The arms of a ``match`` are copied too: the original arm regions
are listed in ``Fragment.replaced_regions`` and the fold-in deletes them.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import attrs

from nanopass.diagnostics import DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.frontend.intrinsics import INTRINSICS
from nanopass.graph import Node, Region, make_attributes


def local_id(k: int) -> int:
    return -1 - k


def local_index(encoded: int) -> int:
    return -1 - encoded


# -- what is a site ---------------------------------------------------------------------

@attrs.frozen(slots=True)
class SiteOp:
    """How one higher-order intrinsic reads its operands."""

    family: str  # map | mapi | map2 | init | init2d | filter | reduce | fold | sum | windowed | collect | distinct
    container: str  # of its result: array | array2d | list


SITE_OPS: dict[str, SiteOp] = {
    "Array.map": SiteOp("map", "array"),
    "Array.Parallel.map": SiteOp("map", "array"),
    "Seq.map": SiteOp("map", "array"),  # the subset has no seq: Seq takes and returns arrays
    "List.map": SiteOp("map", "list"),
    "Array.mapi": SiteOp("mapi", "array"),
    "Array.map2": SiteOp("map2", "array"),
    "Array.init": SiteOp("init", "array"),
    "Array2D.init": SiteOp("init2d", "array2d"),
    "Array.filter": SiteOp("filter", "array"),
    "List.filter": SiteOp("filter", "list"),
    "Array.reduce": SiteOp("reduce", "array"),
    "Array.fold": SiteOp("fold", "array"),
    "List.fold": SiteOp("fold", "list"),
    "Array.sum": SiteOp("sum", "array"),
    "Seq.sum": SiteOp("sum", "array"),
    "Array.windowed": SiteOp("windowed", "array"),
    "Seq.windowed": SiteOp("windowed", "array"),
    "List.collect": SiteOp("collect", "list"),
    "List.distinct": SiteOp("distinct", "list"),
}

# How many operands saturate each family (the intrinsics' curried arities).
_ARITY = {"map": 2, "mapi": 2, "map2": 3, "init": 2, "init2d": 3, "filter": 2, "reduce": 2, "fold": 3,
          "sum": 1, "windowed": 2, "collect": 2, "distinct": 1}

# Which operand of each family is the function it applies.
_FUNCTION_OPERAND = {"map": 0, "mapi": 0, "map2": 0, "init": 1, "init2d": 2, "filter": 0, "reduce": 0, "fold": 0,
                     "collect": 0}

# Map families that a stencil can absorb as the consumer of its windows.
FUSIBLE_CONSUMERS = frozenset({"map", "mapi"})


def is_site(node: Node) -> bool:
    """Whether baker expands this node."""
    if node.kind == "match":
        return True
    if node.kind != "native":
        return False
    op = SITE_OPS.get(node.attr("op"))
    return op is not None and len(node.operands) == _ARITY[op.family]


# How many arguments each family applies its function to.
_FUNCTION_ARITY = {"map": 1, "mapi": 2, "map2": 2, "init": 1, "init2d": 2, "filter": 1, "reduce": 2, "fold": 2,
                   "collect": 1}


def function_operands(node: Node) -> tuple[tuple[int, int], ...]:
    """(operand, argument count) for each function a site applies (none for a ``match``)."""
    if node.kind != "native":
        return ()
    family = SITE_OPS[node.attr("op")].family
    position = _FUNCTION_OPERAND.get(family)
    return () if position is None else ((node.operands[position], _FUNCTION_ARITY[family]),)


# -- operators ------------------------------------------------------------------------------

PRIM_OPERATORS = frozenset({"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=",
                            "&&&", "|||", "^^^", "<<<", ">>>"})
ASSOCIATIVE = frozenset({"+", "*", "&&&", "|||", "^^^", "min", "max"})
INTEGRAL = frozenset({"int", "int64", "uint8", "bool"})
FLOATING = frozenset({"float", "float32"})
_ALL_ONES = {"int": -1, "int64": -1, "uint8": 255}


def identity(op: str, type_name: str | None) -> Any:
    """The identity element of an associative operator at a scalar type, or None."""
    if type_name is None:
        return None
    if op == "+":
        return "" if type_name == "string" else (0.0 if type_name in FLOATING else 0)
    if op == "*" and type_name != "string":
        return 1.0 if type_name in FLOATING else 1
    if op in ("|||", "^^^"):
        return False if type_name == "bool" else 0
    if op == "&&&":
        return True if type_name == "bool" else _ALL_ONES.get(type_name)
    return None


def zero(type_name: str | None) -> tuple[Any, str]:
    """The value and type of the ``0`` a sum starts from."""
    if type_name in FLOATING:
        return 0.0, type_name
    if type_name in ("int64", "uint8"):
        return 0, type_name
    return 0, "int"


def scalar_name(t: Any) -> str | None:
    """The primitive name of a type term (``float`` for ``float<volt>``), else None."""
    if isinstance(t, T.TPrim) and isinstance(t.base, str):
        return t.base
    return None


def element_type(t: Any) -> Any:
    """The element type of an array or list type, else None."""
    if isinstance(t, T.TArray):
        return t.elem
    if isinstance(t, T.TCon) and t.name == "list" and t.args:
        return t.args[0]
    return None


# -- inputs and outputs ---------------------------------------------------------------------

@attrs.frozen(slots=True)
class ExpandOptions:
    reassociate_floats: bool = False


@attrs.frozen(slots=True)
class SiteInput:
    """One site and everything its expansion may read.

    ``absorbed`` holds the ``windowed`` native a map consumes when the two are
    fused.  ``nodes``/``regions``/``types`` are ``(id, value)`` pairs;
    ``symbols`` maps every top-level name to its declaration's id and
    ``unions`` every declared union to its case names.
    """

    site: int
    region: int
    function: str
    absorbed: tuple[int, ...]
    nodes: tuple[tuple[int, Node], ...]
    regions: tuple[tuple[int, Region], ...]
    symbols: tuple[tuple[str, int], ...]
    unions: tuple[tuple[str, tuple[str, ...]], ...]
    types: tuple[tuple[int, Any], ...]


@attrs.frozen(slots=True)
class Fragment:
    """The expansion of one site, with local ids (see the module docstring).

    ``prelude`` lists the local nodes to put, in order, into the site's region
    where the site was.  When its last entry is ``value`` that node takes the
    site's id; otherwise the site is deleted and its uses are redirected:
    value uses to ``value``, effect uses to ``effect_out``.  When the value
    node takes the site's id and the site had a token, effect uses of the site
    go to ``effect_out`` if that is another node.
    """

    site: int
    region: int
    function: str
    origin: str
    nodes: tuple[Node, ...]
    regions: tuple[Region, ...]
    prelude: tuple[int, ...]
    value: int
    effect_out: int | None
    absorbed: tuple[int, ...] = ()
    replaced_regions: tuple[int, ...] = ()
    types: tuple[tuple[int, Any], ...] = ()

    @property
    def in_place(self) -> bool:
        return bool(self.prelude) and self.prelude[-1] == self.value and self.value < 0


def expand_batch(inputs: Sequence[SiteInput], options: ExpandOptions) -> tuple[Fragment, ...]:
    """Expand each site on its own: the unit of work the fan-out hands to an executor."""
    return tuple(expand_site(site, options) for site in inputs)


def expand_site(site_input: SiteInput, options: ExpandOptions) -> Fragment:
    """The fragment of one site: what it emits where the site was (its prelude) and its value."""
    view = _View(site_input)
    node = view.node(site_input.site)
    builder = _FragmentBuilder(view, options, node.span)
    prelude = builder.open(())  # stands for the site's region: no params, the site's own token
    replaced: tuple[int, ...] = ()
    if node.kind == "match":
        origin = "match"
        value, effect_out = builder.match(node, _Env(), node.operands[0], node.effect)
        replaced = node.regions
    elif site_input.absorbed:
        (windowed_id,) = site_input.absorbed
        windowed = view.node(windowed_id)
        origin = f"{windowed.attr('op')} |> {node.attr('op')}"
        value, effect_out = builder.fused_stencil(origin, node, windowed)
    else:
        origin = node.attr("op")
        value, effect_out = builder.native(origin, node.operands, node.effect)
    builder.frames.pop()
    return Fragment(
        site=site_input.site, region=site_input.region, function=site_input.function, origin=origin,
        nodes=tuple(builder.nodes), regions=tuple(builder.regions), prelude=tuple(prelude.body), value=value,
        effect_out=effect_out if node.effect is not None else None, absorbed=site_input.absorbed,
        replaced_regions=replaced, types=tuple(sorted(builder.types.items())),
    )


# -- reading the input ------------------------------------------------------------------------

class _View:
    """The read set of one site: the graph as far as the expansion may look."""

    def __init__(self, site_input: SiteInput):
        self.site = site_input.site
        self._nodes = dict(site_input.nodes)
        self._regions = dict(site_input.regions)
        self.symbols = dict(site_input.symbols)
        self.unions = site_input.unions
        self.types = dict(site_input.types)

    def node(self, node_id: int) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"baker: the expansion of site %{self.site} reads node %{node_id}, "
                           "which is outside its read set") from None

    def region(self, region_id: int) -> Region:
        try:
            return self._regions[region_id]
        except KeyError:
            raise KeyError(f"baker: the expansion of site %{self.site} reads region #{region_id}, "
                           "which is outside its read set") from None

    def declaration(self, name: str) -> tuple[int, Node] | None:
        node_id = self.symbols.get(name)
        return None if node_id is None else (node_id, self.node(node_id))

    def union_cases(self, case: str) -> frozenset[str] | None:
        """Every case of the union that has ``case``, when it is known."""
        if case in ("Some", "None"):
            return frozenset({"Some", "None"})
        if case in ("nil", "cons"):
            return frozenset({"nil", "cons"})
        for _, cases in self.unions:
            if case in cases:
                return frozenset(cases)
        return None


class _Env:
    """Where copied source values went: value uses and token uses, chained to the enclosing copy."""

    def __init__(self, parent: "_Env | None" = None):
        self.parent = parent
        self.values: dict[int, int] = {}
        self.tokens: dict[int, int] = {}

    def child(self, bindings: Iterable[tuple[int, int]] = ()) -> "_Env":
        env = _Env(self)
        env.values.update(bindings)
        return env

    def value(self, source: int) -> int:
        env: _Env | None = self
        while env is not None:
            if source in env.values:
                return env.values[source]
            env = env.parent
        return source

    def token(self, source: int | None) -> int | None:
        if source is None:
            return None
        env: _Env | None = self
        while env is not None:
            if source in env.tokens:
                return env.tokens[source]
            if source in env.values:
                return env.values[source]
            env = env.parent
        return source


@attrs.frozen(slots=True)
class _Function:
    """What a function value is, as far as the expansion can tell.

    ``how``: ``inline`` (copy ``region`` with ``env``), ``extern`` (call
    the ref ``callee`` by ``name``), ``operator`` (a ``prim``), ``intrinsic``
    (a ``native``) or ``closure`` (call ``value``, the function value
    itself).  ``bound`` are leading arguments a ``pap`` supplied.
    """

    how: str
    value: int
    name: str = ""
    callee: int = -1
    arity: int = -1  # how many arguments an inlined function takes
    region: int = -1
    env: Any = None
    bound: tuple[int, ...] = ()
    pure: bool = False


class _Frame:
    """A region being built: its params, entry token, body and the extractions it holds."""

    def __init__(self, params: tuple[int, ...], entry: int | None):
        self.params = params
        self.entry = entry
        self.body: list[int] = []
        self.extracted: dict[tuple, int] = {}


# -- building a fragment ----------------------------------------------------------------------

class _FragmentBuilder:
    def __init__(self, view: _View, options: ExpandOptions, span: Span):
        self.view = view
        self.options = options
        self.span = span
        self.nodes: list[Node] = []
        self.regions: list[Region] = []
        self.frames: list[_Frame] = []
        self.types: dict[int, Any] = {}
        # Local copies of function values: the source node and the env it was copied under.
        self.copies: dict[int, tuple[int, _Env]] = {}
        self.inlining: list[str] = []

    # -- nodes and regions ----------------------------------------------------------------
    def _add(self, node: Node) -> int:
        self.nodes.append(node)
        return local_id(len(self.nodes) - 1)

    def emit(self, kind: str, *operands: int, regions: Iterable[int] = (), effect: int | None = None,
             span: Span | None = None, type_: Any = None, **attributes: Any) -> int:
        node_id = self._add(Node(kind, tuple(operands), make_attributes(attributes), tuple(regions), effect,
                                 span if span is not None else self.span))
        self.frames[-1].body.append(node_id)
        if type_ is not None:
            self.types[node_id] = type_
        return node_id

    def open(self, names: Sequence[str], token: bool = False, types: Sequence[Any] = ()) -> _Frame:
        params = []
        for index, name in enumerate(names):
            param = self._add(Node("param", (), make_attributes({"index": index, "name": name}), (), None, self.span))
            if index < len(types) and types[index] is not None:
                self.types[param] = types[index]
            params.append(param)
        entry = self._add(Node("token", span=self.span)) if token else None
        frame = _Frame(tuple(params), entry)
        self.frames.append(frame)
        return frame

    def close(self, frame: _Frame, results: Sequence[int], effect_out: int | None) -> int:
        if self.frames.pop() is not frame:
            raise AssertionError("baker: regions closed out of order")
        self.regions.append(Region(frame.params, tuple(frame.body), tuple(results), frame.entry,
                                   effect_out if frame.entry is not None else None))
        return local_id(len(self.regions) - 1)

    def node_of(self, value: int) -> Node:
        return self.nodes[local_index(value)] if value < 0 else self.view.node(value)

    def type_of(self, value: int) -> Any:
        return self.types.get(value) if value < 0 else self.view.types.get(value)

    def const(self, value: Any, type_name: str) -> int:
        return self.emit("const", value=value, type=type_name, type_=T.TPrim(type_name))

    # -- copying source regions -----------------------------------------------------------
    def inline(self, region_id: int, args: Sequence[int], env: _Env, token: int | None) -> tuple[tuple[int, ...], int | None]:
        """Copy a source region's body into the current frame, its params bound to ``args``.

        Returns the copied results and the token after the copy.
        """
        region = self.view.region(region_id)
        inner = env.child(zip(region.params, args))
        if region.token is not None:
            if token is None:
                raise DiagnosticError.at(self.span, "baker: an effectful region is inlined where no effect token "
                                                    "is available; expected the site to consume a token")
            inner.tokens[region.token] = token
        for node_id in region.body:
            self.copy(node_id, inner)
        results = tuple(inner.value(r) for r in region.results)
        return results, (inner.token(region.effect_out) if region.effect_out is not None else token)

    def copy(self, node_id: int, env: _Env) -> None:
        """Copy one source node into the current frame (expanding it when it is a site)."""
        node = self.view.node(node_id)
        if is_site(node):
            effect = env.token(node.effect)
            if node.kind == "match":
                value, effect_out = self.match(node, env, env.value(node.operands[0]), effect)
            else:
                value, effect_out = self.native(node.attr("op"), tuple(env.value(o) for o in node.operands),
                                                effect, node.span)
            env.values[node_id] = value
            fact = self.view.types.get(node_id)
            if fact is not None and value < 0 and value not in self.types:
                # The expansion's value stands for the site: its type, for the sites that read it (a sum's zero).
                self.types[value] = fact
            if effect_out is not None and effect_out != value:
                env.tokens[node_id] = effect_out
            return
        regions = tuple(self.copy_region(r, env) for r in node.regions)
        new_id = self._add(Node(node.kind, tuple(env.value(o) for o in node.operands), node.attributes, regions,
                                env.token(node.effect), node.span))
        self.frames[-1].body.append(new_id)
        env.values[node_id] = new_id
        if node.kind in ("lambda", "pap", "ref"):
            self.copies[new_id] = (node_id, env)
        fact = self.view.types.get(node_id)
        if fact is not None:
            self.types[new_id] = fact

    def copy_region(self, region_id: int, env: _Env) -> int:
        """A local copy of a nested source region, with fresh params and token."""
        region = self.view.region(region_id)
        frame = self.open([self.view.node(p).attr("name") for p in region.params], token=region.token is not None,
                          types=[self.view.types.get(p) for p in region.params])
        env.values.update(zip(region.params, frame.params))
        if region.token is not None:
            env.tokens[region.token] = frame.entry
        for node_id in region.body:
            self.copy(node_id, env)
        results = tuple(env.value(r) for r in region.results)
        return self.close(frame, results, env.token(region.effect_out))

    # -- function values ------------------------------------------------------------------
    def function(self, value: int) -> _Function:
        """Describe the function value ``value`` (an id of the output)."""
        if value < 0:
            if value not in self.copies:
                return _Function("closure", value)
            source, env = self.copies[value]
            return self._describe(source, env, value)
        return self._describe(value, _Env(), value)

    def _describe(self, source: int, env: _Env, value: int) -> _Function:
        node = self.view.node(source)
        if node.kind == "lambda":
            arity = len(self.view.region(node.regions[0]).params)
            return _Function("inline", value, region=node.regions[0], env=env, arity=arity)
        if node.kind == "ref":
            name = node.attr("name")
            declaration = self.view.declaration(name)
            if declaration is None:
                if name in PRIM_OPERATORS:
                    return _Function("operator", value, name=name)
                if name in INTRINSICS:
                    return _Function("intrinsic", value, name=name)
                return _Function("closure", value)
            decl = declaration[1]
            if decl.kind == "func" and decl.attr("rec_group") is None and name not in self.inlining:
                return _Function("inline", value, name=name, region=decl.regions[0], env=_Env(),
                                 arity=len(decl.attr("params")))
            if decl.kind in ("func", "extern"):
                return _Function("extern", value, name=name, callee=value,
                                 pure=decl.kind == "extern" and bool(decl.attr("pure")))
            return _Function("closure", value)
        if node.kind == "pap":
            inner = self._describe(node.operands[0], env, env.value(node.operands[0]))
            if inner.how == "closure":
                return _Function("closure", value)
            return attrs.evolve(inner, value=value, bound=inner.bound + tuple(env.value(o) for o in node.operands[1:]))
        return _Function("closure", value)

    def apply(self, function: _Function, args: Sequence[int], token: int | None) -> tuple[int, int | None]:
        """Emit ``function`` applied to ``args`` in the current frame; the value and the next token.

        A known function whose parameter count does not fit is called as a
        closure value instead.
        """
        full = function.bound + tuple(args)
        if function.how == "inline" and function.arity == len(full):
            if len(self.view.region(function.region).results) == 1:
                self.inlining.append(function.name)
                try:
                    (value,), token = self.inline(function.region, full, function.env, token)
                finally:
                    self.inlining.pop()
                return value, token
        elif function.how == "operator" and len(full) == 2:
            type_name = scalar_name(self.type_of(full[0]))
            extra = {"type": type_name} if type_name else {}
            return self.emit("prim", *full, op=function.name, **extra), token
        elif function.how == "intrinsic" and len(full) == _intrinsic_arity(function.name):
            site_op = SITE_OPS.get(function.name)
            if site_op is not None and len(full) == _ARITY[site_op.family]:
                return self.native(function.name, full, token)
            return self.emit("native", *full, op=function.name), token
        elif function.how == "extern":
            effect = None if function.pure else token
            call = self.emit("call", function.callee, *full, effect=effect, callee=function.name)
            return call, (call if effect is not None else token)
        call = self.emit("call", function.value, *args, effect=token)
        return call, (call if token is not None else token)

    # -- higher-order intrinsics ------------------------------------------------------------
    def native(self, op: str, operands: tuple[int, ...], effect: int | None,
               span: Span | None = None) -> tuple[int, int | None]:
        """Expand a higher-order intrinsic over output values; its value and the token after it."""
        site_op = SITE_OPS[op]
        family, container = site_op.family, site_op.container
        if family in ("map", "mapi"):
            fn, source = operands
            return self.map_over(op, container, self.function(fn), (source,), effect, with_index=family == "mapi")
        if family == "map2":
            fn, first, second = operands
            return self.map_over(op, container, self.function(fn), (first, second), effect)
        if family in ("init", "init2d"):
            function = self.function(operands[-1])
            return self.parallel_for(op, container, operands[:-1], effect,
                                     lambda indices, token: self.apply(function, indices, token), function=function)
        if family == "filter":
            predicate, source = operands
            flags, token = self.map_over(op, "array", self.function(predicate), (source,), effect, type_=T.BOOL)
            return self.compact(source, flags, container), token
        if family == "distinct":
            (source,) = operands
            return self.compact(source, self.first_occurrences(op, source), container), effect
        if family == "collect":
            fn, source = operands
            parts, token = self.map_over(op, "array", self.function(fn), (source,), effect)
            return self.emit("concat", parts, container=container), token
        if family == "sum":
            (source,) = operands
            type_name = scalar_name(element_type(self.type_of(source)))
            start, start_type = zero(type_name)
            init = self.const(start, start_type)
            return self.reduce(op, source, init, _Function("operator", -1, name="+"), effect, type_name)
        if family == "reduce":
            fn, source = operands
            return self.reduce(op, source, None, self.function(fn), effect,
                               scalar_name(element_type(self.type_of(source))))
        if family == "fold":
            fn, init, source = operands
            start = self.node_of(init)
            type_name = scalar_name(self.type_of(init)) or (start.attr("type") if start.kind == "const" else None)
            return self.reduce(op, source, init, self.function(fn), effect, type_name, fold=True)
        size, source = operands
        return self.stencil(op, size, source, None, False, effect)

    def wants_token(self, function: _Function | None) -> bool:
        """Whether running ``function`` may need a region token (a function body with effects)."""
        return (function is not None and function.how == "inline"
                and self.view.region(function.region).token is not None)

    def parallel_for(self, origin: str, container: str, extents: Sequence[int], effect: int | None,
                     body, type_: Any = None, function: _Function | None = None) -> tuple[int, int | None]:
        """A ``parallel_for`` whose region is built by ``body(indices, token) -> (element, token)``."""
        names = ("i", "j")[: len(extents)]
        frame = self.open(names, token=effect is not None or self.wants_token(function), types=[T.INT] * len(extents))
        element, token = body(frame.params, frame.entry)
        region = self.close(frame, (element,), token)
        node = self.emit("parallel_for", *extents, regions=(region,), effect=effect, origin=origin,
                         container=container, type_=type_)
        return node, (node if effect is not None else None)

    def extent(self, source: int, dim: int = 0) -> int:
        return self.emit("extent", source, dim=dim, type_=T.INT)

    def load(self, source: int, index: int) -> int:
        return self.emit("index", source, index, type_=element_type(self.type_of(source)))

    def map_over(self, origin: str, container: str, function: _Function, sources: Sequence[int],
                 effect: int | None, with_index: bool = False, type_: Any = None) -> tuple[int, int | None]:
        """Apply ``function`` to the elements of ``sources`` at each index (after the index for ``mapi``)."""
        def body(indices: tuple[int, ...], token: int | None) -> tuple[int, int | None]:
            elements = [self.load(source, indices[0]) for source in sources]
            return self.apply(function, ([indices[0]] if with_index else []) + elements, token)

        result_type = T.TArray(type_) if type_ is not None else None
        return self.parallel_for(origin, container, (self.extent(sources[0]),), effect, body, result_type,
                                 function=function)

    def compact(self, source: int, flags: int, container: str) -> int:
        """The elements of ``source`` whose flag is set, in order: scan the flags, scatter."""
        positions = self.emit("scan", flags, op="+", exclusive=True, type_=T.TArray(T.INT))
        return self.emit("scatter", source, flags, positions, container=container)

    def first_occurrences(self, origin: str, source: int) -> int:
        """Flags: element i equals no element before it."""
        def is_first(indices: tuple[int, ...], token: int | None) -> tuple[int, int | None]:
            (i,) = indices
            element = self.load(source, i)

            def equal_to_element(inner: tuple[int, ...], inner_token: int | None) -> tuple[int, int | None]:
                return self.emit("prim", self.load(source, inner[0]), element, op="=", type_=T.BOOL), inner_token

            matches, _ = self.parallel_for(origin, "array", (i,), None, equal_to_element, T.TArray(T.BOOL))
            # ``max`` on bools is "or" (F# has no ``|||`` on bool).
            seen, _ = self.reduce(origin, matches, self.const(False, "bool"),
                                  _Function("intrinsic", -1, name="max"), None, "bool")
            return self.emit("prim", seen, op="not", type="bool", type_=T.BOOL), token

        flags, _ = self.parallel_for(origin, "array", (self.extent(source),), None, is_first, T.TArray(T.BOOL))
        return flags

    def reduce(self, origin: str, source: int, init: int | None, function: _Function, effect: int | None,
               type_name: str | None, fold: bool = False) -> tuple[int, int | None]:
        """A ``reduce`` over ``source``; its flags say whether a backend may reassociate it.

        A fold is associative only when its init is the operator's identity:
        then any split of the elements can start each part from it.
        """
        op = self.operator_name(function)
        associative = op in ASSOCIATIVE
        if associative and fold:
            associative = init is not None and self.is_identity(init, op, type_name)
        exact = type_name is not None and (type_name in INTEGRAL or type_name == "string")
        reassociate = associative and (exact or (type_name in FLOATING and self.options.reassociate_floats))
        element = element_type(self.type_of(source))
        accumulator = self.type_of(init) if init is not None else element
        frame = self.open(("acc", "x"), token=effect is not None or self.wants_token(function),
                          types=(accumulator, element))
        value, token = self.apply(function, frame.params, frame.entry)
        region = self.close(frame, (value,), token)
        operands = (source,) if init is None else (source, init)
        node = self.emit("reduce", *operands, regions=(region,), effect=effect, op=op, associative=associative,
                         reassociate=reassociate, origin=origin)
        return node, (node if effect is not None else None)

    def is_identity(self, value: int, op: str, type_name: str | None) -> bool:
        node = self.node_of(value)
        unit = identity(op, type_name)
        return (node.kind == "const" and unit is not None and node.attr("type") == type_name
                and type(node.attr("value")) is type(unit) and node.attr("value") == unit)

    def operator_name(self, function: _Function) -> str:
        """The associative-candidate operator a reducing function is, or ``region``."""
        if function.bound:
            return "region"
        if function.how == "operator" or (function.how == "intrinsic" and function.name in ("min", "max")):
            return function.name
        if function.how != "inline":
            return "region"
        region = self.view.region(function.region)
        if len(region.params) != 2 or len(region.body) != 1 or region.results != region.body or region.token is not None:
            return "region"
        node = self.view.node(region.body[0])
        if node.operands != region.params:
            return "region"
        if node.kind == "prim":
            return node.attr("op")
        if node.kind == "native" and node.attr("op") in ("min", "max"):
            return node.attr("op")
        return "region"

    def stencil(self, origin: str, size: int, source: int, consumer: _Function | None, with_index: bool,
                effect: int | None) -> tuple[int, int | None]:
        """A ``stencil`` over the windows of ``source``; ``consumer`` (when fused) runs on each."""
        window_type = self.type_of(source)
        frame = self.open(("i", "window"), token=effect is not None or self.wants_token(consumer),
                          types=(T.INT, window_type))
        index, window = frame.params
        if consumer is None:
            element, token = window, frame.entry
        else:
            element, token = self.apply(consumer, ([index] if with_index else []) + [window], frame.entry)
        region = self.close(frame, (element,), token)
        size_node = self.node_of(size)
        static = {"window": size_node.attr("value")} if size_node.kind == "const" else {}
        node = self.emit("stencil", size, source, regions=(region,), effect=effect, origin=origin,
                         container="array", **static)
        return node, (node if effect is not None else None)

    def fused_stencil(self, origin: str, consumer: Node, windowed: Node) -> tuple[int, int | None]:
        """A map over windows as one stencil whose region runs the map's function on each window."""
        fn, _ = consumer.operands
        size, source = windowed.operands
        family = SITE_OPS[consumer.attr("op")].family
        return self.stencil(origin, size, source, self.function(fn), family == "mapi", consumer.effect)

    # -- match ------------------------------------------------------------------------------
    def match(self, node: Node, env: _Env, scrutinee: int, effect: int | None) -> tuple[int, int | None]:
        """The decision tree of a ``match``: its value and the token after it."""
        arms = []
        regions = iter(node.regions)
        for pattern, guarded in zip(node.attr("patterns"), node.attr("guards")):
            guard = next(regions) if guarded else None
            arms.append(_Arm(pattern, guard, next(regions)))
        width = len(self.view.region(arms[0].body).results) if arms else 1
        tree = _DecisionTree(self, env, scrutinee, arms, width, node.span)
        if_node, results, token = tree.arms(0, effect, frozenset())
        if if_node is not None:
            return if_node, token
        if width == 1:
            return results[0], token
        return self.emit("tuple", *results), token


def _intrinsic_arity(name: str) -> int:
    arity, t = 0, INTRINSICS[name].body
    while isinstance(t, T.TFun):
        arity, t = arity + 1, t.result
    return arity


# -- decision trees ------------------------------------------------------------------------------

@attrs.frozen(slots=True)
class _Arm:
    pattern: tuple
    guard: int | None
    body: int


@attrs.frozen(slots=True)
class _Test:
    """One test of a pattern: a tag or a literal at a path from the scrutinee."""

    path: tuple
    case: str | None = None
    literal: Any = None
    type_name: str = ""


def flatten_pattern(pattern: tuple) -> tuple[list[_Test], list[tuple]]:
    """A pattern tree as its tests (parents before children) and its binding paths, left to right."""
    tests: list[_Test] = []
    bindings: list[tuple] = []

    def walk(p: tuple, path: tuple) -> None:
        head = p[0]
        if head == "bind":
            bindings.append(path)
        elif head == "lit":
            if p[2] != "unit":
                tests.append(_Test(path, literal=p[1], type_name=p[2]))
        elif head == "tuple":
            for index, sub in enumerate(p[1:]):
                walk(sub, path + (("proj", index),))
        elif head == "case":
            tests.append(_Test(path, case=p[1]))
            for index, sub in enumerate(p[2:]):
                walk(sub, path + (("field", p[1], index),))
        elif head == "nil":
            tests.append(_Test(path, case="nil"))
        elif head == "cons":
            tests.append(_Test(path, case="cons"))
            walk(p[1], path + (("field", "cons", 0),))
            walk(p[2], path + (("field", "cons", 1),))
        elif head != "wild":
            raise ValueError(f"baker: unknown pattern {p!r}")

    walk(pattern, ())
    return tests, bindings


class _DecisionTree:
    """Arms tried in order: ``if (tests and guard) then body else <the next arms>``.

    Each arm's condition is a chain of ``if``s over its tests, so that a
    field is only extracted after its case was tested.  A top-level case test
    implied by the arms before it (every other case of the union handled by
    unguarded arms that test nothing else) is left out, and an arm that
    tests nothing ends the tree.
    """

    def __init__(self, builder: _FragmentBuilder, env: _Env, scrutinee: int, arms: list[_Arm], width: int,
                 span: Span):
        self.b = builder
        self.env = env
        self.scrutinee = scrutinee
        self.arms_list = arms
        self.width = width
        self.span = span
        # Branch regions carry a token when the match does or an arm body has effects of its own.
        self.branch_tokens = any(builder.view.region(arm.body).token is not None for arm in arms)

    def extract(self, path: tuple) -> int:
        """The value at ``path``, reusing an extraction of an enclosing frame."""
        value = self.scrutinee
        for depth in range(1, len(path) + 1):
            key = (self.scrutinee, path[:depth])
            found = next((f.extracted[key] for f in reversed(self.b.frames) if key in f.extracted), None)
            if found is None:
                step = path[depth - 1]
                if step[0] == "proj":
                    found = self.b.emit("proj", value, index=step[1])
                else:
                    found = self.b.emit("case_field", value, case=step[1], index=step[2])
                self.b.frames[-1].extracted[key] = found
            value = found
        return value

    def test(self, test: _Test) -> int:
        value = self.extract(test.path)
        if test.case is not None:
            return self.b.emit("tag_test", value, case=test.case, type_=T.BOOL)
        literal = self.b.const(test.literal, test.type_name)
        return self.b.emit("prim", value, literal, op="=", type=test.type_name, type_=T.BOOL)

    def bind(self, region_id: int, bindings: list[tuple]) -> list[int]:
        values = [self.extract(path) for path in bindings]
        for param, value in zip(self.b.view.region(region_id).params, values):
            fact = self.b.view.types.get(param)
            if fact is not None and value < 0 and value not in self.b.types:
                self.b.types[value] = fact
        return values

    def condition(self, tests: list[_Test], arm: _Arm, bindings: list[tuple],
                  token: int | None) -> tuple[int, int | None]:
        """A bool: every test holds and then the guard does."""
        if not tests:
            values = self.bind(arm.guard, bindings)
            (holds,), token = self.b.inline(arm.guard, values, self.env, token)
            return holds, token
        first = self.test(tests[0])
        if len(tests) == 1 and arm.guard is None:
            return first, token
        effectful = arm.guard is not None and self.b.view.region(arm.guard).token is not None
        then = self.b.open((), token=effectful)
        holds, then_token = self.condition(tests[1:], arm, bindings, then.entry)
        then_region = self.b.close(then, (holds,), then_token)
        other = self.b.open((), token=effectful)
        other_region = self.b.close(other, (self.b.const(False, "bool"),), other.entry)
        chained = effectful and token is not None
        node = self.b.emit("if", first, regions=(then_region, other_region), effect=token if chained else None,
                           type_=T.BOOL)
        return node, (node if chained else token)

    def arms(self, index: int, token: int | None,
             covered: frozenset) -> tuple[int | None, tuple[int, ...], int | None]:
        """Emit the tree from arm ``index``: (the ``if`` node or None, the results when None, the token)."""
        if index == len(self.arms_list):
            failure = self.b.emit("match_failure", span=self.span)
            return None, (failure,) * self.width, token
        arm = self.arms_list[index]
        tests, bindings = flatten_pattern(arm.pattern)
        tests, covered = self.implied(tests, arm, covered)
        if not tests and arm.guard is None:
            results, token = self.b.inline(arm.body, self.bind(arm.body, bindings), self.env, token)
            return None, results, token
        condition, token = self.condition(tests, arm, bindings, token)
        effectful = token is not None
        then = self.b.open((), token=effectful or self.branch_tokens)
        results, then_token = self.b.inline(arm.body, self.bind(arm.body, bindings), self.env, then.entry)
        then_region = self.b.close(then, results, then_token)
        other = self.b.open((), token=effectful or self.branch_tokens)
        if_node, other_results, other_token = self.arms(index + 1, other.entry, covered)
        if if_node is not None:
            other_results = (if_node,) if self.width == 1 else tuple(
                self.b.emit("proj", if_node, index=k) for k in range(self.width))
        other_region = self.b.close(other, other_results, other_token)
        node = self.b.emit("if", condition, regions=(then_region, other_region),
                           effect=token if effectful else None)
        return node, (), (node if effectful else token)

    def implied(self, tests: list[_Test], arm: _Arm, covered: frozenset) -> tuple[list[_Test], frozenset]:
        """Drop a top-level case test the earlier arms imply; grow the set of cases they handled."""
        if not tests or tests[0].path != ():
            return tests, covered
        top = tests[0]
        tag = top.case if top.case is not None else (("lit", top.literal) if top.type_name == "bool" else None)
        if tag is None:
            return tests, covered
        every = (frozenset({("lit", True), ("lit", False)}) if top.case is None
                 else self.b.view.union_cases(top.case))
        if every is not None and covered | {tag} >= every:
            tests = tests[1:]
        if arm.guard is None and len(tests) <= 1 and (not tests or tests[0] is top):
            covered = covered | {tag}
        return tests, covered

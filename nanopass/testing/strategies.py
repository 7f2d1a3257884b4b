"""Random well-formed PSGs: hypothesis strategies for pass property tests, and a fast generator for benchmarks.

One generator builds every graph; it draws its choices from a `Choices`
source.  Under hypothesis the source is the test's data stream, so failing
graphs shrink (toward fewer declarations, fewer statements, constants,
shallow nesting); for benchmarks it is a seeded `random.Random`.

What a generated graph guarantees:

* it conforms: ``language.check(graph) == []``;
* it is scoped: every operand is a value defined earlier in the same region
  or earlier in an enclosing region (or a param of one), so values dominate
  their uses, as the front end builds them; ``ref`` nodes name top-level
  declarations (or intrinsics) by name, and may name functions declared later
  (``let rec``);
* when the language has effect tokens (some kind's ``token`` is not
  "never", as in `Elaborated`), each region decides whether it is effectful;
  an effectful region has an entry ``token`` and its effectful nodes form
  one chain from it, with ``Region.token`` / ``effect_out`` set; control
  nodes whose regions are effectful consume the outer token themselves;
* it follows the value conventions of `nanopass.languages` (pattern trees
  and guards for ``match``, carried values for elaborated loops, ...);
  kinds of a user's own language that this module does not know are built
  from their `Kind` shape alone;
* sometimes it has deleted (``None``) node and region slots, as passes leave.

It does not guarantee that the program is well typed.
"""

from __future__ import annotations

import random
from typing import Callable, Protocol, Sequence

import attrs
from hypothesis import strategies as st

from nanopass.graph import AttrValue, Builder, Graph, RegionBuilder
from nanopass.language import VARIADIC, Kind, Language
from nanopass.languages import Clef

CONST_TYPES = ("int", "int64", "uint8", "float", "float32", "bool", "unit", "string")
PRIM_BINARY = ("+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "&&&", "|||", "^^^", "<<<", ">>>")
PRIM_UNARY = ("not", "neg")
INTRINSICS = ("sqrt", "abs", "fst", "snd", "Array.map", "Array.length", "List.rev", "Map.add")
PURE_NATIVES = ("sqrt", "abs", "float", "int", "fst", "List.rev", "Array.length")
EFFECT_NATIVES = ("printfn", "Array.map")  # Array.map handed an effectful closure
DECLARATION_KINDS = ("func", "global", "extern", "typedef")
STRUCTURAL_KINDS = ("param", "token")
ENTRY_ATTRIBUTE = "EntryPoint"


class Choices(Protocol):
    """Where the generator's decisions come from."""

    def integer(self, lo: int, hi: int) -> int: ...

    def flip(self, percent: int) -> bool: ...


class DrawChoices:
    """Choices drawn by a composite strategy's ``draw``; each shrinks toward ``lo`` / False.

    (``draw``, not an `st.data()` object, so that a failing example reports
    the graph rather than every one of its draws.)
    """

    def __init__(self, draw: Callable):
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi)) if hi > lo else lo

    def flip(self, percent: int) -> bool:
        return self._draw(st.integers(0, 99)) >= 100 - percent


class RandomChoices:
    """Choices from a seeded `random.Random`, for large graphs."""

    def __init__(self, seed: int):
        self._random = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return lo + int(self._random.random() * (hi - lo + 1))

    def flip(self, percent: int) -> bool:
        return self._random.random() * 100 < percent


def _pick(choices: Choices, items: Sequence):
    return items[choices.integer(0, len(items) - 1)]


def _needs_tokens(language: Language) -> bool:
    return any(spec.token != "never" for spec in language.kinds.values())


def const_value(choices: Choices, type_name: str) -> AttrValue:
    """A literal of the named ``const`` type."""
    if type_name in ("int", "int64"):
        return choices.integer(-3, 100)
    if type_name == "uint8":
        return choices.integer(0, 255)
    if type_name in ("float", "float32"):
        return _pick(choices, (0.0, 1.5, -2.25, 0.1, -0.0, 1e-3))
    if type_name == "bool":
        return choices.flip(50)
    if type_name == "unit":
        return None
    return _pick(choices, ("", "a", "hello"))


class _Generator:
    """Builds one program; see the module docstring for what it guarantees."""

    def __init__(self, choices: Choices, language: Language, max_nodes: int, max_depth: int):
        if "func" not in language:
            raise ValueError(f"language '{language.name}' has no 'func' kind to hold generated code")
        self.c = choices
        self.language = language
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.top_statements = 8  # statements in a declaration's own region (nested ones: up to 8)
        self.tokens = _needs_tokens(language)
        self.b = Builder("<generated>")
        self.made = 0
        self.callables: list[str] = []  # names a `ref` may name
        self.unions: list[tuple[str, tuple[str, ...]]] = [("option", ("Some", "None"))]
        self.expression_kinds = self._expression_kinds()

    # -- declarations -------------------------------------------------------------
    def program(self, funcs: tuple[int, int], globals_: tuple[int, int], externs: tuple[int, int],
                typedefs: tuple[int, int]) -> Graph:
        n_types = self.c.integer(*typedefs) if "typedef" in self.language else 0
        n_externs = self.c.integer(*externs) if "extern" in self.language else 0
        n_funcs = self.c.integer(*funcs)
        n_globals = self.c.integer(*globals_) if "global" in self.language else 0
        for i in range(n_types):
            self.typedef(f"T{i}")
        for i in range(n_externs):
            self.extern(f"ext{i}")
        self.callables += [f"f{i}" for i in range(n_funcs)] + [f"g{i}" for i in range(n_globals)]
        for i in range(n_globals):
            self.global_(f"g{i}")
        entry = self.c.integer(-1, n_funcs - 1) if n_funcs else -1
        for i in range(n_funcs):
            self.func(f"f{i}", entry=(i == entry))
        return self.b.build()

    def typedef(self, name: str) -> None:
        if self.c.flip(50):
            self.op("typedef", name=name, form="record", fields=("a", "b"))
        else:
            cases = ("A", "B")
            self.unions.append((name, cases))
            self.op("typedef", name=name, form="union", cases=cases)

    def extern(self, name: str) -> None:
        extras: dict[str, AttrValue] = {}
        if self.c.flip(30):
            extras["cost"] = self.c.integer(1, 40)
        if self.c.flip(20):
            extras["resource"] = "registry"
        self.op("extern", name=name, arity=self.c.integer(1, 2), pure=self.c.flip(50), **extras)
        self.callables.append(name)

    def global_(self, name: str) -> None:
        with self.region(effect=self._effectful_region()) as body:
            self.statements(body, [], 1)
            body.yields(self.value([]))
        self.op("global", regions=[body.id], name=name)

    def func(self, name: str, entry: bool) -> None:
        params = tuple(f"x{i}" for i in range(self.c.integer(0, 3)))
        with self.region(params, self._effectful_region()) as body:
            scope = list(body.params)
            self.statements(body, scope, 1)
            body.yields(self.value(scope))
        extras: dict[str, AttrValue] = {}
        if entry:
            extras["attributes"] = ((ENTRY_ATTRIBUTE, ()),)
        elif self.c.flip(20):
            extras["attributes"] = (("Pure", ()),)
        self.op("func", regions=[body.id], name=name, params=params, **extras)

    def function(self, name: str, budget: int) -> None:
        """One function of about ``budget`` nodes (for `generated_graph`)."""
        self.max_nodes = self.made + budget
        self.callables.append(name)
        self.func(name, entry=False)

    # -- regions -------------------------------------------------------------------
    def _effectful_region(self) -> bool:
        return self.tokens and self.c.flip(50)

    def statements(self, region: RegionBuilder, scope: list[int], depth: int) -> None:
        for _ in range(self.c.integer(0, self.top_statements if depth == 1 else 8)):
            if self.made >= self.max_nodes:
                return
            scope.append(self.expression(region, scope, depth))

    def value(self, scope: list[int]) -> int:
        """An operand: a visible value, or a fresh constant where none is visible."""
        if scope and not self.c.flip(10):
            return scope[self.c.integer(0, len(scope) - 1)]
        return self.const()

    def region(self, params: Sequence[str] = (), effect: bool = False) -> RegionBuilder:
        self.made += len(params) + effect
        return self.b.region(params=params, effect=effect)

    def nested(self, scope: list[int], depth: int, params: Sequence[str] = (), effect: bool = False,
               yields: int = 1) -> int:
        """A closed child region over ``params`` yielding ``yields`` values."""
        with self.region(params, effect) as region:
            inner = scope + list(region.params)
            self.statements(region, inner, depth + 1)
            region.yields(*(self.value(inner) for _ in range(yields)))
        return region.id

    # -- expressions ---------------------------------------------------------------
    def _expression_kinds(self) -> list[tuple[str, Callable, bool, Kind]]:
        found = []
        for name in sorted(self.language.kinds, key=lambda k: (k != "const", k)):
            spec: Kind = self.language.kinds[name]
            if name in DECLARATION_KINDS or name in STRUCTURAL_KINDS:
                continue
            build = getattr(self, "build_" + name, None)
            if build is None:
                build = self._generic_builder(spec)
            found.append((name, build, spec.regions != 0, spec))
        return found

    def expression(self, region: RegionBuilder, scope: list[int], depth: int) -> int:
        effectful = region.entry_token is not None
        usable = [
            (name, build, spec)
            for name, build, has_regions, spec in self.expression_kinds
            if (effectful or spec.token != "always") and (not has_regions or depth < self.max_depth)
        ]
        if self.c.flip(40):
            basic = [u for u in usable if u[0] in ("const", "prim", "ref")] or usable
            name, build, spec = _pick(self.c, basic)
        else:
            name, build, spec = _pick(self.c, usable)
        with_token = spec.token == "always" or (spec.token == "optional" and effectful and self.c.flip(50))
        return build(scope, depth, with_token)

    def op(self, kind: str, *operands: int, with_token: bool = False, **kw) -> int:
        self.made += 1
        if with_token:
            return self.b.effect_op(kind, *operands, **kw)
        return self.b.op(kind, *operands, **kw)

    def operands(self, scope: list[int], lo: int, hi: int) -> list[int]:
        return [self.value(scope) for _ in range(self.c.integer(lo, hi))]

    def const(self) -> int:
        type_name = _pick(self.c, CONST_TYPES)
        return self.op("const", value=const_value(self.c, type_name), type=type_name)

    def build_const(self, scope, depth, with_token) -> int:
        return self.const()

    def build_ref(self, scope, depth, with_token) -> int:
        names = self.callables + list(INTRINSICS) if self.c.flip(70) else list(INTRINSICS)
        return self.op("ref", name=_pick(self.c, names))

    def build_prim(self, scope, depth, with_token) -> int:
        if self.c.flip(15):
            operands = [self.value(scope)]
            op = _pick(self.c, PRIM_UNARY)
        else:
            operands = [self.value(scope), self.value(scope)]
            op = _pick(self.c, PRIM_BINARY)
        extras = {"type": _pick(self.c, ("int", "float", "bool"))} if "type" in self.language.kinds["prim"].optional and self.c.flip(30) else {}
        return self.op("prim", *operands, op=op, **extras)

    def build_lambda(self, scope, depth, with_token) -> int:
        params = [f"y{i}" for i in range(self.c.integer(1, 2))]
        region = self.nested(scope, depth, params, effect=self._effectful_region())
        return self.op("lambda", regions=[region], **({"name": "fn"} if self.c.flip(30) else {}))

    def build_tuple(self, scope, depth, with_token) -> int:
        return self.op("tuple", *self.operands(scope, 0, 3))

    def build_proj(self, scope, depth, with_token) -> int:
        return self.op("proj", self.value(scope), index=self.c.integer(0, 2))

    def build_record(self, scope, depth, with_token) -> int:
        fields = ("a", "b")[: self.c.integer(1, 2)]
        return self.op("record", *(self.value(scope) for _ in fields), type="T0", fields=fields)

    def build_field(self, scope, depth, with_token) -> int:
        return self.op("field", self.value(scope), name=_pick(self.c, ("a", "b")))

    def build_with(self, scope, depth, with_token) -> int:
        fields = ("a", "b")[: self.c.integer(1, 2)]
        return self.op("with", self.value(scope), *(self.value(scope) for _ in fields), fields=fields)

    def build_union(self, scope, depth, with_token) -> int:
        type_name, cases = _pick(self.c, self.unions)
        case = _pick(self.c, cases)
        payload = [] if case == "None" else self.operands(scope, 0 if type_name != "option" else 1, 1)
        return self.op("union", *payload, type=type_name, case=case)

    def build_array(self, scope, depth, with_token) -> int:
        return self.op("array", *self.operands(scope, 0, 3))

    def build_list(self, scope, depth, with_token) -> int:
        return self.op("list", *self.operands(scope, 0, 3))

    def build_cons(self, scope, depth, with_token) -> int:
        return self.op("cons", self.value(scope), self.value(scope))

    def build_index(self, scope, depth, with_token) -> int:
        return self.op("index", *self.operands(scope, 2, 3))

    def build_store(self, scope, depth, with_token) -> int:
        return self.op("store", *self.operands(scope, 3, 4), with_token=with_token)

    def build_apply(self, scope, depth, with_token) -> int:
        return self.op("apply", self.callee(scope), *self.operands(scope, 1, 3))

    def build_call(self, scope, depth, with_token) -> int:
        callee = self.callee(scope)
        extras = {}
        if self.c.flip(30) and self.callables:
            extras["callee"] = _pick(self.c, self.callables)
        return self.op("call", callee, *self.operands(scope, 0, 3), with_token=with_token, **extras)

    def build_pap(self, scope, depth, with_token) -> int:
        return self.op("pap", self.callee(scope), *self.operands(scope, 1, 2))

    def callee(self, scope: list[int]) -> int:
        if self.c.flip(60):
            return self.build_ref(scope, 0, False)
        return self.value(scope)

    def build_native(self, scope, depth, with_token) -> int:
        op = _pick(self.c, EFFECT_NATIVES if with_token else PURE_NATIVES)
        return self.op("native", *self.operands(scope, 0, 2), op=op, with_token=with_token)

    def build_var(self, scope, depth, with_token) -> int:
        return self.op("var", self.value(scope), name=_pick(self.c, ("count", "acc")))

    def build_load(self, scope, depth, with_token) -> int:
        return self.op("load", self.value(scope))

    def build_assign(self, scope, depth, with_token) -> int:
        return self.op("assign", self.value(scope), self.value(scope))

    def build_bind(self, scope, depth, with_token) -> int:
        return self.op("bind", self.value(scope))

    def build_await(self, scope, depth, with_token) -> int:
        return self.op("await", self.value(scope), with_token=with_token)

    def build_post(self, scope, depth, with_token) -> int:
        return self.op("post", self.value(scope), self.value(scope), with_token=with_token)

    def build_tell(self, scope, depth, with_token) -> int:
        return self.op("tell", self.value(scope), self.value(scope), with_token=with_token)

    def build_if(self, scope, depth, with_token) -> int:
        cond = self.value(scope)
        regions = [self.nested(scope, depth, effect=with_token) for _ in range(2)]
        return self.op("if", cond, regions=regions, with_token=with_token)

    def build_while(self, scope, depth, with_token) -> int:
        cond = self.nested(scope, depth)
        body = self.nested(scope, depth, yields=0)
        return self.op("while", regions=[cond, body])

    def build_for(self, scope, depth, with_token) -> int:
        lo, hi = self.value(scope), self.value(scope)
        if self.language.kinds["for"].operands == 2:  # the source form: the body yields nothing
            return self.op("for", lo, hi, regions=[self.nested(scope, depth, ["i"], yields=0)])
        carried = self.operands(scope, 0, 2)
        params = ["i"] + [f"c{k}" for k in range(len(carried))]
        body = self.nested(scope, depth, params, effect=with_token, yields=len(carried))
        return self.op("for", lo, hi, *carried, regions=[body], with_token=with_token)

    def build_foreach(self, scope, depth, with_token) -> int:
        xs = self.value(scope)
        if self.language.kinds["foreach"].operands == 1:
            return self.op("foreach", xs, regions=[self.nested(scope, depth, ["elem"], yields=0)])
        carried = self.operands(scope, 0, 2)
        params = ["elem"] + [f"c{k}" for k in range(len(carried))]
        body = self.nested(scope, depth, params, effect=with_token, yields=len(carried))
        return self.op("foreach", xs, *carried, regions=[body], with_token=with_token)

    def build_loop(self, scope, depth, with_token) -> int:
        carried = self.operands(scope, 0, 2)
        params = [f"c{k}" for k in range(len(carried))]
        cond = self.nested(scope, depth, params, effect=with_token)
        body = self.nested(scope, depth, params, effect=with_token, yields=len(carried))
        return self.op("loop", *carried, regions=[cond, body], with_token=with_token)

    def build_async(self, scope, depth, with_token) -> int:
        return self.op("async", regions=[self.nested(scope, depth, effect=self._effectful_region())])

    def build_query(self, scope, depth, with_token) -> int:
        source = self.value(scope)
        return self.op("query", source, regions=[self.nested(scope, depth, ["m"])])

    def build_actor(self, scope, depth, with_token) -> int:
        init = self.value(scope)
        handler = self.nested(scope, depth, ["state", "msg"], effect=self._effectful_region(), yields=2)
        return self.op("actor", init, regions=[handler])

    def build_match(self, scope, depth, with_token) -> int:
        scrutinee = self.value(scope)
        patterns, guards, regions = [], [], []
        for arm in range(self.c.integer(1, 3)):
            pattern = draw_pattern(self.c, 2, [0])
            names = pattern_variables(pattern)
            guarded = self.c.flip(30)
            if guarded:
                regions.append(self.nested(scope, depth, names, effect=with_token))
            regions.append(self.nested(scope, depth, names, effect=with_token))
            patterns.append(pattern)
            guards.append(guarded)
        return self.op("match", scrutinee, regions=regions, patterns=tuple(patterns), guards=tuple(guards),
                       with_token=with_token)

    def _generic_builder(self, spec: Kind) -> Callable:
        """A builder for a user's kind, from its shape: operands, attributes, regions."""

        def build(scope, depth, with_token) -> int:
            count = self.c.integer(spec.min_operands, spec.min_operands + 2) if spec.operands == VARIADIC else spec.operands
            operands = [self.value(scope) for _ in range(count)]
            n_regions = self.c.integer(0, 2) if spec.regions == VARIADIC else spec.regions
            regions = [self.nested(scope, depth, effect=with_token) for _ in range(n_regions)]
            attributes = {name: self.c.integer(0, 3) for name in spec.attributes}
            return self.op(spec.name, *operands, regions=regions, with_token=with_token, **attributes)

        return build


def draw_pattern(choices: Choices, depth: int, counter: list[int]) -> tuple:
    """A pattern tree (see `nanopass.languages`); ``counter`` numbers the bound names."""
    forms = ("wild", "bind", "lit", "nil") if depth == 0 else ("wild", "bind", "lit", "nil", "tuple", "case", "cons")
    form = _pick(choices, forms)
    if form == "bind":
        counter[0] += 1
        return ("bind", f"v{counter[0]}")
    if form == "lit":
        type_name = _pick(choices, ("int", "bool", "string"))
        return ("lit", const_value(choices, type_name), type_name)
    if form == "tuple":
        return ("tuple", *(draw_pattern(choices, depth - 1, counter) for _ in range(choices.integer(2, 3))))
    if form == "case":
        name = _pick(choices, ("Some", "None", "A", "B"))
        arity = 0 if name == "None" else choices.integer(0 if name in ("A", "B") else 1, 1)
        return ("case", name, *(draw_pattern(choices, depth - 1, counter) for _ in range(arity)))
    if form == "cons":
        return ("cons", draw_pattern(choices, depth - 1, counter), draw_pattern(choices, depth - 1, counter))
    return (form,)


def pattern_variables(pattern: tuple) -> list[str]:
    """The names a pattern binds, left to right: the params of its arm's regions."""
    if pattern[0] == "bind":
        return [pattern[1]]
    start = 2 if pattern[0] == "case" else 1
    if pattern[0] in ("tuple", "case", "cons"):
        return [name for sub in pattern[start:] for name in pattern_variables(sub)]
    return []


def delete_unused(graph: Graph, choices: Choices, count: int) -> Graph:
    """Delete up to ``count`` unused body nodes (with their regions), leaving ``None`` slots."""
    used: set[int] = set()
    for _, node in graph.live_nodes():
        used.update(node.inputs())
    for region in graph.regions:
        if region is not None:
            used.update(region.results)
            if region.effect_out is not None:
                used.add(region.effect_out)
    declarations = set(graph.root_region.body)
    home = {n: r for r, region in enumerate(graph.regions) if region is not None for n in region.body}
    candidates = [n for n, _ in graph.live_nodes() if n in home and n not in used and n not in declarations]
    nodes, regions = graph.nodes.evolver(), graph.regions.evolver()
    for _ in range(min(count, len(candidates))):
        victim = candidates.pop(choices.integer(0, len(candidates) - 1))
        if nodes[victim] is None:  # inside a region deleted earlier
            continue
        doomed_regions = list(graph.node(victim).regions)
        for region_id in graph.node(victim).regions:
            for inner in graph.walk_region(region_id):
                nodes[inner] = None
                doomed_regions.extend(graph.node(inner).regions)
        for region_id in doomed_regions:
            regions[region_id] = None
        nodes[victim] = None
        owner = home[victim]
        regions[owner] = attrs.evolve(regions[owner], body=tuple(i for i in regions[owner].body if i != victim))
    return Graph(nodes.persistent(), regions.persistent(), graph.root)


# -- hypothesis strategies ------------------------------------------------------------
@st.composite
def graphs(draw, language: Language | None = None, max_nodes: int = 40, max_depth: int = 3,
           funcs: tuple[int, int] = (1, 4), deletions: bool = True) -> Graph:
    """Well-formed graphs of ``language`` (default `Clef`): see the module docstring."""
    choices = DrawChoices(draw)
    generator = _Generator(choices, language or Clef, max_nodes, max_depth)
    graph = generator.program(funcs, (0, 1), (0, 2), (0, 1))
    if deletions and choices.flip(20):
        graph = delete_unused(graph, choices, choices.integer(1, 3))
    return graph


def functions(language: Language | None = None, max_nodes: int = 30, max_depth: int = 3) -> st.SearchStrategy[Graph]:
    """Graphs holding one top-level function and nothing else."""

    @st.composite
    def one_function(draw) -> Graph:
        generator = _Generator(DrawChoices(draw), language or Clef, max_nodes, max_depth)
        return generator.program((1, 1), (0, 0), (0, 0), (0, 0))

    return one_function()


def node_kinds(language: Language | None = None) -> st.SearchStrategy[str]:
    """Names of the kinds a generated body may hold (declarations and params excluded)."""
    lang = language or Clef
    names = sorted(k for k in lang.kinds if k not in DECLARATION_KINDS and k not in STRUCTURAL_KINDS)
    return st.sampled_from(names)


def constants() -> st.SearchStrategy[tuple[AttrValue, str]]:
    """``(value, type)`` pairs for ``const`` nodes, of every type name."""

    @st.composite
    def constant(draw) -> tuple[AttrValue, str]:
        choices = DrawChoices(draw)
        type_name = _pick(choices, CONST_TYPES)
        return const_value(choices, type_name), type_name

    return constant()


def patterns(max_depth: int = 2) -> st.SearchStrategy[tuple]:
    """Pattern trees for ``match`` arms."""

    @st.composite
    def pattern(draw) -> tuple:
        return draw_pattern(DrawChoices(draw), max_depth, [0])

    return pattern()


# -- large graphs for benchmarks ---------------------------------------------------------
def generated_graph(n_nodes: int, seed: int = 0, language: Language | None = None,
                    function_size: int = 200, max_depth: int = 3) -> Graph:
    """A graph of about ``n_nodes`` live nodes, made of functions of about ``function_size``."""
    generator = _Generator(RandomChoices(seed), language or Clef, n_nodes, max_depth)
    generator.top_statements = n_nodes  # a function body runs until its budget is spent
    index = 0
    while generator.made < n_nodes:
        generator.function(f"f{index}", min(function_size, n_nodes - generator.made))
        index += 1
    return generator.b.build()

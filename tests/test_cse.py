"""cse: merges identical pure nodes where the kept one dominates, and never an effect."""

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.graph import Builder, Graph
from nanopass.languages import Clef, Elaborated
from nanopass.pass_ import PassContext
from nanopass.passes.cse import CommonSubexpressions, exact, mergeable, pure_declarations, scoping_violations
from nanopass.pipeline import Pipeline
from nanopass.testing.strategies import graphs

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cse(graph: Graph) -> tuple[Graph, PassContext]:
    ctx = PassContext()
    return CommonSubexpressions().run(graph, ctx), ctx


def kinds_in(graph: Graph, region_id: int) -> list[str]:
    return [graph.node(i).kind for i in graph.region(region_id).body]


def test_repeated_expressions_merge_through_their_operands():
    b = Builder()
    with b.region(params=["a", "b"]) as body:
        a, c = body.params
        sum1 = b.op("prim", a, c, op="+")
        sum2 = b.op("prim", a, c, op="+")
        prod1 = b.op("prim", sum1, c, op="*")
        prod2 = b.op("prim", sum2, c, op="*")
        body.yields(b.op("tuple", prod1, prod2))
    b.op("func", regions=[body.id], name="f", params=("a", "b"))
    graph = b.build()
    out, ctx = cse(graph)
    assert ctx.statistics["nodes merged"] == 2
    assert out.nodes[sum2] is None and out.nodes[prod2] is None
    assert kinds_in(out, body.id) == ["prim", "prim", "tuple"]
    assert out.node(out.region(body.id).results[0]).operands == (prod1, prod1)
    assert out.nodes[sum1] is graph.nodes[sum1]  # untouched nodes are shared


def test_nested_regions_reuse_enclosing_values_but_not_siblings():
    b = Builder()
    with b.region(params=["x"]) as body:
        x = body.params[0]
        outer = b.op("prim", x, x, op="*")
        cond = b.op("prim", x, x, op="=")
        with b.region() as then:
            in_then = b.op("prim", x, x, op="*")  # merges into `outer`
            only_then = b.op("prim", x, x, op="-")
            then.yields(b.op("prim", in_then, only_then, op="+"))
        with b.region() as other:
            in_else = b.op("prim", x, x, op="-")  # a sibling's value: not visible here
            other.yields(in_else)
        branch = b.op("if", cond, regions=[then.id, other.id])
        after = b.op("prim", x, x, op="-")  # the branches' values are out of scope here
        body.yields(b.op("tuple", branch, after))
    b.op("func", regions=[body.id], name="f", params=("x",))
    out, ctx = cse(b.build())
    assert ctx.statistics["nodes merged"] == 1
    assert out.nodes[in_then] is None
    assert out.node(out.region(then.id).results[0]).operands == (outer, only_then)
    assert all(out.nodes[i] is not None for i in (only_then, in_else, after))
    assert scoping_violations(out) == set()


def test_effects_are_never_merged_at_the_source_level():
    b = Builder()
    b.op("extern", name="log", arity=1, pure=False)
    b.op("extern", name="hash", arity=1, pure=True)
    with b.region(params=["x"]) as body:
        x = body.params[0]
        twice = {}
        for kind in ("var", "load", "array", "index", "bind"):
            operands = {"var": (x,), "load": (x,), "array": (x, x), "index": (x, x), "bind": (x,)}[kind]
            extra = {"name": "c"} if kind == "var" else {}
            twice[kind] = [b.op(kind, *operands, **extra) for _ in range(2)]
        log = b.op("ref", name="log")
        twice["apply log"] = [b.op("apply", log, x) for _ in range(2)]
        pure = b.op("ref", name="hash")
        hashes = [b.op("apply", pure, x) for _ in range(2)]
        body.yields(b.op("tuple", *[i for pair in twice.values() for i in pair], *hashes))
    b.op("func", regions=[body.id], name="f", params=("x",))
    graph = b.build()
    assert Clef.check(graph) == []
    out, ctx = cse(graph)
    assert ctx.statistics["nodes merged"] == 1  # only the pure extern's call
    assert out.nodes[hashes[1]] is None
    assert all(out.nodes[i] is not None for pair in twice.values() for i in pair)


def test_tokens_and_allocating_natives_are_never_merged_when_elaborated():
    b = Builder()
    with b.region(params=["xs"], effect=True) as body:
        xs = body.params[0]
        roots = [b.op("native", xs, op="sqrt") for _ in range(2)]
        maps = [b.op("native", xs, op="Array.map") for _ in range(2)]
        prints = [b.effect_op("native", xs, op="printfn") for _ in range(2)]
        body.yields(b.op("tuple", *roots, *maps, *prints))
    b.op("func", regions=[body.id], name="f", params=("xs",))
    graph = b.build()
    assert Elaborated.check(graph) == []
    out, ctx = cse(graph)
    assert ctx.statistics["nodes merged"] == 1
    assert out.nodes[roots[1]] is None
    assert all(out.nodes[i] is not None for i in maps + prints)


def test_constants_compare_exactly():
    b = Builder()
    with b.region() as body:
        values = [b.op("const", value=v, type="float") for v in (0.0, -0.0, 1, 1.0, 1.0)]
        flags = [b.op("const", value=v, type=t) for v, t in ((True, "bool"), (1, "int"))]
        body.yields(b.op("tuple", *values, *flags))
    b.op("func", regions=[body.id], name="f", params=())
    out, ctx = cse(b.build())
    assert ctx.statistics["nodes merged"] == 1
    assert out.nodes[values[4]] is None
    assert exact((0.0, True)) != exact((-0.0, 1))


def test_pure_declarations_are_marked_ones():
    b = Builder()
    b.op("extern", name="e1", arity=1, pure=True)
    b.op("extern", name="e2", arity=1, pure=False, attributes=(("Pure", ()),))
    b.op("extern", name="e3", arity=1)
    with b.region() as body:
        body.yields(b.op("const", value=None, type="unit"))
    b.op("func", regions=[body.id], name="f", params=(), attributes=(("Pure", ()),))
    b.op("func", regions=[body.id], name="g", params=())
    assert pure_declarations(b.build()) == {"e1", "e2", "f"}


@SETTINGS
@given(st.sampled_from([Clef, Elaborated]).flatmap(lambda lang: st.tuples(st.just(lang), graphs(lang, max_nodes=60))))
def test_generated_graphs_keep_effects_scoping_and_conformance(lang_graph):
    language, graph = lang_graph
    snapshot = list(graph.nodes)
    out, ctx = cse(graph)
    assert all(a is b for a, b in zip(snapshot, graph.nodes)) and len(snapshot) == len(graph.nodes)
    assert language.check(out) == []
    pure = pure_declarations(graph)
    merged = {node_id for node_id, _ in graph.live_nodes() if out.nodes[node_id] is None}
    for node_id, node in graph.live_nodes():
        if node_id in merged:
            assert mergeable(graph, node, pure), f"%{node_id} ({node.kind}) is not pure but was merged"
        elif not merged & set(node.inputs()):
            assert out.nodes[node_id] is node  # reads nothing merged: the very same object
    assert len(graph) - len(out) == ctx.statistics["nodes merged"]
    assert scoping_violations(out) <= scoping_violations(graph)
    assert CommonSubexpressions().validate(graph, out, ctx)[0].status == "validated"
    again, again_ctx = cse(out)
    assert again_ctx.statistics["nodes merged"] == 0 and again == out


def test_validation_catches_a_merge_into_a_sibling_region():
    b = Builder()
    with b.region(params=["x"]) as body:
        x = body.params[0]
        with b.region() as then:
            left = b.op("prim", x, x, op="-")
            then.yields(left)
        with b.region() as other:
            right = b.op("prim", x, x, op="-")
            other.yields(right)
        body.yields(b.op("if", x, regions=[then.id, other.id]))
    b.op("func", regions=[body.id], name="f", params=("x",))
    graph = b.build()
    out, _ = cse(graph)
    assert out == graph
    wrong = attrs.evolve(graph, nodes=graph.nodes.set(right, None), regions=graph.regions.set(
        other.id, attrs.evolve(graph.region(other.id), body=(), results=(left,))))
    verdicts = CommonSubexpressions().validate(graph, wrong, PassContext())
    assert verdicts[0].status == "counterexample"
    assert f"yields %{left} out of scope" in verdicts[0].detail


def test_cse_runs_in_a_pipeline_at_either_level():
    for language in (Clef, Elaborated):
        b = Builder()
        with b.region(params=["x"]) as body:
            one = b.op("const", value=1, type="int")
            two = b.op("const", value=1, type="int")
            body.yields(b.op("prim", one, two, op="+"))
        b.op("func", regions=[body.id], name="f", params=("x",))
        result = Pipeline.parse("cse,renumber").run(b.build())
        assert len(result.graph) == 4 and language.check(result.graph) == []
        assert dict(result.statistics)["cse"]["nodes merged"] == 1

"""telemetry: probes where the coeffects change, measurements in the sink, results unchanged."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanopass.diagnostics import DiagnosticError
from nanopass.driver import default_pipeline
from nanopass.frontend import parse
from nanopass.interp.probes import Measurement, run_with_telemetry
from nanopass.interpreter import run_graph
from nanopass.languages import Saturated, Telemetry as TelemetryLanguage
from nanopass.pass_ import PassContext
from nanopass.passes.strip_telemetry import StripTelemetry
from nanopass.passes.telemetry import Telemetry, find_sites
from nanopass.pipeline import Pipeline
from nanopass.profiler import profile_graph
from nanopass.testing.strategies import graphs

EXAMPLES = Path("/work/shared/examples")
HOST = Path(__file__).resolve().parent.parent / "examples"
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SATURATE = "elaborate,reachability,baker"


def saturated(source: str, filename: str = "t.clef"):
    return Pipeline.parse(SATURATE).run(parse(source, filename)).graph


def probed(graph, probes: str | None = None):
    spec = "telemetry" if probes is None else f"telemetry{{probes={probes}}}"
    return Pipeline.parse(spec).run(graph, validate=True)


def probes_of(graph):
    return [(n.attr("probe"), n.attr("site")) for _, n in graph.live_nodes() if n.kind == "probe"]


# -- where the probes go ------------------------------------------------------------------------------

def test_process_gets_a_cycle_count_per_pure_map_and_the_same_result():
    graph = saturated((EXAMPLES / "process.clef").read_text(), "process.clef")
    result = probed(graph)
    assert probes_of(result.graph) == [("cycles", "process:Array.map@13:5"), ("cycles", "process:Array.map@13:5#2"),
                                       ("cycles", "process:Array.map@13:5#3")]
    assert TelemetryLanguage.check(result.graph) == [] and Saturated.check(result.graph) != []
    assert [v.status for v in result.verdicts] == ["validated"]
    frame = [0.001 * i for i in range(64)]
    externs = str(HOST / "process_externs.py")
    value, records = run_with_telemetry(result.graph, "process", frame, externs=externs)
    assert list(value) == list(run_graph(graph, "process", frame, externs=externs))
    assert [(r.probe, r.site, r.unit) for r in records] == [(p, s, "ns") for p, s in probes_of(result.graph)]
    assert all(r.value > 0 for r in records)


ACTORS_MAIN = """
let main (n: int) : int =
    let a = ingest.PostAndReply(n)
    parser.Tell(5)
    parser.Tell(6)
    a + parser.PostAndReply(3)
"""


def test_actor_messages_get_queue_probes_that_read_the_mailbox():
    graph = saturated((EXAMPLES / "actors.clef").read_text() + ACTORS_MAIN, "actors.clef")
    result = probed(graph)
    assert {p for p, _ in probes_of(result.graph)} == {"queue"}
    assert len(probes_of(result.graph)) == 9  # the examples' five posts and tells, and main's four
    value, records = run_with_telemetry(result.graph, "main", 4)
    assert value == run_graph(graph, "main", 4)
    queue = [(r.site, r.value) for r in records if r.site.startswith("main:")]
    # The two tells wait in parser's mailbox: the second finds one ahead of it, the post two.
    assert queue == [("main:post ingest@26:13", 0), ("main:tell parser@27:5", 0), ("main:tell parser@28:5", 1),
                     ("main:post parser@29:9", 2)]
    assert all(r.unit == "messages" for r in records)


def test_a_resource_access_gets_a_latency_probe_even_when_it_is_awaited_later():
    graph = saturated((EXAMPLES / "resolver.clef").read_text(), "resolver.clef")
    result = probed(graph, "latency")
    assert probes_of(result.graph) == [("latency", "resolve:call fetchAll@26:26")]
    externs = str(HOST / "resolver_externs.py")
    value, records = run_with_telemetry(result.graph, "resolve", "app", externs=externs)
    assert value == run_graph(graph, "resolve", "app", externs=externs)
    # fetchAll returns an Async: the probe times it when it runs, once per round of the loop.
    assert [r.site for r in records] == ["resolve:call fetchAll@26:26"] * 3
    assert all(r.probe == "latency" and r.value > 0 for r in records)


def test_outermost_pure_sites_only_and_recursion_is_no_boundary():
    graph = saturated("""\
[<Pure>]
extern score : float -> float

let rec depth (n: int) : int = if n <= 0 then 0 else 1 + depth (n - 1)

let total (xs: float[]) : float =
    let mutable s = 0.0
    for i in 0 .. Array.length xs - 1 do
        s <- s + score xs.[i]
    s + float (depth 3)
""")
    assert probes_of(probed(graph).graph) == [("cycles", "total:for@8:5"), ("cycles", "total:call depth@10:16")]


def test_the_probe_kinds_are_chosen_by_option():
    graph = saturated((EXAMPLES / "resolver.clef").read_text(), "resolver.clef")
    everything = {p for p, _ in probes_of(probed(graph).graph)}
    assert everything == {"cycles", "latency"}
    assert {p for p, _ in probes_of(probed(graph, "cycles").graph)} == {"cycles"}
    assert probes_of(probed(graph, "queue").graph) == []
    assert str(Pipeline.parse("telemetry{probes=latency+queue}")) == "telemetry{probes=latency+queue}"
    with pytest.raises(DiagnosticError, match="unknown probe kind\\(s\\) seconds; expected cycles, latency, queue"):
        probed(graph, "seconds+queue")


def test_off_unless_asked_for():
    assert "telemetry" not in str(default_pipeline()).split(",")


def test_the_coeffects_table_decides_purity_when_present():
    graph = saturated((EXAMPLES / "process.clef").read_text(), "process.clef")
    with_table = Pipeline.parse("coeffects").run(graph).graph
    assert find_sites(with_table, frozenset({"cycles"})) == find_sites(graph, frozenset({"cycles"}))
    # A table saying the first map reaches a resource: it is no longer a pure region.
    from nanopass.passes.coeffects import ResourceAccess

    maps = sorted(i for i, n in graph.live_nodes() if n.kind == "parallel_for")
    claimed = with_table.annotate("coeffects", {maps[0]: ResourceAccess(frozenset({"sensor"}))})
    sites = [(s.node, graph.node(s.node).kind) for s in find_sites(claimed, frozenset({"cycles"}))]
    # The other maps stay sites; inside the first one, its pure call to calibrate is the outermost now.
    (calibrate,) = [i for i in graph.walk_region(graph.node(maps[0]).regions[0]) if graph.node(i).kind == "call"]
    assert sites == [(maps[1], "parallel_for"), (maps[2], "parallel_for"), (calibrate, "call")]


# -- the interpreter and the profiler give the same results with probes ----------------------------------

RUNS = [
    ("process.clef", "process", ([0.01 * i for i in range(40)],), "process_externs.py"),
    ("branchy.clef", "process", ([2.0 if i % 7 == 0 else 0.1 for i in range(40)],), "branchy_externs.py"),
    ("dataset.clef", "processDataset", ([0.01 * i for i in range(100)],), "dataset_externs.py"),
    ("matmul.clef", "matrixMultiply", ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]), None),
    ("montecarlo.clef", "monteCarlo", (100.0, 8), None),
    ("resolver.clef", "resolve", ("app",), "resolver_externs.py"),
    ("timeseries.clef", "analyzeTimeSeries", ([float(i % 13) for i in range(130)],), None),
]


def host_values(value):
    import numpy as np

    return value.tolist() if isinstance(value, np.ndarray) else value


@pytest.mark.parametrize("file,entry,args,externs", RUNS, ids=[r[0] for r in RUNS])
def test_examples_compute_the_same_and_profile_the_same_with_probes(file, entry, args, externs):
    graph = saturated((EXAMPLES / file).read_text(), file)
    with_probes = probed(graph).graph
    bindings = str(HOST / externs) if externs else None
    plain = run_graph(graph, entry, *args, externs=bindings)
    value, records = run_with_telemetry(with_probes, entry, *args, externs=bindings)
    assert host_values(value) == host_values(plain)
    assert records and all(isinstance(r, Measurement) for r in records)
    before = profile_graph(graph, entry, *args, externs=bindings)
    after = profile_graph(with_probes, entry, *args, externs=bindings)
    assert (after.work, after.span) == (before.work, before.span)


SOURCE_FOR_PROGRAMS = """\
[<Pure>]
extern scale : int -> int
[<Resource("clock")>]
extern tick : int -> int

let counter = Actor.start 0 (fun state (k: int) -> (state + k, state))

let helper (x: int) : int = scale x + 1
"""


@st.composite
def probe_programs(draw):
    """Functions over ints that call pure and resource externs, a pure helper, an actor, in loops and maps."""
    lines = ["let main (n: int) : int =", "    let mutable acc = n"]
    names = ["n", "acc"]
    for k in range(draw(st.integers(1, 6))):
        form = draw(st.sampled_from(["helper", "tick", "post", "tell", "loop", "map", "branch"]))
        a = draw(st.sampled_from(names))
        if form == "helper":
            lines.append(f"    let v{k} = helper {a}")
        elif form == "tick":
            lines.append(f"    let v{k} = tick {a}")
        elif form == "post":
            lines.append(f"    let v{k} = counter.PostAndReply({a})")
        elif form == "tell":
            lines.append(f"    counter.Tell({a})")
            lines.append(f"    let v{k} = {a}")
        elif form == "loop":
            lines.append(f"    for i in 0 .. {draw(st.integers(0, 4))} do")
            body = draw(st.sampled_from(["helper i", "tick i", "counter.PostAndReply(i)", "i * 2"]))
            lines.append(f"        acc <- acc + {body}")
            lines.append(f"    let v{k} = acc")
        elif form == "map":
            lines.append(f"    let v{k} = Array.sum (Array.map (fun (x: int) -> helper x) [| {a}; 2; 3 |])")
        else:
            lines.append(f"    let v{k} = if {a} > 2 then tick {a} else helper {a}")
        names.append(f"v{k}")
    lines.append(f"    {' + '.join(names)}")
    return SOURCE_FOR_PROGRAMS + "\n".join(lines) + "\n"


def host_functions():
    ticks = []

    def tick(x):
        ticks.append(x)
        return x + len(ticks)
    return {"scale": lambda x: 3 * x, "tick": tick}, ticks


@SETTINGS
@given(probe_programs(), st.integers(-3, 9), st.sampled_from(["cycles+latency+queue", "latency", "queue", "cycles"]))
def test_generated_programs_compute_the_same_with_probes(source, n, kinds):
    graph = saturated(source)
    with_probes = probed(graph, kinds).graph
    externs, ticks = host_functions()
    expected = run_graph(graph, "main", n, externs=externs)
    expected_ticks = list(ticks)
    externs, ticks = host_functions()
    value, records = run_with_telemetry(with_probes, "main", n, externs=externs)
    assert value == expected and ticks == expected_ticks  # the same effects, in the same order
    assert {r.probe for r in records} <= set(kinds.split("+"))
    assert StripTelemetry().run(with_probes, PassContext()) == graph


@SETTINGS
@given(graphs(Saturated, max_nodes=50), st.sampled_from(["cycles+latency+queue", "queue", "cycles"]))
def test_any_graph_gets_probes_in_the_telemetry_language(graph, kinds):
    out = Telemetry(probes=kinds).run(graph, PassContext())
    assert TelemetryLanguage.check(out) == []
    wanted = set(kinds.split("+"))
    assert {n.attr("probe") for _, n in out.live_nodes() if n.kind == "probe"} <= wanted
    # Every probe holds exactly the node it measures, and stands where that node stood.
    for probe_id, node in out.live_nodes():
        if node.kind == "probe":
            (region,) = node.regions
            (measured,) = out.region(region).body
            assert out.region(region).results == (measured,)
            assert graph.nodes[measured] is not None
            assert (out.region(region).token is None) == (graph.node(measured).effect is None)
    assert [v.status for v in Telemetry(probes=kinds).validate(graph, out, PassContext())] == ["validated"]

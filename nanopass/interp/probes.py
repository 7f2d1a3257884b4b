"""The ``probe`` kind of the `Telemetry` language, for the reference interpreter, and its telemetry sink.

Importing this module registers the evaluator (`register_evaluator`).  A
probe runs its region (the node it measures) in place, records one
`Measurement` in the machine's `TelemetrySink`, and its value is the
region's value, so a program computes the same with and without probes:

* ``cycles``: the time its region took, in nanoseconds of
  ``time.perf_counter_ns`` (the interpreter has no cycle counter; a backend
  reads the hardware's);
* ``latency``: the time the resource access took, in nanoseconds.  A call
  that returns an ``Async`` does its work when awaited, so the probe hands
  back an ``Async`` that runs the original one (same result, same effects)
  and records when it completes;
* ``queue``: how many messages were waiting in the target actor's mailbox
  when this one was sent.

`telemetry_sink(machine)` is the sink of one machine (made on first use);
`run_with_telemetry` runs an entry and returns its result with the
measurements.  Under the work/span profiler a probe costs nothing and its
value is ready when the measured value is.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Mapping

import attrs

from nanopass.graph import Graph, Node
from nanopass.interp import asyncs
from nanopass.interp.actors import ActorRef
from nanopass.interp.machine import Machine, Step, register_evaluator

UNITS = {"cycles": "ns", "latency": "ns", "queue": "messages"}


@attrs.frozen(slots=True)
class Measurement:
    """One reading of one probe: its kind, its site, the probe's node id, the value and its unit."""

    probe: str
    site: str
    node: int
    value: int
    unit: str


@attrs.define
class TelemetrySink:
    """The measurements of one run, in the order the probes took them."""

    records: list[Measurement] = attrs.field(factory=list)

    def record(self, measurement: Measurement) -> None:
        self.records.append(measurement)

    def by_site(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for record in self.records:
            found.setdefault(record.site, []).append(record.value)
        return found


_SINKS: "weakref.WeakKeyDictionary[Machine, TelemetrySink]" = weakref.WeakKeyDictionary()


def telemetry_sink(m: Machine) -> TelemetrySink:
    """The sink the probes of machine ``m`` record into."""
    sink = _SINKS.get(m)
    if sink is None:
        sink = _SINKS[m] = TelemetrySink()
    return sink


def _queue_target(m: Machine, node: Node) -> int | None:
    """The value id of the actor a queue probe's message goes to."""
    for inner in m.graph.region(node.regions[0]).body:
        measured = m.graph.node(inner)
        if measured.kind in ("post", "tell"):
            return measured.operands[0]
    return None


def probe(m: Machine, nid: int, node: Node) -> Step:
    plan, kind, site = m.plan(node.regions[0]), node.attr("probe"), node.attr("site")
    sink, unit = telemetry_sink(m), UNITS.get(kind, "")
    target = _queue_target(m, node) if kind == "queue" else None
    steps, clock = plan.steps, time.perf_counter_ns

    def timed_async(original: asyncs.AsyncValue) -> asyncs.AsyncValue:
        async def run() -> Any:
            start = clock()
            value, _ = await asyncs.force(m, original)
            sink.record(Measurement(kind, site, nid, clock() - start, unit))
            return value
        return asyncs.AsyncValue(host=run, convert=lambda value: value)

    def step(env: dict) -> None:
        if target is not None:
            actor = env[target]
            waiting = len(actor.mailbox) if isinstance(actor, ActorRef) else 0
            sink.record(Measurement(kind, site, nid, waiting, unit))
        start = clock()
        for inner in steps:
            inner(env)
        elapsed = clock() - start
        value = plan.value(env)
        if kind == "latency" and isinstance(value, asyncs.AsyncValue):
            value = timed_async(value)
        elif kind != "queue":
            sink.record(Measurement(kind, site, nid, elapsed, unit))
        env[nid] = value
    return step


def _profiled_probe(m: Machine, nid: int, node: Node) -> Step:
    plain = probe(m, nid, node)
    results = m.graph.region(node.regions[0]).results

    def step(env: dict) -> None:
        plain(env)
        env[~nid] = env[~results[0]] if len(results) == 1 else 0
    return step


register_evaluator("probe", probe, profile=_profiled_probe)


def run_with_telemetry(graph: Graph, entry: str, *args: Any,
                       externs: Mapping[str, Any] | str | None = None) -> tuple[Any, list[Measurement]]:
    """Run ``entry`` on ``args`` (as `nanopass.interpreter.run_graph` does) and return the result with
    the measurements its probes took."""
    from nanopass.interpreter import Interpreter

    interpreter = Interpreter(graph, externs)
    result = interpreter.run(entry, *args)
    return result, list(telemetry_sink(interpreter.machine).records)

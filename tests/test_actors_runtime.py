"""Actors on the deterministic scheduler, supervision timeouts, and async blocks on asyncio."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nanopass import DiagnosticError, PassContext
from nanopass.frontend import parse
from nanopass.interpreter import Interpreter, run_graph
from nanopass.passes.elaborate import Elaborate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ACTORS = (EXAMPLES / "actors.clef").read_text()


def with_entry(extra: str):
    return parse(ACTORS + extra, "actors.clef")


def line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


# -- the example's actors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("elaborated", [False, True])
def test_ingest_parser_and_catalog(elaborated):
    graph = with_entry("\nlet run (batch: int) : int = ingest.PostAndReply(batch)\n")
    if elaborated:
        graph = Elaborate().run(graph, PassContext())
    interp = Interpreter(graph)
    # parser commits 5 (catalog 5) and tells Discard; ingest's Commit 5 waits behind the Discard: 10.
    assert interp.run("run", 5) == 10
    # Actors keep their state between runs: 10 + 3, then ingest commits the 13 it was told: 26.
    assert interp.run("run", 3) == 26


def test_a_callee_carried_as_a_value_is_posted_to_dynamically():
    graph = with_entry("\nlet doubler = Actor.start 0 (fun state (n: int) -> (state, n * 2))\n"
                       "let run (batch: int) : int = dispatcher.PostAndReply((doubler, batch))\n")
    assert run_graph(graph, "run", 7) == 14


def test_tell_runs_before_a_later_post_to_the_same_actor():
    source = ("type Msg =\n    | Add of int\n    | Get\n"
              "let counter = Actor.start 0 (fun state msg ->\n"
              "    match msg with\n"
              "    | Add n -> (state + n, state + n)\n"
              "    | Get -> (state, state))\n"
              "let run (n: int) : int =\n"
              "    counter.Tell(Add n)\n"
              "    counter.Tell(Add 1)\n"
              "    counter.PostAndReply(Get)\n")
    interp = Interpreter(parse(source, "counter.clef"))
    assert interp.run("run", 10) == 11
    assert interp.run("run", 1) == 13


# -- supervision --------------------------------------------------------------------------------------------
CYCLE = ("let rec ping = Actor.start 0 (fun state (n: int) ->\n"
         "    let r = pong.PostAndReply(n)\n"
         "    (state, r))\n"
         "and pong = Actor.start 0 (fun state (n: int) ->\n"
         "    let r = ping.PostAndReply(n + 1)\n"
         "    (state, r))\n"
         "let run (n: int) : int = ping.PostAndReply(n)\n")


def test_a_cycle_of_waits_ends_in_a_supervision_timeout_at_the_call_site():
    with pytest.raises(DiagnosticError) as caught:
        run_graph(parse(CYCLE, "cycle.clef"), "run", 1)
    (diagnostic,) = caught.value.diagnostics
    assert "supervision timeout" in diagnostic.message and "'ping'" in diagnostic.message
    assert diagnostic.span.line == line_of(CYCLE, "ping.PostAndReply(n + 1)")


FLOOD = ("let sink = Actor.start 0 (fun state (n: int) -> (state + n, state + n))\n"
         "let run (n: int) : int =\n"
         "    for i in 1 .. n do\n"
         "        sink.Tell(i)\n"
         "    sink.PostAndReply(0)\n")


def test_a_post_that_waits_past_the_step_budget_is_ended():
    interp = Interpreter(parse(FLOOD, "flood.clef"))
    interp.machine.scheduler.step_budget = 50
    assert interp.run("run", 10) == 55
    with pytest.raises(DiagnosticError) as caught:
        interp.run("run", 100)
    assert "after 50 handler runs" in caught.value.diagnostics[0].message
    assert caught.value.diagnostics[0].span.line == line_of(FLOOD, "PostAndReply")


def test_the_supervised_table_bounds_a_post_by_time():
    source = ("extern slow : int -> int\n"
              "let worker = Actor.start 0 (fun state (n: int) -> (state, slow n))\n"
              "let run (n: int) : int =\n"
              "    worker.Tell(n)\n"
              "    worker.Tell(n)\n"
              "    worker.PostAndReply(n)\n")
    graph = parse(source, "slow.clef")
    (post,) = [i for i, node in graph.live_nodes() if node.kind == "post"]
    slow = {"slow": lambda n: time.sleep(0.05) or n}
    assert run_graph(graph, "run", 1, externs=slow) == 1
    with pytest.raises(DiagnosticError) as caught:
        run_graph(graph.annotate("supervised", {post: 0.01}), "run", 1, externs=slow)
    assert "supervision timeout of 0.01 s" in caught.value.diagnostics[0].message


def test_messages_still_told_when_the_run_ends_are_delivered_within_the_budget():
    source = ("let rec echo = Actor.start 0 (fun state (n: int) ->\n"
              "    echo.Tell(n)\n"
              "    (state + 1, state))\n"
              "let run (n: int) : int = echo.PostAndReply(n)\n")
    interp = Interpreter(parse(source, "echo.clef"))
    interp.machine.scheduler.step_budget = 20
    with pytest.raises(DiagnosticError) as caught:
        interp.run("run", 1)
    assert "still had messages after 20 handler runs" in caught.value.diagnostics[0].message


# -- async ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("elaborated", [False, True])
def test_the_resolver_runs_its_async_loop_to_completion(elaborated):
    graph = parse((EXAMPLES / "resolver.clef").read_text(), "resolver.clef")
    if elaborated:
        graph = Elaborate().run(graph, PassContext())
    resolved = run_graph(graph, "resolve", "app", externs=str(EXAMPLES / "resolver_externs.py"))
    assert resolved == {"app": ["web", "db"], "web": ["http", "json"], "db": ["json"], "http": [], "json": []}


def test_async_externs_run_on_the_event_loop_in_the_order_awaited():
    events = []

    async def fetch(n):
        events.append(("start", n))
        await asyncio.sleep(0)
        events.append(("end", n))
        return n * 10

    source = ("extern fetch : int -> Async<int>\n"
              "let twice (n: int) = async {\n"
              "    let! a = fetch n\n"
              "    let! b = fetch (a + 1)\n"
              "    return a + b }\n")
    assert run_graph(parse(source, "a.clef"), "twice", 2, externs={"fetch": fetch}) == 20 + 210
    assert events == [("start", 2), ("end", 2), ("start", 21), ("end", 21)]


def test_an_async_is_cold_until_awaited_and_a_sync_host_may_implement_async():
    calls = []
    source = ("extern get : int -> Async<int>\n"
              "let f (n: int) = async {\n"
              "    let unused = get 99\n"
              "    let! x = get n\n"
              "    return x + 1 }\n")
    assert run_graph(parse(source, "a.clef"), "f", 4, externs={"get": lambda n: calls.append(n) or n}) == 5
    assert calls == [4]

"""Actors on a deterministic scheduler: FIFO mailboxes, no threads.

An ``actor`` node makes an `ActorRef` with its initial state and handler
(the region over ``(state, msg)`` yielding the new state and the reply, with
the outer values it reads captured).  ``tell`` appends to the actor's
mailbox.  ``post`` (PostAndReply) appends its message and then runs the
actor's mailbox, oldest message first, until its own message is answered;
the handlers it runs may post and tell in turn.  Whatever is still queued
when the entry returns is drained round-robin: one message per actor per
round, in creation order.

A post cannot wait on an actor that is already inside a handler further up
the chain of posts (it would wait for itself: a cycle of waits), nor for more
than ``step_budget`` handler runs, nor, when the ``supervised`` annotation
table (post node id -> timeout in seconds, written by the deadlock analysis)
names the post, for longer than that timeout (checked between messages).
Each is ended by a supervision timeout: a located diagnostic naming the call
site and the actor waited on.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from nanopass.diagnostics import DiagnosticError, Span
from nanopass.graph import Node
from nanopass.interp.machine import Machine, Plan, register_evaluator
from nanopass.interp.values import Fault

DEFAULT_STEP_BUDGET = 100_000


class ActorRef:
    """A running actor: its state, handler and mailbox of (message, reply slot or None)."""

    __slots__ = ("name", "span", "state", "plan", "captured", "mailbox", "busy")

    def __init__(self, name: str, span: Span, state: Any, plan: Plan, captured: dict):
        self.name = name
        self.span = span
        self.state = state
        self.plan = plan
        self.captured = captured
        self.mailbox: deque = deque()
        self.busy = False

    def __repr__(self) -> str:
        return f"<actor {self.name}>"


class _Reply:
    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = False
        self.value = None


class Scheduler:
    def __init__(self, m: Machine, step_budget: int = DEFAULT_STEP_BUDGET):
        self.machine = m
        self.step_budget = step_budget
        self.actors: list[ActorRef] = []
        self.names = _actor_names(m)

    def spawn(self, node_id: int, span: Span, state: Any, plan: Plan, captured: dict) -> ActorRef:
        actor = ActorRef(self.names.get(node_id, f"actor#{node_id}"), span, state, plan, captured)
        self.actors.append(actor)
        return actor

    def tell(self, actor: Any, message: Any) -> None:
        _check_actor(actor).mailbox.append((message, None))

    def post(self, node_id: int, node: Node, actor: Any, message: Any) -> Any:
        actor = _check_actor(actor)
        if actor.busy:
            raise self._timeout(node, actor, "it is itself waiting on this call (a cycle of waits)")
        reply = _Reply()
        actor.mailbox.append((message, reply))
        timeout = self.machine.graph.annotation("supervised").get(node_id)
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        steps = 0
        while not reply.done:
            if steps >= self.step_budget:
                raise self._timeout(node, actor, f"no reply after {steps} handler runs")
            if deadline is not None and time.monotonic() > deadline:
                raise self._timeout(node, actor, f"no reply within the supervision timeout of {timeout} s")
            self.handle(actor)
            steps += 1
        return reply.value

    def handle(self, actor: ActorRef) -> None:
        """Run the handler on the oldest message of ``actor``'s mailbox."""
        message, reply = actor.mailbox.popleft()
        actor.busy = True
        try:
            env = dict(actor.captured)
            actor.plan.run(env, (actor.state, message))
            actor.state, answer = actor.plan.results(env)
        finally:
            actor.busy = False
        if reply is not None:
            reply.done, reply.value = True, answer

    def drain(self) -> None:
        """Deliver what is still queued, round-robin, within the step budget."""
        steps = 0
        while any(a.mailbox for a in self.actors):
            for actor in list(self.actors):
                if actor.mailbox:
                    if steps >= self.step_budget:
                        raise self.machine.error(
                            actor.span, f"the actors still had messages after {steps} handler runs; expected the "
                            "messages told to run out")
                    self.handle(actor)
                    steps += 1

    def _timeout(self, node: Node, actor: ActorRef, why: str) -> DiagnosticError:
        return self.machine.error(node.span, (f"supervision timeout: this PostAndReply to actor "
                                                     f"'{actor.name}' was ended: {why}"))


def _check_actor(value: Any) -> ActorRef:
    if not isinstance(value, ActorRef):
        raise Fault(f"a message is sent to a {type(value).__name__} value; expected an actor")
    return value


def _actor_names(m: Machine) -> dict[int, str]:
    """Actor node id -> the name of the top-level value it is (``let catalog = Actor.start ...``)."""
    names = {}
    for _, node in m.graph.top_level():
        if node.kind == "global":
            for result in m.graph.region(node.regions[0]).results:
                if m.graph.node(result).kind == "actor":
                    names[result] = node.attr("name")
    return names


@register_evaluator("actor")
def actor(m: Machine, nid: int, node: Node):
    (init,), region = node.operands, node.regions[0]
    plan, free = m.plan(region), m.free_values(region)

    def step(env: dict) -> None:
        env[nid] = m.scheduler.spawn(nid, node.span, env[init], plan, {i: env[i] for i in free})
    return step


@register_evaluator("post")
def post(m: Machine, nid: int, node: Node):
    target, message = node.operands

    def step(env: dict) -> None:
        try:
            env[nid] = m.scheduler.post(nid, node, env[target], env[message])
        except Fault as error:
            raise m.fault(node, error) from None
    return step


@register_evaluator("tell")
def tell(m: Machine, nid: int, node: Node):
    target, message = node.operands

    def step(env: dict) -> None:
        try:
            m.scheduler.tell(env[target], env[message])
        except Fault as error:
            raise m.fault(node, error) from None
        env[nid] = None
    return step

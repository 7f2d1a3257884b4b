"""``async`` blocks, ``bind`` (Clef) and ``await`` (Elaborated) as asyncio coroutines.

An ``async`` node makes an `AsyncValue`: cold, like F#'s ``Async``; nothing
runs until it is awaited.  Awaiting one (a ``bind``/``await`` step, or the
entry runner for an entry that returns Async) runs its region as a coroutine
on the interpreter's asyncio loop: the steps that cannot suspend run as the
ordinary synchronous steps, and the ones that can (a ``bind``/``await``, or a
branch, loop or match whose regions hold one) run as coroutine steps built
here, so a ``let!`` inside a ``while`` suspends the whole block.  An async
extern's Async calls the host function when awaited and awaits its result.

Under the profiler a suspension's value, and the params of the regions run
here, are ready at the control time: the control strand is not the width
work the profiler measures, and its waits have no cost in the model.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable

from nanopass.graph import Node
from nanopass.interp.evaluators import elements, match_arms
from nanopass.interp.machine import Machine, Plan, register_evaluator
from nanopass.interp.values import Fault

AsyncStep = Callable[[dict], Awaitable[None]]

# Regions of these kinds run apart (later, elsewhere): a suspension inside them is not this block's.
_CLOSED = frozenset({"lambda", "async", "actor", "func", "global"})


class AsyncValue:
    """A cold asynchronous computation: an ``async`` region with its captures, or a host call."""

    __slots__ = ("plan", "captured", "host", "convert")

    def __init__(self, plan: Plan | None = None, captured: dict | None = None,
                 host: Callable[[], Any] | None = None, convert: Callable[[Any], Any] | None = None):
        self.plan = plan
        self.captured = captured
        self.host = host
        self.convert = convert

    def __repr__(self) -> str:
        return "<async>"


@register_evaluator("async")
def async_(m: Machine, nid: int, node: Node):
    region = node.regions[0]
    plan, free = m.plan(region), m.free_values(region)

    def step(env: dict) -> None:
        env[nid] = AsyncValue(plan, {i: env[i] for i in free})
    return step


async def force(m: Machine, value: Any) -> Any:
    """The result of an Async value, running it to completion."""
    if not isinstance(value, AsyncValue):
        raise Fault(f"'let!' waits for an Async value, got {type(value).__name__}")
    if value.host is not None:
        result = value.host()
        if inspect.isawaitable(result):
            result = await result
        return value.convert(result)
    env = dict(value.captured)
    await run(m, value.plan.region_id, env, ())
    return value.plan.value(env)


async def run(m: Machine, region_id: int, env: dict, args: tuple) -> None:
    """Run a region as a coroutine in ``env``."""
    params, steps = _async_plan(m, region_id)
    P = m.profiler  # under the profiler, the control strand is timed coarsely: by the control time
    for param, arg in zip(params, args):
        env[param] = arg
        if P is not None:
            env[~param] = P.ctl
    for suspends, step, node_id in steps:
        if suspends:
            await step(env)
            if P is not None:
                env[~node_id] = P.ctl
        else:
            step(env)


def _async_plan(m: Machine, region_id: int) -> tuple[tuple[int, ...], tuple]:
    plans = m.async_plans
    found = plans.get(region_id)
    if found is None:
        region = m.graph.region(region_id)
        steps = []
        for node_id in region.body:
            node = m.graph.node(node_id)
            if _suspends(m, node_id):
                steps.append((True, _ASYNC_STEPS[node.kind](m, node_id, node), node_id))
            else:
                steps.append((False, m.step(node_id), node_id))
        found = plans[region_id] = (region.params, tuple(steps))
    return found


def _suspends(m: Machine, node_id: int) -> bool:
    node = m.graph.node(node_id)
    if node.kind in ("bind", "await"):
        return True
    if node.kind in _CLOSED:
        return False
    return any(_suspends(m, inner) for r in node.regions for inner in m.graph.region(r).body)


# -- coroutine steps ------------------------------------------------------------------------------------
def _await(m: Machine, nid: int, node: Node) -> AsyncStep:
    (source,) = node.operands

    async def step(env: dict) -> None:
        try:
            env[nid] = await force(m, env[source])
        except Fault as error:
            raise m.fault(node, error) from None
    return step


def _if(m: Machine, nid: int, node: Node) -> AsyncStep:
    (cond,), (then, other) = node.operands, node.regions

    async def step(env: dict) -> None:
        region = then if env[cond] else other
        await run(m, region, env, ())
        env[nid] = m.plan(region).value(env)
    return step


def _match(m: Machine, nid: int, node: Node) -> AsyncStep:
    (scrutinee,), arms = node.operands, match_arms(m, node)

    async def step(env: dict) -> None:
        value = env[scrutinee]
        for matcher, guard, body in arms:
            bound: list = []
            if not matcher(value, bound):
                continue
            if guard is not None:
                guard.run(env, bound)
                if not guard.value(env):
                    continue
            await run(m, body.region_id, env, tuple(bound))
            env[nid] = body.value(env)
            return
        raise m.fault(node, Fault(f"no arm of this match accepts the value {value!r}"))
    return step


def _loop(m: Machine, nid: int, node: Node) -> AsyncStep:
    inits, (cond, body) = node.operands, node.regions
    (flag,), body_plan = m.plan(cond).result_ids, m.plan(body)

    async def step(env: dict) -> None:
        carried = tuple([env[o] for o in inits])
        while True:
            await run(m, cond, env, carried)
            if not env[flag]:
                break
            await run(m, body, env, carried)
            carried = body_plan.results(env)
        env[nid] = carried if inits else None
    return step


def _for(m: Machine, nid: int, node: Node) -> AsyncStep:
    lo, hi, inits, (body,) = node.operands[0], node.operands[1], node.operands[2:], node.regions
    body_plan = m.plan(body)

    async def step(env: dict) -> None:
        carried = tuple([env[o] for o in inits])
        first = env[lo]
        make = type(first)
        for i in range(first, env[hi] + 1):
            await run(m, body, env, (make(i),) + carried)
            carried = body_plan.results(env)
        env[nid] = carried if inits else None
    return step


def _foreach(m: Machine, nid: int, node: Node) -> AsyncStep:
    source, inits, (body,) = node.operands[0], node.operands[1:], node.regions
    body_plan = m.plan(body)

    async def step(env: dict) -> None:
        try:
            items = elements(env[source])
        except Fault as error:
            raise m.fault(node, error) from None
        carried = tuple([env[o] for o in inits])
        for item in items:
            await run(m, body, env, (item,) + carried)
            carried = body_plan.results(env)
        env[nid] = carried if inits else None
    return step


_ASYNC_STEPS: dict[str, Callable[[Machine, int, Node], AsyncStep]] = {
    "bind": _await, "await": _await, "if": _if, "match": _match, "while": _loop, "loop": _loop,
    "for": _for, "foreach": _foreach,
}


def _sync_suspension(m: Machine, nid: int, node: Node):
    def step(env: dict) -> None:
        raise m.fault(node, Fault("'let!' outside an async block; expected it inside 'async { }'"))
    return step


register_evaluator("bind", _sync_suspension)
register_evaluator("await", _sync_suspension)

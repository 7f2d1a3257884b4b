"""``async`` blocks, ``bind`` (Clef) and ``await`` (Elaborated) as asyncio coroutines.

An ``async`` node makes an `AsyncValue`: cold, like F#'s ``Async``; nothing
runs until it is awaited.  Awaiting one (a ``bind``/``await`` step, or the
entry runner for an entry that returns Async) runs its region as a coroutine
on the interpreter's asyncio loop: the steps that cannot suspend run as the
ordinary synchronous steps, and the ones that can (a ``bind``/``await``, or a
branch, loop or match whose regions hold one) run as coroutine steps built
here, so a ``let!`` inside a ``while`` suspends the whole block.  An async
extern's Async calls the host function when awaited and awaits its result.

Under the profiler the coroutine steps time what they run by the same rules
as the profile steps; a suspension's value is ready when the awaited
computation's result is (an async extern's: when its cost is paid, at the
call) and no earlier than the control time; waiting itself costs nothing.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable

import numpy as np

from nanopass.graph import Node
from nanopass.interp.evaluators import elements, match_arms
from nanopass.interp.machine import Machine, Plan, register_evaluator
from nanopass.interp.profiling import after_branch, ready
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


async def force(m: Machine, value: Any, shadow: Any = 0) -> tuple[Any, Any]:
    """The result of an Async value, running it to completion, and (under the profiler) its ready time."""
    if not isinstance(value, AsyncValue):
        raise Fault(f"'let!' waits for an Async value, got {type(value).__name__}")
    P = m.profiler
    if value.host is not None:
        result = value.host()
        if inspect.isawaitable(result):
            result = await result
        return value.convert(result), (0 if P is None else max(ready(shadow), P.ctl))
    env = dict(value.captured)
    plan = value.plan
    await run(m, plan.region_id, env, ())
    return plan.value(env), (0 if P is None else plan.shadow(env))


async def run(m: Machine, region_id: int, env: dict, args: tuple, shadows: tuple | None = None) -> None:
    """Run a region as a coroutine in ``env`` (params ready at ``shadows``, else the control time)."""
    params, steps = _async_plan(m, region_id)
    P = m.profiler
    for i, (param, arg) in enumerate(zip(params, args)):
        env[param] = arg
        if P is not None:
            env[~param] = P.ctl if shadows is None else shadows[i]
    for suspends, step in steps:
        if suspends:
            await step(env)
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
                steps.append((True, _ASYNC_STEPS[node.kind](m, node_id, node)))
            else:
                steps.append((False, m.step(node_id)))
        found = plans[region_id] = (region.params, tuple(steps))
    return found


def _suspends(m: Machine, node_id: int) -> bool:
    node = m.graph.node(node_id)
    if node.kind in ("bind", "await"):
        return True
    if node.kind in _CLOSED:
        return False
    return any(_suspends(m, inner) for r in node.regions for inner in m.graph.region(r).body)


# -- coroutine steps ---------------------------------------------------------------------------------------
# Under the profiler they keep the rules of `nanopass.interp.profiled_kinds`: a branch runs under its
# condition's time, a loop iteration under the condition before it, carried values keep their times.
def _await(m: Machine, nid: int, node: Node) -> AsyncStep:
    (source,), P = node.operands, m.profiler

    async def step(env: dict) -> None:
        try:
            env[nid], shadow = await force(m, env[source], 0 if P is None else env[~source])
        except Fault as error:
            raise m.fault(node, error) from None
        if P is not None:
            env[~nid] = shadow
    return step


class _Control:
    """The control time of a branch or loop under the profiler (nothing without it)."""

    __slots__ = ("P", "saved")

    def __init__(self, m: Machine):
        self.P = m.profiler
        self.saved = 0 if self.P is None else self.P.ctl

    def wait_for(self, env: dict, value_id: int) -> None:
        if self.P is not None:
            self.P.ctl = max(self.P.ctl, ready(env[~value_id]))

    def end(self, env: dict, nid: int, shadow: Any) -> None:
        if self.P is not None:
            ctl, self.P.ctl = self.P.ctl, self.saved
            env[~nid] = after_branch(shadow, ctl)


def _shadows(m: Machine, env: dict, ids: tuple) -> tuple | None:
    return None if m.profiler is None else tuple(env[~i] for i in ids)


def _if(m: Machine, nid: int, node: Node) -> AsyncStep:
    (cond,), (then, other) = node.operands, node.regions

    async def step(env: dict) -> None:
        region = then if env[cond] else other
        control = _Control(m)
        control.wait_for(env, cond)
        await run(m, region, env, ())
        plan = m.plan(region)
        env[nid] = plan.value(env)
        control.end(env, nid, plan.shadow(env) if m.profiler else None)
    return step


def _match(m: Machine, nid: int, node: Node) -> AsyncStep:
    (scrutinee,), arms = node.operands, match_arms(m, node)

    async def step(env: dict) -> None:
        value = env[scrutinee]
        control = _Control(m)
        for matcher, guard, body in arms:
            bound: list = []
            if not matcher(value, bound):
                continue
            control.wait_for(env, scrutinee)
            if guard is not None:
                guard.run(env, bound)
                if not guard.value(env):
                    continue
            await run(m, body.region_id, env, tuple(bound))
            env[nid] = body.value(env)
            control.end(env, nid, body.shadow(env) if m.profiler else None)
            return
        raise m.fault(node, Fault(f"no arm of this match accepts the value {value!r}"))
    return step


def _loop(m: Machine, nid: int, node: Node) -> AsyncStep:
    inits, (cond, body) = node.operands, node.regions
    (flag,), body_plan = m.plan(cond).result_ids, m.plan(body)

    async def step(env: dict) -> None:
        carried, shadows = tuple([env[o] for o in inits]), _shadows(m, env, inits)
        control = _Control(m)
        while True:
            await run(m, cond, env, carried, shadows)
            control.wait_for(env, flag)
            if not env[flag]:
                break
            await run(m, body, env, carried, shadows)
            carried, shadows = body_plan.results(env), _shadows(m, env, body_plan.result_ids)
        env[nid] = carried if inits else None
        control.end(env, nid, shadows if inits else 0)
    return step


def _counted(m: Machine, nid: int, node: Node, items_of) -> AsyncStep:
    """``for`` and ``foreach``: the body over each index or element, then the carried values."""
    (body,), inits = node.regions, node.operands[2:] if node.kind == "for" else node.operands[1:]
    body_plan = m.plan(body)

    async def step(env: dict) -> None:
        try:
            items, times = items_of(env)
        except Fault as error:
            raise m.fault(node, error) from None
        carried, shadows = tuple([env[o] for o in inits]), _shadows(m, env, inits)
        control = _Control(m)
        for item, when in zip(items, times):
            await run(m, body, env, (item,) + carried, None if shadows is None else (when,) + shadows)
            carried, shadows = body_plan.results(env), _shadows(m, env, body_plan.result_ids)
        env[nid] = carried if inits else None
        control.end(env, nid, shadows if inits else 0)
    return step


def _for(m: Machine, nid: int, node: Node) -> AsyncStep:
    lo, hi, P = node.operands[0], node.operands[1], m.profiler

    def indices(env: dict) -> tuple[list, list]:
        first = env[lo]
        make = type(first)
        items = [make(i) for i in range(first, env[hi] + 1)]
        when = 0 if P is None else max(ready(env[~lo]), ready(env[~hi]), P.ctl)
        return items, [when] * len(items)
    return _counted(m, nid, node, indices)


def _foreach(m: Machine, nid: int, node: Node) -> AsyncStep:
    source, P = node.operands[0], m.profiler

    def items_of(env: dict) -> tuple[list, list]:
        xs = env[source]
        items = elements(xs)
        if P is None:
            return items, [0] * len(items)
        if isinstance(xs, np.ndarray):
            return items, [max(t, P.ctl) for t in P.readies(xs).ravel().tolist()]
        return items, [max(ready(env[~source]), P.ctl)] * len(items)
    return _counted(m, nid, node, items_of)


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

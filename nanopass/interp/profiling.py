"""The work/span profiler's machinery: ready times beside values, calls that carry them.

The cost model is FLOW_LOSS.md's; `nanopass.profiler` states it and reports
the figures.  Under the profiler the machine runs *profile steps*
(`nanopass.interp.profiled_kinds`): each computes its node's value as the
plain step does and also its **shadow**, stored at ``env[~node_id]``:

* an int, the time the value is ready (for a value built of parts, the time
  all of them are);
* a tuple of shadows for a value built by ``tuple``, ``record`` or ``union``
  nodes (one per part, in order), so that taking the value apart keeps each
  part's own time; a partial application's shadow is the tuple of its bound
  arguments' shadows;
* arrays keep one ready time per element in ``ProfileState.arrays`` (keyed by
  the array's identity, so every alias sees a store), and their own shadow
  is the time the reference is ready.  A list's shadow is one time.

An operation finishes at the latest of its operands' ready times and the
control time ``ProfileState.ctl`` (the ready time of the conditions of the
branches it is inside), plus its cost; ``ProfileState.top`` keeps the latest
finish, so the span is its final value.  Work is the sum of the costs.

A kind registered without a profile step is profiled by the generic rule
(`_generic`): its own cost is 0, the regions it runs see their params ready
when its operands (all their elements) are, and its value (every element of
an array it makes) is ready when everything it ran has finished.

A profile step factory (``register_evaluator(kind, factory, profile=...)``)
has the plain factory's signature.  Its step stores the value at
``env[node_id]`` and the shadow at ``env[~node_id]``, reads operands' shadows
at ``env[~operand]``, accounts an operation with
``m.profiler.finish(start, cost)`` (which applies the control time and returns
the finish time), runs a region with ``plan.run_p(env, args, shadows)`` and
reads what it yields with ``plan.shadow(env)``, raises ``m.profiler.ctl``
around regions that run under a condition (restoring it after), and reads or
writes element times with ``m.profiler.readies(array)`` /
``m.profiler.register(array, times)``.  Calls go through `apply_p`/`call_p`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

import numpy as np

from nanopass.interp.machine import (
    EVALUATORS, PROFILE_EVALUATORS, Closure, Factory, Function, Intrinsic, Machine, Partial, Plan)
from nanopass.interp.values import Fault

# The cost of each intrinsic that takes no function (the others cost what their functions do):
# arithmetic and conversions 1, a keyed map access 1, moving data and reading lengths 0.
INTRINSIC_COSTS: dict[str, int] = {
    **{name: 1 for name in ("sqrt", "exp", "log", "sin", "cos", "abs", "min", "max", "floor",
                            "float", "float32", "int", "int64", "uint8")},
    "Map.add": 1, "Map.find": 1, "Map.tryFind": 1,
}
# Reading a container's length needs the container, not its elements.
SHAPE_READS = frozenset({"Array.length", "Array2D.length1", "Array2D.length2", "List.length", "List.isEmpty"})


def ready(shadow: Any) -> int:
    """The time a whole value is ready."""
    if shadow.__class__ is int:
        return shadow
    if isinstance(shadow, tuple):
        return max((ready(s) for s in shadow), default=0)
    return int(shadow)


class ProfilePlan(Plan):
    """A plan whose params get ready times: given (`run_p`) or the control time (`run`)."""

    __slots__ = ()
    P: "ProfileState"

    def run(self, env: dict, args: tuple = ()) -> None:
        ctl = self.P.ctl
        for param, arg in zip(self.params, args):
            env[param] = arg
            env[~param] = ctl
        for step in self.steps:
            step(env)

    def run_p(self, env: dict, args: tuple, shadows: tuple) -> None:
        for param, arg, shadow in zip(self.params, args, shadows):
            env[param] = arg
            env[~param] = shadow
        for step in self.steps:
            step(env)

    def shadow(self, env: dict) -> Any:
        ids = self.result_ids
        if len(ids) == 1:
            return env[~ids[0]]
        return tuple(env[~i] for i in ids) if ids else 0


class ProfileState:
    """Work, span, control time, element ready times and per-function figures of one profiled run."""

    def __init__(self, reassociate: bool = False, replay: list | None = None):
        self.work = 0
        self.top = 0
        self.ctl = 0
        self.arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.per_function: dict[str, list[int]] = {}
        self.active: dict[str, int] = {}
        self.reassociate = reassociate
        self.reductions = 0
        self.extern_log: list = []
        self.replay = None if replay is None else deque(replay)
        self.plan_class = type("BoundProfilePlan", (ProfilePlan,), {"__slots__": (), "P": self})

    def evaluators(self, plain: dict[str, Factory]) -> dict[str, Factory]:
        """Profile steps for every kind: the registered ones, else the generic rule over the plain step."""
        import nanopass.interp.profiled_control  # noqa: F401  (registers the profile steps)

        table = {}
        for kind, factory in plain.items():
            profiled = PROFILE_EVALUATORS.get(kind) if factory is EVALUATORS.get(kind) else None
            table[kind] = profiled or _generic(factory)
        return table

    # -- time ----------------------------------------------------------------------------------
    def finish(self, start: int, cost: int) -> int:
        """Account an operation of ``cost`` whose operands are ready at ``start``."""
        end = (start if start > self.ctl else self.ctl) + cost
        self.work += cost
        if end > self.top:
            self.top = end
        return end

    def readies(self, array: np.ndarray) -> np.ndarray:
        """The per-element ready times of ``array`` (zeros for an array made outside the profiler)."""
        entry = self.arrays.get(id(array))
        if entry is None or entry[0] is not array:
            times = np.zeros(array.shape, dtype=np.int64)
            self.arrays[id(array)] = (array, times)
            return times
        return entry[1]

    def register(self, array: np.ndarray, times: Any) -> None:
        self.arrays[id(array)] = (array, np.asarray(times, dtype=np.int64).reshape(array.shape))

    def consumed(self, value: Any, shadow: Any) -> int:
        """When an opaque consumer (an extern, a generic kind) can read all of ``value``."""
        r = ready(shadow)
        if isinstance(value, np.ndarray) and value.size:
            r = max(r, int(self.readies(value).max()))
        return r


def after_branch(shadow: Any, ctl: int) -> Any:
    """A value leaving a branch or loop is ready no earlier than the condition that chose it."""
    if isinstance(shadow, tuple):
        return tuple(after_branch(s, ctl) for s in shadow)
    return shadow if shadow >= ctl else ctl


def tree_ready(leaves: list[int], depth: int, ctl: int) -> int:
    """The ready time of a balanced reduction tree over ``leaves``: ceil(log2 n) levels of ``depth``."""
    level = list(leaves)
    if not level:
        return ctl
    while len(level) > 1:
        paired = [max(a, b, ctl) + depth for a, b in zip(level[0::2], level[1::2])]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return max(level[0], ctl)


# -- calls ----------------------------------------------------------------------------------------
def apply_p(m: Machine, fn: Any, fshadow: Any, args: tuple, shadows: tuple) -> tuple[Any, Any]:
    """Curried application with ready times: `Machine.apply`'s rule."""
    while True:
        arity = getattr(fn, "arity", None)
        if arity is None:
            raise Fault(f"a {type(fn).__name__} value is applied as a function")
        count = len(args)
        if count < arity:
            return partial_p(fn, fshadow, args, shadows)
        if count == arity:
            return call_p(m, fn, fshadow, args, shadows)
        fn, fshadow = call_p(m, fn, fshadow, args[:arity], shadows[:arity])
        args, shadows = args[arity:], shadows[arity:]


def partial_p(fn: Any, fshadow: Any, args: tuple, shadows: tuple) -> tuple[Partial, tuple]:
    if fn.__class__ is Partial:
        return Partial(fn.fn, fn.args + args), bound_shadows(fn, fshadow) + tuple(shadows)
    return Partial(fn, args), tuple(shadows)


def bound_shadows(fn: Partial, fshadow: Any) -> tuple:
    if isinstance(fshadow, tuple) and len(fshadow) == len(fn.args):
        return fshadow
    return (ready(fshadow),) * len(fn.args)


def call_p(m: Machine, fn: Any, fshadow: Any, args: tuple, shadows: tuple) -> tuple[Any, Any]:
    """A call with exactly the arity's arguments; the value and its shadow."""
    cls = fn.__class__
    if cls is Closure:
        plan = fn.plan
        env = dict(fn.captured)
        plan.run_p(env, args, shadows)
        return plan.value(env), plan.shadow(env)
    if cls is Function:
        return call_function(m, fn, args, shadows)
    if cls is Partial:
        return call_p(m, fn.fn, 0, fn.args + args, bound_shadows(fn, fshadow) + tuple(shadows))
    if cls is Intrinsic:
        from nanopass.interp.profiled_intrinsics import intrinsic_p

        return intrinsic_p(m, fn.name, args, shadows, None)
    P = m.profiler
    from nanopass.externs import Extern

    if cls is Extern:
        return call_extern(m, fn, args, shadows)
    start = max((P.consumed(a, s) for a, s in zip(args, shadows)), default=0)
    value = fn.call(m, args)
    return value, max(start, P.ctl)


def call_function(m: Machine, fn: Function, args: tuple, shadows: tuple) -> tuple[Any, Any]:
    """A user function: its body's work and span; per-function figures for the outermost active call."""
    P = m.profiler
    name = fn.name
    start = max(P.ctl, max((ready(s) for s in shadows), default=0))
    depth = P.active.get(name, 0)
    P.active[name] = depth + 1
    if depth == 0:  # tags are listed in the order of their first calls
        P.per_function.setdefault(name, [0, 0])
    saved_top, work_before = P.top, P.work
    P.top = start
    plan = fn.plan(m)
    env: dict = {}
    try:
        plan.run_p(env, args, shadows)
    finally:
        P.active[name] = depth
    value, shadow = plan.value(env), plan.shadow(env)
    inner = P.top
    P.top = max(saved_top, inner)
    if depth == 0:
        figures = P.per_function[name]
        figures[0] += P.work - work_before
        figures[1] = max(figures[1], inner - start)
    return value, shadow


def call_extern(m: Machine, fn: Any, args: tuple, shadows: tuple) -> tuple[Any, Any]:
    """An extern costs its ``Cost``; under replay (the second, reassociated run) its result is the logged one."""
    P = m.profiler
    cost = m.declarations[fn.name][1].attr("cost", 1)
    start = max((P.consumed(a, s) for a, s in zip(args, shadows)), default=0)
    end = P.finish(start, cost)
    if P.replay is not None:
        return P.replay.popleft(), end
    value = fn.call(m, args)
    P.extern_log.append(value)
    return value, end


# -- the generic rule -------------------------------------------------------------------------------
def _generic(factory: Factory) -> Factory:
    def build(m: Machine, nid: int, node: Any) -> Callable[[dict], None]:
        plain = factory(m, nid, node)
        ops, P = node.operands, m.profiler

        def step(env: dict) -> None:
            base = max((P.consumed(env[o], env[~o]) for o in ops), default=0)
            saved_ctl, saved_top = P.ctl, P.top
            P.ctl = P.top = max(base, saved_ctl)
            try:
                plain(env)
            finally:
                P.ctl = saved_ctl
            done = P.top  # the latest finish of what the node ran
            P.top = max(saved_top, done)
            value = env[nid]
            if isinstance(value, np.ndarray) and id(value) not in P.arrays:
                P.register(value, np.full(value.shape, done))
            env[~nid] = done
        return step
    return build

"""Between z3 and the reference interpreter: concrete inputs from a model, replays, and outcomes.

* `runtime_value` reads the value of a symbolic input in a z3 model as the
  interpreter's runtime value of its type (ints, `Int64`, numpy arrays,
  `Cons` lists, `Union`, `Record`, ...), ready for `Interpreter.run`.
* `model_externs` binds every extern of a program to the model's reading of
  its uninterpreted functions, so that a replay computes what z3 assumed; an
  effectful extern threads the model's state from one call to the next.
* `run_outcome` runs an entry on the interpreter under a wall-clock deadline
  and gives an `Outcome`: the result as plain Python, or the failure (a
  result that is not data, such as an actor, raises `Unsupported`).
* `same_outcome` compares two outcomes as refinement does: a failing source
  is refined by anything, NaN equals NaN, ``0.0`` differs from ``-0.0``.
"""

from __future__ import annotations

import ctypes
import math
import struct
import sys
import threading
import time
from typing import Any, Callable

import attrs
import numpy as np
import z3

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend import types as T
from nanopass.frontend.stack import run_on_new_big_stack
from nanopass.graph import Graph
from nanopass.interp.values import (
    Float32, Int64, Record, UInt8, Union, array_from, list_of, object_array, to_python)
from nanopass.smt.encoder import Shared, extern_result
from nanopass.smt.layouts import canonical, fresh, scalar_name
from nanopass.smt.values import (
    BITS, FLOAT_SORTS, INDEX_BITS, UNIT, Arr, Rec, Scalar, Tup, Uni, Unsupported, constant_template, default_like,
    store, tag_sort, tag_sort_of)

# Inputs longer than this are not replayed (a model may pick any length).
REPLAY_LENGTH = 64
REPLAY_SECONDS = 5.0


class ReplayError(Exception):
    """The model's inputs cannot be turned into interpreter values."""


# -- model -> runtime values ---------------------------------------------------------------------------------

def _evaluate(model: z3.ModelRef, term: z3.ExprRef) -> z3.ExprRef:
    return model.eval(term, model_completion=True)


def float_of(model: z3.ModelRef, term: z3.ExprRef, type_name: str) -> float:
    value = _evaluate(model, term)
    if z3.is_true(_evaluate(model, z3.fpIsNaN(value))):
        return math.nan
    bits = _evaluate(model, z3.fpToIEEEBV(value)).as_long()
    if type_name == "float":
        return struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    return Float32(struct.unpack("<f", bits.to_bytes(4, "little"))[0])


def scalar_of(model: z3.ModelRef, value: Scalar, opaque: dict) -> Any:
    t = value.type
    if t in FLOAT_SORTS:
        return float_of(model, value.term, t)
    term = _evaluate(model, value.term)
    if t == "int":
        return term.as_signed_long()
    if t == "int64":
        return Int64(term.as_signed_long())
    if t == "uint8":
        return UInt8(term.as_long())
    if t == "bool":
        return z3.is_true(term)
    if t == "string":
        return term.as_string()
    if t.startswith("opaque:"):
        return opaque.setdefault(term.sexpr(), len(opaque))
    raise ReplayError(f"no runtime value for {t}")


def runtime_value(model: z3.ModelRef, value: Any, opaque: dict | None = None) -> Any:
    """The interpreter's runtime value that a symbolic value has in ``model``."""
    opaque = {} if opaque is None else opaque
    if isinstance(value, Scalar):
        return scalar_of(model, value, opaque)
    if value is UNIT:
        return None
    if isinstance(value, Tup):
        return tuple(runtime_value(model, v, opaque) for v in value.items)
    if isinstance(value, Rec):
        return Record(value.type, value.names, tuple(runtime_value(model, v, opaque) for v in value.values))
    if isinstance(value, Uni):
        _, constants = tag_sort_of(value)
        tag = _evaluate(model, value.tag)
        case = next(name for name, constant in constants.items() if tag.eq(constant))
        payload = value.payload(case) or ()
        return Union(value.type, case, tuple(runtime_value(model, v, opaque) for v in payload))
    if isinstance(value, Arr):
        lengths = [_evaluate(model, n).as_signed_long() for n in value.lengths]
        if any(n > REPLAY_LENGTH or n < 0 for n in lengths):
            raise ReplayError(f"an input of length {max(lengths)} (replays take at most {REPLAY_LENGTH})")
        if value.rank == 2:
            rows = [[runtime_value(model, _element(value, [i, j]), opaque) for j in range(lengths[1])]
                    for i in range(lengths[0])]
            return np.array(rows, dtype=object) if rows and rows[0] and not isinstance(rows[0][0], (int, float)) else rows
        items = [runtime_value(model, _element(value, [k]), opaque) for k in range(lengths[0])]
        if value.container == "list":
            return list_of(items)
        element = _element(value, [0])
        type_name = element.type if isinstance(element, Scalar) and not element.type.startswith("opaque:") else None
        return array_from(items, type_name) if type_name else object_array(items)
    raise ReplayError(f"no runtime value for a {type(value).__name__}")


def _element(value: Arr, indices: list[int]) -> Any:
    from nanopass.smt.values import select

    return select(value.elem, [z3.BitVecVal(i, INDEX_BITS) for i in indices])


def describe_runtime(value: Any) -> str:
    """A short readable form of an input or a result."""

    text = repr(to_python(value)) if not isinstance(value, (Union, Record)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- host values -> symbolic values (the arguments a replayed extern receives) -------------------------------------

def symbolic_of(host: Any, t: Any, shared: Shared) -> Any:
    """A host value (as `nanopass.externs.to_host` gives it) as a concrete symbolic value of type ``t``."""
    scalar = scalar_name(t)
    if scalar == "unit":
        return UNIT
    if scalar in BITS:
        return Scalar(scalar, z3.BitVecVal(int(host), BITS[scalar]))
    if scalar in FLOAT_SORTS:
        sort = FLOAT_SORTS[scalar]
        x = float(host)
        return Scalar(scalar, z3.fpNaN(sort) if x != x else z3.FPVal(x, sort))
    if scalar == "bool":
        return Scalar("bool", z3.BoolVal(bool(host)))
    if scalar == "string":
        return Scalar("string", z3.StringVal(str(host)))
    if isinstance(t, T.TTuple):
        return Tup(tuple(symbolic_of(h, i, shared) for h, i in zip(host, t.items)))
    if isinstance(t, T.TArray) or isinstance(t, T.TCon) and t.name == "list":
        element = t.elem if isinstance(t, T.TArray) else t.args[0]
        rank = t.rank if isinstance(t, T.TArray) else 1
        shape = fresh(element, "", lambda _, s: z3.Const("__shape", s), shared.layouts)
        template = constant_template(default_like(shape), rank)
        cells = np.asarray(host, dtype=object).reshape(np.shape(host)[:rank]) if rank == 2 else list(host)
        lengths = np.shape(cells) if rank == 2 else (len(cells),)
        for position in np.ndindex(*lengths):
            item = symbolic_of(cells[position] if rank == 2 else cells[position[0]], element, shared)
            template = store(template, [z3.BitVecVal(k, INDEX_BITS) for k in position], item)
        container = "list" if isinstance(t, T.TCon) else ("array" if rank == 1 else "array2d")
        return Arr(container, tuple(z3.BitVecVal(n, INDEX_BITS) for n in lengths), template)
    if isinstance(t, T.TCon) and t.name == "option":
        _, constants = tag_sort("option", ("None", "Some"))
        if host is None:
            return Uni("option", constants["None"], (("None", ()),))
        return Uni("option", constants["Some"], (("Some", (symbolic_of(host, t.args[0], shared),)),))
    if isinstance(t, T.TCon) and isinstance(host, Union) and t.name in shared.layouts.unions:
        _, constants = tag_sort(t.name, shared.layouts.unions[t.name])
        fields = shared.layouts.payload_types(t, host.case) or ()
        return Uni(t.name, constants[host.case],
                   ((host.case, tuple(symbolic_of(h, f, shared) for h, f in zip(host.payload, fields))),))
    if isinstance(t, T.TCon) and t.name in shared.layouts.records:
        fields = shared.layouts.record_fields(t.name)
        return Rec(t.name, tuple(n for n, _ in fields), tuple(symbolic_of(host[n], ft, shared) for n, ft in fields))
    raise Unsupported(f"an extern argument of type {T.show(t) if t is not None else 'unknown'}")


def host_of(model: z3.ModelRef, value: Any) -> Any:
    """What an extern returns to the interpreter, read from the model (host form: lists, None for None)."""
    runtime = runtime_value(model, value)
    from nanopass.externs import to_host

    return to_host(None, runtime)


def model_externs(graph: Graph, model: z3.ModelRef, shared: Shared, calls: list) -> dict[str, Callable]:
    """Bindings for every extern of ``graph`` that answer as the model's uninterpreted functions do.

    ``calls`` receives ``(name, args)`` for each effectful call, in order.
    """
    from nanopass.smt.encoder import Program

    program = Program(graph)
    world = [_evaluate(model, shared.world0)]
    bindings: dict[str, Callable] = {}
    for name, (_, node) in program.declarations.items():
        if node.kind != "extern":
            continue
        params, result = program.function_type(name)
        pure = bool(node.attr("pure"))

        def bound(*args: Any, _name=name, _params=params, _result=result, _pure=pure) -> Any:
            values = [canonical(symbolic_of(a, p, shared), p, shared.layouts) for a, p in zip(args, _params)]
            value, next_world = extern_result(shared, _name, _pure, values, _result, None if _pure else world[0])
            if not _pure:
                calls.append((_name, args))
                world[0] = _evaluate(model, next_world)
            return host_of(model, value)

        bindings[name] = bound
    return bindings


# -- running the interpreter ------------------------------------------------------------------------------------

class _Deadline(BaseException):
    """Raised inside the interpreter's thread when a run is out of time (not an `Exception`: nothing in
    the interpreter may catch it)."""


class _Watchdog:
    """A deadline for one thread: past it, a watchdog thread raises `_Deadline` there, again and again (one
    may land where it is swallowed, in a finalizer), until it is disarmed.

    The deadline goes to a thread id, which the next thread to start may get once the watched one has ended.
    So it is sent only while armed and while the watched thread lives, under a lock that disarming takes;
    the watched thread disarms it as it finishes (a deadline landing meanwhile escapes it, as a late
    timeout), and the thread that waited for it disarms it again once it has ended, where nothing lands."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.lock = threading.Lock()
        self.armed = False
        self.done = threading.Event()
        self.watched: threading.Thread | None = None

    def arm(self) -> None:
        """Start the deadline for the calling thread."""
        self.watched = threading.current_thread()
        self.deadline = time.monotonic() + self.seconds
        self.armed = True
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self.done.wait(max(0.02, self.deadline - time.monotonic())):
            with self.lock:
                if self.armed and self.watched.is_alive():
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.watched.ident),
                                                               ctypes.py_object(_Deadline))

    def disarm(self) -> None:
        # A deadline sent before, still pending, is left to land (a late timeout), not cleared: clearing with
        # PyThreadState_SetAsyncExc(id, NULL) leaves CPython's eval breaker signalled, and every thread
        # afterwards runs many times slower (hypothesis's shrinking in the test suite never finished).
        with self.lock:
            self.armed = False
        self.done.set()


@attrs.frozen
class Outcome:
    """A run's result as plain Python, or why it failed (``failed``)."""

    value: Any = None
    failed: str | None = None
    timed_out: bool = False
    calls: tuple = ()

    def __str__(self) -> str:
        if self.timed_out:
            return "runs out of time"
        if self.failed is not None:
            return f"fails ({self.failed})"
        text = repr(self.value)
        return text if len(text) <= 80 else text[:77] + "..."


def run_outcome(graph: Graph, entry: str, args: tuple, externs: dict[str, Callable],
                calls: list | None = None, seconds: float = REPLAY_SECONDS) -> Outcome:
    """``entry(*args)`` on the reference interpreter, stopped after ``seconds``."""
    from nanopass.interpreter import Interpreter

    interpreter = Interpreter(graph, externs)

    watchdog = _Watchdog(seconds)

    def watched() -> Any:
        try:
            watchdog.arm()
            return interpreter.run_here(entry, args)
        finally:
            watchdog.disarm()

    previous_hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:  # the deadline landing in a finalizer is not worth a report
        if not isinstance(unraisable.exc_value, _Deadline):
            previous_hook(unraisable)

    sys.unraisablehook = quiet
    try:
        try:
            ran = run_on_new_big_stack(watched)
        finally:
            watchdog.disarm()
        value = to_python(ran)
        if not is_data(value):
            raise Unsupported(f"the result {value!r} is not data (a function, an actor, an Async) and cannot be "
                              "compared")
        outcome = Outcome(value=value)
    except _Deadline:
        outcome = Outcome(timed_out=True)
    except DiagnosticError as error:
        outcome = Outcome(failed=error.diagnostics[0].message if error.diagnostics else str(error))
    except RecursionError:
        outcome = Outcome(failed="recursion too deep")
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ZeroDivisionError, OverflowError) as error:
        # The interpreter trusts the program to be well typed; a graph that is not fails this way.
        outcome = Outcome(failed=f"the interpreter stopped: {type(error).__name__}: {error}")
    finally:
        sys.unraisablehook = previous_hook
    if calls:
        return attrs.evolve(outcome, calls=tuple((name, repr(args)) for name, args in calls))
    return outcome


def is_data(value: Any) -> bool:
    """Whether a plain-Python result can be compared (numbers, strings, containers of them)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_data(v) for v in value)
    if isinstance(value, dict):
        return all(is_data(k) and is_data(v) for k, v in value.items())
    return False


def same_value(a: Any, b: Any) -> bool:
    """Structural equality where NaN equals NaN and the zeros' signs count."""
    if isinstance(a, float) and isinstance(b, float):
        if a != a or b != b:
            return a != a and b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def refines(source: Outcome, target: Outcome) -> bool:
    """Whether the target's run refines the source's (a run out of time on either side is not held against it)."""
    if source.failed is not None or source.timed_out or target.timed_out:
        return True  # a failing source allows anything; a slow target proves nothing
    if target.failed is not None:
        return False
    return same_value(source.value, target.value) and source.calls == target.calls

"""Running deep recursive front-end work (parsing, type inference) on a big stack.

The front end recurses once or a few frames per level of source nesting.  A
source nested tens of thousands deep would overflow Python's default limit of
1000 frames (and, for C-level recursion, the main thread's 8 MiB stack), so
such work runs on a thread with a 512 MiB stack and a recursion limit of
`RECURSION_LIMIT`; the caller's thread waits and gets the result, or the
exception, back.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, TypeVar

Result = TypeVar("Result")

STACK_BYTES = 512 << 20
RECURSION_LIMIT = 400_000

_lock = threading.Lock()
_active = 0
_saved_limit = 0
_big = threading.local()


def run_with_big_stack(fn: Callable[..., Result], *args: object) -> Result:
    """``fn(*args)`` on a big-stack thread (directly when already on one)."""
    if getattr(_big, "on", False):
        return fn(*args)
    return run_on_new_big_stack(fn, *args)


def run_on_new_big_stack(fn: Callable[..., Result], *args: object) -> Result:
    """``fn(*args)`` on a big-stack thread of its own, which has ended when this returns."""
    outcome: dict[str, object] = {}

    def run() -> None:
        _big.on = True
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # re-raised in the calling thread
            outcome["error"] = error

    global _active, _saved_limit
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, RECURSION_LIMIT))
        _active += 1
    try:
        thread = threading.Thread(target=run, name="nanopass-big-stack")
        with _lock:  # stack_size applies to threads started after it: keep it to ours
            previous_size = threading.stack_size(STACK_BYTES)
            try:
                thread.start()
            finally:
                threading.stack_size(previous_size)
        thread.join()
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                sys.setrecursionlimit(_saved_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]

"""The contract between compiled code and the host: the run context, fault codes and their messages.

Every compiled function takes a pointer to a `Context`, one per run (and
one per parallel chunk):

* ``status`` / ``node`` / ``payload``: the first fault, its code (`Fault`),
  the local number of the node that raised it and up to three numbers for
  the message; 0 while all is well;
* ``arena``: the address of the head of the run's allocation list: every
  block compiled code allocates is linked there (atomically: chunks
  allocate concurrently), and the host frees all of them but the result's
  when the run ends (`nanopass.backends.llvm.runtime`);
* ``externs``: the table of extern entry points (a ctypes callback or a
  native symbol per extern), filled by the host for each run, so compiled
  code does not depend on the Python callables it was compiled with;
* ``depth`` (1 inside a parallel chunk: nested index spaces run serially
  there), ``workers`` and ``threshold`` (the work, in the flow-loss cost
  model, above which an index space is split across the pool).

Fault messages are the interpreter's (`nanopass.interp`), so that a run
fails the same way on both backends.
"""

from __future__ import annotations

import ctypes
import enum

from llvmlite import ir

from nanopass.backends.llvm.types import BYTE_PTR, I32, I64
from nanopass.interp.values import negative_count


class Fault(enum.IntEnum):
    DIVISION_BY_ZERO = 1
    REMAINDER_BY_ZERO = 2
    DIVISION_OVERFLOW = 3
    REMAINDER_OVERFLOW = 4
    INDEX = 5
    NEGATIVE_COUNT = 6
    EMPTY = 7
    ABS_MINIMUM = 8
    NO_MATCH = 9
    WINDOW = 10
    OUT_OF_MEMORY = 11
    EXTERN = 12


class Context(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int32), ("node", ctypes.c_int32), ("payload", ctypes.c_int64 * 3),
                ("arena", ctypes.c_void_p), ("externs", ctypes.c_void_p), ("depth", ctypes.c_int32),
                ("workers", ctypes.c_int32), ("threshold", ctypes.c_int64)]


CONTEXT = ir.LiteralStructType([I32, I32, ir.ArrayType(I64, 3), BYTE_PTR, BYTE_PTR, I32, I32, I64])
CONTEXT_PTR = CONTEXT.as_pointer()
STATUS, NODE, PAYLOAD, ARENA, EXTERNS, DEPTH, WORKERS, THRESHOLD = range(8)

# The most chunks one parallel reduction is split into (its partial results live on the native stack).
MAX_CHUNKS = 256
# Bytes before each arena block's data: the link to the next block (16 keeps the data 16-byte aligned).
BLOCK_HEADER = 16


def fault_message(code: int, payload: tuple[int, int, int], node, rank: int) -> str:
    """The interpreter's message for a fault raised at ``node`` (a `nanopass.graph.Node`)."""
    origin = node.attr("origin") or node.attr("op") or node.kind
    if code == Fault.DIVISION_BY_ZERO:
        return "integer division by zero"
    if code == Fault.REMAINDER_BY_ZERO:
        return "integer remainder by zero"
    if code == Fault.DIVISION_OVERFLOW:
        return "arithmetic overflow: the minimum value divided by -1"
    if code == Fault.REMAINDER_OVERFLOW:
        return "arithmetic overflow: the minimum value modulo -1"
    if code == Fault.INDEX:
        shape = "x".join(str(n) for n in payload[1:1 + rank])
        return f"index {payload[0]} is out of range for an array of shape {shape}"
    if code == Fault.NEGATIVE_COUNT:
        return negative_count(origin, payload[0])
    if code == Fault.EMPTY:
        return f"'{origin}' of an empty array; expected at least one element"
    if code == Fault.ABS_MINIMUM:
        return "arithmetic overflow: 'abs' of the minimum value"
    if code == Fault.NO_MATCH:
        return "no arm of this match accepts the value"
    if code == Fault.WINDOW:
        return f"'{origin}' with a window of {payload[0]}; expected a size of 1 or more"
    if code == Fault.OUT_OF_MEMORY:
        return f"out of memory allocating {payload[0]} bytes"
    return "an extern raised"

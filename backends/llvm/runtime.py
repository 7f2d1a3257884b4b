"""The host side of compiled code: calling it, moving values across, the thread pool, extern callbacks.

Its one concern is a native call from Python: `NativeCall` marshals the
interpreter's runtime values (`nanopass.interp.values`) into an argument
block, calls an ``entry.*`` / ``kernel.*`` symbol through ctypes (which
releases the GIL), turns a fault into the interpreter's located diagnostic,
and turns the result block back into runtime values:

* scalars by their class (``Int64``, ``UInt8``, ``Float32``...), tuples as
  tuples, records as `Record`;
* an array argument is passed in place (its numpy buffer, C-contiguous;
  a strided one is copied first); an array the code allocated becomes a
  numpy array over that very block, which the array owns (`ArenaBuffer`
  frees it when the array is collected); every other block of the run is
  freed when the call returns (``np.release``); an array of tuples becomes
  the object array of tuples the interpreter makes;
* ``np_parallel`` is the thread pool behind every parallel index space:
  compiled code calls it (a ctypes callback: the GIL is taken only to hand
  the chunks out) with an outlined body, a trip count and the body's cost
  per iteration; it cuts [0, n) into chunks (`chunk_ranges`: about
  `CHUNKS_PER_WORKER` per worker, none smaller than `MIN_CHUNK_WORK` units
  of work) that the calling thread and ``workers - 1`` pool threads take in
  turn until none is left, each chunk with its own context, and reports the
  fault of the lowest chunk that had one (the first the sequential loop
  would have met);
* externs: a Python callable is wrapped in a ctypes ``CFUNCTYPE`` callback
  (arguments converted as the interpreter converts them, a raised exception
  recorded as the interpreter's located error at the call), a ctypes
  foreign function or a `NativeSymbol` is called directly at its address.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import attrs
import llvmlite.binding as llvm
import numpy as np

from nanopass.diagnostics import UNKNOWN_SPAN, Diagnostic, DiagnosticError
from nanopass.interp.values import MAKE_SCALAR, Float32, Int64, Record, UInt8
from nanopass.backends.llvm import types as N
from nanopass.backends.llvm.engine import STATISTICS, add_symbol
from nanopass.backends.llvm.runtime_abi import BLOCK_HEADER, MAX_CHUNKS, Context, Fault, fault_message

CHUNKS_PER_WORKER = 2
MIN_CHUNK_WORK = 20_000
# Work (flow-loss units) above which an index space is split across the pool: about 0.1 ms of scalar work.
DEFAULT_THRESHOLD = 100_000

_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_FREE = _libc.free
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_extern_errors: dict[int, str] = {}  # context address -> what an extern raised
_BODY = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
_ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_RELEASE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
_bodies: dict[int, Any] = {}


def workers() -> int:
    return os.cpu_count() or 1


def pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, workers() - 1), thread_name_prefix="nanopass-llvm")
        return _pool


# -- the parallel dispatch ------------------------------------------------------------------------------
def chunk_ranges(n: int, cost: int, worker_count: int) -> list[tuple[int, int]]:
    """[0, n) in contiguous chunks: about `CHUNKS_PER_WORKER` per worker, each worth `MIN_CHUNK_WORK`."""
    if n <= 0:
        return []
    grain = max(1, -(-n // (worker_count * CHUNKS_PER_WORKER)), -(-MIN_CHUNK_WORK // max(1, cost)))
    grain = max(grain, -(-n // MAX_CHUNKS))
    return [(lo, min(n, lo + grain)) for lo in range(0, n, grain)]


def _parallel(ctx_address: int, body: int, env: int, n: int, cost: int, partials: int | None, size: int) -> int:
    ctx = Context.from_address(ctx_address)
    try:
        run = _bodies.get(body)
        if run is None:
            run = _bodies[body] = _BODY(body)
        chunks = chunk_ranges(n, cost, max(1, ctx.workers))
        contexts = []
        for _ in chunks:
            child = Context()
            ctypes.pointer(child)[0] = ctx
            child.depth, child.status = 1, 0
            contexts.append(child)
        slots = [(partials or 0) + k * size if partials else None for k in range(len(chunks))]
        following = itertools.count()  # the next chunk to take: every participant takes chunks until none is left

        def take() -> None:
            while (k := next(following)) < len(chunks):
                lo, hi = chunks[k]
                run(ctypes.addressof(contexts[k]), env, lo, hi, slots[k])

        helpers = [pool().submit(take) for _ in range(min(ctx.workers, len(chunks)) - 1)]
        take()  # the calling thread works too
        for helper in helpers:
            helper.result()
        STATISTICS["parallel dispatches"] += 1
        STATISTICS["parallel chunks"] += len(chunks)
        for child in contexts:  # the lowest chunk's fault is the one the sequential loop meets first
            if child.status:
                ctx.status, ctx.node = child.status, child.node
                ctx.payload[:] = child.payload[:]
                message = _extern_errors.pop(ctypes.addressof(child), None)
                if message is not None:
                    _extern_errors[ctx_address] = message
                break
        for child in contexts:
            _extern_errors.pop(ctypes.addressof(child), None)
        return len(chunks)
    except BaseException as error:  # a callback must not raise into native code
        ctx.status = Fault.EXTERN
        _extern_errors[ctx_address] = f"the parallel dispatch failed: {type(error).__name__}: {error}"
        return 0


_PARALLEL = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                             ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)(_parallel)
add_symbol("np_parallel", ctypes.cast(_PARALLEL, ctypes.c_void_p).value)


# -- externs ----------------------------------------------------------------------------------------------
@attrs.frozen
class NativeSymbol:
    """Bind an extern to a C function by name (``library`` is loaded first when given)."""

    name: str
    library: str | None = None

    def address(self) -> int:
        if self.library is not None:
            llvm.load_library_permanently(self.library)
        address = llvm.address_of_symbol(self.name)
        if not address:
            raise DiagnosticError(Diagnostic(UNKNOWN_SPAN, f"no native symbol '{self.name}' in the process"
                                                     + (f" or {self.library}" if self.library else "")))
        return address


def binding_kind(binding: Any) -> str:
    """How an extern's binding is called from native code: ``native`` (at its address) or ``callback``."""
    return "native" if isinstance(binding, (NativeSymbol, ctypes._CFuncPtr)) else "callback"


def _scalar_ctype(t: N.NType) -> Any:
    return N.ctypes_type(t) if isinstance(t, N.Scalar) else None


def extern_entry(name: str, binding: Any, params: Sequence[N.NType], result: N.NType,
                 missing: Callable[[], DiagnosticError]) -> tuple[int, Any]:
    """The address native code calls for an extern, and the object that must stay alive for it."""
    if isinstance(binding, NativeSymbol):
        return binding.address(), binding
    if isinstance(binding, ctypes._CFuncPtr):
        return ctypes.cast(binding, ctypes.c_void_p).value, binding
    readers = [_host_scalar(p) for p in params]
    writer = _native_scalar(result) if isinstance(result, N.Scalar) else None

    def call(ctx_address: int, *args: Any) -> Any:
        try:
            if binding is None:
                raise missing()
            value = binding(*[read(a) for read, a in zip(readers, args)])
            return writer(MAKE_SCALAR[result.name](value)) if writer is not None else None
        except DiagnosticError as error:
            _extern_errors[ctx_address] = error.diagnostics[0].message
        except BaseException as error:
            _extern_errors[ctx_address] = f"extern '{name}' raised {type(error).__name__}: {error}"
        Context.from_address(ctx_address).status = Fault.EXTERN
        return 0 if writer is not None else None

    signature = ctypes.CFUNCTYPE(_scalar_ctype(result), ctypes.c_void_p, *[_scalar_ctype(p) for p in params])
    callback = signature(call)
    return ctypes.cast(callback, ctypes.c_void_p).value, callback


def _host_scalar(t: N.Scalar) -> Callable[[Any], Any]:
    """A ctypes argument as the runtime value the interpreter would pass."""
    if t.name == "bool":
        return bool
    if t.name == "int64":
        return Int64
    if t.name == "uint8":
        return UInt8
    if t.name == "float32":
        return Float32
    return lambda x: x


def _native_scalar(t: N.Scalar) -> Callable[[Any], Any]:
    if t.name == "bool":
        return lambda x: 1 if x else 0
    return lambda x: x


# -- arena blocks owned by numpy arrays ----------------------------------------------------------------------
class ArenaBuffer:
    """A block compiled code allocated, kept past its run: frees it when the last array over it goes."""

    __slots__ = ("block", "__array_interface__", "__weakref__")

    def __init__(self, address: int, shape: tuple[int, ...], dtype: np.dtype):
        self.block = address - BLOCK_HEADER
        self.__array_interface__ = {"data": (address, False), "shape": shape, "typestr": dtype.str,
                                    "descr": dtype.descr, "version": 3}

    def __del__(self, free=_FREE) -> None:  # ``free`` bound now: module globals may be gone at exit
        free(self.block)


# -- marshaling ----------------------------------------------------------------------------------------------
class Marshal:
    """Moves the values of one signature (a list of native types) into a block, and back."""

    def __init__(self, types: Sequence[N.NType]):
        self.types = list(types)
        self.block = type("Block", (ctypes.Structure,),
                          {"_fields_": [(f"a{k}", N.ctypes_type(t)) for k, t in enumerate(self.types)]})

    def pack(self, values: Sequence[Any], keep: list) -> ctypes.Structure:
        block = self.block()
        for k, (t, v) in enumerate(zip(self.types, values)):
            setattr(block, f"a{k}", _to_native(t, v, keep))
        return block

    def unpack(self, block: ctypes.Structure, inputs: dict[int, np.ndarray], owned: dict[int, Any]) -> list[Any]:
        return [_from_native(t, getattr(block, f"a{k}"), inputs, owned) for k, t in enumerate(self.types)]


def _to_native(t: N.NType, value: Any, keep: list) -> Any:
    if isinstance(t, N.Scalar):
        return 1 if (t.name == "bool" and value) else (0 if t.name == "bool" else value)
    if isinstance(t, N.Unit):
        return N.ctypes_type(t)()
    if isinstance(t, N.Struct):
        items = [value[n] for n in t.names] if isinstance(value, Record) else list(value)
        out = N.ctypes_type(t)()
        for k, (ft, item) in enumerate(zip(t.types, items)):
            setattr(out, f"f{k}", _to_native(ft, item, keep))
        return out
    array = _as_buffer(t, value)
    keep.append(array)
    out = N.ctypes_type(t)()
    out.data = array.ctypes.data
    for k in range(t.rank):
        setattr(out, f"n{k}", array.shape[k])
    return out


def _as_buffer(t: N.Array, value: Any) -> np.ndarray:
    dtype = N.element_dtype(t.elem)
    if isinstance(t.elem, N.Struct):
        items = value.ravel() if isinstance(value, np.ndarray) else value
        rows = [tuple(x[n] for n in t.elem.names) if isinstance(x, Record) else tuple(x) for x in items]
        return np.array(rows, dtype=dtype).reshape(np.shape(value)[:t.rank])
    if isinstance(value, np.ndarray) and value.dtype == dtype and value.flags.c_contiguous:
        return value
    return np.ascontiguousarray(value, dtype=dtype)


def _from_native(t: N.NType, value: Any, inputs: dict[int, np.ndarray], owned: dict[int, Any]) -> Any:
    if isinstance(t, N.Scalar):
        name = t.name
        if name == "bool":
            return bool(value)
        if name == "int64":
            return Int64(value)
        if name == "uint8":
            return UInt8(value)
        if name == "float32":
            return Float32(value)
        return value
    if isinstance(t, N.Unit):
        return None
    if isinstance(t, N.Struct):
        items = tuple(_from_native(ft, getattr(value, f"f{k}"), inputs, owned) for k, ft in enumerate(t.types))
        return Record(t.record, t.names, items) if t.record is not None else items
    shape = tuple(getattr(value, f"n{k}") for k in range(t.rank))
    address = value.data or 0
    known = inputs.get(address)
    if known is not None and known.shape == shape:
        return known
    array = owned.get(address)
    if array is None:
        array = owned[address] = np.asarray(ArenaBuffer(address, shape, N.element_dtype(t.elem)))
    if isinstance(t.elem, N.Struct):
        return _object_array(array, t.elem)
    return array


def _object_array(array: np.ndarray, t: N.Struct) -> np.ndarray:
    """The interpreter's object array of tuples (or records) from a buffer of structs, column by column."""
    columns = []
    for k, field in enumerate(t.types):
        values = array[f"f{k}"].ravel().tolist()
        if field.name in ("int64", "uint8", "float32"):  # the classes that carry these types
            values = list(map(_host_scalar(field), values))
        columns.append(values)
    rows = zip(*columns)
    if t.record is not None:
        rows = (Record(t.record, t.names, row) for row in rows)
    return np.fromiter(rows, dtype=object, count=array.size).reshape(array.shape)


def _arrays(t: N.NType, value: Any, found: list[int]) -> None:
    """The data addresses of the arrays inside a result block."""
    if isinstance(t, N.Array):
        if value.data:
            found.append(value.data)
    elif isinstance(t, N.Struct):
        for k, ft in enumerate(t.types):
            _arrays(ft, getattr(value, f"f{k}"), found)


# -- one call ------------------------------------------------------------------------------------------------
class NativeCall:
    """A compiled ``entry.*`` or ``kernel.*``: call it with runtime values, get a runtime value back."""

    def __init__(self, address: int, release: int, params: Sequence[N.NType], result: N.NType,
                 externs: Callable[[], ctypes.Array], locate: Callable[[int, int, tuple], DiagnosticError]):
        self.function = _ENTRY(address)
        self.release = _RELEASE(release)
        self.inputs = Marshal(params)
        self.outputs = Marshal([result])
        self.result = result
        self.externs = externs
        self.locate = locate
        self.workers = workers()
        self.threshold = DEFAULT_THRESHOLD

    def __call__(self, *values: Any) -> Any:
        keep: list = []
        args = self.inputs.pack(values, keep)
        out = self.outputs.block()
        head = ctypes.c_void_p(0)
        table = self.externs()
        ctx = Context()
        ctx.arena = ctypes.addressof(head)
        ctx.externs = ctypes.addressof(table)
        ctx.workers = self.workers
        ctx.threshold = self.threshold
        self.function(ctypes.addressof(ctx), ctypes.addressof(args), ctypes.addressof(out))
        STATISTICS["native calls"] += 1
        if ctx.status:
            self.release(ctypes.addressof(head), None, 0)
            message = _extern_errors.pop(ctypes.addressof(ctx), None)
            raise self.locate(ctx.status, ctx.node, tuple(ctx.payload), message)
        found: list[int] = []
        _arrays(self.result, out.a0, found)
        inputs = {a.ctypes.data: a for a in keep}
        kept = [a for a in dict.fromkeys(found) if a not in inputs]
        table_of_kept = (ctypes.c_void_p * max(1, len(kept)))(*kept)
        self.release(ctypes.addressof(head), ctypes.addressof(table_of_kept), len(kept))
        owned: dict[int, Any] = {}
        (value,) = self.outputs.unpack(out, inputs, owned)
        return value


def locate_fault(graph, nodes: Sequence[int], error: Callable, code: int, local: int, payload: tuple,
                 message: str | None) -> DiagnosticError:
    """The interpreter's located diagnostic for a fault compiled code reported."""
    node_id = nodes[local] if 0 <= local < len(nodes) else None
    node = graph.node(node_id) if node_id is not None else None
    if node is None:
        return DiagnosticError(Diagnostic(UNKNOWN_SPAN, message or f"native fault {code}"))
    rank = {"index": len(node.operands) - 1, "store": len(node.operands) - 2}.get(node.kind, 1)
    text = message if code == Fault.EXTERN and message else fault_message(code, payload, node, rank)
    return error(node.span, text)

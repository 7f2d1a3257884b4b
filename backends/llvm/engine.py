"""Optimizing and JIT-compiling emitted modules, and the cache that makes a second run compile nothing.

Its one concern is turning an llvmlite IR module into callable machine code:

* the host target machine (its CPU name and features, -O3, JIT code model);
* llvmlite's new pass manager: the per-module default pipeline at speed
  level 3 with loop and SLP vectorization, loop unrolling and interleaving
  on in the pipeline tuning options, built by a `PassBuilder` over the host
  target machine (so the vectorizer sees the host's vector width);
* MCJIT (an execution engine per module) for the code, with the runtime's
  ``np_parallel`` callback added as a symbol; libc and libm resolve from the
  process;
* a process-wide cache keyed by the structural hash of what was compiled
  (`nanopass.backends.llvm.hashing`): a key seen before returns the module
  compiled then (the `CACHE_SIZE` most recently used are kept).
  `STATISTICS` counts compiles and cache hits.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from typing import Callable

import attrs
import llvmlite.binding as llvm
from llvmlite import ir

STATISTICS: Counter = Counter()

# Modules kept for reuse, least recently used first; one a program still holds stays alive past eviction.
CACHE_SIZE = 512
_lock = threading.RLock()
_cache: OrderedDict[str, "CompiledModule"] = OrderedDict()
_target: llvm.TargetMachine | None = None
_symbols_added: set[str] = set()


@attrs.define(eq=False)
class CompiledModule:
    key: str
    engine: llvm.ExecutionEngine = attrs.field(repr=False)
    optimized_ir: str = attrs.field(repr=False)
    addresses: dict[str, int]
    compile_seconds: float
    context: dict = attrs.field(factory=dict, repr=False)  # what the emitter decided (extern table order, ...)

    def address(self, symbol: str) -> int:
        found = self.addresses.get(symbol)
        if found is None:
            found = self.addresses[symbol] = self.engine.get_function_address(symbol)
        return found


def target_machine() -> llvm.TargetMachine:
    """The host's target machine (CPU and features) that optimizations see, shared by every compile."""
    global _target
    with _lock:
        if _target is None:
            _target = host_target_machine()
        return _target


def host_target_machine() -> llvm.TargetMachine:
    """A new target machine for the host; an execution engine takes one for its own (and disposes of it)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, codemodel="jitdefault", jit=True)


def host_description() -> str:
    """What the cache key must include about the machine code: LLVM, the triple, the CPU and its features."""
    tm = target_machine()
    return f"{llvm.llvm_version_info} {tm.triple} {llvm.get_host_cpu_name()} {llvm.get_host_cpu_features().flatten()}"


def add_symbol(name: str, address: int) -> None:
    """Make ``name`` resolve to ``address`` in every module compiled after this."""
    with _lock:
        if name not in _symbols_added:
            llvm.add_symbol(name, address)
            _symbols_added.add(name)


def optimize(module: llvm.ModuleRef) -> None:
    """-O3 for the host with the new pass manager, vectorizers on."""
    tm = target_machine()
    tuning = llvm.create_pipeline_tuning_options(speed_level=3)
    tuning.loop_vectorization = True
    tuning.slp_vectorization = True
    tuning.loop_unrolling = True
    tuning.loop_interleaving = True
    builder = llvm.create_pass_builder(tm, tuning)
    builder.getModulePassManager().run(module, builder)


def compile_module(key: str, build: Callable[[], tuple[ir.Module, dict]]) -> CompiledModule:
    """The compiled module for ``key``: from the cache, or built by ``build`` and compiled now."""
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            STATISTICS["cache hits"] += 1
            return found
        start = time.perf_counter()
        module_ir, context = build()
        tm = target_machine()
        module_ir.triple = tm.triple
        module_ir.data_layout = str(tm.target_data)
        module = llvm.parse_assembly(str(module_ir))
        module.verify()
        optimize(module)
        optimized = str(module)
        engine = llvm.create_mcjit_compiler(module, host_target_machine())
        engine.finalize_object()
        engine.run_static_constructors()
        compiled = CompiledModule(key, engine, optimized, {}, time.perf_counter() - start, context)
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        STATISTICS["compiles"] += 1
        return compiled


def clear_cache() -> None:
    """Forget every compiled module (the next run of each program compiles again)."""
    with _lock:
        _cache.clear()

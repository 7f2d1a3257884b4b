"""Lowering a `Plan`'s native functions and kernels to LLVM IR with llvmlite's IR builder.

Its one concern is emission: turning the Saturated nodes the plan accepted
into IR, region by region.  The region tree is visited through the zipper
(`nanopass.zipper`), in the order the graph fixed; a node's regions are
emitted where the node is (a loop's body inside the loop's blocks), and a
fused producer's region where its consumer reads an element
(`nanopass.backends.llvm.fusion`), so a chain of maps is one loop.

What the IR looks like:

* a native function ``f`` is ``fn.f(ctx*, params...) -> result``
  (internal); ``entry.f(ctx*, args*, out*)`` reads the arguments from a
  block the host fills and writes the result to another (`types` has the
  memory forms); a kernel of host code is ``kernel.<n>(ctx*, args*, out*)``
  over its input values;
* loops count an i64 induction variable and are versioned for bounds: the
  accesses of a loop body whose indices are affine in the loop index (``a.[i]``,
  ``a.[i - 1]``, ``m.[i, p]``) are checked once, before the loop, over the
  whole index range; when they all hold, a copy of the loop without those
  checks runs (the one the vectorizer sees), else the checked copy, which
  faults at the first bad element as the interpreter does;
* a parallel index space is outlined into ``body.<n>(ctx*, env*, lo, hi,
  partial*)`` over an index range; the node calls it directly for the whole
  range, or hands it to ``np_parallel`` (the host's thread pool) when the
  trip count times the region's cost passes the context's threshold;
* faults store their code, node and payload in the context and return;
  a caller checks the status after a call that may fault;
* integer arithmetic wraps (F#), shift counts are masked, integer ``/`` and
  ``%`` check for zero and overflow, float to integer conversions give the
  minimum value out of range, ``min``/``max`` propagate NaN, float32 math
  goes through double as the interpreter's does, a float reduction is
  reassociated (``reassoc`` fast-math flag: vectorized) only when its
  ``reassociate`` flag says so.

Local numbers (``local``) name nodes in symbols and fault reports, so that
a compiled module serves every graph with the same structure (the cache).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
from llvmlite import ir

from nanopass.graph import Node
from nanopass.zipper import preorder
from nanopass.backends.llvm import types as N
from nanopass.backends.llvm.plan import Kernel, Plan
from nanopass.backends.llvm.runtime_abi import (
    ARENA, BLOCK_HEADER, CONTEXT_PTR, DEPTH, EXTERNS, MAX_CHUNKS, NODE, PAYLOAD, STATUS, THRESHOLD, WORKERS, Fault)
from nanopass.backends.llvm.types import BYTE_PTR, F32, F64, I1, I8, I32, I64, VOID

_INT_BITS = {"int": 32, "int64": 64, "uint8": 8}
_SIGNED_RANGE = {"int": (-2147483649.0, 2147483648.0, -(1 << 31)), "int64": (None, 9223372036854775808.0, -(1 << 63))}
# Blocks this large are advised to use transparent huge pages (numpy's threshold); Linux's MADV_HUGEPAGE.
HUGE_PAGE_THRESHOLD = 1 << 22
PAGE = 4096
MADV_HUGEPAGE = 14


def const_int(t: ir.IntType, value: int) -> ir.Constant:
    return ir.Constant(t, value)


class ModuleEmitter:
    """One LLVM module: the plan's native functions, kernels, outlined bodies and entry wrappers."""

    def __init__(self, plan: Plan, local: dict[int, int], functions: Iterable[str], kernels: Iterable[int],
                 entries: Iterable[str], externs: dict[str, str], global_values: dict[str, object],
                 name: str = "nanopass"):
        self.plan = plan
        self.graph = plan.graph
        self.facts = plan.facts
        self.local = local
        self.global_values = global_values
        self.module = ir.Module(name=name)
        self.extern_kinds = externs  # name -> "callback" | "native"
        self.extern_index = {name: k for k, name in enumerate(sorted(externs))}
        self.functions: dict[str, ir.Function] = {}
        self.bodies: dict[int, ir.Function] = {}
        self.function_faults: dict[str, bool] = {}
        self._declare_runtime()
        for name in sorted(functions):
            self._declare_function(name)
        self.order = self._zipper_order(functions, kernels)
        for name in self.order["functions"]:
            self._define_function(name)
        for node_id in self.order["kernels"]:
            self._define_kernel(plan.kernels[node_id])
        for name in sorted(entries):
            self._define_entry(name)

    def symbol(self, node_id: int) -> str:
        return str(self.local.get(node_id, node_id))

    # -- the walk order ---------------------------------------------------------------------------------
    def _zipper_order(self, functions: Iterable[str], kernels: Iterable[int]) -> dict[str, list]:
        """Functions and kernels in the order the zipper visits their regions (the graph's order)."""
        wanted, kernel_set = set(functions), set(kernels)
        order: dict[str, list] = {"functions": [], "kernels": []}
        for here in preorder(self.graph):
            owner = self.facts.owner.get(here.focus)
            if owner is None or here.focus != self.graph.node(owner).regions[0]:
                continue
            node = self.graph.node(owner)
            if here.depth == 1 and node.kind == "func" and node.attr("name") in wanted:
                order["functions"].append(node.attr("name"))
            elif owner in kernel_set:
                order["kernels"].append(owner)
        return order

    # -- runtime -------------------------------------------------------------------------------------------
    def _declare_runtime(self) -> None:
        m = self.module
        self.malloc = ir.Function(m, ir.FunctionType(BYTE_PTR, [I64]), "malloc")
        self.free = ir.Function(m, ir.FunctionType(VOID, [BYTE_PTR]), "free")
        self.memset = ir.Function(m, ir.FunctionType(BYTE_PTR, [BYTE_PTR, I32, I64]), "memset")
        self.memcpy = ir.Function(m, ir.FunctionType(BYTE_PTR, [BYTE_PTR, BYTE_PTR, I64]), "memcpy")
        self.madvise = ir.Function(m, ir.FunctionType(I32, [BYTE_PTR, I64, I32]), "madvise")
        self.np_parallel = ir.Function(
            m, ir.FunctionType(I64, [CONTEXT_PTR, BYTE_PTR, BYTE_PTR, I64, I64, BYTE_PTR, I64]), "np_parallel")
        self.alloc = self._define_alloc()
        self._define_release()

    def _define_alloc(self) -> ir.Function:
        """``np.alloc(ctx, bytes)``: a block linked into the run's arena; null (and a fault) when memory runs out."""
        fn = ir.Function(self.module, ir.FunctionType(BYTE_PTR, [CONTEXT_PTR, I64]), "np.alloc")
        fn.linkage = "internal"
        fn.return_value.add_attribute("noalias")
        ctx, size = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        block = b.call(self.malloc, [b.add(size, const_int(I64, BLOCK_HEADER))])
        failed = b.icmp_unsigned("==", block, ir.Constant(BYTE_PTR, None))
        with b.if_then(failed, likely=False):
            b.store(const_int(I32, Fault.OUT_OF_MEMORY), b.gep(ctx, [const_int(I32, 0), const_int(I32, STATUS)]))
            b.store(size, b.gep(ctx, [const_int(I32, 0), const_int(I32, PAYLOAD), const_int(I32, 0)]))
            b.ret(ir.Constant(BYTE_PTR, None))
        head = b.bitcast(b.load(b.gep(ctx, [const_int(I32, 0), const_int(I32, ARENA)])), BYTE_PTR.as_pointer())
        link = b.bitcast(block, BYTE_PTR.as_pointer())
        loop = fn.append_basic_block("link")
        done = fn.append_basic_block("linked")
        b.branch(loop)
        b.position_at_end(loop)
        old = b.load_atomic(head, "monotonic", 8)
        b.store(old, link)
        exchanged = b.cmpxchg(head, old, block, "acq_rel", "monotonic")
        b.cbranch(b.extract_value(exchanged, 1), done, loop)
        b.position_at_end(done)
        data = b.gep(block, [const_int(I64, BLOCK_HEADER)])
        # As numpy does: ask for transparent huge pages on a large block (first touches fault 512x less often).
        with b.if_then(b.icmp_unsigned(">=", size, const_int(I64, HUGE_PAGE_THRESHOLD)), likely=False):
            address = b.ptrtoint(data, I64)
            start = b.and_(b.add(address, const_int(I64, PAGE - 1)), const_int(I64, -PAGE))
            length = b.sub(b.add(address, size), start)
            b.call(self.madvise, [b.inttoptr(start, BYTE_PTR), length, const_int(I32, MADV_HUGEPAGE)])
        b.ret(data)
        return fn

    def _define_release(self) -> None:
        """``np.release(head, keep, count)``: free every arena block but those whose data is in ``keep``."""
        fn = ir.Function(self.module, ir.FunctionType(VOID, [BYTE_PTR.as_pointer(), BYTE_PTR.as_pointer(), I64]),
                         "np.release")
        head, keep, count = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        walk, visit, check, drop, next_block, done = (fn.append_basic_block(n) for n in (
            "walk", "visit", "check", "drop", "next", "done"))
        first = b.load(head)
        b.store(ir.Constant(BYTE_PTR, None), head)
        b.branch(walk)
        b.position_at_end(walk)
        block = b.phi(BYTE_PTR)
        block.add_incoming(first, fn.blocks[0])
        b.cbranch(b.icmp_unsigned("==", block, ir.Constant(BYTE_PTR, None)), done, visit)
        b.position_at_end(visit)
        following = b.load(b.bitcast(block, BYTE_PTR.as_pointer()))
        data = b.gep(block, [const_int(I64, BLOCK_HEADER)])
        b.branch(check)
        b.position_at_end(check)
        k = b.phi(I64)
        k.add_incoming(const_int(I64, 0), visit)
        more = b.icmp_signed("<", k, count)
        found_here = fn.append_basic_block("compare")
        b.cbranch(more, found_here, drop)
        b.position_at_end(found_here)
        kept = b.icmp_unsigned("==", b.load(b.gep(keep, [k])), data)
        k.add_incoming(b.add(k, const_int(I64, 1)), found_here)
        b.cbranch(kept, next_block, check)
        b.position_at_end(drop)
        b.call(self.free, [block])
        b.branch(next_block)
        b.position_at_end(next_block)
        block.add_incoming(following, next_block)
        b.branch(walk)
        b.position_at_end(done)
        b.ret_void()

    # -- functions -------------------------------------------------------------------------------------------
    def _declare_function(self, name: str) -> None:
        f = self.plan.functions[name]
        fnty = ir.FunctionType(N.value_type(f.result), [CONTEXT_PTR] + [N.value_type(p) for p in f.params])
        fn = ir.Function(self.module, fnty, f"fn.{name}")
        fn.linkage = "internal"
        self.functions[name] = fn
        self.function_faults[name] = self.facts.function_may_fault(f.node_id)

    def _define_function(self, name: str) -> None:
        f = self.plan.functions[name]
        fn = self.functions[name]
        node = self.graph.node(f.node_id)
        e = FunctionEmitter(self, fn, fn.args[0], f.result)
        values = e.region(node.regions[0], list(fn.args[1:]))
        e.b.ret(values[0] if len(values) == 1 else e.struct(values, f.result))

    def _define_entry(self, name: str) -> None:
        f = self.plan.functions[name]
        fn = ir.Function(self.module, ir.FunctionType(VOID, [BYTE_PTR, BYTE_PTR, BYTE_PTR]), f"entry.{name}")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        ctx = b.bitcast(fn.args[0], CONTEXT_PTR)
        args = read_block(b, fn.args[1], f.params)
        result = b.call(self.functions[name], [ctx] + args)
        write_block(b, fn.args[2], [f.result], [result])
        b.ret_void()

    def _define_kernel(self, kernel: Kernel) -> None:
        fn = ir.Function(self.module, ir.FunctionType(VOID, [BYTE_PTR, BYTE_PTR, BYTE_PTR]),
                         f"kernel.{self.symbol(kernel.node_id)}")
        e = FunctionEmitter(self, fn, None, None)
        e.ctx = e.b.bitcast(fn.args[0], CONTEXT_PTR)
        for value, arg in zip(kernel.inputs, read_block(e.b, fn.args[1], kernel.input_types)):
            e.env[value] = arg
        e.node(kernel.node_id)
        write_block(e.b, fn.args[2], [kernel.result], [e.env[kernel.node_id]])
        e.b.ret_void()

    # -- outlined bodies -------------------------------------------------------------------------------------
    def body(self, node_id: int) -> tuple[ir.Function, list[int], list[N.NType]]:
        """``body.<n>(ctx, env, lo, hi, partial)``: the loop of a parallel index space over [lo, hi)."""
        inputs = self.plan.inputs(node_id)
        types = [self.facts.ntype(v) for v in inputs]
        fn = self.bodies.get(node_id)
        if fn is None:
            fnty = ir.FunctionType(VOID, [CONTEXT_PTR, BYTE_PTR, I64, I64, BYTE_PTR])
            fn = self.bodies[node_id] = ir.Function(self.module, fnty, f"body.{self.symbol(node_id)}")
            fn.linkage = "internal"
            e = FunctionEmitter(self, fn, fn.args[0], None)
            env_type = ir.LiteralStructType([BYTE_PTR] + [N.value_type(t) for t in types])
            env = e.b.bitcast(fn.args[1], env_type.as_pointer())
            loaded = e.b.load(env)
            out = e.b.extract_value(loaded, 0)
            for k, value in enumerate(inputs):
                e.env[value] = e.b.extract_value(loaded, k + 1)
            e.run_range(node_id, out, fn.args[2], fn.args[3], fn.args[4])
            e.b.ret_void()
        return fn, inputs, types


def read_block(b: ir.IRBuilder, block: ir.Value, types: Iterable[N.NType]) -> list[ir.Value]:
    """Values from a host-filled block laid out as a C struct of the types' memory forms."""
    types = list(types)
    layout = ir.LiteralStructType([N.memory_type(t) for t in types])
    typed = b.bitcast(block, layout.as_pointer())
    return [N.from_memory(b, t, b.load(b.gep(typed, [const_int(I32, 0), const_int(I32, k)])))
            for k, t in enumerate(types)]


def write_block(b: ir.IRBuilder, block: ir.Value, types: list[N.NType], values: list[ir.Value]) -> None:
    layout = ir.LiteralStructType([N.memory_type(t) for t in types])
    typed = b.bitcast(block, layout.as_pointer())
    for k, (t, v) in enumerate(zip(types, values)):
        b.store(N.to_memory(b, t, v), b.gep(typed, [const_int(I32, 0), const_int(I32, k)]))


class FunctionEmitter:
    """Emits the nodes of regions into one LLVM function."""

    def __init__(self, unit: ModuleEmitter, fn: ir.Function, ctx: ir.Value | None, result: N.NType | None):
        self.u = unit
        self.plan = unit.plan
        self.g = unit.graph
        self.facts = unit.facts
        self.fn = fn
        self.ctx = ctx
        self.result = result
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.entry_block = fn.blocks[0]
        self.env: dict[int, ir.Value] = {}
        self.iv: dict[int, ir.Value] = {}  # loop key -> its i64 induction variable
        self.fast: dict[tuple[int, int], tuple[int, ir.Value, int]] = {}  # (access, dim) -> (scale, offset, key)
        self.reassoc = False
        self._fault_block: ir.Block | None = None

    # -- plumbing --------------------------------------------------------------------------------------------
    def ctx_field(self, index: int, *more: int) -> ir.Value:
        return self.b.gep(self.ctx, [const_int(I32, 0), const_int(I32, index)] + [const_int(I32, m) for m in more])

    def fault_exit(self) -> ir.Block:
        if self._fault_block is None:
            self._fault_block = self.fn.append_basic_block("fault")
            with self.b.goto_block(self._fault_block):
                if isinstance(self.fn.function_type.return_type, ir.VoidType):
                    self.b.ret_void()
                else:
                    self.b.ret(ir.Constant(self.fn.function_type.return_type, None))
        return self._fault_block

    def require(self, ok: ir.Value, code: Fault, node_id: int, payload: Iterable[ir.Value] = ()) -> None:
        """Go on when ``ok``; otherwise record the fault and leave the function."""
        fail = self.fn.append_basic_block("fail")
        go_on = self.fn.append_basic_block("ok")
        self.b.cbranch(ok, go_on, fail).set_weights([1, 0])
        self.b.position_at_end(fail)
        self.b.store(const_int(I32, code), self.ctx_field(STATUS))
        self.b.store(const_int(I32, int(self.u.symbol(node_id))), self.ctx_field(NODE))
        for k, value in enumerate(payload):
            self.b.store(self.b.sext(value, I64) if value.type != I64 else value, self.ctx_field(PAYLOAD, k))
        self.b.branch(self.fault_exit())
        self.b.position_at_end(go_on)

    def propagate(self) -> None:
        """After a call that may fault: leave when the status is set."""
        ok = self.b.icmp_signed("==", self.b.load(self.ctx_field(STATUS)), const_int(I32, 0))
        go_on = self.fn.append_basic_block("ok")
        self.b.cbranch(ok, go_on, self.fault_exit()).set_weights([1, 0])
        self.b.position_at_end(go_on)

    def alloca(self, t: ir.Type) -> ir.Value:
        """A stack slot in the entry block (so that it is allocated once, outside any loop)."""
        with self.b.goto_block(self.entry_block):
            self.b.position_at_start(self.entry_block)
            return self.b.alloca(t)

    def allocate(self, count: ir.Value, elem: N.NType, node_id: int) -> ir.Value:
        """An arena block of ``count`` elements, typed."""
        size = self.b.mul(count, const_int(I64, N.size_of(elem)))
        raw = self.b.call(self.u.alloc, [self.ctx, size])
        self.require(self.b.icmp_unsigned("!=", raw, ir.Constant(BYTE_PTR, None)), Fault.OUT_OF_MEMORY, node_id,
                     [size])
        return self.b.bitcast(raw, N.memory_type(elem).as_pointer())

    def array(self, data: ir.Value, extents: list[ir.Value], t: N.Array) -> ir.Value:
        value = ir.Constant(N.value_type(t), ir.Undefined)
        value = self.b.insert_value(value, data, 0)
        for k, n in enumerate(extents):
            value = self.b.insert_value(value, n, k + 1)
        return value

    def extents(self, array: ir.Value, rank: int) -> list[ir.Value]:
        return [self.b.extract_value(array, k + 1) for k in range(rank)]

    def struct(self, items: list[ir.Value], t: N.NType) -> ir.Value:
        out = ir.Constant(N.value_type(t), ir.Undefined)
        for k, item in enumerate(items):
            out = self.b.insert_value(out, item, k)
        return out

    def value(self, node_id: int) -> ir.Value:
        found = self.env.get(node_id)
        if found is not None:
            return found
        node = self.g.node(node_id)
        if node.kind == "ref":
            name = node.attr("name")
            return constant(self.plan.globals[name], self.u.global_values[name])
        raise KeyError(f"emit: %{node_id} ({node.kind}) has no value here")

    # -- regions and nodes -----------------------------------------------------------------------------------
    def region(self, region_id: int, args: list[ir.Value]) -> list[ir.Value]:
        region = self.g.region(region_id)
        for param, arg in zip(region.params, args):
            self.env[param] = arg
        for node_id in region.body:
            self.node(node_id)
        return [self.value(r) for r in region.results]

    def node(self, node_id: int) -> None:
        node = self.g.node(node_id)
        kind = node.kind
        if kind in ("lambda", "ref", "token", "param") or node_id in self.plan.fused:
            return
        getattr(self, f"k_{kind}")(node_id, node)

    # -- scalars ---------------------------------------------------------------------------------------------
    def k_const(self, nid: int, node: Node) -> None:
        name = node.attr("type")
        self.env[nid] = ir.Constant(ir.LiteralStructType([]), []) if name == "unit" else constant(
            N.SCALARS[name], node.attr("value"))

    def k_prim(self, nid: int, node: Node) -> None:
        op, type_name = node.attr("op"), self.facts.operand_type_name(node)
        args = [self.value(o) for o in node.operands]
        self.env[nid] = self.scalar(op, type_name, args, nid)

    def scalar(self, op: str, type_name: str, args: list[ir.Value], nid: int) -> ir.Value:
        b = self.b
        if type_name in N.FLOATS:
            return self.floating(op, args)
        if type_name == "bool":
            if op == "not":
                return b.xor(args[0], const_int(I1, 1))
            return self.integer(op, "uint8", args, nid)
        return self.integer(op, type_name, args, nid)

    def floating(self, op: str, args: list[ir.Value]) -> ir.Value:
        b = self.b
        flags = ("reassoc",) if self.reassoc else ()
        if op == "neg":
            return b.fneg(args[0])
        x, y = args
        if op == "+":
            return b.fadd(x, y, flags=flags)
        if op == "-":
            return b.fsub(x, y, flags=flags)
        if op == "*":
            return b.fmul(x, y, flags=flags)
        if op == "/":
            return b.fdiv(x, y)
        if op == "%":
            return b.frem(x, y)
        if op == "<>":
            return b.fcmp_unordered("!=", x, y)
        return b.fcmp_ordered({"=": "=="}.get(op, op), x, y)

    def integer(self, op: str, type_name: str, args: list[ir.Value], nid: int) -> ir.Value:
        b = self.b
        signed = type_name != "uint8"
        if op == "neg":
            return b.sub(ir.Constant(args[0].type, 0), args[0])
        x, y = args
        simple = {"+": b.add, "-": b.sub, "*": b.mul, "&&&": b.and_, "|||": b.or_, "^^^": b.xor}
        if op in simple:
            return simple[op](x, y)
        if op in ("<<<", ">>>"):
            bits = x.type.width
            count = b.and_(y, ir.Constant(y.type, bits - 1))
            count = b.trunc(count, x.type) if y.type.width > bits else b.zext(count, x.type) if y.type.width < bits \
                else count
            if op == "<<<":
                return b.shl(x, count)
            return b.ashr(x, count) if signed else b.lshr(x, count)
        if op in ("/", "%"):
            division = op == "/"
            self.require(b.icmp_unsigned("!=", y, ir.Constant(y.type, 0)),
                         Fault.DIVISION_BY_ZERO if division else Fault.REMAINDER_BY_ZERO, nid)
            if signed:
                minimum = ir.Constant(x.type, -(1 << (x.type.width - 1)))
                overflow = b.and_(b.icmp_signed("==", x, minimum), b.icmp_signed("==", y, ir.Constant(y.type, -1)))
                self.require(b.xor(overflow, const_int(I1, 1)),
                             Fault.DIVISION_OVERFLOW if division else Fault.REMAINDER_OVERFLOW, nid)
                return b.sdiv(x, y) if division else b.srem(x, y)
            return b.udiv(x, y) if division else b.urem(x, y)
        relation = {"=": "==", "<>": "!="}.get(op, op)
        return b.icmp_signed(relation, x, y) if signed else b.icmp_unsigned(relation, x, y)

    def k_native(self, nid: int, node: Node) -> None:
        op = node.attr("op")
        b = self.b
        args = [self.value(o) for o in node.operands]
        if op in ("float", "float32", "int", "int64", "uint8"):
            source = self.facts.ntype(node.operands[0])
            self.env[nid] = self.convert(args[0], source.name, op)
        elif op in ("sqrt", "exp", "log", "sin", "cos", "floor"):
            self.env[nid] = self.math(op, args[0])
        elif op == "abs":
            self.env[nid] = self.absolute(args[0], self.facts.ntype(node.operands[0]).name, nid)
        elif op in ("min", "max"):
            type_name = self.facts.ntype(node.operands[0]).name
            x, y = args
            if type_name in N.FLOATS:
                better = b.fcmp_ordered("<" if op == "min" else ">", x, y)
                pick_x = b.or_(better, b.fcmp_unordered("uno", x, x))
            elif type_name in ("uint8", "bool"):
                pick_x = b.icmp_unsigned("<" if op == "min" else ">", x, y)
            else:
                pick_x = b.icmp_signed("<" if op == "min" else ">", x, y)
            self.env[nid] = b.select(pick_x, x, y)
        elif op in ("Array.length", "Array2D.length1", "Array2D.length2"):
            dim = 1 if op == "Array2D.length2" else 0
            self.env[nid] = b.trunc(b.extract_value(args[0], dim + 1), I32)
        elif op in ("Array.zeroCreate", "Array2D.zeroCreate"):
            t = self.facts.ntype(nid)
            counts = []
            for count in args:
                self.require(b.icmp_signed(">=", count, const_int(count.type, 0)), Fault.NEGATIVE_COUNT, nid, [count])
                counts.append(b.sext(count, I64))
            total = counts[0] if len(counts) == 1 else b.mul(counts[0], counts[1])
            data = self.allocate(total, t.elem, nid)
            b.call(self.u.memset, [b.bitcast(data, BYTE_PTR), const_int(I32, 0),
                                   b.mul(total, const_int(I64, N.size_of(t.elem)))])
            self.env[nid] = self.array(data, counts, t)
        elif op == "Array.copy":
            t = self.facts.ntype(nid)
            (source,) = args
            count = b.extract_value(source, 1)
            data = self.allocate(count, t.elem, nid)
            b.call(self.u.memcpy, [b.bitcast(data, BYTE_PTR), b.bitcast(b.extract_value(source, 0), BYTE_PTR),
                                   b.mul(count, const_int(I64, N.size_of(t.elem)))])
            self.env[nid] = self.array(data, [count], t)
        elif op in ("fst", "snd"):
            self.env[nid] = b.extract_value(args[0], 0 if op == "fst" else 1)
        else:
            raise KeyError(f"emit: native '{op}' is not lowered")

    def convert(self, x: ir.Value, source: str, target: str) -> ir.Value:
        b = self.b
        if source == target:
            return x
        if target in N.FLOATS:
            if source in N.FLOATS:
                wide = x if source == "float" else b.fpext(x, F64)
            elif source in ("uint8", "bool"):
                wide = b.uitofp(x, F64)
            else:
                wide = b.sitofp(x, F64)
            return wide if target == "float" else b.fptrunc(wide, F32)
        if source in N.FLOATS:  # the interpreter's rule: NaN or out of range gives the minimum value
            wide = x if source == "float" else b.fpext(x, F64)
            via = "int" if target == "uint8" else target
            low, high, minimum = _SIGNED_RANGE[via]
            width = ir.IntType(_INT_BITS[via])
            fits = b.fcmp_ordered("<", wide, ir.Constant(F64, high))
            low_ok = (b.fcmp_ordered(">", wide, ir.Constant(F64, low)) if low is not None
                      else b.fcmp_ordered(">=", wide, ir.Constant(F64, -9223372036854775808.0)))
            converted = b.select(b.and_(fits, low_ok), b.fptosi(wide, width), ir.Constant(width, minimum))
            return b.trunc(converted, I8) if target == "uint8" else converted
        target_type = ir.IntType(_INT_BITS[target])
        width = 1 if source == "bool" else _INT_BITS[source]
        if width == target_type.width:
            return x
        if width > target_type.width:
            return b.trunc(x, target_type)
        return b.sext(x, target_type) if source in ("int", "int64") else b.zext(x, target_type)

    def math(self, op: str, x: ir.Value) -> ir.Value:
        b = self.b
        name = {"sqrt": "llvm.sqrt", "exp": "llvm.exp", "log": "llvm.log", "sin": "llvm.sin", "cos": "llvm.cos",
                "floor": "llvm.floor"}[op]
        if op == "floor":  # the interpreter's floor of -0.0 is +0.0: adding +0.0 makes it so, nothing else changes
            return b.fadd(b.call(self.u.module.declare_intrinsic(name, [x.type]), [x]), ir.Constant(x.type, 0.0))
        if op == "sqrt" or x.type == F64:  # exact either way; float32 transcendentals go through double
            return b.call(self.u.module.declare_intrinsic(name, [x.type]), [x])
        fn = self.u.module.declare_intrinsic(name, [F64])
        return b.fptrunc(b.call(fn, [b.fpext(x, F64)]), F32)

    def absolute(self, x: ir.Value, type_name: str, nid: int) -> ir.Value:
        b = self.b
        if type_name in N.FLOATS:
            return b.call(self.u.module.declare_intrinsic("llvm.fabs", [x.type]), [x])
        if type_name == "uint8":
            return x
        minimum = ir.Constant(x.type, -(1 << (x.type.width - 1)))
        self.require(b.icmp_signed("!=", x, minimum), Fault.ABS_MINIMUM, nid)
        return b.select(b.icmp_signed("<", x, ir.Constant(x.type, 0)), b.sub(ir.Constant(x.type, 0), x), x)

    # -- structures ------------------------------------------------------------------------------------------
    def k_tuple(self, nid: int, node: Node) -> None:
        self.env[nid] = self.struct([self.value(o) for o in node.operands], self.facts.ntype(nid))

    def k_record(self, nid: int, node: Node) -> None:
        t = self.facts.ntype(nid)
        by_name = dict(zip(node.attr("fields"), node.operands))
        self.env[nid] = self.struct([self.value(by_name[name]) for name in t.names], t)

    def k_proj(self, nid: int, node: Node) -> None:
        self.env[nid] = self.b.extract_value(self.value(node.operands[0]), node.attr("index"))

    def k_field(self, nid: int, node: Node) -> None:
        t = self.facts.ntype(node.operands[0])
        self.env[nid] = self.b.extract_value(self.value(node.operands[0]), t.index(node.attr("name")))

    def k_with(self, nid: int, node: Node) -> None:
        t = self.facts.ntype(nid)
        out = self.value(node.operands[0])
        for name, operand in zip(node.attr("fields"), node.operands[1:]):
            out = self.b.insert_value(out, self.value(operand), t.index(name))
        self.env[nid] = out

    def k_match_failure(self, nid: int, node: Node) -> None:
        self.require(const_int(I1, 0), Fault.NO_MATCH, nid)
        t = self.facts.ntype(nid)  # never read: the fault leaves the function
        self.env[nid] = ir.Constant(N.value_type(t) if not isinstance(t, str) else ir.LiteralStructType([]),
                                    ir.Undefined)

    # -- arrays ----------------------------------------------------------------------------------------------
    def address(self, nid: int, array: ir.Value, indices: list[int], rank: int) -> ir.Value:
        """The address of ``array.[indices]``: checked, unless the loop's range check covers it."""
        b = self.b
        dims = self.extents(array, rank)
        flat = None
        if all((nid, d) in self.fast for d in range(rank)):
            parts = []
            for d in range(rank):
                scale, offset, key = self.fast[(nid, d)]
                iv = self.iv[key]
                parts.append(offset if scale == 0 else b.add(b.mul(iv, const_int(I64, scale)) if scale != 1 else iv,
                                                              offset))
            flat = parts[0] if rank == 1 else b.add(b.mul(parts[0], dims[1]), parts[1])
        else:
            wide = [self.wide_index(i) for i in indices]
            if not self.facts.in_range_by_construction(nid, self.g.node(nid)):
                payload_dims = dims + [const_int(I64, 0)] * (2 - rank)
                for d in range(rank):
                    self.require(b.icmp_unsigned("<", wide[d], dims[d]), Fault.INDEX, nid,
                                 [wide[d]] + payload_dims)
            flat = wide[0] if rank == 1 else b.add(b.mul(wide[0], dims[1]), wide[1])
        return b.gep(b.extract_value(array, 0), [flat], inbounds=True)

    def wide_index(self, value: int) -> ir.Value:
        """An index as i64: a loop's own index is its induction variable (the index is its truncation)."""
        iv = self.iv.get(self.plan.alias(value))
        if iv is not None:
            return iv
        index = self.value(value)
        return self.b.sext(index, I64) if index.type.width < 64 else index

    def k_index(self, nid: int, node: Node) -> None:
        source = node.operands[0]
        if source in self.plan.fused:  # the producer's element, computed here
            producer = self.g.node(source)
            (value,) = self.region(producer.regions[0], [self.value(node.operands[1])])
            self.env[nid] = value
            return
        t = self.facts.ntype(source)
        pointer = self.address(nid, self.value(source), list(node.operands[1:]), t.rank)
        self.env[nid] = N.from_memory(self.b, t.elem, self.b.load(pointer))

    def k_store(self, nid: int, node: Node) -> None:
        t = self.facts.ntype(node.operands[0])
        pointer = self.address(nid, self.value(node.operands[0]), list(node.operands[1:-1]), t.rank)
        self.b.store(N.to_memory(self.b, t.elem, self.value(node.operands[-1])), pointer)
        self.env[nid] = ir.Constant(ir.LiteralStructType([]), [])

    def k_extent(self, nid: int, node: Node) -> None:
        source = node.operands[0]
        if source in self.plan.fused:
            self.env[nid] = self.value(self.g.node(source).operands[0])
            return
        self.env[nid] = self.b.trunc(self.b.extract_value(self.value(source), node.attr("dim") + 1), I32)

    def k_array(self, nid: int, node: Node) -> None:
        t = self.facts.ntype(nid)
        count = const_int(I64, len(node.operands))
        data = self.allocate(count, t.elem, nid)
        for k, operand in enumerate(node.operands):
            self.b.store(N.to_memory(self.b, t.elem, self.value(operand)), self.b.gep(data, [const_int(I64, k)]))
        self.env[nid] = self.array(data, [count], t)

    def element(self, array: ir.Value, elem: N.NType, iv: ir.Value) -> ir.Value:
        pointer = self.b.gep(self.b.extract_value(array, 0), [iv], inbounds=True)
        return N.from_memory(self.b, elem, self.b.load(pointer))

    def total(self, array: ir.Value, rank: int) -> ir.Value:
        dims = self.extents(array, rank)
        return dims[0] if rank == 1 else self.b.mul(dims[0], dims[1])

    def k_scan(self, nid: int, node: Node) -> None:
        b = self.b
        source = self.value(node.operands[0])
        t = self.facts.ntype(node.operands[0])
        n = self.total(source, t.rank)
        data = self.allocate(n, N.INT, nid)
        exclusive = bool(node.attr("exclusive"))

        def body(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            x = self.element(source, t.elem, iv)
            x = b.zext(x, I32) if t.elem.name == "bool" else x
            total = b.add(carried[0], x)
            b.store(carried[0] if exclusive else total, b.gep(data, [iv], inbounds=True))
            return [total]

        self.counted(None, const_int(I64, 0), n, [const_int(I32, 0)], body)
        self.env[nid] = self.array(data, [n], N.Array(N.INT))

    def k_scatter(self, nid: int, node: Node) -> None:
        b = self.b
        values_id, flags_id, positions_id = node.operands
        t = self.facts.ntype(nid)
        values, flags, positions = (self.value(o) for o in node.operands)
        flag_t = self.facts.ntype(flags_id)
        n = self.total(flags, flag_t.rank)

        def truth(iv: ir.Value) -> ir.Value:
            flag = self.element(flags, flag_t.elem, iv)
            return flag if flag.type == I1 else b.icmp_signed("!=", flag, ir.Constant(flag.type, 0))

        (count,) = self.counted(None, const_int(I64, 0), n, [const_int(I64, 0)],
                                lambda iv, c: [b.add(c[0], b.zext(truth(iv), I64))])
        data = self.allocate(count, t.elem, nid)

        def place(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            with b.if_then(truth(iv)):
                position = b.sext(self.element(positions, N.INT, iv), I64)
                self.require(b.icmp_unsigned("<", position, count), Fault.INDEX, nid,
                             [position, count, const_int(I64, 0)])
                b.store(b.load(b.gep(b.extract_value(values, 0), [iv], inbounds=True)),
                        b.gep(data, [position], inbounds=True))
            return []

        self.counted(None, const_int(I64, 0), n, [], place)
        self.env[nid] = self.array(data, [count], t)

    # -- control ---------------------------------------------------------------------------------------------
    def k_if(self, nid: int, node: Node) -> None:
        b = self.b
        condition = self.value(node.operands[0])
        then_block = self.fn.append_basic_block("then")
        else_block = self.fn.append_basic_block("else")
        merge = self.fn.append_basic_block("endif")
        b.cbranch(condition, then_block, else_block)
        arms = []
        for block, region_id in zip((then_block, else_block), node.regions):
            b.position_at_end(block)
            values = self.region(region_id, [])
            arms.append((values, b.block))
            b.branch(merge)
        b.position_at_end(merge)
        merged = []
        for k, value in enumerate(arms[0][0]):
            phi = b.phi(value.type)
            for values, block in arms:
                phi.add_incoming(values[k], block)
            merged.append(phi)
        t = self.facts.ntype(nid)
        self.env[nid] = merged[0] if len(merged) == 1 else self.struct(merged, t)

    def k_call(self, nid: int, node: Node) -> None:
        name, declaration = self.facts.callee(node)
        args = [self.value(o) for o in node.operands[1:]]
        b = self.b
        if declaration.kind == "func":
            result = b.call(self.u.functions[name], [self.ctx] + args)
            if self.u.function_faults[name]:
                self.propagate()
            self.env[nid] = result
            return
        extern = self.plan.externs[name]
        callback = self.u.extern_kinds[name] == "callback"
        params = [N.memory_type(p) for p in extern.params]
        result_type = N.memory_type(extern.result) if isinstance(extern.result, N.Scalar) else VOID
        fnty = ir.FunctionType(result_type, ([CONTEXT_PTR] if callback else []) + params)
        table = b.bitcast(b.load(self.ctx_field(EXTERNS)), BYTE_PTR.as_pointer())
        entry = b.load(b.gep(table, [const_int(I64, self.u.extern_index[name])]))
        memory_args = [N.to_memory(b, p, a) for p, a in zip(extern.params, args)]
        result = b.call(b.bitcast(entry, fnty.as_pointer()), ([self.ctx] if callback else []) + memory_args)
        if callback:
            with b.if_then(b.icmp_signed("!=", b.load(self.ctx_field(STATUS)), const_int(I32, 0)), likely=False):
                b.store(const_int(I32, int(self.u.symbol(nid))), self.ctx_field(NODE))
                b.branch(self.fault_exit())
        self.env[nid] = (N.from_memory(b, extern.result, result) if isinstance(extern.result, N.Scalar)
                         else ir.Constant(ir.LiteralStructType([]), []))

    def k_loop(self, nid: int, node: Node) -> None:
        b = self.b
        inits = [self.value(o) for o in node.operands]
        condition_region, body_region = node.regions
        before = b.block
        header = self.fn.append_basic_block("while")
        body = self.fn.append_basic_block("do")
        done = self.fn.append_basic_block("wend")
        b.branch(header)
        b.position_at_end(header)
        phis = [b.phi(v.type) for v in inits]
        for phi, v in zip(phis, inits):
            phi.add_incoming(v, before)
        (flag,) = self.region(condition_region, list(phis))
        b.cbranch(flag, body, done)
        b.position_at_end(body)
        nexts = self.region(body_region, list(phis))
        for phi, v in zip(phis, nexts):
            phi.add_incoming(v, b.block)
        b.branch(header)
        b.position_at_end(done)
        self.env[nid] = self.struct(list(phis), self.facts.ntype(nid))

    def k_for(self, nid: int, node: Node) -> None:
        b = self.b
        lo, hi = (self.value(o) for o in node.operands[:2])
        index_type = lo.type
        inits = [self.value(o) for o in node.operands[2:]]
        region_id = node.regions[0]
        key = self.g.region(region_id).params[0]
        start = b.sext(lo, I64) if index_type.width < 64 else lo
        stop = b.add(b.sext(hi, I64) if index_type.width < 64 else hi, const_int(I64, 1))

        def body(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            index = b.trunc(iv, index_type) if index_type.width < 64 else iv
            return self.region(region_id, [index] + carried)

        finals = self.loop(key, start, stop, inits, body, [region_id])
        self.env[nid] = self.struct(finals, self.facts.ntype(nid))

    def k_foreach(self, nid: int, node: Node) -> None:
        source = self.value(node.operands[0])
        t = self.facts.ntype(node.operands[0])
        inits = [self.value(o) for o in node.operands[1:]]
        region_id = node.regions[0]

        def body(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            return self.region(region_id, [self.element(source, t.elem, iv)] + carried)

        finals = self.counted(None, const_int(I64, 0), self.total(source, t.rank), inits, body)
        self.env[nid] = self.struct(finals, self.facts.ntype(nid))

    # -- loops -----------------------------------------------------------------------------------------------
    def counted(self, key: int | None, lo: ir.Value, hi: ir.Value, inits: list[ir.Value],
                body: Callable[[ir.Value, list[ir.Value]], list[ir.Value]]) -> list[ir.Value]:
        """``for iv in [lo, hi)`` (i64) with carried values; the final carried values."""
        b = self.b
        before = b.block
        loop = self.fn.append_basic_block("loop")
        done = self.fn.append_basic_block("done")
        b.cbranch(b.icmp_signed("<", lo, hi), loop, done)
        b.position_at_end(loop)
        iv = b.phi(I64)
        iv.add_incoming(lo, before)
        phis = [b.phi(v.type) for v in inits]
        for phi, v in zip(phis, inits):
            phi.add_incoming(v, before)
        saved = self.iv.get(key)
        if key is not None:
            self.iv[key] = iv
        nexts = body(iv, list(phis))
        if key is not None:
            if saved is None:
                del self.iv[key]
            else:
                self.iv[key] = saved
        latch = b.block
        following = b.add(iv, const_int(I64, 1), flags=("nsw",))
        iv.add_incoming(following, latch)
        for phi, v in zip(phis, nexts):
            phi.add_incoming(v, latch)
        b.cbranch(b.icmp_signed("<", following, hi), loop, done)
        b.position_at_end(done)
        finals = []
        for init, v in zip(inits, nexts):
            phi = b.phi(init.type)
            phi.add_incoming(init, before)
            phi.add_incoming(v, latch)
            finals.append(phi)
        return finals

    def loop(self, key: int, lo: ir.Value, hi: ir.Value, inits: list[ir.Value],
             body: Callable[[ir.Value, list[ir.Value]], list[ir.Value]], regions: list[int],
             invariant: frozenset = frozenset(), windows: dict | None = None) -> list[ir.Value]:
        """A counted loop, versioned on the bounds of its affine accesses (module docstring)."""
        accesses = self.affine_accesses(key, regions, invariant, windows or {})
        if not accesses:
            return self.counted(key, lo, hi, inits, body)
        b = self.b
        offsets: dict[tuple[int, int], tuple[int, ir.Value, int]] = {}
        last = b.sub(hi, const_int(I64, 1))
        all_ok = b.icmp_signed(">=", lo, hi)  # an empty range needs no check
        inside_all = None
        for access, dims, forms in accesses:
            for d, (scale, constant_part, terms) in enumerate(forms):
                offset = const_int(I64, constant_part)
                for coefficient, term in terms:
                    wide = self.value(term)
                    wide = b.sext(wide, I64) if wide.type.width < 64 else wide
                    offset = b.add(offset, b.mul(wide, const_int(I64, coefficient)) if coefficient != 1 else wide)
                first = b.add(b.mul(lo, const_int(I64, scale)), offset)
                final = b.add(b.mul(last, const_int(I64, scale)), offset)
                low, high = (first, final) if scale >= 0 else (final, first)
                inside = b.and_(b.icmp_signed(">=", low, const_int(I64, 0)), b.icmp_signed("<", high, dims[d]))
                inside_all = inside if inside_all is None else b.and_(inside_all, inside)
                offsets[(access, d)] = (scale, offset, key)
        all_ok = b.or_(all_ok, inside_all)
        fast_block = self.fn.append_basic_block("fast")
        slow_block = self.fn.append_basic_block("checked")
        merge = self.fn.append_basic_block("joined")
        b.cbranch(all_ok, fast_block, slow_block).set_weights([1, 0])
        versions = []
        for block, fast in ((fast_block, True), (slow_block, False)):
            b.position_at_end(block)
            if fast:
                self.fast.update(offsets)
            finals = self.counted(key, lo, hi, inits, body)
            if fast:
                for entry in offsets:
                    del self.fast[entry]
            versions.append((finals, b.block))
            b.branch(merge)
        b.position_at_end(merge)
        merged = []
        for k, init in enumerate(inits):
            phi = b.phi(init.type)
            for finals, block in versions:
                phi.add_incoming(finals[k], block)
            merged.append(phi)
        return merged

    def affine_accesses(self, key: int, regions: list[int], invariant: frozenset,
                        windows: dict) -> list[tuple[int, list[ir.Value], list[tuple]]]:
        """The accesses of a loop body whose every index is affine in the loop index (module docstring)."""
        inside: set[int] = set()
        stack = list(regions)
        scanned: list[int] = []
        while stack:  # the loop's whole tree, fused producers' regions included
            region_id = stack.pop()
            for node_id in self.facts.tree(region_id):
                inside.add(node_id)
                node = self.g.node(node_id)
                if node.kind == "index" and node.operands[0] in self.plan.fused:
                    stack.append(self.g.node(node.operands[0]).regions[0])
        found = []
        stack = list(regions)
        while stack:  # the body itself: through ``if`` arms and fused producers, not nested loops
            region_id = stack.pop()
            scanned.append(region_id)
            for node_id in self.g.region(region_id).body:
                node = self.g.node(node_id)
                if node.kind == "if":
                    stack.extend(node.regions)
                    continue
                if node.kind not in ("index", "store"):
                    continue
                array = node.operands[0]
                if array in self.plan.fused:
                    stack.append(self.g.node(array).regions[0])
                    continue
                if self.facts.in_range_by_construction(node_id, node):
                    continue
                t = self.facts.ntype(array)
                indices = node.operands[1:1 + t.rank]
                if array in windows:
                    dims = windows[array]
                elif array not in inside or array in invariant:
                    dims = self.extents(self.value(array), t.rank)
                else:
                    continue
                forms = [self.affine(i, key, inside, invariant) for i in indices]
                if all(f is not None for f in forms):
                    found.append((node_id, dims, forms))
        return found

    def affine(self, value: int, key: int, inside: set[int], invariant: frozenset,
               depth: int = 0) -> tuple[int, int, tuple] | None:
        """``value`` as ``scale * index + constant + sum(coefficient * term)`` (terms loop-invariant), or None."""
        value = self.plan.alias(value)
        if value == key:
            return 1, 0, ()
        node = self.g.node(value)
        t = self.facts.ntype(value)
        if not N.is_scalar(t, "int", "int64") or depth > 8:
            return None
        if value not in inside or value in invariant:
            return 0, 0, ((1, value),)
        if node.kind == "const":
            return 0, int(node.attr("value")), ()
        if node.kind == "prim" and node.attr("op") in ("+", "-") and len(node.operands) == 2:
            left, right = (self.affine(o, key, inside, invariant, depth + 1) for o in node.operands)
            if left is None or right is None:
                return None
            sign = 1 if node.attr("op") == "+" else -1
            return (left[0] + sign * right[0], left[1] + sign * right[1],
                    left[2] + tuple((sign * c, term) for c, term in right[2]))
        if node.kind == "prim" and node.attr("op") == "*" and len(node.operands) == 2:
            left, right = (self.affine(o, key, inside, invariant, depth + 1) for o in node.operands)
            if left is None or right is None:
                return None
            for factor, other in ((left, right), (right, left)):
                if factor[0] == 0 and not factor[2]:
                    k = factor[1]
                    return other[0] * k, other[1] * k, tuple((c * k, term) for c, term in other[2])
        return None

    # -- index spaces ----------------------------------------------------------------------------------------
    def k_parallel_for(self, nid: int, node: Node) -> None:
        b = self.b
        t = self.facts.ntype(nid)
        counts = []
        for extent_id in node.operands:
            count = self.value(extent_id)
            if self.g.node(extent_id).kind != "extent":
                self.require(b.icmp_signed(">=", count, const_int(count.type, 0)), Fault.NEGATIVE_COUNT, nid, [count])
            counts.append(b.sext(count, I64))
        self.check_fused_counts(node)
        total = counts[0] if len(counts) == 1 else b.mul(counts[0], counts[1])
        data = self.allocate(total, t.elem, nid)
        self.run_index_space(nid, b.bitcast(data, BYTE_PTR), counts[0], None)
        self.env[nid] = self.array(data, counts, t)

    def check_fused_counts(self, node: Node) -> None:
        """A fused producer's own count check, where its consumer starts (the unfused order)."""
        for region_id in node.regions:
            for producer in self.fused_reads(region_id):
                self._producer_count(producer)

    def fused_reads(self, region_id: int) -> list[int]:
        """The fused producers a region reads by index, in its body or its ``if`` arms."""
        found, stack = [], [region_id]
        while stack:
            for node_id in self.g.region(stack.pop()).body:
                inner = self.g.node(node_id)
                if inner.kind == "if":
                    stack.extend(inner.regions)
                elif inner.kind == "index" and inner.operands[0] in self.plan.fused:
                    found.append(inner.operands[0])
        return found

    def _producer_count(self, producer_id: int) -> None:
        producer = self.g.node(producer_id)
        extent_id = producer.operands[0]
        if self.g.node(extent_id).kind != "extent":
            count = self.value(extent_id)
            self.require(self.b.icmp_signed(">=", count, const_int(count.type, 0)), Fault.NEGATIVE_COUNT,
                         producer_id, [count])
        for inner in self.fused_reads(producer.regions[0]):
            self._producer_count(inner)

    def k_stencil(self, nid: int, node: Node) -> None:
        b = self.b
        t = self.facts.ntype(nid)
        size = self.value(node.operands[0])
        source = self.value(node.operands[1])
        self.require(b.icmp_signed(">=", size, const_int(size.type, 1)), Fault.WINDOW, nid, [size])
        n = b.extract_value(source, 1)
        windows = b.add(b.sub(n, b.sext(size, I64)), const_int(I64, 1))
        count = b.select(b.icmp_signed("<", windows, const_int(I64, 0)), const_int(I64, 0), windows)
        data = self.allocate(count, t.elem, nid)
        self.run_index_space(nid, b.bitcast(data, BYTE_PTR), count, None)
        self.env[nid] = self.array(data, [count], t)

    def k_reduce(self, nid: int, node: Node) -> None:
        b = self.b
        n = self.reduce_count(nid, node)
        masked = self.plan.masked(nid)
        for producer in self.plan.absorbed(nid):  # the producers' own checks come first, as unfused
            if self.g.node(producer).kind == "parallel_for":
                self._producer_count(producer)
        if len(node.operands) == 1 and masked is None:  # a filter's emptiness is known after its loop
            self.require(b.icmp_signed(">", n, const_int(I64, 0)), Fault.EMPTY, nid)
        acc_t = self.facts.ntype(nid)
        slot = self.alloca(N.memory_type(acc_t))
        self.run_index_space(nid, b.bitcast(slot, BYTE_PTR), n, slot)
        self.env[nid] = N.from_memory(b, acc_t, b.load(slot))

    def reduce_count(self, nid: int, node: Node) -> ir.Value:
        source = node.operands[0]
        masked = self.plan.masked(nid)
        if masked is not None:
            return self.b.sext(self.value(self.g.node(masked[1]).operands[0]), I64)
        if source in self.plan.fused:
            return self.b.sext(self.value(self.g.node(source).operands[0]), I64)
        t = self.facts.ntype(source)
        return self.total(self.value(source), t.rank)

    def run_index_space(self, nid: int, out: ir.Value, count: ir.Value, result_slot: ir.Value | None) -> None:
        """Run a parallel_for / stencil / reduce over [0, count): inline, or through its outlined body."""
        b = self.b
        if not self.plan.parallel(nid):
            self.run_range(nid, out, const_int(I64, 0), count, out)
            return
        body, inputs, types = self.u.body(nid)
        env_type = ir.LiteralStructType([BYTE_PTR] + [N.value_type(t) for t in types])
        env = self.alloca(env_type)
        packed = ir.Constant(env_type, ir.Undefined)
        packed = b.insert_value(packed, out, 0)
        for k, value in enumerate(inputs):
            packed = b.insert_value(packed, self.value(value), k + 1)
        b.store(packed, env)
        env_bytes = b.bitcast(env, BYTE_PTR)
        node = self.g.node(nid)
        cost = const_int(I64, sum(self.facts.cost(r) for r in self.plan.kernel_regions(nid)))
        if node.kind == "parallel_for" and len(node.operands) == 2:  # a row is split, not an element
            cost = b.mul(cost, b.sext(self.value(node.operands[1]), I64))
        work = b.mul(count, cost)
        wide = b.and_(b.and_(b.icmp_signed(">=", work, b.load(self.ctx_field(THRESHOLD))),
                             b.icmp_signed("==", b.load(self.ctx_field(DEPTH)), const_int(I32, 0))),
                      b.and_(b.icmp_signed(">", b.load(self.ctx_field(WORKERS)), const_int(I32, 1)),
                             b.icmp_signed(">", count, const_int(I64, 1))))  # so every split has a first chunk
        may_fault = self.facts.may_fault(node.regions[0]) or any(
            self.facts.may_fault(r) for r in self.plan.kernel_regions(nid)) or self._calls_externs(nid)
        with b.if_else(wide) as (split, whole):
            with split:
                if node.kind == "reduce":
                    self.split_reduce(nid, node, body, env_bytes, count, cost, result_slot)
                else:
                    b.call(self.u.np_parallel, [self.ctx, b.bitcast(body, BYTE_PTR), env_bytes, count, cost,
                                                ir.Constant(BYTE_PTR, None), const_int(I64, 0)])
            with whole:
                b.call(body, [self.ctx, env_bytes, const_int(I64, 0), count, out])
        if may_fault:
            self.propagate()

    def _calls_externs(self, nid: int) -> bool:
        return any(self._calls_externs_in(r) for r in self.plan.kernel_regions(nid))

    def _calls_externs_in(self, region_id: int) -> bool:
        for node_id in self.facts.tree(region_id):
            node = self.g.node(node_id)
            if node.kind == "index" and node.operands[0] in self.plan.fused:
                if self._calls_externs_in(self.g.node(node.operands[0]).regions[0]):
                    return True
            if node.kind == "call":
                target = self.facts.callee(node)
                if target is not None and target[1].kind == "extern":
                    return True
        return False

    def split_reduce(self, nid: int, node: Node, body: ir.Function, env: ir.Value, count: ir.Value,
                     cost: ir.Value, result_slot: ir.Value) -> None:
        """A reassociable reduce across the pool: partial results per chunk, folded in chunk order."""
        b = self.b
        acc_t = self.facts.ntype(nid)
        partials = self.alloca(ir.ArrayType(N.memory_type(acc_t), MAX_CHUNKS))
        size = const_int(I64, N.size_of(acc_t))
        chunks = b.call(self.u.np_parallel, [self.ctx, b.bitcast(body, BYTE_PTR), env, count, cost,
                                             b.bitcast(partials, BYTE_PTR), size])
        self.propagate()
        first = N.from_memory(b, acc_t, b.load(b.gep(partials, [const_int(I32, 0), const_int(I32, 0)])))

        def fold(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            partial = N.from_memory(b, acc_t, b.load(b.gep(partials, [const_int(I64, 0), iv])))
            return self.region(node.regions[0], [carried[0], partial])

        (acc,) = self.counted(None, const_int(I64, 1), chunks, [first], fold)
        b.store(N.to_memory(b, acc_t, acc), result_slot)

    def run_range(self, nid: int, out: ir.Value, lo: ir.Value, hi: ir.Value, partial: ir.Value) -> None:
        """The loop of an index space over [lo, hi): elements into ``out``, or a reduce's fold into ``partial``."""
        node = self.g.node(nid)
        b = self.b
        region_id = node.regions[0]
        params = self.g.region(region_id).params
        if node.kind == "parallel_for":
            t = self.facts.ntype(nid)
            data = b.bitcast(out, N.memory_type(t.elem).as_pointer())
            if len(node.operands) == 1:
                def body(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
                    (element,) = self.region(region_id, [b.trunc(iv, I32)])
                    b.store(N.to_memory(b, t.elem, element), b.gep(data, [iv], inbounds=True))
                    return []
                self.loop(params[0], lo, hi, [], body, [region_id])
                return
            columns = b.sext(self.value(node.operands[1]), I64)

            def row(i: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
                i32 = b.trunc(i, I32)
                self.env[params[0]] = i32
                base = b.mul(i, columns)

                def cell(j: ir.Value, inner: list[ir.Value]) -> list[ir.Value]:
                    (element,) = self.region(region_id, [i32, b.trunc(j, I32)])
                    b.store(N.to_memory(b, t.elem, element), b.gep(data, [b.add(base, j)], inbounds=True))
                    return []
                self.loop(params[1], const_int(I64, 0), columns, [], cell, [region_id],
                          invariant=frozenset({params[0]}))
                return []
            self.counted(params[0], lo, hi, [], row)
            return
        if node.kind == "stencil":
            t = self.facts.ntype(nid)
            data = b.bitcast(out, N.memory_type(t.elem).as_pointer())
            size = self.value(node.operands[0])
            source = self.value(node.operands[1])
            window_t = self.facts.ntype(params[1])

            def window_at(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
                start = b.gep(b.extract_value(source, 0), [iv], inbounds=True)
                window = self.array(start, [b.sext(size, I64)], window_t)
                (element,) = self.region(region_id, [b.trunc(iv, I32), window])
                b.store(N.to_memory(b, t.elem, element), b.gep(data, [iv], inbounds=True))
                return []
            self.loop(params[0], lo, hi, [], window_at, [region_id], windows={params[1]: [b.sext(size, I64)]})
            return
        self.fold_range(nid, node, lo, hi, partial)

    def fold_range(self, nid: int, node: Node, lo: ir.Value, hi: ir.Value, partial: ir.Value) -> None:
        b = self.b
        acc_t = self.facts.ntype(nid)
        key = -1 - nid
        element, regions = self.reduce_source(nid, node)
        if self.plan.masked(nid) is not None:
            acc = self.fold_filtered(nid, node, lo, hi, regions)
            b.store(N.to_memory(b, acc_t, acc), b.bitcast(partial, N.memory_type(acc_t).as_pointer()))
            return
        if len(node.operands) > 1:
            start, first = self.value(node.operands[1]), lo
        else:
            saved = self.iv.get(key)
            self.iv[key] = lo
            start = element(lo)
            if saved is None:
                del self.iv[key]
            first = b.add(lo, const_int(I64, 1))

        def body(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            return self.combine(node, carried[0], element(iv))

        (acc,) = self.loop(key, first, hi, [start], body, regions)
        b.store(N.to_memory(b, acc_t, acc), b.bitcast(partial, N.memory_type(acc_t).as_pointer()))

    def combine(self, node: Node, acc: ir.Value, x: ir.Value) -> list[ir.Value]:
        """The reduce's region on (acc, x), reassociable where the reduce says so."""
        saved, self.reassoc = self.reassoc, bool(node.attr("reassociate"))
        try:
            return self.region(node.regions[0], [acc, x])
        finally:
            self.reassoc = saved

    def reduce_source(self, nid: int, node: Node) -> tuple[Callable[[ir.Value], ir.Value], list[int]]:
        """Element i of what a reduce folds (computed, when its producer is fused), and the regions it runs."""
        b = self.b
        masked = self.plan.masked(nid)
        source = masked[0] if masked is not None else node.operands[0]
        regions = [node.regions[0]] + [self.g.node(p).regions[0] for p in self.plan.absorbed(nid)
                                       if self.g.node(p).kind == "parallel_for"]
        if source in self.plan.fused:
            producer = self.g.node(source)

            def computed(iv: ir.Value) -> ir.Value:
                (value,) = self.region(producer.regions[0], [b.trunc(iv, I32)])
                return value
            return computed, regions
        array = self.value(source)
        elem = self.facts.ntype(source).elem
        return (lambda iv: self.element(array, elem, iv)), regions

    def fold_filtered(self, nid: int, node: Node, lo: ir.Value, hi: ir.Value, regions: list[int]) -> ir.Value:
        """A reduce over a fused filter: element i is folded only where flag i holds; none kept and no init
        is the interpreter's empty-array fault."""
        b = self.b
        values, flags_id = self.plan.masked(nid)
        flags = self.g.node(flags_id)
        element, _ = self.reduce_source(nid, node)
        # The flags' region reads the value it tests; when that read is in its body, the test's value is reused.
        readers = [u for u in self.facts.uses[values] if u >= 0 and self.g.node(u).kind == "index"
                   and self.facts.region_of[u] == flags.regions[0]]
        has_init = len(node.operands) > 1
        acc_t = self.facts.ntype(nid)
        start = self.value(node.operands[1]) if has_init else ir.Constant(N.value_type(acc_t), None)

        def body(iv: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            acc, started = carried
            (flag,) = self.region(flags.regions[0], [b.trunc(iv, I32)])
            before = b.block
            kept = self.fn.append_basic_block("kept")
            merge = self.fn.append_basic_block("filtered")
            b.cbranch(flag, kept, merge)
            b.position_at_end(kept)
            x = self.env[readers[0]] if readers else element(iv)
            (combined,) = self.combine(node, acc, x)
            folded = combined if has_init else b.select(started, combined, x)
            after = b.block
            b.branch(merge)
            b.position_at_end(merge)
            next_acc = b.phi(acc.type)
            next_acc.add_incoming(acc, before)
            next_acc.add_incoming(folded, after)
            return [next_acc, b.or_(started, flag)]

        acc, started = self.loop(-1 - nid, lo, hi, [start, const_int(I1, 1 if has_init else 0)], body, regions)
        if not has_init:
            self.require(started, Fault.EMPTY, nid)
        return acc


def constant(t: N.Scalar, value: object) -> ir.Constant:
    name = t.name
    if name == "bool":
        return ir.Constant(I1, 1 if value else 0)
    if name == "float32":
        return ir.Constant(F32, float(np.float32(value)))
    if name == "float":
        return ir.Constant(F64, float(value))
    bits = _INT_BITS[name]
    v = int(value) & ((1 << bits) - 1)
    if name != "uint8" and v >= 1 << (bits - 1):
        v -= 1 << bits
    return ir.Constant(ir.IntType(bits), v)

"""Abstracting the costly operators of a query: floating-point arithmetic and bit-vector products as
uninterpreted functions.

z3 decides floating-point and multiplication by bit-blasting them, which is
what makes a query time out.  `abstract` rewrites formulas so that every
application of such an operator (``fp.add fp.mul fp.div fp.sqrt``,
conversions, ``bvmul bvsdiv bvsrem``, ...) becomes an application of an
uninterpreted function of the same arguments (one function per operator and
signature).  Equal arguments still give equal results, so the abstraction
keeps every fact that holds for *any* interpretation of the operators:

* an abstracted query that is ``unsat`` proves the precise one ``unsat``
  (the real operators are one interpretation among all);
* an abstracted model may be spurious, so its inputs are only a candidate:
  `nanopass.smt.refinement` replays them on the interpreter, which computes
  the real operators, and reports a counterexample only when it shows.

Array lambdas are rewritten inside their bodies (the bound index is
instantiated with a fresh constant, then bound again).

`float_operations` counts the operators whose bit-blasting is largest
(``fp.rem``, ``fp.div``, ``fp.sqrt``, ``fp.fma``): z3 checks its timeout only
between steps, and a query with dozens of them can spend minutes and
gigabytes before the first check, so callers decline such a query as
``unknown`` instead of asking.  ``fp.rem`` of binary64 values is the worst:
one of them, on an array's element, ran 25 s and 4 GB past a 5 s timeout,
two more than a minute (both solvers, whatever the tactics), so it is
counted apart.  It also says whether a query has floating point at all
(`nanopass.smt.refinement` bit-blasts those by tactics first).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import z3

ABSTRACTED = frozenset({
    z3.Z3_OP_FPA_ADD, z3.Z3_OP_FPA_SUB, z3.Z3_OP_FPA_MUL, z3.Z3_OP_FPA_DIV, z3.Z3_OP_FPA_REM, z3.Z3_OP_FPA_SQRT,
    z3.Z3_OP_FPA_FMA, z3.Z3_OP_FPA_ROUND_TO_INTEGRAL, z3.Z3_OP_FPA_TO_FP, z3.Z3_OP_FPA_TO_FP_UNSIGNED,
    z3.Z3_OP_FPA_TO_SBV, z3.Z3_OP_FPA_TO_UBV,
    z3.Z3_OP_BMUL, z3.Z3_OP_BSDIV, z3.Z3_OP_BUDIV, z3.Z3_OP_BSREM, z3.Z3_OP_BUREM, z3.Z3_OP_BSMOD,
    z3.Z3_OP_BSDIV_I, z3.Z3_OP_BUDIV_I, z3.Z3_OP_BSREM_I, z3.Z3_OP_BUREM_I, z3.Z3_OP_BSMOD_I,
})

HEAVY = frozenset({z3.Z3_OP_FPA_REM, z3.Z3_OP_FPA_DIV, z3.Z3_OP_FPA_SQRT, z3.Z3_OP_FPA_FMA})

_bound = itertools.count()


class Abstraction:
    """One rewriting of a set of formulas (shared, so that a subterm is abstracted the same way everywhere)."""

    def __init__(self) -> None:
        self._done: dict[int, z3.ExprRef] = {}
        # z3 reuses the id of a freed term; holding every rewritten term keeps the ids in `_done` meaning it
        # (a binder's instantiated body is a temporary).
        self._held: list[z3.ExprRef] = []
        self._functions: dict[tuple, z3.FuncDeclRef] = {}
        self.changed = False

    def function(self, decl: z3.FuncDeclRef, args: list[z3.ExprRef], range_: z3.SortRef) -> z3.FuncDeclRef:
        params = tuple(str(p) for p in decl.params())
        key = (decl.kind(), params, tuple(a.sort().sexpr() for a in args), range_.sexpr())
        found = self._functions.get(key)
        if found is None:
            name = f"abstract.{decl.name()}{'.' + '.'.join(params) if params else ''}#{len(self._functions)}"
            found = self._functions[key] = z3.Function(name, *[a.sort() for a in args], range_)
        return found

    def __call__(self, term: z3.ExprRef) -> z3.ExprRef:
        """``term`` with every costly operator an uninterpreted function (iterative: terms can be deep)."""
        stack = [(term, False)]
        while stack:
            node, expanded = stack.pop()
            key = node.get_id()
            if key in self._done:
                continue
            self._held.append(node)
            if z3.is_quantifier(node):
                self._done[key] = self._binder(node)
                continue
            if not z3.is_app(node) or node.num_args() == 0:
                self._done[key] = node
                continue
            children = node.children()
            if not expanded:
                stack.append((node, True))
                stack.extend((c, False) for c in children if c.get_id() not in self._done)
                continue
            args = [self._done[c.get_id()] for c in children]
            decl = node.decl()
            if decl.kind() in ABSTRACTED:
                self.changed = True
                self._done[key] = self.function(decl, args, node.sort())(*args)
            elif all(a.eq(c) for a, c in zip(args, children)):
                self._done[key] = node
            else:
                self._done[key] = decl(*args)
        return self._done[term.get_id()]

    def _binder(self, node: z3.QuantifierRef) -> z3.ExprRef:
        count = node.num_vars()
        fresh = [z3.Const(f"__abstract{next(_bound)}", node.var_sort(k)) for k in range(count)]
        # De Bruijn index 0 is the last bound variable.
        body = self(z3.substitute_vars(node.body(), *reversed(fresh)))
        if node.is_lambda():
            return z3.Lambda(fresh, body)
        return (z3.ForAll if node.is_forall() else z3.Exists)(fresh, body)


def abstract(formulas: list[z3.BoolRef]) -> tuple[list[z3.BoolRef], bool]:
    """The formulas with costly operators abstracted, and whether anything was."""
    rewrite = Abstraction()
    out = [rewrite(f) for f in formulas]
    return out, rewrite.changed


class FloatOperations(NamedTuple):
    heavy: int  # distinct applications of the `HEAVY` operators
    double_remainders: int  # of which fp.rem on binary64
    any: bool  # whether there is any floating-point term


def float_operations(formulas: list[z3.ExprRef]) -> FloatOperations:
    """What floating point the formulas hold (distinct terms)."""
    seen: set[int] = set()
    held: list[z3.ExprRef] = []  # keeps the ids in `seen` from being reused by z3 while we walk
    stack, heavy, remainders, floats = list(formulas), 0, 0, False
    while stack:
        term = stack.pop()
        if term.get_id() in seen:
            continue
        seen.add(term.get_id())
        held.append(term)
        if z3.is_quantifier(term):
            stack.append(term.body())
        elif z3.is_app(term):
            kind = term.decl().kind()
            heavy += kind in HEAVY
            remainders += kind == z3.Z3_OP_FPA_REM and term.sort().ebits() == 11
            floats = floats or z3.is_fp(term)
            stack.extend(term.children())
    return FloatOperations(heavy, remainders, floats)

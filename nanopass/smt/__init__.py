"""SMT semantics of the PSG and translation validation with z3 (`nanopass.smt`).

A function of a graph, at any language level (Clef, Elaborated, Saturated),
is encoded as z3 terms (`nanopass.smt.encoder`), and a pass is validated by
asking z3 whether its output refines its input for every input
(`nanopass.smt.refinement`), in the manner of Alive2.  What the encoding is:

* int / int64 / uint8: bit-vectors of 32 / 64 / 8 bits that wrap; F#'s
  truncating ``/``, ``%`` with the dividend's sign, masked shift counts;
  float / float32: z3's floating-point theory, rounding to nearest even;
  bool; string (z3 strings); values of a type variable: an uninterpreted sort;
* tuples and records: products; unions and options: tagged sums (a z3
  enumeration of the cases); arrays and lists: z3 arrays with a symbolic
  length; ``parallel_for``, maps, ``init`` and windows: array lambdas;
* ``reduce``, folds, filters, scans, scatters, concatenations and
  ``foreach``: walked in order, bounded by ``array_bound`` elements; loops
  (``loop``, ``while``, ``for``): unrolled, ``loop_bound`` iterations when
  the count is symbolic (exactly when it is a constant); recursion:
  ``recursion_bound`` nested calls.  Runs past a bound are left out and the
  verdict says so: ``validated (loops unrolled to 8)``;
* pure externs and ``exp log sin cos``: uninterpreted functions; effects: a
  threaded state of an uninterpreted sort, an effectful extern being a
  function of (state, arguments) to (result, next state);
* failures (a zero divisor, an index out of range, no match arm, ``reduce``
  of nothing) are undefined behaviour: a failing input refines to anything;
* array and list inputs (and what externs return) have fewer than 2^24
  elements, so that no length arithmetic wraps around.

Refinement of outputs: equal values, except that any NaN refines any NaN
(floats compare with z3's structural equality, not ``fpEQ``: ``0.0`` and
``-0.0`` differ, NaN equals NaN); the same final state; the target fails
only where the source does.

What is not encoded yet, per node kind (`UNSUPPORTED_KINDS`), gives
``unknown`` and the differential-testing fallback:

* ``async``, ``bind``, ``await``: asynchronous computations;
* ``actor``, ``post``, ``tell``: actors and their messages;
* ``store``: writing into an array (arrays are values here, with no heap);
* ``native`` ``Map.empty Map.add Map.find Map.tryFind Map.merge``: maps
  (`UNSUPPORTED_NATIVES`); also function-typed parameters and results,
  comparing arrays with ``=``, ordering records, unions and lists, and
  recursive union types.

`install` puts the semantics into `nanopass.validation.SEMANTICS` (done on
first use of validation when nothing else is installed) and registers the
range check of the ``widths`` analysis (`nanopass.smt.facts`).  Its
`Options` set the bounds and z3's timeout (10 s by default; the environment
variable ``NANOPASS_Z3_TIMEOUT``, in seconds, sets it for ``nanopass opt
--validate``).
"""

from __future__ import annotations

from nanopass.smt.encoder import UNSUPPORTED_KINDS as _KINDS
from nanopass.smt.encoder import Machine, Options, Program, Shared
from nanopass.smt.natives import UNSUPPORTED_NATIVES
from nanopass.smt.refinement import SmtSemantics, build_query, verdict_for
from nanopass.smt.values import Unsupported

UNSUPPORTED_KINDS: dict[str, str] = dict(_KINDS)


def install(options: Options | None = None) -> SmtSemantics:
    """Make these semantics the ones `Pipeline.run(..., validate=True)` uses; returns the installed entry."""
    from nanopass import validation
    from nanopass.smt.facts import range_verdicts

    semantics = SmtSemantics(options)
    validation.SEMANTICS[:] = [entry for entry in validation.SEMANTICS if not isinstance(entry, SmtSemantics)]
    validation.SEMANTICS.append(semantics)
    validation.FACT_CHECKS["ranges"] = lambda pass_name, before, after: range_verdicts(pass_name, before, after,
                                                                                       semantics.options)
    return semantics


__all__ = ["Machine", "Options", "Program", "Shared", "SmtSemantics", "UNSUPPORTED_KINDS", "UNSUPPORTED_NATIVES",
           "Unsupported", "build_query", "install", "verdict_for"]

"""The languages of the pipeline, each a delta of the one before.

Read top to bottom, this file is the pipeline:

    Clef         what the front end builds from source (order implicit)
    Elaborated   intrinsics are native ops, effects are explicit token chains,
                 mutable locals are SSA values, `query` is a map, `async` has
                 explicit suspension points
    Saturated    higher-order intrinsics and `match` are sub-graphs of
                 primitives: parallel index spaces, reductions, stencils,
                 scans and scatters, decision trees of tag tests
    Telemetry    Saturated with ``probe`` nodes at coeffect boundaries
                 (optional: the ``telemetry`` pass adds them and
                 ``strip-telemetry`` takes them out again)

Value conventions shared by every language (the front end builds them, the
interpreter runs them, passes preserve them):

* ``const``: ``value`` and its ``type`` name (int, int64, uint8, float,
  float32, bool, unit, string); unit's value is ``None``.
* ``prim``: a scalar operator named by ``op``: ``+ - * / % = <> < <= > >=
  &&& ||| ^^^ <<< >>> not neg``; ``&&`` / ``||`` are lowered to ``if``.
  Its optional ``type`` names the operand type (elaboration fills it).
* ``ref``: a top-level declaration or an intrinsic by ``name`` (``Array.map``,
  ``sqrt``, ``fst``, ``Actor.start`` is not one: actors are ``actor`` nodes).
* ``func``: ``name``, ``params`` (tuple of names); its region's params are the
  curried parameters and its result is the body's value.  ``attributes`` is a
  tuple of ``(name, args)`` pairs, e.g. ``(("Pure", ()), ("Cost", (38,)))``;
  ``rec_group`` names the ``let rec ... and ...`` group.
* ``extern``: ``name``, ``arity`` (curried parameter count), ``pure`` (bool),
  ``cost`` (int, default 1), ``resource`` (str).  Types ride in the ``types``
  annotation table of every declaration and value.
* ``apply``: operand 0 is the callee, the rest are arguments (curried; fewer
  than the arity is a partial application).
* ``lambda``: a closure; its region params are its parameters.  Nested regions
  read outer values directly by id (closures capture by reference to the id).
* ``tuple``/``proj {index}``; ``record {type, fields}`` with one operand per
  field name, ``field {name}``, ``with {fields}`` (operand 0 the record, then
  one operand per named field); ``union {type, case}`` with the payload as
  operands (options are type ``option``, cases ``Some`` / ``None``);
  ``array``/``list`` literals; ``cons`` (head, tail).
* ``index``: (array, i) or (array, i, j); ``store``: (array, i[, j], value).
* ``if``: then and else regions, each yielding one value (a missing else
  yields unit).  ``while``: a condition region yielding a bool and a body
  region.  ``for``: (lo, hi) inclusive, body param is the index.
  ``foreach``: (xs), body param is the element.  Loop bodies yield nothing.
* ``var``/``load``/``assign``: a ``let mutable`` cell, reading it, writing it.
* ``async``: its region is the computation; ``bind`` (let!/do!) waits for an
  Async operand; the region's result is ``return``'s value.
* ``query``: (source) with a region over one param yielding the selected value;
  the result is a container of the source's kind.
* ``actor``: (init) with a handler region over (state, msg) yielding two
  values, the new state and the reply; ``post`` (actor, msg) waits for the
  reply; ``tell`` (actor, msg) does not.
* ``match``: one region per arm whose params bind the pattern's variables in
  the order they appear, left to right.  ``patterns`` holds one pattern tree
  per arm, ``guards`` one bool per arm; an arm with a guard owns two regions,
  guard (yielding a bool) then body, over the same bindings.  Pattern trees
  are nested tuples: ``("wild",)``, ``("bind", name)``, ``("lit", value,
  type)``, ``("tuple", p...)``, ``("case", name, p...)`` (union cases, ``Some``
  and ``None`` too), ``("nil",)``, ``("cons", head, tail)``.

What Elaborated adds (the ``elaborate`` pass builds it):

* ``native {op}``: an intrinsic applied to all its arguments (``Map.empty``
  has none).  ``call``: operand 0 is the callee; a ``ref`` to a ``func`` or
  ``extern`` (``callee`` names it) gets exactly its arity, any other callee
  is a closure value applied to the arguments one after another.  ``pap``:
  a ``ref`` to a func, extern or intrinsic with fewer arguments than it takes.
* Tokens: an effectful node consumes, in ``effect``, the current token of its
  region and is the next one.  A region with effects has an entry ``token``
  node (``Region.token``) and hands its last token back in ``effect_out``;
  it starts afresh each time it runs (each call, branch, iteration).
* Carried values (mutable locals in SSA form): ``loop``, ``for`` and
  ``foreach`` regions take the carried values after their own params, the
  body yields the next ones, and the node's value is the tuple of the final
  ones (empty when none).  An ``if``/``match`` whose arms assign mutable
  locals of the enclosing code yields, from every arm body, its value then
  the new value of each such local (guards still yield one bool); the node's
  value is then the tuple of those results, taken apart by ``proj``.

What Saturated adds (the ``baker`` pass builds it; ``match`` is gone, and no
``native`` is a higher-order intrinsic: ``Array.map mapi map2 init filter
reduce fold sum windowed``, ``Array.Parallel.map``, ``Array2D.init``,
``List.map filter fold collect distinct``, ``Seq.windowed map sum``):

* ``parallel_for {origin, container}``: operands are the extents (one, two
  for ``array2d``); the region's params are the indices (ints) and it yields
  the element at those indices; the node's value is the new container
  (``array``, ``array2d`` or ``list``) of the elements in index order.
  ``origin`` names the construct it came from (``Array.map``, ...).  With a
  token, the iterations' effects happen in index order, each iteration from
  a fresh region token.
* ``reduce {op, associative, reassociate, origin}``: operands (xs) or
  (xs, init); the region's params are (acc, x) and it yields the next acc;
  the value is the left fold from init (from the first element when there is
  no init; an empty source without init is an error).  ``op`` names the
  operator when the region is exactly one ``prim`` (or ``min`` / ``max``)
  over (acc, x), else ``region``.  ``associative``: the operator is associative (for a fold,
  and its init is the operator's identity).  ``reassociate``: a backend may
  evaluate it as a balanced tree (integers when associative; floats only when
  baker's ``reassociate_floats`` option says so, since the result changes).
* ``stencil {origin, container, window?}``: operands (size, xs); the
  region's params are (i, window), ``window`` being the array of the ``size``
  elements of xs from i, and it yields the consumer's element for that
  window; the value is the array over the n - size + 1 windows (empty when
  n < size).  ``window`` holds the size when it is a constant.
* ``scan {op, exclusive}``: (xs) the array of prefix combinations (bools
  count 0 / 1 for ``+``); exclusive starts from the identity.
* ``scatter {container}``: (values, flags, positions): the container of the
  values whose flag is set, ``values[i]`` landing at ``positions[i]``.
* ``concat {container}``: (parts) an array of containers, concatenated in order.
* ``extent {dim}``: (xs) the length of dimension ``dim`` (0 or 1) of an
  array, or a list's length.  ``index`` (xs, i) also reads a list.
* ``tag_test {case}``: (v) whether the union value v is the case ``case``
  (``Some`` / ``None`` for options, ``nil`` / ``cons`` for lists); literal
  tests are ``prim =`` comparisons.  ``case_field {case, index}``: (v) field
  ``index`` of the payload of v, known to be ``case`` (``cons``: 0 the head,
  1 the tail).  ``match_failure``: no operands; running it fails (a value
  no arm of an incomplete match accepts).
"""

from __future__ import annotations

from nanopass.language import Language, kind

# -- declarations and structure shared by every level ---------------------------
_DECLARATIONS = (
    kind("func", attributes=("name", "params"), optional=("attributes", "rec_group"), regions=1,
         doc="a top-level function; its region's params are the curried parameters"),
    kind("global", attributes=("name",), optional=("attributes",), regions=1,
         doc="a top-level value, computed once by its region"),
    kind("extern", attributes=("name", "arity"), optional=("pure", "cost", "resource", "attributes"),
         doc="a function the host supplies; effectful unless pure"),
    kind("typedef", attributes=("name", "form"), optional=("fields", "cases"),
         doc="a record, union or unit-of-measure declaration"),
)

_VALUES = (
    kind("param", attributes=("index", "name"), doc="a region parameter"),
    kind("token", doc="a region's entry effect token"),
    kind("const", attributes=("value", "type")),
    kind("ref", attributes=("name",), doc="a top-level symbol or an intrinsic"),
    kind("prim", operands="+", attributes=("op",), optional=("type",)),
    kind("lambda", regions=1, optional=("name",)),
    kind("tuple", operands="*"),
    kind("proj", operands=1, attributes=("index",)),
    kind("record", operands="*", attributes=("type", "fields")),
    kind("field", operands=1, attributes=("name",)),
    kind("with", operands="+", attributes=("fields",), doc="record copy: operand 0 is the record"),
    kind("union", operands="*", attributes=("type", "case")),
    kind("array", operands="*"),
    kind("list", operands="*"),
    kind("cons", operands=2),
    kind("index", operands="+", doc="a.[i] or m.[i, j]"),
)

# -- the source language: order is the body order, no tokens --------------------
Clef = Language.define(
    "clef",
    *_DECLARATIONS,
    *_VALUES,
    kind("apply", operands="+", doc="callee then arguments; may be partial"),
    kind("if", operands=1, regions=2),
    kind("match", operands=1, attributes=("patterns", "guards"), regions="*"),
    kind("store", operands="+", doc="a.[i] <- v / m.[i, j] <- v: array, indices, value"),
    kind("var", operands=1, attributes=("name",), doc="let mutable: a cell with its initial value"),
    kind("load", operands=1, doc="read a mutable cell"),
    kind("assign", operands=2, doc="cell <- value"),
    kind("while", regions=2, doc="condition region, body region"),
    kind("for", operands=2, regions=1, doc="inclusive range; the body's param is the index"),
    kind("foreach", operands=1, regions=1),
    kind("async", regions=1),
    kind("bind", operands=1, doc="let! / do!: wait for an Async"),
    kind("query", operands=1, regions=1, doc="for m in xs do select e"),
    kind("actor", operands=1, regions=1, doc="Actor.start init handler; handler params (state, msg)"),
    kind("post", operands=2, doc="actor.PostAndReply(msg)"),
    kind("tell", operands=2, doc="actor.Tell(msg)"),
)

# -- elaboration: explicit effects, SSA, native operations ----------------------
Elaborated = Clef.delta(
    "elaborated",
    remove=("apply", "var", "load", "assign", "while", "for", "bind", "query", "store", "post", "tell",
            "if", "match", "foreach"),
    add=(
        kind("native", operands="*", attributes=("op",), token="optional",
             doc="an intrinsic (Array.map, sqrt, float, ...) as a native operation"),
        kind("call", operands="+", token="optional", optional=("callee",),
             doc="a saturated call; operand 0 is the callee; a token when it may have effects"),
        kind("pap", operands="+", doc="a partial application (closure over leading arguments)"),
        kind("if", operands=1, regions=2, token="optional"),
        kind("match", operands=1, attributes=("patterns", "guards"), regions="*", token="optional"),
        kind("store", operands="+", token="always"),
        kind("loop", operands="*", regions=2, token="optional",
             doc="while with loop-carried values: operands are the initial values; "
                 "condition and body regions take the carried values as params; "
                 "the body yields the next ones; the node's value is the tuple of final ones"),
        kind("for", operands="+", regions=1, token="optional",
             doc="operands lo, hi, then initial carried values; body params (index, carried...); "
                 "the body yields the next carried values; the node's value is the tuple of final ones"),
        kind("foreach", operands="+", regions=1, token="optional",
             doc="operands xs, then initial carried values; body params (element, carried...); "
                 "the body yields the next carried values; the node's value is the tuple of final ones"),
        kind("await", operands=1, token="always", doc="a suspension point: the crossing"),
        kind("post", operands=2, token="always"),
        kind("tell", operands=2, token="always"),
    ),
)

# -- saturation: higher-order intrinsics and matches become primitive sub-graphs --
Saturated = Elaborated.delta(
    "saturated",
    remove=("match",),
    add=(
        kind("parallel_for", operands="+", attributes=("origin", "container"), regions=1, token="optional",
             doc="an index space: operands the extents, region params the indices, yields one element"),
        kind("reduce", operands="+", attributes=("op", "associative", "reassociate", "origin"), regions=1,
             token="optional", doc="a left fold of xs (operands xs[, init]); region params (acc, x)"),
        kind("stencil", operands=2, attributes=("origin", "container"), optional=("window",), regions=1,
             token="optional", doc="sliding windows of xs (operands size, xs); region params (i, window)"),
        kind("scan", operands=1, attributes=("op", "exclusive"), doc="prefix combinations of xs"),
        kind("scatter", operands=3, attributes=("container",),
             doc="(values, flags, positions): the flagged values, each at its position"),
        kind("concat", operands=1, attributes=("container",), doc="an array of containers, concatenated"),
        kind("extent", operands=1, attributes=("dim",), doc="the length of one dimension of a container"),
        kind("tag_test", operands=1, attributes=("case",), doc="is the union value this case"),
        kind("case_field", operands=1, attributes=("case", "index"), doc="a payload field of a union case"),
        kind("match_failure", doc="no arm matched: running it fails"),
    ),
)

LANGUAGES = {lang.name: lang for lang in (Clef, Elaborated, Saturated)}

# -- telemetry: probes at coeffect boundaries, off unless asked for ---------------
# A probe owns one region holding the node it measures (a pure computation, a
# resource access or an actor message); its value is the region's value, and it
# takes the measured node's place in the token chain when that node had one.
Telemetry = Saturated.extend(
    "telemetry",
    kind("probe", attributes=("probe", "site"), regions=1, token="optional",
         doc="measures its region: probe is cycles, latency or queue; site names the place; "
             "the value is the region's (the measured node's)"),
)
LANGUAGES[Telemetry.name] = Telemetry

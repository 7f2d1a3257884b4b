"""The reference interpreter's parts: values, operators, the machine, evaluators, intrinsics, async, actors.

`nanopass.interpreter` is the public entry point; importing this package
registers every evaluator of the levels it knows (Clef, Elaborated, and in
`nanopass.interp.saturated` the kinds Saturated adds, in `nanopass.interp.probes`
the ``probe`` of Telemetry).
"""

from nanopass.interp import actors, asyncs, evaluators, intrinsics, probes, saturated  # noqa: F401  (registration)

"""Fuzz the Clef parser with N cases (default 10^5): mutated example programs
and random bytes.  Every case must give a Program or a DiagnosticError located
inside the file; anything else (another exception, a diagnostic outside the
file) is a failure.  Prints the number of cases, the failures and the time;
exits 1 if there were failures.

    .venv/bin/python tests/fuzz/fuzz_parser.py [-n 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import traceback
from pathlib import Path

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend.parser import parse_program

EXAMPLES_DIR = Path("/work/shared/examples")
if not EXAMPLES_DIR.is_dir():
    EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

VOCABULARY = [
    "let ", "rec ", "and ", "mutable ", "in ", "fun ", "->", "if ", "then ", "elif ", "else ",
    "match ", "with ", "| ", "when ", "while ", "for ", " do ", "..", "type ", "of ", "extern ",
    "async {", "query {", "let! ", "do! ", "return ", "select ", "(", ")", "[", "]", "[|", "|]",
    "{", "}", "[<", ">]", ".[", "<", ">", ">>", "|>", "<-", "::", "&&&", "-", "-1", "=", ",",
    ";", ":", ".", "'T", "_", "0xFF", "300uy", "1.5f", "1e9", "2.0<m>", "float<m/s^2>",
    '"s"', '"', "(*", "*)", "//", "\n", "\n    ", "\n        ", "\t", "\r", "\x00", "é", "\u2028",
]


def mutate(text: str, rng: random.Random) -> str:
    """A few character- or token-level edits of `text`."""
    for _ in range(rng.randint(1, 4)):
        edit = rng.choice(["delete", "insert", "duplicate", "swap", "swap-tokens", "replace-token"])
        at = rng.randint(0, len(text))
        if edit == "delete":
            text = text[:at] + text[at + rng.randint(1, 8):]
        elif edit == "insert":
            text = text[:at] + rng.choice(VOCABULARY) + text[at:]
        elif edit == "duplicate":
            start = rng.randint(0, len(text))
            text = text[:at] + text[start:start + rng.randint(1, 40)] + text[at:]
        elif edit == "swap":
            text = text[:at] + text[at + 1:at + 2] + text[at:at + 1] + text[at + 2:]
        else:
            tokens = re.findall(r"\w+|\s+|.", text, re.S)
            if not tokens:
                continue
            i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
            if edit == "swap-tokens":
                tokens[i], tokens[j] = tokens[j], tokens[i]
            else:
                tokens[i] = rng.choice(VOCABULARY)
            text = "".join(tokens)
    return text


def problem(source: str | bytes) -> str | None:
    """None when `source` parses, or gives a diagnostic inside the file that
    renders with its source line and caret; otherwise what went wrong."""
    try:
        parse_program(source, "fuzz.clef")
    except DiagnosticError as error:
        return _diagnostic_problem(error)
    except Exception:  # noqa: BLE001 - any other exception is the finding
        return traceback.format_exc()
    return None


def _diagnostic_problem(error: DiagnosticError) -> str | None:
    diagnostic = error.diagnostics[0]
    span = diagnostic.span
    if diagnostic.source is None or span.file != "fuzz.clef":
        return f"diagnostic without its source or file: {diagnostic!r}"
    lines = diagnostic.source.splitlines()
    if not lines:
        return None if (span.line, span.col) == (1, 1) else f"diagnostic outside an empty file: {span}"
    if not 1 <= span.line <= len(lines) or not 1 <= span.col <= len(lines[span.line - 1]) + 1:
        return f"diagnostic outside the file: {span}"
    rendered = str(error).splitlines()
    caret = rendered[2] if len(rendered) == 3 else ""
    if (rendered[0] != f"fuzz.clef:{span.line}:{span.col}: error: {diagnostic.message}"
            or rendered[1] != lines[span.line - 1].expandtabs(1)
            or not caret.lstrip(" ").startswith("^") or caret.strip(" ^~")):
        return f"badly rendered diagnostic:\n{error}"
    return None


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("-n", type=int, default=100_000, help="number of cases")
    arguments.add_argument("--seed", type=int, default=0)
    arguments.add_argument("--show", type=int, default=5, help="failures to print in full")
    options = arguments.parse_args()
    rng = random.Random(options.seed)
    examples = [p.read_text() for p in sorted(EXAMPLES_DIR.glob("*.clef"))]
    failures = 0
    started = time.perf_counter()
    for case in range(options.n):
        if case % 10 == 0:
            source: str | bytes = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        else:
            source = mutate(rng.choice(examples), rng)
        found = problem(source)
        if found is not None:
            failures += 1
            if failures <= options.show:
                print(f"--- case {case}: {source!r}\n{found}")
    elapsed = time.perf_counter() - started
    per_case = 1000 * elapsed / max(options.n, 1)
    print(f"{options.n} cases, {failures} failures, {elapsed:.1f} s ({per_case:.2f} ms/case)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

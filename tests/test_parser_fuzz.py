"""Fuzzing the parser: whatever the input, parse_program returns a Program or
raises DiagnosticError located inside the file, never anything else.

The non-slow tests run 10^4 cases in all; tests/fuzz/fuzz_parser.py runs more.
"""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend import ast
from nanopass.frontend.parser import parse_program

EXAMPLES_DIR = Path("/work/shared/examples")
if not EXAMPLES_DIR.is_dir():
    EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = [p.read_text() for p in sorted(EXAMPLES_DIR.glob("*.clef"))]

# Tokens worth inserting: every kind of bracket, keyword, operator and layout trap.
VOCABULARY = [
    "let ", "rec ", "and ", "mutable ", "in ", "fun ", "->", "if ", "then ", "elif ", "else ",
    "match ", "with ", "| ", "when ", "while ", "for ", " do ", "..", "type ", "of ", "extern ",
    "async {", "query {", "let! ", "do! ", "return ", "select ", "(", ")", "[", "]", "[|", "|]",
    "{", "}", "[<", ">]", ".[", "<", ">", ">>", "|>", "<-", "::", "&&&", "-", "-1", "=", ",",
    ";", ":", ".", "'T", "_", "0xFF", "300uy", "1.5f", "1e9", "2.0<m>", "float<m/s^2>",
    '"s"', '"', "(*", "*)", "//", "\n", "\n    ", "\n        ", "\t", "\r", "\x00", "é", "\u2028",
]
SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def assert_program_or_located_diagnostic(source) -> None:
    try:
        program = parse_program(source, "fuzz.clef")
    except DiagnosticError as error:
        diagnostic = error.diagnostics[0]
        lines = diagnostic.source.splitlines()
        span = diagnostic.span
        assert span.file == "fuzz.clef"
        assert 1 <= span.line <= max(1, len(lines)), (span, source)
        line_text = lines[span.line - 1] if lines else ""
        assert 1 <= span.col <= len(line_text) + 1, (span, source)
        rendered = str(error).splitlines()
        assert rendered[0].startswith(f"fuzz.clef:{span.line}:{span.col}: error: ")
        if lines:
            assert rendered[1] == line_text.expandtabs(1)
            assert rendered[2].lstrip(" ").startswith("^") and not rendered[2].strip(" ^~")
    else:
        assert isinstance(program, ast.Program)


@st.composite
def mutated_example(draw) -> str:
    """An example with a few character- or token-level edits."""
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "swap-tokens", "replace-token"]))
        at = draw(st.integers(0, len(text)))
        if edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif edit == "insert":
            text = text[:at] + draw(st.sampled_from(VOCABULARY) | st.characters()) + text[at:]
        elif edit == "duplicate":
            start = draw(st.integers(0, len(text)))
            text = text[:at] + text[start:start + draw(st.integers(1, 40))] + text[at:]
        elif edit == "swap":
            text = text[:at] + text[at + 1:at + 2] + text[at:at + 1] + text[at + 2:]
        else:
            tokens = re.findall(r"\w+|\s+|.", text, re.S)
            i = draw(st.integers(0, max(0, len(tokens) - 1)))
            if edit == "swap-tokens":
                j = draw(st.integers(0, max(0, len(tokens) - 1)))
                tokens[i:i + 1], tokens[j:j + 1] = tokens[j:j + 1], tokens[i:i + 1]
            else:
                tokens[i:i + 1] = [draw(st.sampled_from(VOCABULARY))]
            text = "".join(tokens)
    return text


@settings(max_examples=3000, **SETTINGS)
@given(st.binary(max_size=300))
def test_random_bytes(source):
    assert_program_or_located_diagnostic(source)


@settings(max_examples=2000, **SETTINGS)
@given(st.lists(st.sampled_from(VOCABULARY + ["x", "f", "1", " ", "A"]), max_size=60).map("".join))
def test_random_token_soup(source):
    assert_program_or_located_diagnostic(source)


@settings(max_examples=5000, **SETTINGS)
@given(mutated_example())
def test_mutated_examples(source):
    assert_program_or_located_diagnostic(source)


@pytest.mark.slow
@settings(max_examples=20_000, **SETTINGS)
@given(mutated_example())
def test_mutated_examples_long_run(source):
    assert_program_or_located_diagnostic(source)


@pytest.mark.parametrize("text", EXAMPLES)
def test_every_prefix_of_an_example(text):
    # Cutting a file anywhere is the commonest malformed input (an editor mid-typing).
    for end in range(0, len(text), 7):
        assert_program_or_located_diagnostic(text[:end])

"""Fuzzing the parser: whatever the input, parse_program returns a Program or
raises DiagnosticError located inside the file, never anything else.

The non-slow tests run 10^4 cases in all; tests/fuzz/fuzz_parser.py runs more.
"""

import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

# The vocabulary of edits and the outcome check are shared with the fuzz script.
sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
from fuzz_parser import EXAMPLES_DIR, VOCABULARY, problem  # noqa: E402

EXAMPLES = [p.read_text() for p in sorted(EXAMPLES_DIR.glob("*.clef"))]
SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def assert_program_or_located_diagnostic(source) -> None:
    found = problem(source)
    assert found is None, f"{source!r}\n{found}"


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

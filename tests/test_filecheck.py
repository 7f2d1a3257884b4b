"""Runs the lit/filecheck suite in tests/filecheck (one file per pass or option, xDSL style)."""

import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "filecheck"
TESTS = sorted(str(p.relative_to(SUITE)) for p in SUITE.rglob("*") if p.suffix in (".mlir", ".clef")
               and not {"inputs", "Output"} & set(p.parts))


@pytest.mark.parametrize("test", TESTS)
def test_filecheck(test):
    lit = Path(sys.executable).with_name("lit")
    result = subprocess.run([str(lit), "-v", str(SUITE / test)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

"""`nanopass dot`: the saturated graph with strand clusters, crossing hyperedges and the critical path."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

from nanopass.cli import main
from nanopass.diagnostics import DiagnosticError
from nanopass.dot import CRITICAL, STRAND_FILLS, draw, picture, render
from nanopass.frontend import parse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (make install installs Debian's graphviz)")


def saturated(name: str):
    path = EXAMPLES / f"{name}.clef"
    return draw(parse(path.read_text(), str(path)))


def test_regions_are_clusters_filled_with_their_strand():
    source = picture(saturated("process")).source
    assert "subgraph cluster_r1 {" in source and "subgraph cluster_r2 {" in source
    assert f'fillcolor="{STRAND_FILLS["width-dense"]}" label="#1 func process\\nwidth-dense"' in source


def test_crossings_are_one_hyperedge_node_each():
    graph = saturated("resolver")
    crossings = graph.annotation("crossings")
    source = picture(graph).source
    assert crossings
    for edge_id, hyperedge in crossings.items():
        assert f'h{edge_id} [label="crossing {edge_id}"' in source
        bound = re.findall(rf"\bh{edge_id} -> n(\d+)", source)
        assert sorted(int(b) for b in bound) == sorted(hyperedge.nodes)


def test_the_critical_path_is_drawn_in_red():
    source = picture(saturated("process")).source
    marked = re.findall(r'n(\d+) \[label="%\d+ (\w+)\\n(\w*)" color="' + re.escape(CRITICAL), source)
    calls = [detail for _, kind, detail in marked if kind == "call"]
    assert calls == ["calibrate", "extractScore", "normalize"]


@needs_dot
def test_svg_holds_the_clusters(tmp_path, capsys):
    out = tmp_path / "resolver.svg"
    assert main(["dot", str(EXAMPLES / "resolver.clef"), "-o", str(out)]) == 0
    svg = ET.fromstring(out.read_bytes())
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    clusters = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "cluster"]
    assert "cluster_r1" in titles and len(clusters) == len([t for t in titles if t.startswith("cluster_r")])
    assert any(t == "h0" for t in titles)
    assert [p.name for p in tmp_path.iterdir()] == ["resolver.svg"]  # written atomically: no temporary left


@needs_dot
def test_png_and_dot_outputs(tmp_path):
    png, dot = tmp_path / "p.png", tmp_path / "p.dot"
    assert main(["dot", str(EXAMPLES / "process.clef"), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["dot", str(EXAMPLES / "process.clef"), "-o", str(dot)]) == 0
    text = dot.read_text()
    assert text.startswith("digraph psg {") and "cluster_r1" in text
    assert graphviz.Source(text).pipe(format="svg").startswith(b"<?xml")


def test_an_unknown_format_is_a_diagnostic(tmp_path, capsys):
    code = main(["dot", str(EXAMPLES / "process.clef"), "-o", str(tmp_path / "p.pdf")])
    err = capsys.readouterr().err
    assert code == 1 and "cannot draw a '.pdf' file; expected an output ending in .dot, .svg, .png" in err
    assert not list(tmp_path.iterdir())


def test_a_missing_dot_program_is_a_diagnostic(monkeypatch, capsys):
    def missing(*args, **kw):
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    with pytest.raises(DiagnosticError) as raised:
        render(saturated("process"), "svg")
    assert "Graphviz's 'dot' program is not installed" in str(raised.value)

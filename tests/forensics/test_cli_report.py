"""CLI exit codes and the HTML/JSON report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from modelkin.cli import main
from modelkin.fingerprint import fingerprint_model
from modelkin.forensics import compare, render_html

from .conftest import FingerprintCache


def test_fingerprint_and_compare_cli(
    fps: FingerprintCache, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = fps("minilm-l6").save(tmp_path / "l6.mkfp")
    b = fps("rand1").save(tmp_path / "r1.mkfp")
    c = fps("dropped").save(tmp_path / "dr.mkfp")
    assert main(["compare", str(a), str(b)]) == 0
    capsys.readouterr()
    html = tmp_path / "r.html"
    assert main(["compare", str(c), str(a), "--json", "--report", str(html)]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "derived_surgery" and out["related"] is True
    assert {"verdict", "related", "p_value", "evidence", "suspect", "candidate", "version"} <= set(
        out
    )
    page = html.read_text()
    assert "<svg" in page and "derived_surgery" in page and "<script" not in page


def test_fingerprint_cli_writes_file(
    fps: FingerprintCache, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.mkfp"
    assert main(["fingerprint", str(fps.paths["rand2"]), "-o", str(out)]) == 0
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert main(["compare", str(out), str(fps.paths["rand2"])]) == 3


def test_cli_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.mkfp"
    bad.write_bytes(b"\x1f\x8bnot really")
    assert main(["compare", str(bad), str(bad)]) == 2
    assert "bad.mkfp" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing"), str(bad)]) == 2


def test_cross_family_exit_codes(
    real_models: dict[str, Path], fps: FingerprintCache, tmp_path: Path
) -> None:
    """gemma-270m (GGUF, width 640) vs minilm-l6 (width 384): no test with a valid null can
    run, and the shape-free curves have none, so the answer is insufficient (4) with what
    would decide — never exit 0 (an earlier rule called this pair unrelated from the
    descriptive curve test alone, which is how a true claim on a width-pruned copy came
    out 'contradicted'); fingerprints made with different seeds share no sample positions
    -> insufficient (4) too."""
    if importlib.util.find_spec("modelkin.io.gguf") is None:
        pytest.skip("GGUF reader not available yet")
    g = fps("gemma-270m").save(tmp_path / "g.mkfp")
    m = fps("minilm-l6").save(tmp_path / "m.mkfp")
    assert main(["compare", str(g), str(m)]) == 4
    report = compare(fps("gemma-270m"), fps("minilm-l6"))
    assert report.verdict == "insufficient" and report.decide
    assert any("--activations" in d for d in report.decide)
    m1 = fingerprint_model(real_models["minilm-l6"], seed=1).save(tmp_path / "m1.mkfp")
    assert main(["compare", str(m1), str(m)]) == 4


def test_html_report_explains_tests(fps: FingerprintCache) -> None:
    page = render_html(compare(fps("permuted"), fps("minilm-l6")))
    for name in ("unit_matching", "layer_alignment", "parameter_similarity", "Null distribution"):
        assert name in page


def test_report_plots_show_both_curves_when_they_coincide(fps: FingerprintCache) -> None:
    """A model against itself: every per-layer curve pair coincides; both stay visible
    (a wide pale suspect line under a thin dark candidate line, each with its markers)
    and the plot says they coincide; two different models' curves do not say so."""
    import re

    same = render_html(compare(fps("minilm-l6"), fps("minilm-l6")))
    plots = re.findall(r"<svg width=\"300\".*?</svg>", same)
    assert plots
    for svg in plots:
        assert svg.count("<polyline") == 2 and 'stroke-width="5"' in svg
        assert "<circle" in svg and "<rect" in svg and "the two curves coincide" in svg
    other = render_html(compare(fps("minilm-l6"), fps("rand1")))
    assert "the two curves coincide" not in other

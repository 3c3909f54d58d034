"""``modelkin search``: JSON output, reports and exit codes (like ``compare``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelkin.cli import main

from .conftest import World


def test_cli_search_derived_exits_3_with_json(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fp = world.fps["a-derived"].save(tmp_path / "q.fp")
    reports = tmp_path / "reports"
    args = ["search", str(fp), "--home", str(world.home), "--top", "2", "--json"]
    assert main([*args, "--report-dir", str(reports)]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 2
    first = out["candidates"][0]
    assert first["model"]["name"] == "tiny-a" and first["related"] is True
    assert first["verdict"] in ("derived", "derived_surgery") and first["p_value"] < 1e-6
    assert {"score", "channels"} <= set(first["index"]) and first["evidence"]
    assert len(list(reports.glob("*.html"))) == 2


def test_cli_search_control_exits_0(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fp = world.fps["tiny-c"].save(tmp_path / "c.fp")
    assert main(["search", str(fp), "--home", str(world.home), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("verdict:") == 3 and "related" not in out.replace("unrelated", "")


def test_cli_search_bad_input_is_a_clear_error(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.fp"
    bad.write_bytes(b"\x1f\x8bnot really gzip")
    assert main(["search", str(bad), "--home", str(world.home)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "bad.fp" in err
    assert main(["search", str(bad), "--home", str(world.home), "--top", "0"]) == 2
    assert "--top" in capsys.readouterr().err

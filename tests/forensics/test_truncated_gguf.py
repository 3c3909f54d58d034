"""A GGUF truncated inside its tensor data, header and tokenizer intact (issue 19, smaller
findings): fingerprinted as far as it can be read, never refused as bad input, and never
given an independence verdict: ``insufficient`` with the truncation named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelkin.cli import main
from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.forensics import compare
from modelkin_dev.synth import convert, models, specs

SPEC = specs.LlamaSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("trunc")
    out = {}
    for seed in (1, 2):
        out[f"hf{seed}"] = models.save(models.build(SPEC, seed), SPEC, d / f"hf{seed}")
    whole = convert.to_gguf(out["hf1"], d / "whole.gguf")
    data = whole.read_bytes()
    cut = d / "cut.gguf"
    cut.write_bytes(data[: len(data) * 3 // 4])  # inside the tensor data
    out |= {"whole": whole, "cut": cut}
    return out


@pytest.fixture(scope="module")
def fps(files: dict[str, Path]) -> dict[str, Fingerprint]:
    return {k: fingerprint_model(p) for k, p in files.items()}


def test_truncated_file_is_fingerprinted_as_far_as_readable(fps: dict[str, Fingerprint]) -> None:
    cut, whole = fps["cut"], fps["whole"]
    assert cut.missing and not whole.missing
    assert 0 < len(cut.roles) < len(whole.roles)
    assert cut.tokenizer is not None and whole.tokenizer is not None
    assert cut.tokenizer["token_hashes"] == whole.tokenizer["token_hashes"]
    for key, r in cut.roles.items():  # what was read is what the whole file holds
        assert r["sample"] == whole.roles[key]["sample"], key
    again = Fingerprint.from_dict(json.loads(json.dumps(cut.to_dict())))
    assert again.missing == cut.missing and again.digest() == cut.digest()
    assert "missing" not in whole.to_dict()  # complete models keep their digests


def test_truncated_file_never_gets_an_independence_verdict(fps: dict[str, Fingerprint]) -> None:
    r = compare(fps["cut"], fps["hf2"])
    assert r.verdict == "insufficient", (r.verdict, r.reason)
    assert "truncated" in r.reason and fps["cut"].name in r.reason
    assert any("complete model file" in d for d in r.decide)


def test_relation_in_the_readable_part_stands(fps: dict[str, Fingerprint]) -> None:
    r = compare(fps["cut"], fps["hf1"])
    assert r.related is True, (r.verdict, r.reason)


def test_cli_answers_instead_of_refusing(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["compare", str(files["cut"]), str(files["hf2"])])
    out = capsys.readouterr().out
    assert code == 4, out
    assert "verdict: insufficient" in out and "truncated" in out

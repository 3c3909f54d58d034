"""C2PA: sign a disclosure into real PNG/JPEG files with a test chain, read it back offline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from modelkin.errors import ModelkinError
from modelkin.works import classify, work_from_dict
from modelkin.works.c2pa_io import (
    actions_assertion,
    embed_manifest,
    fill_from_manifest,
    read_manifest,
)

TODAY = dt.date(2026, 6, 1)


def work(ai_use: dict[str, Any] | None) -> Any:
    return work_from_dict(
        {
            "title": "Harbour",
            "kind": "image",
            "created": "2025-01-01",
            "authors": [{"name": "Ada"}],
            "ai_use": ai_use,
        },
        "w",
        TODAY,
    )


ASSISTED = {
    "systems": [
        {"name": "ImageGen", "role": "generated", "version": "3.1"},
        {"name": "Upscaler", "role": "edited"},
    ],
    "ai_share": 0.4,
    "human_contribution": "sketch, composition, retouching",
}


def test_actions_assertion_shape() -> None:
    w = work(ASSISTED)
    a = actions_assertion(w, classify(w))
    assert a["label"] == "c2pa.actions.v2"
    first = a["data"]["actions"][0]
    assert first["action"] == "c2pa.created"
    assert first["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")
    assert first["softwareAgent"] == {"name": "ImageGen", "version": "3.1"}
    assert a["data"]["actions"][1]["action"] == "c2pa.edited"


def test_sign_embed_read_back_trusted(pki: Any, png: Path, tmp_path: Path) -> None:
    w = work(ASSISTED)
    c = classify(w)
    out = tmp_path / "signed.png"
    embed_manifest(w, c, png, out, pki.chain_pem, pki.key_pem)
    reading = read_manifest(out, pki.root_pem.decode())
    assert reading is not None
    assert reading.validation_failures == []
    assert reading.signer == "modelkin test signer"
    assert reading.terms == [
        "compositeWithTrainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
    ]
    d = reading.disclosure
    assert d.source == "c2pa"
    assert d.systems == w.disclosure.systems
    assert d.ai_share == pytest.approx(0.4)
    assert d.human_contribution == w.disclosure.human_contribution
    # a creator who declared nothing gets the disclosure from the file
    filled = fill_from_manifest(work(None), reading)
    again = classify(filled, reading.disclosure, reading.terms)
    assert (again.tier, again.contradictions) == ("ai-assisted", [])
    # without the test root as trust anchor the signature is reported as untrusted
    untrusted = read_manifest(out)
    assert untrusted is not None and untrusted.validation_failures


def test_manifest_contradicts_declaration(pki: Any, jpeg: Path, tmp_path: Path) -> None:
    generated = work({"systems": [{"name": "Gen", "role": "generated"}], "ai_share": 1})
    out = tmp_path / "gen.jpg"
    embed_manifest(generated, classify(generated), jpeg, out, pki.chain_pem, pki.key_pem)
    reading = read_manifest(out, pki.root_pem.decode())
    assert reading is not None and reading.terms == ["trainedAlgorithmicMedia"]
    claims_human = work({"systems": [], "ai_share": 0})
    c = classify(claims_human, reading.disclosure, reading.terms)
    assert c.tier == "human" and c.manifest_tier == "ai-generated"
    assert any("trainedAlgorithmicMedia" in f for f in c.contradictions)


def test_files_without_or_with_broken_manifest(png: Path, tmp_path: Path) -> None:
    assert read_manifest(png) is None
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    with pytest.raises(ModelkinError, match=r"bad\.png"):
        read_manifest(bad)
    with pytest.raises(ModelkinError, match=r"unsupported|media type"):
        read_manifest(Path(__file__))  # .py: no media type c2pa knows
    with pytest.raises(ModelkinError, match="no such file"):
        read_manifest(tmp_path / "missing.png")


def test_store_with_foreign_source_type_is_flagged() -> None:
    from modelkin.works.c2pa_io import reading_from_store

    store = {
        "active_manifest": "m",
        "manifests": {
            "m": {
                "title": "x",
                "assertions": [
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {"action": "c2pa.created", "digitalSourceType": "urn:other:x"}
                            ]
                        },
                    }
                ],
            }
        },
    }
    reading = reading_from_store(store, "f.png")
    assert reading is not None and reading.terms == []
    assert any("not an IPTC term" in f for f in reading.contradictions)
    assert reading_from_store({"manifests": {}}, "f.png") is None

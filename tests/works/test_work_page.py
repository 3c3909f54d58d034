"""A work's page on a live server: tier, terms everywhere with the rule and why an end is
open, inferences, conflicts, and the C2PA state (an unverified disclosure says so)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from server_live import live_server

from modelkin.registry import Registry, register_identity
from modelkin.statements import Identity
from modelkin.works import classify, work_from_dict
from modelkin.works.c2pa_io import embed_manifest, fill_from_manifest, read_manifest
from modelkin.works.register import register_work


def test_work_pages(tmp_path: Path, png: Path, pki: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("MODELKIN_C2PA_TRUST_ANCHORS", raising=False)
    home = tmp_path / "home"
    ident = Identity.generate("ada")
    human = work_from_dict(
        {"title": "Poem", "kind": "text", "created": "2024-01-01",
         "authors": [{"name": "Ada", "birth_year": 1980}], "ai_use": {"systems": []}},
        "w",
    )  # fmt: skip
    gen = work_from_dict(
        {"title": "Dawn", "kind": "image", "created": "2025-01-01", "authors": [],
         "ai_use": {"systems": [{"name": "Gen", "role": "generated"}]}},
        "w",
    )  # fmt: skip
    signed = tmp_path / "dawn.png"
    embed_manifest(gen, classify(gen), png, signed, pki.chain_pem, pki.key_pem)
    bare = work_from_dict({"title": "Dawn", "kind": "image", "created": "2025-01-01"}, "w")
    unverified = fill_from_manifest(bare, read_manifest(signed))
    poem = tmp_path / "poem.txt"
    poem.write_text("words\n")
    with Registry.open(home) as reg:
        register_identity(reg, ident)
        r_human = register_work(reg, ident, human, poem).record_id
        r_gen = register_work(reg, ident, unverified, signed).record_id
    with live_server(home) as url:
        page = httpx.get(f"{url}/works/{r_human}").text
        assert "Protection in each jurisdiction" in page
        assert "open: life of the author + 70 years: death year unknown (Ada)" in page
        assert "open: life of the author + 50 years: death year unknown (Ada)" in page  # hk/nz/cn
        assert "Unverified disclosure" not in page
        page = httpx.get(f"{url}/works/{r_gen}").text
        assert "Unverified disclosure" in page and "UNVERIFIED DISCLOSURE" in page
        assert "Valid, signer not trusted (unverified)" in page
        assert "ai-generated" in page and "never stored" in page  # the inferred share, marked
        assert "us-no-human-authorship" in page and "uk-cdpa-s12-7" in page
        listing = httpx.get(f"{url}/works").text
        assert f'href="/works/{r_gen}"' in listing and "unverified disclosure" in listing
        assert "<script" not in page  # CSP-friendly: no inline scripts
        assert httpx.get(f"{url}/works/{'0' * 12}").status_code == 404

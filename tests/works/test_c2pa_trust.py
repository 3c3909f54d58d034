"""C2PA trust: tampered manifests refused with their failure codes, untrusted ones kept only as
an unverified disclosure (registry, label, CLI), truncated files are errors, edits and
composites get the right actions, the real version is written, and a configured time-stamp
authority is really asked (signing fails when it refuses: no timestamp is made up)."""

from __future__ import annotations

import http.server
import importlib.metadata
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelkin.cli import main
from modelkin.errors import ModelkinError
from modelkin.registry import Registry
from modelkin.works import classify, label_text, work_from_dict
from modelkin.works.c2pa_io import (
    Ingredient,
    ManifestInvalid,
    embed_manifest,
    read_manifest,
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def work(ai_use: dict[str, Any] | None, authors: list[dict[str, Any]] | None = None) -> Any:
    return work_from_dict(
        {
            "title": "Harbour",
            "kind": "image",
            "created": "2025-01-01",
            "authors": [{"name": "Ada"}] if authors is None else authors,
            "ai_use": ai_use,
        },
        "w",
    )


GENERATED = {"systems": [{"name": "Gen", "role": "generated"}], "ai_share": 1}


@pytest.fixture
def signed(pki: Any, png: Path, tmp_path: Path) -> Path:
    """A PNG carrying a manifest that says the image was generated (no share declared)."""
    w = work({"systems": [{"name": "Gen", "role": "generated"}]}, authors=[])
    out = tmp_path / "signed.png"
    embed_manifest(w, classify(w), png, out, pki.chain_pem, pki.key_pem)
    return out


def _tamper(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    i = data.find(b"IDAT")
    data[i + 10] ^= 0xFF  # change pixels; keep the chunk's CRC right so only C2PA can notice
    import struct
    import zlib

    (length,) = struct.unpack(">I", data[i - 4 : i])
    data[i + 4 + length : i + 8 + length] = struct.pack(">I", zlib.crc32(data[i : i + 4 + length]))
    out = path.with_name("tampered.png")
    out.write_bytes(bytes(data))
    return out


def test_tampered_manifest_is_refused_with_its_failure_code(
    signed: Path, pki: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _tamper(signed)
    with pytest.raises(ManifestInvalid, match=r"assertion\.dataHash\.mismatch"):
        read_manifest(bad, pki.root_pem.decode())
    home = str(tmp_path / "home")
    wj = tmp_path / "w.json"
    wj.write_text(json.dumps({"title": "H", "kind": "image", "created": "2025-01-01"}))
    assert run(capsys, "keys", "new", "ada", "--home", home)[0] == 0
    code, _, err = run(
        capsys, "works", "register", str(bad), "--work", str(wj), "--key", "ada",
        "--home", home, "--from-c2pa",
    )  # fmt: skip
    assert code == 2 and "assertion.dataHash.mismatch" in err and "refused" in err
    with Registry.open(Path(home)) as reg:
        assert reg.works() == []  # nothing registered


def test_untrusted_manifest_is_an_unverified_disclosure_everywhere(
    signed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.delenv("MODELKIN_C2PA_TRUST_ANCHORS", raising=False)
    reading = read_manifest(signed)  # default trust list: empty
    assert reading is not None and reading.validation_state == "Valid" and not reading.trusted
    assert any("signingCredential.untrusted" in f for f in reading.validation_failures)
    home = str(tmp_path / "home")
    wj = tmp_path / "w.json"
    wj.write_text(json.dumps({"title": "H", "kind": "image", "created": "2025-01-01"}))
    run(capsys, "keys", "new", "ada", "--home", home)
    code, out, err = run(
        capsys, "works", "register", str(signed), "--work", str(wj), "--key", "ada",
        "--home", home, "--from-c2pa",
    )  # fmt: skip
    assert code == 0, err
    assert "UNVERIFIED" in out and "UNVERIFIED" in err
    rid = out.split()[1]
    with Registry.open(Path(home)) as reg:
        pred = reg.record(rid, kind="work").predicate
    ai = pred["ai_use"]
    assert ai["source"] == "c2pa" and ai["c2pa"]["trusted"] is False
    assert ai["c2pa"]["validation_state"] == "Valid"
    assert ai["ai_share"] is None  # the manifest said no share: none is stored
    # ... but it is inferred (and shown as inferred) when read back
    code, out, _ = run(capsys, "works", "classify", rid, "--home", home, "--json")
    got = json.loads(out)
    assert got["tier"] == "ai-generated"
    assert any(i["fact"] == "ai_share" and "never stored" in i["reason"] for i in got["inferences"])
    assert any("UNVERIFIED" in t for t in got["trust"])
    code, out, _ = run(capsys, "works", "disclose", rid, "--home", home)
    assert "UNVERIFIED DISCLOSURE" in out


def test_trusted_with_user_anchors(
    signed: Path, pki: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    anchors = tmp_path / "roots.pem"
    anchors.write_bytes(pki.root_pem)
    monkeypatch.setenv("MODELKIN_C2PA_TRUST_ANCHORS", str(anchors))
    reading = read_manifest(signed)
    assert reading is not None and reading.trusted and reading.validation_failures == []
    w = work({"systems": []})
    c = classify(w, reading.disclosure, reading.terms, reading.trust)
    assert c.tier == "human" and any(
        "C2PA manifest says ai-generated" in f for f in c.contradictions
    )
    assert "C2PA manifest signed by a trusted signer" in label_text(w, c)


def test_truncated_png_is_an_error_not_no_manifest(signed: Path, png: Path, tmp_path: Path) -> None:
    data = signed.read_bytes()
    iend = data.rfind(b"IEND") - 4
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[:iend])  # ends cleanly after a chunk, but IEND is gone
    with pytest.raises(ModelkinError, match=r"cut\.png.*truncated PNG"):
        read_manifest(cut)
    half = tmp_path / "half.png"
    half.write_bytes(png.read_bytes()[:-20])
    with pytest.raises(ModelkinError, match="truncated PNG"):
        read_manifest(half)
    assert read_manifest(png) is None  # an intact file without a manifest


def test_edit_of_a_parent_and_composite_actions(
    pki: Any, png: Path, jpeg: Path, tmp_path: Path
) -> None:
    w = work(
        {"systems": [{"name": "Gen", "role": "generated"}], "ai_share": 0.3},
        authors=[{"name": "Ada", "role": "modification"}],
    )
    c = classify(w)
    edited = tmp_path / "edited.png"
    embed_manifest(
        w, c, png, edited, pki.chain_pem, pki.key_pem, ingredients=[Ingredient(jpeg, "parentOf")]
    )
    r = read_manifest(edited, pki.root_pem.decode())
    assert r is not None and r.trusted
    assert r.actions[0] == "c2pa.opened" and "c2pa.edited" in r.actions
    assert "c2pa.created" not in r.actions and r.ingredients == 1
    comp = tmp_path / "composite.png"
    embed_manifest(
        w, c, png, comp, pki.chain_pem, pki.key_pem, ingredients=[Ingredient(jpeg, "componentOf")]
    )
    r = read_manifest(comp, pki.root_pem.decode())
    assert r is not None and r.actions[:2] == ["c2pa.created", "c2pa.placed"]
    assert r.terms[0] == "compositeWithTrainedAlgorithmicMedia" and r.ingredients == 1


def test_claim_generator_is_the_installed_version(pki: Any, png: Path, tmp_path: Path) -> None:
    from modelkin.works.c2pa_io import manifest_definition

    w = work(GENERATED, authors=[])
    info = manifest_definition(w, classify(w))["claim_generator_info"][0]
    assert info == {"name": "modelkin", "version": importlib.metadata.version("modelkin")}


@pytest.fixture
def tsa() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A loopback HTTP endpoint that records RFC 3161 requests and refuses them (HTTP 503)."""
    seen: list[tuple[str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            seen.append((str(self.headers.get("content-type")), body))
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}/tsa", seen
    srv.shutdown()
    t.join()


def test_tsa_url_is_asked_and_a_refusal_fails_signing(
    pki: Any, png: Path, tmp_path: Path, tsa: tuple[str, list[tuple[str, bytes]]]
) -> None:
    url, seen = tsa
    w = work(GENERATED, authors=[])
    out = tmp_path / "ts.png"
    with pytest.raises(ModelkinError, match="time-stamp authority"):
        embed_manifest(w, classify(w), png, out, pki.chain_pem, pki.key_pem, tsa_url=url)
    assert not out.exists()  # no manifest without the timestamp that was asked for
    assert seen and seen[0][0] == "application/timestamp-query"
    assert seen[0][1][:1] == b"\x30"  # a DER TimeStampReq (SEQUENCE)
    with pytest.raises(ModelkinError, match="not an http"):
        embed_manifest(w, classify(w), png, out, pki.chain_pem, pki.key_pem, tsa_url="file:///x")


def test_row4_with_a_real_manifest_exits_5(
    signed: Path, pki: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wj = tmp_path / "w.json"
    wj.write_text(
        json.dumps(
            {
                "title": "H",
                "kind": "image",
                "created": "2025-01-01",
                "authors": [{"name": "Ada"}],
                "ai_use": {"systems": []},
            }
        )
    )
    roots = tmp_path / "roots.pem"
    roots.write_bytes(pki.root_pem)
    code, out, err = run(
        capsys, "works", "classify", str(wj), "--media", str(signed), "--trust-anchors", str(roots)
    )
    assert code == 5 and "tier: human" in out
    assert "CONFLICT: the C2PA manifest says ai-generated" in err

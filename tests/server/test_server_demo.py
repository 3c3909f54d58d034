"""The demo on the real models, served: forensics, lineage verdicts, works, idempotence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_live import live_server

from modelkin.registry import Registry
from modelkin_dev.demo import seed_demo

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, real_models: dict[str, Path]) -> Iterator[str]:
    home = tmp_path_factory.mktemp("demo") / "home"
    first = seed_demo(home, fetch=real_models.__getitem__)
    assert len(first.created) == 15 and not first.existing
    again = seed_demo(home, fetch=real_models.__getitem__)
    assert again.created == [] and len(again.existing) == 15  # idempotent
    assert first.verdicts["minilm-l6-tuned finetune of all-MiniLM-L6-v2"] == "verified"
    assert first.verdicts["minilm-l6-scratch finetune of all-MiniLM-L6-v2"] == "contradicted"
    with Registry.open(home) as reg:
        # 15 seeded statements, the verifier's identity and its 3 claims' verifications
        assert reg.ledger.size() == 19
    with live_server(home) as url:
        yield url


def test_demo_lineage_and_forensics(demo: str) -> None:
    graph = httpx.get(f"{demo}/api/v1/models/minilm-l6-tuned/lineage").json()
    verdicts = {e["relation"]: e["evidence"]["verdict"] for e in graph["edges"]}
    assert verdicts.get("finetune") == "verified"
    rep = httpx.get(
        f"{demo}/api/v1/forensics/compare",
        params={"suspect": "minilm-l6-tuned", "candidate": "all-MiniLM-L6-v2"},
        timeout=60,
    ).json()
    assert rep["related"] is True and rep["p_value"] < 1e-6
    # both sides by their registered names
    assert rep["suspect"]["name"] == "minilm-l6-tuned"
    assert rep["candidate"]["name"] == "all-MiniLM-L6-v2"
    assert rep["candidate"]["organisation"] == "sentence-transformers"
    far = httpx.get(
        f"{demo}/api/v1/forensics/compare",
        params={"suspect": "gemma-3-270m", "candidate": "all-MiniLM-L6-v2"},
        timeout=60,
    ).json()
    assert far["related"] is not True
    html = httpx.get(
        f"{demo}/api/v1/forensics/compare",
        params={"suspect": "minilm-l6-tuned", "candidate": "all-MiniLM-L6-v2", "format": "html"},
        timeout=60,
    )
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text


def test_demo_fingerprint_upload_ranks_the_parent_first(demo: str, tmp_path: Path) -> None:
    from modelkin.fingerprint import fingerprint_model
    from modelkin_dev.fixtures import fetch
    from modelkin_dev.synth.transforms import add_noise

    other = add_noise(fetch("minilm-l6"), tmp_path / "copy", scale=0.02, seed=99)
    fp = fingerprint_model(other).save(tmp_path / "copy.fp")
    with fp.open("rb") as fh:
        r = httpx.post(
            f"{demo}/api/v1/forensics/candidates", files={"fingerprint": fh}, timeout=120
        )
    assert r.status_code == 200, r.text
    names = [c["model"]["name"] for c in r.json()["candidates"] if c["related"]]
    assert set(names[:2]) == {"all-MiniLM-L6-v2", "minilm-l6-tuned"}
    assert "gemma-3-270m" not in names
    bad = httpx.post(
        f"{demo}/api/v1/forensics/candidates", files={"fingerprint": b"not a fingerprint"}
    )
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


def test_demo_works_tiers_and_terms(demo: str) -> None:
    works = httpx.get(f"{demo}/api/v1/works").json()["items"]
    tiers = {}
    for w in works:
        c = httpx.get(f"{demo}/api/v1/works/{w['id']}/classification").json()
        t = httpx.get(f"{demo}/api/v1/works/{w['id']}/terms", params={"pack": "us"}).json()
        tiers[w["predicate"]["title"]] = (c["tier"], t["status"])
    assert tiers["A poem about lineage"] == ("human", "protected")
    assert tiers["Lineage diagram"][0] == "ai-assisted"
    assert tiers["Generated caption set"][0] == "ai-generated"
    page = httpx.get(f"{demo}/works", params={"pack": "uk-cdpa"}).text
    assert "ai-generated" in page and "A poem about lineage" in page
    cmp = httpx.get(
        f"{demo}/compare",
        params={"suspect": "minilm-l6-tuned", "candidate": "all-MiniLM-L6-v2"},
        timeout=60,
    ).text
    assert "Verdict:" in cmp and "p-value" in cmp
    home = httpx.get(f"{demo}/").text
    assert "minilm-l6-tuned" in home
    # the story on the home page: the claims as child ← parent with their verdicts, and the
    # real models under their real names and publishers
    claims = re.findall(r'verdict-(\w+)">\w+</span>\s*<a href="/records/\w+">([^<]+)</a>', home)
    assert ("verified", "minilm-l6-tuned ← all-MiniLM-L6-v2") in claims
    assert ("contradicted", "minilm-l6-scratch ← all-MiniLM-L6-v2") in claims
    for name, publisher in (("all-MiniLM-L6-v2", "sentence-transformers"),
                            ("gemma-3-270m", "Google")):  # fmt: skip
        assert re.search(rf">{name}</a></td><td>{publisher}</td>", home), name
    # the compare page starts from two different models: the newest claim's child and parent
    start = httpx.get(f"{demo}/compare").text
    picked = re.findall(r'id="(suspect|candidate)" [^>]*value="([^"]*)"', start)
    assert len(picked) == 2 and picked[0][1] and picked[0][1] != picked[1][1]
    assert "minilm-l6-tuned</a></strong>" in cmp and "by sentence-transformers" in cmp

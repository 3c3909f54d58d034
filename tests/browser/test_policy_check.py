"""The browser-side proof check (static/policy-check.js) in real Chromium: it accepts what
the Python client accepts and refuses the same tampering (WebCrypto Ed25519)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelkin.ledger import Ledger, note
from modelkin.ledger.policy import Policy, PolicySet
from modelkin.ledger.tlogproof import format_proof, verify_proof_policy
from modelkin.ledger.witness import Witness


def _fixture(tmp_path: Path) -> tuple[dict[str, Any], str, bytes, str]:
    with Ledger.open(tmp_path / "log", origin="browser.test/log") as log:
        log.append_many([f"entry {i}".encode() for i in range(11)])
        cp, vkey = log.checkpoint(), log.verifier_key()
        proof = log.inclusion_proof(6)
    ws = [Witness.init(tmp_path / f"w{i}", f"browser.test/w{i}") for i in range(3)]
    for w in ws:
        w.add_log(vkey)
    pol = Policy.parse(
        f"log {note.Verifier.parse(vkey).public.hex()}\n"  # a raw Sigsum key: named by origin
        + "".join(f"witness W{i} {w.vkey()}\n" for i, w in enumerate(ws))
        + "group two 2 W0 W1 W2\nquorum two\n"
    )
    c0, c2 = (ws[i].add_checkpoint(0, [], cp).cosignature or "" for i in (0, 2))
    cosigned = cp + c0 + c2
    other = Policy.parse(f"log {'cd' * 32}\nquorum none\n")
    policy_json = PolicySet([other, pol]).to_json()
    text = format_proof(6, proof, cosigned)
    verify_proof_policy(text, b"entry 6", PolicySet([other, pol]))  # the Python client agrees
    one_cosig = format_proof(6, proof, cp + c0)
    return policy_json, text, b"entry 6", one_cosig


def test_policy_check_js(site: str, browser: Any, tmp_path: Path) -> None:
    policy_json, text, entry, weak = _fixture(tmp_path)
    page = browser.new_page()
    try:
        # the registry's own pages allow no scripts (CSP default-src 'none'); a page that
        # uses the check (the UI's, later) loads it as below, from the same origin
        html = '<!doctype html><script src="/static/policy-check.js"></script>'
        page.route(site + "/policy-check-page", lambda route: route.fulfill(
            status=200, content_type="text/html", body=html))  # fmt: skip
        page.goto(site + "/policy-check-page")
        page.wait_for_function("() => window.modelkinPolicy !== undefined")

        def check(proof: str, data: bytes) -> dict[str, Any]:
            out: dict[str, Any] = page.evaluate(
                "([p, t, e]) => modelkinPolicy.verifyTlogProof(p, t, new Uint8Array(e))",
                [policy_json, proof, list(data)],
            )
            return out

        good = check(text, entry)
        assert good["ok"] and good["satisfied"] and good["vouchedBy"] == ["W0", "W2"]
        assert (good["origin"], good["size"], good["index"]) == ("browser.test/log", 11, 6)
        assert check(text, b"entry 7")["problem"] == "entry is not included (bad proof)"
        assert check(text.replace("index 6", "index 5"), entry)["ok"] is False
        low = check(weak, entry)  # one cosignature: the 2-of-3 quorum is not met
        assert low["problem"] == "checkpoint does not satisfy the policy"
        assert low["vouchedBy"] == ["W0"]
        lines = text.split("\n")
        sig = lines[-3]  # the first witness cosignature line: flip one base64 character
        bad = sig[:-20] + ("A" if sig[-20] != "A" else "B") + sig[-19:]
        tampered = "\n".join([*lines[:-3], bad, *lines[-2:]])
        assert check(tampered, entry)["vouchedBy"] == ["W2"]
        forged = text.replace("\n11\n", "\n12\n")
        assert "not signed by a log" in check(forged, entry)["problem"]
    finally:
        page.close()

"""Trust policies in the Sigsum format: parsing, k-of-n quorums, what counts and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.ledger import Ledger, note
from modelkin.ledger.policy import Policy, PolicyError
from modelkin.ledger.witness import Witness

ORIGIN = "policy.test/log"


def _setup(tmp_path: Path, n: int = 3) -> tuple[Ledger, list[Witness]]:
    log = Ledger.open(tmp_path / "log", origin=ORIGIN)
    log.append_many([b"a", b"b", b"c"])
    ws = [Witness.init(tmp_path / f"w{i}", f"witness.test/w{i}") for i in range(n)]
    for w in ws:
        w.add_log(log.verifier_key())
    return log, ws


def _hex(log: Ledger) -> str:
    return note.Verifier.parse(log.verifier_key()).public.hex()


def test_sigsum_format_and_quorums(tmp_path: Path) -> None:
    log, ws = _setup(tmp_path)
    try:
        text = (
            "# a Sigsum trust policy\n"
            f"log {_hex(log)} http://127.0.0.1:1/\n"
            + "".join(f"witness witness.test/w{i} {w.public.hex()}\n" for i, w in enumerate(ws))
            + "group two 2 witness.test/w0 witness.test/w1 witness.test/w2  # 2 of 3\n"
            "quorum two\n"
        )
        pol = Policy.parse(text)
        assert Policy.parse(pol.text()).text() == pol.text()  # round trip
        assert pol.logs[0].url == "http://127.0.0.1:1"
        cp = log.checkpoint()
        v = pol.check(cp)
        assert not v.satisfied and v.vouched == {}
        one = cp + (ws[0].add_checkpoint(0, [], cp).cosignature or "")
        assert not pol.check(one).satisfied
        two = one + (ws[2].add_checkpoint(0, [], cp).cosignature or "")
        v = pol.require(two)
        assert set(v.vouched) == {"witness.test/w0", "witness.test/w2"}
        assert "vouched by witness.test/w0, witness.test/w2" in v.describe()
        # a tampered cosignature by a named witness does not count, and is reported
        bad = two[:-20] + ("A" if two[-20] != "A" else "B") + two[-19:]
        vb = pol.check(bad)
        assert "witness.test/w2" in vb.invalid and not vb.satisfied
        # an unknown key's signature is ignored
        stranger = Witness.init(tmp_path / "x", "witness.test/x")
        stranger.add_log(log.verifier_key())
        assert pol.check(one + (stranger.add_checkpoint(0, [], cp).cosignature or "")).vouched == {
            "witness.test/w0": v.vouched["witness.test/w0"]
        }
        # nested groups, all / any, and "quorum none"
        nested = Policy.parse(
            f"log {_hex(log)}\n"
            + "".join(f"witness W{i} {w.vkey()}\n" for i, w in enumerate(ws))
            + "group X any W0 W1\ngroup Y all W2\ngroup XY all X Y\nquorum XY\n"
        )
        assert nested.check(two).satisfied and not nested.check(one).satisfied
        assert Policy.parse(f"log {_hex(log)}\nquorum none\n").check(cp).satisfied
        # the JSON the browser-side check reads
        js = pol.to_json()
        assert js["quorum"] == "two" and len(js["witnesses"]) == 3
        assert js["witnesses"][0]["key_id"] == ws[0].key_hash.hex()
    finally:
        log.close()


def test_log_keys_raw_and_vkey(tmp_path: Path) -> None:
    log, _ = _setup(tmp_path, 0)
    try:
        cp = log.checkpoint()
        assert Policy.parse(f"log {log.verifier_key()}\nquorum none\n").check(cp).satisfied
        other = note.Signer.generate(ORIGIN)
        pol = Policy.parse(f"log {other.verifier.public.hex()}\nquorum none\n")
        with pytest.raises(PolicyError, match="not signed by a policy key"):
            pol.check(cp)
        elsewhere = Policy.parse(f"log {note.Signer.generate('x.test/l').verifier}\nquorum none\n")
        with pytest.raises(PolicyError, match="is not in the policy"):
            elsewhere.check(cp)
    finally:
        log.close()


@pytest.mark.parametrize(
    ("text", "err"),
    [
        ("quorum W\n", "undefined name 'W'"),
        ("witness W " + "ab" * 32 + "\nwitness W " + "cd" * 32 + "\nquorum W\n", "duplicate"),
        ("witness W " + "ab" * 32 + "\ngroup G 2 W\nquorum G\n", "out of range"),
        ("witness W " + "ab" * 32 + "\ngroup G 0 W\nquorum G\n", "not all, any or a number"),
        ("witness W zz\nquorum none\n", "not a hex Ed25519 key"),
        ("witness W " + "ab" * 31 + "\nquorum none\n", "32 bytes"),
        ("log " + "ab" * 32 + " ftp://x\nquorum none\n", "http"),
        ("frobnicate\nquorum none\n", "unknown keyword"),
        ("quorum none\nquorum none\n", "only be set once"),
        ("log " + "ab" * 32 + "\n", "no quorum line"),
        ("group G any none\nquorum G\n", "undefined name 'none'"),
    ],
)
def test_policy_errors_name_the_line(text: str, err: str) -> None:
    with pytest.raises(PolicyError, match=err) as exc:
        Policy.parse(text, "p.policy")
    assert str(exc.value).startswith("p.policy")


def test_witness_vkey_must_be_a_cosigner_key(tmp_path: Path) -> None:
    log_key = note.Signer.generate("l.test/log").verifier
    with pytest.raises(PolicyError, match="not a cosignature/v1"):
        Policy.parse(f"witness W {log_key}\nquorum W\n")
    with pytest.raises(PolicyError, match="cannot read the policy"):
        Policy.load(tmp_path / "missing.policy")

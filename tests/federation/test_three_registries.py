"""The federation on one machine: three ``modelkin serve`` registries on loopback, each a
witness for the other two under a 2-of-2 policy, the third mirroring the first.

It shows the whole trust model working, then forks the first registry (two different
trees at one size, both signed by its key) and shows every other party refusing the fork:
both witnesses (409, evidence kept), the mirror (split-view alarm with both checkpoints,
following stopped) and verifying clients (policy not satisfied; not consistent with the
checkpoint they kept; the federated lookup refuses the forked answer).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from safetensors.numpy import save_file

from modelkin.cli import main
from modelkin.errors import LedgerError
from modelkin.federation import verify_answer
from modelkin.fingerprint import fingerprint_model
from modelkin.ledger import note
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.mirror import origin_hash
from modelkin.ledger.policy import PolicyError, load_trust
from modelkin.ledger.remote import verify_remote
from modelkin.ledger.tlogproof import verify_proof_policy
from modelkin.ledger.witness import format_request
from modelkin.registry import Registry, register_model
from modelkin.statements import Identity
from modelkin_dev.loopback import (
    Registry3,
    entry,
    federation,
    model_envelope,
    start,
    stop,
    submit,
    witnessed,
)


def _tiny(path: Path) -> Path:
    """A real tiny safetensors model with two matrices (enough to fingerprint)."""
    path.mkdir(parents=True)
    rng = np.random.default_rng(5)
    save_file({"embed.weight": rng.normal(0, 0.02, (64, 16)).astype(np.float32),
               "layers.0.mlp.weight": rng.normal(0, 0.02, (16, 32)).astype(np.float32)},
              str(path / "model.safetensors"))  # fmt: skip
    (path / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 16}))
    return path


def _size(text: str) -> int:
    return parse_checkpoint(note.split(text)[0]).size


def test_federation_witnesses_mirrors_lookups_and_refuses_a_fork(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def fingerprinted(regs: list[Registry3], alice: Identity) -> None:
        with Registry.open(regs[2].home) as reg:  # c holds a fingerprinted model
            register_model(reg, tiny_dir, alice, name="model-fp", version="1",
                           organisation="Alice Labs", license="mit")  # fmt: skip

    tiny_dir = _tiny(tmp_path / "fp-model")
    fed = federation(tmp_path, setup=fingerprinted)
    with fed as (regs, policies, alice), httpx.Client(timeout=60) as client:
        a, b, c = regs
        trust = load_trust(policies)  # what a client holds: one policy per log
        env1, digest1 = model_envelope(tmp_path, alice, "one", 1)
        receipt = submit(client, a, env1)
        assert receipt["ledger_index"] == 1

        # -- witnessing: b and c cosign a's checkpoint; a serves the cosigned one ---------
        w = witnessed(client, a, 2)
        assert w["satisfied"] and w["vouched_by"] == ["wb", "wc"] and w["size"] == 2
        assert client.get(f"{a.url}/checkpoint").text == w["checkpoint"]
        for other in (b, c):  # the witnesses recorded a's log
            logs = client.get(f"{other.url}/api/v1/witness").json()["logs"]
            assert logs[a.vkey.split("+")[0]]["size"] == 2

        # -- a client verifies a proof under its own policy ------------------------------
        proof = client.get(f"{a.url}/api/v1/federation/proof/1").json()
        assert proof["vouched_by"] == ["wb", "wc"] and proof["satisfied"]
        data = entry(client, a, 1)
        _, verdict = verify_proof_policy(proof["tlog_proof"], data, trust)
        assert set(verdict.vouched) == {"wb", "wc"}
        (tmp_path / "p.tlog-proof").write_text(proof["tlog_proof"])
        (tmp_path / "entry1").write_bytes(data)
        args = ["tlog-proof", "verify", str(tmp_path / "p.tlog-proof"), "--entry",
                str(tmp_path / "entry1")] + [x for p in policies for x in ("--policy", str(p))]  # fmt: skip
        assert main(args) == 0 and "vouched by wb, wc" in capsys.readouterr().out
        args = ["ledger", "prove", "1", "--tlog-proof", "--home", str(a.home)] + [
            x for p in policies for x in ("--policy", str(p))
        ]
        assert main(args) == 0
        out = capsys.readouterr()
        assert out.out == proof["tlog_proof"] and "vouched by wb, wc" in out.err

        # -- federated lookup: ask b which registry has model one -------------------------
        got = client.get(f"{b.url}/api/v1/federation/lookup", params={"digest": digest1}).json()
        assert [x["registry"] for x in got["answers"]] == [a.url] and not got["refused"]
        v = verify_answer(got["answers"][0], trust, digest=digest1)
        assert (v.name, v.ledger_index, v.vouched_by) == ("model-one", 1, ("wb", "wc"))
        lookup_cli = ["federation", "lookup", b.url, digest1] + [
            x for p in policies for x in ("--policy", str(p))
        ]
        assert main(lookup_cli) == 0 and "'model-one'" in capsys.readouterr().out

        # -- fingerprint neighbours through the peers' search API, each with its proof ----
        fp = fingerprint_model(tiny_dir).save(tmp_path / "query.fp")
        got = client.post(f"{b.url}/api/v1/federation/candidates",
                          files={"fingerprint": fp.read_bytes()}, timeout=300).json()  # fmt: skip
        found = [x for x in got["candidates"] if x["candidate"]["model"]["name"] == "model-fp"]
        assert found and found[0]["registry"] == c.url and "verified" in found[0]
        assert found[0]["verified"]["vouched_by"] == ["wa", "wb"]
        verify_answer(found[0]["answer"], trust, record_id=found[0]["verified"]["record_id"])

        # -- the mirror (c follows a) and verify-remote over HTTP tiles -------------------
        ms = client.get(f"{c.url}/api/v1/mirrors", params={"min_size": 2, "timeout": 30}).json()
        (m,) = ms["mirrors"]
        assert m["size"] == 2 and m["alarm"] is None
        prefix = f"{c.url}/mirror/{origin_hash(m['origin'])}"
        rep = verify_remote(prefix, trust, full=True, index=1)
        assert rep.ok, rep.problems
        assert client.get(f"{prefix}/checkpoint").text.count("\u2014 ") == 4  # log, 2, mirror
        assert verify_remote(a.url, trust, full=True).ok
        kept = w["checkpoint"]  # what a careful client keeps (the Go sumdb client does)

        # -- the fork: a's home copied while a is down; the copy grows differently ---------
        stop(a)
        fork_home = tmp_path / "home-a-fork"
        shutil.copytree(a.home, fork_home)
        (fork_home / "ledger/witnessed.checkpoint").unlink()  # the fork serves its own head
        env2, _ = model_envelope(tmp_path, alice, "two", 2)
        env3, digest3 = model_envelope(tmp_path, alice, "three", 3)
        with Registry.open(a.home) as reg:
            reg.submit(env2)
            honest = reg.checkpoint()
        with Registry.open(fork_home) as reg:
            reg.submit(env3)
            forked = reg.checkpoint()
            fork_proof = reg.ledger.consistency_proof(2, 3)
        assert _size(honest) == _size(forked) == 3 and honest != forked

        start(a, policies)  # the honest history: witnessed as a consistent extension
        assert witnessed(client, a, 3)["vouched_by"] == ["wb", "wc"]
        ms = client.get(f"{c.url}/api/v1/mirrors", params={"min_size": 3, "timeout": 30}).json()
        assert ms["mirrors"][0]["size"] == 3

        # (1) the witnesses refuse the forked checkpoint, whatever old size is claimed
        for other in (b, c):
            for old, prf in ((3, []), (2, fork_proof)):
                r = client.post(f"{other.url}/add-checkpoint",
                                content=format_request(old, prf, forked))  # fmt: skip
                assert r.status_code == 409, r.text
                assert r.headers["content-type"].startswith("text/x.tlog.size")
                assert r.text == "3\n"
            ev = client.get(f"{other.url}/api/v1/witness").json()["evidence"]
            assert (
                ev
                and ev[0]["offered"] == forked
                and ev[0]["recorded"].startswith(honest[:-1].split("\n\n")[0])
            )

        # (2) the fork is served at a's address: the mirror raises the alarm and stops
        stop(a)
        start(a, policies, home=fork_home)
        ms = client.get(f"{c.url}/api/v1/mirrors", params={"min_size": 10**9, "timeout": 30})
        alarm = ms.json()["mirrors"][0]["alarm"]
        assert alarm is not None and "split view" in alarm["problem"]
        assert alarm["evidence"][1].split("\n\n")[0] == forked.split("\n\n")[0]
        assert _size(alarm["evidence"][0]) == 3 and ms.json()["mirrors"][0]["size"] == 3
        # the fork could not get a single cosignature: both witnesses answered 409
        status = client.get(f"{a.url}/api/v1/federation").json()["witnessing"]
        assert status["last_round"] is None or not status["last_round"]["satisfied"]

        # (3) verifying clients refuse it
        rep = verify_remote(a.url, trust, since=kept)
        assert not rep.ok and any("does not satisfy the policy" in p for p in rep.problems)
        fork_bundle = client.get(f"{a.url}/api/v1/federation/proof/2").json()["tlog_proof"]
        with pytest.raises(PolicyError, match="does not satisfy the policy"):
            verify_proof_policy(fork_bundle, entry(client, a, 2), trust)
        honest_kept = honest.split("\n\n")[0] + "\n"
        assert (
            parse_checkpoint(honest_kept).root
            != parse_checkpoint(forked.split("\n\n")[0] + "\n").root
        )  # two trees at one size, both signed by a's key
        got = client.get(f"{b.url}/api/v1/federation/lookup", params={"digest": digest3}).json()
        assert not got["answers"] and got["refused"][0]["registry"] == a.url
        with pytest.raises(LedgerError, match="does not satisfy the policy"):
            verify_answer(got["refused"][0]["answer"], trust, digest=digest3)
        stop(a)
    for r in regs:  # no server left behind; their logs end cleanly
        assert r.proc is None

"""Issue 13, finding 8: models registered over HTTP get the same lineage checks as local ones.

``modelkin --server URL`` against ``modelkin serve`` in its own process: keys, models (the
fingerprint computed here travels with the signed statement), a lineage claim checked by
the server's forensic engine, lineage, compare and 1:N search. Before the remote client
and ``POST /api/v1/statements/with-blobs`` existed, a model registered over HTTP named a
fingerprint blob the server never had: its claims could never be checked.

The upload is bound to the statement: a blob the statement does not name, or a fingerprint
whose digest is not the one the statement signs, is refused and leaves nothing stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from server_live import ServeProcess, serve_process

from modelkin.cli import main
from modelkin.fingerprint import fingerprint_model
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.manifest import MANIFEST_METHOD, manifest_digest, scan_directory
from modelkin.statements.statement import make_statement, subject
from modelkin_dev.synth import models, specs, transforms

pytestmark = pytest.mark.timeout(600)


@dataclass
class Remote:
    server: ServeProcess
    server_home: Path
    client_home: Path
    paths: dict[str, Path]

    def cli(self, *args: str) -> int:
        return main(["--server", self.server.url, *args])


def _tiny(base: Path, name: str, seed: int) -> Path:
    spec = specs.LlamaSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=4)
    return Path(models.save(models.build(spec, seed), spec, base / name))


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    base = tmp_path_factory.mktemp("remote")
    paths = {"base": _tiny(base, "base", 31), "other": _tiny(base, "other", 32)}
    paths["tuned"] = transforms.add_noise(paths["base"], base / "tuned", 0.05, seed=1)
    server_home = base / "server-home"
    with serve_process(server_home) as proc:
        yield Remote(proc, server_home, base / "client-home", paths)


def _register(remote: Remote, name: str) -> dict[str, object]:
    args = ["register", "model", str(remote.paths[name]), "--key", "alice", "--name", name]
    args += ["--version", "1", "--org", "Alice Labs", "--license", "mit"]
    assert remote.cli(*args, "--home", str(remote.client_home), "--json") == 0
    body: dict[str, object] = httpx.get(f"{remote.server.url}/api/v1/models/{name}").json()
    return body


def test_register_over_http_uploads_the_fingerprint_and_claims_are_checked(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(remote.client_home)
    assert remote.cli("keys", "new", "alice", "--org", "Alice Labs", "--home", home) == 0
    assert (remote.client_home / "keys" / "alice.key").is_file()  # the key stays here
    for name in ("base", "tuned", "other"):
        rec = _register(remote, name)
        fp = rec["predicate"]["fingerprint"]  # type: ignore[index]
        # the server holds the fingerprint computed here, under the digest the record names
        stored = remote.server_home / "blobs" / "sha256" / fp["blob"]
        assert stored.is_file()
        digest = rec["subjects"][0]["sha256"]  # type: ignore[index]
        # bound to the model's own files (issue 13, finding 1)
        assert fp["digest"] == str(fingerprint_model(remote.paths[name], manifest=digest).digest())
    capsys.readouterr()

    # a lineage claim made over HTTP is checked by the server's engine, as a local one is
    args = ["register", "derivation", "tuned", "--key", "alice", "--parent", "base"]
    assert remote.cli(*args, "--relation", "finetune", "--home", home) == 0
    out = capsys.readouterr().out
    # the server's verifier signed the check, and the client says so
    assert "verdict: verified" in out and "[verified by verifier-" in out
    args = ["register", "derivation", "other", "--key", "alice", "--parent", "base"]
    assert remote.cli(*args, "--relation", "finetune", "--home", home) == 0
    out = capsys.readouterr().out
    assert "verdict: verified" not in out and "verdict:" in out

    assert remote.cli("lineage", "tuned", "--json") == 0
    graph = json.loads(capsys.readouterr().out)
    (edge,) = [e for e in graph["edges"] if e["relation"] == "finetune"]
    assert edge["evidence"]["verdict"] == "verified"
    assert remote.cli("lineage", "tuned") == 0
    assert "base --finetune [verified]--> tuned" in capsys.readouterr().out


def test_compare_and_search_run_on_the_server(
    remote: Remote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not httpx.get(f"{remote.server.url}/api/v1/models").json()["items"]:
        pytest.skip("needs the registrations of the test above")  # pragma: no cover
    capsys.readouterr()
    assert remote.cli("compare", "tuned", "base", "--json") == 3  # related
    assert json.loads(capsys.readouterr().out)["related"] is True
    report = tmp_path / "report.html"
    assert remote.cli("compare", "other", "base", "--report", str(report)) == 0
    assert "verdict:" in capsys.readouterr().out and "<html" in report.read_text().lower()

    # 1:N: only the fingerprint of the local model travels; the server ranks its models
    assert remote.cli("search", str(remote.paths["tuned"]), "--top", "3", "--json") == 3
    found = {c["model"]["name"]: c for c in json.loads(capsys.readouterr().out)["candidates"]}
    assert found["tuned"]["verdict"] == "identical"  # itself, registered above
    assert found["base"]["related"] is True and found["other"]["related"] is not True


def _model_envelope(ident: Identity, model_dir: Path, fp_ref: dict[str, str]) -> dict[str, object]:
    files = scan_directory(model_dir)
    pred = {
        "name": "probe", "version": "1", "organisation": "Alice Labs", "license": "mit",
        "intended_use": None, "out_of_scope": None, "limitations": None, "format": "hf-safetensors",
        "manifest": {"method": MANIFEST_METHOD, "files": files},
        "fingerprint": fp_ref, "structure": None,
    }  # fmt: skip
    st = make_statement(
        [subject("probe", manifest_digest(files))], get_kind("model").predicate_type, pred
    )
    return sign_envelope(st, ident)


def test_uploads_must_be_named_by_the_statement(remote: Remote, tmp_path: Path) -> None:
    key = remote.client_home / "keys" / "alice.key"
    if not key.is_file():
        pytest.skip("needs the key registered by the first test")  # pragma: no cover
    ident = Identity.load(key)
    fp = fingerprint_model(remote.paths["other"])
    fp_file = fp.save(tmp_path / "fp")
    blob = hashlib.sha256(fp_file.read_bytes()).hexdigest()
    url = f"{remote.server.url}/api/v1/statements/with-blobs"
    stray = tmp_path / "stray.bin"
    stray.write_bytes(os.urandom(4096))
    stray_digest = hashlib.sha256(stray.read_bytes()).hexdigest()

    def post(envelope: dict[str, object], *blobs: Path) -> httpx.Response:
        files = [("envelope", ("e.json", json.dumps(envelope), "application/json"))]
        files += [("blob", (b.name, b.read_bytes(), "application/octet-stream")) for b in blobs]
        return httpx.post(url, files=files, timeout=60)  # type: ignore[arg-type]

    # 1. a file the statement does not name: refused, not stored
    env = _model_envelope(ident, remote.paths["other"], {"digest": str(fp.digest()), "blob": blob})
    r = post(env, stray)
    assert r.status_code == 400 and "not named by the statement" in r.json()["detail"]
    assert not (remote.server_home / "blobs" / "sha256" / stray_digest).exists()

    # 2. the named blob, but the statement signs another fingerprint digest: refused
    env = _model_envelope(ident, remote.paths["other"], {"digest": "f" * 64, "blob": blob})
    r = post(env, fp_file)
    assert r.status_code == 400 and "fingerprint.digest" in r.json()["detail"]

    # 3. a stranger's signature (unregistered key): the registry refuses, the blob is removed
    stranger = Identity.generate("mallory")
    seed7 = fingerprint_model(remote.paths["base"], seed=7)
    seed7_blob = hashlib.sha256(seed7.save(tmp_path / "seed7").read_bytes()).hexdigest()
    assert not (remote.server_home / "blobs" / "sha256" / seed7_blob).exists()
    env = _model_envelope(
        stranger, remote.paths["base"], {"digest": str(seed7.digest()), "blob": seed7_blob}
    )
    r = post(env, tmp_path / "seed7")
    assert r.status_code == 422, r.text
    assert not (remote.server_home / "blobs" / "sha256" / seed7_blob).exists()


def test_a_token_gated_server_needs_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"t" * 32: "Bob Labs"}))
    tokens.chmod(0o600)
    client = tmp_path / "client"
    with serve_process(tmp_path / "home", "--tokens", str(tokens)) as proc:
        args = ["--server", proc.url, "keys", "new", "bob", "--org", "Bob Labs"]
        assert main([*args, "--home", str(client)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "401" in err and "API token" in err
        again = ["--server", proc.url, "--token", "t" * 32, "keys", "new", "bob2", "--org"]
        assert main([*again, "Bob Labs", "--home", str(client)]) == 0
        assert "accepted identity record" in capsys.readouterr().out
    # an unreachable server is one line, not a traceback
    assert main(["--server", proc.url, "lineage", "anything"]) == 2
    assert "cannot reach the server" in capsys.readouterr().err


def test_local_only_commands_refuse_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--server", "http://127.0.0.1:9", "registry", "rebuild"]) == 2
    assert "works on a local home only" in capsys.readouterr().err


def test_the_server_option_keeps_the_fast_path() -> None:
    """``modelkin --server URL lineage M`` still imports only the lineage command's module."""
    from modelkin.cli import _command_word

    assert _command_word(["--server", "http://h", "--token", "t", "lineage", "m"]) == "lineage"
    assert _command_word(["--server=http://h", "register", "model"]) == "register"
    assert _command_word(["--help"]) is None and _command_word(["--server", "u"]) is None

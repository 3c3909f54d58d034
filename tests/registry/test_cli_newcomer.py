"""What a newcomer meets on the command line: label and export by model path, digests that
say what they are, a key without an organisation explained, relation mistakes in words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registry_helpers import make_model_dir

from modelkin.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path, Path]:
    h = str(tmp_path / "home")
    code, _, err = _run(capsys, "keys", "new", "alice", "--home", h, "--org", "Alice Labs")
    assert code == 0 and "no organisation" not in err
    base = make_model_dir(tmp_path / "base", 0)
    code, _, err = _run(
        capsys, "register", "model", str(base), "--key", "alice", "--name", "base",
        "--version", "1", "--org", "Alice Labs", "--license", "mit", "--no-fingerprint",
        "--home", h,
    )  # fmt: skip
    assert code == 0, err
    return h, base, make_model_dir(tmp_path / "other", 1)


def test_label_and_export_take_a_model_path(
    home: tuple[str, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h, base, other = home
    code, by_path, err = _run(capsys, "label", str(base), "-f", "json", "--home", h)
    assert code == 0, err
    code, by_name, _ = _run(capsys, "label", "base", "-f", "json", "--home", h)
    a, b = json.loads(by_path), json.loads(by_name)
    a.pop("generated_at", None), b.pop("generated_at", None)
    assert a == b and "base" in by_path
    code, out, err = _run(capsys, "export", str(base), "-f", "hf-card", "--home", h)
    assert code == 0 and "base" in out, err
    code, out, err = _run(capsys, "label", str(other), "--home", h)
    assert code != 0 and "Traceback" not in err
    assert "no registered model has these weights" in err and "register it first" in err
    code, digest_out, _ = _run(capsys, "inspect", str(other), "--json")
    assert json.loads(digest_out)["weights_digest"] in err  # the digest it looked for


def test_inspect_labels_each_digest_and_gives_the_registry_key(
    home: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    h, base, _ = home
    code, out, _ = _run(capsys, "inspect", str(base), "--json")
    described = json.loads(out)
    code, rec, err = _run(capsys, "registry", "show", "base", "--home", h)
    assert code == 0, err
    assert described["weights_digest"] in json.dumps(json.loads(rec)["subjects"])
    code, text, _ = _run(capsys, "inspect", str(base))
    bare = "".join(text.split())  # rich wraps and folds at the console width
    assert f"weightsdigestsha256:{described['weights_digest']}" in bare
    assert "structuredigest" in bare and "thesameforeverymodelofthisarchitecture" in bare
    assert "notaweightsdigest" in bare


def test_a_key_without_an_organisation_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "keys", "new", "bob", "--home", str(tmp_path / "h"))
    assert code == 0 and "no organisation" in err and "--org" in err and "--tokens" in err


@pytest.mark.parametrize(
    ("relation", "parents", "expected"),
    [
        ("none", ["base"], "takes no parent"),
        ("finetune", [], "add --parent"),
        ("fine-tune", ["base"], "unknown relation 'fine-tune': use one of finetune"),
    ],
)
def test_relation_mistakes_are_sentences_not_schema_output(
    home: tuple[str, Path, Path],
    capsys: pytest.CaptureFixture[str],
    relation: str,
    parents: list[str],
    expected: str,
) -> None:
    h = home[0]
    args = ["register", "derivation", "base", "--key", "alice", "--relation", relation]
    for p in parents:
        args += ["--parent", p]
    code, _, err = _run(capsys, *args, "--home", h)
    assert code == 2 and expected in err, err
    assert "schema" not in err and "Traceback" not in err

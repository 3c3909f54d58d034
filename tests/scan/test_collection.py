"""Finding the models of a collection: directory trees and list files."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.errors import ModelkinError
from modelkin.scan import collect, discover, read_list


def test_discover_finds_model_dirs_and_loose_files(collection: Path) -> None:
    (collection / "loose").mkdir()
    (collection / "loose" / "tiny.gguf").write_bytes(b"GGUF")
    (collection / "loose" / "notes.txt").write_text("not a model")
    (collection / ".cache" / "hidden").mkdir(parents=True)
    (collection / ".cache" / "hidden" / "x.onnx").write_bytes(b"x")
    (collection / "acme" / "alpha" / "sub.gguf").write_bytes(b"inside a model dir")
    names = [e.name for e in discover(collection)]
    assert names == [
        "acme/alpha",
        "acme/beta",
        "broken",
        "loose/tiny.gguf",
        "zeta/delta",
        "zeta/gamma",
    ]
    keys = [e.key for e in discover(collection)]
    assert len(set(keys)) == len(keys)
    assert all("/" not in k for k in keys)
    assert keys == [e.key for e in discover(collection)]  # stable across runs


def test_discover_root_that_is_a_model(collection: Path) -> None:
    (entry,) = discover(collection / "acme" / "alpha")
    assert entry.path == (collection / "acme" / "alpha").resolve()


def test_read_list_comments_relative_paths_duplicates(collection: Path) -> None:
    lst = collection / "models.txt"
    lst.write_text(
        "# the acme models\n\nacme/alpha\n  acme/beta  \n"
        f"{collection / 'acme' / 'alpha'}\n./missing\n"
    )
    entries = read_list(lst)
    assert [e.path for e in entries] == [
        collection / "acme" / "alpha",
        collection / "acme" / "beta",
        collection / "missing",
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"a\n\xff\xfe\n", "line is not UTF-8"), (b"a\x00b\n", "NUL")],
)
def test_read_list_rejects_binary(tmp_path: Path, content: bytes, problem: str) -> None:
    lst = tmp_path / "list.txt"
    lst.write_bytes(content)
    with pytest.raises(ModelkinError, match=problem) as info:
        read_list(lst)
    assert str(lst) in str(info.value)


def test_collect_refuses_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(ModelkinError, match="no such directory or list file"):
        collect(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelkinError, match="no models found"):
        collect(tmp_path / "empty")
    (tmp_path / "only-comments.txt").write_text("# nothing\n")
    with pytest.raises(ModelkinError, match="no models found"):
        collect(tmp_path / "only-comments.txt")

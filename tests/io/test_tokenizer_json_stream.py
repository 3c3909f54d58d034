"""``tokenizer.json`` scanned in place gives what ``json.loads`` gives, in bounded memory,
and names the file and the byte on malformed input (issue 19: a 33 MB tokenizer.json
parsed with json.load peaked near 300 MB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelkin.errors import ModelFormatError
from modelkin.io.tokenizer import from_tokenizer_json


def _reference(obj: dict[str, Any]) -> tuple[list[str], list[str], dict[str, int]]:
    """Tokens by id, merges and specials as the json.loads reading defines them."""
    model = obj["model"]
    vocab = model["vocab"]
    pairs = (
        [(t, i) for i, (t, _s) in enumerate(vocab)]
        if isinstance(vocab, list)
        else list(vocab.items())
    )
    merges = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in model.get("merges") or []]
    specials = {}
    for a in obj.get("added_tokens") or []:
        pairs.append((a["content"], a["id"]))
        if a.get("special"):
            specials[a["content"]] = a["id"]
    by_id: dict[int, str] = {}
    for t, i in pairs:
        by_id.setdefault(i, t)
    size = max(by_id, default=-1) + 1
    return [by_id.get(i, "") for i in range(size)], merges, specials


CASES: dict[str, dict[str, Any]] = {
    "bpe-pairs": {
        "version": "1.0",
        "normalizer": {"type": "NFC", "nested": [{"a": "}"}, "]"]},
        "added_tokens": [
            {"id": 7, "content": "<s>", "special": True},
            {"id": 2, "content": "dup", "special": False},
        ],
        "model": {
            "type": "BPE",
            "vocab": {
                "a": 0,
                'q"uote': 1,
                "back\\slash": 2,
                "tab\there": 3,
                "é中😀": 5,
                "\u0001ctl": 4,
                "": 6,
            },
            "merges": [["a", "é中😀"], ['q"uote', "tab\there"]],
        },
    },
    "bpe-strings": {
        "model": {"type": "BPE", "vocab": {"x": 1, "y": 0}, "merges": ["x y", "y x"]},
        "added_tokens": [],
    },
    "wordpiece-no-merges": {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "##a": 1}}},
    "unigram": {
        "model": {"type": "Unigram", "vocab": [["▁a", -1.5], ["b", 0], ["c", -2e-3]]},
        "added_tokens": [{"id": 5, "content": "<pad>", "special": True}],
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("ascii_only", [False, True])
def test_scanned_equals_json_loads(name: str, ascii_only: bool, tmp_path: Path) -> None:
    obj = CASES[name]
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(obj, ensure_ascii=ascii_only, indent=1), encoding="utf-8")
    tok = from_tokenizer_json(p)
    tokens, merges, specials = _reference(obj)
    assert list(tok.tokens) == tokens
    assert list(tok.merges) == merges
    assert tok.special_tokens == specials
    # digests of the vocabulary and merges are those of the plain lists
    from modelkin.io.tokenizer import Tokenizer

    plain = Tokenizer(tok.kind, tokens, merges, specials, tok.scores, source=p.name)
    assert tok.digest() == plain.digest()
    if name == "unigram":
        assert tok.kind == "unigram" and tok.scores == [-1.5, 0.0, -2e-3, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1', "byte"),
        ('{"model": {"type": "BPE", "vocab": {"a": "zero"}}}', "malformed entry"),
        ('{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": {}}}', "not a list"),
        ('{"model": {"type": "BPE", "vocab": {"a": 0}}} trailing', "after the top-level"),
        ('{"model": {"type": "BPE", "vocab": {"a": 99999999}}}', "outside"),
        ('{"added_tokens": []}', "no 'model'"),
        ('{"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"id": "x"}]}', "lacks"),
        ('{"model": {"type": "Unigram", "vocab": {"a": 0}}}', "must be a list"),
        ("[1, 2]", "expected '{'"),
        ('{"model": {"type": "BPE", "vocab": {"\\ud83d\\zz": 0}}}', "bad string"),
    ],
)
def test_malformed_files_name_the_file(text: str, why: str, tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFormatError) as err:
        from_tokenizer_json(p)
    assert str(p) in str(err.value) and why in str(err.value)


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_bytes(b'{"model": {"type": "BPE", "vocab": {"\xff\xfe": 0}}}')
    with pytest.raises(ModelFormatError, match="not UTF-8"):
        from_tokenizer_json(p)


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelkin.io import tokenizer

    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(CASES["bpe-strings"]))
    monkeypatch.setattr(tokenizer, "MAX_TOKENIZER_BYTES", 10)
    with pytest.raises(ModelFormatError, match="more than the limit"):
        from_tokenizer_json(p)


def test_gemma_sized_tokenizer_in_bounded_memory(tmp_path: Path) -> None:
    """262,144 tokens and 514,906 pair merges (gemma-3's counts): the reader's own peak
    is less than half of what json.load alone needs (each measured in a fresh process)."""
    n, m = 262_144, 514_906
    vocab = {f"tok{i}é" if i % 3 else f"t{i}": i for i in range(n)}
    merges = [[f"t{i}", f"tok{i + 1}é"] for i in range(m)]
    p = tmp_path / "tokenizer.json"
    p.write_text(
        json.dumps({"model": {"type": "BPE", "vocab": vocab, "merges": merges}}),
        encoding="utf-8",
    )
    del vocab, merges

    def own_peak_mb(body: str) -> int:
        code = (
            "import json, sys\n"
            "from modelkin.io.tokenizer import from_tokenizer_json\n"
            "def rss(k):\n"
            "    return [int(x.split()[1]) // 1024 for x in open('/proc/self/status')"
            " if x.startswith(k)][0]\n"
            "base = rss('VmRSS:')\n" + body + "print(rss('VmHWM:') - base)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(p)], capture_output=True, text=True, check=True
        )
        return int(out.stdout.split()[-1])

    ours = own_peak_mb(
        "t = from_tokenizer_json(sys.argv[1])\n"
        "assert len(t.tokens) == 262144 and len(t.merges) == 514906, len(t.merges)\n"
        "assert t.merges[3] == 't3 tok4é' and t.tokens[4] == 'tok4é'\n"
    )
    plain = own_peak_mb("obj = json.load(open(sys.argv[1], encoding='utf-8'))\n")
    assert ours * 2 < plain, (ours, plain)

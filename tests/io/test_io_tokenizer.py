"""Tokenizers from tokenizer.json, vocab.txt, vocab.json+merges.txt and SentencePiece."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sentencepiece as spm

from modelkin.errors import ModelFormatError
from modelkin.io.tokenizer import (
    Tokenizer,
    find_tokenizer,
    from_sentencepiece,
    from_tokenizer_json,
    from_vocab_json_merges,
    from_vocab_txt,
)


def _write(p: Path, obj: object) -> Path:
    p.write_text(json.dumps(obj))
    return p


def test_bpe_tokenizer_json_both_merge_spellings(tmp_path: Path) -> None:
    vocab = {"a": 0, "b": 1, "ab": 2, "c": 3}
    added = [
        {"id": 4, "content": "<eos>", "special": True},
        {"id": 5, "content": "<x>", "special": False},
    ]
    old = _write(
        tmp_path / "old.json",
        {"model": {"type": "BPE", "vocab": vocab, "merges": ["a b"]}, "added_tokens": added},
    )
    new = _write(
        tmp_path / "new.json",
        {"model": {"type": "BPE", "vocab": vocab, "merges": [["a", "b"]]}, "added_tokens": added},
    )
    t1, t2 = from_tokenizer_json(old), from_tokenizer_json(new)
    assert t1.kind == "bpe" and t1.tokens == ["a", "b", "ab", "c", "<eos>", "<x>"]
    assert t1.merges == t2.merges == ["a b"]
    assert t1.special_tokens == {"<eos>": 4}
    assert t1.digest() == t2.digest()


def test_digest_changes_with_vocab_order() -> None:
    a = Tokenizer("bpe", ["x", "y"])
    b = Tokenizer("bpe", ["y", "x"])
    assert a.digest()["vocab"] != b.digest()["vocab"]
    assert a.digest()["merges"] == b.digest()["merges"]


def test_unigram_and_wordpiece_json(tmp_path: Path) -> None:
    uni = _write(
        tmp_path / "u.json", {"model": {"type": "Unigram", "vocab": [["<unk>", 0.0], ["▁a", -1.5]]}}
    )
    t = from_tokenizer_json(uni)
    assert (t.kind, t.tokens, t.scores) == ("unigram", ["<unk>", "▁a"], [0.0, -1.5])
    wp = _write(
        tmp_path / "w.json", {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "##a": 1}}}
    )
    assert from_tokenizer_json(wp).kind == "wordpiece"


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {"model": "x"},
        {"model": {"type": "BPE", "vocab": {"a": -1}}},
        {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [1]}},
        {"model": {"type": "Unigram", "vocab": [["a"]]}},
        {"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"id": "x"}]},
    ],
)
def test_malformed_tokenizer_json(tmp_path: Path, obj: object) -> None:
    p = _write(tmp_path / "tokenizer.json", obj)
    with pytest.raises(ModelFormatError, match=r"tokenizer\.json"):
        from_tokenizer_json(p)


def test_vocab_txt_and_specials(tmp_path: Path) -> None:
    p = tmp_path / "vocab.txt"
    p.write_text("[PAD]\n[UNK]\n[CLS]\nhello\n##lo\n")
    t = from_vocab_txt(p)
    assert t.tokens == ["[PAD]", "[UNK]", "[CLS]", "hello", "##lo"]
    assert t.special_tokens == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2}


def test_gpt2_vocab_json_and_merges(tmp_path: Path) -> None:
    _write(tmp_path / "vocab.json", {"h": 0, "i": 1, "hi": 2})
    (tmp_path / "merges.txt").write_text("#version: 0.2\nh i\n")
    t = find_tokenizer(tmp_path)
    assert (
        t is not None and t.kind == "bpe" and t.merges == ["h i"] and t.tokens == ["h", "i", "hi"]
    )
    assert from_vocab_json_merges(tmp_path / "vocab.json", None).merges == []


def test_sentencepiece_model(tmp_path: Path) -> None:
    lines = [f"the quick brown fox jumps over the lazy dog {i} times" for i in range(300)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        vocab_size=60,
        model_type="bpe",
        minloglevel=2,
    )
    p = tmp_path / "tokenizer.model"
    p.write_bytes(buf.getvalue())
    t = from_sentencepiece(p)
    proc = spm.SentencePieceProcessor(model_file=str(p))
    assert t.kind == "bpe" and len(t.tokens) == proc.get_piece_size() == 60
    assert t.tokens == [proc.id_to_piece(i) for i in range(60)]
    assert t.special_tokens == {"<unk>": 0, "<s>": 1, "</s>": 2}
    assert t.scores is not None and len(t.scores) == 60
    assert find_tokenizer(tmp_path) is not None


def test_garbage_sentencepiece(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.model"
    p.write_bytes(b"\xff" * 64)
    with pytest.raises(ModelFormatError, match=r"tokenizer\.model"):
        from_sentencepiece(p)


def test_size_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import modelkin.io.tokenizer as tok

    p = _write(tmp_path / "tokenizer.json", {"model": {"type": "BPE", "vocab": {"a": 0}}})
    monkeypatch.setattr(tok, "MAX_TOKENIZER_BYTES", 10)
    with pytest.raises(ModelFormatError, match="limit"):
        tok.from_tokenizer_json(p)

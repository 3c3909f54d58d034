"""The probe text and how models read it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelkin.io import open_model
from modelkin.io.tokenizer import Tokenizer
from modelkin.probe import load_probe, make_codec, make_reader, plan_probe, segment

#: The probe text is versioned: editing probe-v1.json must fail here (make a v2 instead).
PROBE_V1_SHA256 = "852c858002b389f684892bcc42cec416bb815b260dc101fe5ee4fb96d27dfc89"


def test_probe_v1_is_frozen() -> None:
    p = load_probe(1)
    assert p.sha256 == PROBE_V1_SHA256
    assert len(p.texts) >= 100
    assert all(t.isascii() and len(t.encode()) < 100 for t in p.texts)


def test_unknown_probe_version_is_an_error() -> None:
    from modelkin.errors import ModelkinError

    with pytest.raises(ModelkinError, match="probe"):
        load_probe(99)


def _byte_tok() -> Tokenizer:
    from modelkin.probe.vocab import _byte_decoder

    chars = sorted(_byte_decoder(), key=lambda c: _byte_decoder()[c])
    return Tokenizer("bpe", [*chars, "<s>"], special_tokens={"<s>": 256})


def test_bytelevel_segmentation_is_one_token_per_byte() -> None:
    codec = make_codec(_byte_tok())
    assert codec.scheme == "bytelevel"
    segs = segment(codec, "def f(x):\n    return x")
    assert segs is not None
    assert [s.id for s in segs] == list(b"def f(x):\n    return x")
    assert [(s.start, s.end) for s in segs][:2] == [(0, 1), (1, 2)]


def test_spm_prefers_real_pieces_over_byte_fallback() -> None:
    toks = ["<unk>", "<0x2C>", ",", "▁the", "▁", "t", "h", "e", "The"]
    codec = make_codec(Tokenizer("bpe", toks, special_tokens={"<unk>": 0}))
    assert codec.scheme == "spm"
    segs = segment(codec, "The, the")
    assert segs is not None
    assert [toks[s.id] for s in segs] == ["The", ",", "▁the"]


@pytest.mark.models
def test_wordpiece_equals_the_reference_tokenizer(real_models: dict[str, Path]) -> None:
    """On the probe text, greedy WordPiece over MiniLM's vocabulary gives exactly the ids
    of the HF tokenizers library (BERT's algorithm, not an approximation)."""
    from tokenizers import Tokenizer as HF

    p = real_models["minilm-l6"]
    ref = HF.from_file(str(p / "tokenizer.json"))
    ref.no_padding()
    ref.no_truncation()
    with open_model(p) as src:
        tok = src.tokenizer()
        assert tok is not None
        reader = make_reader(src, tok, "encoder")
    assert reader.codec.lowercase
    for text in load_probe().texts:
        segs = segment(reader.codec, text)
        assert segs is not None
        assert [*reader.prefix, *(s.id for s in segs), *reader.suffix] == ref.encode(text).ids


@pytest.mark.models
def test_gemma_reads_the_probe_with_bos_and_shared_mode(real_models: dict[str, Path]) -> None:
    with open_model(real_models["gemma-270m"]) as g, open_model(real_models["minilm-l6"]) as m:
        tg, tm = g.tokenizer(), m.tokenizer()
        assert tg is not None and tm is not None
        rg, rm = make_reader(g, tg, "decoder"), make_reader(m, tm, "encoder")
    assert rg.prefix == (2,)  # <bos>: Gemma's tokenizer adds it
    same = plan_probe(rg, rg)
    assert same.mode == "shared" and same.logit_a is not None
    assert len(same.logit_a) == 4096
    text = load_probe().texts[0]
    segs = segment(rg.codec, text)
    assert segs is not None
    assert "".join(text.encode()[s.start : s.end].decode() for s in segs) == text
    mixed = plan_probe(rg, rm)
    assert mixed.mode == "own"
    # rows align the same text prefix: both end a token at the same byte offset
    assert 0 < len(mixed.rows_a) == len(mixed.rows_b) < sum(len(s) for s in mixed.seqs_a)


def test_plan_hashes_pick_a_fixed_vocabulary_subset() -> None:
    tok = _byte_tok()
    from modelkin.probe.plan import Reader

    a = Reader(make_codec(tok))
    p1, p2 = plan_probe(a, a), plan_probe(a, a)
    assert p1.mode == "shared"
    assert p1.logit_a is not None and p2.logit_a is not None
    assert p1.logit_a.tolist() == p2.logit_a.tolist()
    assert (
        hashlib.sha256(p1.rows_a.tobytes()).digest() == hashlib.sha256(p2.rows_a.tobytes()).digest()
    )

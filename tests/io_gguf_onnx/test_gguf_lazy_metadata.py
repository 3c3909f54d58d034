"""Large GGUF metadata arrays are parsed lazily and packed, yet read back exactly.

The tokenizer arrays of real files (262k entries) are kept out of the parsed header
(:class:`LazyArray`) and the token texts are packed (:class:`PackedStrings`) to bound
memory; these tests pin that the values, digests and special tokens are what an eager
decode gives, and that damage inside a skipped array is still refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from modelkin.errors import ModelFormatError
from modelkin.io._gguf_header import LAZY_MIN, LazyArray, PackedStrings, parse_header
from modelkin.io.gguf import GGUFSource
from modelkin.io.tokenizer import Tokenizer

N = LAZY_MIN + 500
#: Token texts with multi-byte UTF-8, an empty text and a lone invalid byte (byte-level).
TOKENS: list[bytes] = (
    [t.encode("utf-8") for t in ("<unk>", "<s>", "</s>", "", "▁héllo", "日本")]
    + [b"\xe6\x97"]
    + [f"tok{i}".encode() for i in range(N - 8)]
    + [b"<ctl>"]
)
MERGES = [f"t{i} k{i}" for i in range(LAZY_MIN + 10)]


def _write(path: Path) -> Path:
    wr = GGUFWriter(path, "llama")
    wr.add_block_count(1)
    wr.add_tokenizer_model("gpt2")
    wr.add_token_list(TOKENS)
    wr.add_token_merges(MERGES)
    wr.add_token_scores([float(-i) / 3 for i in range(N)])
    wr.add_token_types([2, 3, 3] + [1] * (N - 4) + [3])
    wr.add_bos_token_id(1)
    wr.add_array("test.small", [1, 2, 3])
    wr.add_tensor("token_embd.weight", np.zeros((N, 32), dtype=np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return path


def _expected_texts() -> list[str]:
    return [t.decode("utf-8", errors="backslashreplace") for t in TOKENS]


@pytest.fixture(scope="module")
def lazy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("lazy") / "lazy.gguf")


def test_big_arrays_are_lazy_small_ones_eager(lazy_file: Path) -> None:
    hdr = parse_header(lazy_file.read_bytes(), lazy_file)
    for key in ("tokens", "merges", "scores", "token_type"):
        v = hdr.kv[f"tokenizer.ggml.{key}"]
        assert isinstance(v, LazyArray) and len(v) >= LAZY_MIN
    assert hdr.kv["test.small"] == [1, 2, 3]


def test_tokenizer_matches_eager_decode(lazy_file: Path) -> None:
    with GGUFSource(lazy_file) as src:
        tok = src.tokenizer()
        meta = src.metadata()
        cfg = src.config()
    assert tok is not None and isinstance(tok.tokens, PackedStrings)
    texts = _expected_texts()
    assert tok.tokens == texts and list(tok.tokens) == texts and tok.vocab_size == N
    assert tok.tokens[6] == "\\xe6\\x97" and tok.tokens[-1] == "<ctl>" and tok.tokens[3] == ""
    assert tok.tokens[4:6] == ["▁héllo", "日本"]
    assert list(tok.merges) == MERGES
    assert tok.scores is not None and list(tok.scores) == pytest.approx([-i / 3 for i in range(N)])
    assert tok.special_tokens == {"<s>": 1, "</s>": 2, "<ctl>": N - 1}
    # The digests are those of the plain-list tokenizer (the JSON of the full lists).
    plain = Tokenizer("bpe", texts, MERGES, dict(tok.special_tokens), None)
    assert tok.digest() == plain.digest()
    text = json.dumps(texts, ensure_ascii=False, separators=(",", ":"))
    assert tok.digest()["vocab"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert meta["tokenizer.ggml.tokens"] == f"<array of {N}>"
    assert cfg["vocab_size"] == N


def test_packed_strings_indexing(lazy_file: Path) -> None:
    with GGUFSource(lazy_file) as src:
        tok = src.tokenizer()
    assert tok is not None
    toks = tok.tokens
    assert toks[-N] == "<unk>"
    with pytest.raises(IndexError):
        toks[N]
    with pytest.raises(IndexError):
        toks[-N - 1]
    assert toks[::1000] == _expected_texts()[::1000]
    assert toks != _expected_texts()[:-1] and toks != [*_expected_texts()[:-1], "x"]


def test_damage_inside_a_lazy_string_array_is_refused(lazy_file: Path, tmp_path: Path) -> None:
    data = bytearray(lazy_file.read_bytes())
    hdr = parse_header(bytes(data), lazy_file)
    arr = hdr.kv["tokenizer.ggml.tokens"]
    assert isinstance(arr, LazyArray)
    bad = tmp_path / "bad.gguf"
    # The length of the 10th token claims more bytes than the file has.
    pos = arr.offset
    for _ in range(9):
        pos += 8 + int.from_bytes(data[pos : pos + 8], "little")
    data[pos : pos + 8] = (len(data)).to_bytes(8, "little")
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=r"bad\.gguf"):
        GGUFSource(bad)
    # A file cut inside the token array is refused too.
    bad.write_bytes(bytes(lazy_file.read_bytes()[: arr.offset + 16000]))
    with pytest.raises(ModelFormatError, match=r"truncated|past the end"):
        GGUFSource(bad)

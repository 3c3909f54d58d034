"""Byte-level tokenizers for the synthetic models, written in real HF file formats.

A byte tokenizer needs no training data, so two models built from the same recipe share
a tokenizer exactly as two real models of one family do (the "same tokenizer only"
case). Tokens are spelled with GPT-2's byte-to-unicode table so every byte is a visible
character in ``tokenizer.json`` / ``vocab.txt``.

Layouts (ids):

* llama: bytes ``0..255``, then ``<unk>`` 256, ``<s>`` 257, ``</s>`` 258 — written as a
  byte-level BPE ``tokenizer.json`` with no merges;
* bert: ``[PAD] [UNK] [CLS] [SEP] [MASK]`` as 0..4, then bytes ``5..260`` — written as
  ``vocab.txt`` plus a WordPiece ``tokenizer.json``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError

LLAMA_SPECIALS = ("<unk>", "<s>", "</s>")
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_MASK_ID = 4
BERT_CLS_ID = 2
BERT_SEP_ID = 3


@cache
def byte_chars() -> tuple[str, ...]:
    """GPT-2's reversible byte -> printable unicode table (Radford et al. 2019)."""
    keep = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    out: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return tuple(out[b] for b in range(256))


def vocab(model_type: str) -> list[str]:
    """The token strings in id order."""
    if model_type == "llama":
        return list(byte_chars()) + list(LLAMA_SPECIALS)
    if model_type == "bert":
        return list(BERT_SPECIALS) + list(byte_chars())
    raise ModelkinError(model_type, "no byte tokenizer for this model type")


def byte_offset(model_type: str) -> int:
    """Id of byte 0."""
    return 0 if model_type == "llama" else len(BERT_SPECIALS)


def encode(text: str, model_type: str) -> np.ndarray:
    """UTF-8 bytes of ``text`` as token ids (int64)."""
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    return raw + byte_offset(model_type)


def _added(tokens: list[str], specials: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, t in enumerate(tokens)
        if t in specials
    ]


def write(model_type: str, out_dir: Path) -> None:
    """Write the tokenizer files of ``model_type`` into ``out_dir``."""
    toks = vocab(model_type)
    ids = {t: i for i, t in enumerate(toks)}
    if model_type == "llama":
        tj: dict[str, Any] = {
            "version": "1.0",
            "added_tokens": _added(toks, LLAMA_SPECIALS),
            "normalizer": None,
            "pre_tokenizer": {
                "type": "ByteLevel",
                "add_prefix_space": False,
                "trim_offsets": True,
                "use_regex": False,
            },
            "post_processor": None,
            "decoder": {
                "type": "ByteLevel",
                "add_prefix_space": False,
                "trim_offsets": True,
                "use_regex": False,
            },
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": "<unk>",
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "vocab": ids,
                "merges": [],
            },
        }
        cfg = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "model_max_length": 128,
        }
    else:
        tj = {
            "version": "1.0",
            "added_tokens": _added(toks, BERT_SPECIALS),
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Split",
                "pattern": {"String": ""},
                "behavior": "Isolated",
                "invert": False,
            },
            "post_processor": None,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
            "model": {
                "type": "WordPiece",
                "unk_token": "[UNK]",
                "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": ids,
            },
        }
        cfg = {
            "tokenizer_class": "BertTokenizerFast",
            "do_lower_case": False,
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
            "model_max_length": 128,
        }
        (out_dir / "vocab.txt").write_text("".join(t + "\n" for t in toks), encoding="utf-8")
    (out_dir / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")
    (out_dir / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")


def resize(model_dir: Path, new_size: int) -> None:
    """Extend (with ``<extra_N>`` tokens) or truncate the vocabulary files of an HF dir
    (``tokenizer.json`` and/or ``vocab.txt``) to ``new_size`` entries, in place.

    Works on any WordPiece/BPE/WordLevel ``tokenizer.json`` whose ``model.vocab`` is a
    token -> id map, which covers the real MiniLM as well as our byte tokenizers."""
    vt = model_dir / "vocab.txt"
    if vt.exists():
        lines = vt.read_text(encoding="utf-8").splitlines()
        if new_size <= len(lines):
            lines = lines[:new_size]
        else:
            lines += [f"<extra_{i}>" for i in range(len(lines), new_size)]
        vt.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    tjp = model_dir / "tokenizer.json"
    if tjp.exists():
        try:
            tj = json.loads(tjp.read_text(encoding="utf-8"))
            voc = tj["model"]["vocab"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelkinError(tjp, f"not a tokenizer.json with model.vocab: {exc}") from exc
        if not isinstance(voc, dict):
            raise ModelkinError(tjp, "model.vocab is not a token -> id map")
        voc = {t: i for t, i in voc.items() if int(i) < new_size}
        used = set(voc.values())
        for i in range(new_size):
            if i not in used:
                voc[f"<extra_{i}>"] = i
        tj["model"]["vocab"] = voc
        tj["added_tokens"] = [a for a in tj.get("added_tokens", []) if a.get("id", 0) < new_size]
        if "merges" in tj["model"]:
            keep = set(voc)
            tj["model"]["merges"] = [
                m
                for m in tj["model"]["merges"]
                if "".join(m if isinstance(m, list) else m.split(" ")) in keep
            ]
        tjp.write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")

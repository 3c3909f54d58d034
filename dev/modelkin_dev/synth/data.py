"""Real training text that every machine with Python has: the standard library sources.

No dataset can be downloaded, yet the ground truth must be rebuildable anywhere, so the
corpora are fixed lists of standard-library files, read in a fixed order. Their bytes
differ between Python versions, which is why every training cache key includes the
sha256 of the text actually used (:func:`corpus`).
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from modelkin.errors import ModelkinError

#: Named corpora: relative paths inside the stdlib directory, in reading order.
CORPORA: dict[str, tuple[str, ...]] = {
    # pre-training text: general-purpose pure-Python modules
    "stdlib-a": (
        "argparse.py",
        "textwrap.py",
        "difflib.py",
        "inspect.py",
        "dataclasses.py",
        "fractions.py",
        "statistics.py",
        "shutil.py",
        "tarfile.py",
        "typing.py",
    ),
    # fine-tuning text: other modules plus the license (different style and vocabulary)
    "stdlib-b": (
        "LICENSE.txt",
        "json/decoder.py",
        "json/encoder.py",
        "http/client.py",
        "email/message.py",
        "logging/__init__.py",
        "unittest/case.py",
    ),
    # a third corpus for the null study's "different data" pairs: modules in neither
    # of the above
    "stdlib-c": (
        "collections/__init__.py",
        "enum.py",
        "pathlib.py",
        "subprocess.py",
        "configparser.py",
        "ast.py",
        "random.py",
    ),
}
#: Upper bound on the bytes of one corpus (keeps runs small and memory bounded).
MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Corpus:
    """Text of a named corpus: ``name``, the files read, the text and its sha256."""

    name: str
    files: tuple[str, ...]
    text: str
    sha256: str

    def tokens(self, model_type: str) -> np.ndarray:
        """The text as byte-tokenizer ids for ``model_type``."""
        from modelkin_dev.synth.tokenizers import encode

        return encode(self.text, model_type)


@cache
def corpus(name: str) -> Corpus:
    """Read corpus ``name``; files missing from this Python are skipped (and recorded)."""
    if name not in CORPORA:
        raise ModelkinError(name, f"unknown corpus; known: {', '.join(CORPORA)}")
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    used: list[str] = []
    size = 0
    for rel in CORPORA[name]:
        p = root / rel
        if not p.is_file():
            continue
        txt = p.read_text(encoding="utf-8", errors="replace")[: MAX_BYTES - size]
        parts.append(txt)
        used.append(rel)
        size += len(txt)
        if size >= MAX_BYTES:
            break
    text = "\n".join(parts)
    if len(text) < 10_000:
        raise ModelkinError(root, f"corpus {name!r}: too little text found in the stdlib")
    return Corpus(name, tuple(used), text, hashlib.sha256(text.encode()).hexdigest())

"""PyTorch checkpoints: weights_only loading, and malicious pickles refused unexecuted."""

from __future__ import annotations

import io
import pickle
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from modelkin.errors import ModelFormatError
from modelkin.io import open_model


class _Evil:
    """Unpickling this would create a file (a stand-in for arbitrary code)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.target), "w"))


def test_state_dict_roundtrip(tmp_path: Path) -> None:
    sd = {"a.weight": torch.randn(5, 3), "a.bias": torch.randn(5), "steps": torch.tensor(7)}
    p = tmp_path / "m.pt"
    torch.save({"state_dict": sd}, p)  # wrapper key is unwrapped
    with open_model(p) as src:
        assert src.format == "pytorch"
        assert {t.name: (t.shape, t.dtype) for t in src.tensors()} == {
            "a.weight": ((5, 3), "F32"),
            "a.bias": ((5,), "F32"),
            "steps": ((), "I64"),
        }
        np.testing.assert_array_equal(
            src.read("a.weight", slice(1, 4)), sd["a.weight"][1:4].numpy()
        )
        assert src.problems() == []


def test_malicious_pickle_in_torch_zip_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    p = tmp_path / "evil.bin"
    torch.save({"w": torch.ones(2)}, p)
    # Replace the data.pkl inside the zip with a pickle that would call open(target, "w").
    with zipfile.ZipFile(p) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in entries if n.endswith("data.pkl"))
    entries[pkl] = pickle.dumps({"w": _Evil(target)}, protocol=2)
    with zipfile.ZipFile(p, "w") as z:
        for n, b in entries.items():
            z.writestr(n, b)
    with pytest.raises(ModelFormatError, match=r"refused|not a loadable") as exc:
        open_model(p)
    assert str(p) in str(exc.value)
    assert not target.exists()


def test_malicious_legacy_pickle_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned2"
    p = tmp_path / "evil.pth"
    p.write_bytes(pickle.dumps(_Evil(target), protocol=2))
    with pytest.raises(ModelFormatError):
        open_model(p)
    assert not target.exists()
    # The payload is live: plain unpickling (what we never do) would have created it.
    pickle.loads(p.read_bytes()).close()
    assert target.exists()


def test_legacy_format_loads_without_mmap(tmp_path: Path) -> None:
    p = tmp_path / "old.bin"
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, buf, _use_new_zipfile_serialization=False)
    p.write_bytes(buf.getvalue())
    with open_model(p) as src:
        np.testing.assert_array_equal(src.read("w"), np.arange(6.0, dtype=np.float32).reshape(2, 3))
        assert any("legacy" in m for m in src.problems())


def test_garbage_and_empty_checkpoints(tmp_path: Path) -> None:
    g = tmp_path / "g.bin"
    g.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFormatError, match=re.escape(str(g))):
        open_model(g)
    e = tmp_path / "e.pt"
    torch.save({"note": "no tensors"}, e)
    with pytest.raises(ModelFormatError, match="no tensors"):
        open_model(e)


def test_without_torch_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "m.bin"
    torch.save({"w": torch.ones(2)}, p)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ModelFormatError, match=r"needs torch: pip install"):
        open_model(p)

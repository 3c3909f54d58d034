"""Hugging Face model directories, including sentence-transformers layouts.

A directory is a model when it holds weights: ``model.safetensors``, sharded safetensors
listed by ``model.safetensors.index.json`` (its ``weight_map`` maps tensor name to shard
file), or the same for ``pytorch_model.bin``. ``config.json`` and tokenizer files sit
beside the weights.

sentence-transformers saves a pipeline of modules listed in ``modules.json``; the
Transformer module's files live in the root (``path: ""``) or in a folder such as
``0_Transformer/``. Later modules (e.g. ``2_Dense/``) may carry weights of their own; they
are exposed with the folder as a name prefix (``2_Dense/linear.weight``) so that nothing is
hidden from digests and fingerprints.

A missing shard does not stop the model from opening: its tensors are left out and
:meth:`problems` names them, so what is intact can still be inspected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError
from modelkin.io.base import MAX_HEADER_BYTES, TensorInfo, TensorSource

_ST_INDEX = "model.safetensors.index.json"
_PT_INDEX = "pytorch_model.bin.index.json"
_SINGLE = ("model.safetensors", "pytorch_model.bin")
_TRANSFORMER_MODULE = "sentence_transformers.models.Transformer"
_UNSET = object()


def _read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_HEADER_BYTES:
            raise ModelFormatError(path, f"{size} bytes is more than the limit {MAX_HEADER_BYTES}")
        return json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ModelFormatError(path, f"cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(path, f"not valid UTF-8 JSON ({exc})") from None


def has_weights(d: Path) -> bool:
    """Whether ``d`` directly holds HF-style weight files."""
    return any((d / n).is_file() for n in (*_SINGLE, _ST_INDEX, _PT_INDEX)) or any(
        d.glob("*.safetensors")
    )


def _module_dirs(root: Path) -> tuple[Path | None, list[Path]]:
    """(Transformer module dir, other module dirs) from sentence-transformers' modules.json."""
    mj = root / "modules.json"
    if not mj.is_file():
        return None, []
    mods = _read_json(mj)
    if not isinstance(mods, list):
        raise ModelFormatError(mj, "modules.json must be a list of modules")
    main: Path | None = None
    others: list[Path] = []
    for m in mods:
        if not isinstance(m, Mapping) or not isinstance(m.get("path", ""), str):
            raise ModelFormatError(mj, f"module entry {m!r} is malformed")
        rel = m.get("path", "")
        d = _inside(root, rel, mj)
        if m.get("type") == _TRANSFORMER_MODULE and main is None:
            main = d
        elif d != root:
            others.append(d)
    return main, others


def _inside(root: Path, rel: str, where: Path) -> Path:
    """``root/rel``, refusing names that escape ``root`` (``..``, absolute paths)."""
    p = (root / rel).resolve()
    r = root.resolve()
    if p != r and r not in p.parents:
        raise ModelFormatError(where, f"path {rel!r} points outside the model directory")
    return root / rel if rel else root


class HFDirSource(TensorSource):
    """A Hugging Face (or sentence-transformers) model directory."""

    format = "hf"

    def __init__(self, path: str | Path) -> None:
        super().__init__(Path(path))
        root = self.path
        if not root.is_dir():
            raise ModelFormatError(root, "not a directory")
        main, others = _module_dirs(root)
        if main is None or not has_weights(main):
            main = root if has_weights(root) else None
        if main is None:
            cands = [
                d
                for d in sorted(root.iterdir())
                if d.is_dir() and has_weights(d) and (d / "config.json").is_file()
            ]
            if not cands:
                raise ModelFormatError(
                    root, "no weights found (model.safetensors, sharded index or pytorch_model.bin)"
                )
            main = cands[0]
        self.weights_dir = main
        self._problems: list[str] = []
        self._parts: list[TensorSource] = []
        self._where: dict[str, tuple[TensorSource, str]] = {}
        self._infos: list[TensorInfo] = []
        self._index_files: list[Path] = []
        self._tokenizer: Any = _UNSET
        try:
            self._open_weights(main, prefix="")
            for d in others:
                if d != main and has_weights(d):
                    self._open_weights(d, prefix=f"{d.name}/")
        except BaseException:
            self.close()
            raise
        cfg_path = main / "config.json"
        if not cfg_path.is_file():
            cfg_path = root / "config.json"
        self._config: dict[str, Any] = {}
        if cfg_path.is_file():
            cfg = _read_json(cfg_path)
            if not isinstance(cfg, dict):
                raise ModelFormatError(cfg_path, "config.json is not a JSON object")
            self._config = cfg
            self._config_path: Path | None = cfg_path
        else:
            self._config_path = None
            self._problems.append("no config.json: structure is derived from tensors alone")

    # -- opening -----------------------------------------------------------------------
    def _open_weights(self, d: Path, prefix: str) -> None:
        for index_name, single in (
            (_ST_INDEX, "model.safetensors"),
            (_PT_INDEX, "pytorch_model.bin"),
        ):
            if (d / index_name).is_file():
                self._open_index(d, d / index_name, prefix)
                return
            if (d / single).is_file():
                self._add_part(d / single, prefix, expected=None)
                return
        files = sorted(d.glob("*.safetensors"))
        if len(files) > 1:
            self._problems.append(
                f"{d.name}: no index file; loading {len(files)} safetensors files"
            )
        for f in files:
            self._add_part(f, prefix, expected=None)

    def _open_index(self, d: Path, index: Path, prefix: str) -> None:
        obj = _read_json(index)
        wm = obj.get("weight_map") if isinstance(obj, dict) else None
        if not isinstance(wm, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in wm.items()
        ):
            raise ModelFormatError(index, "'weight_map' must map tensor names to file names")
        self._index_files.append(index)
        by_file: dict[str, set[str]] = {}
        for name, fname in wm.items():
            by_file.setdefault(fname, set()).add(name)
        for fname in sorted(by_file):
            f = _inside(d, fname, index)
            if not f.is_file():
                missing = sorted(by_file[fname])
                self._problems.append(
                    f"shard {fname} is missing: {len(missing)} tensors absent "
                    f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})"
                )
                continue
            self._add_part(f, prefix, expected=by_file[fname])

    def _add_part(self, f: Path, prefix: str, expected: set[str] | None) -> None:
        from modelkin.io.safetensors_file import SafetensorsSource

        part: TensorSource
        if f.suffix == ".safetensors":
            part = SafetensorsSource(f)
        else:
            from modelkin.io.torch_file import PyTorchSource

            part = PyTorchSource(f)
        self._parts.append(part)
        self._problems.extend(part.problems())
        names = set()
        for t in part.tensors():
            full = prefix + t.name
            if full in self._where:
                raise ModelFormatError(
                    f, f"tensor {t.name!r} also appears in {self._where[full][0].path.name}"
                )
            self._where[full] = (part, t.name)
            self._infos.append(TensorInfo(full, t.shape, t.dtype, t.nbytes, t.quantized, t.extra))
            names.add(t.name)
        if expected is not None:
            absent = sorted(expected - names)
            if absent:
                self._problems.append(
                    f"{f.name}: {len(absent)} tensors listed in the index are absent "
                    f"({', '.join(absent[:5])}{', ...' if len(absent) > 5 else ''})"
                )

    # -- TensorSource ------------------------------------------------------------------
    def tensors(self) -> list[TensorInfo]:
        return list(self._infos)

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        hit = self._where.get(name)
        if hit is None:
            raise KeyError(name)
        part, inner = hit
        return part.read(inner, rows)

    def metadata(self) -> Mapping[str, Any]:
        return dict(self._config)

    def config(self) -> Mapping[str, Any]:
        return dict(self._config)

    def tokenizer(self) -> Any | None:
        from modelkin.io.tokenizer import find_tokenizer

        dirs = (
            [self.weights_dir] if self.weights_dir == self.path else [self.weights_dir, self.path]
        )
        return find_tokenizer(*dirs)

    def files(self) -> list[Path]:
        """Every regular file of the directory tree (weights, config, tokenizer...), sorted;
        hidden files (``.gitattributes``, ``.cache``) are left out."""
        out = []
        for p in sorted(self.path.rglob("*")):
            rel = p.relative_to(self.path)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                out.append(p)
        return out

    def problems(self) -> list[str]:
        return list(self._problems)

    def close(self) -> None:
        for p in self._parts:
            p.close()

"""Which models a collection holds: a directory tree, or a list file of paths.

A directory tree is walked without following symlinks. A directory that holds Hugging
Face weights (``*.safetensors``, ``pytorch_model.bin``, an index) or a
sentence-transformers ``modules.json`` is one model and is not descended into; elsewhere
every loose ``.gguf``, ``.onnx``, ``.pt``/``.pth`` file is one model. Hidden entries
(``.git``, ``.cache``) are skipped, as in the registry's manifests.

A list file names one model path per line; blank lines and lines starting with ``#`` are
ignored; relative paths are relative to the list file (so a list can travel with the
collection it describes).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from modelkin.errors import ModelkinError
from modelkin.io.hf_dir import has_weights

#: Loose files that are models on their own (``.bin`` is too generic to guess from).
MODEL_SUFFIXES = (".gguf", ".onnx", ".pt", ".pth", ".safetensors")
#: Bounds on what a walk or a list may produce (a runaway tree must not hang the scan).
MAX_MODELS = 1_000_000
MAX_DEPTH = 32
MAX_LIST_BYTES = 64 * 1024 * 1024
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ModelEntry:
    """One model of a collection.

    ``key`` is stable across runs and safe as a file name (it names the fingerprint file
    and keys the journal); ``name`` is how the model is shown and registered (its path
    relative to the collection root, or the path as listed)."""

    key: str
    name: str
    path: Path


def entry_for(path: Path, name: str) -> ModelEntry:
    """The entry of ``path`` shown as ``name``: the key is a readable slug of the name
    plus a short hash of it, so two names that slug alike still get distinct keys."""
    slug = _SLUG.sub("_", name).strip("._")[-80:] or "model"
    tag = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return ModelEntry(key=f"{slug}-{tag}", name=name, path=path)


def _is_model_dir(d: Path) -> bool:
    return has_weights(d) or (d / "modules.json").is_file()


def discover(root: Path) -> list[ModelEntry]:
    """Every model under directory ``root``, sorted by relative path."""
    root = Path(root)
    if not root.is_dir():
        raise ModelkinError(root, "not a directory")
    if _is_model_dir(root):
        return [entry_for(root.resolve(), root.resolve().name)]
    found: list[ModelEntry] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            children = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            raise ModelkinError(d, f"cannot list directory: {exc.strerror or exc}") from None
        for child in children:
            if child.name.startswith(".") or child.is_symlink():
                continue
            path = Path(child.path)
            rel = path.relative_to(root).as_posix()
            if child.is_dir():
                if _is_model_dir(path):
                    found.append(entry_for(path.resolve(), rel))
                elif depth + 1 < MAX_DEPTH:
                    stack.append((path, depth + 1))
            elif child.is_file() and path.suffix.lower() in MODEL_SUFFIXES:
                found.append(entry_for(path.resolve(), rel))
            if len(found) > MAX_MODELS:
                raise ModelkinError(root, f"more than {MAX_MODELS} models: split the collection")
    return sorted(found, key=lambda e: e.name)


def read_list(list_file: Path) -> list[ModelEntry]:
    """The models named in ``list_file`` (one path per line, ``#`` comments), in order,
    without duplicates. Paths are not checked here: a missing one is reported by the scan
    as a failed model, not as a reason to refuse the others."""
    list_file = Path(list_file)
    try:
        with list_file.open("rb") as f:
            raw = f.read(MAX_LIST_BYTES + 1)
    except OSError as exc:
        raise ModelkinError(list_file, f"cannot read list: {exc.strerror or exc}") from None
    if len(raw) > MAX_LIST_BYTES:
        raise ModelkinError(list_file, f"list file larger than {MAX_LIST_BYTES} bytes")
    if b"\x00" in raw:
        raise ModelkinError(list_file, "not a text list of paths (contains NUL bytes)")
    base = list_file.resolve().parent
    seen: set[Path] = set()
    out: list[ModelEntry] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ModelkinError(f"{list_file}:{number}", "line is not UTF-8") from None
        if not text or text.startswith("#"):
            continue
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base / path
        path = Path(os.path.normpath(path))
        if path in seen:
            continue
        seen.add(path)
        out.append(entry_for(path, str(path)))
        if len(out) > MAX_MODELS:
            raise ModelkinError(list_file, f"more than {MAX_MODELS} models: split the list")
    return out


def collect(target: Path) -> list[ModelEntry]:
    """The models of ``target``: a directory tree (:func:`discover`) or a list file
    (:func:`read_list`). Refuses a target that yields no model at all."""
    target = Path(target)
    if target.is_dir():
        entries = discover(target)
    elif target.is_file():
        entries = read_list(target)
    else:
        raise ModelkinError(target, "no such directory or list file")
    if not entries:
        raise ModelkinError(target, "no models found (directories with weights, .gguf, .onnx)")
    return entries

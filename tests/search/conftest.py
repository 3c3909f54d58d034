"""A registry with real and tiny models for the search tests (built once per session).

Registered: minilm-l6 (real), and two tiny llama models with independent random
initialisations (``tiny-a``, ``tiny-b``). Queries: a derivative of ``tiny-a`` (a layer
removed, then an int8 round trip), one of minilm-l6 (every other layer kept), and a third
independent tiny llama (``tiny-c``, the unrelated control), all fingerprinted for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.registry import Registry, register_identity, register_model
from modelkin.statements import Identity
from modelkin_dev.synth import models, specs, transforms


@dataclass
class World:
    home: Path
    alice: Identity
    paths: dict[str, Path]
    fps: dict[str, Fingerprint]


def tiny(base: Path, name: str, seed: int) -> Path:
    spec = specs.LlamaSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=4)
    return Path(models.save(models.build(spec, seed), spec, base / name))


@pytest.fixture(scope="session")
def world(real_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("search")
    paths = {"tiny-a": tiny(base, "tiny-a", 11), "tiny-b": tiny(base, "tiny-b", 12)}
    paths["tiny-c"] = tiny(base, "tiny-c", 13)
    paths["minilm-l6"] = real_models["minilm-l6"]
    dropped = transforms.select_layers(paths["tiny-a"], base / "a-drop", [0, 1, 3])
    paths["a-derived"] = transforms.quantize_roundtrip(dropped, base / "a-derived", "int8")
    paths["l6-half"] = transforms.select_layers(paths["minilm-l6"], base / "l6-half", [0, 2, 4])
    home = base / "home"
    alice = Identity.generate("alice")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        for name in ("tiny-a", "tiny-b", "minilm-l6"):
            register_model(
                reg, paths[name], alice, name=name, version="1", organisation="Alice Labs",
                license="mit",
            )  # fmt: skip
    fps = {n: fingerprint_model(paths[n]) for n in ("a-derived", "l6-half", "tiny-c")}
    return World(home, alice, paths, fps)

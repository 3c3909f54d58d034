"""Index build, incremental sync, rebuild and corruption handling, and 1:N search."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin.registry import Registry, register_model
from modelkin.search import SearchIndex, index_items, search, sync
from modelkin.search.index import INDEX_FILE

from .conftest import World


def _index_path(world: World) -> Path:
    return world.home / "search" / INDEX_FILE


def test_features_are_shape_independent(world: World) -> None:
    """A 3-layer int8 copy of a 4-layer model still finds each of its layers."""
    from modelkin.fingerprint import fingerprint_model

    parent = index_items(fingerprint_model(world.paths["tiny-a"]))
    child = index_items(world.fps["a-derived"])
    other = index_items(world.fps["tiny-c"])
    assert len(parent.vectors["layer"]) == 5 and len(child.vectors["layer"]) == 4
    related = (child.vectors["layer"] @ parent.vectors["layer"].T).max(axis=1).mean()
    unrelated = (other.vectors["layer"] @ parent.vectors["layer"].T).max(axis=1).mean()
    assert related > 0.9 and unrelated < 0.5, (related, unrelated)


def test_sync_is_incremental(world: World, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(world.home, home)
    shutil.rmtree(home / "search", ignore_errors=True)
    with Registry.open(home) as reg:
        first = sync(reg)
        assert first.added == 3 and first.rebuilt == "no index yet"
        assert sorted(i["name"] for i in first.index.infos) == ["minilm-l6", "tiny-a", "tiny-b"]
        again = sync(reg)
        assert again.added == 0 and again.rebuilt is None
        register_model(
            reg, world.paths["tiny-c"], world.alice, name="tiny-c", version="1",
            organisation="Alice Labs", license="mit",
        )  # fmt: skip
        third = sync(reg)
        assert third.added == 1 and third.rebuilt is None
        assert third.index.applied_size == reg.applied_size()
        assert len(SearchIndex.load(home / "search" / INDEX_FILE)) == 4


def test_search_finds_parent_and_not_control(world: World) -> None:
    with Registry.open(world.home) as reg:
        found = search(reg, world.fps["a-derived"], top=3)
        assert found[0].record.name == "tiny-a" and found[0].report.related is True
        assert all(r.report.related is not True for r in found[1:])
        l6 = search(reg, world.fps["l6-half"], top=2)
        assert l6[0].record.name == "minilm-l6" and l6[0].report.related is True
        control = search(reg, world.fps["tiny-c"], top=3)
        assert len(control) == 3 and not any(r.report.related for r in control)


def test_deleted_index_is_rebuilt(world: World) -> None:
    with Registry.open(world.home) as reg:
        before = sync(reg).index
        _index_path(world).unlink()
        after = sync(reg)
    assert after.rebuilt == "no index yet" and sorted(after.index.keys) == sorted(before.keys)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bad-owner"])
def test_corrupt_index_is_refused_then_rebuilt(world: World, damage: str) -> None:
    path = _index_path(world)
    with Registry.open(world.home) as reg:
        good = sync(reg).index
        if damage == "garbage":
            path.write_bytes(b"not an index at all")
        elif damage == "truncated":
            path.write_bytes(path.read_bytes()[:200])
        else:
            v, o = good.matrix("layer")
            bad = SearchIndex(keys=good.keys, infos=good.infos, applied_size=good.applied_size)
            bad._vec["layer"], bad._own["layer"] = [v], [o[::-1].copy()]
            bad.save(path)
        with pytest.raises(ModelkinError) as exc:
            SearchIndex.load(path)
        assert str(path) in str(exc.value) and "search index" in str(exc.value)
        healed = sync(reg)
    assert healed.rebuilt is not None and sorted(healed.index.keys) == sorted(good.keys)
    assert len(SearchIndex.load(path)) == len(good)


def test_two_processes_syncing_at_once_leave_a_valid_index(world: World, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(world.home, home)
    shutil.rmtree(home / "search", ignore_errors=True)
    code = (
        "import sys; from modelkin.registry import Registry; from modelkin.search import sync\n"
        "with Registry.open(sys.argv[1]) as r:\n"
        "    for _ in range(2): sync(r)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    idx = SearchIndex.load(home / "search" / INDEX_FILE)
    assert sorted(i["name"] for i in idx.infos) == ["minilm-l6", "tiny-a", "tiny-b"]
    assert not list((home / "search").glob(".index-*"))


def test_query_ranks_by_fused_channels() -> None:
    """Pure index behaviour: a model matching in every channel beats one matching in
    one channel, which beats noise; results are capped at ``top``."""
    from modelkin.search.features import DIMS, Items

    rng = np.random.default_rng(0)

    def unit(n: int, d: int) -> np.ndarray:
        x = rng.normal(size=(n, d))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    q = Items({"layer": unit(4, DIMS["layer"]), "hvec": unit(4, DIMS["hvec"]),
               "tok": unit(1, DIMS["tok"])})  # fmt: skip
    idx = SearchIndex()
    for i in range(50):
        idx.add(f"noise{i}", Items({c: unit(4 if c != "tok" else 1, d) for c, d in DIMS.items()}))
    idx.add("all", Items(dict(q.vectors)))
    idx.add("tok-only", Items({"layer": unit(4, DIMS["layer"]), "tok": q.vectors["tok"]}))
    found = idx.query(q, top=5)
    assert [m.key for m in found[:2]] == ["all", "tok-only"] and len(found) == 5
    assert found[0].channels["layer"] > 0.99


def test_batched_features_equal_single(world: World) -> None:
    """``items_batch`` (used to index many models at once) computes what
    ``items_from_parts`` (behind ``index_items``) does for each model alone."""
    from modelkin.search.features import (
        RoleSample,
        items_batch,
        items_from_parts,
        role_samples,
        token_rows,
    )

    fps = [world.fps["tiny-c"], world.fps["a-derived"]]
    a, b = (role_samples(fp) for fp in fps)
    pairs = [(r, s) for r in a for s in b if r.key == s.key and r.layer == s.layer]
    assert len(pairs) >= 20
    roles = [RoleSample(r.key, r.layer, r.hidden_1d, np.stack([r.sample, s.sample]))
             for r, s in pairs]  # fmt: skip
    toks = [token_rows(fp) for fp in fps]
    assert toks[0] is not None and toks[1] is not None
    assert np.array_equal(toks[0][1], toks[1][1])  # one tokenizer: the same token hashes
    rows = np.stack([toks[0][0], toks[1][0]])
    both = items_batch(roles, (rows, toks[0][1]), fps[0].structure, None, 2)
    for k, fp in enumerate(fps):
        sub = [RoleSample(r.key, r.layer, r.hidden_1d, r.sample[k]) for r in roles]
        one = items_from_parts(sub, toks[k], fp.structure, None)
        for ch in ("layer", "hvec", "tok"):
            assert one.vectors[ch].shape == both[k].vectors[ch].shape
            np.testing.assert_allclose(both[k].vectors[ch], one.vectors[ch], atol=1e-6)

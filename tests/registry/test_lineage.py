"""Lineage graphs across record kinds, with proofs, and their SVG picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from registry_helpers import checkpoint_root, leaf_hash, make_model_dir, verify_inclusion

from modelkin.registry import (
    Registry,
    dataset_predicate,
    manifest_from_directory,
    register_dataset,
    register_derivation,
    register_model,
    register_product,
    register_training_run,
)
from modelkin.statements import Identity


def test_chain_of_custody(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    for i, name in enumerate(("base", "chat", "chat-q4")):
        register_model(
            reg,
            make_model_dir(tmp_path / name, i),
            alice,
            name=name,
            version="1",
            organisation="A",
            license="mit",
            fingerprint=False,
        )
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("x")
    register_dataset(
        reg, alice, dataset_predicate(name="sft-data", manifest=manifest_from_directory(data))
    )
    register_training_run(
        reg,
        alice,
        name="sft",
        hardware_kind="H100",
        hardware_count=1,
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T01:00:00Z",
        output="chat",
        input_models=["base"],
        datasets=["sft-data"],
    )
    register_derivation(reg, alice, child="chat", parents=["base"], relation="finetune")
    register_derivation(reg, alice, child="chat-q4", parents=["chat"], relation="quantized")
    register_derivation(reg, alice, child="base", parents=["ef" * 32], relation="distilled")
    register_product(reg, alice, name="Assistant", organisation="A", models=["chat-q4"])

    graph = reg.lineage("chat")
    names = {n.name: n.role for n in graph.nodes.values()}
    assert names["chat"] == "root"
    assert names["base"] == names["sft-data"] == names["sft"] == "ancestor"
    assert names["chat-q4"] == names["Assistant"] == "descendant"
    dangling = [n for n in graph.nodes.values() if n.dangling]
    assert [n.key for n in dangling] == ["sha256:" + "ef" * 32]
    assert dangling[0].role == "ancestor"
    relations = sorted(e.relation for e in graph.edges)
    assert relations == sorted(
        ["distilled", "finetune", "input_model", "produced", "quantized", "ships", "trained_on"]
    )
    size, root = checkpoint_root(graph.checkpoint)
    assert size == graph.tree_size == reg.ledger.size()
    for e in graph.edges:
        proof = [bytes.fromhex(h) for h in e.inclusion_proof]
        leaf = leaf_hash(reg.ledger.entry(e.ledger_index))
        assert verify_inclusion(leaf, e.ledger_index, size, proof, root)
        if e.record_kind == "derivation":
            assert e.verdict == "unverifiable"
    as_json = graph.to_dict()
    assert as_json["edges"][0]["evidence"]["inclusion_proof"]

    svg = reg.lineage_svg(graph)
    doc = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(doc.findall(f"{ns}rect[@class='node']")) == len(graph.nodes)
    assert len(doc.findall(f"{ns}polyline[@class='edge']")) == len(graph.edges)
    texts = " ".join(t.text or "" for t in doc.iter(f"{ns}text"))
    for name in ("base", "chat-q4", "Assistant", "sft-data", "dangling reference"):
        assert name in texts
    # layered left to right: dangling -> base -> sft -> chat -> chat-q4 -> Assistant
    boxes = doc.findall(f"{ns}rect[@class='node']")
    columns = {round(float(r.get("x", 0)) + float(r.get("width", 0)) / 2) for r in boxes}
    assert len(columns) == 6


def test_lineage_of_lonely_model(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    register_model(
        reg,
        make_model_dir(tmp_path / "m", 0),
        alice,
        name="solo",
        version="1",
        organisation="A",
        license="mit",
        fingerprint=False,
    )
    graph = reg.lineage("solo")
    assert list(graph.nodes) == [graph.root] and graph.edges == []
    ET.fromstring(reg.lineage_svg(graph))

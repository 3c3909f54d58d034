"""Derived sections: inherited licences, conflicts, token shares, disclosure score."""

from __future__ import annotations

from label_samples import gemma_conflict_label, minilm_label

from modelkin.labels import Compute, Dataset, Identity, Parent, Use, assemble_label
from modelkin.labels.assemble import DISCLOSURE_CHECKLIST, known_licence_share
from modelkin.labels.licences import inherited_licences, licence_conflicts, lookup


def test_shares_come_from_token_counts() -> None:
    label = minilm_label()
    shares = [d.share_of_tokens for d in label.training_data.datasets]
    assert shares == [0.806667, 0.128889, 0.064444]
    # reddit (81 %) has no declared licence: 19 % of the tokens are under a known licence
    assert label.training_data.known_licence_share == 0.1933


def test_known_licence_share_needs_every_share() -> None:
    assert known_licence_share([Dataset("a", share_of_tokens=0.5, licence="MIT"),
                                Dataset("b")]) is None  # fmt: skip
    assert known_licence_share([]) is None
    assert known_licence_share([Dataset("a", share_of_tokens=0.25, licence="MIT"),
                                Dataset("b", share_of_tokens=0.75)]) == 0.25  # fmt: skip


def test_disclosure_score_counts_answers_and_lists_missing() -> None:
    label = minilm_label()
    d = label.disclosure
    assert d.total == len(DISCLOSURE_CHECKLIST) == 18
    assert d.missing == ("dataset licences", "energy")
    assert (d.answered, d.score) == (16, round(16 / 18, 4))
    empty = assemble_label(Identity(name="bare"))
    assert empty.disclosure.answered == 1  # only "parent licences" (vacuously: no parents)
    assert "lineage (parents or trained from scratch)" in empty.disclosure.missing
    scratch = assemble_label(Identity(name="bare"), from_scratch=True)
    assert scratch.disclosure.answered == 2
    full = assemble_label(
        Identity(name="m", organisation="o", licence="MIT", weight_digest="sha256:" + "0" * 64,
                 ledger_index=0),
        datasets=[Dataset("d", tokens=5, licence="MIT", source="s", consent="yes",
                          personal_data=False)],
        compute=Compute(accelerator_hours=1, flops=2, energy_kwh=3),
        use=Use(intended=("a",), out_of_scope=("b",), limitations=("c",)),
        from_scratch=True,
    )  # fmt: skip
    assert full.disclosure.score == 1.0 and full.disclosure.missing == ()


def test_gemma_relicensed_as_mit_is_flagged() -> None:
    label = gemma_conflict_label()
    conflicts = label.lineage.conflicts
    assert any("gemma" in c and "use restrictions" in c for c in conflicts)
    assert any("non-commercial" in c and "acme-support-tickets" in c for c in conflicts)
    # the contradicted Llama parent is not inherited
    assert [x.via for x in label.lineage.licences] == ["google/gemma-3-270m"]
    assert not any("Llama" in c for c in conflicts)
    gemma = label.lineage.licences[0]
    assert any("Gemma Terms of Use" in ob for ob in gemma.obligations)


def test_llama_naming_rule_share_alike_and_unknown_licences() -> None:
    llama = inherited_licences([("meta-llama/Llama-3.1-8B", "llama3.1")])
    assert licence_conflicts("Llama-3.1-acme", "llama3.1", llama) == ()
    named = licence_conflicts("acme-8b", "llama3.1", llama)
    assert len(named) == 1 and "begin with 'Llama'" in named[0]
    sa = inherited_licences([("wiki-model", "CC-BY-SA-4.0")])
    assert any("share-alike" in c for c in licence_conflicts("m", "Apache-2.0", sa))
    assert licence_conflicts("m", "cc-by-sa-4.0", sa) == ()
    unknown = inherited_licences([("p", "weird-licence-7")])
    assert unknown[0].known is False and unknown[0].licence == "weird-licence-7"
    assert "not known" in licence_conflicts("m", "MIT", unknown)[0]
    undeclared = inherited_licences([("p", None)])
    assert undeclared[0].licence == "undeclared"
    # permissive parent under a permissive child: fine
    mit = inherited_licences([("p", "MIT")])
    assert licence_conflicts("m", "Apache-2.0", mit) == ()


def test_parent_verdict_text() -> None:
    from modelkin.labels.format import parent_verdict

    assert parent_verdict(Parent("p", "finetune", "verified", 3e-300)) == (
        "finetune · verified (p < 1e-15)"
    )
    # a contradicted claim shows no p-value: a large p is "no evidence", said in words
    assert parent_verdict(Parent("p", "merge", "contradicted", 0.62)) == ("merge · CONTRADICTED")
    assert parent_verdict(Parent("p", "adapter")) == "adapter · claimed, not tested"


def test_licence_lookup_is_case_insensitive_with_aliases() -> None:
    facts = lookup("apache-2.0")
    assert facts is not None and facts.spdx == "Apache-2.0"
    rail = lookup("creativeml-openrail-m")
    assert rail is not None and rail.use_restrictions
    assert lookup("no-such") is None and lookup(None) is None


def test_contradicted_parent_only_parent_means_nothing_inherited() -> None:
    label = assemble_label(
        Identity(name="m", licence="MIT"),
        parents=[Parent("p", "finetune", status="contradicted", licence="gemma")],
    )
    assert label.lineage.licences == () and label.lineage.conflicts == ()

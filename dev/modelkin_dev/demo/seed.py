"""The demo registry: real models, a dataset, a training run, one true and one false claim.

What is seeded (see ``/work/shared/MODELS.md`` for the models' known history):

* identities ``demo-lab`` (a model lab) and ``demo-auditor``, keys kept in ``<home>/keys``;
* the real models under their real names and publishers, fixtures ``minilm-l6`` (HF
  safetensors), ``minilm-l3`` (ONNX) and ``gemma-270m`` (GGUF) of :mod:`modelkin_dev.fixtures`:
  ``all-MiniLM-L6-v2`` and ``paraphrase-MiniLM-L3-v2`` (sentence-transformers) and
  ``gemma-3-270m`` (Google). The demo cannot hold their publishers' keys, so the demo lab's key
  signs these registrations, naming the publisher as the organisation; the version is what
  the release itself says (``v2``; the GGUF quantisation), never invented;
* ``minilm-l6-tuned``: all-MiniLM-L6-v2 with light Gaussian noise
  (:func:`modelkin_dev.synth.transforms.add_noise`, a stand-in for a fine-tune);
* a dataset over a few real text files written into ``<home>/demo/data``;
* a training run producing ``minilm-l6-tuned`` from ``minilm-l6`` on that dataset;
* ``minilm-l6-scratch``: minilm-l6's architecture with freshly initialised (seeded) weights,
  an independent control;
* three derivation claims, all "finetune of all-MiniLM-L6-v2": ``minilm-l6-tuned`` (true),
  ``minilm-l6-scratch`` (false; the forensics can contradict it) and ``gemma-3-270m`` (false;
  another architecture: only the shape-free tests can run and they have no power, so the
  registry abstains: unverifiable);
* three works (human, AI-assisted, AI-generated).
The registry's own forensic check gives the claims' verdicts.

Every step first looks for its record by name, so re-running adds nothing twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.config import Home
from modelkin.errors import NotFoundError
from modelkin.registry import (
    Registry,
    dataset_predicate,
    manifest_from_directory,
    register_dataset,
    register_derivation,
    register_identity,
    register_model,
    register_training_run,
)
from modelkin.statements import Identity, sha256_file

DEMO_ORG = "Demo Lab"
DATASET = "demo-sentence-pairs"
RUN = "demo-tune-minilm-l6"
TUNED = "minilm-l6-tuned"
SCRATCH = "minilm-l6-scratch"
#: fixture id -> (registered name, publisher, version, licence, intended use)
MODELS = {
    "minilm-l6": ("all-MiniLM-L6-v2", "sentence-transformers", "v2", "apache-2.0",
                  "Sentence embeddings (search, clustering)."),
    "minilm-l3": ("paraphrase-MiniLM-L3-v2", "sentence-transformers", "v2", "apache-2.0",
                  "Paraphrase detection embeddings."),
    "gemma-270m": ("gemma-3-270m", "Google", "GGUF Q4_K_M", "gemma",
                   "Small text generation."),
}  # fmt: skip
BASE = MODELS["minilm-l6"][0]
GEMMA = MODELS["gemma-270m"][0]
TEXTS = {
    "train.tsv": "a cat sits on the mat\ta cat is sitting on a mat\n"
    "the sky is blue\tthe colour of the sky is blue\n",
    "dev.tsv": "dogs bark loudly\ta dog is barking\n",
    "README.md": "# demo-sentence-pairs\nTiny paraphrase pairs written for the modelkin demo.\n",
}


@dataclass
class DemoSummary:
    """What :func:`seed_demo` did: one line per record created or found."""

    home: Path
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)


def demo_signer(home: Path | str) -> Path:
    """The demo lab's key file (signs works registered through the demo's web form)."""
    return Home.resolve(home).keys_dir / "demo-lab.key"


def _init_like(src: Path, out: Path) -> None:
    """A freshly initialised model (seeded) with ``src``'s architecture: the independent
    control a false lineage claim is contradicted against. Needs torch."""
    import json

    from modelkin_dev.synth import models, specs

    spec = specs.spec_from_config(json.loads((src / "config.json").read_text(encoding="utf-8")))
    models.save(models.build(spec, seed=1234), spec, out)


def _identity(home: Home, name: str) -> Identity:
    path = home.keys_dir / f"{name}.key"
    if path.exists():
        return Identity.load(path)
    ident = Identity.generate(name)
    ident.save(path)
    return ident


def _exists(reg: Registry, name: str, kind: str) -> bool:
    try:
        reg.record(name, kind)
    except NotFoundError:
        return False
    return True


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _step(
    reg: Registry,
    s: DemoSummary,
    name: str,
    kind: str,
    make: Callable[[], object],
    say: Progress = _quiet,
) -> None:
    if _exists(reg, name, kind):
        s.existing.append(f"{kind} {name}")
        return
    say(
        f"{kind} {name}: "
        + ("fingerprinting and registering" if kind == "model" else "registering")
    )
    receipt = make()
    s.created.append(f"{kind} {name} (ledger #{getattr(receipt, 'ledger_index', '?')})")
    s.warnings.extend(getattr(receipt, "warnings", []))


def seed_demo(
    home: Path | str | None = None,
    fetch: Callable[[str], Path] | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Seed (or complete) the demo registry in ``home``; idempotent. ``progress`` is told
    what is about to happen before every slow step (fingerprints, forensic checks)."""
    say = progress or _quiet
    if fetch is None:
        from modelkin_dev.fixtures import fetch as fetch_fixture

        fetch = fetch_fixture
    h = Home.resolve(home).ensure()
    s = DemoSummary(home=h.root)
    lab, auditor = _identity(h, "demo-lab"), _identity(h, "demo-auditor")
    with Registry.open(h.root) as reg:
        known = {i["keyid"] for i in reg.identities()}
        for ident, org in ((lab, DEMO_ORG), (auditor, "Demo Audit")):
            if ident.keyid in known:
                s.existing.append(f"identity {ident.name}")
            else:
                register_identity(reg, ident, org)
                s.created.append(f"identity {ident.name}")
        paths: dict[str, Path] = {}
        for n, (mid, (name, publisher, version, lic, use)) in enumerate(MODELS.items(), 1):
            say(f"real model {n}/{len(MODELS)} {name}: fetching from the fixture cache")
            paths[mid] = path = fetch(mid)
            make = functools.partial(
                register_model, reg, path, lab, name=name, version=version,
                organisation=publisher, license=lic, intended_use=use)  # fmt: skip
            _step(reg, s, name, "model", make, say)
        tuned = h.root / "demo" / TUNED
        if not _exists(reg, TUNED, "model"):
            from modelkin_dev.synth.transforms import add_noise

            if not tuned.exists():
                say(f"model {TUNED}: writing {BASE} plus light noise (a stand-in fine-tune)")
                add_noise(paths["minilm-l6"], tuned, scale=0.01, seed=7)
        _step(reg, s, TUNED, "model", lambda: register_model(
            reg, tuned, lab, name=TUNED, version="1.0", organisation=DEMO_ORG,
            license="apache-2.0", intended_use="Sentence embeddings, tuned on demo pairs."), say)  # fmt: skip
        scratch = h.root / "demo" / SCRATCH
        if not _exists(reg, SCRATCH, "model") and not (scratch / "model.safetensors").exists():
            say(f"model {SCRATCH}: initialising {BASE}'s architecture with fresh weights")
            _init_like(paths["minilm-l6"], scratch)
        _step(reg, s, SCRATCH, "model", lambda: register_model(
            reg, scratch, auditor, name=SCRATCH, version="0", organisation="Demo Audit",
            license="apache-2.0", intended_use=f"Control: {BASE}'s architecture, fresh weights."), say)  # fmt: skip
        data = h.root / "demo" / "data"
        data.mkdir(parents=True, exist_ok=True)
        for fname, text in TEXTS.items():
            if not (data / fname).exists():
                (data / fname).write_text(text, encoding="utf-8")
        _step(reg, s, DATASET, "dataset", lambda: register_dataset(reg, lab, dataset_predicate(
            name=DATASET, manifest=manifest_from_directory(data), version="1",
            organisation=DEMO_ORG, description="Paraphrase pairs written for the demo.",
            licenses=["CC-BY-4.0"], consent="obtained", languages=["en"])), say)  # fmt: skip
        _step(reg, s, RUN, "training-run", lambda: register_training_run(
            reg, lab, name=RUN, hardware_kind="cpu", hardware_count=2,
            started_at="2026-11-01T10:00:00Z", ended_at="2026-11-01T10:20:00Z", output=TUNED,
            input_models=[BASE], datasets=[DATASET], accelerator_hours=0.0,
            energy_kwh=0.02, organisation=DEMO_ORG), say)  # fmt: skip
        claims = {
            TUNED: (lab, BASE),  # true: it is all-MiniLM-L6-v2 plus noise
            SCRATCH: (auditor, BASE),  # false: same shapes, independent weights
            GEMMA: (auditor, BASE),  # false, but another architecture entirely
        }
        for child, (signer, parent) in claims.items():
            done = [
                d
                for d in reg.derivations(child)
                if d.predicate.get("child", {}).get("name") == child
            ]
            if done:
                s.existing.append(f"derivation {child} <- {parent}")
            else:
                say(f"claim {child} <- {parent}: registering and checking it forensically")
                r = register_derivation(
                    reg, signer, child=child, parents=[parent], relation="finetune",
                    notes="demo claim")  # fmt: skip
                s.created.append(f"derivation {child} <- {parent} (ledger #{r.ledger_index})")
                done = [reg.record(r.record_id)]
            verdicts = [v.verdict for v in done[0].verifications]
            s.verdicts[f"{child} finetune of {parent}"] = verdicts[0] if verdicts else "unchecked"
        _seed_works(reg, h, lab, s, say)
    return s


WORKS: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("A poem about lineage", "text", "poem.txt", "Weights remember where they came from.\n",
     {"systems": [], "ai_share": None, "human_contribution": "written by hand"}),
    ("Lineage diagram", "image", "diagram.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
     {"systems": [{"name": "minilm-l6-tuned", "role": "assisted"}], "ai_share": 0.3,
      "human_contribution": "layout and labels by the author"}),
    ("Generated caption set", "text", "captions.txt", "a cat on a mat\n",
     {"systems": [{"name": "gemma-3-270m", "role": "generated"}], "ai_share": 1.0,
      "human_contribution": None}),
)  # fmt: skip


def _seed_works(reg: Registry, h: Home, lab: Identity, s: DemoSummary, say: Progress) -> None:
    """A human-authored, an AI-assisted and an AI-generated work."""
    from modelkin.works.record import work_from_dict
    from modelkin.works.register import register_work

    folder = h.root / "demo" / "works"
    folder.mkdir(parents=True, exist_ok=True)
    for title, kind, fname, text, ai_use in WORKS:
        content = folder / fname
        if not content.exists():
            content.write_text(text, encoding="utf-8")
        work = work_from_dict(
            {"title": title, "kind": kind, "created": "2026-10-01",
             "authors": [{"name": "Demo Author", "human": True, "birth_year": 1980}],
             "ai_use": ai_use},
            f"demo work {title}",
        )  # fmt: skip
        if _exists(reg, sha256_file(content), "work"):  # works are known by content digest
            s.existing.append(f"work {title}")
            continue
        say(f"work {title}: registering")
        receipt = register_work(reg, lab, work, content)
        s.created.append(f"work {title} (ledger #{receipt.ledger_index})")

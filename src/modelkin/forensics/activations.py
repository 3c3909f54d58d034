"""Activation evidence: do two models represent the same text the same way?

Both models read the versioned probe text (:mod:`modelkin.probe`) through modelkin's own
numpy forward passes (:mod:`modelkin.forward`, one layer in memory at a time); their
hidden states are compared layer by layer with debiased linear CKA
(:mod:`modelkin.forensics.cka`), and layers are aligned by the best monotone matching of
the two depths. Where both models are decoders reading the probe with shared tokens,
their next-token distributions over the shared vocabulary are compared too.

**What the numbers mean, and what they do not.** There is no valid null distribution for
CKA under "trained independently": independently trained models of one architecture on
the same data converge to similar representations (CKA well above 0), by an amount that
depends on architecture, data, scale and training length, none of which modelkin can
re-create for an arbitrary pair. Permuting hidden units (the exchangeability null that
makes weight tests exact) leaves CKA unchanged, so it gives no null here either. This
evidence is therefore **descriptive** (``p_value`` None, never combined):

* ``chance_cka`` is the aligned CKA with the candidate's probe positions shuffled: what
  no correspondence at all gives (about 0). It is a floor, not a null for independence.
* ``reference`` is the spread of the same statistics over independently trained pairs
  (same architecture, data and recipe, different seeds) of modelkin's tiny calibration
  models (:data:`REFERENCE`, measured by ``benchmarks/activation_bench.py``). It applies
  to pairs like those, and is shown as context elsewhere.

It can support a **finding** (see :func:`findings`), never a verdict class: a related
verdict needs the weight tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin.forensics.cka import cka, cka_matrix, gram, monotone_alignment, select_rows
from modelkin.forensics.evidence import Evidence, Report
from modelkin.forward import Activations, UnsupportedModel, forward_spec, run
from modelkin.io import open_model
from modelkin.io.base import TensorSource
from modelkin.probe import ProbePlan, load_probe, make_reader, plan_probe

NAME = "activation_cka"
#: Version of this test's statistics (bump when their definition changes).
ACTIVATION_VERSION = 1
#: Seed of the row subsample and of the shuffled-position floor.
SEED = 0


@cache
def reference() -> dict[str, Any]:
    """The calibration reference shipped with modelkin (``data/activation_reference.json``:
    statistics of independently trained tiny pairs and of distilled students, with the
    recipe and the command that measured them)."""
    ref = resources.files("modelkin.forensics").joinpath("data/activation_reference.json")
    try:
        return dict(json.loads(ref.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}


def _skipped(why: str, **details: Any) -> Evidence:
    return Evidence(
        name=NAME,
        statistic=None,
        p_value=None,
        null={"kind": "none: descriptive statistic", "description": "none valid (descriptive)"},
        details={"skipped": why, **details},
        meaning=_MEANING,
        limits=_LIMITS,
        combine=False,
    )


_MEANING = (
    "Debiased linear CKA (Kornblith et al. 2019; Song et al. 2012) between the two models' "
    "hidden states on modelkin's fixed probe text, per layer, with the layers of the two "
    "depths aligned monotonically; invariant to rotations, permutations, scaling and width "
    "changes of the hidden states. Where both are decoders sharing tokens, their next-token "
    "distributions are compared as well (Jensen-Shannon divergence, top-1 agreement)."
)
_LIMITS = (
    "Descriptive: no valid null exists. Independently trained models of one architecture on "
    "the same data reach high CKA too; the reference shows how high for modelkin's tiny "
    "calibration pairs only. Never combined into the p-value, never a verdict by itself."
)


def _open(m: str | Path | TensorSource) -> tuple[TensorSource, bool]:
    if isinstance(m, TensorSource):
        return m, False
    return open_model(m), True


def activation_test(
    suspect: str | Path | TensorSource,
    candidate: str | Path | TensorSource,
    probe_version: int | None = None,
) -> Evidence:
    """Run both models on the probe and compare their representations (module docstring).

    Returns a skipped :class:`Evidence` (``details["skipped"]`` says why and what would
    let it run) when a model has no tokenizer, an unsupported family, or unreadable
    weights; bad files still raise :class:`ModelkinError` from the readers."""
    sa, close_a = _open(suspect)
    try:
        sb, close_b = _open(candidate)
        try:
            return _test(sa, sb, probe_version)
        finally:
            if close_b:
                sb.close()
    finally:
        if close_a:
            sa.close()


def _test(sa: TensorSource, sb: TensorSource, probe_version: int | None) -> Evidence:
    from modelkin.arch import role_map

    specs = []
    for s in (sa, sb):
        try:
            specs.append(forward_spec(s, role_map(s)))
        except UnsupportedModel as exc:
            return _skipped(f"{s.path.name}: {exc.problem}")
    toks = []
    for s in (sa, sb):
        t = s.tokenizer()
        if t is None:
            return _skipped(
                f"{s.path.name} has no tokenizer: put its tokenizer files beside the model"
            )
        toks.append(t)
    ra = make_reader(sa, toks[0], specs[0].kind)
    rb = make_reader(sb, toks[1], specs[1].kind)
    limits = tuple(
        (sp.max_positions - sp.position_offset) if sp.max_positions else None for sp in specs
    )
    probe = load_probe(probe_version) if probe_version else load_probe()
    plan = plan_probe(ra, rb, probe, (limits[0], limits[1]))
    vocab_sizes = [ra.vocab_size, rb.vocab_size]
    del ra, rb, toks  # vocabulary tables (a 262k-token codec is ~100 MB): not needed to run
    if plan.rows_a.shape[0] < 32:
        return _skipped(
            f"only {plan.rows_a.shape[0]} probe positions are comparable between the two "
            "tokenizations (need 32)",
            probe=plan.describe(),
        )
    pick = select_rows(plan.rows_a.shape[0], SEED)
    both_decoders = specs[0].kind == specs[1].kind == "decoder"
    outputs = both_decoders and plan.mode == "shared" and plan.logit_a is not None
    nxt = np.zeros(0, dtype=np.int64)
    if outputs:  # next-token rows, restricted to the subsample where they coincide
        nxt = np.intersect1d(plan.next_rows, plan.rows_a[pick])
    try:
        act_a = _run(sa, plan, "a", pick, nxt if outputs else None)
        act_b = _run(sb, plan, "b", pick, nxt if outputs else None)
    except UnsupportedModel as exc:
        return _skipped(exc.problem, probe=plan.describe())
    la, lb = act_a.layers[1:], act_b.layers[1:]
    c = cka_matrix(la, lb)
    path = monotone_alignment(c)
    aligned = [float(c[i, j]) for i, j in path]
    stat = float(np.mean(aligned))
    emb = cka(gram(act_a.layers[0]), gram(act_b.layers[0]))
    rng = np.random.default_rng(SEED)
    i_last, j_last = path[-1]
    shuffled = lb[j_last][rng.permutation(lb[j_last].shape[0])]
    chance = cka(gram(la[i_last]), gram(shuffled))
    details: dict[str, Any] = {
        "version": ACTIVATION_VERSION,
        "probe": plan.describe(),
        "rows": int(pick.shape[0]),
        "layers": [len(la), len(lb)],
        "families": [specs[0].family, specs[1].family],
        "hidden_sizes": [specs[0].hidden_size, specs[1].hidden_size],
        "vocab_sizes": vocab_sizes,
        "cka_aligned_mean": stat,
        "cka_aligned_min": float(min(aligned)),
        "cka_last": float(c[-1, -1]),
        "cka_embeddings": float(emb),
        "chance_cka": float(chance),
        "alignment": [[int(i), int(j), round(float(c[i, j]), 4)] for i, j in path],
    }
    if outputs and act_a.logits is not None and act_b.logits is not None:
        details["outputs"] = _output_stats(act_a, act_b, plan, nxt)
    ref = reference()
    null: dict[str, Any] = {
        "kind": "none: descriptive statistic (no valid null under independent training)",
        "chance_floor": {
            "statistic": float(chance),
            "meaning": "CKA with the candidate's probe positions shuffled: the value for no "
            "correspondence at all; a floor, not a null for independence",
        },
    }
    desc = f"none valid (descriptive). Chance floor, candidate positions shuffled: {chance:.3f}."
    if ref:
        null["reference"] = ref.get("summary", {})
        summ = ref.get("summary", {})
        if "independent_cka_min" in summ:
            desc += (
                f" Reference, {summ.get('independent_pairs')} independently trained same-data "
                f"tiny pairs: CKA {summ['independent_cka_min']:.2f}-"
                f"{summ['independent_cka_max']:.2f}, next-token JS "
                f"{summ['independent_js_min']:.3f}-{summ['independent_js_max']:.3f}."
            )
    null["description"] = desc
    return Evidence(
        name=NAME,
        statistic=stat,
        p_value=None,
        null=null,
        details=details,
        plot={"cka_matrix": [[round(float(v), 4) for v in row] for row in c], "alignment": path},
        meaning=_MEANING,
        limits=_LIMITS,
        combine=False,
    )


def _run(
    source: TensorSource, plan: ProbePlan, side: str, pick: np.ndarray, nxt: np.ndarray | None
) -> Activations:
    rows = (plan.rows_a if side == "a" else plan.rows_b)[pick]
    seqs = plan.seqs_a if side == "a" else plan.seqs_b
    logit_ids = None
    if nxt is not None:
        logit_ids = plan.logit_a if side == "a" else plan.logit_b
    act = run(source, seqs, logit_ids=logit_ids, rows=rows)
    if nxt is not None and act.logits is not None:
        # keep logits only at next-token rows (positions of rows_a[pick] in nxt order)
        where = np.searchsorted(plan.rows_a[pick], nxt)
        act.logits = act.logits[where]
    return act


def _output_stats(
    a: Activations, b: Activations, plan: ProbePlan, nxt: np.ndarray
) -> dict[str, Any]:
    """Next-token agreement on the shared vocabulary rows (softmax restricted to them)."""
    from modelkin.forward.ops import log_softmax

    assert a.logits is not None and b.logits is not None and plan.logit_a is not None
    order = np.searchsorted(plan.next_rows, nxt)
    target = plan.next_ids[order]
    col = np.searchsorted(plan.logit_a, target)
    ok = (col < plan.logit_a.shape[0]) & (
        plan.logit_a[np.minimum(col, len(plan.logit_a) - 1)] == target
    )
    js = np.zeros(nxt.shape[0])
    same_top = np.zeros(nxt.shape[0], dtype=bool)
    ce = np.zeros((2, nxt.shape[0]))
    step = 128  # rows at a time: float64 temporaries stay a few MB for 4,096 columns
    for r0 in range(0, nxt.shape[0], step):
        sl = slice(r0, r0 + step)
        lpa = log_softmax(a.logits[sl].astype(np.float64))
        lpb = log_softmax(b.logits[sl].astype(np.float64))
        pa, pb = np.exp(lpa), np.exp(lpb)
        lm = np.log(np.maximum(0.5 * (pa + pb), 1e-300))
        js[sl] = 0.5 * np.sum(pa * (lpa - lm), axis=1) + 0.5 * np.sum(pb * (lpb - lm), axis=1)
        same_top[sl] = np.argmax(pa, 1) == np.argmax(pb, 1)
        c = np.minimum(col[sl], lpa.shape[1] - 1)
        ce[0, sl] = -lpa[np.arange(lpa.shape[0]), c]
        ce[1, sl] = -lpb[np.arange(lpb.shape[0]), c]
    any_ok = bool(ok.any())
    return {
        "positions": int(nxt.shape[0]),
        "vocab_rows": int(plan.logit_a.shape[0]),
        "js_mean": float(np.mean(js)),
        "top1_agreement": float(np.mean(same_top)),
        "cross_entropy": [
            float(np.mean(ce[0, ok])) if any_ok else None,
            float(np.mean(ce[1, ok])) if any_ok else None,
        ],
    }


def in_regime(ev: Evidence, ref: Mapping[str, Any]) -> bool:
    """Whether the pair of ``ev`` lies inside the reference's calibrated regime (family,
    hidden width and vocabulary size of the tiny calibration models)."""
    regime = ref.get("regime")
    if not isinstance(regime, Mapping):
        return False
    d = ev.details
    fams, hidden, vocab = d.get("families", []), d.get("hidden_sizes", []), d.get("vocab_sizes", [])
    return (
        len(fams) == len(hidden) == len(vocab) == 2
        and all(f in regime.get("families", []) for f in fams)
        and all(h <= regime.get("max_hidden", 0) for h in hidden)
        and all(v <= regime.get("max_vocab", 0) for v in vocab)
    )


def findings(weights_related: bool | None, ev: Evidence) -> list[dict[str, Any]]:
    """Findings the activation evidence supports, given the weight tests' outcome.

    ``distillation_suspected``: the weight tests did not find the models related, yet their
    next-token behaviour on the probe is closer than the reference's frozen threshold, which
    lies below *every* independently trained same-data pair of the reference set. Only for
    pairs inside the reference's calibrated regime (:func:`in_regime`): elsewhere no
    calibration exists and the statistic stays descriptive (``details["outputs"]`` says
    so). Never a verdict class."""
    ref = reference()
    out = ev.details.get("outputs")
    thr = ref.get("thresholds", {}).get("js_mean") if ref else None
    if weights_related or not isinstance(out, Mapping) or thr is None:
        return []
    js = out.get("js_mean")
    if not isinstance(js, float) or js >= thr:
        return []
    if not in_regime(ev, ref):
        out_note = (
            f"next-token JS {js:.4f} is below the tiny-model distillation threshold {thr:g}, "
            "but this pair is outside the calibrated regime: descriptive only"
        )
        ev.details["outputs"] = {**out, "note": out_note}
        return []
    summ = ref.get("summary", {})
    return [
        {
            "kind": "distillation_suspected",
            "statement": (
                "Weights show no derivation, but the two models' next-token distributions on "
                f"the probe are closer (mean Jensen-Shannon divergence {js:.4f}) than those of "
                f"every independently trained same-data pair in modelkin's reference set "
                f"(threshold {thr:g}, frozen before its held-out half was scored): consistent "
                "with one model having been distilled from the other's outputs. Calibrated "
                "on tiny byte-level decoders (see the reference); not a p-value."
            ),
            "weights": (
                "independent: no weight test with a valid null rejects independence"
                if weights_related is False
                else "not shown related: the weight tests abstained"
            ),
            "behaviour": "similar: next-token distributions closer than any independent pair",
            "statistic": {"js_mean": js, "top1_agreement": out.get("top1_agreement")},
            "null": (
                "reference distribution instead of a p-value: mean next-token JS of "
                f"{summ.get('independent_pairs', '?')} independently trained same-data "
                f"pairs, {summ.get('independent_js_min', '?')} to "
                f"{summ.get('independent_js_max', '?')}"
            ),
            "threshold": thr,
            "reference": summ,
            "evidence": NAME,
        }
    ]


def add_activation_evidence(
    report: Report,
    suspect: str | Path | TensorSource,
    candidate: str | Path | TensorSource,
    probe_version: int | None = None,
) -> Report:
    """``report`` with the activation evidence appended and its findings added.

    The verdict, its p-value and ``related`` are left as the weight tests set them: the
    activation statistic has no valid null, so it can neither make a pair related nor
    independent. When the weight tests abstained, the reason says what the activations
    showed (descriptively)."""
    ev = activation_test(suspect, candidate, probe_version)
    report.evidence.append(ev)
    report.findings.extend(findings(report.related, ev))
    if report.verdict == "insufficient" and ev.statistic is not None:
        d = ev.details
        extra = (
            f"activation evidence (descriptive, no valid null): aligned CKA "
            f"{ev.statistic:.3f} over {len(d.get('alignment', []))} layer pairs "
            f"(chance {d.get('chance_cka', 0.0):.3f})"
        )
        report.reason = f"{report.reason}; {extra}" if report.reason else extra
    return report


def runnable(path: str | Path) -> bool:
    """Whether ``path`` is a model file modelkin can run on the probe (a supported
    family, every tensor present, and a tokenizer); fingerprint files and other inputs
    are not."""
    from modelkin.arch import role_map
    from modelkin.fingerprint.model import is_fingerprint_file

    p = Path(path)
    if p.is_file() and is_fingerprint_file(p):
        return False
    try:
        with open_model(p) as s:
            if any(t.extra.get("missing") for t in s.tensors()):
                return False  # truncated inside its tensor data: it cannot run
            forward_spec(s, role_map(s))
            return s.tokenizer() is not None
    except ModelkinError:
        return False


#: Tests that need the model files (not fingerprints), by evidence name: a calibration
#: study (``benchmarks/null_study.py --rescore``) runs each on its pairs and reports the
#: statistic's distribution over independent pairs (these tests have no p-value to check
#: for uniformity: the distribution *is* their reference).
MODEL_TESTS = {NAME: activation_test}

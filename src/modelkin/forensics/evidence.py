"""Evidence and report types shared by every forensic test."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelkin.forensics.stats import P_FLOOR, PValue, p_text

#: Version of the report JSON layout. 2: tool/engine versions, p-value floors and
#: methods, the power control behind independence verdicts.
REPORT_VERSION = 2
#: Version of the decision rules (bumped whenever a verdict can change for the same
#: fingerprints): reports made by different engines are not comparable.
ENGINE_VERSION = 2
TOOL = "modelkin"


class Verdict(StrEnum):
    """Verdict classes of a comparison (JSON: the plain strings)."""

    IDENTICAL = "identical"
    CONVERTED = "converted"
    DERIVED = "derived"
    DERIVED_SURGERY = "derived_surgery"
    SAME_TOKENIZER_ONLY = "same_tokenizer_only"
    UNRELATED = "unrelated"
    INSUFFICIENT = "insufficient"

    @property
    def related(self) -> bool | None:
        """True for the related classes, False for independence, None when abstaining."""
        if self is Verdict.INSUFFICIENT:
            return None
        return self not in (Verdict.SAME_TOKENIZER_ONLY, Verdict.UNRELATED)


class EvidenceLevel(StrEnum):
    """How close two fingerprints are before any statistics (identity test)."""

    FILES = "files"  # same file digests
    WEIGHTS = "weights"  # same tensor digests or bitwise-equal samples
    CONVERTED = "converted"  # every difference explained by a conversion rule
    NEAR = "near"  # small unexplained differences (fine-tune, noise)
    NONE = "none"


VERDICTS = tuple(v.value for v in Verdict)


@dataclass
class Evidence:
    """One test's outcome under H0 = "the two models were trained independently".

    ``p_value`` is None when the test could not run (``details["skipped"]`` says why) or
    is descriptive only; ``combine`` says whether it enters the combined p-value: only
    tests whose null is valid for independently trained models of the same architecture,
    data and recipe (checked by ``benchmarks/null_study.py``) may set it. ``p_floor`` is
    the smallest p-value the method supports and ``p_method`` names the method (exact,
    Monte Carlo, asymptotic normal tail, ...): a p at its floor is printed as
    ``p < floor``. ``power`` (optional) is the test's own positive control on this pair
    (``{"control": text, "p": float, "passed": bool}``): tests computed outside the
    fingerprint engine (e.g. from activations) state it so that a non-rejection can
    support independence. ``null`` describes the null distribution; ``plot`` holds the
    data the HTML report draws; ``meaning`` and ``limits`` are plain-language text.
    """

    name: str
    statistic: float | None
    p_value: float | None
    null: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    plot: dict[str, Any] = field(default_factory=dict)
    meaning: str = ""
    limits: str = ""
    combine: bool = True
    p_floor: float | None = None
    p_method: str | None = None
    power: dict[str, Any] | None = None

    def set_p(self, p: PValue) -> Evidence:
        """Set p-value, floor and method from ``p``."""
        self.p_value, self.p_floor, self.p_method = p.value, p.floor, p.method
        return self

    @property
    def descriptive(self) -> bool:
        """Shown, never counted: the test has no valid null for independent training."""
        desc = str(self.null.get("description", ""))
        return not self.combine and self.statistic is not None and desc.startswith("none valid")

    @property
    def p_text(self) -> str:
        """The p-value as printed: ``p < 1e-16 (asymptotic normal tail)``."""
        if self.p_value is None:
            return "n/a (descriptive: no valid null)" if self.descriptive else "n/a"
        return p_text(self.p_value, self.p_floor, self.p_method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_floor": self.p_floor,
            "p_method": self.p_method,
            "p_text": self.p_text,
            "null": self.null,
            "details": self.details,
            "plot": self.plot,
            "meaning": self.meaning,
            "limits": self.limits,
            "combine": self.combine,
            "power": self.power,
        }


@dataclass
class Report:
    """A comparison's verdict, combined p-value and the evidence behind it.

    ``p_floor``/``p_method`` qualify the combined p; ``power`` is the positive control an
    independence verdict rests on (None for other verdicts)."""

    verdict: Verdict
    related: bool | None
    p_value: float | None
    evidence: list[Evidence]
    suspect: dict[str, Any]
    candidate: dict[str, Any]
    summary: str
    reason: str = ""
    combination: dict[str, Any] = field(default_factory=dict)
    version: int = REPORT_VERSION
    #: Findings beside the verdict (e.g. ``distillation_suspected``): statements about
    #: behaviour that are not lineage classes, each with its statistic and calibration
    #: (see :func:`modelkin.forensics.activations.findings`).
    findings: list[dict[str, Any]] = field(default_factory=list)
    p_floor: float | None = None
    p_method: str | None = None
    power: dict[str, Any] | None = None
    decide: list[str] = field(default_factory=list)

    def get(self, name: str) -> Evidence | None:
        """The evidence of test ``name``, if it ran."""
        return next((e for e in self.evidence if e.name == name), None)

    @property
    def p_text(self) -> str:
        return p_text(self.p_value, self.p_floor, self.p_method)

    def to_dict(self) -> dict[str, Any]:
        from modelkin import __version__

        return {
            "version": self.version,
            "tool": TOOL,
            "tool_version": __version__,
            "engine_version": ENGINE_VERSION,
            "verdict": str(self.verdict),
            "related": self.related,
            "p_value": self.p_value,
            "p_floor": self.p_floor,
            "p_method": self.p_method,
            "p_text": self.p_text,
            "summary": self.summary,
            "reason": self.reason,
            "decide": self.decide,
            "power": self.power,
            "combination": self.combination,
            "suspect": self.suspect,
            "candidate": self.candidate,
            "evidence": [e.to_dict() for e in self.evidence],
            "findings": list(self.findings),
        }


__all__ = [
    "ENGINE_VERSION",
    "P_FLOOR",
    "REPORT_VERSION",
    "VERDICTS",
    "Evidence",
    "EvidenceLevel",
    "Report",
    "Verdict",
]

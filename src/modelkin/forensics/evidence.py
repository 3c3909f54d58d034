"""Evidence and report types shared by every forensic test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Version of the report JSON layout.
REPORT_VERSION = 1
VERDICTS = (
    "identical",
    "converted",
    "derived",
    "derived_surgery",
    "same_tokenizer_only",
    "unrelated",
    "insufficient",
)


@dataclass
class Evidence:
    """One test's outcome under H0 = "the two models were trained independently".

    ``p_value`` is None when the test could not run (``details["skipped"]`` says why) or
    is descriptive only; ``combine`` says whether it enters the combined p-value.
    ``null`` describes the null distribution (name, parameters or samples); ``plot`` holds
    the data the HTML report draws; ``meaning`` and ``limits`` are plain-language text.
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "null": self.null,
            "details": self.details,
            "plot": self.plot,
            "meaning": self.meaning,
            "limits": self.limits,
            "combine": self.combine,
        }


@dataclass
class Report:
    """A comparison's verdict, combined p-value and the evidence behind it."""

    verdict: str
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

    def get(self, name: str) -> Evidence | None:
        """The evidence of test ``name``, if it ran."""
        return next((e for e in self.evidence if e.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "verdict": self.verdict,
            "related": self.related,
            "p_value": self.p_value,
            "summary": self.summary,
            "reason": self.reason,
            "combination": self.combination,
            "suspect": self.suspect,
            "candidate": self.candidate,
            "evidence": [e.to_dict() for e in self.evidence],
            "findings": list(self.findings),
        }

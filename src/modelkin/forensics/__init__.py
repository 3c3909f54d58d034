"""Forensic comparison of two model fingerprints.

Each evidence test is its own module returning an :class:`Evidence` (statistic, null,
p-value under H0 "trained independently", plot data, meaning, limits):
:mod:`identity` (with the conversion rules), :mod:`params`, :mod:`units`, :mod:`heads`,
:mod:`layers`, :mod:`profile`, :mod:`spectra`,
:mod:`tokens`. :func:`compare` runs them and decides (abstaining unless a test with a
valid null and power can decide, :mod:`control`); :func:`render_html` writes the report.
"""

from __future__ import annotations

from modelkin.forensics.evidence import VERDICTS, Evidence, EvidenceLevel, Report, Verdict
from modelkin.forensics.html import render_html
from modelkin.forensics.verdict import RELATED_P, compare

__all__ = [
    "RELATED_P",
    "VERDICTS",
    "Evidence",
    "EvidenceLevel",
    "Report",
    "Verdict",
    "compare",
    "render_html",
]

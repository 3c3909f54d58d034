"""The probe set: fixed, versioned text that two models read for activation evidence.

:func:`load_probe` gives the shipped text (``data/probe-v<N>.json``, with its sha256);
:func:`plan_probe` turns it into token ids for two models and the positions that
correspond (:mod:`.plan`); :mod:`.vocab` segments text with a vocabulary alone.
Depends on :mod:`modelkin.io` only.
"""

from __future__ import annotations

from modelkin.probe.plan import (
    PROBE_VERSION,
    ProbePlan,
    ProbeSet,
    Reader,
    load_probe,
    make_reader,
    plan_probe,
)
from modelkin.probe.vocab import Codec, Segment, make_codec, segment

__all__ = [
    "PROBE_VERSION",
    "Codec",
    "ProbePlan",
    "ProbeSet",
    "Reader",
    "Segment",
    "load_probe",
    "make_codec",
    "make_reader",
    "plan_probe",
    "segment",
]

"""modelkin: an open registry and forensic lab for the intellectual property of AI systems.

The package is split by capability (see docs/DESIGN.md): ``io`` reads model files,
``arch`` maps tensors to canonical roles, ``fingerprint`` and ``forensics`` decide lineage,
``ledger`` is the transparency log, ``statements`` and ``registry`` hold signed records,
``labels`` renders nutrition labels and exports, ``works`` handles creative works,
``server`` and ``cli`` are the thin user-facing edges.
"""

__version__ = "0.1.0"

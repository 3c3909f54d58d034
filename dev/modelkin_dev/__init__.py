"""Development machinery for modelkin, installed only by ``make setup`` (never by
``pip install modelkin``):

* :mod:`modelkin_dev.synth`: labelled lineage ground truth built on the CPU (tiny models
  trained from scratch, fine-tunes, function-preserving transforms, format conversions);
* :mod:`modelkin_dev.fixtures`: the real models of ``shared/MODELS.md``, fetched from the
  PyPI wheels that ship them and pinned by sha256;
* :mod:`modelkin_dev.demo`: the demo registry, seeded through modelkin's public API.
"""

"""Labelled lineage ground truth that anyone can rebuild on a CPU.

Forensic tests are only as credible as the cases they were measured on. This package
builds those cases from scratch, with no hub and no downloads beyond the real-model
fixtures:

* :mod:`.specs` / :mod:`.models` — tiny llama-style decoders and BERT-style encoders in
  plain torch, saved as real Hugging Face directories (config.json, model.safetensors
  with HF tensor names, a tokenizer file);
* :mod:`.train` — seeded training from scratch and fine-tuning on real text found offline
  (the Python standard library's sources), with the loss curve recorded as CSV and every
  run cached by the hash of its recipe;
* :mod:`.transforms` / :mod:`.convert` — derivatives made by surgery on safetensors
  directories (permutations, layer removal/duplication, noise, vocabulary changes,
  quantization round trips) and format conversions (GGUF, ONNX);
* :mod:`.corpus` — the labelled pair set (related / unrelated, transform or real
  training) used by ``benchmarks/lineage_bench.py``.

torch is optional: it is imported only inside the functions that need it.
"""

from __future__ import annotations

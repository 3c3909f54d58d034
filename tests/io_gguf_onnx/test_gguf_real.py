"""The real gemma-3-270m Q4_K_M file loads completely."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelkin.arch import role_map
from modelkin.arch.roles import LAYER_KINDS, Role
from modelkin.io import open_model
from modelkin.io.gguf import GGUFSource


def test_gemma_270m_loads_with_complete_roles(real_models: dict[str, Path]) -> None:
    with open_model(real_models["gemma-270m"]) as src:
        assert isinstance(src, GGUFSource)
        cfg = src.config()
        assert cfg["model_type"] == "gemma3"
        assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["vocab_size"]) == (
            18,
            640,
            262144,
        )
        assert src.problems() == []
        tok = src.tokenizer()
        assert tok is not None and tok.vocab_size == 262144 and tok.tokens[2] == "<bos>"
        rm = role_map(src)
        assert rm.family == "gemma3" and rm.unmapped == [] and rm.num_layers == 18
        sandwich = set(LAYER_KINDS) - {"attn_norm"}  # every kind gemma3 has
        for i in range(18):
            for kind in sandwich:
                assert Role(kind, i) in rm.roles, (kind, i)
        dtypes = {t.dtype for t in src.tensors()}
        assert {"Q4_K", "Q6_K", "Q8_0", "F32"} <= dtypes
        for t in src.tensors():
            step = 32768
            for r in range(0, t.shape[0] if len(t.shape) > 1 else 1, step):
                rows = slice(r, r + step) if len(t.shape) > 1 else None
                a = src.read(t.name, rows)
                assert np.isfinite(a).all(), t.name

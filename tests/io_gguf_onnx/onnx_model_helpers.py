"""A tiny BERT-like torch model, exported to ONNX with the TorchScript exporter (tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

HIDDEN, INTER, VOCAB, LAYERS, SEQ = 32, 64, 50, 2, 8


class _SelfAttn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(x), self.key(x), self.value(x)
        att = torch.softmax(q @ k.transpose(-1, -2) / HIDDEN**0.5, dim=-1)
        return att @ v


class _Dense(nn.Module):
    def __init__(self, n_in: int, n_out: int, norm: bool) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        if norm:
            self.LayerNorm = nn.LayerNorm(n_out)


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self = _SelfAttn()
        self.output = _Dense(HIDDEN, HIDDEN, True)


class _Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = _Attention()
        self.intermediate = _Dense(HIDDEN, INTER, False)
        self.output = _Dense(INTER, HIDDEN, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attention.self(x)
        x = self.attention.output.LayerNorm(x + self.attention.output.dense(a))
        h = torch.nn.functional.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + self.output.dense(h))


class _Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer() for _ in range(LAYERS))


class TinyBert(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embeddings = _Embeddings()
        self.encoder = _Encoder()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embeddings.LayerNorm(self.embeddings.word_embeddings(ids))
        for layer in self.encoder.layer:
            x = layer(x)
        return x


def export_tiny_bert(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Export a seeded TinyBert to ``path``; return its state dict as numpy."""
    torch.manual_seed(seed)
    model = TinyBert().eval()
    with torch.no_grad():  # distinct norms (the exporter merges identical initializers)
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.normal_(1.0, 0.1)
                m.bias.normal_(0.0, 0.1)
    ids = torch.randint(0, VOCAB, (1, SEQ))
    torch.onnx.export(
        model, (ids,), str(path), input_names=["ids"], output_names=["out"], dynamo=False
    )
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


class CalibReader:
    """onnxruntime calibration data: a few random id sequences."""

    def __init__(self, n: int = 4) -> None:
        rng = np.random.default_rng(0)
        self._data = iter([{"ids": rng.integers(0, VOCAB, (1, SEQ))} for _ in range(n)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._data, None)

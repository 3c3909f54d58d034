"""Build, save and load the tiny synthetic models as real HF directories.

``save`` writes ``config.json`` + ``model.safetensors`` (HF tensor names) + tokenizer
files, so every reader and the peer tools see an ordinary Hugging Face checkpoint.
``load`` turns any llama/BERT HF directory (ours, or a real one such as MiniLM) back into a
torch module, which is how tests check that a transform preserves the network's function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir, tokenizers
from modelkin_dev.synth.specs import Spec, spec_from_config

if TYPE_CHECKING:
    from torch import nn

#: std of the normal initialisation, as ``initializer_range`` in HF configs.
INIT_STD = 0.02


def build(spec: Spec, seed: int) -> nn.Module:
    """A freshly initialised network: weights N(0, 0.02²), norms at 1, biases at 0.

    Depends only on ``(spec, seed)``: the independently trained controls differ by seed."""
    import torch

    from modelkin_dev.synth import _nets

    gen = torch.Generator().manual_seed(seed)
    net = _nets.build(spec)
    with torch.no_grad():
        for name, p in sorted(net.named_parameters()):
            if name.endswith("bias"):
                p.zero_()
            elif p.ndim == 1:
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * INIT_STD)
    return net


def save(net: nn.Module, spec: Spec, out_dir: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``net`` as an HF directory (weights streamed tensor by tensor)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = spec.config()
    if extra:
        cfg["modelkin_synth"] = extra
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
    with hfdir.StreamWriter(out / "model.safetensors") as w:
        for name, t in sorted(net.state_dict().items()):
            w.add(name, t.detach().cpu().numpy())
    tokenizers.write(spec.model_type, out)
    return out


def load(model_dir: Path) -> nn.Module:
    """A torch module holding the weights of an HF llama/BERT directory, in eval mode.

    Tensors the network does not use (e.g. BERT's ``embeddings.position_ids`` buffer) are
    ignored; a missing weight is an error naming it."""
    import torch

    from modelkin_dev.synth import _nets

    spec = spec_from_config(hfdir.read_config(model_dir), Path(model_dir) / "config.json")
    net = _nets.build(spec)
    wanted = net.state_dict()
    state: dict[str, torch.Tensor] = {}
    for name, arr in hfdir.iter_tensors(model_dir):
        if name in wanted:
            if tuple(arr.shape) != tuple(wanted[name].shape):
                raise ModelkinError(
                    model_dir,
                    f"{name} has shape {arr.shape}, config implies {tuple(wanted[name].shape)}",
                )
            state[name] = torch.from_numpy(np.array(arr, dtype=np.float32))
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise ModelkinError(model_dir, f"missing tensors: {', '.join(missing[:5])}")
    net.load_state_dict(state)
    return net.eval()


def forward(net: nn.Module, ids: np.ndarray) -> np.ndarray:
    """Run ``net`` on token ids ``[batch, seq]``; logits (llama) or hidden states (BERT)."""
    import torch

    with torch.no_grad():
        out = net(torch.as_tensor(ids, dtype=torch.long))
    return np.asarray(out.numpy(), dtype=np.float32)

"""Canonical tensor roles: the vocabulary every forensic test speaks.

A role says *what a tensor does*, independent of how a format names it: layer 3's
attention query projection is ``Role("attn_q", 3, "weight")`` whether the file calls it
``model.layers.3.self_attn.q_proj.weight`` (HF llama), ``blk.3.attn_q.weight`` (GGUF) or
``encoder.layer.3.attention.self.query.weight`` (BERT).

Kinds (``layer`` is None for the global ones):

* global: ``embed_tokens``, ``embed_positions``, ``embed_token_type``, ``embed_norm``,
  ``final_norm``, ``lm_head``, ``pooler``
* per layer: ``attn_q``, ``attn_k``, ``attn_v``, ``attn_o``, ``attn_norm`` (pre- or
  post-attention layer norm of the block's attention half), ``mlp_up``, ``mlp_gate``,
  ``mlp_down``, ``mlp_norm``, ``attn_q_norm``, ``attn_k_norm`` (qk-norm),
  ``attn_post_norm``, ``mlp_post_norm`` (gemma2/3 sandwich norms)

``param`` is ``"weight"`` or ``"bias"``.
"""

from __future__ import annotations

from dataclasses import dataclass

GLOBAL_KINDS = (
    "embed_tokens",
    "embed_positions",
    "embed_token_type",
    "embed_norm",
    "final_norm",
    "lm_head",
    "pooler",
)
LAYER_KINDS = (
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_o",
    "attn_norm",
    "attn_q_norm",
    "attn_k_norm",
    "attn_post_norm",
    "mlp_up",
    "mlp_gate",
    "mlp_down",
    "mlp_norm",
    "mlp_post_norm",
)
KINDS = GLOBAL_KINDS + LAYER_KINDS


@dataclass(frozen=True, order=True)
class Role:
    """What a tensor does in the network."""

    kind: str
    layer: int | None = None
    param: str = "weight"

    def __str__(self) -> str:
        where = f"L{self.layer}." if self.layer is not None else ""
        return f"{where}{self.kind}.{self.param}"


@dataclass(frozen=True)
class RoleRef:
    """Where a role's values live: tensor ``name`` in the source, optionally only rows
    ``[row_start, row_stop)`` of it (a fused QKV matrix splits into three refs).

    ``transposed``: the stored matrix is ``[in, out]`` (GPT-2's ``Conv1D``); the role's
    value is ``read(name).T`` and ``row_start``/``row_stop`` apply after transposing.

    ``row_period``: the rows are interleaved in groups (GPT-NeoX stores its fused QKV as
    ``[heads, 3, head_dim]`` rows); the role takes rows ``r`` with ``row_start <= r %
    row_period < row_stop``, in order. Applied after transposing too.
    """

    name: str
    row_start: int | None = None
    row_stop: int | None = None
    transposed: bool = False
    row_period: int | None = None

    @property
    def rows(self) -> slice | None:
        """The contiguous row range, when the role is one (None for the whole tensor or
        for periodic selections, which :func:`modelkin.arch.read_role` handles)."""
        if self.row_start is None or self.row_period is not None:
            return None
        return slice(self.row_start, self.row_stop)

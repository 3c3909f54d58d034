"""Names for anonymous ONNX matrix weights from their position in the graph.

Some exporters keep no trace of the source module names: weights become ``val_12_q``,
nodes ``node_MatMul_40``, biases ``val_13``. A transformer layer still has the same
shape in any graph: the weight matrices are consumed, in execution order, by

* three projections of one input (query, key, value),
* one projection of the attention context (attention output),
* one (BERT-style MLP) or two (gated MLP: gate and up) projections of one input,
* one projection back to the hidden size (MLP down),

so the graph's weight-consuming nodes, grouped by the activation they read, spell out the
layers. Within a group data flow decides: query and key meet in the score ``MatMul``
(query as its first input, key as its second), value reaches the ``MatMul`` with the
attention probabilities; the gate is the projection whose output feeds an activation
(``Sigmoid``, ``Gelu``, ``Erf``, ``Tanh``, ``Relu``), the up projection is multiplied with
it. Where data flow is silent the execution order of the HF modules decides (query, key,
value; gate, up). Anything that does not follow the pattern is left unnamed: a wrong
name would compare the wrong matrices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from onnx import NodeProto

from modelkin.io._onnx_graph import GraphIndex, WeightUse

_WEIGHT_OPS = {"MatMul": 1, "Gemm": 1, "MatMulInteger": 1, "QLinearMatMul": 3}
_ACTIVATIONS = frozenset({"Sigmoid", "Gelu", "Erf", "Tanh", "Relu", "FastGelu", "QuickGelu"})
#: Nodes searched forward from a projection's output for the attention MatMuls.
_SEARCH_NODES = 64

_BERT = {
    "q": "encoder.layer.{i}.attention.self.query",
    "k": "encoder.layer.{i}.attention.self.key",
    "v": "encoder.layer.{i}.attention.self.value",
    "o": "encoder.layer.{i}.attention.output.dense",
    "up": "encoder.layer.{i}.intermediate.dense",
    "down": "encoder.layer.{i}.output.dense",
}
_LLAMA = {
    "q": "model.layers.{i}.self_attn.q_proj",
    "k": "model.layers.{i}.self_attn.k_proj",
    "v": "model.layers.{i}.self_attn.v_proj",
    "o": "model.layers.{i}.self_attn.o_proj",
    "gate": "model.layers.{i}.mlp.gate_proj",
    "up": "model.layers.{i}.mlp.up_proj",
    "down": "model.layers.{i}.mlp.down_proj",
}


def _weight_of(index: GraphIndex, node: NodeProto, uses: Mapping[str, WeightUse]) -> str | None:
    """The weight initializer a MatMul-like node consumes (directly, through
    DequantizeLinear, or through the graph's own Cast/Mul dequantization)."""
    i = _WEIGHT_OPS.get(node.op_type)
    if i is None or len(node.input) <= i or not node.input[i]:
        return None
    b = node.input[i]
    if b in uses:
        return b
    prod = index.producer.get(b)
    if prod is not None and prod.op_type == "DequantizeLinear" and prod.input[0] in uses:
        return str(prod.input[0])
    cm = index.cast_mul(b)
    return cm[0] if cm is not None and cm[0] in uses else None


def _attention_matmuls(index: GraphIndex, value: str, weights: set[str]) -> set[tuple[str, int]]:
    """``(output of the MatMul, input index)`` of the first non-weight MatMuls reached
    forward from ``value``."""
    seen, out = {value}, set()
    queue = deque([value])
    visited = 0
    while queue and visited < _SEARCH_NODES:
        v = queue.popleft()
        for node, j in index.consumers.get(v, []):
            visited += 1
            if node.op_type == "MatMul" and node.output[0] not in weights:
                out.add((node.output[0], j))
                continue
            for o in node.output:
                if o and o not in seen:
                    seen.add(o)
                    queue.append(o)
    return out


def _feeds_activation(index: GraphIndex, value: str) -> bool:
    """Whether ``value`` reaches an activation within two nodes (through a bias Add)."""
    frontier = [value]
    for _ in range(2):
        nxt: list[str] = []
        for v in frontier:
            for node, _j in index.consumers.get(v, []):
                if node.op_type in _ACTIVATIONS:
                    return True
                nxt.extend(o for o in node.output if o)
        frontier = nxt
    return False


def _qkv(index: GraphIndex, outs: list[str], weights: set[str]) -> list[int]:
    """Positions of (query, key, value) among three projections' outputs."""
    reach = [_attention_matmuls(index, o, weights) for o in outs]
    for a in range(3):
        for b in range(3):
            if a == b:
                continue
            shared = {m for m, j in reach[a] if j == 0} & {m for m, j in reach[b] if j == 1}
            if shared:
                v = 3 - a - b
                if not any(m in shared for m, _ in reach[v]):
                    return [a, b, v]
    return [0, 1, 2]


def _gate_up(index: GraphIndex, outs: list[str]) -> list[int]:
    act = [_feeds_activation(index, o) for o in outs]
    if act == [False, True]:
        return [1, 0]
    return [0, 1]


def positional_names(
    index: GraphIndex, uses: Mapping[str, WeightUse], shapes: Mapping[str, tuple[int, ...]]
) -> dict[str, str]:
    """Initializer name -> HF-style name (``...query.weight``, ``...query.bias``) for the
    matrix weights of every transformer layer found by position (see the module doc);
    empty when the graph does not follow the pattern. ``shapes``: each weight's
    ``[out, in]`` shape."""
    nodes = [(n, w) for n in index.graph.node if (w := _weight_of(index, n, uses)) is not None]
    weights = {n.output[0] for n, _ in nodes}
    groups: list[list[tuple[NodeProto, str]]] = []
    for n, w in nodes:
        if groups and groups[-1][0][0].input[0] == n.input[0]:
            groups[-1].append((n, w))
        else:
            groups.append([(n, w)])
    sizes = [len(g) for g in groups]
    # layers: [3, 1, 1 or 2, 1]; the first attention group anchors the pattern
    start = next((k for k, s in enumerate(sizes) if s == 3), None)
    if start is None:
        return {}
    layers = []
    k = start
    while k + 3 < len(groups) and sizes[k] == 3 and sizes[k + 1] == 1:
        if sizes[k + 2] not in (1, 2) or sizes[k + 3] != 1:
            break
        layers.append(groups[k : k + 4])
        k += 4
    if not layers or len({len(layer[2]) for layer in layers}) != 1:
        return {}
    gated = len(layers[0][2]) == 2
    table = _LLAMA if gated else _BERT
    names: dict[str, str] = {}
    for i, (attn, o, mlp_in, down) in enumerate(layers):
        order = _qkv(index, [n.output[0] for n, _ in attn], weights)
        parts = [(attn[order[0]], "q"), (attn[order[1]], "k"), (attn[order[2]], "v")]
        parts += [(o[0], "o"), (down[0], "down")]
        if gated:
            gu = _gate_up(index, [n.output[0] for n, _ in mlp_in])
            parts += [(mlp_in[gu[0]], "gate"), (mlp_in[gu[1]], "up")]
        else:
            parts.append((mlp_in[0], "up"))
        hidden = shapes.get(o[0][1], (0, 0))[0]
        for (node, w), what in parts:
            if what in ("o", "down") and shapes.get(w, (0,))[0] != hidden:
                return {}  # the layer's outputs must write the hidden size
            base = table[what].format(i=i)
            names[w] = base + ".weight"
            bias = index.added_initializer(node.output[0])
            if bias is not None and bias not in uses:
                names[bias] = base + ".bias"
    if gated and k < len(groups) and sizes[k] == 1:
        w = groups[k][0][1]
        if shapes.get(w, (0, 0))[1] == shapes.get(layers[-1][3][0][1], (0, 0))[0]:
            names[w] = "lm_head.weight"
    return names

"""Trace an ONNX graph to find how each initializer is used as a weight.

Why trace: ONNX stores what the *graph* needs, not what the model *is*. A weight may be
stored ``[in, out]`` for ``MatMul(x, B)`` (HF keeps ``[out, in]``), or as int8/uint8
values whose scale and zero point are separate initializers wired in through
``DequantizeLinear`` (QDQ graphs), through the graph's own ``Mul(Cast(q), scale)`` (int8
exports that apply a per-row scale in the graph), ``MatMulInteger`` (onnxruntime dynamic quantization,
where the weight scale reaches the output through ``Mul(Cast(MatMulInteger), Mul(x_scale,
w_scale))``) or ``QLinearMatMul``. The exporter's names for such weights are often
anonymous (``onnx::MatMul_470``); the consuming node's name
(``/encoder/layer.0/attention/self/query/MatMul``) or the bias it is added to
(``encoder.layer.0.attention.self.query.bias``) still says what it is.

Operator semantics from the ONNX operator spec (onnx/docs/Operators.md):
``DequantizeLinear(x, x_scale, x_zero_point, axis=1)``: ``y = (x - zp) * scale``, per
axis when ``scale`` is 1-D; ``MatMulInteger(A, B, a_zero_point, b_zero_point)``;
``QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)``;
``Gemm(A, B, C, transB=0)``: ``B`` is ``[K, N]`` unless ``transB``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from onnx import GraphProto, NodeProto, helper


@dataclass
class WeightUse:
    """How initializer ``name`` is used: ``transposed`` when it is stored ``[in, out]``;
    ``scale``/``zero_point`` initializer names (and ``axis``) when it is quantized;
    ``hint`` an HF-style name recovered from the graph (or None)."""

    name: str
    transposed: bool = False
    scale: str | None = None
    zero_point: str | None = None
    axis: int | None = None
    hint: str | None = None
    op: str = ""
    #: The scale (and zero point) are applied by the graph's own broadcasting
    #: ``Mul(Cast(q) [- zp], scale)``: dequantize with numpy broadcasting, not per axis.
    broadcast: bool = False


def _attr(node: NodeProto, key: str, default: int) -> int:
    for a in node.attribute:
        if a.name == key:
            return int(helper.get_attribute_value(a))
    return default


def _input(node: NodeProto, i: int) -> str | None:
    return node.input[i] if len(node.input) > i and node.input[i] else None


_OP_TAIL = re.compile(r"/(MatMul|Gemm|MatMulInteger|QLinearMatMul|DequantizeLinear)\w*$")


#: Inputs that carry quantization parameters, per operator (ONNX operator spec).
_AUX_INPUTS: dict[str, tuple[int, ...]] = {
    "QuantizeLinear": (1, 2),
    "DequantizeLinear": (1, 2),
    "MatMulInteger": (2, 3),
    "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "ConvInteger": (2, 3),
    "QLinearConv": (1, 2, 4, 5, 6, 7),
    "QLinearAdd": (1, 2, 4, 5, 6, 7),
    "QLinearMul": (1, 2, 4, 5, 6, 7),
    "QLinearSoftmax": (1, 2, 3, 4),
    "QLinearSigmoid": (1, 2, 3, 4),
    "QLinearLeakyRelu": (1, 2, 3, 4),
    "QLinearGlobalAveragePool": (1, 2, 3, 4),
    "QGemm": (1, 2, 4, 5, 7, 8),
    "Mul": (0, 1),  # the weight scale of a MatMulInteger is Mul'd with the input scale
}
_QUANT_SUFFIX = re.compile(r"_(quantized|QuantizeLinear)$")


def strip_quant_suffix(name: str) -> str:
    """``x.weight_quantized`` -> ``x.weight`` (onnxruntime quantizer naming)."""
    return _QUANT_SUFFIX.sub("", name)


def name_from_node(node_name: str) -> str | None:
    """``/model/encoder/layer.0/attention/self/query/MatMul`` ->
    ``model.encoder.layer.0.attention.self.query.weight`` (torch exporter node names)."""
    if not node_name.startswith("/"):
        return None
    stripped = _OP_TAIL.sub("", node_name)
    if stripped == node_name or not stripped.strip("/"):
        return None
    return stripped.strip("/").replace("/", ".") + ".weight"


class GraphIndex:
    """Producers and consumers of every value in a graph (nested subgraphs ignored)."""

    def __init__(self, graph: GraphProto) -> None:
        self.graph = graph
        self.producer: dict[str, NodeProto] = {}
        self.consumers: dict[str, list[tuple[NodeProto, int]]] = defaultdict(list)
        for node in graph.node:
            for o in node.output:
                if o:
                    self.producer[o] = node
            for i, name in enumerate(node.input):
                if name:
                    self.consumers[name].append((node, i))
        self.initializers = {t.name for t in graph.initializer}

    def only_consumer(self, value: str, op: str) -> NodeProto | None:
        for node, _ in self.consumers.get(value, []):
            if node.op_type == op:
                return node
        return None

    def _through(self, value: str, ops: Iterable[str]) -> str:
        """Follow single-input pass-through nodes (Transpose excluded) to the final value."""
        for _ in range(4):
            nxt = [n for n, _ in self.consumers.get(value, []) if n.op_type in ops]
            if len(nxt) != 1:
                break
            value = nxt[0].output[0]
        return value

    def bias_hint(self, out_value: str) -> str | None:
        """The name of an initializer bias added to ``out_value``, turned into the weight's
        name: ``...query.bias`` -> ``...query.weight``."""
        out_value = self._through(out_value, ("Cast", "Mul", "QuantizeLinear", "DequantizeLinear"))
        for node, i in self.consumers.get(out_value, []):
            if node.op_type == "Add" and i in (0, 1):
                other = _input(node, 1 - i)
            elif node.op_type == "QLinearAdd" and i in (0, 3):
                other = _input(node, 3 - i)
            else:
                continue
            if other and other not in self.initializers:
                dq = self.producer.get(other)  # a quantized bias: DequantizeLinear(init)
                other = (
                    _input(dq, 0) if dq is not None and dq.op_type == "DequantizeLinear" else None
                )
            if other and other in self.initializers:
                base = strip_quant_suffix(other)
                if base.endswith(".bias"):
                    return base[: -len(".bias")] + ".weight"
        return None

    def added_initializer(self, out_value: str) -> str | None:
        """The initializer ``Add``-ed to ``out_value`` (a projection's bias), if any."""
        for node, i in self.consumers.get(out_value, []):
            if node.op_type == "Add" and i in (0, 1):
                other = _input(node, 1 - i)
                if other is not None and other in self.initializers:
                    return other
        return None

    def aux_initializers(self) -> set[str]:
        """Initializers used only as scales / zero points (of weights or activations)."""
        out = set()
        for name in self.initializers:
            uses = self.consumers.get(name, [])
            if uses and all(i in _AUX_INPUTS.get(n.op_type, ()) for n, i in uses):
                out.add(name)
        return out

    def _scale_of_matmulinteger(self, node: NodeProto) -> str | None:
        """Weight scale of a ``MatMulInteger``: ``Mul(Cast(out), Mul(a_scale, w_scale))``."""
        for cast, _ in self.consumers.get(node.output[0], []):
            if cast.op_type != "Cast":
                continue
            for mul, j in self.consumers.get(cast.output[0], []):
                if mul.op_type != "Mul":
                    continue
                other = _input(mul, 1 - j)
                if other is None:
                    continue
                if other in self.initializers:
                    return other
                prod = self.producer.get(other)
                if prod is not None and prod.op_type == "Mul":
                    for s in prod.input:
                        if s in self.initializers:
                            return s
        return None

    def cast_mul(self, value: str) -> tuple[str, str, str | None, bool] | None:
        """``(initializer, scale, zero point, through_transpose)`` when ``value`` is an
        integer initializer dequantized in the graph itself: ``Mul(Cast(q), scale)`` or
        ``Mul(Sub(Cast(q), zp), scale)`` (either operand order), optionally followed by a
        ``Transpose`` (some int8 exporters store weights so, not as QuantizeLinear pairs)."""
        node = self.producer.get(value)
        transposed = False
        if node is not None and node.op_type == "Transpose" and _input(node, 0):
            perm = [a for a in node.attribute if a.name == "perm"]
            if perm and list(helper.get_attribute_value(perm[0])) not in ([1, 0], []):
                return None
            transposed = True
            node = self.producer.get(str(_input(node, 0)))
        if node is None or node.op_type != "Mul" or len(node.input) != 2:
            return None
        for j in (0, 1):
            x, scale = node.input[j], node.input[1 - j]
            if scale not in self.initializers:
                continue
            zp = None
            prod = self.producer.get(x)
            if prod is not None and prod.op_type == "Sub" and len(prod.input) == 2:
                if prod.input[1] not in self.initializers:
                    continue
                zp, prod = prod.input[1], self.producer.get(prod.input[0])
            if prod is None or prod.op_type != "Cast":
                continue
            q = _input(prod, 0)
            if q is not None and q in self.initializers:
                return q, scale, zp, transposed
        return None

    def weight_uses(self) -> dict[str, WeightUse]:
        """Initializer name -> how it is used as a weight (only those found in a weight
        position; everything else is read as stored)."""
        uses: dict[str, WeightUse] = {}
        for node in self.graph.node:
            op = node.op_type
            if op in ("MatMul", "Gemm"):
                b = _input(node, 1)
                if b is None:
                    continue
                transposed = not (op == "Gemm" and _attr(node, "transB", 0))
                if b in self.initializers:
                    uses.setdefault(
                        b,
                        WeightUse(b, transposed, hint=self._hint(node), op=op),
                    )
                    continue
                cm = self.cast_mul(b)
                if cm is not None:
                    q, scale, zp, through = cm
                    uses[q] = WeightUse(
                        q,
                        transposed != through,
                        scale,
                        zp,
                        None,
                        self._hint(node),
                        "Cast/Mul",
                        broadcast=True,
                    )
                    continue
                dq = self.producer.get(b)
                if dq is not None and dq.op_type == "DequantizeLinear":
                    x = _input(dq, 0)
                    if x in self.initializers:
                        assert x is not None
                        uses[x] = WeightUse(
                            x,
                            transposed,
                            _input(dq, 1),
                            _input(dq, 2),
                            _attr(dq, "axis", 1),
                            self._hint(node),
                            "DequantizeLinear",
                        )
            elif op == "MatMulInteger":
                b = _input(node, 1)
                if b in self.initializers:
                    assert b is not None
                    uses[b] = WeightUse(
                        b,
                        True,
                        self._scale_of_matmulinteger(node),
                        _input(node, 3),
                        1,
                        self._hint(node),
                        op,
                    )
            elif op == "QLinearMatMul":
                b = _input(node, 3)
                if b in self.initializers:
                    assert b is not None
                    uses[b] = WeightUse(
                        b, True, _input(node, 4), _input(node, 5), 1, self._hint(node), op
                    )
            elif op == "QGemm":  # com.microsoft: A, a_s, a_zp, B, b_s, b_zp, C, y_s, y_zp
                b = _input(node, 3)
                if b in self.initializers:
                    assert b is not None
                    transposed = not _attr(node, "transB", 0)
                    uses[b] = WeightUse(
                        b,
                        transposed,
                        _input(node, 4),
                        _input(node, 5),
                        1 if transposed else 0,
                        self._hint(node),
                        op,
                    )
            elif op in ("QLinearAdd", "QLinearMul"):  # com.microsoft: A, a_s, a_zp, B, b_s, b_zp
                for j in (0, 3):
                    x = _input(node, j)
                    if x in self.initializers and x not in uses:
                        assert x is not None
                        uses[x] = WeightUse(
                            x, False, _input(node, j + 1), _input(node, j + 2), None, None, op
                        )
        # Integer initializers dequantized by Cast/Mul outside a MatMul (an embedding
        # gathered after its scale is applied)
        for node in self.graph.node:
            if node.op_type == "Mul" and node.output:
                cm = self.cast_mul(node.output[0])
                if cm is not None and cm[0] not in uses:
                    uses[cm[0]] = WeightUse(
                        cm[0], False, cm[1], cm[2], None, None, "Cast/Mul", broadcast=True
                    )
        # Other DequantizeLinear of initializers (Add'd biases, norms...), and of a Gather
        # from an initializer (onnxruntime's dynamically quantized embeddings).
        for node in self.graph.node:
            if node.op_type == "DequantizeLinear":
                x = _input(node, 0)
                gather = self.producer.get(x) if x is not None else None
                if gather is not None and gather.op_type == "Gather":
                    x = _input(gather, 0)
                if x in self.initializers and x not in uses:
                    assert x is not None
                    uses[x] = WeightUse(
                        x,
                        False,
                        _input(node, 1),
                        _input(node, 2),
                        _attr(node, "axis", 1),
                        None,
                        "DequantizeLinear",
                    )
        return uses

    def _hint(self, node: NodeProto) -> str | None:
        return self.bias_hint(node.output[0]) or name_from_node(node.name)

"""Keep the outlier channels of each feed-forward block in fp32 before int8 quantization.

Dynamic int8 gives each activation tensor one scale, set by its largest value. The input
of a feed-forward output projection (the GELU output) has a handful of channels, fed
mostly by the final [SEP]/</s> token, that reach 15-60 while the rest stay below 4
(measured on the shipped mpnet model). Those few channels set the scale, so every other
channel is quantized coarsely; that was most of int8's error. Here the block is split by
channel: the feed-forward input projection, its activation and the output projection
run twice, once over the `k` channels that reached the largest values on calibration
sentences (left fp32, a tiny matrix) and once over the rest (quantized), and the two
outputs are added. In fp32 the split graph computes the same function (tests check);
int8 then sees a range of about 4 instead of 60.

Splitting the weights rather than the activation tensor matters: slicing or gathering
the 3072-wide activation copied it and made the int8 pass 40% slower, while the split
costs nothing measurable.

The pattern is found by shape, not by node names: a MatMul with a weight whose input is
reached from another weight MatMul through elementwise nodes only (bias, activation),
none of which feeds anything else. Graphs without it are quantized as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# How many channels of each feed-forward block stay fp32. On the shipped mpnet model 16
# and 64 gave the same error (p99 logit error 0.45 against 1.8 for plain dynamic int8);
# the fp32 part is 16/3072 of the block's work.
OUTLIER_CHANNELS = 16
# Calibration sentences whose activation ranges choose the channels. The outlier
# channels are a property of the model, not of the sentence: 200 found them reliably.
CALIBRATION_SENTENCES = 200
_ELEMENTWISE = {"Add", "Mul", "Div", "Sub", "Erf", "Tanh", "Sigmoid", "Pow", "Sqrt", "Relu"}


@dataclass
class FeedForward:
    """One splittable block: input projection `first`, elementwise `inner` nodes, output `last`."""

    first: object  # onnx NodeProto (typed loosely: onnx is imported lazily)
    inner: list
    last: object

    @property
    def activation(self) -> str:
        return self.last.input[0]


def find_feed_forwards(graph) -> list[FeedForward]:
    """Every MatMul -> elementwise chain -> MatMul block, both MatMuls with constant weights."""
    weights = {i.name for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    found = []
    for last in graph.node:
        if last.op_type != "MatMul" or last.input[1] not in weights:
            continue
        first, inner, stack, ok = None, [], [last.input[0]], True
        while stack and ok:
            node = producer.get(stack.pop())
            if node is None or node.op_type == "Constant" or any(node is z for z in inner) or node is first:
                continue
            if node.op_type == "MatMul" and node.input[1] in weights:
                ok = first is None or first is node
                first = node
            elif node.op_type in _ELEMENTWISE:
                inner.append(node)
                stack.extend(i for i in node.input if i not in weights)
            else:
                ok = False
        if not ok or first is None or not inner:
            continue
        block = {id(z) for z in [first, *inner]}
        # anything else reading the block's tensors would see only part of the channels
        if all(id(c) in block or c is last for z in [first, *inner] for o in z.output for c in consumers.get(o, [])):
            found.append(FeedForward(first, inner, last))
    return found


def activation_ranges(model, token_ids: Sequence[Sequence[int]], tensors: Sequence[str]) -> dict[str, np.ndarray]:
    """Largest |value| per channel of each named tensor, over the sentences, one at a time.

    One sentence per run, so no padding enters the ranges. `model` is an ONNX ModelProto;
    a copy with the tensors as extra outputs runs in ONNX Runtime.
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in tensors:
        probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    del probe
    ranges: dict[str, np.ndarray] = {}
    for ids in token_ids:
        batch = np.asarray([ids], dtype=np.int64)
        outs = session.run(list(tensors), {"input_ids": batch, "attention_mask": np.ones_like(batch)})
        for name, value in zip(tensors, outs):
            top = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[name] = np.maximum(ranges[name], top) if name in ranges else top
    return ranges


def split_outlier_channels(model, ranges: dict[str, np.ndarray], k: int = OUTLIER_CHANNELS) -> list[str]:
    """Split every feed-forward block of `model` (in place); return the MatMuls to keep fp32."""
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    keep_fp32: list[str] = []
    for ff in find_feed_forwards(graph):
        keep_fp32 += _split_block(graph, weights, ff, ranges, k)
    return keep_fp32


def _split_block(graph, weights: dict, ff, ranges: dict[str, np.ndarray], k: int) -> list[str]:
    """One block: its k hottest input channels go through an fp32 copy, the rest stay to be quantized."""
    from onnx import helper, numpy_helper

    act = ff.activation
    if act not in ranges:
        return []
    width = ranges[act].shape[0]
    if width <= 2 * k:
        return []
    order = np.argsort(ranges[act])[::-1]
    hot, cold = np.sort(order[:k]), np.sort(order[k:])

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(weights[name])

    def replace(name: str, value: np.ndarray) -> None:
        weights[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), name))

    added = []

    def add(name: str, value: np.ndarray) -> str:
        added.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    renamed = {o: f"{o}_fp32ch" for z in [ff.first, *ff.inner] for o in z.output}
    clones = []
    for node in [ff.first, *reversed(ff.inner)]:
        copy = type(node)()
        copy.CopyFrom(node)
        copy.name = f"{node.name}_fp32ch"
        for j, name in enumerate(copy.input):
            if name in renamed:
                copy.input[j] = renamed[name]
            elif node is not ff.first and name in weights and array(name).shape == (width,):
                copy.input[j] = add(f"{name}_fp32ch", array(name)[hot])  # the bias, hot channels only
        for j, name in enumerate(copy.output):
            copy.output[j] = renamed[name]
        clones.append(copy)
    for node in ff.inner:
        for name in node.input:
            if name in weights and array(name).shape == (width,):
                replace(name, array(name)[cold])
    w_in, w_out = array(ff.first.input[1]), array(ff.last.input[1])
    clones[0].input[1] = add(f"{ff.first.input[1]}_fp32ch", w_in[:, hot])
    replace(ff.first.input[1], w_in[:, cold])
    replace(ff.last.input[1], w_out[cold])
    out = ff.last.output[0]
    ff.last.output[0] = f"{out}_int8ch"
    hot_out = helper.make_node("MatMul", [renamed[act], add(f"{ff.last.input[1]}_fp32ch", w_out[hot])],
                               [f"{out}_fp32ch"], name=f"{ff.last.name}_fp32ch")
    clones += [hot_out, helper.make_node("Add", [f"{out}_int8ch", f"{out}_fp32ch"], [out],
                                         name=f"{ff.last.name}_sum")]
    graph.initializer.extend(added)
    at = list(graph.node).index(ff.last) + 1
    for j, node in enumerate(clones):
        graph.node.insert(at + j, node)
    return [clones[0].name, hot_out.name]

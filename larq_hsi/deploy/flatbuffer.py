"""Reading a TFLite flatbuffer back: its ops, their filters and tensors.

`parse` lists the operators of a (larq-compute-engine) flatbuffer with their
output tensor names, constant filters and, for `LceBconv2d`, the group count
read from its options; `to_tflite` matches these ops to Keras layers to say
which binarized layers became true 1-bit ops.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

__all__ = ["BINARY_OP", "FLOATCONV_OPS", "Op", "Parsed", "flatbuffer_ops", "parse", "plain_name", "without_names"]

BINARY_OP = "LceBconv2d"
FLOATCONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
CONV_OPS = (BINARY_OP,) + FLOATCONV_OPS


@dataclasses.dataclass
class Op:
    index: int
    name: str
    outputs: list[str]
    filter: np.ndarray | None
    groups: int = 1


@dataclasses.dataclass
class Parsed:
    ops: list[Op]
    inputs: list[str]
    outputs: list[str]
    constant_bytes: int
    tensor_count: int


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


_TENSOR_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
                  7: np.int16, 9: np.int8, 10: np.float64}


def parse(flatbuffer: bytes) -> Parsed:
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = model.subgraphs[0]

    def name_of(code):
        if code.customCode:
            return code.customCode.decode()
        return builtin_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "UNKNOWN")

    def tensor_name(i):
        return (graph.tensors[i].name or b"").decode()

    def constant(i):
        tensor = graph.tensors[i]
        data = model.buffers[tensor.buffer].data
        if data is None or tensor.type not in _TENSOR_DTYPES:
            return None
        array = np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), _TENSOR_DTYPES[tensor.type])
        return array.reshape(tuple(tensor.shape))

    ops = []
    for index, op in enumerate(graph.operators):
        name = name_of(model.operatorCodes[op.opcodeIndex])
        outputs = [tensor_name(i) for i in op.outputs if i >= 0]
        flt = None
        if name in CONV_OPS and op.inputs is not None and len(op.inputs) > 1 and op.inputs[1] >= 0:
            flt = constant(op.inputs[1])
        groups = 1
        if name == BINARY_OP and flt is not None and op.customOptions is not None:
            groups = _bconv_groups(bytes(bytearray(op.customOptions)), flt)
        ops.append(Op(index, name, outputs, flt, groups))
    return Parsed(
        ops=ops,
        inputs=[tensor_name(i) for i in graph.inputs],
        outputs=[tensor_name(i) for i in graph.outputs],
        constant_bytes=sum(0 if b.data is None else len(b.data) for b in model.buffers),
        tensor_count=len(graph.tensors),
    )


def _bconv_groups(options: bytes, packed_filter: np.ndarray) -> int:
    """Groups of an LceBconv2d: its `channels_in` option over the input channels its
    bit-packed filter covers (32 per int32 word)."""
    if not options:
        return 1
    try:
        from flatbuffers import flexbuffers

        channels_in = int(flexbuffers.Loads(options).get("channels_in", 0))
    except Exception:  # unreadable options: assume ungrouped
        return 1
    per_group = 32 * int(packed_filter.shape[-1])
    return max(1, channels_in // per_group) if channels_in > per_group else 1


def flatbuffer_ops(flatbuffer: bytes) -> list[str]:
    """The op names of a flatbuffer's main graph, in execution order (custom ops by their code)."""
    return [op.name for op in parse(flatbuffer).ops]


def without_names(flatbuffer: bytes) -> bytes:
    """The flatbuffer without tensor and graph names (smaller; runs the same)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    flatbuffer_utils.strip_strings(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def plain_name(name: str) -> str:
    """`serving_default_H:0` (SavedModel route) and `H` (graph route) both name input `H`."""
    name = name.removeprefix("serving_default_")
    return re.sub(r":\d+$", "", name)

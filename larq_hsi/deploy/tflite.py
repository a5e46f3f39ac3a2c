r"""A trained Keras model as a true 1-bit larq-compute-engine flatbuffer, with a report.

`to_tflite(model, path)` converts with larq-compute-engine (LCE) and tells what
became of every binarized layer: a true 1-bit `LceBconv2d` op, or a float
convolution and why. `lce_predict` runs a flatbuffer in LCE's interpreter;
`float_tflite` writes the plain float flatbuffer for comparisons.

What LCE does with the pieces of a binary layer (`QuantConv2D` with 1-bit
input and kernel quantizers):

- the input quantizer's forward pass, `lq.math.sign(x)`, becomes `LceQuantize`
  (bit-packing); the estimator's backward-only parameters (the alphas and
  lambdas of `TanhSign` / `ATISTE`, their surrogates `tanh(alpha x)`) never
  reach the inference graph, so they fold away;
- the kernel quantizer's `mean|W| sign(W)` becomes a bit-packed filter and a
  per-output-channel multiplier of `LceBconv2d`;
- zero ('same') and one (`pad_values=1.0`) padding are both supported;
- a grouped binary convolution converts only when every group has a multiple
  of 32 input channels. Otherwise LCE keeps a float `CONV_2D` whose filter is
  the 32-bit `mean|W| sign(W)` (fed by `LceQuantize` + `LceDequantize`); the
  published BiSRNet's block convs (4 channels per group) are such a case, and
  `BiSRNet(ff_groups=1)` is the ungrouped variant that converts.

`theoretical_bytes` counts 1 bit per binarized kernel weight and 32 bits per
other parameter (`larq_hsi.complexity.profile(model).storage_bytes`);
`convertible_bytes` counts the kernels LCE kept float at 32 bits, the best a
flatbuffer of this converter can do; `flatbuffer_bytes` is what was written.

Conversion route: LCE's `convert_keras_model` first writes a SavedModel with
full layer traces, which costs about a minute of CPU for the 300-layer BiSRNet
at any input size (61 s measured, 2 minutes wall on a loaded 2-core VM). The
default `method="graphdef"` runs the fallback route of that same function
(freeze a concrete function of the model, then LCE's graph-to-flatbuffer
converter, same target and passes): 4 s of CPU for BiSRNet. `method="keras"`
calls `larq_compute_engine.convert_keras_model` itself. Both give the same
ops and outputs on a block (tested) and 54 of 59 binary convs on BiSRNet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from larq_hsi import complexity
from larq_hsi.deploy.flatbuffer import BINARY_OP, CONV_OPS, FLOATCONV_OPS, Op, parse, plain_name, without_names
from larq_hsi.nn import layers as L
from larq_hsi.nn.introspect import iter_layers

__all__ = [
    "LayerExport",
    "TFLiteReport",
    "binarized_layers",
    "float_tflite",
    "input_shapes_for_size",
    "lce_predict",
    "to_tflite",
    "with_input_shapes",
]

# LCE binarizes a grouped convolution only with this many input channels per group.
LCE_GROUP_CHANNELS = 32


@dataclasses.dataclass
class LayerExport:
    """What became of one Keras layer with a 1-bit kernel in the flatbuffer.

    `status`: "binary" (an `LceBconv2d` op), "float" (a float conv op holds a
    32-bit copy of the quantized kernel) or "missing" (no conv op carries it).
    `matched_by`: how the op was found ("kernel": its filter's signs equal the
    layer's quantized kernel; "name": its output tensor names the layer;
    "order": the next unclaimed conv op of a compatible shape).
    """

    name: str
    kind: str
    kernel_shape: tuple
    groups: int
    binary_input: bool
    kernel_params: int
    status: str
    op: str | None = None
    op_index: int | None = None
    matched_by: str | None = None
    reason: str = ""

    @property
    def converted(self) -> bool:
        return self.status == "binary"


@dataclasses.dataclass
class TFLiteReport:
    """The outcome of `to_tflite`: sizes, op counts and one row per binarized layer."""

    path: str | None
    binary_ops: int
    float_convs: int
    flatbuffer_bytes: int
    theoretical_bytes: float
    convertible_bytes: float
    layers: list[LayerExport]
    ops: Counter
    grouped_binary_ops: int
    constant_bytes: int
    tensor_count: int
    input_names: list[str]
    output_names: list[str]
    method: str
    seconds: float
    converter_log: str = dataclasses.field(default="", repr=False)
    flatbuffer: bytes = dataclasses.field(default=b"", repr=False)

    @property
    def converted_layers(self) -> list[LayerExport]:
        return [r for r in self.layers if r.status == "binary"]

    @property
    def float_layers(self) -> list[LayerExport]:
        return [r for r in self.layers if r.status != "binary"]

    @property
    def ratio_to_theoretical(self) -> float:
        return self.flatbuffer_bytes / self.theoretical_bytes

    @property
    def ratio_to_convertible(self) -> float:
        return self.flatbuffer_bytes / self.convertible_bytes

    @property
    def needs_indirect_bgemm(self) -> bool:
        """Grouped `LceBconv2d` ops run only with LCE's indirect-BGEMM (or reference) kernels:
        `RegisterLCECustomOps(&resolver, false, true)` on the device,
        `Interpreter(..., use_indirect_bgemm=True)` in Python (`lce_predict` sets it)."""
        return self.grouped_binary_ops > 0

    @property
    def overhead_bytes(self) -> int:
        """Flatbuffer bytes that are not constant data: op and tensor tables, names, alignment."""
        return self.flatbuffer_bytes - self.constant_bytes

    def summary(self) -> str:
        """A short text: totals, then the layers that stayed float with their reasons."""
        lines = [
            f"flatbuffer        {self.flatbuffer_bytes / 1e3:10.1f} KB  ({self.path or 'not written'})",
            f"theoretical       {self.theoretical_bytes / 1e3:10.1f} KB  "
            f"(flatbuffer / theoretical = {self.ratio_to_theoretical:.3f})",
            f"convertible       {self.convertible_bytes / 1e3:10.1f} KB  "
            f"(flatbuffer / convertible = {self.ratio_to_convertible:.3f})",
            f"  of which        {self.constant_bytes / 1e3:10.1f} KB constants, "
            f"{self.overhead_bytes / 1e3:.1f} KB graph ({sum(self.ops.values())} ops, "
            f"{self.tensor_count} tensors)",
            f"LceBconv2d ops    {self.binary_ops:10d}  "
            f"({len(self.converted_layers)} of {len(self.layers)} binarized layers)",
            f"float conv ops    {self.float_convs:10d}",
        ]
        reasons = Counter(r.reason for r in self.float_layers)
        for reason, count in reasons.items():
            lines.append(f"  {count} layer(s) stayed float: {reason}")
        if self.needs_indirect_bgemm:
            lines.append(f"  {self.grouped_binary_ops} grouped LceBconv2d op(s): run with LCE's "
                         "indirect-BGEMM kernels (RegisterLCECustomOps(&resolver, false, true))")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------ Keras-side helpers


def _precision(quantizer) -> int:
    return getattr(quantizer, "precision", None) or 32


def _latent(variable):
    return getattr(variable, "latent_variable", variable)


def _kernel_of(layer):
    # larq's depthwise layers quantize with `depthwise_quantizer` and are not covered.
    return getattr(layer, "kernel", None)


def binarized_layers(model: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    """The layers of `model` (nested models included) whose kernel quantizer is 1-bit."""
    return [
        layer
        for layer in iter_layers(model)
        if _kernel_of(layer) is not None
        and _precision(getattr(layer, "kernel_quantizer", None)) == 1
    ]


def _quantized_kernel(layer) -> np.ndarray:
    kernel = tf.convert_to_tensor(_latent(_kernel_of(layer)))
    return np.asarray(layer.kernel_quantizer(kernel, training=False))


def _pack_bits(negative: np.ndarray) -> np.ndarray:
    """LCE's filter bit-packing: channel c of the last axis is bit c % 32 of int32 word c // 32,
    set for negative values; the last word is zero-padded."""
    channels = negative.shape[-1]
    words = -(-channels // 32)
    padded = np.zeros(negative.shape[:-1] + (words * 32,), dtype=np.uint64)
    padded[..., :channels] = negative
    padded = padded.reshape(negative.shape[:-1] + (words, 32))
    packed = (padded << np.arange(32, dtype=np.uint64)).sum(axis=-1).astype(np.uint32)
    return packed.view(np.int32)


def _layer_keys(layer) -> list[tuple]:
    """Keys under which a conv op of the flatbuffer would carry this layer's quantized kernel."""
    negative = _quantized_kernel(layer) < 0
    keys = []
    if negative.ndim == 4:  # Conv2D kernel (kh, kw, in / groups, out); TFLite filters are OHWI
        ohwi = np.transpose(negative, (3, 0, 1, 2))
        packed = _pack_bits(ohwi)
        keys.append(("b", packed.shape, packed.tobytes()))
        keys.append(("f", ohwi.shape, np.packbits(ohwi).tobytes()))
        if negative.shape[2] == 1:  # one input channel per group may become a depthwise conv
            dw = np.transpose(negative, (2, 0, 1, 3))
            keys.append(("f", dw.shape, np.packbits(dw).tobytes()))
    return keys


def _static_reason(layer, binary_input: bool) -> str:
    if not binary_input:
        return ("input quantizer is not 1-bit: LCE keeps a float conv with a 32-bit copy "
                "of the binarized kernel")
    groups = int(getattr(layer, "groups", 1) or 1)
    if groups > 1:
        per_group = int(_kernel_of(layer).shape[2])
        if per_group % LCE_GROUP_CHANNELS:
            return (f"grouped binary conv with {per_group} input channels per group "
                    f"({groups} groups): LCE binarizes grouped convs only with a multiple of "
                    f"{LCE_GROUP_CHANNELS} input channels per group")
    return "LCE kept this conv float (no diagnostic from the converter)"


# ------------------------------------------------------------ matching ops to layers


def _op_key(op: Op):
    if op.filter is None:
        return None
    if op.name == BINARY_OP:
        return ("b", op.filter.shape, op.filter.astype(np.int32).tobytes())
    return ("f", op.filter.shape, np.packbits(op.filter < 0).tobytes())


def _names_layer(op: Op, layer_name: str) -> bool:
    pattern = re.compile(rf"(^|[/;]){re.escape(layer_name)}(/|;|$)")
    return any(pattern.search(name) for name in op.outputs)


def _match(layers, ops, log_reasons, float_layers=()):
    """One `LayerExport` per layer: match by kernel content, then by name, then by order.

    `float_layers` (full-precision convs) only claim their own ops first, so that
    the name and order fallbacks cannot hand them to a binarized layer.
    """
    candidates = [op for op in ops if op.name in CONV_OPS]
    by_key: dict[tuple, list[Op]] = {}
    for op in candidates:
        key = _op_key(op)
        if key is not None:
            by_key.setdefault(key, []).append(op)
    claimed: set[int] = set()
    for layer in float_layers:
        kernel = np.asarray(_kernel_of(layer))
        if kernel.ndim != 4:
            continue
        ohwi = np.transpose(kernel < 0, (3, 0, 1, 2))
        for op in by_key.get(("f", ohwi.shape, np.packbits(ohwi).tobytes()), []):
            if op.index not in claimed:
                claimed.add(op.index)
                break
    found: dict[str, tuple[Op, str]] = {}
    pending = []
    for layer in layers:
        hits = [op for key in _layer_keys(layer) for op in by_key.get(key, [])
                if op.index not in claimed]
        if hits:
            named = [op for op in hits if _names_layer(op, layer.name)]
            op = (named or hits)[0]
            claimed.add(op.index)
            found[layer.name] = (op, "kernel")
        else:
            pending.append(layer)
    still = []
    for layer in pending:
        named = [op for op in candidates if op.index not in claimed and _names_layer(op, layer.name)]
        if len(named) == 1:
            claimed.add(named[0].index)
            found[layer.name] = (named[0], "name")
        else:
            still.append(layer)
    for layer in still:
        # Count-based: the next unclaimed conv op whose filter has the layer's output channels.
        out_channels = int(_kernel_of(layer).shape[-1])
        for op in candidates:
            if op.index in claimed or op.filter is None:
                continue
            channels = op.filter.shape[-1] if op.name == "DEPTHWISE_CONV_2D" else op.filter.shape[0]
            if channels == out_channels:
                claimed.add(op.index)
                found[layer.name] = (op, "order")
                break

    rows = []
    for layer in layers:
        binary_input = _precision(getattr(layer, "input_quantizer", None)) == 1
        op, how = found.get(layer.name, (None, None))
        if op is None:
            status, reason = "missing", "no conv op of the flatbuffer carries this layer's kernel"
        elif op.name == BINARY_OP:
            status, reason = "binary", ""
        else:
            status = "float"
            reason = _static_reason(layer, binary_input)
            if layer.name in log_reasons:
                generic = reason.startswith("LCE kept")
                reason = log_reasons[layer.name] if generic else f"{reason} [{log_reasons[layer.name]}]"
        rows.append(LayerExport(
            name=layer.name,
            kind=type(layer).__name__,
            kernel_shape=tuple(int(d) for d in _kernel_of(layer).shape),
            groups=int(getattr(layer, "groups", 1) or 1),
            binary_input=binary_input,
            kernel_params=int(np.prod(_kernel_of(layer).shape)),
            status=status,
            op=None if op is None else op.name,
            op_index=None if op is None else op.index,
            matched_by=how,
            reason=reason,
        ))
    return rows


def _log_reasons(log: str, layer_names: Sequence[str]) -> dict[str, str]:
    """The converter's per-layer diagnostics, e.g. LCE's refusal of a grouped binary conv."""
    reasons = {}
    for line in log.splitlines():
        if "error:" not in line:
            continue
        message = line.split("error:", 1)[1].strip()
        for name in layer_names:
            if re.search(rf"(^|[\"/]){re.escape(name)}/", line):
                reasons.setdefault(name, f"LCE: {message}")
    return reasons


# ------------------------------------------------------------------- conversion


@contextlib.contextmanager
def _captured_stderr():
    """Collect what native code writes to file descriptor 2 (MLIR diagnostics)."""
    out = {"text": ""}
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            saved = os.dup(2)
        except OSError:  # no usable fd 2: nothing to capture
            yield out
            return
        try:
            os.dup2(sink.fileno(), 2)
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            out["text"] = sink.read().decode(errors="replace")


def _input_specs(model, batch_size=1):
    specs = []
    for name, tensor in zip(model.input_names, model.inputs):
        shape = [batch_size] + list(tensor.shape[1:])
        specs.append(tf.TensorSpec(shape, tensor.dtype, name=name))
    return specs


def _check_static(model):
    for name, tensor in zip(model.input_names, model.inputs):
        if None in tensor.shape[1:]:
            raise ValueError(
                f"input {name!r} has shape {tuple(tensor.shape)}: a flatbuffer needs fixed sizes; "
                "pass input_shapes= (or build the model with a fixed input_size)"
            )


def with_input_shapes(model: tf.keras.Model, input_shapes) -> tf.keras.Model:
    """A copy of a functional `model` with fixed per-example input shapes and the same weights.

    `input_shapes`: a list in `model.inputs` order or a dict by input name, each
    shape without the batch axis, e.g. `{"H": (660, 660, 28), "Phi": (660, 660, 28)}`.
    For deploying a model trained on patches (or built with `input_size=None`)
    at the device's frame size; the weights of convolutional models do not
    depend on the input size.
    """
    if isinstance(input_shapes, Mapping):
        unknown = set(input_shapes) - set(model.input_names)
        if unknown:
            raise ValueError(f"input_shapes: unknown input(s) {sorted(unknown)}, "
                             f"the model has {model.input_names}")
        shapes = [input_shapes.get(name) for name in model.input_names]
    else:
        shapes = list(input_shapes)
        if len(shapes) != len(model.inputs):
            raise ValueError(f"input_shapes: {len(shapes)} shapes for {len(model.inputs)} inputs")
    config = model.get_config()
    by_name = dict(zip(model.input_names, shapes))
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer" and by_name.get(layer["config"]["name"]) is not None:
            shape = tuple(int(s) for s in by_name[layer["config"]["name"]])
            layer["config"]["batch_input_shape"] = (None,) + shape
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def input_shapes_for_size(model: tf.keras.Model, size) -> list[tuple]:
    """Per-example input shapes of `model` for a cube of spatial `size` `(height, width)`.

    Image inputs `(H, W, C)` take the size; a raw CASSI measurement `(H, W')`
    feeding a `ShiftBack` layer takes `(height, width + step (bands - 1))`
    from that layer's settings. For `with_input_shapes` / `to_tflite(input_shapes=...)`.
    """
    height, width = (int(s) for s in size)
    shift_backs = [layer for layer in iter_layers(model) if isinstance(layer, L.ShiftBack)]
    shapes = []
    for tensor in model.inputs:
        dims = list(tensor.shape[1:])
        if len(dims) == 3:
            shapes.append((height, width, int(dims[2])))
        elif len(dims) == 2 and len(shift_backs) == 1:
            layer = shift_backs[0]
            shapes.append((height, width + layer.step * (layer.bands - 1)))
        else:
            raise ValueError(f"cannot derive a fixed shape for input {tensor.name!r} of shape {tuple(tensor.shape)}")
    return shapes


def _frozen_graph(function):
    """(GraphDef with variables as constants, input names, output names) of a concrete function.

    TensorFlow's `convert_variables_to_constants_v2` also rebuilds a concrete
    function from the frozen graph, which is most of its cost on 300-layer
    models and unused here; its two private steps are called directly when present.
    """
    from tensorflow.python.framework import convert_to_constants as c2c

    try:
        data = c2c._FunctionConverterDataInEager(func=function, lower_control_flow=False,
                                                 aggressive_inlining=False)
        graph_def, converted = c2c._replace_variables_by_constants(converter_data=data)
    except AttributeError:  # a TensorFlow without these private helpers
        frozen = c2c.convert_variables_to_constants_v2(function, lower_control_flow=False)
        inputs = [t for t in frozen.inputs if t.dtype != tf.resource]
        return frozen.graph.as_graph_def(), inputs, list(frozen.outputs)
    # As `_construct_concrete_function`: the indices point into the captured inputs.
    captures = function.graph.internal_captures
    converted_ids = {id(captures[i]) for i in converted}
    inputs = [t for t in function.inputs if id(t) not in converted_ids and t.dtype != tf.resource]
    outputs = list(function.outputs)
    # Keep only what the outputs need, as the rebuilt function would.
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(
        graph_def, [t.name.split(":")[0] for t in outputs])
    return graph_def, inputs, outputs


def _serving_function(model):
    """The model's inference pass as a concrete function of batch-1 inputs named as the model's."""

    @tf.function(input_signature=_input_specs(model), autograph=False)
    def serve(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    return serve.get_concrete_function()


def _convert_graphdef(model) -> bytes:
    from larq_compute_engine.mlir._tf_tfl_flatbuffer import convert_graphdef_to_tflite_flatbuffer
    from tensorflow.core.framework.types_pb2 import DataType
    from tensorflow.lite.python.util import get_tensor_name

    graph_def, inputs, outputs = _frozen_graph(_serving_function(model))
    return convert_graphdef_to_tflite_flatbuffer(
        graph_def.SerializeToString(),
        [get_tensor_name(t) for t in inputs],
        [DataType.Name(t.dtype.as_datatype_enum) for t in inputs],
        [t.shape.as_list() for t in inputs],
        [get_tensor_name(t) for t in outputs],
        False,  # no int8 quantization
        "arm",
        None,
    )


def float_tflite(model: tf.keras.Model, path=None) -> bytes:
    """A plain float TFLite flatbuffer of `model` (no LCE ops), for size and speed comparisons.

    The same frozen graph as `to_tflite`'s, converted by TensorFlow's own
    `tf.compat.v1.lite.TFLiteConverter` (no larq-specific passes: signs stay
    float `SIGN` ops, binarized kernels become 32-bit constants). Freezing
    first is 20x faster than `TFLiteConverter.from_concrete_functions` on
    BiSRNet and folds the kernel quantizers into constants.
    """
    _check_static(model)
    graph_def, inputs, outputs = _frozen_graph(_serving_function(model))
    converter = tf.compat.v1.lite.TFLiteConverter(
        graph_def, None, None,
        input_arrays_with_shape=[(t.name.split(":")[0], t.shape.as_list()) for t in inputs],
        output_arrays=[t.name.split(":")[0] for t in outputs],
    )
    with _captured_stderr():
        flatbuffer = converter.convert()
    if path is not None:
        with open(os.fspath(path), "wb") as f:
            f.write(flatbuffer)
    return flatbuffer


def _convert(model, method) -> bytes:
    import larq_compute_engine as lce

    if method == "keras":
        return lce.convert_keras_model(model)
    try:
        return _convert_graphdef(model)
    except ImportError:  # LCE moved its private module: use the public entry point
        return lce.convert_keras_model(model)


def to_tflite(
    model: tf.keras.Model,
    path=None,
    *,
    method: str = "graphdef",
    input_shapes=None,
    strip_names: bool = False,
) -> TFLiteReport:
    """Convert `model` with larq-compute-engine, write the flatbuffer to `path`, report on it.

    # Arguments
        model: a float32 Keras model; binary layers are larq `QuantConv2D`s
            (and subclasses) with 1-bit input and kernel quantizers.
        path: where to write the `.tflite` file (`None`: do not write; the
            bytes are in `report.flatbuffer`).
        method: "graphdef" (default; LCE's graph route, about 14x less CPU on
            BiSRNet) or "keras" (`larq_compute_engine.convert_keras_model` as is).
        input_shapes: fixed per-example input shapes for a model built with
            unknown sizes (see `with_input_shapes`); the flatbuffer has batch 1.
        strip_names: drop tensor names from the written flatbuffer (about 9%
            smaller for BiSRNet; interpreters address tensors by index, and
            `lce_predict(report, {...})` still maps inputs by name).

    # Returns
        A `TFLiteReport`: `binary_ops` (LceBconv2d ops), `float_convs` (float
        CONV_2D / DEPTHWISE_CONV_2D ops), `flatbuffer_bytes`,
        `theoretical_bytes`, `convertible_bytes`, and `layers`, one
        `LayerExport` per layer with a 1-bit kernel: converted or not, and why.
    """
    if method not in ("graphdef", "keras"):
        raise ValueError(f"method must be 'graphdef' or 'keras', got {method!r}")
    if not isinstance(model, tf.keras.Model):
        raise ValueError(f"expected a tf.keras.Model, got {type(model).__name__}")
    policy = getattr(model, "dtype_policy", None)
    dtype = getattr(policy, "name", None) or model.dtype
    if dtype != "float32" or any(t.dtype != tf.float32 for t in model.inputs):
        raise ValueError(
            f"to_tflite needs a float32 model, got {dtype!r}: build it with dtype='float32' "
            "and copy the weights (model.set_weights(float64_model.get_weights()))"
        )
    if input_shapes is not None:
        if method == "keras":
            raise ValueError("input_shapes needs method='graphdef' (or convert with_input_shapes(...))")
        model = with_input_shapes(model, input_shapes)
    _check_static(model)

    start = time.perf_counter()
    with _captured_stderr() as log:
        try:
            flatbuffer = _convert(model, method)
            error = None
        except Exception as exc:  # re-raised below with the converter's log
            error = exc
    if error is not None:
        raise RuntimeError(
            f"LCE conversion failed: {error}\nconverter log:\n{log['text'][-4000:]}"
        ) from error
    seconds = time.perf_counter() - start

    parsed = parse(flatbuffer)  # before stripping: op outputs name their layers
    ops = parsed.ops
    layers = binarized_layers(model)
    binarized_ids = {id(l) for l in layers}
    float_convs = [l for l in iter_layers(model)
                   if isinstance(l, tf.keras.layers.Conv2D) and id(l) not in binarized_ids]
    rows = _match(layers, ops, _log_reasons(log["text"], [l.name for l in layers]), float_convs)
    if strip_names:
        flatbuffer = without_names(flatbuffer)
        constant_bytes = parse(flatbuffer).constant_bytes
    else:
        constant_bytes = parsed.constant_bytes
    if path is not None:
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(flatbuffer)
    theoretical = float(complexity.profile(model).storage_bytes)
    kept_float = sum(r.kernel_params for r in rows if r.status != "binary")
    counts = Counter(op.name for op in ops)
    return TFLiteReport(
        path=path,
        binary_ops=counts[BINARY_OP],
        float_convs=sum(counts[name] for name in FLOATCONV_OPS),
        flatbuffer_bytes=len(flatbuffer),
        theoretical_bytes=theoretical,
        convertible_bytes=theoretical + kept_float * (4 - 1 / 8),
        layers=rows,
        ops=counts,
        grouped_binary_ops=sum(op.groups > 1 for op in ops),
        constant_bytes=constant_bytes,
        tensor_count=parsed.tensor_count,
        input_names=[plain_name(n) for n in parsed.inputs],
        output_names=parsed.outputs,
        method=method,
        seconds=seconds,
        converter_log=log["text"],
        flatbuffer=flatbuffer,
    )


def lce_predict(flatbuffer, inputs, num_threads: int = 1, use_indirect_bgemm=None) -> np.ndarray:
    """Run a flatbuffer (bytes, a path or a `TFLiteReport`) in LCE's interpreter.

    `inputs`: an array (one input), a dict by input name, or a list in the
    flatbuffer's input order (`report.input_names`; `to_tflite` keeps the
    model's order). Each array has a batch axis; examples run one by one.
    `use_indirect_bgemm`: LCE's indirect-BGEMM binary conv kernels; `None`
    turns them on only when the flatbuffer has a grouped `LceBconv2d`, which
    LCE's default kernels reject.
    """
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    names = None
    if isinstance(flatbuffer, TFLiteReport):
        names = flatbuffer.input_names
        flatbuffer = flatbuffer.flatbuffer
    elif isinstance(flatbuffer, (str, os.PathLike)):
        with open(flatbuffer, "rb") as f:
            flatbuffer = f.read()
    if isinstance(inputs, Mapping):
        names = names or [plain_name(n) for n in parse(flatbuffer).inputs]
        missing = set(names) - set(inputs)
        if missing:
            raise ValueError(f"inputs: missing {sorted(missing)}; the flatbuffer takes {names}")
        inputs = [inputs[n] for n in names]
    if isinstance(inputs, (list, tuple)):
        inputs = [np.asarray(x, dtype=np.float32) for x in inputs]
        if len(inputs) == 1:
            inputs = inputs[0]
    else:
        inputs = np.asarray(inputs, dtype=np.float32)
    if use_indirect_bgemm is None:
        use_indirect_bgemm = any(op.groups > 1 for op in parse(flatbuffer).ops)
    interpreter = Interpreter(flatbuffer, num_threads=num_threads,
                              use_indirect_bgemm=bool(use_indirect_bgemm))
    return interpreter.predict(inputs)

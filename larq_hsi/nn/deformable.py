r"""Deformable convolution (Dai et al. 2017, DCNv1) as a Keras `Conv2D` subclass.

For an input \(x\) of C channels, a \(k_h \times k_w\) kernel with taps
\(p_k\) (offsets from the centre, \(K = k_h k_w\)) and learned per-pixel
offsets \(\Delta p_k(p)\), the output at pixel \(p\) is

\[ y(p) = b + \sum_{k=1}^{K} W_k^\top\, x\big(p + d\,p_k + \Delta p_k(p)\big), \]

with \(d\) the dilation and \(x(\cdot)\) read by bilinear interpolation with
zeros outside the image (the zero padding of a 'same' convolution). With all
offsets zero this is exactly a stride-1 'same' zero-padded `Conv2D`.

Offsets are a second input of shape `(B, H, W, 2K)`: channels `2k` and
`2k + 1` are the row (y) and column (x) displacement of tap `k`, taps in
row-major kernel order (torchvision's layout). Bilinear sampling is written
with core TensorFlow ops (a one-pixel zero border, `floor` and a batched
`gather` of the four neighbours), the computation of
`tfa.image.resampler`; unlike that custom op it converts to TensorFlow Lite
builtins (`GATHER`, `FLOOR`, ...), so a model holding this layer exports to a
flatbuffer and its SavedModel loads without TensorFlow Addons. Gradients
reach the data and the offsets, in float32 and float64.

Being a `Conv2D` (its kernel has the usual `(kh, kw, C, O)` layout),
`larq.models.summary` and `larq_hsi.complexity` count its kernel MACs,
\(K C O\) per output pixel; the bilinear sampling itself is not counted.
"""

from __future__ import annotations

import tensorflow as tf
from larq import utils as lq_utils

__all__ = ["DeformableConv2D", "bilinear_sample", "deformable_sample"]


def _tap_offsets(kernel_size, dilation):
    """Row/column offsets of each kernel tap from the centre, row-major, shape (K, 2) as (y, x)."""
    kh, kw = kernel_size
    dh, dw = dilation
    rows = [(i - (kh - 1) / 2) * dh for i in range(kh) for _ in range(kw)]
    cols = [(j - (kw - 1) / 2) * dw for _ in range(kh) for j in range(kw)]
    return rows, cols


def bilinear_sample(x, rows, cols):
    r"""\(x\) read at real-valued pixel positions by bilinear interpolation, zero outside.

    `x` is `(B, H, W, C)`; `rows` and `cols` are `(B, ...)` positions in pixels
    (row `i`, column `j` of pixel `x[:, i, j]`). Returns `(B, ..., C)` with
    \(\sum_{(a, b) \in \{0, 1\}^2} w_a(r) w_b(c)\, x[\lfloor r\rfloor + a, \lfloor c\rfloor + b]\),
    \(w_1(t) = t - \lfloor t\rfloor\), \(w_0 = 1 - w_1\), and neighbours outside the
    image read as 0.
    """
    shape = tf.shape(x)
    batch, height, width = shape[0], shape[1], shape[2]
    channels = x.shape[-1]
    # Every neighbour outside the image is clipped onto the zero border, so it reads 0.
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    flat = tf.reshape(padded, tf.stack([batch, -1, shape[3]]))
    row0, col0 = tf.floor(rows), tf.floor(cols)
    row_weight, col_weight = rows - row0, cols - col0
    out_shape = tf.concat([tf.shape(rows), [shape[3]]], axis=0)
    result = 0
    for d_row, w_row in ((0, 1 - row_weight), (1, row_weight)):
        r = tf.clip_by_value(tf.cast(row0, tf.int32) + (d_row + 1), 0, height + 1)
        for d_col, w_col in ((0, 1 - col_weight), (1, col_weight)):
            c = tf.clip_by_value(tf.cast(col0, tf.int32) + (d_col + 1), 0, width + 1)
            index = tf.reshape(r * (width + 2) + c, tf.stack([batch, -1]))
            values = tf.reshape(tf.gather(flat, index, batch_dims=1), out_shape)
            result = result + (w_row * w_col)[..., None] * values
    result.set_shape(rows.shape.concatenate([channels]))
    return result


def deformable_sample(x, offsets, kernel_size, dilation=(1, 1)):
    r"""The deformed neighbourhoods \(x(p + d p_k + \Delta p_k(p))\), shape `(B, H, W, K * C)`.

    `x` is `(B, H, W, C)`, `offsets` `(B, H, W, 2K)` with `(dy_k, dx_k)` pairs
    (see the module docstring). Channel `k * C + c` of the result is channel
    `c` sampled at tap `k`, the order in which a Keras kernel
    `(kh, kw, C, O)` reshaped to `(K C, O)` reads its rows.
    """
    kh, kw = kernel_size
    taps = kh * kw
    dtype = x.dtype
    shape = tf.shape(x)
    batch, height, width = shape[0], shape[1], shape[2]
    channels = x.shape[-1]
    tap_y, tap_x = _tap_offsets(kernel_size, dilation)
    rows = tf.cast(tf.range(height), dtype)[:, None, None] + tf.constant(tap_y, dtype)[None, None, :]
    cols = tf.cast(tf.range(width), dtype)[None, :, None] + tf.constant(tap_x, dtype)[None, None, :]
    offsets = tf.reshape(offsets, tf.stack([batch, height, width, taps, 2]))
    y = rows[None] + offsets[..., 0]  # (B, H, W, K)
    xx = cols[None] + offsets[..., 1]
    sampled = bilinear_sample(x, y, xx)  # (B, H, W, K, C)
    out = tf.reshape(sampled, tf.stack([batch, height, width, taps * channels]))
    out.set_shape([x.shape[0], x.shape[1], x.shape[2], None if channels is None else taps * channels])
    return out


@lq_utils.register_keras_custom_object
class DeformableConv2D(tf.keras.layers.Conv2D):
    r"""Deformable 2-D convolution (DCNv1), stride 1, 'same' zero padding.

    Called on `[x, offsets]` with `x` `(B, H, W, C)` and `offsets`
    `(B, H, W, 2 kh kw)`; returns `(B, H, W, filters)`:
    \(y(p) = b + \sum_k W_k^\top x(p + d p_k + \Delta p_k(p))\)
    with bilinear sampling and zeros outside the image. Accepts the
    `Conv2D` arguments except `strides`, `padding` (always 'same'), `groups`
    and `data_format` (channels last only); kernel sizes must be odd.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        fixed = {"strides": (1, 1), "padding": "same", "groups": 1, "data_format": "channels_last"}
        for key, value in fixed.items():
            if key not in kwargs:
                continue
            given = kwargs.pop(key)
            normal = tuple(given) if key == "strides" and not isinstance(given, int) else given
            if key == "strides" and isinstance(given, int):
                normal = (given, given)
            if given is not None and normal != value:
                raise ValueError(f"DeformableConv2D supports only {key}={value!r}, got {given!r}")
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        self.input_spec = None  # Conv2D's spec is for one input; set for two in build
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"DeformableConv2D needs odd kernel sizes, got {self.kernel_size}")

    @property
    def taps(self) -> int:
        return self.kernel_size[0] * self.kernel_size[1]

    def _split_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
            isinstance(s, (list, tuple, tf.TensorShape)) for s in input_shape
        ):
            raise ValueError(
                "DeformableConv2D expects two inputs [x, offsets], got input shape "
                f"{input_shape}"
            )
        x_shape, offset_shape = (tf.TensorShape(s) for s in input_shape)
        if x_shape.rank != 4 or offset_shape.rank != 4:
            raise ValueError(
                f"DeformableConv2D: x and offsets must be rank 4 (B, H, W, C), got {x_shape} "
                f"and {offset_shape}"
            )
        if offset_shape[-1] is not None and offset_shape[-1] != 2 * self.taps:
            raise ValueError(
                f"DeformableConv2D: offsets need 2 * {self.taps} = {2 * self.taps} channels "
                f"(dy, dx per tap of the {self.kernel_size} kernel), got {offset_shape[-1]}"
            )
        if not x_shape[1:3].is_compatible_with(offset_shape[1:3]):
            raise ValueError(
                f"DeformableConv2D: offsets must have the spatial size of x, got x {x_shape} and "
                f"offsets {offset_shape}"
            )
        return x_shape, offset_shape

    def build(self, input_shape):
        x_shape, _ = self._split_shapes(input_shape)
        if x_shape[-1] is None:
            raise ValueError(f"DeformableConv2D needs a known channel count, got x shape {x_shape}")
        # Conv2D.build checks a single input; the weights are the same as its own.
        self.kernel = self.add_weight(
            "kernel",
            shape=tuple(self.kernel_size) + (int(x_shape[-1]), self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            trainable=True,
            dtype=self.dtype,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                trainable=True,
                dtype=self.dtype,
            )
        self.built = True
        self.input_spec = [tf.keras.layers.InputSpec(ndim=4, axes={-1: int(x_shape[-1])}),
                           tf.keras.layers.InputSpec(ndim=4, axes={-1: 2 * self.taps})]

    def call(self, inputs):
        x, offsets = inputs
        offsets = tf.cast(offsets, x.dtype)
        columns = deformable_sample(x, offsets, self.kernel_size, self.dilation_rate)
        kernel = tf.reshape(self.kernel, [-1, self.filters])
        out = tf.einsum("bhwk,ko->bhwo", columns, kernel)
        if self.use_bias:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out

    def compute_output_shape(self, input_shape):
        x_shape, _ = self._split_shapes(input_shape)
        return x_shape[:3].concatenate([self.filters])

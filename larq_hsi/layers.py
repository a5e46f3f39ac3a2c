r"""Elementwise layers of BiSRNet and BBCU, and the ATISTE convolution.

Each piece that surrounds a binary convolution is its own small layer, so the
convolution itself stays a `larq.layers.QuantConv2D` that `larq.models.summary`
and larq-compute-engine can see.

| layer | formula | paper |
| --- | --- | --- |
| `SpectralRedistribution` | \(x k + b\) per channel | BiSRNet Eq. 2 |
| `LearnableBias` | \(x + b\) per channel | BBCU Eq. 2 (threshold \(b=-a\)) |
| `RPReLU` | \(\mathrm{PReLU}_\beta(x - \gamma) + \zeta\) per channel | BiSRNet Eq. 12, BBCU Eq. 4 |
| `ResidualAlignment` | \(k x\) (or \(x / k\) with `inverse=True`) | BBCU Sec. 3.1 |
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf
from larq import utils as lq_utils

from larq_hsi import quantizers as hsi_quantizers

__all__ = [
    "ATISTEConv2D",
    "BilinearUpsample2x",
    "ChannelSlice",
    "CropLike",
    "GroupConv2D",
    "LearnableBias",
    "PadToMultiple",
    "QuantGroupConv2D",
    "RPReLU",
    "ResidualAlignment",
    "SpectralRedistribution",
    "alignment_factor",
]


class _ChannelwiseLayer(tf.keras.layers.Layer):
    """A layer holding per-channel vectors of the last axis."""

    def _channels(self, input_shape) -> int:
        channels = tf.TensorShape(input_shape)[-1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} needs a known channel (last) dimension, "
                f"got input shape {input_shape}"
            )
        return int(channels)

    def _vector(self, name, input_shape, value):
        return self.add_weight(
            name,
            shape=(self._channels(input_shape),),
            initializer=tf.keras.initializers.Constant(value),
            trainable=True,
        )

    def compute_output_shape(self, input_shape):
        return input_shape


@lq_utils.register_keras_custom_object
class SpectralRedistribution(_ChannelwiseLayer):
    r"""Spectral redistribution of BiSRNet (Eq. 2): \(X_r = k \cdot X_f + b\).

    `k` (init 1) rescales and `b` (init 0) shifts every channel before the
    activation is binarized, so each spectral band gets its own sign threshold
    and density.
    """

    def build(self, input_shape):
        self.k = self._vector("k", input_shape, 1.0)
        self.b = self._vector("b", input_shape, 0.0)
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.k + self.b


@lq_utils.register_keras_custom_object
class LearnableBias(_ChannelwiseLayer):
    r"""Adds a learnable per-channel shift: \(y = x + b\), `b` init 0.

    Followed by larq's `approx_sign` this is BBCU's learnable-threshold sign
    (Eq. 2) \(\mathrm{sign}(x - a)\) with \(b = -a\); its gradient is Eq. 6,
    \(\partial y/\partial x = 2 - 2|x + b|\) for \(|x + b| \le 1\), else 0,
    and \(\partial y/\partial b\) the same.
    """

    def build(self, input_shape):
        self.bias = self._vector("bias", input_shape, 0.0)
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.bias


@lq_utils.register_keras_custom_object
class RPReLU(_ChannelwiseLayer):
    r"""RPReLU (ReActNet; BiSRNet Eq. 12, BBCU Eq. 4), per channel i:

    \[ \mathrm{RPReLU}(y_i) = \begin{cases}
        y_i - \gamma_i + \zeta_i, & y_i > \gamma_i \\
        \beta_i (y_i - \gamma_i) + \zeta_i, & y_i \le \gamma_i
    \end{cases} \]

    `gamma` and `zeta` start at 0, the slope `beta` at 0.25 (PyTorch's PReLU default,
    used by the reference implementations).

    The PReLU is computed as \(\mathrm{relu}(s) + (-\beta)\,\mathrm{relu}(-s)\)
    with \(s = y - \gamma\): bit for bit the same values as the case form, and
    the pattern TFLite's converter fuses into one `PRELU` op (with \(\gamma\)
    folded into the preceding convolution's bias), where a `tf.where` leaves
    four ops (`SUB`, `GREATER`, `MUL`, `SELECT`) per layer in the flatbuffer. Its
    gradient differs from the case form only at \(s = 0\) exactly (0 instead of
    \(\beta_i\)), and a training step costs the same.
    """

    def __init__(self, slope_init: float = 0.25, **kwargs):
        self.slope_init = float(slope_init)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.gamma = self._vector("gamma", input_shape, 0.0)
        self.beta = self._vector("beta", input_shape, self.slope_init)
        self.zeta = self._vector("zeta", input_shape, 0.0)
        super().build(input_shape)

    def call(self, inputs):
        shifted = inputs - self.gamma
        # The converter matches PReLU only with a slope of the input's rank minus the batch axis.
        slope = tf.reshape(self.beta, [1] * (inputs.shape.rank - 2) + [-1])
        return tf.nn.relu(shifted) + (-slope) * tf.nn.relu(-shifted) + self.zeta

    def get_config(self):
        return {**super().get_config(), "slope_init": self.slope_init}


def alignment_factor(channels: int, base: float = 130.0, base_channels: int = 64) -> float:
    """BBCU's channel-adjusted amplification factor `k* = 130 n / 64` for `n` channels."""
    if channels <= 0:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    return base * channels / base_channels


@lq_utils.register_keras_custom_object
class ResidualAlignment(tf.keras.layers.Layer):
    r"""BBCU's residual alignment: scale by a fixed amplification factor k.

    At the start of a network, \(y = k x\) widens the value range of the
    full-precision residual path so it matches the binary convolutions' outputs
    (which lets BBCU drop BatchNorm); at the end, `inverse=True` gives
    \(y = x / k\). BBCU uses k = 130; `alignment_factor(n)` gives \(k^* = 130 n / 64\).
    """

    def __init__(self, factor: float = 130.0, inverse: bool = False, **kwargs):
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor!r}")
        self.factor = float(factor)
        self.inverse = bool(inverse)
        super().__init__(**kwargs)

    def call(self, inputs):
        k = tf.cast(self.factor, inputs.dtype)
        return inputs / k if self.inverse else inputs * k

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "inverse": self.inverse}


@lq_utils.register_keras_custom_object
class ATISTEConv2D(lq.layers.QuantConv2D):
    """A `QuantConv2D` whose weight and activation quantizers share one lambda.

    HS-BiNet (Appendix A.1) learns one lambda per layer, used by both the
    activation quantizer (`ATISTE`, one alpha per input channel) and the weight
    quantizer (`ScaledATISTE`, one alpha per output channel). Both quantizers
    are built in `build`, so their parameters exist before the first call and
    are saved with the layer. Defaults build those two quantizers in the
    layer's dtype; pass instances to change alpha, lambda or trainability.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        input_quantizer=None,
        kernel_quantizer=None,
        share_lambda: bool = True,
        **kwargs,
    ):
        dtype = kwargs.get("dtype")
        if input_quantizer is None:
            input_quantizer = hsi_quantizers.ATISTE(per_channel=True, dtype=dtype)
        if kernel_quantizer is None:
            kernel_quantizer = hsi_quantizers.ScaledATISTE(per_channel=True, dtype=dtype)
        self.share_lambda = bool(share_lambda)
        super().__init__(
            filters,
            kernel_size,
            input_quantizer=input_quantizer,
            kernel_quantizer=kernel_quantizer,
            **kwargs,
        )
        if self.share_lambda:
            for role, q in (("input_quantizer", self.input_quantizer),
                            ("kernel_quantizer", self.kernel_quantizer)):
                if not isinstance(q, hsi_quantizers.ATISTE):
                    raise ValueError(
                        f"ATISTEConv2D(share_lambda=True) needs an ATISTE {role}, "
                        f"got {type(q).__name__}"
                    )
            if self.kernel_quantizer.built:
                # Keras-format loading builds deserialized quantizers eagerly; a
                # fresh copy can still take the shared lambda.
                self.kernel_quantizer = type(self.kernel_quantizer).from_config(
                    self.kernel_quantizer.get_config()
                )
            self.kernel_quantizer.share_lambda_with(self.input_quantizer)

    def build(self, input_shape):
        with tf.name_scope(self.input_quantizer.name):
            self.input_quantizer.build(input_shape)
        super().build(input_shape)
        with tf.name_scope(self.kernel_quantizer.name):
            self.kernel_quantizer.build(self.kernel.shape)

    def get_config(self):
        return {**super().get_config(), "share_lambda": self.share_lambda}


@lq_utils.register_keras_custom_object
class ChannelSlice(tf.keras.layers.Layer):
    """Channels `[start, stop)` of the last axis (the split of BiSRNet's modules)."""

    def __init__(self, start: int, stop: int, **kwargs):
        if not 0 <= start < stop:
            raise ValueError(f"ChannelSlice needs 0 <= start < stop, got start={start}, stop={stop}")
        self.start = int(start)
        self.stop = int(stop)
        super().__init__(**kwargs)

    def call(self, inputs):
        return inputs[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.stop - self.start])

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@lq_utils.register_keras_custom_object
class BilinearUpsample2x(tf.keras.layers.Layer):
    r"""Bilinear x2 upscaling with half-pixel centres, exact in any float dtype.

    Equal to PyTorch's `interpolate(scale_factor=2, mode="bilinear",
    align_corners=False)`: along each spatial axis
    \(y_{2j} = \tfrac34 x_j + \tfrac14 x_{j-1}\) and
    \(y_{2j+1} = \tfrac34 x_j + \tfrac14 x_{j+1}\), with the edge sample repeated.
    `tf.image.resize` computes in float32 whatever it is given, which breaks
    float64 parity tests, hence this layer.
    """

    @staticmethod
    def _along(x, axis):
        n = tf.shape(x)[axis]
        prev = tf.concat([tf.gather(x, [0], axis=axis), tf.gather(x, tf.range(n - 1), axis=axis)], axis)
        nxt = tf.concat([tf.gather(x, tf.range(1, n), axis=axis), tf.gather(x, [n - 1], axis=axis)], axis)
        even = 0.75 * x + 0.25 * prev
        odd = 0.75 * x + 0.25 * nxt
        stacked = tf.stack([even, odd], axis=axis + 1)
        shape = tf.concat([tf.shape(x)[:axis], [2 * n], tf.shape(x)[axis + 1 :]], 0)
        out = tf.reshape(stacked, shape)
        static = x.shape.as_list()
        if static[axis] is not None:
            static[axis] *= 2
        out.set_shape(static)
        return out

    def call(self, inputs):
        return self._along(self._along(inputs, 1), 2)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        for axis in (1, 2):
            shape[axis] = None if shape[axis] is None else 2 * shape[axis]
        return tf.TensorShape(shape)


@lq_utils.register_keras_custom_object
class PadToMultiple(tf.keras.layers.Layer):
    """Pads height and width at the bottom/right up to a multiple of `multiple`.

    Reflect padding by default, as the published BiSRNet does before its U-Net,
    so inputs of any size pass the two 2x downsamplings. Works for static and
    dynamic spatial sizes.
    """

    def __init__(self, multiple: int = 8, mode: str = "REFLECT", **kwargs):
        if multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {multiple}")
        self.multiple = int(multiple)
        self.mode = mode.upper()
        super().__init__(**kwargs)

    def call(self, inputs):
        shape = tf.shape(inputs)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        out = tf.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode=self.mode)
        out.set_shape(self.compute_output_shape(inputs.shape))
        return out

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        for axis in (1, 2):
            if shape[axis] is not None:
                shape[axis] += (-shape[axis]) % self.multiple
        return tf.TensorShape(shape)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple, "mode": self.mode}


@lq_utils.register_keras_custom_object
class CropLike(tf.keras.layers.Layer):
    """Crops `inputs[0]` to the height and width of `inputs[1]` (top-left corner kept)."""

    def call(self, inputs):
        x, like = inputs
        shape = tf.shape(like)
        out = x[:, : shape[1], : shape[2]]
        out.set_shape(like.shape[:3].concatenate(x.shape[3:]))
        return out

    def compute_output_shape(self, input_shape):
        x, like = (tf.TensorShape(s) for s in input_shape)
        return like[:3].concatenate(x[3:])


class _NativeGroupedConvolution:
    """Runs grouped float32 convolutions with TensorFlow's own CPU kernel.

    Keras sends every grouped convolution through an XLA-compiled function
    because older CPU kernels lacked grouped support; on TensorFlow 2.15 the
    native float32 kernel handles groups forward and backward, and the XLA
    route costs 50x more per step on CPU for BiSRNet's 4-channel groups
    (measured: 0.25 s vs 0.005 s for one 112-channel 3x3 layer at 16x16,
    forward + backward). The native float64 backward pass still rejects groups,
    so other dtypes keep the Keras route.
    """

    def _jit_compiled_convolution_op(self, inputs, kernel):
        if self.compute_dtype == "float32":
            return self.convolution_op(inputs, kernel)
        return super()._jit_compiled_convolution_op(inputs, kernel)


@lq_utils.register_keras_custom_object
class QuantGroupConv2D(_NativeGroupedConvolution, lq.layers.QuantConv2D):
    """`larq.layers.QuantConv2D` with the native grouped float32 kernel (see above).

    Identical outputs, gradients, weights, config and larq summary rows; only
    the route to TensorFlow's grouped convolution differs.
    """


@lq_utils.register_keras_custom_object
class GroupConv2D(_NativeGroupedConvolution, tf.keras.layers.Conv2D):
    """`tf.keras.layers.Conv2D` with the native grouped float32 kernel (see above)."""

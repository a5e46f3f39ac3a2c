r"""Every small layer of the networks: the pieces around the binary convolutions.

Each piece that surrounds a binary convolution is its own small layer, so the
convolution itself stays a `larq.layers.QuantConv2D` that `larq.models.summary`
and larq-compute-engine can see.

| layer | formula | paper |
| --- | --- | --- |
| `SpectralRedistribution` | \(x k + b\) per channel | BiSRNet Eq. 2 |
| `LearnableBias` | \(x + b\) per channel | BBCU Eq. 2 (threshold \(b=-a\)) |
| `RPReLU` | \(\mathrm{PReLU}_\beta(x - \gamma) + \zeta\) per channel | BiSRNet Eq. 12, BBCU Eq. 4 |
| `ResidualAlignment` | \(k x\) (or \(x / k\) with `inverse=True`) | BBCU Sec. 3.1 |
| `FeatureNormalization` | \((x - \mu_{hw}) / \sqrt{\sigma^2_{hw} + \epsilon}\) per sample and channel | BTM |
| `ATISTEConv2D` | a `QuantConv2D` whose two ATISTE quantizers share one lambda | HS-BiNet A.1 |
| `Hardtanh` | \(\min(\max(x, -1), 1)\), gradient \(1_{|x| < 1}\) | PyTorch's `nn.Hardtanh` (IRNet, BNN) |
| `Scale` | \(a x\), a constant a | BTM's alpha |

Shape layers: `ChannelSlice`, `ChannelSplit`, `BilinearUpsample` (exact in float64),
`PadToMultiple`, `CropLike`, `PixelShuffle`, `RepeatChannels`, `Resize`
(bicubic as two matrix products), `HighPass` and `ShiftBack` (CASSI's
shift-back of a raw measurement). `QuantGroupConv2D` and `GroupConv2D` run
grouped float32 convolutions on TensorFlow's native CPU kernel.
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf
from larq import utils as lq_utils

from larq_hsi.nn import quantizers as hsi_quantizers

__all__ = [
    "ATISTEConv2D",
    "BilinearUpsample",
    "ChannelSlice",
    "ChannelSplit",
    "CropLike",
    "FeatureNormalization",
    "FlatQuantConv2D",
    "FlatQuantGroupConv2D",
    "GroupConv2D",
    "Hardtanh",
    "HighPass",
    "LearnableBias",
    "PadToMultiple",
    "PixelShuffle",
    "QuantGroupConv2D",
    "RPReLU",
    "RepeatChannels",
    "Resize",
    "ResidualAlignment",
    "Scale",
    "ShiftBack",
    "SpectralRedistribution",
    "alignment_factor",
    "repeat_channel_indices",
    "shift_back",
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
            # Always a fresh copy, assigned after the input quantizer: Keras-format loading
            # builds deserialized quantizers eagerly (a copy can still take the shared
            # lambda), and Keras lists a layer's weights in the order its sub-layers were
            # assigned, so a layer and its from_config copy (as an .h5 file is loaded)
            # must assign them alike.
            self.kernel_quantizer = type(self.kernel_quantizer).from_config(self.kernel_quantizer.get_config())
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
class ChannelSplit(tf.keras.layers.Layer):
    """Splits the last axis into `parts` equal, consecutive pieces (`tf.split`), returning a list.

    The same values as one `ChannelSlice` per piece, but its gradient is one
    concatenation, where separate slices each scatter their gradient into a
    zero tensor of the input's full size and then add those up. Splitting
    BiSRNet's modules this way cut its CPU training step from 4.1 s to 2.9 s
    (`benchmarks/bisrnet_train_step.py`).
    """

    def __init__(self, parts: int = 2, **kwargs):
        if int(parts) < 1:
            raise ValueError(f"ChannelSplit needs parts >= 1, got {parts}")
        self.parts = int(parts)
        super().__init__(**kwargs)

    def _piece(self, input_shape) -> int:
        channels = tf.TensorShape(input_shape)[-1]
        if channels is None or channels % self.parts:
            raise ValueError(
                f"ChannelSplit({self.parts}) needs a known channel count divisible by {self.parts}, "
                f"got input shape {input_shape}"
            )
        return int(channels) // self.parts

    def build(self, input_shape):
        self._piece(input_shape)
        super().build(input_shape)

    def call(self, inputs):
        return tf.split(inputs, self.parts, axis=-1)

    def compute_output_shape(self, input_shape):
        piece = tf.TensorShape(input_shape)[:-1].concatenate([self._piece(input_shape)])
        return [piece] * self.parts

    def get_config(self):
        return {**super().get_config(), "parts": self.parts}


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
    """Runs grouped convolutions with TensorFlow's own CPU kernel where it has one.

    Keras sends every grouped convolution through an XLA-compiled function
    because older CPU kernels lacked grouped support; on TensorFlow 2.15 the
    native float32 kernel handles groups forward and backward, and the XLA
    route costs 50x more per step on CPU for BiSRNet's 4-channel groups
    (measured: 0.25 s vs 0.005 s for one 112-channel 3x3 layer at 16x16,
    forward + backward). In other dtypes the native kernel handles the
    forward pass but rejects grouped gradients, so the forward pass runs
    natively (3.4x faster than XLA for a 112-channel float64 layer at
    660x660: 4.3 s vs 14.4 s) and only the gradient takes the XLA route.
    """

    def _jit_compiled_convolution_op(self, inputs, kernel):
        if self.compute_dtype == "float32":
            return self.convolution_op(inputs, kernel)
        return self._native_forward(inputs, kernel)

    def _native_forward(self, inputs, kernel):
        layer = self

        @tf.custom_gradient
        def convolve(x, w):
            def grad(dy):
                return layer._xla_gradient()(x, w, dy)

            return layer.convolution_op(x, w), grad

        return convolve(inputs, kernel)

    def _xla_gradient(self):
        """`(x, w, dy) -> (dx, dw)` of this layer's convolution, XLA-compiled once per layer."""
        if getattr(self, "_xla_gradient_fn", None) is None:
            convolution = self.convolution_op

            @tf.function(jit_compile=True)
            def gradient(x, w, dy):
                with tf.GradientTape() as tape:
                    tape.watch([x, w])
                    y = convolution(x, w)
                return tape.gradient(y, [x, w], output_gradients=dy)

            object.__setattr__(self, "_xla_gradient_fn", gradient)
        return self._xla_gradient_fn


@lq_utils.register_keras_custom_object
class QuantGroupConv2D(_NativeGroupedConvolution, lq.layers.QuantConv2D):
    """`larq.layers.QuantConv2D` with the native grouped float32 kernel (see above).

    Identical outputs, gradients, weights, config and larq summary rows; only
    the route to TensorFlow's grouped convolution differs.
    """


@lq_utils.register_keras_custom_object
class GroupConv2D(_NativeGroupedConvolution, tf.keras.layers.Conv2D):
    """`tf.keras.layers.Conv2D` with the native grouped float32 kernel (see above)."""


@lq_utils.register_keras_custom_object
class PixelShuffle(tf.keras.layers.Layer):
    r"""Sub-pixel upscaling by `factor` r: `tf.nn.depth_to_space` (channels last).

    \( y[h r + i,\ w r + j,\ c] = x[h, w, (i r + j) C + c] \) for an input with
    \(r^2 C\) channels. (PyTorch's `nn.PixelShuffle` reads channel
    \(c r^2 + i r + j\) instead; the two differ by a fixed permutation of the
    preceding conv's output channels, so trained networks are equivalent.)
    """

    def __init__(self, factor: int, **kwargs):
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"PixelShuffle: factor must be an integer >= 1, got {factor!r}")
        self.factor = factor
        super().__init__(**kwargs)

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        r = self.factor
        if shape[-1] is not None and shape[-1] % (r * r):
            raise ValueError(
                f"PixelShuffle({r}): input channels must be a multiple of {r * r}, got {shape[-1]}"
            )
        for axis in (1, 2):
            shape[axis] = None if shape[axis] is None else shape[axis] * r
        shape[-1] = None if shape[-1] is None else shape[-1] // (r * r)
        return tf.TensorShape(shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def repeat_channel_indices(in_channels: int, channels: int, mode: str = "tile") -> list[int]:
    """Which input channel feeds each of the `channels` outputs of `RepeatChannels`.

    `"tile"`: output j reads input j mod c (the input repeated as a whole).
    `"interleave"`: each input channel repeated m = channels // c times in place
    (output j < c m reads input j // m), then the first channels mod c inputs
    once more: the released BBCU-H repeats 3 -> 64 as 3 x 21 + 1.
    """
    if in_channels < 1 or channels < 1:
        raise ValueError(
            f"RepeatChannels: channel counts must be positive, got {in_channels} -> {channels}"
        )
    if mode == "tile":
        return [j % in_channels for j in range(channels)]
    if mode == "interleave":
        m = channels // in_channels
        head = [j // m for j in range(in_channels * m)] if m else []
        return head + list(range(channels - len(head)))
    raise ValueError(f"RepeatChannels: mode must be 'tile' or 'interleave', got {mode!r}")


@lq_utils.register_keras_custom_object
class RepeatChannels(tf.keras.layers.Layer):
    """Repeats the input's channels to `channels` channels (see `repeat_channel_indices`).

    The residual of BBCU-H (the LQ image repeated to C channels, `"interleave"`)
    and of BBCU-U (the input repeated r^2 times, `"tile"`, which the pixel
    shuffle turns into nearest-neighbour upscaling).
    """

    def __init__(self, channels: int, mode: str = "tile", **kwargs):
        repeat_channel_indices(1, channels, mode)  # validates both arguments
        self.channels = int(channels)
        self.mode = mode
        super().__init__(**kwargs)

    def build(self, input_shape):
        in_channels = tf.TensorShape(input_shape)[-1]
        if in_channels is None:
            raise ValueError(f"RepeatChannels needs a known channel dimension, got {input_shape}")
        self._indices = repeat_channel_indices(int(in_channels), self.channels, self.mode)
        super().build(input_shape)

    def call(self, inputs):
        return tf.gather(inputs, self._indices, axis=-1)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.channels])

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "mode": self.mode}


@lq_utils.register_keras_custom_object
class BilinearUpsample(tf.keras.layers.Layer):
    r"""Bilinear upscaling by an integer `factor` r, half-pixel centres, exact in any dtype.

    PyTorch's `interpolate(scale_factor=r, mode="bilinear", align_corners=False)`
    (the global skip of the released SRResNet/BBCU code): along each spatial
    axis output \(o = i r + p\) samples the input at \(s = i + d_p\),
    \(d_p = (p + \tfrac12)/r - \tfrac12\):
    \[ y_{ir+p} = (1 - |d_p|)\,x_i + |d_p|\,x_{i + \mathrm{sign}(d_p)}, \]
    the edge sample repeated outside the image. For r = 2,
    \(y_{2j} = \tfrac34 x_j + \tfrac14 x_{j-1}\), \(y_{2j+1} = \tfrac34 x_j + \tfrac14 x_{j+1}\).
    `tf.image.resize` computes in float32 whatever it is given, which breaks
    float64 parity tests, hence this layer.
    """

    def __init__(self, factor: int, **kwargs):
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"BilinearUpsample: factor must be an integer >= 1, got {factor!r}")
        self.factor = factor
        super().__init__(**kwargs)

    def _along(self, x, axis):
        r = self.factor
        n = tf.shape(x)[axis]
        prev = tf.concat([tf.gather(x, [0], axis=axis), tf.gather(x, tf.range(n - 1), axis=axis)], axis)
        nxt = tf.concat([tf.gather(x, tf.range(1, n), axis=axis), tf.gather(x, [n - 1], axis=axis)], axis)
        phases = []
        for p in range(r):
            d = (p + 0.5) / r - 0.5
            if d < 0:
                phases.append((1.0 + d) * x + (-d) * prev)
            elif d > 0:
                phases.append((1.0 - d) * x + d * nxt)
            else:
                phases.append(x)
        stacked = tf.stack(phases, axis=axis + 1)
        shape = tf.concat([tf.shape(x)[:axis], [r * n], tf.shape(x)[axis + 1 :]], 0)
        out = tf.reshape(stacked, shape)
        static = x.shape.as_list()
        if static[axis] is not None:
            static[axis] *= r
        out.set_shape(static)
        return out

    def call(self, inputs):
        if self.factor == 1:
            return inputs
        return self._along(self._along(inputs, 1), 2)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        for axis in (1, 2):
            shape[axis] = None if shape[axis] is None else self.factor * shape[axis]
        return tf.TensorShape(shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@lq_utils.register_keras_custom_object
class Resize(tf.keras.layers.Layer):
    r"""Upscales height and width by an integer `ratio` with `tf.image.resize` (`method`, half-pixel centres).

    Bicubic (Keys, a = -0.5) by default, the usual interpolation of the `lms`
    input of pan-sharpening data sets. The result is cast to the layer's dtype
    (`tf.image.resize` computes non-nearest methods in float32).

    Resizing without antialiasing is linear and separable: with a static
    input size the layer applies it as \(Y = A_h X A_w^\top\) per channel, with
    the interpolation matrices \(A_h, A_w\) read off `tf.image.resize` of an
    identity when the layer is built. The values are `tf.image.resize`'s to
    float rounding, and the graph is two matrix products, which TensorFlow
    Lite runs (it has no bicubic resize op). Inputs of unknown size go through
    `tf.image.resize` itself.
    """

    def __init__(self, ratio: int = 4, method: str = "bicubic", **kwargs):
        if not isinstance(ratio, int) or ratio < 1:
            raise ValueError(f"Resize: ratio must be an integer >= 1, got {ratio!r}")
        self.ratio = ratio
        self.method = str(method)
        super().__init__(**kwargs)

    def _matrix(self, size: int) -> np.ndarray:
        """(size * ratio, size) matrix of the resize along one axis."""
        with tf.init_scope():  # build may run while a graph is traced; this needs values
            identity = tf.eye(size, batch_shape=[1])[..., None]  # (1, size, size, 1)
            resized = tf.image.resize(identity, [size * self.ratio, size], method=self.method)
            return resized.numpy()[0, :, :, 0]

    def build(self, input_shape):
        height, width = tf.TensorShape(input_shape)[1:3]
        self._matrices = None
        if height is not None and width is not None:
            self._matrices = (self._matrix(int(height)), self._matrix(int(width)))
        super().build(input_shape)

    def call(self, inputs):
        if self._matrices is not None and inputs.shape[1:3] == (
                self._matrices[0].shape[1], self._matrices[1].shape[1]):
            rows, cols = (tf.constant(m, self.compute_dtype) for m in self._matrices)
            out = tf.einsum("ih,bhwc->biwc", rows, tf.cast(inputs, self.compute_dtype))
            out = tf.einsum("jw,biwc->bijc", cols, out)
        else:
            shape = tf.shape(inputs)
            out = tf.image.resize(inputs, [shape[1] * self.ratio, shape[2] * self.ratio],
                                  method=self.method)
        out = tf.cast(out, self.compute_dtype)
        out.set_shape(self.compute_output_shape(inputs.shape))
        return out

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        for axis in (1, 2):
            shape[axis] = None if shape[axis] is None else shape[axis] * self.ratio
        return tf.TensorShape(shape)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "method": self.method}


@lq_utils.register_keras_custom_object
class HighPass(tf.keras.layers.Layer):
    r"""Local detail \(x - \mathrm{mean}_{k\times k}(x)\), per channel.

    The mean is a stride-1 `k x k` box average with 'SAME' padding that averages
    only the pixels inside the image (`tf.nn.avg_pool`), so a constant image
    gives 0 everywhere (up to rounding). Used on the PAN image before the binary edge
    injector: its sign is the pattern of local contrast.
    """

    def __init__(self, size: int = 3, **kwargs):
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(f"HighPass: size must be an odd integer >= 1, got {size!r}")
        self.size = size
        super().__init__(**kwargs)

    def call(self, inputs):
        return inputs - tf.nn.avg_pool2d(inputs, self.size, 1, "SAME")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@lq_utils.register_keras_custom_object
class FeatureNormalization(tf.keras.layers.Layer):
    r"""BTM's feature normalization: per sample and channel, over the spatial axes.

    \[ \mathrm{FN}(x)_{n,h,w,c} = \frac{x_{n,h,w,c} - \mu_{n,c}}{\sqrt{\sigma^2_{n,c} + \epsilon}}, \]
    \(\mu, \sigma^2\) the mean and variance over height and width. No
    parameters, no running statistics, identical in training and inference and
    independent of the other samples of the batch (what BTM drops BatchNorm for).
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        if not epsilon > 0:
            raise ValueError(f"FeatureNormalization: epsilon must be > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        super().__init__(**kwargs)

    def call(self, inputs):
        mean, var = tf.nn.moments(inputs, axes=[1, 2], keepdims=True)
        return (inputs - mean) * tf.math.rsqrt(var + tf.cast(self.epsilon, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def shift_back(measurement, bands: int = 28, step: int = 2, scale: float | None = None):
    r"""Windows of a measurement `([B,] H, W + step (bands - 1))` -> `([B,] H, W, bands)`.

    \(H(x, y, n) = Y(x, y + dn)\) (BiSRNet Eq. 1): band n is
    `measurement[..., step n : step n + W]`. With `scale`, the result is
    multiplied by it (for the reference's `2 / bands` prefer `network_input`,
    which divides first, as the reference does, and is bit-exact).
    """
    measurement = tf.convert_to_tensor(measurement)
    if measurement.shape.rank not in (2, 3):
        raise ValueError(
            "shift_back expects a measurement of shape (batch, height, width) or (height, width), "
            f"got {measurement.shape}"
        )
    width = measurement.shape[-1]
    if width is not None:
        cube_width = width - step * (bands - 1)
        if cube_width <= 0:
            raise ValueError(
                f"a measurement {width} wide is too narrow for {bands} bands at step {step}: "
                f"expected width W + {step * (bands - 1)} with W > 0"
            )
    else:
        cube_width = tf.shape(measurement)[-1] - step * (bands - 1)
    windows = [measurement[..., step * n : step * n + cube_width] for n in range(bands)]
    cube = tf.stack(windows, axis=-1)
    if scale is not None:
        cube = cube * tf.cast(scale, cube.dtype)
    return cube


@lq_utils.register_keras_custom_object
class ShiftBack(tf.keras.layers.Layer):
    """`shift_back` as a layer: a raw measurement in, the N-band network input out."""

    def __init__(self, bands: int = 28, step: int = 2, scale: float | None = None, **kwargs):
        if bands < 1 or step < 0:
            raise ValueError(f"ShiftBack needs bands >= 1 and step >= 0, got bands={bands}, step={step}")
        self.bands = int(bands)
        self.step = int(step)
        self.scale = scale
        super().__init__(**kwargs)

    def call(self, inputs):
        return shift_back(inputs, self.bands, self.step, self.scale)

    def get_config(self):
        return {**super().get_config(), "bands": self.bands, "step": self.step, "scale": self.scale}


@lq_utils.register_keras_custom_object
class Hardtanh(tf.keras.layers.Layer):
    r"""PyTorch's `nn.Hardtanh()`: \(y = \min(\max(x, -1), 1)\) (the reference IRNet and BNN).

    Backward as PyTorch's: \(\partial y/\partial x = 1_{-1 < x < 1}\), 0 at the
    endpoints themselves (TensorFlow's `clip_by_value` passes them).
    """

    def call(self, inputs):
        @tf.custom_gradient
        def _hardtanh(x):
            def grad(dy):
                return dy * tf.cast(tf.abs(x) < 1.0, x.dtype)

            return tf.clip_by_value(x, -1.0, 1.0), grad

        return _hardtanh(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@lq_utils.register_keras_custom_object
class Scale(tf.keras.layers.Layer):
    r"""Multiplies by a constant: \(y = a x\), \(\partial y/\partial x = a\) (BTM's alpha = 0.2)."""

    def __init__(self, factor: float, **kwargs):
        self.factor = float(factor)
        super().__init__(**kwargs)

    def call(self, inputs):
        # tf.constant, not tf.cast: a Python float given to tf.cast is rounded to float32 first.
        return inputs * tf.constant(self.factor, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class _FlatReferenceKernel:
    """Marks a conv whose reference weight is stored flat, `(out * in/groups * kh * kw, 1)`.

    Bi-Real's `HardBinaryConv` holds its kernel as one column read in C order as
    `(out, in/groups, kh, kw)`; `larq_hsi.models.pretrained` converts it. The
    layer computes exactly as its base class.
    """

    reference_kernel_layout = "flat"


@lq_utils.register_keras_custom_object
class FlatQuantConv2D(_FlatReferenceKernel, lq.layers.QuantConv2D):
    """`larq.layers.QuantConv2D` whose reference kernel is stored flat (Bi-Real)."""


@lq_utils.register_keras_custom_object
class FlatQuantGroupConv2D(_FlatReferenceKernel, QuantGroupConv2D):
    """`QuantGroupConv2D` whose reference kernel is stored flat (Bi-Real)."""

r"""HS-BiNet: the binarized hyperspectral pan-sharpening network, with swappable estimators.

Inputs: the low-resolution hyperspectral image `lrhs` \((B, h, w, \text{bands})\) and
the panchromatic image `pan` \((B, s h, s w, 1)\); output: the high-resolution
hyperspectral image \((B, s h, s w, \text{bands})\), \(s\) = `ratio`. The structure
(paper Sec. 3.1, Fig. 3), with \(C\) = `hidden` and every "binary conv" a
top-level `larq.layers.QuantConv2D` (or its subclass `ATISTEConv2D`):

    up   = bicubic_x_s(lrhs)                                        # upsample.interp
    F0   = up + DeformConv3x3(up; offsets = Conv3x3(up))             # upsample.*   (full precision)
    h    = Conv3x3(F0) -> C                                          # head         (full precision)
    m    = h + BinConv1x1(concat[BinConv3x3(h), BinConv5x5(h), BinConv7x7(h)])   # msfe.*
    m    = m + BN(BinConv3x3(BN(BinConv3x3(m))))   (num_blocks times) # msfe.blocks.i.*
    e    = BinConv3x3(pan - mean3x3(pan)) -> C                       # edge.*
    f    = BinConv3x3(concat[m, e]) -> C                             # fusion.*
    d    = Conv1x1(BinConv3x3(f)) -> bands                           # decoder.conv / decoder.project
    d    = d * sigmoid(BinConv1x1(GAP(d)))                           # decoder.attention.*
    out  = d + F0                                                    # residual

Full precision vs binary. The text binarizes the four components (MSFE,
edge injector, fusion, decoder) and names the binary layers: the MSFE's
3x3/5x5/7x7 and 1x1 convs, the residual blocks' 3x3 convs, the edge injector,
the fusion conv, the decoder's 3x3 conv and the attention's 1x1 conv. Where it
is silent these choices are made here:

- the deformable upsampler (offset conv and deformable conv) stays full
  precision: it is not one of the four binary components, and its offsets are
  sub-pixel positions;
- the decoder's 1x1 projection to the band count stays full precision (the
  text calls only its 3x3 and the attention conv "binarized"; the last layer
  is full precision in every BNN baseline compared);
- a full-precision 3x3 `head` conv maps \(F_0\)'s bands to \(C\) before the
  MSFE: the MSFE's residual needs \(C\) channels on both sides, and the sign of
  a reflectance cube (all \(\ge 0\)) is constantly +1, so a binary first layer
  would see no signal;
- the edge injector binarizes the PAN image's local detail
  \(P - \mathrm{mean}_{3\times 3}(P)\) (layer `edge.highpass`), for the same
  reason: \(\mathrm{sign}(P) = +1\) everywhere;
- the deformable conv's kernel and the offset conv start at zero, so
  \(F_0\) starts as the bicubic upsampling (the offsets start learning once the
  kernel has moved off zero), and so does the decoder's projection, so the
  whole network starts as the bicubic upsampling and learns the residual
  (with a random projection the binary features' large initial values put
  the first outputs far off, about 8 dB PSNR on the synthetic data);
- the fusion conv is 3x3; the edge injector acts once (before the fusion unit);
- no activation functions besides the sign (and the estimator's own, below).

Estimators (`estimator=`, Table 4's variants; only the binary convs change):

| estimator | activations | weights | around the conv | init |
| --- | --- | --- | --- | --- |
| `"atiste"` | ATISTE, per-input-channel alpha | mean\|W\| sign(W), ATISTE gradient, per-output-channel alpha, one lambda per layer (`ATISTEConv2D`) | - | Kaiming |
| `"bnn"` (Hubara et al. 2016) | sign, clipped STE (`ste_sign`) | sign(W) unscaled, clipped STE | - | Kaiming |
| `"reactnet"` (Liu et al. 2020) | learnable threshold (`LearnableBias`) + sign with ApproxSign gradient | mean\|W\| sign(W), clipped STE (`scaled_sign`) | RPReLU after the conv (after its BN where there is one) | Kaiming |
| `"btm"` (Jiang et al. 2021) | sign with ApproxSign gradient | mean\|W\| sign(W) with ApproxSign gradient (`ScaledApproxSign`, their "higher-order estimator" for weights) | PReLU after the conv; no BatchNorm (BTM's point) | Xavier uniform |

BNN, ReActNet and BTM keep the latent weights in [-1, 1] (`weight_clip`):
their weight gradients vanish outside it, so a weight that left it would never
come back (BNN's published training clips likewise). ATISTE needs no clip: its
gradient never falls below lambda.

BTM as implemented is the published binary training mechanism without its
distillation and multi-receptive-field block: Xavier-uniform weights, PReLU
instead of BatchNorm, XNOR-style scaled weights and higher-order sign
estimators. Its "data initialisation" (normalise the input, add the mean back)
is what the global residual already does here.

Kaiming initialisation (appendix A.2) for the binary layers is PyTorch's
`kaiming_normal_` (fan-in, gain \(\sqrt 2\), untruncated):
\(W \sim \mathcal N(0, 2/\text{fan}_{in})\). With the weight scaling of
Appendix A.1, the forward kernel \(\overline{|W|}_c\,\mathrm{sign}(W)\) then has
per-channel magnitude \(\sqrt{2/\pi}\sqrt{2/\text{fan}_{in}}\) (the mean of a
half-normal), i.e. the binary conv starts with the output scale of a
Kaiming-initialised real conv instead of the \(\sqrt{\text{fan}_{in}}\) growth
of unscaled \(\pm 1\) weights.
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf
from larq import utils as lq_utils
from larq.math import sign as lq_sign
from larq.quantizers import Quantizer

from larq_hsi import layers as L
from larq_hsi import quantizers as Q
from larq_hsi.deformable import DeformableConv2D

__all__ = [
    "ESTIMATORS",
    "HSBiNet",
    "HighPass",
    "Resize",
    "ScaledApproxSign",
    "binary_conv",
    "kaiming_normal",
]

ESTIMATORS = ("atiste", "bnn", "reactnet", "btm")

_DEFAULT_INIT = {"atiste": "kaiming", "bnn": "kaiming", "reactnet": "kaiming", "btm": "glorot_uniform"}


def kaiming_normal(seed=None) -> tf.keras.initializers.Initializer:
    r"""PyTorch's `kaiming_normal_` (fan-in, ReLU gain): \(W \sim \mathcal N(0, 2/\text{fan}_{in})\), untruncated."""
    return tf.keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=seed
    )


def _initializer(spec, seed=None):
    if spec == "kaiming":
        return kaiming_normal(seed)
    if spec in ("xavier", "xavier_uniform"):
        spec = "glorot_uniform"
    try:
        init = tf.keras.initializers.get(spec)
    except ValueError:
        raise ValueError(
            f"kernel_initializer: expected 'kaiming', 'xavier', a Keras initializer name or "
            f"instance, got {spec!r}"
        ) from None
    if seed is not None and hasattr(init, "seed") and isinstance(spec, str):
        init = type(init).from_config({**init.get_config(), "seed": seed})
    return init


@lq_utils.register_alias("scaled_approx_sign")
@lq_utils.register_keras_custom_object
class ScaledApproxSign(Quantizer):
    r"""Weights binarized as \(\overline{|W|}_c\,\mathrm{sign}(W)\) with the ApproxSign gradient.

    Forward: \(q(W) = \overline{|W|}_c\,\mathrm{sign}(W)\), the mean of \(|W|\)
    per output channel (the kernel's last axis), a constant in the backward pass.
    Backward (Bi-Real's piecewise-quadratic estimator, used for weights by BTM):
    \[ \frac{\partial q}{\partial W} = \begin{cases} 2 - 2|W| & |W| \le 1 \\ 0 & \text{otherwise.} \end{cases} \]
    """

    precision = 1

    def call(self, inputs):
        axes = list(range(inputs.shape.rank - 1))
        scale = tf.stop_gradient(tf.reduce_mean(tf.abs(inputs), axis=axes))

        @tf.custom_gradient
        def _q(w):
            def grad(dy):
                return dy * tf.where(tf.abs(w) <= 1.0, 2.0 - 2.0 * tf.abs(w), tf.zeros_like(w))

            return scale * lq_sign(w), grad

        return super().call(_q(inputs))


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


def _atiste_options(atiste):
    options = {"alpha": 1.0, "lam": 0.1, "alpha_trainable": True, "lambda_trainable": True}
    if atiste is not None:
        unknown = set(atiste) - set(options)
        if unknown:
            raise ValueError(f"atiste: unknown option(s) {sorted(unknown)}, expected some of {sorted(options)}")
        options.update(atiste)
    return options


def binary_conv(
    x,
    name: str,
    filters: int,
    kernel_size: int,
    estimator: str = "atiste",
    norm: bool = False,
    kernel_initializer=None,
    atiste: dict | None = None,
    seed: int | None = None,
    dtype=None,
):
    r"""One binary convolution with the chosen estimator (stride 1, 'same' zero padding, no bias).

    Layers added (only those the estimator uses): `{name}.bias`
    (`LearnableBias`, ReActNet's threshold), `{name}.binary_conv` (the
    `QuantConv2D`; `ATISTEConv2D` for ATISTE), `{name}.norm` (BatchNorm,
    momentum 0.9 / eps 1e-5 as PyTorch's defaults, with `norm=True` and not for
    BTM), `{name}.act` (RPReLU for ReActNet, PReLU for BTM). See the module
    docstring for the estimators. `atiste`: options of both ATISTE quantizers
    (`alpha`, `lam`, `alpha_trainable`, `lambda_trainable`); fixed
    (non-trainable) parameters can be scheduled by
    `larq_hsi.callbacks.ATISTESchedule`. `kernel_initializer`: "kaiming",
    "xavier", or any Keras initializer; `None` is the estimator's default.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    init = _initializer(_DEFAULT_INIT[estimator] if kernel_initializer is None else kernel_initializer, seed)
    common = dict(padding="same", use_bias=False, kernel_initializer=init, name=f"{name}.binary_conv", dtype=dtype)
    h = x
    if estimator == "atiste":
        opts = _atiste_options(atiste)
        conv = L.ATISTEConv2D(
            filters,
            kernel_size,
            input_quantizer=Q.ATISTE(per_channel=True, dtype=dtype, **opts),
            kernel_quantizer=Q.ScaledATISTE(per_channel=True, dtype=dtype, **opts),
            **common,
        )
    elif estimator == "bnn":
        conv = lq.layers.QuantConv2D(
            filters,
            kernel_size,
            input_quantizer=lq.quantizers.SteSign(clip_value=1.0, dtype=dtype),
            kernel_quantizer=lq.quantizers.SteSign(clip_value=1.0, dtype=dtype),
            kernel_constraint="weight_clip",
            **common,
        )
    elif estimator == "reactnet":
        h = L.LearnableBias(name=f"{name}.bias", dtype=dtype)(h)
        conv = lq.layers.QuantConv2D(
            filters,
            kernel_size,
            input_quantizer=lq.quantizers.ApproxSign(dtype=dtype),
            kernel_quantizer=Q.ScaledSign(dtype=dtype),
            kernel_constraint="weight_clip",
            **common,
        )
    else:  # btm
        conv = lq.layers.QuantConv2D(
            filters,
            kernel_size,
            input_quantizer=lq.quantizers.ApproxSign(dtype=dtype),
            kernel_quantizer=ScaledApproxSign(dtype=dtype),
            kernel_constraint="weight_clip",
            **common,
        )
    h = conv(h)
    if norm and estimator != "btm":
        h = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}.norm", dtype=dtype)(h)
    if estimator == "reactnet":
        h = L.RPReLU(name=f"{name}.act", dtype=dtype)(h)
    elif estimator == "btm":
        h = tf.keras.layers.PReLU(
            alpha_initializer=tf.keras.initializers.Constant(0.25), shared_axes=[1, 2],
            name=f"{name}.act", dtype=dtype,
        )(h)
    return h


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def HSBiNet(
    bands: int,
    ratio: int = 4,
    hidden: int = 64,
    num_blocks: int = 4,
    input_size=(16, 16),
    estimator: str = "atiste",
    kernel_initializer=None,
    atiste: dict | None = None,
    upsample: str = "bicubic",
    seed: int | None = None,
    dtype="float32",
    name: str = "hsbinet",
) -> tf.keras.Model:
    """HS-BiNet (see the module docstring for the structure and the estimators).

    # Arguments
        bands: spectral bands of the HS input and output.
        ratio: spatial ratio s between PAN and HS (4 in the paper; any integer >= 1).
        hidden: feature width C (the paper does not give it; 64 by default).
        num_blocks: binary residual blocks after the multi-scale extractor (the
            paper gives no count; 4 by default). With `bands=191` (WDC), C = 64
            and 4 blocks the model has 1.28 M parameters and 5.08 G MACs at a
            64x64 PAN patch (3.11 G of them binary); Table 4 reports 1.60 M
            parameters and 5.6 G FLOPs without saying how it counts.
        input_size: `(h, w)` of the low-resolution HS input (16x16, the paper's
            training patches, so summaries count MACs); `None` builds a model for
            any size.
        estimator: "atiste" (default), "bnn", "reactnet" or "btm" (Table 4).
        kernel_initializer: of the binary convs; `None` is Kaiming for all but
            BTM (Xavier uniform, its published init). Full-precision convs use
            the Keras default (Glorot uniform), except the deformable conv, its
            offsets and the decoder's projection (zeros: the network starts as
            the bicubic upsampling).
        atiste: ATISTE quantizer options (`alpha`, `lam`, `alpha_trainable`,
            `lambda_trainable`; defaults 1.0, 0.1, True, True).
        upsample: `tf.image.resize` method of the upsampler's interpolation.
        seed: seed of the binary convs' initializers (each layer gets its own
            derived seed), for reproducible variants.
        dtype: every layer's dtype.
    """
    bands = _positive_int(bands, "bands")
    ratio = _positive_int(ratio, "ratio")
    hidden = _positive_int(hidden, "hidden")
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 0:
        raise ValueError(f"num_blocks must be an integer >= 0, got {num_blocks!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if input_size is None:
        height = width = None
    else:
        if len(tuple(input_size)) != 2 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in input_size
        ):
            raise ValueError(
                f"input_size must be (height, width) of the low-resolution HS input with "
                f"positive integer sizes, or None, got {input_size!r}"
            )
        height, width = input_size
    dtype = tf.as_dtype(dtype).name
    seeds = iter(range(10**6)) if seed is None else iter(range(seed * 1000, seed * 1000 + 10**6))

    def conv(x, layer_name, filters, kernel_size, norm=False):
        return binary_conv(
            x, layer_name, filters, kernel_size, estimator=estimator, norm=norm,
            kernel_initializer=kernel_initializer, atiste=atiste,
            seed=None if seed is None else next(seeds), dtype=dtype,
        )

    scale = lambda n: None if n is None else n * ratio  # noqa: E731
    lrhs = tf.keras.Input((height, width, bands), name="lrhs", dtype=dtype)
    pan = tf.keras.Input((scale(height), scale(width), 1), name="pan", dtype=dtype)

    # Deformable-convolution upsampler (full precision).
    up = Resize(ratio, upsample, name="upsample.interp", dtype=dtype)(lrhs)
    offsets = tf.keras.layers.Conv2D(
        18, 3, padding="same", kernel_initializer="zeros", name="upsample.offsets", dtype=dtype
    )(up)
    deformed = DeformableConv2D(
        bands, 3, kernel_initializer="zeros", name="upsample.deform_conv", dtype=dtype
    )([up, offsets])
    f0 = tf.keras.layers.Add(name="upsample.add", dtype=dtype)([up, deformed])

    # Full-precision head, then the multi-scale feature extractor.
    h = tf.keras.layers.Conv2D(hidden, 3, padding="same", name="head", dtype=dtype)(f0)
    branches = [conv(h, f"msfe.conv{k}", hidden, k) for k in (3, 5, 7)]
    cat = tf.keras.layers.Concatenate(name="msfe.concat", dtype=dtype)(branches)
    m = conv(cat, "msfe.reduce", hidden, 1)
    m = tf.keras.layers.Add(name="msfe.add", dtype=dtype)([m, h])
    for i in range(num_blocks):
        r = conv(m, f"msfe.blocks.{i}.conv1", hidden, 3, norm=True)
        r = conv(r, f"msfe.blocks.{i}.conv2", hidden, 3, norm=True)
        m = tf.keras.layers.Add(name=f"msfe.blocks.{i}.add", dtype=dtype)([m, r])

    # Edge injector and fusion.
    detail = HighPass(3, name="edge.highpass", dtype=dtype)(pan)
    e = conv(detail, "edge", hidden, 3)
    f = tf.keras.layers.Concatenate(name="fusion.concat", dtype=dtype)([m, e])
    f = conv(f, "fusion", hidden, 3)

    # Decoder with channel attention, global residual.
    d = conv(f, "decoder.conv", hidden, 3)
    d = tf.keras.layers.Conv2D(bands, 1, kernel_initializer="zeros", name="decoder.project", dtype=dtype)(d)
    a = tf.keras.layers.GlobalAveragePooling2D(keepdims=True, name="decoder.attention.pool", dtype=dtype)(d)
    a = conv(a, "decoder.attention", bands, 1)
    a = tf.keras.layers.Activation("sigmoid", name="decoder.attention.sigmoid", dtype=dtype)(a)
    d = tf.keras.layers.Multiply(name="decoder.attention.scale", dtype=dtype)([d, a])
    out = tf.keras.layers.Add(name="residual", dtype=dtype)([d, f0])
    return tf.keras.Model([lrhs, pan], out, name=name)

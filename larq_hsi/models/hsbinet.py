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

Binary units (`unit=`, Table 4's estimators; only the binary convs change):

| unit | activations | weights | around the conv | init |
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

import tensorflow as tf

from larq_hsi.checks import check_input_size
from larq_hsi.nn import layers as L
from larq_hsi.nn import units as U
from larq_hsi.nn.deformable import DeformableConv2D
from larq_hsi.nn.dtype import default_dtype

__all__ = ["HSBiNet"]


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def HSBiNet(
    bands: int,
    *,
    ratio: int = 4,
    hidden: int = 64,
    num_blocks: int = 4,
    input_size=(16, 16),
    unit: str = "atiste",
    kernel_initializer=None,
    atiste: dict | None = None,
    upsample: str = "bicubic",
    seed: int | None = None,
    dtype="float32",
    name: str = "hsbinet",
) -> tf.keras.Model:
    """HS-BiNet (see the module docstring for the structure and the units).

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
        unit: the binary conv unit, one of `larq_hsi.nn.units.HSBINET_UNITS`:
            "atiste" (default), "bnn", "reactnet" or "btm" (Table 4).
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
    if unit not in U.HSBINET_UNITS:
        raise ValueError(f"unit must be one of {U.HSBINET_UNITS}, got {unit!r}")
    size = check_input_size(input_size, "input_size (of the low-resolution HS input)")
    height, width = size if size is not None else (None, None)
    seeds = iter(range(10**6)) if seed is None else iter(range(seed * 1000, seed * 1000 + 10**6))
    with default_dtype(dtype):
        return _build(bands, ratio, hidden, num_blocks, height, width, unit, kernel_initializer,
                      atiste, upsample, seed, seeds, name)


def _build(bands, ratio, hidden, num_blocks, height, width, unit, kernel_initializer, atiste,
           upsample, seed, seeds, name):
    def conv(x, layer_name, filters, kernel_size, norm=False):
        return U.hsbinet_conv(
            x, layer_name, filters, kernel_size, unit=unit, norm=norm,
            kernel_initializer=kernel_initializer, atiste=atiste,
            seed=None if seed is None else next(seeds),
        )

    scale = lambda n: None if n is None else n * ratio  # noqa: E731
    lrhs = tf.keras.Input((height, width, bands), name="lrhs")
    pan = tf.keras.Input((scale(height), scale(width), 1), name="pan")

    # Deformable-convolution upsampler (full precision).
    up = L.Resize(ratio, upsample, name="upsample.interp")(lrhs)
    offsets = tf.keras.layers.Conv2D(18, 3, padding="same", kernel_initializer="zeros",
                                     name="upsample.offsets")(up)
    deformed = DeformableConv2D(bands, 3, kernel_initializer="zeros", name="upsample.deform_conv")([up, offsets])
    f0 = tf.keras.layers.Add(name="upsample.add")([up, deformed])

    # Full-precision head, then the multi-scale feature extractor.
    h = tf.keras.layers.Conv2D(hidden, 3, padding="same", name="head")(f0)
    branches = [conv(h, f"msfe.conv{k}", hidden, k) for k in (3, 5, 7)]
    cat = tf.keras.layers.Concatenate(name="msfe.concat")(branches)
    m = conv(cat, "msfe.reduce", hidden, 1)
    m = tf.keras.layers.Add(name="msfe.add")([m, h])
    for i in range(num_blocks):
        r = conv(m, f"msfe.blocks.{i}.conv1", hidden, 3, norm=True)
        r = conv(r, f"msfe.blocks.{i}.conv2", hidden, 3, norm=True)
        m = tf.keras.layers.Add(name=f"msfe.blocks.{i}.add")([m, r])

    # Edge injector and fusion.
    detail = L.HighPass(3, name="edge.highpass")(pan)
    e = conv(detail, "edge", hidden, 3)
    f = tf.keras.layers.Concatenate(name="fusion.concat")([m, e])
    f = conv(f, "fusion", hidden, 3)

    # Decoder with channel attention, global residual.
    d = conv(f, "decoder.conv", hidden, 3)
    d = tf.keras.layers.Conv2D(bands, 1, kernel_initializer="zeros", name="decoder.project")(d)
    a = tf.keras.layers.GlobalAveragePooling2D(keepdims=True, name="decoder.attention.pool")(d)
    a = conv(a, "decoder.attention", bands, 1)
    a = tf.keras.layers.Activation("sigmoid", name="decoder.attention.sigmoid")(a)
    d = tf.keras.layers.Multiply(name="decoder.attention.scale")([d, a])
    out = tf.keras.layers.Add(name="residual")([d, f0])
    return tf.keras.Model([lrhs, pan], out, name=name)

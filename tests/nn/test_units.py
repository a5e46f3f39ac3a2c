"""BBCU units (V1-V4, -H, -U, -T) against NumPy transcriptions of BBCU Eq. 1-6 and Fig. 2-3."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as Q
from larq_hsi.nn import units as U
from larq_hsi.nn.dtype import default_dtype
from tests.nn.test_blocks import np_bilinear2x  # the closed form of bilinear x2

F64 = "float64"


# ----------------------------------------------------------------------------- NumPy transcriptions


def np_sign(x):
    return np.where(x >= 0, 1.0, -1.0)  # larq's sign: 0 -> +1


def np_conv_same(x, w):
    """'same' zero-padded stride-1 conv; x (N,H,W,C), w (kh,kw,C,O)."""
    kh, kw, _, out = w.shape
    xp = np.pad(x, [(0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
    n, h, wd, _ = x.shape
    y = np.zeros((n, h, wd, out))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nhwc,co->nhwo", xp[:, i : i + h, j : j + wd], w[i, j])
    return y


def np_conv_same_input_grad(dy, w):
    """Adjoint of `np_conv_same` w.r.t. its input: the rotated kernel, in/out swapped."""
    return np_conv_same(dy, w[::-1, ::-1].transpose(0, 1, 3, 2))


def np_conv_same_kernel_grad(x, dy, kh, kw):
    """d(sum(dy * conv(x, w))) / dw."""
    xp = np.pad(x, [(0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
    n, h, wd, _ = x.shape
    g = np.zeros((kh, kw, x.shape[-1], dy.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            g[i, j] = np.einsum("nhwc,nhwo->co", xp[:, i : i + h, j : j + wd], dy)
    return g


def np_binary_weights(w):
    """Eq. 3: mean |W| over each output channel's kernel, times sign(W)."""
    return np.mean(np.abs(w), axis=(0, 1, 2)) * np_sign(w)


def np_rprelu(y, layer):
    """Eq. 4."""
    g, beta, z = layer.gamma.numpy(), layer.beta.numpy(), layer.zeta.numpy()
    return np.where(y > g, y - g, beta * (y - g)) + z


def np_rprelu_slope(y, layer):
    return np.where(y > layer.gamma.numpy(), 1.0, layer.beta.numpy())


def np_binary_conv(model, name, x):
    """Eq. 1-3 with the parameters of `{name}.move0` and `{name}.binary_conv`: returns (y, u, Wb, W)."""
    b = model.get_layer(f"{name}.move0").bias.numpy()
    w = model.get_layer(f"{name}.binary_conv").kernel.latent_variable.numpy()
    u = x + b
    wb = np_binary_weights(w)
    return np_conv_same(np_sign(u), wb), u, wb, w


def np_depth_to_space(x, r):
    """TF's depth_to_space: out[n, h r + i, w r + j, c] = x[n, h, w, (i r + j) C + c]."""
    n, h, w, rc = x.shape
    c = rc // (r * r)
    out = np.zeros((n, h * r, w * r, c))
    for i in range(r):
        for j in range(r):
            out[:, i::r, j::r, :] = x[..., (i * r + j) * c : (i * r + j + 1) * c]
    return out


def np_bilinear(x, r):
    """PyTorch interpolate(scale_factor=r, mode='bilinear', align_corners=False), via source indices."""

    def along(a, axis):
        n = a.shape[axis]
        out = []
        for o in range(n * r):
            s = max((o + 0.5) / r - 0.5, 0.0)
            i0 = int(np.floor(s))
            i1 = min(i0 + 1, n - 1)
            lam = s - i0
            out.append((1 - lam) * np.take(a, i0, axis=axis) + lam * np.take(a, i1, axis=axis))
        return np.stack(out, axis=axis)

    return along(along(x, 1), 2)


# ----------------------------------------------------------------------------- helpers


def _model(fn, shape, **kwargs):
    with default_dtype(F64):
        x = tf.keras.Input(shape)
        return tf.keras.Model(x, fn(x, **kwargs))


def _randomise(model, rng):
    """Every parameter away from its initial value; kernels with a few entries beyond the clip at 1."""
    for w in model.weights:
        name = w.name
        if "moving_variance" in name:
            w.assign(rng.uniform(0.5, 2.0, size=w.shape))
        elif "beta" in name and "relu" in name:  # RPReLU slopes
            w.assign(rng.uniform(0.05, 0.5, size=w.shape))
        elif "kernel" in name:
            v = rng.normal(scale=0.3, size=w.shape)
            v.flat[:: 7] = 1.5 * np.sign(v.flat[:: 7])
            w.assign(v)
        else:
            w.assign(rng.normal(scale=0.3, size=w.shape))


# ----------------------------------------------------------------------------- BBCU-B, V1 to V4


@pytest.mark.parametrize("unit", U.BBCU_UNITS)
def test_unit_forward_matches_equations(unit, rng):
    model = _model(lambda x, **k: U.bbcu_conv(x, "u", unit, **k), (5, 6, 4))
    _randomise(model, rng)
    x = rng.normal(size=(2, 5, 6, 4))
    y, _, _, _ = np_binary_conv(model, "u", x)
    relu = model.get_layer("u.relu")
    if unit == "v1":  # Eq. 5 with the running statistics (inference)
        bn = model.get_layer("u.bn")
        kappa = bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + 1e-5)
        tau = bn.beta.numpy() - kappa * bn.moving_mean.numpy()
        expected = np_rprelu(kappa * y + tau + x, relu)
    elif unit in ("v2", "v3"):  # Fig. 2b/c: activation after the residual sum
        expected = np_rprelu(y + x, relu)
    else:  # Fig. 2d: the activation inside the residual branch
        expected = x + np_rprelu(y, relu)
    out = model(x, training=False).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    # Only V1 has BatchNorm; every unit has one binary conv with the BBCU quantizers.
    assert any(isinstance(l, tf.keras.layers.BatchNormalization) for l in model.layers) == (unit == "v1")
    conv = model.get_layer("u.binary_conv")
    assert isinstance(conv, lq.layers.QuantConv2D)
    assert isinstance(conv.input_quantizer, lq.quantizers.ApproxSign)
    assert isinstance(conv.kernel_quantizer, Q.ScaledSign)
    assert conv.input_quantizer.dtype == F64 and conv.kernel_quantizer.dtype == F64


def test_v1_batchnorm_uses_batch_statistics_in_training(rng):
    model = _model(lambda x, **k: U.bbcu_conv(x, "u", "v1", **k), (4, 4, 3))
    _randomise(model, rng)
    x = rng.normal(size=(3, 4, 4, 3))
    y, _, _, _ = np_binary_conv(model, "u", x)
    bn = model.get_layer("u.bn")
    mu, var = y.mean(axis=(0, 1, 2)), y.var(axis=(0, 1, 2))
    bn_y = bn.gamma.numpy() * (y - mu) / np.sqrt(var + 1e-5) + bn.beta.numpy()
    expected = np_rprelu(bn_y + x, model.get_layer("u.relu"))
    np.testing.assert_allclose(model(x, training=True).numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("unit", ["v2", "v4"])
def test_unit_gradients_follow_eq_6_and_the_clip_ste(unit, rng):
    """d/dx, d/db (threshold) and d/dW of sum(g * unit(x)) against the chain rule by hand."""
    model = _model(lambda x, **k: U.bbcu_conv(x, "u", unit, **k), (5, 5, 3))
    _randomise(model, rng)
    x = rng.uniform(-1.5, 1.5, size=(2, 5, 5, 3))
    g = rng.normal(size=x.shape)
    y, u, wb, w = np_binary_conv(model, "u", x)
    relu = model.get_layer("u.relu")
    if unit == "v4":
        dy = g * np_rprelu_slope(y, relu)
        dx_residual = g
    else:
        dy = g * np_rprelu_slope(y + x, relu)
        dx_residual = dy
    ds = np_conv_same_input_grad(dy, wb)
    du = ds * np.where(np.abs(u) <= 1, 2 - 2 * np.abs(u), 0.0)  # Eq. 6 (approx_sign)
    assert np.any(np.abs(u) > 1) and np.any(np.abs(u) < 1)  # both branches exercised
    dw = np_conv_same_kernel_grad(np_sign(u), dy, 3, 3) * (np.abs(w) <= 1)  # clip STE
    assert np.any(np.abs(w) > 1)

    bias = model.get_layer("u.move0").bias
    kernel = model.get_layer("u.binary_conv").kernel
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(model(xt) * g)
    gx, gb, gw = tape.gradient(loss, [xt, bias, kernel])
    np.testing.assert_allclose(gx.numpy(), dx_residual + du, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gb.numpy(), du.sum(axis=(0, 1, 2)), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gw.numpy(), dw, rtol=1e-9, atol=1e-9)


def test_threshold_shifts_the_sign(rng):
    """Eq. 2: with b = -a the unit binarizes at a: inputs just above/below a give +1/-1."""
    model = _model(lambda x, **k: U.bbcu_conv(x, "u", "v4", kernel_size=1, **k), (1, 2, 1))
    model.get_layer("u.move0").bias.assign([-0.3])  # threshold a = 0.3
    model.get_layer("u.binary_conv").kernel.assign([[[[2.0]]]])  # Wb = 2 * sign = 2
    relu = model.get_layer("u.relu")
    relu.beta.assign([1.0])  # identity RPReLU
    x = np.array([[[[0.31], [0.29]]]])
    np.testing.assert_allclose(model(x).numpy().ravel(), x.ravel() + [2.0, -2.0], rtol=1e-12)


# ----------------------------------------------------------------------------- BBCU-H, -U, -T


def test_repeat_indices_match_the_released_head():
    # 3 -> 64: each channel 21 times in place, then channel 0 once more (BinaryConv2dV2).
    idx = L.repeat_channel_indices(3, 64, "interleave")
    assert idx == [0] * 21 + [1] * 21 + [2] * 21 + [0]
    assert L.repeat_channel_indices(3, 8, "tile") == [0, 1, 2, 0, 1, 2, 0, 1]
    with pytest.raises(ValueError, match="'tile' or 'interleave'"):
        L.repeat_channel_indices(3, 8, "cycle")


def test_head_unit(rng):
    model = _model(lambda x, **k: U.bbcu_head(x, "h", filters=8, **k), (4, 5, 3))
    _randomise(model, rng)
    x = rng.normal(size=(2, 4, 5, 3))
    y, _, _, _ = np_binary_conv(model, "h", x)
    residual = np.concatenate([np.repeat(x, 2, axis=-1), x[..., :2]], axis=-1)  # 3 x 2 + 2 = 8
    expected = np_rprelu(y, model.get_layer("h.relu")) + residual
    out = model(x).numpy()
    assert out.shape == (2, 4, 5, 8)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("factor", [2, 3])
def test_upsample_unit_is_pixel_shuffle_plus_nearest(factor, rng):
    model = _model(lambda x, **k: U.bbcu_upsample(x, "up", factor, **k), (3, 4, 2))
    _randomise(model, rng)
    x = rng.normal(size=(1, 3, 4, 2))
    y, _, _, _ = np_binary_conv(model, "up", x)
    assert y.shape[-1] == 2 * factor**2
    nearest = np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
    expected = np_depth_to_space(np_rprelu(y, model.get_layer("up.relu")), factor) + nearest
    out = model(x).numpy()
    assert out.shape == (1, 3 * factor, 4 * factor, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_tail_unit_adds_the_given_residual(rng):
    with default_dtype(F64):
        x_in = tf.keras.Input((4, 4, 6))
        lq_in = tf.keras.Input((4, 4, 3))
        model = tf.keras.Model([x_in, lq_in], U.bbcu_tail(x_in, lq_in, "t"))
    _randomise(model, rng)
    x, lq_img = rng.normal(size=(2, 4, 4, 6)), rng.normal(size=(2, 4, 4, 3))
    y, _, _, _ = np_binary_conv(model, "t", x)
    expected = np_rprelu(y, model.get_layer("t.relu")) + lq_img
    np.testing.assert_allclose(model([x, lq_img]).numpy(), expected, rtol=1e-10, atol=1e-10)
    assert model.get_layer("t.binary_conv").kernel.shape == (3, 3, 6, 3)


# ----------------------------------------------------------------------------- shape layers


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_bilinear_upsample_is_pytorchs_half_pixel_bilinear(factor, rng):
    x = rng.uniform(size=(2, 5, 7, 3))
    out = L.BilinearUpsample(factor, dtype=F64)(x)
    assert out.dtype == tf.float64 and out.shape == (2, 5 * factor, 7 * factor, 3)
    np.testing.assert_allclose(out.numpy(), np_bilinear(x, factor), rtol=1e-13, atol=1e-13)
    resized = tf.image.resize(x.astype("float32"), (5 * factor, 7 * factor), method="bilinear")
    np.testing.assert_allclose(out.numpy(), resized.numpy(), atol=1e-5)
    if factor == 2:
        np.testing.assert_allclose(out.numpy(), np_bilinear2x(x), rtol=1e-14)


def test_pixel_shuffle_inverts_space_to_depth(rng):
    x = rng.normal(size=(2, 6, 9, 4))
    packed = tf.nn.space_to_depth(x, 3)
    np.testing.assert_array_equal(L.PixelShuffle(3, dtype=F64)(packed).numpy(), x)
    np.testing.assert_array_equal(np_depth_to_space(packed.numpy(), 3), x)
    with pytest.raises(ValueError, match="multiple of 4"):
        L.PixelShuffle(2).compute_output_shape((None, 4, 4, 6))


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="v1.*v4.*got 'v5'"):
        _model(lambda x, **k: U.bbcu_conv(x, "u", "v5", **k), (4, 4, 4))
    with pytest.raises(ValueError, match="factor must be an integer >= 2"):
        _model(lambda x, **k: U.bbcu_upsample(x, "up", 1, **k), (4, 4, 4))
    with pytest.raises(ValueError, match="input_quantizer"):
        _model(lambda x, **k: U.bbcu_conv(x, "u", input_quantizer="nope", **k), (4, 4, 4))
    with pytest.raises(ValueError, match="integer >= 1"):
        L.PixelShuffle(0)

"""BiSR-Conv and the four modules against a NumPy transcription of BiSRNet Eq. 2-12 / Fig. 4."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.nn import blocks as B
from larq_hsi.nn import layers as L
from larq_hsi.nn import units as U
from larq_hsi.nn.dtype import default_dtype

F64 = "float64"


def np_sign(x):
    return np.where(x >= 0, 1.0, -1.0)


def np_conv_same(x, w, groups=1):
    """'same' zero-padded stride-1 conv; x (B,H,W,C), w (kh,kw,C/groups,O)."""
    kh, kw, cin_g, out = w.shape
    xp = np.pad(x, [(0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
    n, h, wd, _ = x.shape
    out_g = out // groups
    y = np.zeros((n, h, wd, out))
    for g in range(groups):
        xg = xp[..., g * cin_g : (g + 1) * cin_g]
        wg = w[..., g * out_g : (g + 1) * out_g]
        for i in range(kh):
            for j in range(kw):
                y[..., g * out_g : (g + 1) * out_g] += np.einsum(
                    "nhwc,co->nhwo", xg[:, i : i + h, j : j + wd], wg[i, j]
                )
    return y


def np_bisr_conv(model, name, x, groups=1):
    """Eq. 2-12 with the parameters of the Keras layers named `name.*`."""
    move = model.get_layer(f"{name}.move0")
    conv = model.get_layer(f"{name}.binary_conv")
    relu = model.get_layer(f"{name}.relu")
    r = x * move.k.numpy() + move.b.numpy()
    w = conv.kernel.latent_variable.numpy()
    wb = np.mean(np.abs(w), axis=(0, 1, 2)) * np_sign(w)
    y = np_conv_same(np_sign(r), wb, groups)
    g, beta, z = relu.gamma.numpy(), relu.beta.numpy(), relu.zeta.numpy()
    y = np.where(y > g, y - g, beta * (y - g)) + z
    return x + y


def _randomise(model, rng):
    for w in model.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape) + (1.0 if "/k:" in w.name else 0.0))


def _model(fn, shape, **kwargs):
    with default_dtype(F64):
        x = tf.keras.Input(shape)
        return tf.keras.Model(x, fn(x, "m", **kwargs))


def np_bilinear2x(x):
    """Bilinear x2 in closed form: y[2j] = 3/4 x[j] + 1/4 x[j-1], y[2j+1] = 3/4 x[j] + 1/4 x[j+1],
    the edge sample repeated."""

    def along(a, axis):
        n = a.shape[axis]
        prev = np.take(a, np.r_[0, np.arange(n - 1)], axis=axis)
        nxt = np.take(a, np.r_[np.arange(1, n), n - 1], axis=axis)
        out = np.repeat(a, 2, axis=axis) * 0.75
        sl = [slice(None)] * a.ndim
        sl[axis] = slice(0, None, 2)
        out[tuple(sl)] += 0.25 * prev
        sl[axis] = slice(1, None, 2)
        out[tuple(sl)] += 0.25 * nxt
        return out

    return along(along(x, 1), 2)


@pytest.mark.parametrize("kernel,groups", [(3, 1), (1, 1), (3, 4)])
def test_bisr_conv_matches_equations(kernel, groups, rng):
    model = _model(lambda x, n, **k: U.bisr_conv(x, n, kernel, groups=groups, **k), (6, 7, 8))
    _randomise(model, rng)
    x = rng.normal(size=(2, 6, 7, 8))
    np.testing.assert_allclose(model(x).numpy(), np_bisr_conv(model, "m", x, groups), rtol=1e-10, atol=1e-10)
    assert isinstance(model.get_layer("m.binary_conv"), lq.layers.QuantConv2D)


def test_bisr_downsample(rng):
    model = _model(B.bisr_downsample, (8, 6, 4))
    _randomise(model, rng)
    x = rng.normal(size=(2, 8, 6, 4))
    pooled = x.reshape(2, 4, 2, 3, 2, 4).mean(axis=(2, 4))
    expected = np.concatenate(
        [np_bisr_conv(model, "m.biconv_1", pooled), np_bisr_conv(model, "m.biconv_2", pooled)], -1
    )
    out = model(x).numpy()
    assert out.shape == (2, 4, 3, 8)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_bisr_upsample(rng):
    model = _model(B.bisr_upsample, (3, 4, 8))
    _randomise(model, rng)
    x = rng.normal(size=(1, 3, 4, 8))
    up = np_bilinear2x(x)
    expected = 0.5 * (np_bisr_conv(model, "m.biconv_1", up[..., :4]) + np_bisr_conv(model, "m.biconv_2", up[..., 4:]))
    out = model(x).numpy()
    assert out.shape == (1, 6, 8, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_bisr_fusion_down_and_up(rng):
    down = _model(B.bisr_fusion_down, (5, 5, 6))
    up = _model(B.bisr_fusion_up, (5, 5, 6))
    for model in (down, up):
        _randomise(model, rng)
    x = rng.normal(size=(2, 5, 5, 6))
    expected_down = 0.5 * (np_bisr_conv(down, "m.biconv_1", x[..., :3]) + np_bisr_conv(down, "m.biconv_2", x[..., 3:]))
    expected_up = np.concatenate([np_bisr_conv(up, "m.biconv_1", x), np_bisr_conv(up, "m.biconv_2", x)], -1)
    np.testing.assert_allclose(down(x).numpy(), expected_down, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(up(x).numpy(), expected_up, rtol=1e-10, atol=1e-10)
    assert down.output_shape[-1] == 3 and up.output_shape[-1] == 12


def test_block_is_residual_layernorm_feedforward(rng):
    model = _model(lambda x, n, **k: B.bisr_block(x, n, **k), (4, 4, 4))
    _randomise(model, rng)
    x = rng.normal(size=(1, 4, 4, 4))
    norm = model.get_layer("m.norm")
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    h = (x - mu) / np.sqrt(var + 1e-5) * norm.gamma.numpy() + norm.beta.numpy()

    def rprelu(name, y):
        layer = model.get_layer(name)
        g, b, z = layer.gamma.numpy(), layer.beta.numpy(), layer.zeta.numpy()
        return np.where(y > g, y - g, b * (y - g)) + z

    net = "m.fn.net"
    h = np.concatenate([np_bisr_conv(model, f"{net}.0.biconv_{i}", h) for i in (1, 2)], -1)
    h = np.concatenate([np_bisr_conv(model, f"{net}.1.biconv_{i}", h) for i in (1, 2)], -1)
    h = rprelu(f"{net}.2", h)
    h = np_bisr_conv(model, f"{net}.3", h, groups=4)
    h = rprelu(f"{net}.4", h)
    for k in (5, 6):
        c = h.shape[-1] // 2
        h = 0.5 * (np_bisr_conv(model, f"{net}.{k}.biconv_1", h[..., :c]) + np_bisr_conv(model, f"{net}.{k}.biconv_2", h[..., c:]))
    np.testing.assert_allclose(model(x).numpy(), x + h, rtol=1e-9, atol=1e-9)
    assert model.get_layer(f"{net}.3.binary_conv").kernel.shape == (3, 3, 4, 16)


@pytest.mark.parametrize(
    "fn,shape,out",
    [
        (B.normal_downsample, (8, 8, 4), (4, 4, 8)),
        (B.normal_upsample, (4, 4, 8), (8, 8, 4)),
        (B.normal_fusion_down, (4, 4, 8), (4, 4, 4)),
        (B.normal_fusion_up, (4, 4, 8), (4, 4, 16)),
    ],
)
def test_normal_modules_reshape_through_one_binary_conv(fn, shape, out):
    model = _model(fn, shape)
    assert model.output_shape[1:] == out
    convs = [l for l in model.layers if isinstance(l, lq.layers.QuantConv2D)]
    assert len(convs) == 1
    assert not any(isinstance(l, tf.keras.layers.Add) for l in model.layers)  # no residual passes
    if fn is B.normal_downsample:
        assert convs[0].kernel_size == (4, 4) and convs[0].strides == (2, 2)


def test_bilinear_upsample_matches_tf_image_resize(rng):
    x = rng.uniform(size=(2, 5, 7, 3))
    layer = L.BilinearUpsample(2, dtype=F64)
    out = layer(x)
    assert out.dtype == tf.float64
    np.testing.assert_allclose(out.numpy(), np_bilinear2x(x), rtol=1e-14)
    resized = tf.image.resize(x.astype("float32"), (10, 14), method="bilinear").numpy()
    np.testing.assert_allclose(out.numpy(), resized, atol=1e-6)


def test_quantizer_options_swap_estimators():
    model = _model(
        lambda x, n, **k: U.bisr_conv(x, n, input_quantizer="ste_sign", kernel_quantizer="magnitude_aware_sign", **k),
        (4, 4, 4),
    )
    conv = model.get_layer("m.binary_conv")
    assert type(conv.input_quantizer).__name__ == "SteSign"
    assert conv.input_quantizer.dtype == F64
    with pytest.raises(ValueError, match="input_quantizer"):
        _model(lambda x, n, **k: U.bisr_conv(x, n, input_quantizer="nope", **k), (4, 4, 4))


def test_bad_channel_counts_are_reported():
    with pytest.raises(ValueError, match="even channel count"):
        _model(B.bisr_fusion_down, (4, 4, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        _model(lambda x, n, **k: U.bisr_conv(x, n, groups=3, **k), (4, 4, 4))

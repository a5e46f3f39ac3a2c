"""Elementwise layers against BiSRNet Eq. 2, 12 and BBCU's residual alignment; ATISTEConv2D."""

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as q


def _built(layer, shape):
    layer.build(shape)
    return layer


def test_spectral_redistribution_is_affine_per_channel(rng):
    x = rng.normal(size=(2, 3, 3, 4))
    layer = _built(L.SpectralRedistribution(dtype="float64"), x.shape)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # k = 1, b = 0 at init
    k, b = rng.normal(size=4), rng.normal(size=4)
    layer.k.assign(k)
    layer.b.assign(b)
    np.testing.assert_allclose(layer(x).numpy(), x * k + b, rtol=1e-14)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(tf.constant(x)))
    dk, db = tape.gradient(y, [layer.k, layer.b])
    np.testing.assert_allclose(dk.numpy(), x.sum(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(db.numpy(), np.full(4, x[..., 0].size), rtol=1e-12)


def test_rprelu_matches_eq_12(rng):
    y = rng.normal(size=(2, 5, 5, 3))
    layer = _built(L.RPReLU(dtype="float64"), y.shape)
    np.testing.assert_allclose(layer.beta.numpy(), [0.25] * 3)
    gamma, beta, zeta = rng.normal(size=3), rng.uniform(0, 1, size=3), rng.normal(size=3)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    layer.zeta.assign(zeta)
    expected = np.where(y > gamma, y - gamma + zeta, beta * (y - gamma) + zeta)
    np.testing.assert_allclose(layer(y).numpy(), expected, rtol=1e-14)


def test_rprelu_relu_form_is_bitwise_the_case_form_with_eq_12_gradients(rng):
    """The relu form (kept for TFLite's PRELU fusion) gives identical float32 values, zeros included."""
    y = rng.normal(size=(3, 7, 7, 5)).astype("float32")
    gamma = rng.normal(size=5).astype("float32")
    y[0, 0, 0] = gamma  # y - gamma exactly 0 in every channel
    layer = _built(L.RPReLU(), y.shape)
    beta, zeta = rng.uniform(0, 1, size=5).astype("float32"), rng.normal(size=5).astype("float32")
    layer.set_weights([gamma, beta, zeta])
    shifted = y - gamma
    case_form = np.where(shifted > 0, shifted, beta * shifted) + zeta
    x = tf.constant(y)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
    np.testing.assert_array_equal(out.numpy(), case_form)
    dx, dgamma, dbeta, dzeta = tape.gradient(out, [x, layer.gamma, layer.beta, layer.zeta])
    nonzero = shifted != 0
    slope = np.where(shifted > 0, 1.0, beta)
    np.testing.assert_allclose(dx.numpy()[nonzero], np.broadcast_to(slope, y.shape)[nonzero], rtol=1e-6)
    np.testing.assert_allclose(dgamma.numpy(), -(slope * nonzero).sum(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(dbeta.numpy(), np.minimum(shifted, 0).sum(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(dzeta.numpy(), np.full(5, y[..., 0].size), rtol=1e-6)


def test_learnable_bias_adds_per_channel_shift(rng):
    x = rng.normal(size=(4, 6))
    layer = _built(L.LearnableBias(dtype="float64"), x.shape)
    layer.bias.assign(np.arange(6.0))
    np.testing.assert_allclose(layer(x).numpy(), x + np.arange(6.0))


def test_residual_alignment_and_factor():
    x = tf.constant([[1.0, -2.0]])
    np.testing.assert_allclose(L.ResidualAlignment()(x).numpy(), [[130.0, -260.0]])
    np.testing.assert_allclose(L.ResidualAlignment(inverse=True)(x * 130.0).numpy(), x.numpy())
    assert L.alignment_factor(64) == 130.0
    assert L.alignment_factor(12) == pytest.approx(130 * 12 / 64)
    with pytest.raises(ValueError, match="factor"):
        L.ResidualAlignment(factor=0)
    with pytest.raises(ValueError, match="channels"):
        L.alignment_factor(0)


@pytest.mark.parametrize(
    "layer",
    [
        L.SpectralRedistribution(),
        L.LearnableBias(),
        L.RPReLU(slope_init=0.1),
        L.ResidualAlignment(factor=24.375, inverse=True),
    ],
)
def test_layer_config_round_trip(layer):
    restored = type(layer).from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    assert tf.keras.layers.deserialize(tf.keras.layers.serialize(layer)).get_config() == layer.get_config()


def test_atiste_conv_shares_one_lambda_and_builds_quantizers_at_build(rng):
    conv = L.ATISTEConv2D(6, 3, padding="same", use_bias=False, dtype="float64")
    conv.build((None, 8, 8, 4))
    assert conv.input_quantizer.alpha.shape == (4,)  # per input channel
    assert conv.kernel_quantizer.alpha.shape == (6,)  # per output channel
    assert conv.kernel_quantizer.lam is conv.input_quantizer.lam
    lambdas = [w for w in conv.weights if "lambda" in w.name]
    assert len(lambdas) == 1

    x = tf.constant(rng.normal(size=(2, 8, 8, 4)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(conv(x) ** 2)
    grad = tape.gradient(loss, conv.input_quantizer.lam)
    # The lambda's gradient is the sum of what both quantizers send it.
    with tf.GradientTape(persistent=True) as tape:
        xb = conv.input_quantizer(x)
        wb = conv.kernel_quantizer(conv.kernel.latent_variable)
        loss2 = tf.reduce_sum(tf.nn.conv2d(xb, wb, 1, "SAME") ** 2)
    np.testing.assert_allclose(grad.numpy(), tape.gradient(loss2, conv.input_quantizer.lam).numpy(), rtol=1e-10)
    assert grad.numpy() != 0.0


def test_atiste_conv_rejects_non_atiste_quantizers():
    with pytest.raises(ValueError, match="input_quantizer"):
        L.ATISTEConv2D(4, 3, input_quantizer="ste_sign")


def test_atiste_conv_config_round_trip():
    conv = L.ATISTEConv2D(4, 3, input_quantizer=q.ATISTE(alpha=2.0, lam=0.3), share_lambda=True)
    restored = L.ATISTEConv2D.from_config(conv.get_config())
    assert restored.get_config() == conv.get_config()
    assert restored.kernel_quantizer._lambda_owner is restored.input_quantizer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls,kwargs", [
    (L.QuantGroupConv2D, dict(input_quantizer="tanh_sign", kernel_quantizer="scaled_sign")),
    (L.GroupConv2D, {}),
])
def test_native_grouped_conv_equals_keras_route(cls, kwargs, dtype, rng):
    """Same outputs and gradients as the XLA route Keras takes for grouped convs (float64:
    native forward, XLA gradient; to float64 rounding there)."""
    import larq as lq

    from larq_hsi.nn.dtype import default_dtype

    base = lq.layers.QuantConv2D if cls is L.QuantGroupConv2D else tf.keras.layers.Conv2D
    x = tf.constant(rng.normal(size=(2, 6, 7, 16)).astype(dtype))
    with default_dtype(dtype):
        ours = cls(16, 3, padding="same", groups=4, use_bias=False, **kwargs)
        theirs = base(16, 3, padding="same", groups=4, use_bias=False, **kwargs)
    ours.build(x.shape)
    theirs.build(x.shape)
    for a, b in zip(theirs.weights, ours.weights):
        b.assign(a)
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.sin(y) * y)
        results.append([y.numpy(), *[g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_weights])]])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(*results):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
    assert isinstance(ours, base)  # larq's summary and LCE see the base class


def test_channel_split_is_consecutive_slices_with_the_slices_gradient(rng):
    x = tf.constant(rng.normal(size=(2, 5, 4, 12)))
    split = L.ChannelSplit(3, dtype="float64")
    pieces = split(x)
    assert len(pieces) == 3
    for i, piece in enumerate(pieces):
        np.testing.assert_array_equal(piece.numpy(), x.numpy()[..., 4 * i : 4 * (i + 1)])
    weights = [tf.constant(rng.normal(size=(4,))) for _ in range(3)]
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = sum(tf.reduce_sum(w * tf.sin(p)) for w, p in zip(weights, split(x)))
    expected = np.concatenate([w.numpy() * np.cos(x.numpy()[..., 4 * i : 4 * (i + 1)])
                               for i, w in enumerate(weights)], axis=-1)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), expected, rtol=1e-14)
    assert split.compute_output_shape((None, 5, 4, 12)) == [tf.TensorShape((None, 5, 4, 4))] * 3
    assert L.ChannelSplit.from_config(split.get_config()).parts == 3


def test_channel_split_rejects_a_channel_count_it_cannot_divide():
    with pytest.raises(ValueError, match=r"divisible by 2, got input shape \(None, 8, 8, 7\)"):
        L.ChannelSplit(2)(tf.keras.Input((8, 8, 7)))
    with pytest.raises(ValueError, match="parts >= 1"):
        L.ChannelSplit(0)


def test_atiste_conv_weights_load_from_h5_into_its_config_copy(tmp_path, rng):
    """A layer and its from_config copy list their weights in one order, so an .h5 file loads."""
    x = tf.keras.Input((8, 8, 4))
    model = tf.keras.Model(x, L.ATISTEConv2D(6, 3, padding="same", use_bias=False, name="atiste")(x))
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype(np.float32))
    model.save_weights(tmp_path / "w.h5")
    copy = tf.keras.Model.from_config(model.get_config())
    assert [w.shape for w in copy.weights] == [w.shape for w in model.weights]
    copy.load_weights(tmp_path / "w.h5")
    inputs = rng.normal(size=(1, 8, 8, 4)).astype(np.float32)
    np.testing.assert_array_equal(copy(inputs).numpy(), model(inputs).numpy())
    kernel_quantizer = L.ATISTEConv2D(4, 3, kernel_quantizer=q.ScaledATISTE(alpha=3.0, trainable=False)).kernel_quantizer
    assert kernel_quantizer.get_config()["alpha"] == 3.0 and not kernel_quantizer.trainable

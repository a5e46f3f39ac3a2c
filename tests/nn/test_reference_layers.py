"""The small layers of the reference baselines: Hardtanh, Scale and the flat-kernel convs."""

import larq as lq
import numpy as np
import tensorflow as tf

from larq_hsi.nn import layers as L

X = np.array([-2.0, -1.0, -0.999, -0.3, 0.0, 0.3, 0.999, 1.0, 2.0])


def _forward_backward(layer, x, upstream):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * upstream)
    return y.numpy(), tape.gradient(loss, x).numpy()


def test_hardtanh_forward_and_pytorch_gradient(rng):
    upstream = rng.normal(size=X.shape)
    y, g = _forward_backward(L.Hardtanh(dtype="float64"), X, upstream)
    np.testing.assert_array_equal(y, np.clip(X, -1, 1))
    np.testing.assert_array_equal(g, upstream * (np.abs(X) < 1))  # 0 at the endpoints, as PyTorch
    assert g[X == 1.0] == 0 and g[X == -1.0] == 0
    assert isinstance(L.Hardtanh.from_config(L.Hardtanh().get_config()), L.Hardtanh)


def test_scale_is_exact_in_float64(rng):
    upstream = rng.normal(size=X.shape)
    layer = L.Scale(0.2, dtype="float64")
    y, g = _forward_backward(layer, X, upstream)
    np.testing.assert_array_equal(y, X * 0.2)  # 0.2 as a float64, not float32's 0.20000000298
    np.testing.assert_array_equal(g, upstream * 0.2)
    assert L.Scale.from_config(layer.get_config()).factor == 0.2


def test_flat_kernel_convs_compute_as_their_bases(rng):
    x = rng.normal(size=(1, 6, 6, 8)).astype("float32")
    for flat, base, groups in ((L.FlatQuantConv2D, lq.layers.QuantConv2D, 1),
                               (L.FlatQuantGroupConv2D, L.QuantGroupConv2D, 4)):
        options = dict(filters=8, kernel_size=3, padding="same", groups=groups, use_bias=False,
                       input_quantizer="ste_sign", kernel_quantizer="ste_sign")
        a, b = flat(**options), base(**options)
        a.build(x.shape)
        b.build(x.shape)
        b.kernel.assign(a.kernel)
        np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
        assert a.reference_kernel_layout == "flat" and not hasattr(b, "reference_kernel_layout")
        assert type(flat.from_config(a.get_config())) is flat

"""The reference baselines' quantizers (torch.sign: 0 -> 0) against their closed forms."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_hsi  # noqa: F401  (registers the aliases)
from larq_hsi.nn import quantizers as q

F64 = "float64"
X = np.array([-3.0, -1.0, -0.999, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.9, 1.0, 1.001, 2.5])


def _grad(quantizer, x, upstream):
    """Output, d/dx and d/d(quantizer variables) of sum(upstream * quantizer(x))."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = quantizer(x)
        loss = tf.reduce_sum(out * upstream)
    grads = {v.name.split("/")[-1].split(":")[0]: tape.gradient(loss, v) for v in quantizer.weights}
    return out.numpy(), tape.gradient(loss, x).numpy(), grads


def _torch_sign(x):
    return np.sign(x)  # numpy's sign is torch's: 0 -> 0


@pytest.mark.parametrize(
    "cls,alias,derivative",
    [
        (q.TorchSteSign, "torch_ste_sign", lambda x: (np.abs(x) <= 1) * 1.0),
        (q.TorchApproxSign, "torch_approx_sign",
         lambda x: np.where((x >= -1) & (x < 0), 2 + 2 * x, np.where((x >= 0) & (x < 1), 2 - 2 * x, 0.0))),
        (q.TorchIdentitySign, "torch_identity_sign", lambda x: np.ones_like(x)),
        (q.TorchEDESign, "torch_ede_sign", lambda x: 10 * 0.1 * (1 - np.tanh(0.1 * x) ** 2)),
    ],
    ids=["clip", "approx", "identity", "ede"],
)
def test_activation_signs(cls, alias, derivative, rng):
    upstream = rng.normal(size=X.shape)
    quantizer = cls(dtype=F64)
    out, grad, _ = _grad(quantizer, X, upstream)
    np.testing.assert_array_equal(out, _torch_sign(X))
    assert out[X == 0] == 0  # torch.sign, not larq's 0 -> +1
    np.testing.assert_allclose(grad, upstream * derivative(X), rtol=1e-12, atol=1e-15)
    assert quantizer.precision == 1
    assert type(lq.quantizers.get(alias)) is cls
    clone = cls.from_config(quantizer.get_config())
    np.testing.assert_array_equal(clone(tf.constant(X)).numpy(), out)


def _kernel(rng, shape=(3, 3, 4, 5), scale=0.7):
    w = rng.normal(scale=scale, size=shape)
    w.reshape(-1, shape[-1])[3, 1] = 0.0  # an exact zero
    w.reshape(-1, shape[-1])[5, 2] = 1.0  # the clip STE's endpoint
    return w


def test_torch_scaled_sign(rng):
    w = _kernel(rng)
    upstream = rng.normal(size=w.shape)
    out, grad, _ = _grad(q.TorchScaledSign(dtype=F64), w, upstream)
    a = np.abs(w).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(out, a * _torch_sign(w), rtol=1e-12)
    assert np.count_nonzero(out == 0) == 1
    np.testing.assert_allclose(grad, upstream * (np.abs(w) <= 1), rtol=1e-12)  # unscaled clip STE


@pytest.mark.parametrize("zero_value", [1.0, 0.0])
def test_frozen_sign(zero_value, rng):
    w = _kernel(rng)
    quantizer = q.FrozenSign(zero_value=zero_value, dtype=F64)
    out, grad, _ = _grad(quantizer, w, rng.normal(size=w.shape))
    expected = np.where(w > 0, 1.0, np.where(w < 0, -1.0, zero_value))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(grad, np.zeros_like(w))  # the kernels never train
    assert q.FrozenSign.from_config(quantizer.get_config()).zero_value == zero_value
    with pytest.raises(ValueError, match="zero_value"):
        q.FrozenSign(zero_value=0.5)


def _standardize_backward(w, g, scale, eps, ddof):
    r"""d/dW of sum(g * V) for V = scale (W - mu) / (sigma + eps) per output channel (closed form):

    dL/dW_j = scale/(sigma+eps) (g_j - mean g) - scale/(sigma+eps)^2 * (W_j - mu)/((n - ddof) sigma) * sum_i g_i (W_i - mu).
    """
    flat_w, flat_g = w.reshape(-1, w.shape[-1]), g.reshape(-1, w.shape[-1])
    n = flat_w.shape[0]
    c = flat_w - flat_w.mean(0)
    sigma = np.sqrt((c ** 2).sum(0) / (n - ddof))
    d = sigma + eps
    out = scale / d * (flat_g - flat_g.mean(0)) - scale / d ** 2 * c / ((n - ddof) * sigma) * (flat_g * c).sum(0)
    return out.reshape(w.shape)


def test_scaled_standardized_sign(rng):
    w = rng.uniform(-5e-4, 5e-4, size=(3, 3, 4, 5))
    quantizer = q.ScaledStandardizedSign(dtype=F64)
    quantizer.build(w.shape)
    gain = rng.uniform(0.8, 1.2, size=5)
    quantizer.gain.assign(gain)
    upstream = rng.normal(size=w.shape)
    out, grad, grads = _grad(quantizer, w, upstream)
    flat = w.reshape(-1, 5)
    n = flat.shape[0]
    v = (n ** -0.5 * (flat - flat.mean(0)) / (flat.std(0) + 1e-5)).reshape(w.shape)  # biased std
    m = np.abs(v).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(out, gain * m * _torch_sign(v), rtol=1e-12)
    # backward: gain * clip STE on V (mean|V| a constant), exact through mu and sigma
    dv = upstream * gain * (np.abs(v) <= 1)
    np.testing.assert_allclose(grad, _standardize_backward(w, dv, n ** -0.5, 1e-5, 0), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(grads["gain"].numpy(), (upstream * m * _torch_sign(v)).sum(axis=(0, 1, 2)), rtol=1e-12)
    assert quantizer.gain.trainable and quantizer.precision == 1
    assert type(lq.quantizers.get("scaled_standardized_sign")) is q.ScaledStandardizedSign


def test_scaled_standardized_sign_epsilon_is_exact_in_float64():
    """`tf.cast(1e-5, tf.float64)` would round eps to float32 first (1e-9 output errors in BTM)."""
    w = (2.0 ** np.arange(9) * 1e-6 - 3e-5).reshape(3, 3, 1, 1)  # std ~ 8e-5: eps matters
    out = q.ScaledStandardizedSign(dtype=F64)(tf.constant(w)).numpy()
    flat = w.reshape(-1, 1)
    v = 9 ** -0.5 * (flat - flat.mean(0)) / (flat.std(0) + 1e-5)
    # float32's eps would move the output by a relative 4e-9
    np.testing.assert_allclose(out.reshape(-1, 1), np.abs(v).mean(0) * np.sign(v), rtol=1e-13)


def test_torch_libra_pb_sign(rng):
    w = _kernel(rng, scale=0.3)
    w[..., 1] = w[..., 1] ** 5  # heavy tails: a power-of-two scale of 1/2
    quantizer = q.TorchLibraPBSign(dtype=F64)
    upstream = rng.normal(size=w.shape)
    out, grad, _ = _grad(quantizer, w, upstream)
    flat = w.reshape(-1, 5)
    v = (flat - flat.mean(0)) / flat.std(0, ddof=1)  # Bessel-corrected, no epsilon
    s = 2.0 ** np.round(np.log2(np.abs(v).mean(0)))
    assert set(s) >= {1.0, 0.5}
    np.testing.assert_allclose(out.reshape(-1, 5), s * np.sign(v), rtol=1e-12)
    # backward: the power of two times EDE (k = 10, t = 0.1) on V, exact through the standardization
    dv = upstream * (s * 10 * 0.1 * (1 - np.tanh(0.1 * v) ** 2)).reshape(w.shape)
    np.testing.assert_allclose(grad, _standardize_backward(w, dv, 1.0, 0.0, 1), rtol=1e-8, atol=1e-10)
    assert isinstance(quantizer, q.LibraPBSign)  # EDESchedule moves its t and k

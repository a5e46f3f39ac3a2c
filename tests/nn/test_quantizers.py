"""Quantizers against the closed forms of BiSRNet (Eq. 5-9) and HS-BiNet (Eq. 1-6)."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_hsi  # noqa: F401  (registers the aliases)
from larq_hsi.nn import quantizers as q
from larq_hsi.nn.layers import LearnableBias


def _grad(quantizer, x, upstream=None):
    """Output, d out/d x and d out/d (quantizer variables) for sum(upstream * out)."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = quantizer(x)
        loss = tf.reduce_sum(out if upstream is None else out * upstream)
    grads = {v.name.split("/")[-1].split(":")[0]: tape.gradient(loss, v) for v in quantizer.weights}
    return out.numpy(), tape.gradient(loss, x).numpy(), grads


def _sech2(z):
    return 1.0 - np.tanh(z) ** 2


X = np.array([-3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.9, 1.0, 2.5], dtype=np.float64)


def test_sign_convention_zero_maps_to_plus_one():
    for quantizer in (q.TanhSign(dtype="float64"), q.ATISTE(dtype="float64", per_channel=False)):
        out = quantizer(tf.constant([0.0, -0.0, 1e-300, -1e-300], tf.float64)).numpy()
        np.testing.assert_array_equal(out, [1.0, 1.0, 1.0, -1.0])


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_tanh_sign_forward_and_gradients(alpha, rng):
    quantizer = q.TanhSign(alpha=alpha, dtype="float64")
    upstream = rng.normal(size=X.shape)
    out, dx, grads = _grad(quantizer, X, upstream)
    np.testing.assert_array_equal(out, np.where(X >= 0, 1.0, -1.0))
    np.testing.assert_allclose(dx, upstream * alpha * _sech2(alpha * X), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        grads["alpha"].numpy(), np.sum(upstream * X * _sech2(alpha * X)), rtol=1e-12
    )


def test_tanh_sign_per_channel_alpha(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float64)
    quantizer = q.TanhSign(alpha=2.0, per_channel=True, dtype="float64")
    quantizer.build(x.shape)
    quantizer.alpha.assign([0.5, 1.0, 2.0, 4.0])
    upstream = rng.normal(size=x.shape)
    _, dx, grads = _grad(quantizer, x, upstream)
    a = np.array([0.5, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(dx, upstream * a * _sech2(a * x), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        grads["alpha"].numpy(), np.sum(upstream * x * _sech2(a * x), axis=(0, 1)), rtol=1e-12
    )
    assert quantizer.alpha.shape == (4,)


def test_tanh_sign_backward_is_derivative_of_its_surrogate(rng):
    quantizer = q.TanhSign(alpha=1.7, dtype="float64")
    x = tf.constant(rng.normal(size=50))
    quantizer.build(x.shape)
    _, dx, _ = _grad(quantizer, x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = quantizer.surrogate(x)
    np.testing.assert_allclose(dx, tape.gradient(s, x).numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 8.0])
def test_tanh_approximation_error_is_2log2_over_alpha(alpha):
    """BiSRNet Eq. 8: integral of |sign(x) - tanh(alpha x)| over R equals 2 log 2 / alpha."""
    quantizer = q.TanhSign(alpha=alpha, dtype="float64")
    x = np.linspace(-60.0 / alpha, 60.0 / alpha, 400_001)
    quantizer.build(x.shape)
    gap = np.abs(np.sign(x) - quantizer.surrogate(tf.constant(x)).numpy())
    area = np.trapz(gap, x)
    np.testing.assert_allclose(area, 2 * np.log(2) / alpha, rtol=1e-6)


@pytest.mark.parametrize("alpha,lam", [(1.0, 0.0), (2.0, 0.1), (4.0, 0.3), (0.5, 1.0)])
def test_atiste_forward_and_gradients(alpha, lam, rng):
    quantizer = q.ATISTE(alpha=alpha, lam=lam, per_channel=False, dtype="float64")
    upstream = rng.normal(size=X.shape)
    out, dx, grads = _grad(quantizer, X, upstream)
    t = np.tanh(alpha * X)
    np.testing.assert_array_equal(out, np.where(X >= 0, 1.0, -1.0))
    np.testing.assert_allclose(dx, upstream * ((1 - lam) * alpha * (1 - t**2) + lam), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        grads["alpha"].numpy(), np.sum(upstream * (1 - lam) * X * (1 - t**2)), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(grads["lambda"].numpy(), np.sum(upstream * (X - t)), rtol=1e-10, atol=1e-13)


def test_atiste_gradient_bounds_over_grid():
    """HS-BiNet Eq. 3: lambda <= f'(x) <= (1 - lambda) alpha + lambda, attained at 0 and far out."""
    x = np.linspace(-200, 200, 4001)
    for alpha in (0.25, 1.0, 3.0, 10.0):
        for lam in (0.0, 0.1, 0.5, 0.9, 1.0):
            quantizer = q.ATISTE(alpha=alpha, lam=lam, per_channel=False, dtype="float64")
            _, dx, _ = _grad(quantizer, x)
            upper = (1 - lam) * alpha + lam
            assert dx.min() >= lam - 1e-12
            assert dx.max() <= upper + 1e-12
            np.testing.assert_allclose(dx[2000], upper, rtol=1e-10, atol=1e-13)  # x = 0
            np.testing.assert_allclose(dx[0], lam, atol=1e-12)  # saturated tanh path


def test_atiste_per_channel_alpha_and_soft_forward(rng):
    x = rng.normal(size=(3, 5)).astype(np.float64)
    quantizer = q.ATISTE(alpha=2.0, lam=0.2, soft_forward=True, dtype="float64")
    quantizer.build(x.shape)
    assert quantizer.alpha.shape == (5,)
    f = 0.8 * np.tanh(2.0 * x) + 0.2 * x
    np.testing.assert_allclose(quantizer(tf.constant(x), training=True).numpy(), f, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(
        quantizer(tf.constant(x), training=False).numpy(), np.where(x >= 0, 1.0, -1.0)
    )


def test_atiste_error_limit_is_lambda_squared_ste_error(rng):
    """HS-BiNet Eq. 5-6: E(alpha, lambda) -> lambda^2 E_STE <= E_STE as alpha grows."""
    x = rng.normal(size=200_000)
    e_ste = np.mean((np.sign(x) - x) ** 2)
    for lam in (0.1, 0.5, 0.9):
        errors = []
        for alpha in (1.0, 10.0, 100.0, 1e4, 1e6):
            quantizer = q.ATISTE(alpha=alpha, lam=lam, per_channel=False, dtype="float64")
            quantizer.build(x.shape)
            f = quantizer.surrogate(tf.constant(x)).numpy()
            errors.append(np.mean((np.sign(x) - f) ** 2))
        gaps = [abs(e - lam**2 * e_ste) for e in errors]
        assert gaps == sorted(gaps, reverse=True), gaps  # converges monotonically
        np.testing.assert_allclose(errors[-1], lam**2 * e_ste, rtol=1e-3)
        assert errors[-1] <= e_ste


def _kernel(rng, shape=(3, 3, 4, 6)):
    w = rng.normal(scale=0.7, size=shape)
    w[0, 0, 0, :] = [1.5, -2.0, 0.3, -0.2, 1.0, -1.0]  # some weights beyond the clip range
    return w


def test_scaled_sign_forward_and_unscaled_clip_gradient(rng):
    w = _kernel(rng)
    upstream = rng.normal(size=w.shape)
    out, dw, _ = _grad(q.ScaledSign(dtype="float64"), w, upstream)
    scale = np.mean(np.abs(w), axis=(0, 1, 2))
    np.testing.assert_allclose(out, scale * np.where(w >= 0, 1.0, -1.0), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dw, upstream * (np.abs(w) <= 1.0), rtol=1e-10, atol=1e-13)
    # larq's MagnitudeAwareSign has the same forward but a scaled gradient.
    out_larq, dw_larq, _ = _grad(lq.quantizers.MagnitudeAwareSign(dtype="float64"), w, upstream)
    np.testing.assert_allclose(out_larq, out, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dw_larq, dw * scale, rtol=1e-10, atol=1e-13)
    assert not np.allclose(dw_larq, dw)


def test_scaled_atiste_forward_and_gradients(rng):
    w = _kernel(rng)
    quantizer = q.ScaledATISTE(alpha=1.5, lam=0.25, dtype="float64")
    upstream = rng.normal(size=w.shape)
    out, dw, grads = _grad(quantizer, w, upstream)
    assert quantizer.alpha.shape == (6,)  # per output channel
    scale = np.mean(np.abs(w), axis=(0, 1, 2))
    t = np.tanh(1.5 * w)
    np.testing.assert_allclose(out, scale * np.where(w >= 0, 1.0, -1.0), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dw, upstream * (0.75 * 1.5 * (1 - t**2) + 0.25), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        grads["alpha"].numpy(), np.sum(upstream * 0.75 * w * (1 - t**2), axis=(0, 1, 2)), rtol=1e-12
    )
    np.testing.assert_allclose(grads["lambda"].numpy(), np.sum(upstream * (w - t)), rtol=1e-10, atol=1e-13)


def test_learnable_threshold_sign_is_bias_then_approx_sign(rng):
    """BBCU Eq. 2 and 6: sign(x + b), gradient 2 - 2|x + b| inside [-1, 1], for x and b."""
    x = tf.constant(rng.uniform(-2, 2, size=(4, 5)))
    bias = LearnableBias(dtype="float64")
    bias.build(x.shape)
    bias.bias.assign(rng.uniform(-0.5, 0.5, size=5))
    upstream = rng.normal(size=x.shape)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = lq.quantizers.ApproxSign(dtype="float64")(bias(x))
        loss = tf.reduce_sum(out * upstream)
    z = x.numpy() + bias.bias.numpy()
    expected = upstream * np.where(np.abs(z) <= 1, 2 - 2 * np.abs(z), 0.0)
    np.testing.assert_array_equal(out.numpy(), np.where(z >= 0, 1.0, -1.0))
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(tape.gradient(loss, bias.bias).numpy(), expected.sum(0), rtol=1e-10, atol=1e-13)


def test_quad_is_larq_approx_sign_derivative():
    """Quad of BiSRNet Eq. 4 (Bi-Real form): derivative 2 - 2|x| on [-1, 1]."""
    x = tf.constant(np.linspace(-1.5, 1.5, 31))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = lq.quantizers.ApproxSign(dtype="float64")(x)
    g = tape.gradient(y, x).numpy()
    xs = x.numpy()
    np.testing.assert_allclose(g, np.where(np.abs(xs) <= 1, 2 - 2 * np.abs(xs), 0.0), atol=1e-12)


@pytest.mark.parametrize(
    "name,cls",
    [("tanh_sign", q.TanhSign), ("atiste", q.ATISTE), ("scaled_atiste", q.ScaledATISTE),
     ("scaled_sign", q.ScaledSign)],
)
def test_registered_alias_and_precision(name, cls):
    quantizer = lq.quantizers.get(name)
    assert isinstance(quantizer, cls)
    assert quantizer.precision == 1


@pytest.mark.parametrize(
    "quantizer",
    [
        q.TanhSign(alpha=2.0, alpha_trainable=False, per_channel=True),
        q.ATISTE(alpha=3.0, lam=0.4, lambda_trainable=False, soft_forward=True),
        q.ScaledATISTE(alpha=0.5, lam=0.9, per_channel=False),
        q.ScaledSign(clip_value=None),
    ],
)
def test_config_round_trip(quantizer):
    restored = lq.quantizers.get(lq.quantizers.serialize(quantizer))
    assert type(restored) is type(quantizer)
    assert restored.get_config() == quantizer.get_config()


def test_fixed_alpha_is_a_non_trainable_saved_variable():
    quantizer = q.TanhSign(alpha=2.0, alpha_trainable=False)
    quantizer.build((None, 4))
    assert quantizer.trainable_weights == []
    assert [w.name for w in quantizer.non_trainable_weights] == [quantizer.alpha.name]


@pytest.mark.parametrize(
    "make,arg",
    [
        (lambda: q.TanhSign(alpha=0.0), "alpha"),
        (lambda: q.TanhSign(alpha=-1.0), "alpha"),
        (lambda: q.ATISTE(alpha=-0.1), "alpha"),
        (lambda: q.ATISTE(lam=1.5), "lam"),
        (lambda: q.ATISTE(lam=-0.01), "lam"),
        (lambda: q.get("no_such_sign", argument="input_quantizer"), "input_quantizer"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_constraints_keep_alpha_positive_and_lambda_in_unit_interval():
    """Each step drives alpha and lambda far below their lower bounds; the constraints clip them.

    The loss sum(q(x) x) has d/d alpha = (1 - lambda) sum(x^2 sech^2(alpha x)) > 0 and
    d/d lambda = sum(x (x - tanh(alpha x))) > 0, so SGD at learning rate 100 would
    take alpha from 1 to about -1.2e4 and lambda from 0.1 to about -3e2 in one step:
    only the `Between` constraints leave alpha at exactly ALPHA_FLOOR (in float32, the
    dtype of alpha) and lambda at 0.
    """
    quantizer = q.ATISTE(per_channel=False)
    quantizer.build((None, 3))
    opt = tf.keras.optimizers.SGD(learning_rate=100.0)
    x = tf.constant([[0.3, -0.2, 0.1]])
    floor = np.float32(q.ALPHA_FLOOR)
    for step in range(3):
        before = {"alpha": quantizer.alpha.numpy(), "lambda": quantizer.lam.numpy()}
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(quantizer(x) * x) * 1e3
        grads = tape.gradient(loss, quantizer.trainable_weights)
        by_name = {"alpha": quantizer.alpha, "lambda": quantizer.lam}
        grad_of = {n: next(g for g, v in zip(grads, quantizer.trainable_weights) if v is var)
                   for n, var in by_name.items()}
        opt.apply_gradients(zip(grads, quantizer.trainable_weights))
        # The same update on plain (unconstrained) variables goes below both lower bounds.
        free = {n: tf.Variable(before[n]) for n in before}
        tf.keras.optimizers.SGD(learning_rate=100.0).apply_gradients(
            [(grad_of[n], free[n]) for n in free]
        )
        assert free["alpha"].numpy() < floor, (step, free["alpha"].numpy())
        assert free["lambda"].numpy() < 0.0, (step, free["lambda"].numpy())
        assert quantizer.alpha.numpy() == floor, (step, quantizer.alpha.numpy())
        assert quantizer.lam.numpy() == 0.0, (step, quantizer.lam.numpy())
    assert quantizer.alpha.numpy() >= q.ALPHA_FLOOR
    assert 0.0 <= quantizer.lam.numpy() <= 1.0


def test_float64_instance_computes_in_float64():
    quantizer = q.ATISTE(dtype="float64")
    out = quantizer(tf.constant([[0.5, -0.5]], tf.float64))
    assert out.dtype == tf.float64
    assert quantizer.alpha.dtype == tf.float64

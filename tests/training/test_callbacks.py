"""ATISTE schedule and estimator-indicator callbacks, and ATISTE in a larq-zoo network."""

import csv
import importlib.util
import math
from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.nn import quantizers as Q
from larq_hsi.nn.dtype import default_dtype
from larq_hsi.nn.units import hsbinet_conv
from larq_hsi.training import callbacks as C
from larq_hsi.viz import plot_indicators

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "atiste_larq_zoo.py"


def _two_layer_model(fixed=True, dtype="float32"):
    """Input -> fixed ATISTE conv -> learned ATISTE conv."""
    opts = {"alpha_trainable": not fixed, "lambda_trainable": not fixed}
    with default_dtype(dtype):
        x = tf.keras.Input((4, 4, 2))
        h = hsbinet_conv(x, "fixed", 3, 3, atiste=opts)
        h = hsbinet_conv(h, "learned", 2, 1)
        return tf.keras.Model(x, h)


def _data(rng, n=4):
    return rng.normal(size=(n, 4, 4, 2)).astype("float32"), rng.normal(size=(n, 4, 4, 2)).astype("float32")


# --------------------------------------------------------------------------- schedule


def test_schedule_moves_fixed_alpha_up_and_lambda_down(rng):
    model = _two_layer_model()
    model.compile(tf.keras.optimizers.SGD(0.0), "mae")
    fixed = model.get_layer("fixed.binary_conv")
    learned = model.get_layer("learned.binary_conv")
    seen = []
    record = tf.keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(
            (fixed.input_quantizer.alpha.numpy().copy(), fixed.kernel_quantizer.alpha.numpy().copy(),
             float(fixed.input_quantizer.lam.numpy()), float(fixed.kernel_quantizer.lam.numpy()))
        )
    )
    schedule = C.ATISTESchedule(epochs=3, alpha=(1.0, 4.0), lam=(0.3, 0.1))
    history = model.fit(*_data(rng), epochs=3, verbose=0, callbacks=[schedule, record])
    for (a_in, a_k, lam_in, lam_k), alpha, lam in zip(seen, (1.0, 2.5, 4.0), (0.3, 0.2, 0.1)):
        np.testing.assert_allclose(a_in, alpha, rtol=1e-6)
        np.testing.assert_allclose(a_k, alpha, rtol=1e-6)
        assert lam_in == lam_k == pytest.approx(lam)
    assert len(schedule._lambdas) == 1  # the layer's shared lambda, assigned once
    assert len(schedule._alphas) == 2
    # Learned parameters are not touched (and SGD with lr 0 leaves them at their init).
    np.testing.assert_array_equal(learned.input_quantizer.alpha.numpy(), 1.0)
    assert learned.input_quantizer.lam.numpy() == pytest.approx(0.1)
    assert history.history["atiste_alpha"] == pytest.approx([1.0, 2.5, 4.0])
    assert history.history["atiste_lambda"] == pytest.approx([0.3, 0.2, 0.1])


def test_schedule_modes_closed_forms():
    cos = C.ATISTESchedule(epochs=5, alpha=(1.0, 3.0), lam=None, mode="cosine")
    assert cos.value_at(2, cos.alpha) == pytest.approx(2.0)
    assert cos.value_at(1, cos.alpha) == pytest.approx(1.0 + 2.0 * (1 - math.cos(math.pi / 4)) / 2)
    assert cos.value_at(9, cos.alpha) == pytest.approx(3.0)  # held after the last epoch
    geo = C.ATISTESchedule(epochs=3, alpha=(1.0, 4.0), lam=(0.4, 0.1), mode="geometric")
    assert geo.value_at(1, geo.alpha) == pytest.approx(2.0)
    assert geo.value_at(1, geo.lam) == pytest.approx(0.2)


def test_schedule_errors(rng):
    with pytest.raises(ValueError, match=r"lam values must be in \[0, 1\]"):
        C.ATISTESchedule(epochs=3, lam=(0.5, 1.5))
    with pytest.raises(ValueError, match="alpha values must be > 0"):
        C.ATISTESchedule(epochs=3, alpha=(0.0, 2.0))
    model = _two_layer_model(fixed=False)
    model.compile("sgd", "mae")
    with pytest.raises(ValueError, match="no fixed .* ATISTE alpha.*alpha_trainable=False"):
        model.fit(*_data(rng), epochs=1, verbose=0, callbacks=[C.ATISTESchedule(epochs=2)])


# --------------------------------------------------------------------------- indicators


def np_sign(x):
    return np.where(x >= 0, 1.0, -1.0)


def test_estimation_error_is_the_l2_distance_to_sign(rng):
    opts = {"alpha": 2.0, "lam": 0.25}
    with default_dtype("float64"):
        x = tf.keras.Input((3, 3, 2))
        model = tf.keras.Model(x, hsbinet_conv(x, "c", 2, 3, atiste=opts))
    conv = model.get_layer("c.binary_conv")
    conv.input_quantizer.alpha.assign([1.5, 3.0])  # per input channel
    conv.kernel_quantizer.alpha.assign([0.5, 2.0])  # per output channel
    xb, yb = rng.normal(size=(2, 3, 3, 2)), rng.normal(size=(2, 3, 3, 2))
    model.compile("sgd", "mse")
    cb = C.EstimatorIndicators((xb, yb))
    cb.set_model(model)
    errors = cb.estimation_errors()
    lam = 0.25
    f_in = (1 - lam) * np.tanh(np.array([1.5, 3.0]) * xb) + lam * xb
    w = conv.kernel.latent_variable.numpy()
    f_w = (1 - lam) * np.tanh(np.array([0.5, 2.0]) * w) + lam * w
    assert errors["c.binary_conv/input_quantizer"] == pytest.approx(np.linalg.norm(np_sign(xb) - f_in))
    assert errors["c.binary_conv/kernel_quantizer"] == pytest.approx(np.linalg.norm(np_sign(w) - f_w))


def test_gradient_instability_is_the_variance_of_absolute_gradients(rng):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, use_bias=False, input_shape=(6,), dtype="float64")])
    model.compile("sgd", "mse")
    x, y = rng.normal(size=(5, 6)), rng.normal(size=(5, 1))
    cb = C.EstimatorIndicators((x, y))
    cb.set_model(model)
    w = model.layers[0].kernel.numpy()
    grad = 2 / 5 * x.T @ (x @ w - y)  # d/dw mean((xw - y)^2)
    assert cb.gradient_instability() == pytest.approx(np.var(np.abs(grad)), rel=1e-10)


def test_gradient_probe_does_not_change_batchnorm_statistics(rng):
    x = tf.keras.Input((4,))
    model = tf.keras.Model(x, tf.keras.layers.Dense(1)(tf.keras.layers.BatchNormalization()(x)))
    model.compile("sgd", "mse")
    cb = C.EstimatorIndicators((rng.normal(3.0, 1.0, size=(8, 4)), rng.normal(size=(8, 1))))
    cb.set_model(model)
    cb.gradient_instability()
    np.testing.assert_array_equal(model.layers[1].moving_mean.numpy(), 0.0)


def test_indicators_reach_logs_csv_tensorboard_and_plot(tmp_path, rng):
    model = _two_layer_model()
    model.compile(tf.keras.optimizers.Adam(1e-2), "mae")
    data = _data(rng, 8)
    cb = C.EstimatorIndicators(data, csv_path=tmp_path / "ind.csv", log_dir=tmp_path / "tb", per_layer=True)
    keras_csv = tf.keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"))
    history = model.fit(*data, epochs=3, batch_size=4, verbose=0, callbacks=[cb, keras_csv])
    for key in ("estimation_error", "gradient_instability", "estimation_error/fixed.binary_conv/input_quantizer"):
        assert len(history.history[key]) == 3
    assert history.history["estimation_error"] == pytest.approx(cb.history["estimation_error"])
    assert np.all(np.array(cb.history["gradient_instability"]) > 0)
    with open(tmp_path / "ind.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["gradient_instability"]) == pytest.approx(cb.history["gradient_instability"][2])
    with open(tmp_path / "keras.csv") as f:
        assert "estimation_error" in f.readline()
    tags = set()
    for event_file in (tmp_path / "tb").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(event_file)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags |= {v.tag for v in event.summary.value}
    assert {"estimator/estimation_error", "estimator/gradient_instability"} <= tags
    png = cb.plot(tmp_path / "fig6.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_indicators(tmp_path / "ind.csv", tmp_path / "from_csv.png").stat().st_size > 1000


def test_surrogates_of_larq_quantizers():
    z = tf.constant([-2.0, -0.5, 0.0, 0.5, 2.0])
    ste = C.surrogate_of(lq.quantizers.SteSign(clip_value=1.0))
    np.testing.assert_allclose(ste(z).numpy(), [-1, -0.5, 0, 0.5, 1])
    approx = C.surrogate_of(lq.quantizers.ApproxSign())
    np.testing.assert_allclose(approx(z).numpy(), [-1, -0.75, 0, 0.75, 1])
    tanh = Q.TanhSign(alpha=2.0)
    tanh.build(z.shape)
    np.testing.assert_allclose(C.surrogate_of(tanh)(z).numpy(), np.tanh(2 * z.numpy()), rtol=1e-6)
    assert C.surrogate_of(lq.quantizers.DoReFa()) is None


# --------------------------------------------------------------------------- larq-zoo drop-in


@pytest.fixture(scope="module")
def zoo_example():
    spec = importlib.util.spec_from_file_location("atiste_larq_zoo", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_larq_zoo_network_with_atiste_quantizers(zoo_example, capsys):
    model = zoo_example.atiste_binary_resnet_e18(input_shape=(32, 32, 3), num_classes=3, width=8)
    convs = [l for l in model.layers if isinstance(l, lq.layers.QuantConv2D)]
    assert len(convs) == 16  # BinaryResNetE18: 2 x (2 + 2 + 2 + 2) binary convs
    quantizers = [q for c in convs for q in (c.input_quantizer, c.kernel_quantizer)]
    assert len({id(q) for q in quantizers}) == 32  # a new instance for every layer and role
    for conv in convs:
        assert type(conv.input_quantizer) is Q.ATISTE and type(conv.kernel_quantizer) is Q.ScaledATISTE
        assert conv.kernel_quantizer.lam is conv.input_quantizer.lam
        assert conv.input_quantizer.alpha.shape == (conv.input_shape[-1],)
        assert conv.kernel_quantizer.alpha.shape == (conv.filters,)
    lq.models.summary(model)
    printed = capsys.readouterr().out
    assert all(f" {c.name} " in printed for c in convs)
    assert lq.models.ModelProfile(model).op_count("mac", 1) > 0
    lam_before = [float(c.input_quantizer.lam.numpy()) for c in convs]
    kernel_before = convs[3].kernel.latent_variable.numpy().copy()
    before, after = zoo_example.train_one_step(model, batch=4)
    assert math.isfinite(before) and math.isfinite(after)
    assert not np.array_equal(kernel_before, convs[3].kernel.latent_variable.numpy())
    lam_after = [float(c.input_quantizer.lam.numpy()) for c in convs]
    assert lam_after != lam_before and all(0 <= v <= 1 for v in lam_after)  # lambda is learned, clipped

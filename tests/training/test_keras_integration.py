"""Every quantizer and layer in one Keras model: save, reload, summarise, convert."""

import contextlib
import io
import re

import larq as lq
import larq_compute_engine as lce
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as q


def _model(dtype="float32"):
    x = inp = tf.keras.Input((8, 8, 32), dtype=dtype)
    x = L.ResidualAlignment(factor=4.0, dtype=dtype)(x)
    r = L.SpectralRedistribution(dtype=dtype)(x)
    y = lq.layers.QuantConv2D(
        32, 3, padding="same", use_bias=False, dtype=dtype, name="bin_tanh",
        input_quantizer=q.TanhSign(dtype=dtype), kernel_quantizer=q.ScaledSign(dtype=dtype),
    )(r)
    x = tf.keras.layers.Add(dtype=dtype)([L.RPReLU(dtype=dtype)(y), x])
    y = L.ATISTEConv2D(32, 3, padding="same", use_bias=False, dtype=dtype, name="bin_atiste")(x)
    x = tf.keras.layers.Add(dtype=dtype)([L.RPReLU(dtype=dtype)(y), x])
    t = L.LearnableBias(dtype=dtype)(x)
    y = lq.layers.QuantConv2D(
        32, 1, use_bias=False, dtype=dtype, name="bin_threshold",
        input_quantizer=lq.quantizers.ApproxSign(dtype=dtype),
        kernel_quantizer=q.ScaledSign(dtype=dtype),
    )(t)
    x = L.ResidualAlignment(factor=4.0, inverse=True, dtype=dtype)(x + y)
    return tf.keras.Model(inp, x)


@pytest.fixture
def trained_model(rng):
    model = _model()
    # Move every parameter off its initial value so a reload that dropped one would show.
    for w in model.weights:
        w.assign(w + tf.cast(rng.uniform(0.05, 0.2, size=w.shape), w.dtype))
    return model


@pytest.mark.parametrize("fmt", ["savedmodel", "keras"])
def test_save_and_reload_without_custom_objects(trained_model, tmp_path, rng, fmt):
    path = str(tmp_path / ("model" if fmt == "savedmodel" else "model.keras"))
    trained_model.save(path)
    restored = tf.keras.models.load_model(path)
    x = rng.normal(size=(2, 8, 8, 32)).astype("float32")
    np.testing.assert_array_equal(restored(x).numpy(), trained_model(x).numpy())
    # Variable names differ between formats; compare each layer's values as a multiset.
    def values(model):
        return {
            layer.name: sorted((w.shape, w.tobytes()) for w in layer.get_weights())
            for layer in model.layers
        }

    assert values(restored) == values(trained_model)


def test_checkpoint_holds_quantizer_parameters(trained_model, tmp_path):
    path = tf.train.Checkpoint(model=trained_model).save(str(tmp_path / "ckpt"))
    names = [name for name, _ in tf.train.list_variables(path)]
    for fragment in ("input_quantizer/alpha", "kernel_quantizer/alpha", "lambda"):
        assert any(fragment in n for n in names), (fragment, names)
    fresh = _model()
    tf.train.Checkpoint(model=fresh).restore(path).assert_existing_objects_matched()
    for a, b in zip(fresh.weights, trained_model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_summary_reports_binary_convs_as_one_bit(trained_model, capsys):
    lq.models.summary(trained_model)
    assert "1-bit MACs" in capsys.readouterr().out
    profile = lq.models.ModelProfile(trained_model)
    by_name = {p.name: p for p in profile.layer_profiles}
    for name, kernel in (("bin_tanh", 3 * 3 * 32 * 32), ("bin_atiste", 3 * 3 * 32 * 32),
                         ("bin_threshold", 32 * 32)):
        layer = by_name[name]
        assert layer.input_precision == 1
        assert layer.weight_count(bitwidth=1) == kernel
        assert layer.op_count("mac", 1) == kernel * 8 * 8


def test_quantizer_parameters_are_32_bit_params(trained_model):
    profile = lq.models.ModelProfile(trained_model)
    atiste = {p.name: p for p in profile.layer_profiles}["bin_atiste"]
    # 32 input alphas + 32 output alphas + one shared lambda
    assert atiste.weight_count(bitwidth=32) == 65


def test_float64_model_is_float64_throughout(rng):
    model = _model("float64")
    for layer in model.layers:
        for t in tf.nest.flatten(layer.output):
            assert t.dtype == tf.float64, layer.name
    for w in model.weights:
        assert w.dtype == tf.float64, w.name
    assert model(rng.normal(size=(1, 8, 8, 32))).dtype == tf.float64


def test_fit_updates_estimator_parameters(rng):
    model = _model()
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="mse")
    before = {id(w): w.numpy().copy() for w in model.weights}
    x = rng.normal(size=(4, 8, 8, 32)).astype("float32")
    model.fit(x, 0.5 * x, epochs=1, batch_size=2, verbose=0)
    estimator_params = [w for w in model.weights if any(k in w.name for k in ("alpha", "lambda"))]
    assert len(estimator_params) == 4  # tanh alpha, two ATISTE alphas, one shared lambda
    for w in estimator_params:
        assert not np.array_equal(before[id(w)], w.numpy()), w.name


def _tflite_ops(flatbuffer):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tf.lite.experimental.Analyzer.analyze(model_content=flatbuffer)
    return re.findall(r"Op#\d+ (\w+)\(", buffer.getvalue())


def test_binary_convs_convert_to_lce_bconv2d(rng):
    """ScaledSign (a MagnitudeAwareSign subclass) and the sign estimators stay true 1-bit in LCE."""
    model = _model()
    flatbuffer = lce.convert_keras_model(model)
    ops = _tflite_ops(flatbuffer)
    assert ops.count("LceBconv2d") == 3, ops
    assert "CONV_2D" not in ops, ops
    # Estimator parameters fold away: nothing but the quantize/bconv and elementwise ops.
    x = rng.normal(size=(1, 8, 8, 32)).astype("float32")
    interpreter = lce.tflite.python.interpreter.Interpreter(flatbuffer)
    got = interpreter.predict(x)
    want = model(x).numpy()
    close = np.isclose(got, want, rtol=1e-4, atol=1e-4)
    assert close.mean() > 0.99, close.mean()

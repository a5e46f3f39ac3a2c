"""SavedModel export: the round trip, the named serving signature, and what verification catches."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import layers as L
from larq_hsi.deploy import savedmodel
from larq_hsi.nn import blocks as B
from larq_hsi.nn.dtype import rebuilt_in
from tests.deploy.test_tflite import _block_model, _randomize

def _two_input_model():
    a = tf.keras.Input((8, 8, 32), name="H")
    b = tf.keras.Input((8, 8, 32), name="Phi")
    x = tf.keras.layers.Concatenate(name="cat")([a, b])
    x = B.bisr_fusion_down(x, "fd")
    x = L.ATISTEConv2D(32, 3, padding="same", use_bias=False, name="atiste")(x)
    return tf.keras.Model([a, b], x, name="two_inputs")


def test_savedmodel_round_trip_and_signature(tmp_path, rng):
    model = _randomize(_two_input_model(), rng)
    path = tmp_path / "saved"
    report = savedmodel.to_savedmodel(model, path)
    assert report.max_abs_diff == 0.0 and report.signature_mismatched == 0
    assert report.input_names == ["H", "Phi"]
    assert report.size_bytes > 0 and (path / "saved_model.pb").exists()
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    _, kwargs = signature.structured_input_signature
    assert set(kwargs) == {"H", "Phi"}
    assert kwargs["H"].shape.as_list() == [None, 8, 8, 32]
    x = {n: rng.normal(size=(3, 8, 8, 32)).astype("float32") for n in ("H", "Phi")}
    out = signature(**x)
    assert list(out) == report.output_names
    np.testing.assert_array_equal(out[report.output_names[0]].numpy(),
                                  model([x["H"], x["Phi"]]).numpy())
    reloaded = tf.keras.models.load_model(str(path))  # no custom_objects needed
    assert isinstance(reloaded.get_layer("atiste"), L.ATISTEConv2D)


def test_reloaded_model_trains_with_the_quantizers_gradients(tmp_path, rng):
    """The custom gradients are not saved into the graph: a reloaded model gets them from its classes."""
    model = _randomize(_two_input_model(), rng)
    savedmodel.to_savedmodel(model, tmp_path / "saved", verify=False)
    reloaded = savedmodel.load(tmp_path / "saved")
    x = [tf.constant(rng.normal(size=(2, 8, 8, 32)).astype("float32")) for _ in range(2)]

    def gradients(m):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(m(x, training=True) ** 2)
        return [g.numpy() for g in tape.gradient(loss, m.trainable_weights)]

    want, got = gradients(model), gradients(reloaded)
    assert len(want) == len(got) == len(model.trainable_weights)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    # a sign without its estimator would pass no gradient to the layers before it
    assert all(np.any(g != 0) for g in got)


def test_savedmodel_verify_catches_a_mismatch(tmp_path, rng, monkeypatch):
    model = _randomize(_block_model("bisr_conv_3x3", size=8), rng)
    original = tf.keras.models.load_model

    def tampered(path, *args, **kwargs):
        restored = original(path, *args, **kwargs)
        restored.get_layer("conv.relu").zeta.assign_add(tf.ones((32,)))
        return restored

    monkeypatch.setattr(tf.keras.models, "load_model", tampered)
    with pytest.raises(AssertionError, match=re.escape("load_model gives max |diff|")):
        savedmodel.to_savedmodel(model, tmp_path / "saved")


def test_savedmodel_verify_catches_a_miswired_signature(tmp_path, rng, monkeypatch):
    """A serving signature that feeds one input twice (a wiring fault) fails the SNR bound."""
    model = _randomize(_two_input_model(), rng)
    original = tf.saved_model.load

    class Miswired:
        def __init__(self, loaded):
            signature = loaded.signatures["serving_default"]
            self.signatures = {"serving_default": lambda H, Phi: signature(H=H, Phi=H)}

    monkeypatch.setattr(tf.saved_model, "load", lambda path, *a, **k: Miswired(original(path, *a, **k)))
    with pytest.raises(AssertionError, match=r"serving signature agrees only to .* against the float64 twin: "
                                             r"signature -?\d+\.\d dB, Keras model \d+\.\d dB"):
        savedmodel.to_savedmodel(model, tmp_path / "saved")



def _rounding_flip_model():
    """sign(k x + b) on a pixel where float32 rounds k x + b to 0 (sign +1) and float64 gives -2.8e-8."""
    import larq as lq

    x = tf.keras.Input((4, 4, 1), name="H")
    h = L.SpectralRedistribution(name="shift")(x)
    y = lq.layers.QuantConv2D(1, 1, input_quantizer="ste_sign", kernel_quantizer=None, use_bias=False,
                              kernel_initializer="ones", name="sign")(h)
    model = tf.keras.Model(x, y, name="flips")
    model.get_layer("shift").set_weights([np.array([0.6108878], np.float32), np.array([-1.0], np.float32)])
    return model, np.full((1, 4, 4, 1), 1.6369617, np.float32)


def test_float32_rounding_of_the_keras_model_itself_is_judged_against_float64(tmp_path, monkeypatch):
    """When the Keras float32 result is the one that flipped, a signature that equals the exact
    (float64) result passes, and the report says how far each is from it."""
    model, x = _rounding_flip_model()
    twin = rebuilt_in(model, "float64")
    assert model(x).numpy().min() == 1.0 and twin(x.astype(np.float64)).numpy().max() == -1.0
    exact_signature = {model.output_names[0]: tf.cast(twin(x.astype(np.float64)), tf.float32)}
    original = tf.saved_model.load

    class Exact:
        def __init__(self, loaded):
            self.signatures = {"serving_default": lambda H: exact_signature}

    monkeypatch.setattr(tf.saved_model, "load", lambda path, *a, **k: Exact(original(path, *a, **k)))
    report = savedmodel.to_savedmodel(model, tmp_path / "saved", inputs=x)
    assert report.signature_snr < savedmodel.SIGNATURE_MIN_SNR
    assert report.float64_snr["signature"] == float("inf")
    assert report.float64_snr["keras"] < 0  # every output flipped: the error is twice the signal


def test_a_signature_off_the_float64_result_fails_even_when_keras_float32_is_off_too(tmp_path, monkeypatch):
    """The Keras float32 run being far from float64 does not lower the bar: all zeros still fail."""
    model, x = _rounding_flip_model()
    original = tf.saved_model.load
    zeros = {model.output_names[0]: tf.zeros((1, 4, 4, 1))}

    class Zeros:
        def __init__(self, loaded):
            self.signatures = {"serving_default": lambda H: zeros}

    monkeypatch.setattr(tf.saved_model, "load", lambda path, *a, **k: Zeros(original(path, *a, **k)))
    with pytest.raises(AssertionError, match=r"against the float64 twin: signature 0\.0 dB, Keras model -\d"):
        savedmodel.to_savedmodel(model, tmp_path / "saved", inputs=x)


def test_a_trained_model_is_saved_without_its_optimizer_state(tmp_path, rng):
    model = _randomize(_two_input_model(), rng)
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(1e-3), loss="mse")
    x = [rng.normal(size=(2, 8, 8, 32)).astype("float32") for _ in range(2)]
    model.fit(x, rng.normal(size=(2, 8, 8, 32)).astype("float32"), epochs=1, verbose=0)
    assert model.optimizer.variables()  # Adam's slots exist
    path = tmp_path / "saved"
    savedmodel.to_savedmodel(model, path, inputs=[a[:1] for a in x])
    names = [name for name, _ in tf.train.list_variables(str(path / "variables" / "variables"))]
    assert not [n for n in names if "optimizer" in n.lower()]  # no Adam slots, no step counter
    assert len([n for n in names if n.endswith("VARIABLE_VALUE")]) == len(model.weights)

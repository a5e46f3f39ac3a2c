"""`default_dtype`: the one place a model's dtype is set while it is built."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.nn import blocks
from larq_hsi.nn import quantizers as q
from larq_hsi.nn.dtype import default_dtype, rebuilt_in


def _state():
    return tf.keras.backend.floatx(), tf.keras.mixed_precision.global_policy().name


def test_inputs_layers_and_alias_quantizers_are_built_in_the_dtype():
    before = _state()
    assert before == ("float32", "float32")
    with default_dtype(tf.float64) as name:
        assert name == "float64"
        assert _state() == ("float64", "float64")
        x = tf.keras.Input((4, 4, 2))
        conv = lq.layers.QuantConv2D(
            3, 3, padding="same", input_quantizer="ste_sign", kernel_quantizer="tanh_sign"
        )
        dense = tf.keras.layers.Dense(2)
        y = dense(conv(x))
        copied = q.make_quantizer(q.TanhSign(dtype="float32"))  # a template's dtype is not kept
    assert x.dtype == tf.float64
    assert y.dtype == tf.float64
    assert conv.dtype == dense.dtype == "float64"
    assert conv.kernel.dtype == dense.kernel.dtype == tf.float64
    assert type(conv.input_quantizer) is lq.quantizers.SteSign  # built from an alias
    assert type(conv.kernel_quantizer) is q.TanhSign
    assert conv.input_quantizer.dtype == conv.kernel_quantizer.dtype == "float64"
    assert conv.kernel_quantizer.alpha.dtype == tf.float64
    assert copied.dtype == "float64"
    # Restored on exit: new layers, inputs and quantizers are float32 again.
    assert _state() == before
    assert tf.keras.Input((2,)).dtype == tf.float32
    assert tf.keras.layers.Dense(1).dtype == "float32"
    assert lq.quantizers.get("tanh_sign").dtype == "float32"


def test_state_is_restored_after_an_exception_and_when_nested():
    before = _state()
    with pytest.raises(RuntimeError, match="while building"):
        with default_dtype("float64"):
            assert _state() == ("float64", "float64")
            raise RuntimeError("while building")
    assert _state() == before
    with default_dtype("float64"):
        with pytest.raises(ValueError, match="inner"):
            with default_dtype("float16"):
                assert _state() == ("float16", "float16")
                raise ValueError("inner")
        assert _state() == ("float64", "float64")  # the outer block's dtype, not float32
    assert _state() == before


def test_rebuilt_in_float64_is_the_float64_build_with_the_same_weights(rng):
    def build():
        x = tf.keras.Input((8, 8, 16), name="x")
        return tf.keras.Model(x, blocks.bisr_upsample(blocks.bisr_fusion_down(x, "fd"), "up"))

    model = build()
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype(np.float32))
    twin = rebuilt_in(model, "float64")
    with default_dtype("float64"):
        built = build()
    for path, variable in model.get_weight_paths().items():
        built.get_weight_paths()[path].assign(variable.numpy().astype(np.float64))
    assert {layer.dtype for layer in twin.layers} == {"float64"}
    x = rng.normal(size=(2, 8, 8, 16))
    np.testing.assert_array_equal(twin(x).numpy(), built(x).numpy())
    assert twin(x).dtype == tf.float64


def test_rebuilt_in_changes_only_floating_point_dtypes():
    ids = tf.keras.Input((3,), dtype="int32", name="ids")
    model = tf.keras.Model(ids, tf.keras.layers.Embedding(5, 2, name="embed")(ids))
    twin = rebuilt_in(model, "float64")
    assert twin.inputs[0].dtype == tf.int32 and twin.get_layer("embed").dtype == "float64"
    x = np.array([[0, 3, 4]], np.int32)
    np.testing.assert_array_equal(twin(x).numpy(), model(x).numpy().astype(np.float64))

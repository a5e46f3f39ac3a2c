"""HS-BiNet, its binary units (Table 4's estimators) and the deformable convolution, against closed forms and NumPy."""

import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import complexity
from larq_hsi.models.hsbinet import HSBiNet
from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as Q
from larq_hsi.nn.deformable import DeformableConv2D, bilinear_sample
from larq_hsi.nn.layers import HighPass, Resize
from larq_hsi.nn.quantizers import ScaledApproxSign
from larq_hsi.nn.units import HSBINET_UNITS, hsbinet_conv

F64 = "float64"


# --------------------------------------------------------------------------- deformable conv


def np_bilinear_zero(img, y, x):
    """img (H, W, C) read at real (y, x) by bilinear interpolation, zeros outside."""
    h, w, _ = img.shape
    y0, x0 = math.floor(y), math.floor(x)
    out = np.zeros(img.shape[-1])
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * img[yy, xx]
    return out


def np_deformable_conv(x, offsets, kernel, bias):
    """Direct DCNv1: y(p) = b + sum_k W_k^T x(p + p_k + dp_k), loops over pixels and taps."""
    n, h, w, _ = x.shape
    kh, kw, _, out_ch = kernel.shape
    y = np.zeros((n, h, w, out_ch))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                acc = bias.copy()
                for a in range(kh):
                    for c in range(kw):
                        k = a * kw + c
                        dy, dx = offsets[b, i, j, 2 * k], offsets[b, i, j, 2 * k + 1]
                        v = np_bilinear_zero(x[b], i + a - (kh - 1) / 2 + dy, j + c - (kw - 1) / 2 + dx)
                        acc = acc + v @ kernel[a, c]
                y[b, i, j] = acc
    return y


def test_deformable_conv_with_zero_offsets_is_a_plain_conv(rng):
    x = rng.normal(size=(2, 5, 6, 3))
    layer = DeformableConv2D(4, 3, bias_initializer="random_normal", dtype=F64)
    out = layer([x, np.zeros((2, 5, 6, 18))]).numpy()
    conv = tf.keras.layers.Conv2D(4, 3, padding="same", dtype=F64)
    conv.build(x.shape)
    conv.kernel.assign(layer.kernel)
    conv.bias.assign(layer.bias)
    np.testing.assert_allclose(out, conv(x).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel_size", [3, (1, 3)])
def test_deformable_conv_matches_direct_gather(kernel_size, rng):
    x = rng.normal(size=(2, 4, 5, 2))
    taps = 9 if kernel_size == 3 else 3
    # Fractional offsets, some reaching outside the image (zero padding).
    offsets = rng.uniform(-2.5, 2.5, size=(2, 4, 5, 2 * taps))
    layer = DeformableConv2D(3, kernel_size, bias_initializer="random_normal", dtype=F64)
    out = layer([x, offsets]).numpy()
    expected = np_deformable_conv(x, offsets, layer.kernel.numpy(), layer.bias.numpy())
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_deformable_conv_offset_gradient_matches_finite_differences(rng):
    x = rng.normal(size=(1, 3, 3, 1))
    offsets = rng.uniform(0.1, 0.4, size=(1, 3, 3, 18))  # away from integer kinks
    layer = DeformableConv2D(1, 3, use_bias=False, dtype=F64)
    off = tf.Variable(offsets)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer([x, off]))
    grad = tape.gradient(total, off).numpy()
    eps = 1e-6
    for index in [(0, 1, 1, 0), (0, 1, 1, 9), (0, 0, 2, 17)]:
        plus, minus = offsets.copy(), offsets.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric = (layer([x, plus]).numpy().sum() - layer([x, minus]).numpy().sum()) / (2 * eps)
        assert grad[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bilinear_sample_equals_tfa_resampler_values_and_gradients(dtype, rng):
    """The core-op sampler (which TFLite converts) computes what tfa's custom op computes."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow_addons as tfa

    x = tf.constant(rng.normal(size=(2, 6, 7, 3)), dtype)
    rows = tf.constant(rng.uniform(-3, 9, size=(2, 6, 7, 4)), dtype)  # many outside the image
    cols = tf.constant(rng.uniform(-3, 10, size=(2, 6, 7, 4)), dtype)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, rows, cols])
        ours = bilinear_sample(x, rows, cols)
        theirs = tfa.image.resampler(x, tf.stack([cols, rows], axis=-1))
        loss_ours, loss_theirs = tf.reduce_sum(ours**2), tf.reduce_sum(theirs**2)
    tol = 1e-12 if dtype == F64 else 1e-5
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol)
    for a, b in zip(tape.gradient(loss_ours, [x, rows, cols]), tape.gradient(loss_theirs, [x, rows, cols])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "nearest"])
def test_resize_by_matrices_equals_tf_image_resize(method, rng):
    x = rng.normal(size=(2, 5, 7, 3)).astype("float32")
    layer = Resize(4, method)
    out = layer(x)
    assert layer._matrices is not None  # the static-size (exportable) path
    np.testing.assert_allclose(out.numpy(), tf.image.resize(x, [20, 28], method=method).numpy(),
                               atol=2e-6)
    dynamic = tf.function(layer.call).get_concrete_function(tf.TensorSpec((None, None, None, 3)))
    np.testing.assert_allclose(dynamic(tf.constant(x[:, :4, :6])).numpy(),
                               tf.image.resize(x[:, :4, :6], [16, 24], method=method).numpy(),
                               atol=1e-6)


def test_deformable_conv_rejects_bad_arguments():
    with pytest.raises(ValueError, match="18 channels"):
        DeformableConv2D(2, 3)([tf.keras.Input((4, 4, 1)), tf.keras.Input((4, 4, 8))])
    with pytest.raises(ValueError, match="odd kernel"):
        DeformableConv2D(2, 2)
    with pytest.raises(ValueError, match="strides"):
        DeformableConv2D(2, 3, strides=2)
    with pytest.raises(ValueError, match=r"two inputs \[x, offsets\]"):
        DeformableConv2D(2, 3)(tf.keras.Input((4, 4, 1)))


# --------------------------------------------------------------------------- pieces


def test_high_pass_is_zero_on_constants_and_removes_the_box_mean():
    layer = HighPass(3, dtype=F64)
    np.testing.assert_allclose(layer(np.full((1, 5, 5, 1), 0.7)).numpy(), 0.0, atol=1e-15)
    impulse = np.zeros((1, 5, 5, 1))
    impulse[0, 2, 2, 0] = 1.0
    out = layer(impulse).numpy()[0, ..., 0]
    assert out[2, 2] == pytest.approx(8 / 9)
    assert out[1, 1] == pytest.approx(-1 / 9)
    assert out[0, 0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="odd integer"):
        HighPass(2)


def test_scaled_approx_sign_forward_and_gradient(rng):
    w = tf.Variable(rng.uniform(-1.5, 1.5, size=(3, 3, 2, 4)))
    q = ScaledApproxSign(dtype=F64)
    with tf.GradientTape() as tape:
        out = q(w)
        total = tf.reduce_sum(out)
    wn = w.numpy()
    scale = np.abs(wn).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(out.numpy(), scale * np.where(wn >= 0, 1.0, -1.0), rtol=1e-14)
    expected = np.where(np.abs(wn) <= 1, 2 - 2 * np.abs(wn), 0.0)
    np.testing.assert_allclose(tape.gradient(total, w).numpy(), expected, rtol=1e-14)


def test_kaiming_initialised_atiste_conv_has_kaiming_scale():
    x = tf.keras.Input((8, 8, 32))
    model = tf.keras.Model(x, hsbinet_conv(x, "c", 64, 3, seed=3))
    conv = model.get_layer("c.binary_conv")
    assert isinstance(conv, L.ATISTEConv2D)
    w = conv.kernel.latent_variable.numpy()
    fan_in = 3 * 3 * 32
    assert w.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)
    assert abs(w.mean()) < 0.05 * math.sqrt(2 / fan_in)
    # The forward kernel mean|W|_c sign(W): half-normal mean sqrt(2/pi) * sigma per channel.
    with lq.context.quantized_scope(True):
        binary = conv.kernel.numpy()
    magnitude = np.abs(binary).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(magnitude, math.sqrt(2 / math.pi) * math.sqrt(2 / fan_in), rtol=0.1)
    np.testing.assert_allclose(np.abs(binary), np.broadcast_to(magnitude, binary.shape), rtol=1e-5)


# --------------------------------------------------------------------------- the network

BINARY = {
    "msfe.conv3": (3, "C", "C"),
    "msfe.conv5": (5, "C", "C"),
    "msfe.conv7": (7, "C", "C"),
    "msfe.reduce": (1, "3C", "C"),
    "edge": (3, "1", "C"),
    "fusion": (3, "2C", "C"),
    "decoder.conv": (3, "C", "C"),
    "decoder.attention": (1, "B", "B"),
}
FULL_PRECISION = {"upsample.offsets", "upsample.deform_conv", "head", "decoder.project"}


def _binary_names(num_blocks):
    names = set(BINARY)
    for i in range(num_blocks):
        names |= {f"msfe.blocks.{i}.conv1", f"msfe.blocks.{i}.conv2"}
    return {f"{n}.binary_conv" for n in names}


def _closed_form_binary_macs(bands, hidden, num_blocks, pixels):
    c = hidden
    size = {"C": c, "3C": 3 * c, "2C": 2 * c, "1": 1, "B": bands}
    total = 0
    for name, (k, cin, cout) in BINARY.items():
        px = 1 if name == "decoder.attention" else pixels
        total += k * k * size[cin] * size[cout] * px
    return total + num_blocks * 2 * 9 * c * c * pixels


@pytest.fixture(scope="module")
def small_model():
    return HSBiNet(bands=6, ratio=4, hidden=8, num_blocks=2, input_size=(4, 4))


def test_hsbinet_shapes_and_binary_layers(small_model):
    model = small_model
    assert [tuple(i.shape) for i in model.inputs] == [(None, 4, 4, 6), (None, 16, 16, 1)]
    assert model.output_shape == (None, 16, 16, 6)
    convs = {l.name: l for l in model.layers if isinstance(l, tf.keras.layers.Conv2D)}
    binary = {n for n, l in convs.items() if isinstance(l, lq.layers.QuantConv2D)}
    assert binary == _binary_names(2)
    assert set(convs) - binary == FULL_PRECISION
    for name in binary:
        layer = convs[name]
        assert isinstance(layer, L.ATISTEConv2D)
        assert layer.input_quantizer.precision == 1 and layer.kernel_quantizer.precision == 1
        assert layer.kernel_quantizer.lam is layer.input_quantizer.lam  # one lambda per layer
    assert [convs[f"msfe.conv{k}.binary_conv"].kernel_size for k in (3, 5, 7)] == [(3, 3), (5, 5), (7, 7)]
    norms = [l.name for l in model.layers if isinstance(l, tf.keras.layers.BatchNormalization)]
    assert sorted(norms) == sorted(f"msfe.blocks.{i}.conv{j}.norm" for i in range(2) for j in (1, 2))


def test_hsbinet_binary_macs_in_summary_match_the_architecture(small_model, capsys):
    expected = _closed_form_binary_macs(bands=6, hidden=8, num_blocks=2, pixels=16 * 16)
    assert complexity.profile(small_model).binary_macs == expected
    assert lq.models.ModelProfile(small_model).op_count("mac", 1) == expected
    lq.models.summary(small_model)
    printed = capsys.readouterr().out
    for name in _binary_names(2):
        row = next(line for line in printed.splitlines() if f" {name} " in line)
        assert row.split("|")[1].split()[1] == "1"  # input precision column: 1 bit


def test_hsbinet_starts_as_bicubic_upsampling_plus_decoder(rng):
    model = HSBiNet(bands=5, ratio=3, hidden=4, num_blocks=1, input_size=(4, 5), dtype=F64)
    lrhs = rng.uniform(size=(2, 4, 5, 5))
    pan = rng.uniform(size=(2, 12, 15, 1))
    bicubic = tf.image.resize(lrhs, (12, 15), method="bicubic").numpy()
    f0 = tf.keras.Model(model.inputs, model.get_layer("upsample.add").output)([lrhs, pan]).numpy()
    np.testing.assert_allclose(f0, bicubic, rtol=1e-6, atol=1e-6)
    # The decoder's projection starts at zero: the output is the global residual alone.
    np.testing.assert_allclose(model([lrhs, pan]).numpy(), bicubic, rtol=1e-6, atol=1e-6)
    # Once it is non-zero the decoder's (attention-scaled) projection is added on top.
    project = model.get_layer("decoder.project")
    project.bias.assign(np.arange(1.0, 6.0))
    decoder = tf.keras.Model(model.inputs, model.get_layer("decoder.attention.scale").output)([lrhs, pan])
    np.testing.assert_allclose(model([lrhs, pan]).numpy(), bicubic + decoder.numpy(), rtol=1e-6, atol=1e-6)
    assert np.abs(decoder.numpy()).min() > 0


@pytest.mark.parametrize("unit", HSBINET_UNITS)
def test_unit_variants(unit, rng):
    model = HSBiNet(bands=4, ratio=2, hidden=4, num_blocks=1, input_size=(4, 4), unit=unit)
    out = model([rng.uniform(size=(1, 4, 4, 4)), rng.uniform(size=(1, 8, 8, 1))]).numpy()
    assert out.shape == (1, 8, 8, 4) and np.all(np.isfinite(out))
    convs = [l for l in model.layers if isinstance(l, lq.layers.QuantConv2D)]
    assert {c.name for c in convs} == _binary_names(1)
    names = {l.name for l in model.layers}
    types = {type(c.input_quantizer) for c in convs}, {type(c.kernel_quantizer) for c in convs}
    has_norm = any(isinstance(l, tf.keras.layers.BatchNormalization) for l in model.layers)
    if unit == "atiste":
        assert types == ({Q.ATISTE}, {Q.ScaledATISTE})
        assert all(isinstance(c, L.ATISTEConv2D) for c in convs) and has_norm
    elif unit == "bnn":
        assert types == ({lq.quantizers.SteSign}, {lq.quantizers.SteSign})
        assert all(isinstance(c.kernel_constraint, lq.constraints.WeightClip) for c in convs) and has_norm
    elif unit == "reactnet":
        assert types == ({lq.quantizers.ApproxSign}, {Q.ScaledSign}) and has_norm
        for c in convs:
            base = c.name[: -len(".binary_conv")]
            assert isinstance(model.get_layer(f"{base}.bias"), L.LearnableBias)
            assert isinstance(model.get_layer(f"{base}.act"), L.RPReLU)
    else:
        assert types == ({lq.quantizers.ApproxSign}, {ScaledApproxSign}) and not has_norm
        assert all(isinstance(model.get_layer(f"{c.name[:-12]}.act"), tf.keras.layers.PReLU) for c in convs)
        assert all(isinstance(c.kernel_initializer, tf.keras.initializers.GlorotUniform) for c in convs)
        assert not any(n.endswith(".bias") for n in names)


def test_hsbinet_saves_and_loads(tmp_path, rng):
    model = HSBiNet(bands=3, ratio=2, hidden=4, num_blocks=1, input_size=(4, 4))
    for w in model.trainable_weights:
        if "deform_conv" in w.name or "offsets" in w.name:
            w.assign(0.05 * rng.normal(size=w.shape))
    x = [rng.uniform(size=(2, 4, 4, 3)).astype("float32"), rng.uniform(size=(2, 8, 8, 1)).astype("float32")]
    model.save(tmp_path / "m", save_traces=False)
    loaded = tf.keras.models.load_model(tmp_path / "m", compile=False)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    conv = loaded.get_layer("fusion.binary_conv")
    assert conv.kernel_quantizer.lam is conv.input_quantizer.lam


def test_hsbinet_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unit must be one of"):
        HSBiNet(4, unit="xnor")
    with pytest.raises(ValueError, match="bands must be an integer >= 1, got 0"):
        HSBiNet(0)
    with pytest.raises(ValueError, match="input_size"):
        HSBiNet(4, input_size=(16,))
    with pytest.raises(ValueError, match="unknown option"):
        HSBiNet(4, hidden=4, num_blocks=0, atiste={"beta": 1.0})
    with pytest.raises(ValueError, match="kernel_initializer"):
        HSBiNet(4, hidden=4, num_blocks=0, kernel_initializer="nope")

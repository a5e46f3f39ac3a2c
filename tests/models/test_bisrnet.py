"""BiSRNet and its base model: structure, complexity figures, dtypes, Keras workflows, bad input."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import complexity
from larq_hsi.checks import check_inputs, reconstruct
from larq_hsi.models import BiSRBaseModel, BiSRNet, part_prefixes
from larq_hsi.models.bisrnet import start_at_input


@pytest.fixture(scope="module")
def paper_model():
    return BiSRNet()


def test_exact_counts_at_256(paper_model):
    p = complexity.profile(paper_model)
    assert p.binary_params == 611_072
    assert p.float_params == 48_247
    assert p.binary_macs == 9_439_281_152
    assert p.float_macs == 1_027_604_480
    assert p.storage_bytes == pytest.approx(611_072 / 8 + 48_247 * 4)
    assert round(p.storage_bytes / 1e3) == 269


def test_paper_convention_matches_tables_1_and_2a(paper_model):
    p = complexity.profile(paper_model)
    assert round(p.paper_ops / 1e9, 2) == 1.18  # Table 1
    assert round(p.paper_ops / 1e6) == 1175  # Table 2a prints 1176 M
    assert round(p.paper_params / 1e3, 2) == pytest.approx(35.81, abs=0.02)  # Table 2a: 35.81 K
    assert "paper OPs" in str(p)


def test_larq_summary_sees_every_binary_conv(paper_model, capsys):
    lq.models.summary(paper_model)
    assert "1-bit MACs" in capsys.readouterr().out
    profile = lq.models.ModelProfile(paper_model)
    binary_layers = [l for l in paper_model.layers if isinstance(l, lq.layers.QuantConv2D)]
    # embedding + mapping, 9 per block x 5 blocks, 2 per down/upsample and decoder fusion x 2 scales
    assert len(binary_layers) == 1 + 1 + 9 * 5 + 3 * 2 * 2
    rows = {r.name: r for r in profile.layer_profiles}
    total = 0
    for layer in binary_layers:
        row = rows[layer.name]
        assert row.input_precision == 1
        kernel = int(np.prod(layer.kernel.shape))
        assert row.weight_count(bitwidth=1) == kernel
        total += row.op_count("mac", 1)
    assert total == 9_439_281_152


def test_base_model_figures():
    base = BiSRBaseModel()
    p = complexity.profile(base)
    assert p.binary_params == 0 and p.binary_macs == 0
    assert base.count_params() == pytest.approx(634e3, rel=1e-3)  # Table 2d text: 634 K
    assert p.float_macs / 1e9 == pytest.approx(10.47, abs=0.005)  # paper: 10.52 G
    # No binarized part: the papers' convention is the plain count.
    assert p.part_params == p.part_macs == 0
    assert p.paper_params == base.count_params()
    assert p.paper_ops == p.float_macs


@pytest.mark.parametrize(
    "part,ops_f,params_f",
    [("encoder", 3390e6, 177_878), ("bottleneck", 1096e6, 278_889), ("decoder", 5005e6, 186_562)],
)
def test_table_2d_parts_within_2_percent(paper_model, part, ops_f, params_f):
    p = complexity.profile(paper_model, binarized=part_prefixes([part]))
    assert p.part_macs == pytest.approx(ops_f, rel=0.02)
    assert p.part_params == pytest.approx(params_f, rel=0.02)
    assert p.part_macs / 64 == pytest.approx(ops_f / 64, rel=0.02)  # OPs_b
    assert p.part_params / 32 == pytest.approx(params_f / 32, rel=0.02)  # Params_b


@pytest.mark.parametrize("part", ["encoder", "bottleneck", "decoder"])
def test_base_model_binarizes_only_the_chosen_part(part):
    model = BiSRBaseModel(binarize=[part], input_size=(32, 32))
    prefixes = part_prefixes([part])
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D) and layer.name.startswith("body."):
            assert isinstance(layer, lq.layers.QuantConv2D) == layer.name.startswith(prefixes), layer.name


def test_any_size_model_pads_and_crops(rng):
    model = BiSRNet(input_size=None)
    x = [rng.uniform(size=(1, 20, 36, 28)).astype("float32") for _ in range(2)]
    assert model(x).shape == (1, 20, 36, 28)


def test_real_variant_shifts_back_inside(rng):
    model = BiSRNet(variant="real", input_size=(24, 24))
    assert [tuple(i.shape) for i in model.inputs] == [(None, 24, 24 + 54)]
    assert model(rng.uniform(size=(1, 24, 78)).astype("float32")).shape == (1, 24, 24, 28)
    assert not any(l.name == "fution" for l in model.layers)
    assert tuple(BiSRNet(variant="real").inputs[0].shape) == (None, 660, 714)


def test_float64_model_every_layer_is_float64(rng):
    model = BiSRNet(input_size=(16, 16), dtype="float64")
    for layer in model.layers:
        for t in tf.nest.flatten(layer.output):
            assert t.dtype == tf.float64, layer.name
    for w in model.weights:
        assert w.dtype == tf.float64, w.name


def _small_data(rng, n=2, size=16):
    cube = rng.uniform(size=(n, size, size, 28)).astype("float32")
    mask = np.repeat((rng.uniform(size=(n, size, size, 1)) > 0.5).astype("float32"), 28, -1)
    return [cube * mask, mask], cube


def rmse(y_true, y_pred):
    return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))


def test_fit_reduces_rmse(rng):
    tf.keras.utils.set_random_seed(0)
    # One scale instead of two: the same code path, half the graph to trace.
    model = BiSRNet(input_size=(16, 16), num_blocks=(1, 1))
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(2e-3), loss=rmse)
    x, y = _small_data(rng)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=8, batch_size=2, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before, (before, after)


def test_checkpoint_and_savedmodel_round_trips(rng, tmp_path):
    model = BiSRNet(input_size=(16, 16))
    for w in model.weights:
        w.assign(w + rng.normal(scale=0.05, size=w.shape).astype("float32"))
    x, _ = _small_data(rng, n=1)
    want = model(x).numpy()

    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    fresh = BiSRNet(input_size=(16, 16))
    tf.train.Checkpoint(model=fresh).restore(path).assert_existing_objects_matched()
    np.testing.assert_array_equal(fresh(x).numpy(), want)

    # save_traces=False: rebuilt from configs on load (the package registers its
    # classes), 10x faster for a 300-layer model than tracing every layer.
    model.save(str(tmp_path / "saved"), save_traces=False)
    restored = tf.keras.models.load_model(str(tmp_path / "saved"))
    np.testing.assert_array_equal(restored(x).numpy(), want)


def test_no_retracing_per_batch(rng):
    model = BiSRNet(input_size=(16, 16))
    predict = tf.function(lambda h, m: model([h, m]))
    for _ in range(3):
        x, _ = _small_data(rng, n=1)
        predict(*x)
    assert predict.experimental_get_tracing_count() == 1


@pytest.fixture(scope="module")
def small_model():
    return BiSRNet(input_size=(16, 16))


def test_wrong_band_count_is_reported(small_model, rng):
    x, _ = _small_data(rng, n=1)
    with pytest.raises(ValueError, match="expected 28 bands.*got 27"):
        check_inputs(small_model, [x[0][..., :27], x[1][..., :27]])


def test_mismatched_mask_size_is_reported(rng):
    model = BiSRNet(input_size=None)
    h = rng.uniform(size=(1, 16, 16, 28))
    mask = rng.uniform(size=(1, 16, 24, 28))
    with pytest.raises(ValueError, match="'Phi' is 16x24 but 'H' is 16x16"):
        check_inputs(model, [h, mask])


def test_non_finite_input_is_reported(small_model, rng):
    x, _ = _small_data(rng, n=1)
    x[1][0, 3, 4, 5] = np.nan
    with pytest.raises(ValueError, match=r"input 'Phi' must be finite.*\(0, 3, 4, 5\)"):
        reconstruct(small_model, x)


def test_fixed_size_and_input_count_are_reported(small_model, rng):
    with pytest.raises(ValueError, match="expected 16 axis 1, got 20"):
        check_inputs(small_model, [np.zeros((1, 20, 16, 28)), np.zeros((1, 20, 16, 28))])
    with pytest.raises(ValueError, match="expects 2 input"):
        check_inputs(small_model, [np.zeros((1, 16, 16, 28))])


def test_reconstruct_adds_batch_axis(small_model, rng):
    x, _ = _small_data(rng, n=1)
    out = reconstruct(small_model, [x[0][0], x[1][0]])
    assert out.shape == (1, 16, 16, 28)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(variant="sim"), "variant"),
        (dict(features=32), "features"),
        (dict(input_size=(0, 8)), "input_size"),
        (dict(modules={"downsample": "strided"}), "modules"),
    ],
)
def test_bad_builder_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BiSRNet(**kwargs)


def test_normal_modules_ablation_builds():
    model = BiSRNet(input_size=(32, 32), modules={m: "normal" for m in
                                                  ("downsample", "upsample", "fusion_down", "fusion_up")})
    p = complexity.profile(model)
    assert p.binary_macs > 0
    assert any(l.name == "body.0.encoder_layers.0.1.binary_conv" for l in model.layers)


@pytest.mark.parametrize("variant", ["simulation", "real"])
def test_start_at_input_outputs_the_input_exactly(variant, rng):
    """fution = [I 0], conv_in = delta, conv_out = 0: the output is H (or the shifted-back measurement)."""
    model = start_at_input(BiSRNet(variant, input_size=None, dtype="float64"))
    if variant == "simulation":
        h = rng.uniform(0, 1, (1, 24, 24, 28))
        phi = rng.integers(0, 2, (1, 24, 24, 28)).astype(np.float64)
        out, expected = model([h, phi]).numpy(), h
    else:
        y = rng.uniform(0, 1, (1, 24, 24 + 2 * 27))
        out = model(y).numpy()
        expected = np.stack([y[:, :, 2 * k : 2 * k + 24] for k in range(28)], axis=-1)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_start_at_input_body_learns_after_the_first_step(rng):
    """conv_out = 0 cuts the body's gradient at step 0 only: after one Adam step it is nonzero."""
    model = start_at_input(BiSRNet(input_size=(16, 16)))
    h = rng.uniform(0, 1, (1, 16, 16, 28)).astype(np.float32)
    phi = rng.integers(0, 2, (1, 16, 16, 28)).astype(np.float32)
    target = np.clip(h + 0.1, 0, 1)
    body = [v for v in model.trainable_variables if v.name.startswith("body.0.embedding")]
    assert body
    optimizer = tf.keras.optimizers.legacy.Adam(1e-3)

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model([h, phi]) - target))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {v.name: g for v, g in zip(model.trainable_variables, grads)}

    first = step()
    assert all(float(tf.reduce_max(tf.abs(first[v.name]))) == 0.0 for v in body)
    assert float(tf.reduce_max(tf.abs(first["conv_out/kernel:0"]))) > 0
    second = step()
    assert any(float(tf.reduce_max(tf.abs(second[v.name]))) > 0 for v in body)


def test_start_at_input_needs_the_outer_convs():
    inputs = tf.keras.Input((8, 8, 28))
    model = tf.keras.Model(inputs, tf.keras.layers.Conv2D(28, 3, name="conv_in")(inputs))
    with pytest.raises(ValueError, match="'conv_out'"):
        start_at_input(model)

"""HS-BiNet's training recipe: the optimiser (coupled weight decay, cosine warm restarts) and a short fit."""

import math

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.models.hsbinet import HSBiNet
from larq_hsi.tasks.pansharpening.dataset import (
    extract_patches,
    pansharpening_training_data,
    synthetic_pansharpening,
)
from larq_hsi.tasks.pansharpening.recipe import compile_for_pansharpening
from larq_hsi.training import optim

# --------------------------------------------------------------------------- optimiser


def _np_adam(grads, w0, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    """Keras's Adam on g + wd * w, step by step."""
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def test_coupled_weight_decay_is_adam_on_the_decayed_gradient(rng):
    w0, a0 = rng.normal(size=5), rng.normal(size=3)
    w, a = tf.Variable(w0), tf.Variable(a0)
    opt = optim.CoupledWeightDecayAdam(0.01, weight_decay=0.5, exclude=[a])
    reference = tf.keras.optimizers.Adam(0.01, epsilon=1e-8)
    w_ref = tf.Variable(w0)
    gw = [rng.normal(size=5) for _ in range(3)]
    ga = [rng.normal(size=3) for _ in range(3)]
    for g1, g2 in zip(gw, ga):
        opt.apply_gradients([(tf.constant(g1), w), (tf.constant(g2), a)])
        reference.apply_gradients([(tf.constant(g1) + 0.5 * w_ref, w_ref)])
    # Keras keeps the learning rate and betas in float32: 1e-5 relative agreement with float64 NumPy.
    np.testing.assert_allclose(w.numpy(), _np_adam(gw, w0, 0.01, 0.5), rtol=1e-5)
    np.testing.assert_allclose(w.numpy(), w_ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.numpy(), _np_adam(ga, a0, 0.01, 0.0), rtol=1e-5)
    # ... and the decay is visible: without it the weights would differ by far more.
    assert np.abs(w.numpy() - _np_adam(gw, w0, 0.01, 0.0)).max() > 1e-3


def test_paper_optimizer_excludes_exactly_the_estimator_parameters():
    model = HSBiNet(bands=3, ratio=2, hidden=4, num_blocks=0, input_size=(2, 2))
    opt = optim.paper_optimizer(model, steps_per_epoch=10)
    excluded = {v.name for v in model.trainable_variables if not opt.decays(v)}
    quantizer = {v.name for v in model.trainable_variables if v.name.endswith(("/alpha:0", "/lambda:0"))}
    assert excluded == quantizer and quantizer
    assert opt.decays(model.get_layer("fusion.binary_conv").kernel)
    btm = HSBiNet(bands=3, ratio=2, hidden=4, num_blocks=0, input_size=(2, 2), unit="btm")
    # BTM has no estimator parameters: everything decays, PReLU slopes ("alpha") included.
    assert all(optim.paper_optimizer(btm, 10).decays(v) for v in btm.trainable_variables)


def test_cosine_warm_restarts_schedule():
    schedule = optim.cosine_warm_restarts(steps_per_epoch=10, learning_rate=1e-3, t0_epochs=5, t_mult=2,
                                          min_learning_rate=1e-5)
    mid = (1e-3 + 1e-5) / 2
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(25)) == pytest.approx(mid)  # half of the first 50-step cycle
    assert float(schedule(49.999)) == pytest.approx(1e-5, rel=1e-3)
    assert float(schedule(50)) == pytest.approx(1e-3)  # restart
    assert float(schedule(100)) == pytest.approx(mid)  # half of the second, 100-step cycle
    assert float(schedule(150)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        optim.cosine_warm_restarts(0)


# --------------------------------------------------------------------------- training


def test_train_runs_the_recipe_on_synthetic_patches():
    data = extract_patches(synthetic_pansharpening(count=1, size=32, bands=4, ratio=4, seed=1), crop_size=16)
    model = HSBiNet(bands=4, ratio=4, hidden=4, num_blocks=1, input_size=(4, 4), seed=0)
    before = [w.numpy().copy() for w in model.trainable_weights]
    train_data = pansharpening_training_data(data, batch_size=4, seed=0)
    compile_for_pansharpening(model, steps_per_epoch=int(train_data.cardinality().numpy()), ratio=4)
    history = model.fit(train_data, epochs=2, verbose=0)
    assert isinstance(model.optimizer, optim.CoupledWeightDecayAdam)
    assert model.optimizer.iterations.numpy() == 2  # 4 patches, batch 4, 2 epochs
    assert {"loss", "psnr", "cc", "sam", "ergas"} <= set(history.history)
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    lam = model.get_layer("fusion.binary_conv").input_quantizer.lam.numpy()
    assert 0 <= lam <= 1
    # The L1 loss the model reports is the mean absolute error of its predictions.
    pred = model([data["ms"], data["pan"]], training=False).numpy()
    mae = np.mean(np.abs(pred - data["gt"]))
    assert model.evaluate([data["ms"], data["pan"]], data["gt"], verbose=0)[0] == pytest.approx(mae, rel=1e-5)


# --------------------------------------------------------------------------- a folder of cubes


def test_a_data_folder_trains_on_all_but_its_last_two_cubes(npy_folder, tmp_path):
    from larq_hsi.tasks.pansharpening.dataset import load_pansharpening_scenes
    from larq_hsi.tasks.pansharpening.evaluate import evaluate_model
    from larq_hsi.tasks.pansharpening.recipe import PansharpeningConfig

    folder, cubes = npy_folder
    config = PansharpeningConfig(out_dir=str(tmp_path / "run"), data=str(folder), crop_size=8, bands=31)
    train, held_out = config._samples
    # a.npy trains (cut into four 8x8 patches); b.npy and c.npy are held out whole.
    assert train["gt"].shape == (4, 8, 8, 8)
    np.testing.assert_array_equal(train["gt"][0], cubes[0][:8, :8])
    np.testing.assert_array_equal(held_out["gt"], np.stack(cubes[1:]))
    model = config.build_model()
    assert model.output_shape[-1] == 8  # the data's bands, not bands=31
    result = config.evaluate(model)
    assert set(result) >= {"PSNR", "CC", "SSIM", "SAM", "ERGAS", "bicubic", "figures"}
    everything = load_pansharpening_scenes(folder)
    direct = evaluate_model(model, {k: v[1:] for k, v in everything.items()})
    assert result["bicubic"] == direct["bicubic"] and result["PSNR"] == pytest.approx(direct["PSNR"])
    # ... and not of all three cubes.
    assert result["bicubic"]["PSNR"] != pytest.approx(evaluate_model(model, everything)["bicubic"]["PSNR"],
                                                      rel=1e-4)
    # A fresh HS-BiNet is the bicubic upsampling: its metrics are the baseline's.
    assert result["PSNR"] == pytest.approx(result["bicubic"]["PSNR"], abs=1e-3)
    one = PansharpeningConfig(out_dir="x", data=str(folder), validation_scenes=1)._samples
    assert len(one[0]["gt"]) == 2 and len(one[1]["gt"]) == 1
    assert PansharpeningConfig(out_dir="x", data=str(folder), validation_scenes=0)._samples[1] is None


def test_holding_out_every_cube_or_a_files_samples_is_refused(npy_folder, tmp_path, rng):
    import h5py

    from larq_hsi.tasks.pansharpening.recipe import PansharpeningConfig

    folder, _ = npy_folder
    with pytest.raises(ValueError, match="validation_scenes=3 leaves no training scene: .* holds 3 cube"):
        PansharpeningConfig(out_dir="x", data=str(folder), validation_scenes=3).training_data()
    with pytest.raises(ValueError, match="validation_scenes must be >= 0"):
        PansharpeningConfig(out_dir="x", validation_scenes=-1)
    sample = synthetic_pansharpening(count=2, size=16, bands=3, seed=0)
    path = tmp_path / "samples.h5"
    with h5py.File(path, "w") as f:
        for k, v in sample.items():
            f[k] = v
    assert PansharpeningConfig(out_dir="x", data=str(path))._samples[1] is None  # a file: as before
    with pytest.raises(ValueError, match=r"validation_scenes=1: .*samples\.h5 is a file"):
        PansharpeningConfig(out_dir="x", data=str(path), validation_scenes=1).training_data()
    synthetic = PansharpeningConfig(out_dir="x", scenes=1, scene_size=16, bands=3, validation_scenes=3)
    assert len(synthetic._samples[1]["gt"]) == 3


def test_steps_per_epoch_shorter_than_a_pass_runs_every_epoch():
    """Keras stops a finite dataset that runs out; the recipe repeats it when steps_per_epoch is set."""
    from larq_hsi.tasks.pansharpening.recipe import PansharpeningConfig

    config = PansharpeningConfig(out_dir="x", scenes=1, scene_size=32, bands=3, crop_size=16, batch_size=1,
                                 epochs=3, steps_per_epoch=3, validation_scenes=0)
    assert len(config._samples[0]["gt"]) == 4  # one pass is 4 batches; 3 epochs of 3 need 9
    model = HSBiNet(bands=3, ratio=4, hidden=4, num_blocks=0, input_size=None)
    config.compile(model)
    history = model.fit(config.training_data(), epochs=3, steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 3 and model.optimizer.iterations.numpy() == 9
    whole = PansharpeningConfig(out_dir="x", scenes=1, scene_size=32, bands=3, crop_size=16, batch_size=1)
    assert whole.training_data().cardinality().numpy() == 4  # steps_per_epoch=None: one pass per epoch

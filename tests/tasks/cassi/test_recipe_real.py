"""The real-system recipe: `CassiConfig(variant="real")` and `larq-hsi train --variant real`.

The real BiSRNet (`bisrnet-real`) takes the measurement alone, scaled as
\\(y = Y \\cdot 2/N \\cdot 1.2\\), trained with 11-bit shot noise and random
windows of the mask (docs/cassi.md, "Training the real-system model").
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import cli, io, metrics, training
from larq_hsi.deploy import savedmodel
from larq_hsi.models.bisrnet import BiSRNet, start_at_input
from larq_hsi.synthetic import synthetic_scenes
from larq_hsi.tasks.cassi import physics
from larq_hsi.tasks.cassi.evaluate import evaluate_model, score
from larq_hsi.tasks.cassi.recipe import REAL_MASK_SIZE, CassiConfig

TINY = dict(crop_size=32, synthetic_scenes=2, synthetic_size=48, validation_scenes=1)


def _scaled(measurement):
    """The real input written out: the reference's `meas / 28 * 2 * 1.2`, in float64."""
    return np.asarray(measurement, np.float64) / 28 * 2 * 1.2


def test_the_real_config_resolves_its_model_noise_and_mask():
    config = CassiConfig(out_dir="x", variant="real", **TINY)
    assert config.model == "bisrnet-real" and config.shot_noise is True
    assert CassiConfig(out_dir="x", variant="real", shot_noise=False).shot_noise is False  # explicit wins
    assert CassiConfig(out_dir="x").model == "bisrnet" and CassiConfig(out_dir="x").shot_noise is False
    assert CassiConfig(out_dir="x", shot_noise=True).shot_noise is True
    assert config.mask_array.shape == (REAL_MASK_SIZE, REAL_MASK_SIZE)  # random windows of a 660x660 stand-in


def test_real_data_is_the_scaled_measurement_and_the_cube(tmp_path):
    # An all-ones mask makes every window the same, so the noiseless input is known exactly.
    np.save(tmp_path / "ones.npy", np.ones((48, 48), np.float32))
    config = CassiConfig(out_dir="x", variant="real", mask=str(tmp_path / "ones.npy"), shot_noise=False, **TINY)
    y, cube = next(iter(config.training_data()))
    assert y.shape == (2, 32, 32 + 54) and cube.shape == (2, 32, 32, 28)
    expected = _scaled(physics.measure(tf.cast(cube, tf.float64), np.ones((32, 32))))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_real_data_carries_11_bit_shot_noise_through_windows_of_the_real_mask(shared_dir):
    mask = str(shared_dir / "data" / "cassi" / "mask_real_660.mat")
    noisy = CassiConfig(out_dir="x", variant="real", mask=mask, **TINY)
    clean = CassiConfig(out_dir="x", variant="real", mask=mask, shot_noise=False, **TINY)
    (y, cube), (y_clean, cube_clean) = next(iter(noisy.training_data())), next(iter(clean.training_data()))
    assert y.shape == (2, 32, 86)
    np.testing.assert_array_equal(cube.numpy(), cube_clean.numpy())  # the same crops: only the noise differs
    difference = y.numpy() - y_clean.numpy()
    assert np.mean(np.abs(difference)) > 1e-3
    np.testing.assert_allclose(y.numpy() * 2048, np.round(y.numpy() * 2048), atol=1e-3)  # 11-bit levels
    # Var[y~] ~ y (1 - QE) / 2^11: the noise is shot noise, not a constant offset
    predicted = np.sqrt(np.mean(y_clean.numpy()) * 0.6 / 2048)
    assert 0.5 * predicted < np.std(difference) < 1.5 * predicted
    # random windows of the 660x660 mask, not its top-left corner (the simulation's fixed mask)
    corner = io.load_mask(mask)[:32, :32]
    through_corner = [np.allclose(_scaled(physics.measure(cube[i], corner)), y_clean.numpy()[i], atol=1e-4)
                      for i in range(2)]
    assert through_corner == [False, False]


def test_start_at_input_outputs_the_shifted_back_scaled_measurement_in_float64(rng):
    cube = rng.uniform(0, 1, (1, 24, 24, 28))
    y = physics.real_network_input(physics.measure(cube, physics.random_mask(24, seed=1, dtype=np.float64)))
    assert y.dtype == tf.float64 and y.shape == (1, 24, 78)
    model = start_at_input(BiSRNet("real", input_size=None, dtype="float64"))
    out = model(y).numpy()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, physics.shift_back(y, 28, 2).numpy())
    np.testing.assert_allclose(out[0, :, :, 5], _scaled(physics.measure(cube, physics.random_mask(
        24, seed=1, dtype=np.float64)))[0, :, 10:34], rtol=1e-12)  # band 5 is y[:, 2*5 : 2*5 + 24]


def test_the_real_config_starts_at_its_input_and_reference_does_not(rng):
    y = rng.uniform(0, 0.2, (1, 16, 70)).astype(np.float32)
    started = CassiConfig(out_dir="x", variant="real").build_model()
    assert len(started.inputs) == 1
    np.testing.assert_allclose(started(y).numpy(), physics.shift_back(y).numpy(), atol=1e-6)
    reference = CassiConfig(out_dir="x", variant="real", init="reference").build_model()
    assert np.max(np.abs(reference(y).numpy() - physics.shift_back(y).numpy())) > 1e-2


@pytest.mark.parametrize("kwargs, message", [
    (dict(variant="real", model="unet-bnn"), "variant 'real' trains the real-system BiSRNet, model 'bisrnet-real'"),
    (dict(variant="real", model="bisrnet"), "model 'bisrnet-real'"),
    (dict(model="bisrnet-real"), "train it with variant 'real'"),
    (dict(variant="real", init="simulation"), "init 'simulation' is the published simulation BiSRNet"),
    (dict(init="real"), "init 'real' is the published real BiSRNet"),
    (dict(variant="hardware"), "variant must be one of"),
])
def test_a_config_that_does_not_fit_the_variant_is_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        CassiConfig(out_dir="x", **kwargs)
    assert "\n" not in str(error.value)


def test_the_cli_refuses_a_wrong_model_for_the_real_variant_in_one_line(tmp_path, capsys):
    code = cli.main(["train", "--variant", "real", "--model", "unet-bnn", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith("larq-hsi: error: variant 'real' trains the real-system BiSRNet, model 'bisrnet-real'")
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """The one graph-mode run of the real recipe (tracing BiSRNet's training graph: about 10 s)."""
    out = tmp_path_factory.mktemp("real_run")
    config = CassiConfig(out_dir=str(out), variant="real", epochs=1, steps_per_epoch=2, **TINY)
    return config, training.train(config, verbose=0)


def test_a_real_run_trains_and_scores_the_held_out_scene_beside_its_input_alone(real_run):
    config, summary = real_run
    written = json.loads((Path(config.out_dir) / "run.json").read_text())
    assert written["config"]["variant"] == "real" and written["config"]["model"] == "bisrnet-real"
    assert written["config"]["shot_noise"] is True
    assert math.isfinite(written["final_loss"]) and written["final_loss"] > 0
    mean = written["validation"]["mean"]
    for key in ("psnr", "input_psnr", "ssim", "input_ssim"):
        assert math.isfinite(mean[key])
    # the input alone is the real input's shift-back, 1.2 H (not H): recomputed here from the definition
    held_out = synthetic_scenes(3, 48, seed=config.seed, layout=config.synthetic_layout)[2]
    window = physics.random_mask((REAL_MASK_SIZE, REAL_MASK_SIZE), seed=config.seed)[:48, :48]
    y = _scaled(physics.measure(held_out.astype(np.float64), window))
    baseline = np.clip(physics.shift_back(y).numpy(), 0, 1)
    assert mean["input_psnr"] == pytest.approx(score(held_out, baseline)["psnr"], abs=1e-4)
    h_alone = np.clip(physics.network_input(physics.measure(held_out, window)).numpy(), 0, 1)
    assert abs(mean["input_psnr"] - float(metrics.psnr(held_out, h_alone))) > 0.05  # the scaling matters
    # the reloaded SavedModel (one input) scores the same
    model = savedmodel.load(summary["savedmodel"])
    assert len(model.inputs) == 1
    assert evaluate_model(model, [held_out], config.mask_array) == written["validation"]


def test_the_cli_evaluates_a_real_savedmodel(real_run, tmp_path, capsys):
    config, summary = real_run
    out = tmp_path / "eval.json"
    code = cli.main(["evaluate", "--model", summary["savedmodel"], "--scenes", "1", "--scene-size", "48",
                     "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert math.isfinite(result["mean"]["psnr"]) and math.isfinite(result["mean"]["input_psnr"])


@pytest.fixture()
def eager_functions():
    """The CLI run is eager: the real recipe's graph-mode training is `real_run`'s."""
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(previous)


def test_the_cli_trains_the_real_variant(tmp_path, eager_functions, capsys):
    out = tmp_path / "cli_real"
    code = cli.main(["train", "--variant", "real", "--scenes", "2", "--scene-size", "48", "--crop", "32",
                     "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1", "--validation-scenes", "1",
                     "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["variant"] == "real" and run["config"]["model"] == "bisrnet-real"
    assert run["config"]["shot_noise"] is True and run["config"]["crop_size"] == 32
    assert math.isfinite(run["validation"]["mean"]["input_psnr"])

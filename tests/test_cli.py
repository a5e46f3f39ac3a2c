"""The larq-hsi CLI end to end on tiny synthetic data, and on a real measurement."""

import json

import numpy as np
import pytest

from larq_hsi.cli import main
from larq_hsi.tasks.cassi import physics
from tests.tasks.cassi import twins


# The CLI's tf.functions run eagerly: these tests check the command-line plumbing
# (graph-mode training of the same models is tested in tests/models/).
pytestmark = pytest.mark.usefixtures("eager_functions")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main([
        "train", "--scenes", "2", "--scene-size", "32", "--crop", "16", "--epochs", "2",
        "--steps-per-epoch", "2", "--out", str(out), "--quiet",
    ])
    assert code == 0
    return out


def test_train_writes_model_logs_and_settings(trained_run):
    run = json.loads((trained_run / "run.json").read_text())
    assert run["config"]["epochs"] == 2
    assert np.isfinite(run["final_loss"])
    assert (trained_run / "savedmodel" / "saved_model.pb").exists()
    log = (trained_run / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch") and len(log) == 3  # header + 2 epochs
    assert any((trained_run / "tensorboard").rglob("*tfevents*"))
    mean = run["validation"]["mean"]
    assert np.isfinite(mean["psnr"]) and 0 < mean["ssim"] <= 1


def test_evaluate_prints_table_and_json(trained_run, tmp_path, capsys):
    target = tmp_path / "eval.json"
    code = main(["evaluate", "--model", str(trained_run / "savedmodel"), "--scenes", "2",
                 "--scene-size", "24", "--json", str(target)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "PSNR" in printed and "mean" in printed
    result = json.loads(target.read_text())
    assert len(result["scenes"]) == 2
    assert result["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in result["scenes"]]))
    assert {"psnr", "ssim", "sam", "input_psnr"} <= set(result["mean"])
    assert "input alone" in printed


def test_the_scene_layout_reaches_the_recipe_and_the_evaluated_scenes(trained_run, tmp_path, monkeypatch):
    from larq_hsi import cli
    from larq_hsi.synthetic import synthetic_scenes

    assert json.loads((trained_run / "run.json").read_text())["config"]["synthetic_layout"] == "objects"
    args = cli.build_parser().parse_args(["train", "--scene-layout", "mosaic", "--out", str(tmp_path)])
    assert cli._train_config(args).synthetic_layout == "mosaic"
    seen = []
    real_load = cli.load_scenes
    monkeypatch.setattr(cli, "load_scenes", lambda *a, **k: seen.append(real_load(*a, **k)) or seen[-1])
    for layout in ("mosaic", "objects"):
        assert main(["evaluate", "--model", str(trained_run / "savedmodel"), "--scenes", "1",
                     "--scene-size", "24", "--scene-layout", layout]) == 0
        np.testing.assert_array_equal(seen[-1][0], synthetic_scenes(1, 24, seed=10_000, layout=layout)[0])


def test_reconstruct_simulated_measurement_with_saved_model(trained_run, tmp_path):
    from larq_hsi.synthetic import synthetic_scene

    cube = synthetic_scene(24, seed=3)
    mask = physics.random_mask((24, 24), seed=1)
    y = twins.measure_np(cube, mask)
    np.save(tmp_path / "meas.npy", y)
    np.save(tmp_path / "mask.npy", mask)
    out = tmp_path / "rec"
    code = main(["reconstruct", str(tmp_path / "meas.npy"), "--model", str(trained_run / "savedmodel"),
                 "--mask", str(tmp_path / "mask.npy"), "--out", str(out)])
    assert code == 0
    rec = np.load(out / "cube.npy")
    assert rec.shape == (24, 24, 28) and np.isfinite(rec).all()
    for name in ("rgb.png", "bands.png", "spectra.png", "cube.mat"):
        assert (out / name).stat().st_size > 0


def test_errors_are_one_line(tmp_path, capsys):
    np.save(tmp_path / "meas.npy", np.zeros((8, 40), np.float32))
    code = main(["reconstruct", str(tmp_path / "meas.npy"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("larq-hsi: error:") and "\n" not in err
    assert "exactly one of --model" in err
    assert main(["summary", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_mask_measurement_mismatch_is_reported(trained_run, tmp_path, capsys):
    np.save(tmp_path / "meas.npy", np.ones((16, 70), np.float32))
    np.save(tmp_path / "mask.npy", np.ones((16, 20), np.float32))
    code = main(["reconstruct", str(tmp_path / "meas.npy"), "--model", str(trained_run / "savedmodel"),
                 "--mask", str(tmp_path / "mask.npy"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "expected (16, 16)" in capsys.readouterr().err


def test_summary_prints_larq_table_and_conventions(capsys):
    assert main(["summary", "bisrnet", "--input-size", "64", "64"]) == 0
    out = capsys.readouterr().out
    assert "1-bit MACs" in out and "paper OPs" in out
    # 64x64 is 1/16 of the paper's 256x256: the binary MACs scale with the pixels.
    assert f"{9_439_281_152 // 16:,d}" in out


def test_reconstruct_real_scene_with_published_weights(shared_dir, tmp_path):
    out = tmp_path / "real"
    code = main(["reconstruct", str(shared_dir / "data" / "cassi" / "real_meas_scene1.mat"),
                 "--weights", str(shared_dir / "reference" / "bisrnet_real_weights.npz"),
                 "--variant", "real", "--out", str(out)])
    assert code == 0
    cube = np.load(out / "cube.npy")
    assert cube.shape == (660, 660, 28)
    assert np.isfinite(cube).all()
    stds = cube.reshape(-1, 28).std(axis=0)
    assert (stds > 0.01).all(), stds


def test_pansharpening_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "ps"
    code = main(["train", "--task", "pansharpening", "--scenes", "2", "--scene-size", "32", "--bands", "8",
                 "--epochs", "1", "--batch-size", "2", "--out", str(out), "--quiet"])
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    assert np.isfinite(run["final_loss"])
    assert set(run["validation"]) >= {"PSNR", "CC", "SSIM", "SAM", "ERGAS"}
    capsys.readouterr()
    code = main(["evaluate", "--task", "pansharpening", "--model", str(out / "savedmodel"),
                 "--scenes", "2", "--scene-size", "32", "--figures", str(tmp_path / "fig")])
    assert code == 0
    assert "ERGAS" in capsys.readouterr().out
    assert any((tmp_path / "fig").glob("*.png"))


def test_pansharpening_on_a_folder_of_cubes_holds_out_and_reports_bicubic(tmp_path, capsys):
    from tests.tasks.pansharpening.conftest import write_npy_folder

    folder = tmp_path / "cubes"
    write_npy_folder(folder, count=3, size=(16, 16), bands=6)
    out = tmp_path / "ps"
    code = main(["train", "--task", "pansharpening", "--data", str(folder), "--validation-scenes", "1",
                 "--crop", "8", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
                 "--out", str(out), "--quiet"])
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["validation_scenes"] == 1
    assert set(run["validation"]["bicubic"]) == {"PSNR", "CC", "SSIM", "SAM", "ERGAS"}
    printed = capsys.readouterr().out
    assert "held-out scenes:" in printed and any(line.startswith("bicubic ") for line in printed.splitlines())
    target = tmp_path / "eval.json"
    code = main(["evaluate", "--task", "pansharpening", "--model", str(out / "savedmodel"), "--data", str(folder),
                 "--crop", "12", "--json", str(target)])
    assert code == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    model_row = next(r for r in rows if r[:1] == ["model"])
    bicubic_row = next(r for r in rows if r[:1] == ["bicubic"])
    result = json.loads(target.read_text())
    assert float(model_row[1]) == pytest.approx(result["PSNR"], abs=1e-3)
    assert float(bicubic_row[1]) == pytest.approx(result["bicubic"]["PSNR"], abs=1e-3)
    other = tmp_path / "five"
    write_npy_folder(other, count=1, bands=5)
    assert main(["evaluate", "--task", "pansharpening", "--model", str(out / "savedmodel"),
                 "--data", str(other)]) == 2
    assert "the model outputs 6 bands but" in capsys.readouterr().err
    assert main(["train", "--task", "pansharpening", "--data", str(folder), "--validation-scenes", "3",
                 "--out", str(tmp_path / "none"), "--quiet"]) == 2
    assert "leaves no training scene" in capsys.readouterr().err


def test_restoration_train_and_evaluate(tmp_path, capsys):
    pytest.importorskip("skimage", reason="the restoration demo images come from scikit-image")
    out = tmp_path / "dn"
    code = main(["train", "--task", "denoise", "--level", "25", "--crop", "32", "--batch-size", "2",
                 "--epochs", "1", "--steps-per-epoch", "2", "--lr", "1e-4", "--out", str(out), "--quiet"])
    assert code == 0
    assert np.isfinite(json.loads((out / "run.json").read_text())["final_loss"])
    capsys.readouterr()
    target = tmp_path / "eval.json"
    assert main(["evaluate", "--task", "denoise", "--level", "25", "--model", str(out / "savedmodel"),
                 "--json", str(target)]) == 0
    result = json.loads(target.read_text())
    assert len(result["images"]) == 2 and np.isfinite(result["mean"]["psnr"])


def test_export_tflite_and_savedmodel(trained_run, tmp_path, capsys):
    flatbuffer = tmp_path / "model.tflite"
    assert main(["export", str(trained_run / "savedmodel"), "--format", "tflite",
                 "--out", str(flatbuffer), "--input-size", "16", "16"]) == 0
    assert flatbuffer.stat().st_size > 0
    assert "LceBconv2d" in capsys.readouterr().out or flatbuffer.read_bytes().count(b"LceBconv2d") > 0
    # --verify (reload and compare) is tested on a small model in tests/deploy/test_savedmodel.py.
    assert main(["export", str(trained_run / "savedmodel"), "--format", "savedmodel",
                 "--out", str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    assert main(["export", str(trained_run / "savedmodel"), "--format", "tflite",
                 "--out", str(tmp_path / "x.tflite")]) == 2
    assert "--input-size" in capsys.readouterr().err


@pytest.mark.parametrize("task, crop, batch, lr", [
    ("cassi", 256, 2, 4e-4),           # BiSRNet Sec. 4.1
    ("pansharpening", None, 4, 1e-3),  # HS-BiNet: whole patches, batch 4, Adam 1e-3
    ("sr", 192, 16, 1e-4),             # BBCU Sec. 4: 16 x 192x192
    ("denoise", 64, 32, 1e-4),         # BBCU Sec. 4: 32 x 64x64
])
def test_train_defaults_follow_each_papers_recipe(task, crop, batch, lr):
    from larq_hsi.cli import _train_config, build_parser

    config = _train_config(build_parser().parse_args(["train", "--task", task]))
    assert (config.task, config.crop_size, config.batch_size, config.learning_rate) == (task, crop, batch, lr)
    given = _train_config(build_parser().parse_args(
        ["train", "--task", task, "--batch-size", "3", "--lr", "0.01", "--crop", "48"]))
    assert (given.crop_size, given.batch_size, given.learning_rate) == (48, 3, 0.01)


def test_cassi_train_takes_a_warmup():
    from larq_hsi.cli import _train_config, build_parser

    assert _train_config(build_parser().parse_args(["train"])).warmup_steps == 0
    config = _train_config(build_parser().parse_args(["train", "--warmup-steps", "50", "--steps-per-epoch", "10"]))
    assert config.warmup_steps == 50


def test_model_help_lists_the_registry(capsys):
    from larq_hsi.models import registry

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    printed = "".join(capsys.readouterr().out.split())  # help lines wrap anywhere
    missing = [name for name in registry.names() if name not in printed]
    assert not missing, missing


def test_export_rejects_an_input_size_a_fixed_size_model_cannot_take(tmp_path, capsys):
    import tensorflow as tf

    from larq_hsi.deploy import savedmodel
    from larq_hsi.nn.units import bisr_conv

    inp = tf.keras.Input((8, 8, 32), name="x")
    model = tf.keras.Model(inp, bisr_conv(inp, "conv", 3))
    savedmodel.to_savedmodel(model, tmp_path / "fixed", verify=False)
    assert main(["export", str(tmp_path / "fixed"), "--format", "tflite", "--out",
                 str(tmp_path / "x.tflite"), "--input-size", "16", "16"]) == 2
    err = capsys.readouterr().err
    assert "built for (8, 8)" in err and "(16, 16)" in err
    assert not (tmp_path / "x.tflite").exists()
    assert main(["export", str(tmp_path / "fixed"), "--format", "tflite", "--out",
                 str(tmp_path / "x.tflite"), "--input-size", "8", "8"]) == 0
    assert (tmp_path / "x.tflite").stat().st_size > 0

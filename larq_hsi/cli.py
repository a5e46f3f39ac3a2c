"""The `larq-hsi` command line: train, evaluate, reconstruct, summary, export.

    larq-hsi train [--task cassi|pansharpening|sr|denoise|jpeg] [--data DIR|FILE] [--epochs N] [--out DIR] ...
    larq-hsi evaluate [--task ...] --model SAVEDMODEL [--data DIR|FILE] [--mask MASK]
    larq-hsi reconstruct MEASUREMENT (--model SAVEDMODEL | --weights REF.npz --variant real|simulation)
                         [--mask MASK] --out DIR
    larq-hsi summary MODEL [--input-size H W]
    larq-hsi export SAVEDMODEL --format savedmodel|tflite --out PATH [--input-size H W] [--verify]

Errors print one line (`larq-hsi: error: ...`) and exit with status 2;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["main"]


def _quiet():
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


def _pansharpening_data(path, count, size, bands, seed):
    from larq_hsi import pansharpening

    if path is None:
        return pansharpening.synthetic_pansharpening(count, size=size, bands=bands, seed=seed)
    return pansharpening.load_pansharpening(path)


def _train_pansharpening(args):
    """HS-BiNet with the paper's recipe (L1, coupled-decay Adam, cosine warm restarts, batch 4)."""
    import tensorflow as tf

    from larq_hsi import pansharpening
    from larq_hsi.models import HSBiNet

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(args.seed)
    train = _pansharpening_data(args.data, args.scenes, args.scene_size, args.bands, args.seed)
    val = pansharpening.synthetic_pansharpening(2, size=args.scene_size, bands=train["ms"].shape[-1],
                                                seed=args.seed + 10_000) if args.data is None else None
    ratio = train["pan"].shape[-3] // train["ms"].shape[-3]
    model = HSBiNet(train["ms"].shape[-1], ratio=ratio, input_size=train["ms"].shape[1:3],
                    estimator=args.estimator, seed=args.seed)
    callbacks = [tf.keras.callbacks.BackupAndRestore(str(out / "checkpoints")),
                 tf.keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
                 tf.keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False)]
    recipe = {} if args.lr is None else {"learning_rate": args.lr}
    history = pansharpening.train(model, train, args.epochs, batch_size=args.batch_size, seed=args.seed,
                                  callbacks=callbacks, verbose=0 if args.quiet else 1, **recipe)
    model.save(str(out / "savedmodel"), save_traces=False)
    summary = {"task": "pansharpening", "estimator": args.estimator, "epochs": args.epochs,
               "final_loss": float(history.history["loss"][-1]), "savedmodel": str(out / "savedmodel")}
    if val is not None:
        summary["validation"] = pansharpening.evaluate(model, val, out_dir=out)
    (out / "run.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps(summary, indent=2, default=str))
    print(f"run written to {out}")


_DEFAULT_LEVEL = {"sr": 4, "denoise": 25, "jpeg": 10}

# Each paper's training recipe: crop (None: whole patches), batch size, initial learning rate
# (None: the recipe function's own default). BiSRNet Sec. 4.1; HS-BiNet Sec. 4; BBCU Sec. 4.
TASK_DEFAULTS = {
    "cassi": {"crop": 256, "batch_size": 2, "lr": 4e-4},
    "pansharpening": {"crop": None, "batch_size": 4, "lr": None},
    "sr": {"crop": 192, "batch_size": 16, "lr": 1e-4},
    "denoise": {"crop": 64, "batch_size": 32, "lr": 1e-4},
    "jpeg": {"crop": 64, "batch_size": 32, "lr": 1e-4},
}


def _apply_task_defaults(args):
    for key, value in TASK_DEFAULTS[args.task].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def _restoration_images(folder, task):
    from larq_hsi import restoration

    channels = 1 if task == "jpeg" else 3
    if folder is None:
        return restoration.sample_images(("astronaut", "coffee"), channels=channels)
    return restoration.read_image_folder(folder, channels=channels)


def _train_restoration(args):
    """BBCU networks with the paper's recipe: L1 loss, Adam, learning rate halved every N steps."""
    import tensorflow as tf

    from larq_hsi import restoration
    from larq_hsi.models import bbcu_model_for_task

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(args.seed)
    level = args.level or _DEFAULT_LEVEL[args.task]
    images = _restoration_images(args.data, args.task)
    dataset = restoration.training_dataset(images, args.task, level, patch_size=args.crop,
                                           batch_size=args.batch_size, seed=args.seed)
    model = bbcu_model_for_task(args.task, scale=level if args.task == "sr" else 4)
    schedule = restoration.halving_schedule(args.lr, max(1, args.halve_every))
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(schedule), loss="mae")
    callbacks = [tf.keras.callbacks.BackupAndRestore(str(out / "checkpoints")),
                 tf.keras.callbacks.CSVLogger(str(out / "log.csv"), append=True)]
    history = model.fit(dataset, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                        callbacks=callbacks, verbose=0 if args.quiet else 1)
    model.save(str(out / "savedmodel"), save_traces=False)
    summary = {"task": args.task, "level": level, "epochs": args.epochs,
               "final_loss": float(history.history["loss"][-1]), "savedmodel": str(out / "savedmodel")}
    (out / "run.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"run written to {out}")


def _evaluate_restoration(args):
    import numpy as np

    from larq_hsi import restoration

    model = _load_model(args.model)
    level = args.level or _DEFAULT_LEVEL[args.task]
    images = _restoration_images(args.data, args.task) if args.data else restoration.sample_images(
        ("chelsea", "rocket") if args.task != "jpeg" else ("camera",),
        channels=1 if args.task == "jpeg" else 3)
    rows = []
    for index, (degraded, clean) in enumerate(restoration.evaluation_pairs(images, args.task, level)):
        restored = np.clip(model.predict(degraded[None], verbose=0)[0], 0, 1)
        scale = level if args.task == "sr" else None
        rows.append({"image": index,
                     "psnr": float(restoration.task_psnr(args.task, clean, restored, scale=scale)),
                     "ssim": float(restoration.task_ssim(args.task, clean, restored, scale=scale))})
    print(f"{'image':>6} {'PSNR':>8} {'SSIM':>7}")
    for r in rows:
        print(f"{r['image']:>6} {r['psnr']:>8.2f} {r['ssim']:>7.4f}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim")}
    print(f"{'mean':>6} {mean['psnr']:>8.2f} {mean['ssim']:>7.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"images": rows, "mean": mean}, indent=2))


def _cmd_train(args):
    from larq_hsi.training import TrainConfig, train_cassi

    _apply_task_defaults(args)
    if args.task == "pansharpening":
        return _train_pansharpening(args)
    if args.task in _DEFAULT_LEVEL:
        return _train_restoration(args)

    config = TrainConfig(
        out_dir=args.out, model=args.model, data=args.data, synthetic_scenes=args.scenes,
        synthetic_size=args.scene_size, mask=args.mask, crop_size=args.crop,
        batch_size=args.batch_size, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.lr, seed=args.seed, shot_noise=args.shot_noise,
    )
    summary = train_cassi(config, verbose=0 if args.quiet else 1)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    print(f"run written to {args.out}")


def _load_model(path):
    import tensorflow as tf

    import larq_hsi  # noqa: F401  (registers the classes the SavedModel names)

    if not Path(path).exists():
        raise ValueError(f"model not found: {path}")
    return tf.keras.models.load_model(path, compile=False)


def _evaluate_pansharpening(args):
    model = _load_model(args.model)
    sample = _pansharpening_data(args.data, args.scenes, args.scene_size, model.output_shape[-1],
                                 args.seed + 10_000)
    from larq_hsi import pansharpening

    result = pansharpening.evaluate(model, sample, out_dir=args.figures)
    print(f"{'PSNR':>8} {'CC':>7} {'SSIM':>7} {'SAM':>7} {'ERGAS':>7}")
    print(f"{result['PSNR']:>8.3f} {result['CC']:>7.4f} {result['SSIM']:>7.4f} "
          f"{result['SAM']:>7.3f} {result['ERGAS']:>7.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
        print(f"written {args.json}")


def _cmd_evaluate(args):
    import numpy as np

    if args.task == "pansharpening":
        return _evaluate_pansharpening(args)
    if args.task in _DEFAULT_LEVEL:
        return _evaluate_restoration(args)

    from larq_hsi import cassi
    from larq_hsi.training import evaluate_cassi, load_scenes

    model = _load_model(args.model)
    cubes = load_scenes(args.data, args.scenes, args.scene_size, args.seed + 10_000)
    size = max(max(c.shape[:2]) for c in cubes)
    mask = cassi.load_mask(args.mask) if args.mask else cassi.random_mask((size, size), seed=args.seed)
    result = evaluate_cassi(model, cubes, np.asarray(mask, np.float32))
    print(f"{'scene':>6} {'PSNR':>8} {'PSNR-8bit':>10} {'SSIM':>7}")
    for row in result["scenes"]:
        print(f"{row['scene']:>6} {row['psnr']:>8.2f} {row['psnr_8bit']:>10.2f} {row['ssim']:>7.4f}")
    m = result["mean"]
    print(f"{'mean':>6} {m['psnr']:>8.2f} {m['psnr_8bit']:>10.2f} {m['ssim']:>7.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"written {args.json}")


def _cmd_reconstruct(args):
    import numpy as np

    from larq_hsi import cassi, data, previews
    from larq_hsi.checks import reconstruct

    y = data.read_measurement(args.measurement)
    if (args.model is None) == (args.weights is None):
        raise ValueError("give exactly one of --model SAVEDMODEL or --weights REFERENCE.npz")
    bands, step = 28, 2
    width = y.shape[1] - step * (bands - 1)
    if width <= 0:
        raise ValueError(f"a {y.shape} measurement is too narrow for {bands} bands at step {step}")
    mask = None
    if args.mask is not None:  # checked before the (slow) model load
        mask = np.asarray(cassi.load_mask(args.mask), np.float32)
        if mask.shape != (y.shape[0], width):
            raise ValueError(
                f"mask {mask.shape} does not match the measurement {y.shape}: expected "
                f"({y.shape[0]}, {width}) = (height, width - {step * (bands - 1)})"
            )
    if args.model:
        model = _load_model(args.model)
        variant = "simulation" if len(model.inputs) == 2 else "real"
    else:
        from larq_hsi.models import BiSRNet
        from larq_hsi.weights import load_bisrnet_reference

        variant = args.variant
        model = BiSRNet(variant=variant, input_size=None)
        load_bisrnet_reference(model, args.weights, variant=variant)
    if variant == "real":
        inputs = [cassi.prepare_real_measurement(y)]
    else:
        if mask is None:
            raise ValueError("the simulation variant needs --mask (the 2-D coded aperture)")
        h = cassi.network_input(y[None], bands, step).numpy()
        inputs = [h, np.asarray(cassi.mask_3d(mask, bands))[None]]
    cube = np.clip(reconstruct(model, inputs)[0], 0.0, 1.0)

    out = Path(args.out)
    previews.save_cube(cube, out)
    print(f"reconstructed {cube.shape} cube ({variant} variant) -> {out}/cube.npy, cube.mat")
    print(f"previews: {out}/rgb.png, {out}/bands.png, {out}/spectra.png")


def _cmd_summary(args):
    import larq as lq

    from larq_hsi import complexity
    from larq_hsi.models import registry

    model = registry.build(args.model, tuple(args.input_size) if args.input_size else None)
    lq.models.summary(model)
    print(complexity.profile(model))


def _cmd_export(args):
    from larq_hsi import export

    model = _load_model(args.model)
    out = Path(args.out)
    if args.format == "savedmodel":
        report = export.to_savedmodel(model, out, verify=args.verify)
    else:
        if any(None in tuple(i.shape[1:]) for i in model.inputs):
            if not args.input_size:
                raise ValueError("this model takes any input size; give --input-size H W for the flatbuffer")
            model = _fixed_size_copy(model, tuple(args.input_size))
        elif args.input_size and tuple(args.input_size) != tuple(model.inputs[0].shape[1:3]):
            raise ValueError(
                f"this model was built for {tuple(model.inputs[0].shape[1:3])} inputs, got --input-size "
                f"{tuple(args.input_size)}; drop --input-size (a fixed-size model keeps its size) or "
                f"export a model built with input_size=None")
        report = export.to_tflite(model, out)
    print(report)


def _fixed_size_copy(model, size):
    """The same layers and weights, rebuilt with a fixed spatial input size (TFLite needs one)."""
    import tensorflow as tf

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = list(layer["config"]["batch_input_shape"])
            shape[1:3] = size if len(shape) == 4 else (size[0], shape[2])
            if len(shape) == 3 and shape[2] is None:
                shape[2] = size[1] + 2 * 27
            layer["config"]["batch_input_shape"] = tuple(shape)
    fixed = tf.keras.Model.from_config(config)
    fixed.set_weights(model.get_weights())
    return fixed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="larq-hsi", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a CASSI reconstruction or pan-sharpening model")
    train.add_argument("--task", choices=("cassi", "pansharpening", "sr", "denoise", "jpeg"), default="cassi")
    train.add_argument("--level", type=int, help="sr: scale 2/3/4; denoise: sigma 15/25/50; jpeg: quality")
    train.add_argument("--halve-every", type=int, default=200_000,
                       help="restoration: halve the learning rate every N steps (BBCU: 200,000)")
    train.add_argument("--model", default="bisrnet",
                       help="CASSI: bisrnet (default), bisrnet-ungrouped, bisr-base, or a Table 1 method "
                            "on the same backbone: unet-bnn, unet-biconnect, unet-bireal, unet-irnet, "
                            "unet-reactnet, unet-btm, unet-bbcu")
    train.add_argument("--estimator", default="atiste", help="pan-sharpening: atiste, bnn, reactnet, btm")
    train.add_argument("--bands", type=int, default=31, help="pan-sharpening synthetic bands (default 31)")
    train.add_argument("--data", help="folder of training cubes (default: synthetic scenes)")
    train.add_argument("--scenes", type=int, default=8, help="synthetic training scenes (default 8)")
    train.add_argument("--scene-size", type=int, default=256, help="synthetic scene size (default 256)")
    train.add_argument("--mask", help="2-D mask file (.mat key 'mask', .npy, .png); default: random")
    recipes = "; ".join(f"{task} {r['crop'] or '-'} / {r['batch_size']} / {r['lr'] or 'recipe'}"
                        for task, r in TASK_DEFAULTS.items())
    train.add_argument("--crop", type=int, default=None,
                       help="training crop size (default per task, crop / batch / lr: " + recipes + ")")
    train.add_argument("--batch-size", type=int, default=None, help="default per task (see --crop)")
    train.add_argument("--epochs", type=int, default=300)
    train.add_argument("--steps-per-epoch", type=int, default=100)
    train.add_argument("--lr", type=float, default=None,
                       help="initial learning rate (default per task, see --crop; CASSI: cosine-annealed; "
                            "pan-sharpening: 1e-3 with warm restarts)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--shot-noise", action="store_true", help="11-bit shot noise (real-system training)")
    train.add_argument("--out", default="runs/bisrnet", help="output folder (default runs/bisrnet)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("evaluate", help="quality metrics of a model on test data")
    evaluate.add_argument("--task", choices=("cassi", "pansharpening", "sr", "denoise", "jpeg"), default="cassi")
    evaluate.add_argument("--level", type=int, help="sr scale, denoise sigma or jpeg quality")
    evaluate.add_argument("--figures", help="pan-sharpening: write preview/error PNGs here")
    evaluate.add_argument("--model", required=True, help="a SavedModel folder written by train")
    evaluate.add_argument("--data", help="folder of test cubes (default: synthetic scenes)")
    evaluate.add_argument("--scenes", type=int, default=2)
    evaluate.add_argument("--scene-size", type=int, default=256)
    evaluate.add_argument("--mask", help="2-D mask file; default: the seeded random mask of train")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", help="also write the results as JSON here")
    evaluate.set_defaults(func=_cmd_evaluate)

    rec = sub.add_parser("reconstruct", help="reconstruct a cube from a CASSI measurement")
    rec.add_argument("measurement", help=".mat (key meas_real) or .npy measurement")
    rec.add_argument("--model", help="a SavedModel folder")
    rec.add_argument("--weights", help="published BiSRNet weights (.npz state dict)")
    rec.add_argument("--variant", choices=("real", "simulation"), default="real")
    rec.add_argument("--mask", help="2-D mask, needed by the simulation variant")
    rec.add_argument("--out", required=True, help="output folder")
    rec.set_defaults(func=_cmd_reconstruct)

    exp = sub.add_parser("export", help="write a SavedModel or a true 1-bit TFLite flatbuffer")
    exp.add_argument("model", help="a SavedModel folder (from train)")
    exp.add_argument("--format", choices=("savedmodel", "tflite"), required=True)
    exp.add_argument("--out", required=True, help="output folder (savedmodel) or .tflite file")
    exp.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                     help="tflite: spatial size, required for (and only accepted by) models built for any size")
    exp.add_argument("--verify", action="store_true", help="savedmodel: reload and compare predictions")
    exp.set_defaults(func=_cmd_export)

    summary = sub.add_parser("summary", help="larq summary and complexity of a model")
    summary.add_argument("model", help="a name from larq_hsi.models.registry.ASSEMBLED, e.g. bisrnet, "
                         "bisrnet-real, hsbinet, bbcu-dncnn, unet-reactnet (an unknown name lists them all)")
    summary.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"))
    summary.set_defaults(func=_cmd_summary)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet()
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, OSError, KeyError) as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"larq-hsi: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

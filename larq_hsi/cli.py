"""The `larq-hsi` command line: parses arguments and dispatches to the package.

    larq-hsi train [--task cassi|pansharpening|sr|denoise|jpeg] [--variant simulation|real] [--model NAME]
                   [--data DIR|FILE] [--epochs N] ...
    larq-hsi evaluate [--task ...] (--model SAVEDMODEL | --weights simulation|real|PATH) [--data DIR|FILE]
                      [--mask MASK]
    larq-hsi reconstruct MEASUREMENT (--model SAVEDMODEL | --weights real|simulation|PATH [--variant ...])
                         [--mask MASK] --out DIR
    larq-hsi summary MODEL [--input-size H W]
    larq-hsi export SAVEDMODEL --format savedmodel|tflite --out PATH [--input-size H W] [--verify]

Training runs through `larq_hsi.training.train` with each task's recipe config
(`larq_hsi.tasks.<task>.recipe`); model names come from
`larq_hsi.models.registry`. Errors print one line (`larq-hsi: error: ...`) and
exit with status 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import larq as lq
import tensorflow as tf

from larq_hsi import complexity, io, training, viz
from larq_hsi.deploy import savedmodel, tflite
from larq_hsi.models import BiSRNet, registry
from larq_hsi.models.pretrained import PUBLISHED
from larq_hsi.synthetic import LAYOUTS
from larq_hsi.tasks.cassi import physics
from larq_hsi.tasks.cassi.dataset import load_scenes
from larq_hsi.tasks.cassi.evaluate import evaluate_model as evaluate_cassi
from larq_hsi.tasks.cassi.recipe import CassiConfig
from larq_hsi.tasks.cassi.reconstruct import check_mask_for, reconstruct_measurement
from larq_hsi.tasks.pansharpening.dataset import (
    load_pansharpening,
    load_pansharpening_scenes,
    synthetic_pansharpening,
)
from larq_hsi.tasks.pansharpening.evaluate import METRICS as PANSHARPENING_METRICS
from larq_hsi.tasks.pansharpening.evaluate import evaluate_model as evaluate_pansharpening
from larq_hsi.tasks.pansharpening.recipe import PansharpeningConfig
from larq_hsi.tasks.restoration.evaluate import BASELINES
from larq_hsi.tasks.restoration.evaluate import evaluate_model as evaluate_restoration
from larq_hsi.tasks.restoration.recipe import DEFAULT_BATCH, DEFAULT_LEVEL, RestorationConfig, held_out_images

__all__ = ["build_parser", "main"]

TASKS = registry.TASKS
RESTORATION_TASKS = tuple(DEFAULT_LEVEL)


def _quiet():
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


def _given(args, *names) -> dict:
    """The named arguments the user gave (not `None`), so each recipe's own defaults apply otherwise."""
    return {name: getattr(args, key) for key, name in
            ((n.split("=")[0], n.split("=")[-1]) for n in names) if getattr(args, key) is not None}


def _train_config(args):
    common = dict(out_dir=args.out, epochs=args.epochs, seed=args.seed,
                  **_given(args, "steps_per_epoch", "crop=crop_size", "batch_size", "lr=learning_rate",
                           "data", "model"))
    if args.task == "cassi":
        return CassiConfig(variant=args.variant, synthetic_scenes=args.scenes, synthetic_size=args.scene_size,
                           mask=args.mask, shot_noise=args.shot_noise, init=args.init,
                           validation_scenes=args.validation_scenes,
                           **_given(args, "warmup_steps", "scene_layout=synthetic_layout"), **common)
    if args.task == "pansharpening":
        return PansharpeningConfig(scenes=args.scenes, scene_size=args.scene_size, bands=args.bands,
                                   validation_scenes=args.validation_scenes, **_given(args, "unit"), **common)
    return RestorationConfig(task=args.task, halve_every=args.halve_every, **_given(args, "level"), **common)


def _print_pansharpening(result: dict) -> None:
    """The model's Table 1 metrics and, beside them, the bicubic upsampling's (when `result` has them)."""
    rows = [("model", result)] + ([("bicubic", result["bicubic"])] if "bicubic" in result else [])
    widths = {"PSNR": (8, 3), "CC": (7, 4), "SSIM": (7, 4), "SAM": (7, 3), "ERGAS": (7, 3)}
    print(f"{'':<8} " + " ".join(f"{name:>{widths[name][0]}}" for name in PANSHARPENING_METRICS))
    for label, row in rows:
        print(f"{label:<8} " + " ".join(f"{row[name]:>{widths[name][0]}.{widths[name][1]}f}"
                                         for name in PANSHARPENING_METRICS))


def _cmd_train(args):
    summary = training.train(_train_config(args), verbose=0 if args.quiet else 1)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2, default=str))
    if args.task == "pansharpening" and summary.get("validation"):
        print("held-out scenes:")
        _print_pansharpening(summary["validation"])
    print(f"run written to {args.out}")


def _write_json(path, result):
    if path:
        Path(path).write_text(json.dumps(result, indent=2, default=str))
        print(f"written {path}")


def _variant(args) -> str:
    """The BiSRNet variant of `--weights`: `--variant` if given, else the published name's, else real."""
    if args.variant is not None:
        return args.variant
    return PUBLISHED[args.weights].variant if args.weights in PUBLISHED else "real"


def _cmd_evaluate(args):
    if (args.model is None) == (args.weights is None):
        raise ValueError("give exactly one of --model SAVEDMODEL or (cassi) --weights simulation|real|PATH")
    if args.weights is not None and args.task != "cassi":
        raise ValueError("--weights (the published BiSRNet) evaluates the cassi task only")
    if args.weights is not None:  # a path: the simulation variant; evaluate_cassi feeds each variant its input
        variant = PUBLISHED[args.weights].variant if args.weights in PUBLISHED else "simulation"
        model = BiSRNet(variant, input_size=None, weights=args.weights)
    elif args.task in RESTORATION_TASKS and args.model in BASELINES:
        model = args.model  # the task's trivial baseline, scored as a model
    else:
        model = savedmodel.load(args.model)
    if args.task == "pansharpening":
        bands = model.output_shape[-1]
        if args.data and Path(args.data).is_dir():
            sample = load_pansharpening_scenes(args.data, crop=args.crop)
        elif args.data:
            sample = load_pansharpening(args.data)
        else:
            sample = synthetic_pansharpening(args.scenes, size=args.scene_size, bands=bands, seed=args.seed + 10_000)
        if sample["ms"].shape[-1] != bands:
            raise ValueError(f"the model outputs {bands} bands but {args.data} has {sample['ms'].shape[-1]}")
        result = evaluate_pansharpening(model, sample, out_dir=args.figures)
        _print_pansharpening(result)
    elif args.task in RESTORATION_TASKS:
        level = args.level or DEFAULT_LEVEL[args.task]
        names = [f.name for f in io.image_files(args.data)] if args.data else None
        result = evaluate_restoration(model, held_out_images(args.data, args.task), args.task, level, names=names)
        print(f"{'image':>16} {'PSNR':>8} {'SSIM':>7}")
        for r in result["images"]:
            print(f"{str(r['image']):>16} {r['psnr']:>8.2f} {r['ssim']:>7.4f}")
        print(f"{'mean':>16} {result['mean']['psnr']:>8.2f} {result['mean']['ssim']:>7.4f}")
    else:
        cubes = load_scenes(args.data, args.scenes, args.scene_size, args.seed + 10_000, layout=args.scene_layout)
        names = [p.name for p in io.scene_entries(args.data)] if args.data else None
        size = max(max(c.shape[:2]) for c in cubes)
        mask = io.load_mask(args.mask) if args.mask else physics.random_mask((size, size), seed=args.seed)
        result = evaluate_cassi(model, cubes, mask, crop=args.crop, names=names)
        print(f"{'scene':>24} {'PSNR':>7} {'8-bit':>7} {'SSIM':>6} {'SAM':>6} | input alone: "
              f"{'PSNR':>7} {'8-bit':>7} {'SSIM':>6} {'SAM':>6}")
        for row in [*result["scenes"], {"scene": "mean", **result["mean"]}]:
            print(f"{str(row['scene']):>24} {row['psnr']:>7.2f} {row['psnr_8bit']:>7.2f} {row['ssim']:>6.3f} "
                  f"{row['sam']:>6.2f} |              {row['input_psnr']:>7.2f} {row['input_psnr_8bit']:>7.2f} "
                  f"{row['input_ssim']:>6.3f} {row['input_sam']:>6.2f}")
    _write_json(args.json, result)


def _cmd_reconstruct(args):
    y = io.read_measurement(args.measurement)
    if (args.model is None) == (args.weights is None):
        raise ValueError("give exactly one of --model SAVEDMODEL or --weights simulation|real|PATH")
    mask = None if args.mask is None else check_mask_for(y, io.load_mask(args.mask))
    model = None if args.model is None else savedmodel.load(args.model)
    variant = _variant(args) if model is None else ("simulation" if len(model.inputs) == 2 else "real")
    cube = reconstruct_measurement(y, model, weights=args.weights, variant=variant, mask=mask)
    out = Path(args.out)
    viz.save_cube(cube, out)
    print(f"reconstructed {cube.shape} cube ({variant} variant) -> {out}/cube.npy, cube.mat")
    print(f"previews: {out}/rgb.png, {out}/bands.png, {out}/spectra.png")


def _cmd_summary(args):
    size = tuple(args.input_size) if args.input_size else registry.PAPER_SIZE
    model = registry.build(args.model, size)
    lq.models.summary(model)
    print(complexity.profile(model))


def _cmd_export(args):
    model = savedmodel.load(args.model)
    out = Path(args.out)
    if args.format == "savedmodel":
        print(savedmodel.to_savedmodel(model, out, verify=args.verify))
        return
    any_size = any(None in tuple(i.shape[1:]) for i in model.inputs)
    built_for = tuple(model.inputs[0].shape[1:3])
    if any_size and not args.input_size:
        raise ValueError("this model takes any input size; give --input-size H W for the flatbuffer")
    if not any_size and args.input_size and tuple(args.input_size) != built_for:
        raise ValueError(
            f"this model was built for {built_for} inputs, got --input-size {tuple(args.input_size)}; "
            f"drop --input-size (a fixed-size model keeps its size) or export a model built with "
            f"input_size=None")
    shapes = tflite.input_shapes_for_size(model, args.input_size) if any_size else None
    print(tflite.to_tflite(model, out, input_shapes=shapes))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="larq-hsi", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a CASSI, pan-sharpening or restoration model")
    train.add_argument("--task", choices=TASKS, default="cassi")
    train.add_argument("--variant", choices=("simulation", "real"), default="simulation",
                       help="cassi: simulation (model input [H, Phi]; default) or real (the real-system BiSRNet, "
                            "bisrnet-real: input the measurement, random windows of --mask, shot noise on; "
                            "see docs/cassi.md, 'Training the real-system model')")
    train.add_argument("--model", help="a network of the task: " + "; ".join(
        f"{task}: {', '.join(registry.names(task))}" for task in TASKS)
        + " (defaults: cassi bisrnet, pansharpening hsbinet, sr bbcu-srresnet-l, "
          "denoise bbcu-dncnn, jpeg bbcu-dncnn3)")
    train.add_argument("--level", type=int, help="sr: scale 2/3/4; denoise: sigma 15/25/50; jpeg: quality")
    train.add_argument("--halve-every", type=int, default=200_000,
                       help="restoration: halve the learning rate every N steps (BBCU: 200,000)")
    train.add_argument("--unit", help="pan-sharpening: HS-BiNet's binary unit: atiste, bnn, reactnet, btm")
    train.add_argument("--bands", type=int, default=31, help="pan-sharpening synthetic bands (default 31)")
    train.add_argument("--data", help="training cubes/images folder, or pan-sharpening file or folder of cubes "
                                      "(simulated by Wald's protocol, e.g. the CAVE database) "
                                      "(default: synthetic scenes or bundled photographs)")
    train.add_argument("--scenes", type=int, default=8, help="synthetic training scenes (default 8)")
    train.add_argument("--scene-size", type=int, default=256, help="synthetic scene size (default 256)")
    train.add_argument("--scene-layout", choices=LAYOUTS,
                       help=f"cassi: synthetic scene layout (default {CassiConfig.synthetic_layout}: objects "
                            "in front of a dark backdrop, as CAVE; mosaic: textured regions edge to edge)")
    train.add_argument("--mask", help="2-D mask file (.mat key 'mask', .npy, .png); default: random")
    recipes = "; ".join([f"cassi {CassiConfig.crop_size} / {CassiConfig.batch_size} / {CassiConfig.learning_rate}",
                         f"pansharpening whole images / {PansharpeningConfig.batch_size} / "
                         f"{PansharpeningConfig.learning_rate} with warm restarts",
                         *(f"{task} {crop} / {batch} / {RestorationConfig.learning_rate}"
                           for task, (crop, batch) in DEFAULT_BATCH.items())])
    train.add_argument("--crop", type=int, default=None,
                       help="training crop size (default per task, crop / batch / lr: " + recipes + ")")
    train.add_argument("--batch-size", type=int, default=None, help="default per task (see --crop)")
    train.add_argument("--epochs", type=int, default=300)
    train.add_argument("--steps-per-epoch", type=int, default=None,
                       help="default 100 (pan-sharpening: one pass over the patches)")
    train.add_argument("--lr", type=float, default=None, help="initial learning rate (default per task, see --crop)")
    train.add_argument("--warmup-steps", type=int, default=None,
                       help="cassi: linear learning-rate warm-up steps before the cosine (default 0)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--shot-noise", action=argparse.BooleanOptionalAction, default=None,
                       help="11-bit shot noise on every training measurement (default: on for --variant real, "
                            "off for simulation)")
    train.add_argument("--init", help="cassi: where the weights start: input (the untrained model outputs its "
                                      "input; the default), reference (the authors' initialisation), or "
                                      "published BiSRNet weights: simulation, real (--variant real) or a "
                                      ".pth/.npz path")
    train.add_argument("--validation-scenes", type=int, default=None,
                       help="cassi: scenes held out and scored after training beside the input alone "
                            "(synthetic: 2 extra scenes by default; --data: its last N cubes, default 0); "
                            "pansharpening: the same beside the bicubic upsampling (synthetic: 2 extra; "
                            "a --data folder: its last N cubes, default 2)")
    train.add_argument("--out", default="runs/bisrnet", help="output folder (default runs/bisrnet)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("evaluate", help="quality metrics of a model on test data")
    evaluate.add_argument("--task", choices=TASKS, default="cassi")
    evaluate.add_argument("--level", type=int, help="sr scale, denoise sigma or jpeg quality")
    evaluate.add_argument("--figures", help="pan-sharpening: write preview/error PNGs here")
    evaluate.add_argument("--model", help="a SavedModel folder written by train (cassi: either variant), or a "
                                          "restoration task's baseline: "
                                          "bicubic (sr), noisy (denoise), jpeg (jpeg)")
    evaluate.add_argument("--weights", help="cassi: the published BiSRNet instead of --model: simulation, real "
                                            "(fed the scaled measurement) or a .pth/.npz path of the simulation "
                                            "variant (fetched once into Keras's cache)")
    evaluate.add_argument("--data", help="folder of test cubes (files, PNG folders or CAVE scene folders, "
                                         "resampled to 28 bands), images, or a pan-sharpening file or folder "
                                         "of cubes (every cube simulated by Wald's protocol and scored) "
                                         "(default: synthetic scenes or bundled photographs)")
    evaluate.add_argument("--scenes", type=int, default=2)
    evaluate.add_argument("--scene-size", type=int, default=256)
    evaluate.add_argument("--scene-layout", choices=LAYOUTS, default=CassiConfig.synthetic_layout,
                          help=f"cassi: synthetic scene layout (default {CassiConfig.synthetic_layout})")
    evaluate.add_argument("--mask", help="2-D mask file; default: the seeded random mask of train")
    evaluate.add_argument("--crop", type=int, help="cassi: score the centre CROP x CROP window of each cube "
                                                   "(256 with mask_256.mat, as the papers); pansharpening "
                                                   "--data folder: the same (a multiple of 4; default: the "
                                                   "cubes' smallest common size)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", help="also write the results as JSON here")
    evaluate.set_defaults(func=_cmd_evaluate)

    rec = sub.add_parser("reconstruct", help="reconstruct a cube from a CASSI measurement")
    rec.add_argument("measurement", help=".mat (key meas_real) or .npy measurement")
    rec.add_argument("--model", help="a SavedModel folder")
    rec.add_argument("--weights", help="published BiSRNet weights: real, simulation (fetched once into Keras's "
                                       "cache, sha256-checked) or a .pth/.npz path")
    rec.add_argument("--variant", choices=("real", "simulation"),
                     help="the variant of --weights PATH (default: the name's, else real)")
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
    summary.add_argument("model", help="a name of larq_hsi.models.registry: " + ", ".join(registry.names()))
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

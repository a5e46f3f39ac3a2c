"""Train BiSRNet on your own hyperspectral cubes, score it on test cubes, preview a reconstruction.

`make demo` (`larq_hsi.demo`) shows the workflow on built-in synthetic scenes;
this is the same training path pointed at your data, e.g. CAVE to train and
the 10 KAIST scenes to test, through the benchmark's mask:

    .venv/bin/python examples/cassi_train_bisrnet.py --data cave/ --test-data kaist/ \\
        --mask ../shared/data/cassi/mask_256.mat --crop 256 --epochs 300 --steps-per-epoch 1000 --lr 4e-4

- `--data DIR`: training cubes, every `.mat`/`.npy`/`.npz`/`.h5` file or
  folder of PNG bands in DIR (28 bands, `larq_hsi.io.load_cube`);
- `--mask FILE`: the 2-D coded aperture (training takes random crops of it);
- `--test-data DIR`: the cubes to score on, measured through the same mask.

Without `--data` (and with `--smoke`) it runs on seeded *synthetic* scenes, a
seeded random mask (written to `OUT/mask.npy`) and held-out synthetic test
scenes: stand-ins, so the script runs without a download; numbers on them say
nothing about real data.

Training is `larq_hsi.training.train(CassiConfig(...))`, BiSRNet's recipe
(RMSE loss, Adam 0.9/0.999 with cosine annealing, random crops with flips and
rotations, batch 2, dispersion step 2); it writes `run.json`, `log.csv`,
`tensorboard/`, `checkpoints/` and a verified `savedmodel/`. The SavedModel is
then reloaded (no `custom_objects` needed) and scored with
`larq_hsi.tasks.cassi.evaluate.evaluate_model` (PSNR over the whole cube, the
papers' 8-bit per-band PSNR, SSIM), written to `metrics.json`; one test cube's
reconstruction is previewed next to its ground truth (`larq_hsi.viz.save_comparison`:
`truth_rgb.png`, `reconstruction_rgb.png`, `reconstruction_bands.png`,
`reconstruction_spectra.png`). Everything goes under `--out` (default
`runs/examples/cassi_train_bisrnet`).

    .venv/bin/python examples/cassi_train_bisrnet.py            # synthetic scenes, several minutes on 2 cores
    .venv/bin/python examples/cassi_train_bisrnet.py --smoke    # seconds: 2 eager steps on 32x32 crops

A few minutes of CPU training do not converge a binarized U-Net (the paper
trains 300 epochs on a GPU): expect low double-digit PSNR on the defaults.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import io, training, viz  # noqa: E402
from larq_hsi.checks import reconstruct  # noqa: E402
from larq_hsi.deploy import savedmodel  # noqa: E402
from larq_hsi.tasks.cassi import physics  # noqa: E402
from larq_hsi.tasks.cassi.dataset import load_scenes  # noqa: E402
from larq_hsi.tasks.cassi.evaluate import evaluate_model  # noqa: E402
from larq_hsi.tasks.cassi.recipe import CassiConfig  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of training cubes (default: synthetic scenes)")
    parser.add_argument("--mask", help="2-D mask file, e.g. ../shared/data/cassi/mask_256.mat "
                                       "(default: a seeded random mask, written to OUT/mask.npy)")
    parser.add_argument("--test-data", help="folder of test cubes (default: held-out synthetic scenes)")
    parser.add_argument("--out", default="runs/examples/cassi_train_bisrnet", help="output folder")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--crop", type=int, default=64, help="training crop size (the paper: 256)")
    parser.add_argument("--scene-size", type=int, default=128, help="synthetic scene size")
    parser.add_argument("--lr", type=float, default=2e-3,
                        help="initial learning rate, cosine-annealed to 1e-6 (default 2e-3 for a short run; "
                             "the paper's 4e-4 suits 300 epochs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny run (2 steps, 32x32 crops) in seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.steps_per_epoch, args.crop, args.scene_size = 1, 2, 32, 32
    if args.data and not (args.mask and args.test_data):
        parser.error("--data needs --mask (the benchmark's: ../shared/data/cassi/mask_256.mat) and "
                     "--test-data (a folder of cubes held out from training)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.smoke:  # tracing BiSRNet's training graph costs 30-60 s; 2 eager steps are faster
        tf.config.run_functions_eagerly(True)

    # The mask as a file, so that training and evaluation use the very same one.
    mask_path = args.mask
    if mask_path is None:
        mask_path = out / "mask.npy"
        np.save(mask_path, physics.random_mask((args.scene_size, args.scene_size), seed=args.seed))
    if args.test_data:
        test_cubes = load_scenes(args.test_data, 0, 0, 0)  # count, size and seed are for synthetic scenes
    else:  # other seeds than the training scenes': held out
        test_cubes = load_scenes(None, 1 if args.smoke else 2, args.scene_size, args.seed + 1000)

    train_scenes = 2 if args.smoke else 6
    config = CassiConfig(
        out_dir=str(out), model="bisrnet", data=args.data, mask=str(mask_path),
        synthetic_scenes=train_scenes, synthetic_size=args.scene_size, validation_scenes=0,
        crop_size=args.crop, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.lr, seed=args.seed,
    )
    source = args.data or f"{train_scenes} synthetic scenes {args.scene_size}x{args.scene_size}"
    print(f"== Training BiSRNet on {source}: {args.epochs} epoch(s) x {args.steps_per_epoch} steps, "
          f"{args.crop}x{args.crop} crops, batch {config.batch_size}, Adam {args.lr:g} cosine-annealed, RMSE loss",
          flush=True)
    run = training.train(config, verbose=0 if args.smoke else 1)
    print(f"trained in {run['train_seconds']} s, final RMSE loss {run['final_loss']:.4f}")

    model = savedmodel.load(run["savedmodel"])
    mask = io.load_mask(mask_path)
    result = evaluate_model(model, test_cubes, mask)
    print(f"\n== Evaluation on {len(test_cubes)} {'test' if args.test_data else 'held-out synthetic'} "
          "scene(s), reloaded SavedModel")
    print(f"{'scene':>6} {'PSNR':>8} {'PSNR-8bit':>10} {'SSIM':>7}")
    for row in result["scenes"]:
        print(f"{row['scene']:>6} {row['psnr']:>8.2f} {row['psnr_8bit']:>10.2f} {row['ssim']:>7.4f}")
    m = result["mean"]
    print(f"{'mean':>6} {m['psnr']:>8.2f} {m['psnr_8bit']:>10.2f} {m['ssim']:>7.4f}")
    (out / "metrics.json").write_text(json.dumps(result, indent=2))

    cube = test_cubes[0]
    h, w = cube.shape[:2]
    sim = physics.simulate(cube[None], mask[:h, :w])
    estimate = np.clip(reconstruct(model, [sim.H.numpy(), sim.Phi.numpy()])[0], 0, 1)
    viz.save_comparison(cube, estimate, out)

    print("\n== Written")
    for name in ("run.json", "log.csv", "tensorboard/", "checkpoints/", "savedmodel/", "metrics.json",
                 *viz.COMPARISON_FILES):
        print(f"  {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

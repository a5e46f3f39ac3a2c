"""BBCU trained on real photographs at a CPU budget, scored with the standard protocols beside the baselines.

DIV2K, the BBCU paper's training set, is not available here; the runs train on
the benchmark images in `../shared/data/restoration/` and hold others out:

- SR x4: BBCU-M (body and upsampling binarized) and its full-precision
  SRResNet, trained on CBSD68 (68 colour photographs), scored on Set5 and
  Set14 (Y channel, 4 border pixels shaved) beside bicubic upscaling;
- colour denoising at sigma 25: BBCU on DnCNN (body binarized) and the
  full-precision DnCNN, trained on the first 48 CBSD68 images and scored on
  the other 20 (RGB PSNR) beside the noisy input.

Every run goes through `larq_hsi.training.train` (`RestorationConfig`) with
the same wall-clock budget (`--minutes`, default 15; training stops after
the first 100-step epoch past it), the paper's L1 loss and Adam, and a
constant learning rate (a few thousand steps are far from the paper's
halvings every 200,000). Writes `OUT/table.json`, `OUT/table.md`, each run's
folder and `OUT/sr_preview.png` / `OUT/denoise_preview.png` (input,
baseline, binarized network, full precision, ground truth).

    python benchmarks/restoration_real.py                 # 4 runs x 15 min on 2 cores
    python benchmarks/restoration_real.py --quick         # 4 runs of 10 steps each: the table's shape
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _quick  # noqa: E402
from larq_hsi import io, training, viz  # noqa: E402
from larq_hsi.deploy import savedmodel  # noqa: E402
from larq_hsi.tasks.restoration.dataset import evaluation_pairs, load_images  # noqa: E402
from larq_hsi.tasks.restoration.evaluate import evaluate_model  # noqa: E402
from larq_hsi.tasks.restoration.imresize import imresize  # noqa: E402
from larq_hsi.tasks.restoration.recipe import RestorationConfig  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "restoration"
# `--quick`: the budget runs out at once, so each run trains one 10-step epoch.
# Scoring whole photographs dominates such a run, so it scores the first two of each test set only.
QUICK = {"minutes": 0.01, "steps_per_epoch": 10, "test_images": 2, "out": "runs/benchmarks/restoration_real/quick"}


def _split(out: Path) -> tuple[Path, Path]:
    """CBSD68 as two folders of links: the first 48 images to train on, the last 20 held out."""
    files = io.image_files(SHARED / "CBSD68")
    return _links(out / "cbsd68_train", files[:48]), _links(out / "cbsd68_test", files[48:])


def _first(folder: Path, count: int | None, out: Path) -> Path:
    """`folder` itself, or with `count` a folder of links to its first `count` images."""
    if count is None:
        return folder
    return _links(out / f"{folder.name}_first{count}", io.image_files(folder)[:count])


def _links(folder: Path, files) -> Path:
    """A folder holding a symbolic link to each of `files`, and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in set(folder.iterdir()) - {folder / f.name for f in files}:
        stale.unlink()
    for f in files:
        link = folder / f.name
        if link.is_symlink():  # perhaps dangling, from an earlier run
            link.unlink()
        link.symlink_to(Path(f).resolve())
    return folder


def _run(out, name, task, model, data, test, level, crop, batch, lr, seconds, steps_per_epoch):
    config = RestorationConfig(task=task, model=model, level=level, data=str(data), test_data=str(test),
                               out_dir=str(out / name), crop_size=crop, batch_size=batch, learning_rate=lr,
                               halve_every=10**9, epochs=10_000, steps_per_epoch=steps_per_epoch,
                               max_seconds=seconds)
    run = training.train(config, verbose=0)
    steps = run["epochs_run"] * config.steps_per_epoch
    print(f"  {name}: {steps} steps in {run['train_seconds']:.0f} s, final L1 {run['final_loss']:.4f}, "
          f"held out {run['validation']['mean']['psnr']:.2f} dB", flush=True)
    return run, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/benchmarks/restoration_real")
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU budget per run (the issue allows 20)")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--steps-per-epoch", type=int, default=100,
                        help="the budget is checked after each epoch of this many steps (100)")
    parser.add_argument("--test-images", type=int, default=None,
                        help="score only the first N images of each test set (default: all)")
    args = _quick.parse_args(parser, argv, QUICK)
    if not SHARED.is_dir():
        print(f"skipped: needs the benchmark images in {SHARED}", file=sys.stderr)
        return 0
    _quick.announce(args)
    seconds = args.minutes * 60
    out = Path(args.out)
    train_dn, test_dn = _split(out / "splits")
    test_dn = _first(test_dn, args.test_images, out / "splits")
    set5_dir, set14_dir = (_first(SHARED / name, args.test_images, out / "splits") for name in ("CSet5", "CSet14"))
    tf.keras.utils.set_random_seed(0)

    rows, previews = [], {}
    print(f"SR x4 on CBSD68, {seconds / 60:g} min per network:", flush=True)
    set5, set14 = load_images(set5_dir, "sr"), load_images(set14_dir, "sr")
    for test_name, images in (("Set5", set5), ("Set14", set14)):
        rows.append({"task": "sr x4", "test": test_name, "method": "bicubic", "steps": None,
                     **evaluate_model("bicubic", images, "sr", 4)["mean"]})
    for name, model in (("bbcu-m", "bbcu-srresnet-m"), ("srresnet", "srresnet")):
        run, steps = _run(out, f"sr_{name}", "sr", model, SHARED / "CBSD68", set5_dir, 4, 96, 8,
                          args.lr, seconds, args.steps_per_epoch)
        trained = savedmodel.load(run["savedmodel"])
        for test_name, images in (("Set5", set5), ("Set14", set14)):
            rows.append({"task": "sr x4", "test": test_name, "method": name, "steps": steps,
                         **evaluate_model(trained, images, "sr", 4)["mean"]})
        lr_image, hr = evaluation_pairs(set5[2:3] or set5[-1:], "sr", 4)[0]  # butterfly, if scored
        previews["LR x4 (input)"] = lr_image
        previews["bicubic"] = np.clip(imresize(lr_image, scale=4).numpy(), 0, 1)
        previews[name] = trained.predict(lr_image[None], verbose=0)[0]
        previews["HR"] = hr
    viz.save_panels([(k, previews[k]) for k in ("LR x4 (input)", "bicubic", "bbcu-m", "srresnet", "HR")],
                    out / "sr_preview.png")

    held_out = load_images(test_dn, "denoise")
    print(f"denoising sigma 25 on CBSD68 (48 train / {len(held_out)} test), {seconds / 60:g} min per network:",
          flush=True)
    rows.append({"task": "denoise 25", "test": f"CBSD68 ({len(held_out)})", "method": "noisy input", "steps": None,
                 **evaluate_model("noisy", held_out, "denoise", 25)["mean"]})
    previews = {}
    for name, model in (("bbcu-dncnn", "bbcu-dncnn"), ("dncnn", "dncnn")):
        run, steps = _run(out, f"denoise_{name}", "denoise", model, train_dn, test_dn, 25, 48, 8, args.lr,
                          seconds, args.steps_per_epoch)
        rows.append({"task": "denoise 25", "test": f"CBSD68 ({len(held_out)})", "method": name, "steps": steps,
                     **run["validation"]["mean"]})
        trained = savedmodel.load(run["savedmodel"])
        noisy, clean = evaluation_pairs(held_out[:1], "denoise", 25)[0]
        previews["noisy (sigma 25)"], previews["clean"] = noisy, clean
        previews[name] = trained.predict(noisy[None], verbose=0)[0]
    viz.save_panels([(k, previews[k]) for k in ("noisy (sigma 25)", "bbcu-dncnn", "dncnn", "clean")],
                    out / "denoise_preview.png")

    lines = ["| task | test set | method | training steps | PSNR (dB) | SSIM |", "| --- | --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r['task']} | {r['test']} | {r['method']} | {r['steps'] or '-'} | {r['psnr']:.2f} | {r['ssim']:.4f} |"
              for r in rows]
    table = "\n".join(lines)
    print("\n" + table)
    (out / "table.md").write_text(table + "\n")
    (out / "table.json").write_text(json.dumps({"minutes_per_run": seconds / 60, "rows": rows}, indent=2))
    print(f"\nwritten {out / 'table.md'}, {out / 'sr_preview.png'}, {out / 'denoise_preview.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

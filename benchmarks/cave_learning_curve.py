"""How fast BiSRNet learns on real CAVE scenes: held-out PSNR every N steps, beside the input alone.

Trains on the CAVE scenes of `../shared/data/cave/` except the held-out ones
(by default the last two in name order), resampled to the 28 CASSI bands,
with random 128x128 crops and random 128x128 crops of `mask_256.mat`, RMSE
and Adam; scores the held-out scenes (centre 256x256 crops, the top-left
window of `mask_256.mat`) every `--every` steps, with the input alone
(clip(H, 0, 1)) beside it. Writes `OUT/curve.json` and `OUT/curve.md`.

    python benchmarks/cave_learning_curve.py --start input --lr 1e-3 --minutes 10
    python benchmarks/cave_learning_curve.py --start reference --lr 4e-4 --steps 400
    python benchmarks/cave_learning_curve.py --start simulation --lr 1e-4 --steps 200   # fine-tuning
    python benchmarks/cave_learning_curve.py --quick     # 20 steps: the plumbing and the table shape
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _quick  # noqa: E402
from larq_hsi import io  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.models.bisrnet import start_at_input  # noqa: E402
from larq_hsi.spectra import CASSI_WAVELENGTHS  # noqa: E402
from larq_hsi.tasks.cassi.dataset import cassi_training_data, scene_entries  # noqa: E402
from larq_hsi.tasks.cassi.evaluate import evaluate_model  # noqa: E402
from larq_hsi.tasks.cassi.recipe import rmse  # noqa: E402
from larq_hsi.training.optim import cosine_decay  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
QUICK = {"steps": 20, "every": 10, "out": "runs/cave_curve/quick"}  # `--quick`: the plumbing and the table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bisrnet")
    parser.add_argument("--start", choices=("reference", "input", "simulation"), default="input",
                        help="reference: the authors' initialisation; input: start_at_input; "
                             "simulation: the published weights (fine-tuning)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--final-lr", type=float, default=1e-6)
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    parser.add_argument("--steps", type=int, default=400, help="schedule length (steps)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this wall-clock budget")
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--held-out", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/cave_curve")
    args = _quick.parse_args(parser, argv, QUICK)
    cave = SHARED / "cave"
    if not cave.is_dir():
        print(f"skipped: needs the CAVE scenes in {cave}", file=sys.stderr)
        return 0
    entries = scene_entries(cave)
    cubes = [io.load_cube(p, expected_bands=28, wavelengths=CASSI_WAVELENGTHS) for p in entries]
    train_cubes, test_cubes = cubes[: -args.held_out], cubes[-args.held_out :]
    test_names = [p.name for p in entries[-args.held_out :]]
    mask = io.load_mask(SHARED / "cassi" / "mask_256.mat")

    tf.keras.utils.set_random_seed(args.seed)
    if args.start == "simulation":
        model = registry.build(args.model, input_size=None, weights="simulation")
    else:
        model = registry.build(args.model, input_size=None)
    if args.start == "input":
        start_at_input(model)
    decay = cosine_decay(args.lr, args.steps, args.final_lr, args.warmup)
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(decay), loss=rmse)
    data = cassi_training_data(train_cubes, mask, crop_size=args.crop, batch_size=args.batch_size,
                               seed=args.seed, mask_mode="crop")

    rows = []
    start = time.perf_counter()

    def record(step, loss):
        result = evaluate_model(model, test_cubes, mask, crop=256, names=test_names)
        row = {"step": step, "seconds": round(time.perf_counter() - start, 1), "train_rmse": loss,
               "psnr": result["mean"]["psnr"], "input_psnr": result["mean"]["input_psnr"],
               "per_scene": {r["scene"]: round(r["psnr"], 2) for r in result["scenes"]}}
        rows.append(row)
        print(f"step {step:5d}  {row['seconds']:7.1f} s  train RMSE {loss if loss is None else round(loss, 4)}"
              f"  held-out PSNR {row['psnr']:.2f} dB (input alone {row['input_psnr']:.2f})  "
              f"{row['per_scene']}", flush=True)

    class Record(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            record((epoch + 1) * args.every, float(logs["loss"]))
            if args.minutes is not None and time.perf_counter() - start > 60 * args.minutes:
                self.model.stop_training = True

    record(0, None)
    # One fit, its blocks of `every` steps as epochs: each fit call would start a new iterator
    # over the seeded pipeline, and so train every block on the same first `every` batches.
    model.fit(data, epochs=-(-args.steps // args.every), steps_per_epoch=args.every, verbose=0,
              callbacks=[Record()])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    (out / "curve.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2))
    lines = ["| step | seconds | train RMSE (last) | held-out PSNR (dB) | input alone (dB) |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        loss = "-" if r["train_rmse"] is None else f"{r['train_rmse']:.4f}"
        lines.append(f"| {r['step']} | {r['seconds']:.0f} | {loss} | {r['psnr']:.2f} | {r['input_psnr']:.2f} |")
    (out / "curve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

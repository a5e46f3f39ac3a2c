"""BNN methods on the BiSRNet backbone at one training budget: a Table-1-shaped comparison.

BiSRNet's Table 1 trains seven BNN baselines and BiSRNet with the same Params
and OPs (300 epochs on CAVE, tested on 10 KAIST scenes). This script does the
same at a CPU budget: every method in `--methods` is
`larq_hsi.models.baselines.BinarizedUNet(method)` (registry `unet-<method>`,
`bisrnet` for "bisr": the same backbone and binary convs; only the unit
around each conv differs), trained with BiSRNet's recipe
(`larq_hsi.training.train(CassiConfig(...))`: RMSE loss, Adam 0.9/0.999, cosine annealing
`--lr` -> `--final-lr`, by default 2e-3 -> 1e-6 as `make demo` uses for a
few minutes of training, where the paper's 4e-4 leaves every method far from
converged; pass `--lr 4e-4` for the paper's rate), random crops with flips and rotations, batch
`--batch`, shifting step 2) for the same number of steps, from the same seed,
on the same batches, through the same mask, then evaluated on the same test
scenes. Every method starts as the recipe's models do, at its input
(`--start input`, `start_at_input`: the untrained network outputs H, so a
method that learns nothing scores the input-alone row; `--start reference` is
the authors' initialisation, under which BiConnect's unscaled +-1 kernels
start at an RMSE of 7.8 on a 64x64 CAVE crop, against the input's 0.12; BNN
0.55, BBCU 0.29, Bi-Real 0.33). IRNet gets its EDE schedule per epoch (the recipe adds
`EDESchedule` for "unet-irnet"); nothing else differs between methods: no
method-specific tuning.

Data: without `--data`, seeded *synthetic* scenes (`larq_hsi.synthetic`): stand-ins
that say nothing about accuracy on real data; with `--data DIR` (training
cubes, CAVE-style) and `--test-data DIR` (test cubes, e.g. the 10 KAIST
scenes) and `--mask mask_256.mat`, the simulation benchmark. The mask is a
seeded random one unless `--mask` is given (the recipe's: it covers the crop
and the training scenes, so larger test scenes need `--mask`).

Output: the table on stdout (method, bits W/A, Params (K) and OPs (G) in the
papers' convention at 256x256, PSNR/SSIM per test scene and their mean, with
the budget stated), `table.json` and `table.png` (bar chart of mean PSNR and
SSIM) under `--out`, and each method's run folder (`run.json`, `log.csv`,
`savedmodel/`, ...; the SavedModel is what gets evaluated) under
`OUT/runs/METHOD/`. PSNR is the papers' 8-bit per-band PSNR (`torch_psnr`,
`round(x * 256)`), SSIM as `larq_hsi.metrics.ssim`; `table.json` also holds
the whole-cube PSNR. The paper's own means (KAIST, 300 epochs) are printed
next to them for orientation only: a different data set and budget.

    .venv/bin/python benchmarks/cassi_methods.py                        # all 8 methods, ~30 min on 2 idle cores
    .venv/bin/python benchmarks/cassi_methods.py --methods bnn bbcu bisr --steps 60 --epochs 3
    .venv/bin/python benchmarks/cassi_methods.py --quick              # BNN and BiSR only, a few steps: the table's shape
    .venv/bin/python benchmarks/cassi_methods.py --data ../shared/data/cave --held-out 2 \\
        --mask ../shared/data/cassi/mask_256.mat --published            # CAVE: train on 6, score 2 (256 crops)
    .venv/bin/python benchmarks/cassi_methods.py --data cave/ --test-data kaist/ \\
        --mask ../shared/data/cassi/mask_256.mat --crop 256 --steps 30000 --epochs 300

Time: the first training step of each method traces its ~900-variable graph
(30-60 s on two cores) and the first evaluation another graph; the default
budget (300 steps of 2 x 64x64 crops, about 0.4 s per step unloaded) adds
about 2 minutes per method. A loaded machine is slower: the load average is
printed with the timings.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import os
import sys
import textwrap
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _quick  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import complexity, io, training  # noqa: E402
from larq_hsi.deploy import savedmodel  # noqa: E402
from larq_hsi.models import baselines as BL  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.models.bisrnet import start_at_input  # noqa: E402
from larq_hsi.synthetic import LAYOUTS  # noqa: E402
from larq_hsi.tasks.cassi import physics  # noqa: E402
from larq_hsi.tasks.cassi.dataset import load_scenes  # noqa: E402
from larq_hsi.tasks.cassi.evaluate import evaluate_model  # noqa: E402
from larq_hsi.tasks.cassi.recipe import START, STARTS, CassiConfig  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

BITS = {m: "1/1" for m in BL.METHODS} | {"biconnect": "1/32"}  # weights / activations
# `--quick`: two methods (each traces its own ~900-variable graph, 30-60 s), a handful of small steps.
QUICK = {"methods": ["bnn", "bisr"], "steps": 4, "epochs": 1, "crop": 32, "train_scenes": 2, "scene_size": 64,
         "test_scenes": 2, "test_size": 64, "out": "runs/cassi_methods/quick"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(BL.METHODS), choices=BL.METHODS,
                        metavar="METHOD", help=f"methods to train (default all: {' '.join(BL.METHODS)})")
    parser.add_argument("--steps", type=int, default=300, help="training steps per method (default 300)")
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs the steps are split into (IRNet's EDE schedule moves per epoch; default 10)")
    parser.add_argument("--crop", type=int, default=64, help="training crop size (default 64; the paper: 256)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (default 2, the paper's)")
    parser.add_argument("--lr", type=float, default=2e-3,
                        help="initial learning rate, the same for every method (default 2e-3, the demo's "
                             "short-budget rate; the paper's 4e-4 suits 300 epochs, not minutes)")
    parser.add_argument("--final-lr", type=float, default=1e-6, help="cosine-annealed final rate (default 1e-6)")
    parser.add_argument("--warmup", type=int, default=0, help="linear learning-rate warm-up steps (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, data, crops and mask")
    parser.add_argument("--num-blocks", type=int, nargs="+", default=[1, 1, 1],
                        help="BiSRNet's num_blocks (default 1 1 1, the published structure)")
    parser.add_argument("--data", help="folder of training cubes (default: synthetic scenes)")
    parser.add_argument("--test-data", help="folder of test cubes (default: synthetic scenes, or --held-out)")
    parser.add_argument("--held-out", type=int, default=0,
                        help="with --data and no --test-data: hold out the last N cubes of --data (name order) "
                             "as the test scenes, scored in centre crops the size of the mask")
    parser.add_argument("--published", action="store_true",
                        help="also score the published simulation BiSRNet (no training) as an anchor row")
    parser.add_argument("--mask", help="mask file, e.g. mask_256.mat (default: a seeded random mask)")
    parser.add_argument("--start", choices=STARTS, default=START,
                        help=f"initialisation of every method (default {START!r}, the recipe's: "
                             "start_at_input makes each untrained model output its input H; 'reference': "
                             "the authors' initialisation)")
    parser.add_argument("--train-scenes", type=int, default=8, help="synthetic training scenes (default 8)")
    parser.add_argument("--scene-size", type=int, default=128, help="synthetic training scene size (default 128)")
    parser.add_argument("--test-scenes", type=int, default=10, help="synthetic test scenes (default 10, as S1-S10)")
    parser.add_argument("--test-size", type=int, default=128, help="synthetic test scene size (default 128)")
    parser.add_argument("--scene-layout", choices=LAYOUTS, default=MethodConfig.synthetic_layout,
                        help=f"synthetic scene layout (default {MethodConfig.synthetic_layout})")
    parser.add_argument("--out", default="runs/cassi_methods", help="folder for table.json, table.png and runs/")
    args = _quick.parse_args(parser, argv, QUICK)
    if args.steps < 1 or args.epochs < 1 or args.steps % args.epochs:
        parser.error(f"--steps ({args.steps}) must be a positive multiple of --epochs ({args.epochs})")
    if args.held_out and (not args.data or args.test_data):
        parser.error("--held-out N splits --data; it needs --data and no --test-data")
    if args.crop % 8 or args.crop < 8:
        parser.error(f"--crop must be a positive multiple of 8, got {args.crop}")
    return args


@dataclasses.dataclass(kw_only=True)
class MethodConfig(CassiConfig):
    """BiSRNet's recipe with the backbone's `num_blocks` as a setting (the recipe builds (1, 1, 1))."""

    num_blocks: tuple = (1, 1, 1)

    def build_model(self) -> tf.keras.Model:
        model = registry.build(self.model, input_size=None, num_blocks=tuple(self.num_blocks))
        return start_at_input(model) if (self.init or START) == "input" else model


def model_name(method):
    """The registry name of a method's network: BiSR-Conv is BiSRNet itself."""
    return "bisrnet" if method == "bisr" else f"unet-{method}"


def config_for(method, args, out_dir):
    return MethodConfig(
        out_dir=str(out_dir), model=model_name(method), data=args.data, mask=args.mask,
        synthetic_scenes=args.train_scenes, synthetic_size=args.scene_size,
        synthetic_layout=args.scene_layout, validation_scenes=args.held_out,
        crop_size=args.crop, batch_size=args.batch, epochs=args.epochs,
        steps_per_epoch=args.steps // args.epochs, learning_rate=args.lr, final_learning_rate=args.final_lr,
        warmup_steps=args.warmup,
        seed=args.seed, num_blocks=tuple(args.num_blocks), init=args.start,
    )


def load_data(args):
    """Training scenes, test scenes and the mask, as `CassiConfig` prepares them for training."""
    train = load_scenes(args.data, args.train_scenes, args.scene_size, args.seed, layout=args.scene_layout)
    if args.held_out:
        train, test = train[: -args.held_out], train[-args.held_out :]
    elif args.test_data:
        test = load_scenes(args.test_data, 0, 0, 0)
    else:  # other seeds than the training scenes: held-out stand-ins
        test = load_scenes(None, args.test_scenes, args.test_size, args.seed + 1000, layout=args.scene_layout)
    if args.mask:
        return train, test, io.load_mask(args.mask)
    # The recipe's seeded random mask covers the crop and the training scenes; it must cover the test scenes.
    size = max([args.crop] + [max(s.shape[:2]) for s in train])
    largest = max(max(s.shape[:2]) for s in test)
    if largest > size:
        raise SystemExit(f"cassi_methods.py: the random mask ({size}x{size}: the crop and the training scenes) "
                         f"is smaller than a {largest}-pixel test scene; pass --mask FILE or a smaller --test-size")
    return train, test, physics.random_mask((size, size), seed=args.seed)


def figures(method, num_blocks):
    """Params/OPs in the papers' convention at the papers' 256x256 input."""
    model = registry.build(model_name(method), input_size=(256, 256), num_blocks=num_blocks)
    return complexity.paper_figures(model)


def epoch_losses(out_dir, epochs):
    """The last `epochs` training losses of a run's `log.csv` (it appends across runs)."""
    with open(Path(out_dir) / "log.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)][-epochs:]


def test_crop(test, mask):
    """Test scenes larger than the mask are scored in centre crops of the mask's size (as the recipe's)."""
    size = min(mask.shape)
    return size if any(max(s.shape[:2]) > size for s in test) else None


def train_and_evaluate(method, args, test, mask, out_dir):
    tf.keras.backend.clear_session()
    run = training.train(config_for(method, args, out_dir), verbose=0)
    started = time.time()
    result = evaluate_model(savedmodel.load(run["savedmodel"]), test, mask, crop=test_crop(test, mask))
    return {
        "loss": epoch_losses(out_dir, args.epochs),
        "train_seconds": run["train_seconds"],
        "eval_seconds": round(time.time() - started, 1),
        **result,
    }


#: Rows scored without training, beside the methods: the network input alone and the published model.
ANCHORS = {"input": dict(label="input H", psnr=None, ssim=None),
           "published": dict(label="published", psnr=29.76, ssim=0.837)}


def anchor_rows(args, rows, test, mask):
    """The input-alone row (H clipped to [0, 1], from any trained method's scores) and, with
    `--published`, the published simulation BiSRNet scored on the same test scenes."""
    anchors = []
    if rows:
        first = rows[0]
        anchors.append({"method": "input", "bits": "-", "params_k_trainable": 0.0, "ops_g": 0.0,
                        "scenes": [{k[len("input_"):]: v for k, v in scene.items() if k.startswith("input_")}
                                   for scene in first["scenes"]],
                        "mean": {k[len("input_"):]: v for k, v in first["mean"].items() if k.startswith("input_")}})
    if args.published:
        shared = Path(__file__).resolve().parents[2] / "shared" / "reference" / "bisrnet_simulation.pth"
        model = registry.build("bisrnet", input_size=None, weights=str(shared) if shared.exists() else "simulation")
        anchors.append({"method": "published", "bits": "1/1", **figures("bisr", (1, 1, 1)),
                        **evaluate_model(model, test, mask, crop=test_crop(test, mask))})
    return anchors


def budget_text(args, test):
    data_text = (f"training cubes {args.data}" if args.data else
                 f"{args.train_scenes} synthetic scenes {args.scene_size}x{args.scene_size}")
    if args.held_out:
        test_text = f"held out: its last {args.held_out} cubes"
    elif args.test_data:
        test_text = f"test cubes {args.test_data}"
    else:
        test_text = f"{len(test)} synthetic test scenes {args.test_size}x{args.test_size}"
    mask_text = args.mask or f"random mask (seed {args.seed})"
    warmup = f" after {args.warmup} warm-up steps" if args.warmup else ""
    return (f"budget per method: start {args.start}; {args.steps} steps "
            f"({args.epochs} epochs x {args.steps // args.epochs}) "
            f"of batch {args.batch}, {args.crop}x{args.crop} crops; Adam {args.lr:g} -> {args.final_lr:g} "
            f"cosine{warmup}; RMSE; seed {args.seed}; {data_text}; {test_text}; {mask_text}")


def paper_row(method):
    """Table 1's row of a method, or an anchor's label (with the published model's Table 1 scores)."""
    return BL.PAPER_TABLE1.get(method) or ANCHORS[method]


def _cell(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(rows, budget):
    scenes = len(rows[0]["scenes"]) if rows else 0
    head = ["Method", "Bits", "Params(K)", "OPs(G)"] + [f"S{i + 1}" for i in range(scenes)] + ["Avg", "paper Avg"]
    widths = [10, 5, 9, 6] + [6] * scenes + [6, 9]
    lines = [budget, "PSNR (dB, papers' 8-bit per-band) upper line, SSIM lower line; Params/OPs: papers' "
             "convention at 256x256 (Params as PyTorch counts them: trainable weights)", ""]
    lines.append("  ".join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        paper = paper_row(r["method"])
        upper = [paper["label"], r["bits"], f"{r['params_k_trainable']:.2f}", f"{r['ops_g']:.3f}"]
        upper += [f"{s['psnr_8bit']:.2f}" for s in r["scenes"]] + [f"{r['mean']['psnr_8bit']:.2f}",
                                                                   _cell(paper["psnr"], ".2f")]
        lower = ["", "", "", ""] + [f"{s['ssim']:.3f}" for s in r["scenes"]] + [f"{r['mean']['ssim']:.3f}",
                                                                               _cell(paper["ssim"], ".3f")]
        for cells in (upper, lower):
            lines.append("  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths))))
    return "\n".join(lines)


def bar_chart(rows, budget, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [paper_row(r["method"])["label"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.3 * len(rows) * 2), 4.5))
    for ax, key, unit in ((axes[0], "psnr_8bit", "PSNR (dB)"), (axes[1], "ssim", "SSIM")):
        values = [r["mean"][key] for r in rows]
        bars = ax.bar(labels, values, color=["tab:red" if r["method"] == "bisr" else "tab:blue" for r in rows])
        ax.bar_label(bars, fmt="%.2f" if key != "ssim" else "%.3f", fontsize=8)
        ax.set_ylim(0, max(max(values), 1e-3) * 1.1)
        ax.set_ylabel(f"mean {unit}")
        ax.tick_params(axis="x", rotation=30)
    title = "BNN methods on the BiSRNet backbone, one budget (synthetic data unless stated)"
    fig.suptitle("\n".join([title] + textwrap.wrap(budget, 150)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test, mask = load_data(args)
    budget = budget_text(args, test)
    _quick.announce(args)
    print(budget, flush=True)
    rows = []
    for method in args.methods:
        started = time.time()
        row = {"method": method, "bits": BITS[method], **figures(method, tuple(args.num_blocks))}
        row.update(train_and_evaluate(method, args, test, mask, out / "runs" / method))
        row["total_seconds"] = round(time.time() - started, 1)
        rows.append(row)
        print(f"{method:>10}: mean PSNR {row['mean']['psnr_8bit']:.2f} dB, SSIM {row['mean']['ssim']:.3f}, "
              f"final loss {row['loss'][-1]:.4f}; train {row['train_seconds']} s, "
              f"total {row['total_seconds']} s (load average {os.getloadavg()[0]:.1f})", flush=True)
    rows += anchor_rows(args, rows, test, mask)
    table = format_table(rows, budget)
    print("\n" + table)
    summary = {"budget": budget, "config": vars(args), "rows": rows,
               "paper_table1": {m: BL.PAPER_TABLE1[m] for m in args.methods},
               "note": "synthetic data: numbers say nothing about real data" if not args.data else ""}
    (out / "table.json").write_text(json.dumps(summary, indent=2))
    bar_chart(rows, budget, out / "table.png")
    print(f"\nwrote {out / 'table.json'} and {out / 'table.png'}")
    return summary


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

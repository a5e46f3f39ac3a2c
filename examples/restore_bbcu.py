"""Image restoration with a BBCU network: x4 super-resolution, denoising or JPEG deblocking.

BBCU (Xia et al., ICLR 2023) binarizes restoration networks with its basic
binary conv unit: a learnable-threshold sign, a 1-bit conv, RPReLU and a
full-precision residual, with the network input scaled up by the residual
alignment factor k = 130. `larq_hsi.tasks.restoration.recipe.RestorationConfig`
trains the paper's network per task (`larq_hsi.models.registry` names):
BBCU-L (`bbcu-srresnet-l`, SRResNet with its body binarized) for
super-resolution, the binarized DnCNN (`bbcu-dncnn`) for denoising, DnCNN-3
(`bbcu-dncnn3`) for JPEG.

Steps: photographs bundled with scikit-image (no download; astronaut and
coffee to train, chelsea and rocket, or camera for JPEG, to test) are degraded
by `larq_hsi.tasks.restoration.degrade` (bicubic x4 downscaling, Gaussian
noise sigma 25, or JPEG quality 10), the network is trained on random patches
with the paper's recipe through `larq_hsi.training.train(RestorationConfig(...))`
(L1 loss, Adam, the learning rate halved at fixed steps), then the reloaded
SavedModel restores the whole test images. Scores are the papers' conventions
(`larq_hsi.tasks.restoration.evaluate.task_psnr` / `task_ssim`: Y channel with
the scale cropped for SR, RGB for denoising, grayscale for JPEG), next to
those of the degraded input (bicubic upsampling for SR).

Run:

    .venv/bin/python examples/restore_bbcu.py                      # SR x4, 300 steps, several minutes
    .venv/bin/python examples/restore_bbcu.py --task denoise --steps 1000
    .venv/bin/python examples/restore_bbcu.py --smoke              # a narrow model, 2 steps, seconds

A few hundred CPU steps are a small fraction of the paper's training
(hundreds of thousands of iterations): expect the model to be at most a
little better than its input. With `--smoke` the network is narrowed
(16 features, 2 blocks / 5 layers) and the test images are cropped to 96x96.

Prints the model's size (`complexity.profile`), the training loss, and PSNR/SSIM
per test image; writes under `--out` (default `runs/examples/restore_bbcu`)
`metrics.json` and `preview.png` (degraded input, restored, clean), next to
the run's own `run.json`, `log.csv`, `checkpoints/`, `tensorboard/` and `savedmodel/`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import complexity, training  # noqa: E402
from larq_hsi.deploy import savedmodel  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.tasks.restoration.dataset import evaluation_pairs  # noqa: E402
from larq_hsi.tasks.restoration.evaluate import task_psnr, task_ssim  # noqa: E402
from larq_hsi.tasks.restoration.recipe import RestorationConfig, held_out_images  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

LEVELS = {"sr": 4, "denoise": 25, "jpeg": 10}  # scale, noise sigma (0-255), JPEG quality


@dataclasses.dataclass(kw_only=True)
class BBCUConfig(RestorationConfig):
    """The BBCU recipe with arguments for the network's builder (e.g. a narrower network)."""

    model_kwargs: dict = dataclasses.field(default_factory=dict)

    def build_model(self) -> tf.keras.Model:
        scale = {"scale": self.level} if self.task == "sr" else {}
        return registry.build(self.model, input_size=None, **scale, **self.model_kwargs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(LEVELS), default="sr",
                        help="sr (x4, BBCU-L), denoise (sigma 25) or jpeg (quality 10)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--patch", type=int, default=64, help="clean (HQ) training patch size")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4, help="initial learning rate, halved half-way (default 2e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/examples/restore_bbcu", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="narrow model, 2 steps, 96x96 test crops")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.patch, args.batch = 2, 32, 2
    return args


def save_preview(panels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, image) in zip(axes, panels):
        image = np.clip(image, 0, 1)
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        # Tracing the training graph costs more than the two eager steps of a smoke run.
        tf.config.run_functions_eagerly(True)
    task, level = args.task, LEVELS[args.task]

    # 1. The paper's network for the task (narrowed for --smoke), trained with its recipe on
    #    scikit-image's bundled photographs (astronaut, coffee) degraded by the task: L1 loss,
    #    Adam, the learning rate halved half-way (BBCU halves it every 200,000 iterations).
    narrow = {"sr": dict(features=16, num_blocks=2)}.get(task, dict(features=16, depth=5))
    config = BBCUConfig(
        out_dir=str(out), task=task, level=level, crop_size=args.patch, batch_size=args.batch,
        epochs=1, steps_per_epoch=args.steps, learning_rate=args.lr, halve_every=max(1, args.steps // 2),
        seed=args.seed, model_kwargs=narrow if args.smoke else {},
    )
    scale_kwargs = {"scale": level} if task == "sr" else {}
    sized = registry.build(config.model, input_size=(180, 320), **scale_kwargs, **config.model_kwargs)
    cost = complexity.profile(sized)
    print(f"{sized.name}: {cost.binary_params:,} one-bit weights, {cost.float_params:,} 32-bit parameters "
          f"({cost.storage_bytes / 1e3:.1f} KB); at a 320x180 input {cost.binary_macs / 1e9:.2f} G binary and "
          f"{cost.float_macs / 1e9:.2f} G float MACs, {cost.paper_ops / 1e9:.2f} G OPs (papers' convention)")
    run = training.train(config, verbose=0 if args.smoke else 2)
    model = savedmodel.load(run["savedmodel"])  # the trained model, as a user reloads it
    print(f"trained {args.steps} steps of {args.batch} x {args.patch}x{args.patch} patches: "
          f"final L1 loss {run['final_loss']:.4f}")

    # 2. Whole test images: the model against its degraded input, in the papers' conventions.
    test_images = held_out_images(None, task)  # chelsea and rocket, or camera for JPEG
    if args.smoke:
        test_images = [image[:96, :96] for image in test_images[:1]]
    scale = level if task == "sr" else None
    rows, panels = [], None
    for index, (degraded, clean) in enumerate(evaluation_pairs(test_images, task, level)):
        restored = np.clip(model.predict(degraded[None], verbose=0)[0], 0, 1)
        if task == "sr":  # the input, brought to the output size for a fair comparison
            baseline = tf.image.resize(degraded[None], clean.shape[:2], method="bicubic").numpy()[0]
        else:
            baseline = degraded
        baseline = np.clip(baseline, 0, 1)
        rows.append({
            "image": index,
            "psnr": float(task_psnr(task, clean, restored, scale=scale)),
            "ssim": float(task_ssim(task, clean, restored, scale=scale)),
            "input_psnr": float(task_psnr(task, clean, baseline, scale=scale)),
            "input_ssim": float(task_ssim(task, clean, baseline, scale=scale)),
        })
        if panels is None:
            panels = [("bicubic x4" if task == "sr" else "degraded input", baseline),
                      (model.name, restored), ("clean", clean)]
    print(f"\n{'image':>5} {'PSNR':>7} {'SSIM':>7} | {'input PSNR':>10} {'input SSIM':>10}")
    for r in rows:
        print(f"{r['image']:>5} {r['psnr']:>7.2f} {r['ssim']:>7.4f} | {r['input_psnr']:>10.2f} "
              f"{r['input_ssim']:>10.4f}")
    (out / "metrics.json").write_text(json.dumps({"task": task, "level": level, "images": rows}, indent=2))
    save_preview(panels, out / "preview.png")
    print(f"\nwrote {out / 'metrics.json'} and {out / 'preview.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

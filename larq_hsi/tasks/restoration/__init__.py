"""Image restoration (BBCU): degradations, images and training patches, the recipe and its metrics.

- `degrade`: the SR, denoising and JPEG degradations.
- `dataset`: bundled photographs, evaluation pairs, the training patches.
- `recipe`: BBCU's training recipe as a config (`RestorationConfig`).
- `evaluate`: the tables' PSNR/SSIM conventions.
"""

from larq_hsi.tasks.restoration import dataset, degrade, evaluate, recipe

__all__ = ["dataset", "degrade", "evaluate", "recipe"]

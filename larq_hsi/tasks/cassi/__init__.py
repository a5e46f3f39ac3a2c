"""CASSI snapshot compressive imaging: physics, the training data, the recipe and its evaluation.

- `physics`: the forward operator, shift-back, adjoint, masks, shot noise.
- `dataset`: the reference training pipeline (`cassi_training_data`) and scene loading.
- `recipe`: BiSRNet's training recipe as a config (`CassiConfig`) for `larq_hsi.training.train`.
- `evaluate`: per-scene PSNR/SSIM of a model on cubes.
- `reconstruct`: a real or simulated measurement in, a cube out.
"""

from larq_hsi.tasks.cassi import dataset, evaluate, physics, recipe, reconstruct

__all__ = ["dataset", "evaluate", "physics", "recipe", "reconstruct"]

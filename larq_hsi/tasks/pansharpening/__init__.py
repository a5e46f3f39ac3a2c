"""Hyperspectral pan-sharpening (HS-BiNet): Wald's protocol, samples, the recipe and its metrics.

- `simulate`: Wald's-protocol simulation of a sample from a reference cube.
- `dataset`: readers, synthetic samples, patches and the training batches.
- `recipe`: HS-BiNet's training recipe as a config (`PansharpeningConfig`).
- `evaluate`: Table 1's and Table 2's metrics of a model.
"""

from larq_hsi.tasks.pansharpening import dataset, evaluate, recipe, simulate

__all__ = ["dataset", "evaluate", "recipe", "simulate"]

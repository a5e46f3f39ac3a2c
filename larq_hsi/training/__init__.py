"""The one training path, and what training with sign estimators needs.

- `runs`: `train(config)`, the loop every task's recipe runs through, and the
  run folder it writes (checkpoints, logs, `run.json`, a verified SavedModel).
- `callbacks`: ATISTE and EDE schedules and the estimator indicators.
- `optim`: Adam with PyTorch-style (coupled) weight decay and cosine warm restarts.

The recipes themselves (one config dataclass per task) are in
`larq_hsi.tasks.cassi.recipe`, `larq_hsi.tasks.pansharpening.recipe` and
`larq_hsi.tasks.restoration.recipe`.
"""

from larq_hsi.training import callbacks, optim, runs
from larq_hsi.training.runs import RunConfig, train

__all__ = ["RunConfig", "callbacks", "optim", "runs", "train"]

"""larq_hsi: binarized neural networks for hyperspectral image restoration, on Larq.

Importing the package registers its quantizers (`"tanh_sign"`, `"atiste"`,
`"scaled_atiste"`, `"scaled_sign"`, ...), layers, metrics and optimizer with
Keras, so models that use them load with `tf.keras.models.load_model` without
`custom_objects`.

Layout, by concern and then by task (imports flow one way, top to bottom):

- `nn`: quantizers, small layers, binary units, blocks (`larq_hsi.quantizers`
  and `larq_hsi.layers` are its stable import paths);
- `models`: the networks, one file per family, and the one name registry;
- `training`: the one training path and its run writer, callbacks, optimizer;
- `tasks.cassi`, `tasks.pansharpening`, `tasks.restoration`: physics or
  degradation, data, recipe and evaluation of each task;
- `deploy`: 1-bit TFLite flatbuffers and verified SavedModels;
- `io`, `synthetic`, `spectra`, `metrics`, `complexity`, `viz`, `checks`: the
  readers, the built-in synthetic data, band grids, metrics, cost counts,
  PNGs and input validation; `cli` parses and dispatches.
"""

import os

# TensorFlow's C++ info lines (CUDA probes, CPU feature notes) drown the CLI's
# output on CPU machines; an explicit TF_CPP_MIN_LOG_LEVEL in the environment wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Importing every module that defines a registered class lets
# `tf.keras.models.load_model` rebuild any saved larq_hsi model (layers,
# quantizers, metrics, optimizer) without `custom_objects`.
from larq_hsi import layers, metrics, models, nn, quantizers, training  # noqa: E402

__version__ = "0.1.0"

__all__ = ["layers", "metrics", "models", "nn", "quantizers", "training", "__version__"]

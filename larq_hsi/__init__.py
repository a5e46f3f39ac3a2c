"""larq_hsi: binarized neural networks for hyperspectral image restoration, on Larq.

Importing the package registers its quantizers (`"tanh_sign"`, `"atiste"`,
`"scaled_atiste"`, `"scaled_sign"`), layers, metrics and optimizer with Keras,
so models that use them load with `tf.keras.models.load_model` without
`custom_objects`.
"""

import os

# TensorFlow's C++ info lines (CUDA probes, CPU feature notes) drown the CLI's
# output on CPU machines; an explicit TF_CPP_MIN_LOG_LEVEL in the environment wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Importing every module that defines a registered class lets
# `tf.keras.models.load_model` rebuild any saved larq_hsi model (layers,
# quantizers, metrics, optimizer) without `custom_objects`.
from larq_hsi import blocks, callbacks, layers, metrics, models, optim, quantizers  # noqa: E402

__version__ = "0.1.0"

__all__ = ["blocks", "callbacks", "layers", "metrics", "models", "optim", "quantizers", "__version__"]

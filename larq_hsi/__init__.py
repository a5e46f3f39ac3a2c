"""larq_hsi: binarized neural networks for hyperspectral image restoration, on Larq.

Importing the package registers its quantizers (`"tanh_sign"`, `"atiste"`,
`"scaled_atiste"`, `"scaled_sign"`) and layers with Keras, so models that use
them load with `tf.keras.models.load_model` without `custom_objects`.
"""

from larq_hsi import layers, metrics, quantizers

__version__ = "0.1.0"

__all__ = ["layers", "metrics", "quantizers", "__version__"]

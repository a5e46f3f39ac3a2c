"""The building blocks: quantizers, small layers, binary conv units and blocks.

- `quantizers`: the sign estimators as registered larq quantizers.
- `layers`: every small layer around the binary convolutions.
- `units`: one binary conv and its layers, per method, behind explicit tables.
- `blocks`: BiSRNet's four modules and its convolutional block.
- `deformable`: the deformable convolution of HS-BiNet's upsampler.
- `introspect`: finding layers, quantizers and their variables in a model.
- `dtype`: `default_dtype`, the one place a model's dtype is set while it is built.
"""

from larq_hsi.nn import blocks, deformable, dtype, introspect, layers, quantizers, units

__all__ = ["blocks", "deformable", "dtype", "introspect", "layers", "quantizers", "units"]

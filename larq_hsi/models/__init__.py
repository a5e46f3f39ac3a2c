"""Networks, one module per family, as Keras-application style functions.

- `bisrnet`: BiSRNet (binarized CASSI reconstruction) and its base model.
- `hsbinet`: HS-BiNet (binarized hyperspectral pan-sharpening) with ATISTE.
"""

from larq_hsi.models.bisrnet import BODY_PARTS, BiSRBaseModel, BiSRNet, part_prefixes
from larq_hsi.models.hsbinet import ESTIMATORS, HSBiNet

__all__ = ["BODY_PARTS", "ESTIMATORS", "BiSRBaseModel", "BiSRNet", "HSBiNet", "part_prefixes"]

"""Networks, one module per family, as Keras-application style functions.

- `bisrnet`: BiSRNet (binarized CASSI reconstruction) and its base model.
- `hsbinet`: HS-BiNet (binarized hyperspectral pan-sharpening) with ATISTE.
- `bbcu`: BBCU's binarized SRResNet and DnCNN (image restoration) and their
  full-precision and Lite counterparts.
"""

from larq_hsi.models.bisrnet import BODY_PARTS, BiSRBaseModel, BiSRNet, part_prefixes
from larq_hsi.models.bbcu import (
    BBCU_PARTS,
    BBCUDnCNN,
    BBCUDnCNN3,
    BBCUSRResNet,
    DnCNN,
    DnCNN3,
    DnCNN3Lite,
    DnCNNLite,
    SRResNet,
    SRResNetLite,
    bbcu_model_for_task,
    bbcu_part_prefixes,
)
from larq_hsi.models.hsbinet import ESTIMATORS, HSBiNet

__all__ = [
    "BBCU_PARTS",
    "BBCUDnCNN",
    "BBCUDnCNN3",
    "BBCUSRResNet",
    "BODY_PARTS",
    "BiSRBaseModel",
    "BiSRNet",
    "DnCNN",
    "DnCNN3",
    "DnCNN3Lite",
    "DnCNNLite",
    "ESTIMATORS",
    "HSBiNet",
    "SRResNet",
    "SRResNetLite",
    "bbcu_model_for_task",
    "bbcu_part_prefixes",
    "part_prefixes",
]

"""Networks, one module per family, as Keras-application style functions.

- `bisrnet`: BiSRNet (binarized CASSI reconstruction) and its base model.
- `hsbinet`: HS-BiNet (binarized hyperspectral pan-sharpening) with ATISTE.
- `bbcu`: BBCU's binarized SRResNet and DnCNN (image restoration) and their
  full-precision and Lite counterparts.
- `baselines`: the BNN methods of BiSRNet's Table 1 on its backbone
  (`BinarizedUNet`) and the ablations of its Table 2 (`ablation`).
- `registry`: every assembled network by name, at a chosen or the papers'
  input size (`registry.build`), as `larq-hsi summary` lists them.
"""

from larq_hsi.models.bisrnet import BODY_PARTS, BiSRBaseModel, BiSRNet, part_prefixes
from larq_hsi.models.baselines import (
    ABLATIONS,
    METHOD_UNITS,
    METHODS,
    PAPER_TABLE1,
    Ablation,
    BinarizedUNet,
    EDESchedule,
    FeatureNormalization,
    ablation,
    ablation_names,
    binary_kernel_macs,
    method_callbacks,
    paper_figures,
)
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
from larq_hsi.models import registry

__all__ = [
    "ABLATIONS",
    "Ablation",
    "BinarizedUNet",
    "EDESchedule",
    "FeatureNormalization",
    "METHODS",
    "METHOD_UNITS",
    "PAPER_TABLE1",
    "ablation",
    "ablation_names",
    "binary_kernel_macs",
    "method_callbacks",
    "paper_figures",
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
    "registry",
]

"""Networks, one module per family, as Keras-application style functions.

- `bisrnet`: BiSRNet (binarized CASSI reconstruction) and its base model.
- `baselines`: the BNN methods of BiSRNet's Table 1 on its backbone
  (`BinarizedUNet`) and the ablations of its Table 2 (`ablation`).
- `hsbinet`: HS-BiNet (binarized hyperspectral pan-sharpening) with ATISTE.
- `bbcu`: BBCU's binarized SRResNet and DnCNN (image restoration) and their
  full-precision and Lite counterparts.
- `pretrained`: the published BiSRNet weights (PyTorch state dicts) by name or file.
- `registry`: every assembled network by name, the one model-name table.
"""

from larq_hsi.models import pretrained, registry
from larq_hsi.models.baselines import (
    ABLATIONS,
    METHODS,
    PAPER_TABLE1,
    Ablation,
    BinarizedUNet,
    ablation,
    ablation_names,
)
from larq_hsi.models.bbcu import (
    BBCU_PARTS,
    BBCU_PRESETS,
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
from larq_hsi.models.bisrnet import BODY_PARTS, BiSRBaseModel, BiSRNet, part_prefixes
from larq_hsi.models.hsbinet import HSBiNet

__all__ = [
    "ABLATIONS",
    "Ablation",
    "BBCU_PARTS",
    "BBCU_PRESETS",
    "BBCUDnCNN",
    "BBCUDnCNN3",
    "BBCUSRResNet",
    "BODY_PARTS",
    "BiSRBaseModel",
    "BiSRNet",
    "BinarizedUNet",
    "DnCNN",
    "DnCNN3",
    "DnCNN3Lite",
    "DnCNNLite",
    "HSBiNet",
    "METHODS",
    "PAPER_TABLE1",
    "SRResNet",
    "SRResNetLite",
    "ablation",
    "ablation_names",
    "bbcu_model_for_task",
    "bbcu_part_prefixes",
    "part_prefixes",
    "pretrained",
    "registry",
]

"""Networks, one module per family, as Keras-application style functions."""

from larq_hsi.models.bisrnet import BODY_PARTS, BiSRBaseModel, BiSRNet, part_prefixes

__all__ = ["BODY_PARTS", "BiSRBaseModel", "BiSRNet", "part_prefixes"]

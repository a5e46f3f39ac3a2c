"""The assembled networks by name, each at a chosen input size or at its paper's.

One table for everything that lists models (`larq-hsi summary`,
`examples/summaries.py`): a name maps to an `Assembled` entry, a builder
taking the spatial input size `(height, width)` and the size the papers
report their costs at.

    from larq_hsi.models import registry
    model = registry.build("bbcu-dncnn")            # at 180x320, BBCU's tables
    model = registry.build("hsbinet", (32, 32))     # the low-resolution HS size
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from larq_hsi.models.baselines import METHODS, BinarizedUNet
from larq_hsi.models.bbcu import BBCUDnCNN, BBCUDnCNN3, BBCUSRResNet
from larq_hsi.models.bisrnet import BiSRBaseModel, BiSRNet
from larq_hsi.models.hsbinet import HSBiNet

__all__ = ["ASSEMBLED", "Assembled", "build"]


@dataclasses.dataclass(frozen=True)
class Assembled:
    """`builder(size)` returns the float32 model for a spatial input size; `paper_size` is the papers'."""

    builder: Callable[[tuple[int, int]], tf.keras.Model]
    paper_size: tuple[int, int]
    description: str


def _unet(method):
    return Assembled(lambda s: BinarizedUNet(method, input_size=s), (256, 256),
                     f"BiSRNet's backbone with {method}'s binary unit (Table 1)")


#: Every assembled network, by the name the CLI and the examples use.
ASSEMBLED = {
    "bisrnet": Assembled(lambda s: BiSRNet(input_size=s), (256, 256),
                         "BiSRNet, simulation variant (inputs H and Phi)"),
    "bisrnet-real": Assembled(lambda s: BiSRNet(variant="real", input_size=s), (660, 660),
                              "BiSRNet, real-system variant (input: the measurement)"),
    "bisrnet-ungrouped": Assembled(lambda s: BiSRNet(ff_groups=1, input_size=s), (256, 256),
                                   "BiSRNet with ungrouped block convs (every binary conv converts to LCE)"),
    "bisr-base": Assembled(lambda s: BiSRBaseModel(input_size=s), (256, 256),
                           "BiSRNet's full-precision base model"),
    # The size is the low-resolution HS input's (x4 for the PAN); 191 bands as WDC.
    "hsbinet": Assembled(lambda s: HSBiNet(bands=191, input_size=s), (16, 16),
                         "HS-BiNet with ATISTE, 191 bands"),
    "bbcu-srresnet-x4-l": Assembled(lambda s: BBCUSRResNet(scale=4, variant="L", input_shape=(*s, 3)),
                                    (180, 320), "BBCU-L: SRResNet x4, body binarized"),
    "bbcu-srresnet-x4-m": Assembled(lambda s: BBCUSRResNet(scale=4, variant="M", input_shape=(*s, 3)),
                                    (180, 320), "BBCU-M: SRResNet x4, body and upsampling binarized"),
    "bbcu-dncnn": Assembled(lambda s: BBCUDnCNN(input_shape=(*s, 3)), (180, 320),
                            "BBCU on DnCNN (colour denoising)"),
    "bbcu-dncnn3": Assembled(lambda s: BBCUDnCNN3(input_shape=(*s, 1)), (180, 320),
                             "BBCU on DnCNN-3 (grayscale, JPEG deblocking)"),
    # BiSRNet's Table 1 baselines ("bisr" is BiSRNet itself, above).
    **{f"unet-{method}": _unet(method) for method in METHODS if method != "bisr"},
}


def build(name: str, size: tuple[int, int] | None = None) -> tf.keras.Model:
    """The network `name` at spatial input size `size` (default: its `paper_size`)."""
    if name not in ASSEMBLED:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(ASSEMBLED)}")
    entry = ASSEMBLED[name]
    size = tuple(size) if size is not None else entry.paper_size
    if len(size) != 2 or not all(isinstance(d, int) and d > 0 for d in size):
        raise ValueError(f"size must be (height, width) of positive integers, got {size!r}")
    return entry.builder(size)
